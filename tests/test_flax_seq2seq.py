"""Flax encoder-decoder behaviour beyond output parity, for every encoder-decoder composition: cached decoding (growing and preallocated caches, cross-attention keys/values computed once), encode()/decode(), tied /
untied logits, jit-compiled generate() against transformers' PyTorch generate() (greedy and beam search), gradients
and dropout, checkpoints written for transformers, the base and encoder models loading a full checkpoint, and the
linear cost of local / transient-global attention."""

import logging

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from harness import (  # noqa: E402
    ATOL,
    SEQ2SEQ_ARCHS,
    SMALL_CONFIGS,
    TEST_ALL,
    assert_close,
    cases,
    config_kwargs,
    distinct_compositions,
    encoder_attention,
    flatten,
    instantiate_reference,
    in_turn,
    make_inputs,
    pick_eos,
    reference_config,
    reference_model,
    spec,
    variants,
)

# Every encoder-decoder composition. The tests reach the models only through their public API (`encode`, `decode`,
# `init_cache`, `generate`, `state_dict` / `load_state_dict`, checkpoints) and the specs' resolved config fields and
# weight names. (Cached decoding against the full pass and generate() against transformers, for every spec:
# test_names_encoder_decoder.py's Flax tests.)
ARCHS = distinct_compositions(SEQ2SEQ_ARCHS)

pytestmark = pytest.mark.skipif(not ARCHS, reason="no encoder-decoder spec")

# The behaviour tests each compile the decoder, or its gradients, for seconds: in `make test` each runs one or two of
# ARCHS, the tests taking them in turn (`turns`: consecutive offsets 0, 1, ..., REST + 7, so that each composition runs
# in some test; the first test takes offsets 0 to REST, those the seven offsets after it leave); in `make test-all`
# every test runs every one.
REST = max(0, len(ARCHS) - 8)

CASES = cases()


def turns(first: int, count: int = 1) -> list:
    """`make test`: `count` of ARCHS from offset `first` on (modulo their number); `make test-all`: every one."""
    if TEST_ALL or not ARCHS:
        return list(ARCHS)
    return list(dict.fromkeys(ARCHS[(first + i) % len(ARCHS)] for i in range(count)))


def case(arch: str, head: str, index: int):
    """The case of `head` with an architecture's variant number `index` (its last variant where it has fewer): the
    specs' later variants flip what changes the math (a deeper decoder among it)."""
    names = variants(arch)
    variant = names[min(index, len(names) - 1)]
    return next(c for c in CASES if (c.arch, c.head, c.variant) == (arch, head, variant))


def tied_overrides(c, tied: bool) -> dict:
    """The configuration overrides giving case `c` tied (or untied) word embeddings: none where its variant has them."""
    own = config_class(c)(**config_kwargs(c)).tie_word_embeddings
    return {} if own is tied else {"tie_word_embeddings": tied}


def decoder_layers(arch: str, config) -> int:
    return getattr(config, spec(arch).decoder.layers)


def has_head(arch: str, head: str) -> bool:
    return any(c.arch == arch and c.head == head for c in CASES)


def config_class(c):
    import specformers

    return getattr(specformers, f"{c.prefix}Config")


def flax_class(c):
    import specformers

    return getattr(specformers, c.class_name("flax"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A saved transformers (PyTorch) reference model per case and overrides: (config, torch model, directory)."""
    saved = {}

    def get(c, **overrides):
        key = (c, tuple(sorted(overrides.items())))
        if key not in saved:
            config = reference_config(c, **overrides)
            model = reference_model(c, config)
            directory = tmp_path_factory.mktemp(c.id)
            model.save_pretrained(directory)
            saved[key] = (config, model, str(directory))
        return saved[key]

    return get


@pytest.fixture(scope="module")
def flax_model(checkpoint):
    loaded = {}

    def get(c, **overrides):
        key = (c, tuple(sorted(overrides.items())))
        if key not in loaded:
            loaded[key] = flax_class(c).from_pretrained(checkpoint(c, **overrides)[2])
        return loaded[key]

    return get


def encoder_inputs(batch=3, seq=13, seed=0):
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(2, 99, size=(batch, seq))
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    if batch > 1:
        attention_mask[1, 9:] = 0
    if batch > 2:
        attention_mask[2, 4:] = 0
    return input_ids, attention_mask


# ---------------------------------------------------------------------------------------------------------------------
# Cache


@pytest.mark.parametrize("arch", turns(0, REST + 1))
def test_cross_attention_keys_values_are_computed_once(arch, flax_model):
    """The decoder reuses the cross-attention keys/values of the cache: changing them changes the output, and the
    cache returned carries them through unchanged."""
    model = flax_model(case(arch, "conditional_generation", 0))
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs())
    encoder_outputs = jax.jit(lambda ids: model.encode(ids, attention_mask))(input_ids)
    cache = model.init_cache(3, 4, encoder_outputs)
    start = jnp.zeros((3, 1), dtype="i4")
    decode = jax.jit(lambda cache: model.decode(start, encoder_outputs, attention_mask, past_key_values=cache))
    step = decode(cache)
    for new, old in zip(step.past_key_values, cache):
        assert new[2] is old[2] or np.array_equal(new[2], old[2])
        assert new[3] is old[3] or np.array_equal(new[3], old[3])
    doubled = cache.replace(key_values=tuple(layer[:2] + (2 * layer[2], layer[3]) for layer in cache))
    other = decode(doubled)
    assert not np.allclose(other.logits, step.logits)


# The documented incremental decoding (encode, init_cache, decode fed back its past_key_values) for every
# encoder-decoder composition: the first variant's LM head (the bare model where there is none) and bare model. (The
# variants differ in the encoder's attention, which the loop encodes once; test_names_encoder_decoder.py's Flax cached
# decoding test runs every variant.)
DECODER_HEADS = ("conditional_generation", "seq2seq")
LOOP_CASES = []
for _arch in ARCHS:
    _heads = [h for h in DECODER_HEADS if any(c.arch == _arch and c.head == h for c in CASES)]
    LOOP_CASES += [c for c in CASES if c.arch == _arch and c.head in _heads and c.variant == next(iter(SMALL_CONFIGS[_arch]))]
# The first of each architecture also decodes without a decoder mask, jit-compiled and eagerly.
_FIRST_LOOP_CASE = {c.arch: c for c in reversed(LOOP_CASES)}
FIRST_LOOP_CASES = [_FIRST_LOOP_CASE[arch] for arch in turns(REST)]
# The decode outputs that the full pass names differently.
FULL_PASS_FIELD = {"hidden_states": "decoder_hidden_states", "attentions": "decoder_attentions"}


def _decode_in_steps(model, encoder_outputs, encoder_mask, decoder_input_ids, chunks, max_length, decoder_mask=None, jit=True):
    """transformers' documented loop: `init_cache`, then `decode` on each chunk of `decoder_input_ids` (a prompt, then
    one token at a time), feeding back `past_key_values`. Returns every call's output and the last cache."""

    def step(ids, cache, mask):
        return model.decode(
            ids,
            encoder_outputs,
            encoder_attention_mask=encoder_mask,
            decoder_attention_mask=mask,
            past_key_values=cache,
            output_attentions=True,
            output_hidden_states=True,
        )

    step = jax.jit(step) if jit else step
    cache = model.init_cache(decoder_input_ids.shape[0], max_length, encoder_outputs)
    outputs, start = [], 0
    for n in chunks:
        outputs.append(step(decoder_input_ids[:, start : start + n], cache, decoder_mask))
        cache = outputs[-1].past_key_values
        start += n
    return outputs, cache


def _assert_steps_equal_full_pass(outputs, cache, full, length):
    """Every decoder output field of the steps, joined along the sequence, equals the full pass's (and so does the
    cache); attention to the cache's unused slots is exactly 0."""
    assert int(cache.index) == length and cache.max_length > length
    for field in outputs[0].keys():
        if field == "past_key_values":
            continue
        reference = jax.tree_util.tree_leaves(full[FULL_PASS_FIELD.get(field, field)])
        steps = [jax.tree_util.tree_leaves(out[field]) for out in outputs]
        assert len(reference) == len(steps[0]), field
        for i, expected in enumerate(reference):
            # (batch, seq, ...) or, for attention weights, (batch, heads, seq, keys)
            ours = np.concatenate([leaves[i] for leaves in steps], axis=2 if expected.ndim == 4 else 1)
            if field == "attentions":  # keys: the cache's max_length slots, of which the first `length` are used
                assert not np.any(ours[..., length:]), field
                ours = ours[..., :length]
            np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=0, err_msg=f"{field}.{i}")
    for layer, expected in zip(cache, full.past_key_values, strict=True):
        for ours, reference in zip(layer[:2], expected[:2]):  # self-attention: the used slots
            np.testing.assert_allclose(ours[:, :, :length], reference, atol=ATOL, rtol=0)
        for ours, reference in zip(layer[2:], expected[2:]):  # cross-attention
            np.testing.assert_allclose(ours, reference, atol=ATOL, rtol=0)


# `make test`: the loop of the first of each architecture's heads (the other runs the same loop through another head);
# `make test-all`: both.
@pytest.mark.parametrize("c", LOOP_CASES if TEST_ALL else FIRST_LOOP_CASES, ids=lambda c: c.id)
def test_documented_decoding_loop_equals_full_pass(c, flax_model):
    """encode, init_cache, then decode fed back its own past_key_values (a 3-token prompt, then one token per call),
    with a decoder mask spanning the cache (padding in it), a padded encoder mask and a batch of 3: every decoder output
    equals the full pass (<= 1e-5) under jax.jit; for the first case of each architecture also without a decoder mask,
    under jax.jit and eagerly."""
    model = flax_model(c)
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs())
    length, max_length, chunks = 7, 9, (3, 1, 1, 1, 1)
    decoder_input_ids = jnp.asarray(np.random.default_rng(1).integers(2, 99, size=(3, length)))
    # Spans the cache: a padded decoder position in row 1; the slots after `length` (never decoded) are ignored.
    cache_mask = np.ones((3, max_length), dtype="i4")
    cache_mask[1, 2] = 0
    cache_mask[2, length:] = 0
    cache_mask = jnp.asarray(cache_mask)
    encoder_outputs = jax.jit(lambda ids: model.encode(ids, attention_mask))(input_ids)
    forward = jax.jit(
        lambda ids, mask: model(
            input_ids, attention_mask, decoder_input_ids=ids, decoder_attention_mask=mask, output_attentions=True, output_hidden_states=True
        )
    )

    outputs, cache = _decode_in_steps(model, encoder_outputs, attention_mask, decoder_input_ids, chunks, max_length, cache_mask)
    _assert_steps_equal_full_pass(outputs, cache, forward(decoder_input_ids, cache_mask[:, :length]), length)
    if c not in FIRST_LOOP_CASES:
        return  # the calling forms below do not depend on the variant or the head
    # Without a decoder mask (the zero slots of the cache are not keys), jit-compiled and, as the documentation writes
    # it, eagerly (fewer calls: eager steps are slow); several tokens per call after the prompt too.
    full = forward(decoder_input_ids, jnp.ones((3, length), dtype="i4"))
    outputs, cache = _decode_in_steps(model, encoder_outputs, attention_mask, decoder_input_ids, chunks, max_length)
    _assert_steps_equal_full_pass(outputs, cache, full, length)
    outputs, cache = _decode_in_steps(model, encoder_outputs, attention_mask, decoder_input_ids, (3, 4), max_length, jit=False)
    _assert_steps_equal_full_pass(outputs, cache, full, length)


@pytest.mark.parametrize("arch", turns(REST + 1))
def test_preallocated_cache_used_inconsistently_raises(arch, flax_model):
    """A cache from init_cache that does not fit the call is a ValueError naming what is wrong (batch size, mask
    length, encoder output, no room left); under jax.jit, where the position is not concrete, a step past the end
    gives NaN rather than a clamped, silently wrong write."""
    model = flax_model(case(arch, "conditional_generation", 0))
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs(batch=2))
    encoder_outputs = model.encode(input_ids, attention_mask)
    tokens = jnp.ones((2, 3), dtype="i4")
    cache = model.init_cache(2, 4, encoder_outputs)

    def decode(ids, cache, **kwargs):
        return model.decode(ids, encoder_outputs, encoder_attention_mask=attention_mask, past_key_values=cache, **kwargs)

    # Decoder inputs of another batch size than the encoder output fail at the entrance already.
    with pytest.raises(ValueError, match=r"the encoder output has shape \(2, 13, \d+\), but decoder_input_ids has shape \(3, 1\)"):
        decode(jnp.ones((3, 1), dtype="i4"), cache)
    # A cache allocated for another batch size than inputs and encoder output.
    three_rows = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, x[:1]]), encoder_outputs)
    with pytest.raises(ValueError, match=r"decoder_input_ids has batch size 2, but past_key_values \(init_cache\) holds 3"):
        decode(tokens, model.init_cache(3, 4, three_rows))
    with pytest.raises(ValueError, match=r"decoder_attention_mask has shape \(2, 3\).*expected \(2, 4\)"):
        decode(tokens, cache, decoder_attention_mask=jnp.ones((2, 3), dtype="i4"))  # the input's length, not the cache's
    with pytest.raises(ValueError, match=r"decoder_attention_mask has shape \(2, 5\).*expected \(2, 4\)"):
        decode(tokens, cache, decoder_attention_mask=jnp.ones((2, 5), dtype="i4"))
    with pytest.raises(ValueError, match="init_cache was given"):
        model.decode(tokens, encoder_outputs.last_hidden_state[:, :5], past_key_values=cache)
    with pytest.raises(ValueError, match=r"past_key_values is full: 0 positions written and 5 new ones"):
        decode(jnp.ones((2, 5), dtype="i4"), cache)
    cache = decode(tokens, cache).past_key_values
    with pytest.raises(ValueError, match=r"past_key_values is full: 3 positions written and 2 new ones .* max_length 4"):
        decode(tokens[:, :2], cache)

    step = jax.jit(lambda ids, cache: decode(ids, cache))
    cache = step(tokens[:, :1], cache).past_key_values  # the last position: fine
    assert int(cache.index) == 4
    assert np.all(np.isnan(step(tokens[:, :1], cache).logits))


# ---------------------------------------------------------------------------------------------------------------------
# Logits, encode / decode


def weight(model, name: str):
    """The parameter that transformers' PyTorch state dict names `name` (relative to the base model, which a head
    model holds under its prefix or inline), `(out, in)` as PyTorch holds it; None where the model has none."""
    state = model.state_dict()
    return next((state[key] for key in (f"{model.base_model_prefix}.{name}", name) if key in state), None)


def decoder_word_embeddings(arch: str, model):
    """The decoder's word-embedding matrix, by the spec's weight names: its own table where it has one (separate
    encoder and decoder vocabularies), else the table the stacks share."""
    s = spec(arch)
    own = weight(model, f"{s.names.decoder}.{s.names.word_embeddings}.weight")
    return own if own is not None else weight(model, f"{s.names.shared}.weight")


def tied_turns(first: int) -> list:
    """`(arch, tied)`: `make test`, tied word embeddings on the composition at offset `first`, untied on the next one;
    `make test-all`, both on every one."""
    if TEST_ALL or not ARCHS:
        return [(arch, tied) for arch in ARCHS for tied in (True, False)]
    return [(turns(first)[0], True), (turns(first + 1)[0], False)]


@pytest.mark.parametrize("arch,tied", tied_turns(REST + 2), ids=lambda v: {True: "tied", False: "untied"}.get(v, v))
def test_logits_scaling(arch, tied, flax_model):
    """Tied: the decoder's output (times hidden_size ** -0.5 where the spec scales it, `lm_head.tied_scale`) on the decoder's word embeddings; untied: on the LM head, which exists only
    then; plus the logits bias where the spec has one. Variant 0 tied, 1 untied, their configurations overridden where
    they differ."""
    c = case(arch, "conditional_generation", 0 if tied else 1)
    model = flax_model(c, **tied_overrides(c, tied))
    s = spec(arch)
    assert model.config.tie_word_embeddings is tied
    lm_head = weight(model, f"{s.lm_head.path}.weight")
    assert (lm_head is None) is tied
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs())
    decoder_input_ids = jnp.ones((3, 4), dtype="i4")
    out = jax.jit(lambda p: model(input_ids, attention_mask, decoder_input_ids=decoder_input_ids, params=p, output_hidden_states=True))(model.params)
    sequence_output = np.asarray(out.decoder_hidden_states[-1])
    if tied:
        scale = model.config.hidden_size**-0.5 if s.lm_head.tied_scale else 1.0
        expected = (sequence_output * scale) @ decoder_word_embeddings(arch, model).T
    else:
        expected = sequence_output @ lm_head.T
    if s.lm_head.logits_bias:
        bias = weight(model, s.lm_head.logits_bias)
        assert bias.shape == (1, expected.shape[-1])
        expected = expected + bias
    np.testing.assert_allclose(out.logits, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("arch", turns(REST + 4))
def test_seq2seq_model_encode_decode_and_tuples(arch, flax_model):
    model = flax_model(case(arch, "seq2seq", 1))
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs())
    decoder_input_ids = jnp.ones((3, 5), dtype="i4")
    out = jax.jit(lambda p: model(input_ids, attention_mask, decoder_input_ids=decoder_input_ids, params=p))(model.params)
    decoded = jax.jit(lambda ids: model.decode(ids, model.encode(input_ids, attention_mask), attention_mask))(decoder_input_ids)
    np.testing.assert_allclose(decoded.last_hidden_state, out.last_hidden_state, atol=ATOL, rtol=0)
    assert len(out.past_key_values) == decoder_layers(arch, model.config)  # config.use_cache
    as_tuple = jax.jit(
        lambda p: model(input_ids, attention_mask, decoder_input_ids=decoder_input_ids, params=p, return_dict=False, use_cache=False)
    )(model.params)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2  # last_hidden_state, encoder_last_hidden_state
    np.testing.assert_array_equal(as_tuple[0], out.last_hidden_state)


# ---------------------------------------------------------------------------------------------------------------------
# generate() against transformers' PyTorch generate()


@pytest.mark.parametrize("arch", turns(REST + 5))
def test_generate_is_one_compiled_loop(arch, flax_model):
    """generate() compiles encoder, cache and the whole decoding loop (a while_loop) once per settings; a second call
    reuses it, and the step-by-step Python loop (trace=False) gives the same ids."""
    model = flax_model(case(arch, "conditional_generation", 0))
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs(batch=2))
    first = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=3).sequences
    (function,) = model._generate_functions.values()
    assert "while" in str(function.trace(model.params, input_ids, attention_mask, {}).jaxpr)  # no further inputs
    again = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=3).sequences
    assert len(model._generate_functions) == 1 and function._cache_size() == 1
    np.testing.assert_array_equal(first, again)
    eager = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=3, trace=False).sequences
    np.testing.assert_array_equal(first, eager)


# ---------------------------------------------------------------------------------------------------------------------
# Training, checkpoints


@pytest.mark.parametrize("arch", turns(REST + 6))
def test_grad_and_dropout(arch, flax_model):
    optax = pytest.importorskip("optax")
    model = flax_model(case(arch, "conditional_generation", 1))
    input_ids, attention_mask = map(jnp.asarray, encoder_inputs(batch=2))
    labels = jnp.asarray(np.random.default_rng(3).integers(2, 99, size=(2, 6)))
    feed = dict(decoder_input_ids=jnp.concatenate([jnp.zeros((2, 1), dtype=labels.dtype), labels[:, :-1]], axis=1))

    def loss_fn(params, rng):  # dropout on (train=True)
        logits = model(input_ids, attention_mask, **feed, params=params, train=True, dropout_rng=rng).logits
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), logits

    grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    (loss, train_a), grads = grad_fn(model.params, jax.random.PRNGKey(0))
    leaves = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(loss)) and all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert sum(float(jnp.abs(g).sum()) > 0 for g in leaves) == len(leaves)

    # Dropout: the same key gives the same output, another key another one; evaluation has none.
    np.testing.assert_array_equal(train_a, grad_fn(model.params, jax.random.PRNGKey(0))[0][1])
    train_b = grad_fn(model.params, jax.random.PRNGKey(1))[0][1]
    eval_a = jax.jit(lambda p: model(input_ids, attention_mask, **feed, params=p).logits)(model.params)
    assert not np.allclose(train_a, eval_a) and not np.allclose(train_a, train_b)
    with pytest.raises(ValueError, match="dropout_rng"):
        model(input_ids, attention_mask, **feed, train=True)


@pytest.mark.parametrize("arch,tied", tied_turns(REST + 7), ids=lambda v: {True: "tied", False: "untied"}.get(v, v))
def test_save_loads_in_transformers(arch, tied, tmp_path):
    """A randomly initialised model saved with save_pretrained loads in transformers' PyTorch class as transformers' own
    checkpoint of that configuration loads (the same missing, unexpected and mismatched names), every weight exactly
    as saved; transformers' outputs are ours (<= 1e-5), and our from_pretrained reads the same parameters back."""
    import torch
    import transformers

    c = case(arch, "conditional_generation", 0 if tied else 1)
    overrides = tied_overrides(c, tied)
    config = config_class(c)(**config_kwargs(c, **overrides))
    model = flax_class(c)(config, seed=1)
    if not tied:
        # The untied LM head at the tied one's scale (as the harness's reference models): with a std-1.0 init the
        # logits reach ~20, where float32 rounding alone approaches 1e-5.
        state = model.state_dict()
        name = f"{spec(arch).lm_head.path}.weight"
        state[name] = state[name] * config.hidden_size**-0.5
        model.params = model.load_state_dict(state)
    model.save_pretrained(tmp_path / "ours")
    torch_class = getattr(transformers, c.class_name("torch"))
    # (Eager attention: the attention probabilities are outputs too.)
    pt_model, info = torch_class.from_pretrained(tmp_path / "ours", output_loading_info=True, attn_implementation="eager")
    # Written as transformers writes it: what its own checkpoint of the configuration lacks is all that ours lacks.
    built = instantiate_reference(torch_class, reference_config(c, **overrides))
    built.save_pretrained(tmp_path / "theirs")
    _, expected_info = torch_class.from_pretrained(tmp_path / "theirs", output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert sorted(map(str, info[key])) == sorted(map(str, expected_info[key])), key
    # Only aliases are missing: names that the class, as built, gives the parameter of a saved name (the stacks' word
    # embeddings, `shared`'s). transformers re-ties some of them on load only with `config.tie_word_embeddings`
    # (BART's family; T5's always): untied, its own checkpoint reloads them newly initialised (transformers 4.57.6
    # reports them in missing_keys, as above). The reference gets the aliasing the class builds back.
    owner = {}
    alias_of = {name: owner.setdefault(id(p), name) for name, p in built.named_parameters(remove_duplicate=False)}
    with torch.no_grad():
        for name in info["missing_keys"]:
            assert alias_of.get(name, name) != name, f"{name} is missing from our checkpoint"
            pt_model.get_parameter(name).copy_(pt_model.get_parameter(alias_of[name]))
    ours_state, theirs_state = model.state_dict(), pt_model.state_dict()
    assert set(ours_state) <= set(theirs_state), sorted(set(ours_state) - set(theirs_state))
    for name, value in ours_state.items():
        np.testing.assert_array_equal(theirs_state[name].numpy(), value, err_msg=name)
    inputs = make_inputs(c, pt_model.config)
    feed = {k: v for k, v in inputs.items() if k != "labels"}
    with torch.no_grad():
        reference = flatten(pt_model.eval()(**{k: torch.from_numpy(v) for k, v in feed.items()}, output_hidden_states=True, output_attentions=True))
    forward = jax.jit(lambda p, feed: model(**feed, params=p, output_hidden_states=True, output_attentions=True))
    ours = flatten(forward(model.params, {k: jnp.asarray(v) for k, v in feed.items()}))
    assert_close(reference, ours, "flax")
    again = flax_class(c).from_pretrained(tmp_path / "ours")
    assert all(jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda a, b: bool(jnp.array_equal(a, b)), model.params, again.params)))


@pytest.mark.parametrize("arch", [arch for arch in ARCHS if has_head(arch, "encoder")])
def test_encoder_model_loads_a_full_checkpoint_quietly(arch, checkpoint, caplog):
    """The encoder model reads its weights from the full model's checkpoint without a warning: exactly the weights
    transformers' encoder class holds (its tied word embeddings aside), the checkpoint's values; its output is
    transformers' encoder's."""
    import torch
    import transformers

    full = case(arch, "conditional_generation", 1)
    config, pt_model, directory = checkpoint(full, **tied_overrides(full, False))  # lm_head.weight in it too
    encoder = case(arch, "encoder", 1)
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = flax_class(encoder).from_pretrained(directory)
    assert caplog.text == ""
    torch_encoder = getattr(transformers, encoder.class_name("torch"))
    expected_names = set(instantiate_reference(torch_encoder, config).state_dict()) - set(torch_encoder._tied_weights_keys or ())
    state, full_state = model.state_dict(), pt_model.state_dict()
    assert set(state) == expected_names
    for name, value in state.items():
        np.testing.assert_array_equal(value, full_state[name].numpy(), err_msg=name)
    input_ids, attention_mask = encoder_inputs()
    with torch.no_grad():
        expected = pt_model.get_encoder()(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask)).last_hidden_state.numpy()
    ours = jax.jit(lambda p, ids, mask: model(ids, mask, params=p).last_hidden_state)(model.params, input_ids, attention_mask)
    np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("arch", turns(REST + 3))
def test_base_model_loads_a_generation_checkpoint(arch, checkpoint):
    """The base model reads the generation head's checkpoint as transformers' base class does (the same missing and
    unused names: the head's unused, and only tables that the class computes missing, Marian's sinusoids), every weight
    the checkpoint's value; its output is transformers' base model's."""
    import torch
    import transformers

    full = case(arch, "conditional_generation", 0)
    config, pt_model, directory = checkpoint(full)
    base = case(arch, "seq2seq", 0)
    model, info = flax_class(base).from_pretrained(directory, output_loading_info=True)
    theirs, expected_info = getattr(transformers, base.class_name("torch")).from_pretrained(
        directory, output_loading_info=True, attn_implementation="eager"
    )
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert sorted(info[key]) == sorted(expected_info[key]), key
    state, expected_state = model.state_dict(), theirs.state_dict()
    assert set(state) <= set(expected_state), sorted(set(state) - set(expected_state))
    for name, value in state.items():
        np.testing.assert_array_equal(value, expected_state[name].numpy(), err_msg=name)
    inputs = {k: v for k, v in make_inputs(full, config).items() if k != "labels"}
    with torch.no_grad():
        expected = theirs.eval()(**{k: torch.from_numpy(v) for k, v in inputs.items()}).last_hidden_state.numpy()
    ours = jax.jit(lambda p, feed: model(**feed, params=p).last_hidden_state)(model.params, {k: jnp.asarray(v) for k, v in inputs.items()})
    np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=0)


# ---------------------------------------------------------------------------------------------------------------------
# Linear cost


def _largest_intermediates(c, seq: int):
    """Shapes of every intermediate of the encoder (`encode`) of case `c`'s model at input length `seq` (traced, not
    run)."""
    from flax.traverse_util import unflatten_dict

    model = flax_class(c)(config_class(c)(**config_kwargs(c)), _do_init=False)
    params = unflatten_dict({k: jnp.zeros(s.shape, s.dtype) for k, s in model._param_shapes().items()})
    ids = jnp.ones((1, seq), dtype="i4")
    jaxpr = jax.make_jaxpr(lambda p, ids: model.encode(ids, params=p, output_attentions=True))(params, ids)
    return [tuple(v.aval.shape) for eqn in jaxpr.jaxpr.eqns for v in eqn.outvars]


def blocked_archs() -> list[str]:
    """Encoder-decoder specs whose encoder can run blocked (local / transient-global) attention."""
    out = []
    for arch in SEQ2SEQ_ARCHS:
        attention = spec(arch).attention
        chosen = [c.variant for c in attention.select.variants.values()] if attention.select else [attention.variant]
        if set(chosen) - {"full"}:
            out.append(arch)
    return out


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("arch", blocked_archs())
def test_local_attention_is_blocked(arch, index):
    """No intermediate is `seq x seq`: scores are `(batch, blocks, heads, block_len, 3 * block_len [+ globals])`. Local
    attention costs linear memory; transient-global adds `seq x seq / global_block_size` for the global tokens."""
    c = case(arch, "seq2seq", index)
    config = config_class(c)(**config_kwargs(c))
    seq = 1536
    shapes = _largest_intermediates(c, seq)
    assert not [s for s in shapes if sum(d >= seq // 2 for d in s) > 1]
    largest = max(int(np.prod(s)) for s in shapes)
    larger = max(int(np.prod(s)) for s in _largest_intermediates(c, 2 * seq))
    if encoder_attention(arch, config) == "local":
        assert larger <= 2 * largest + 1024  # linear in the length
    else:
        global_block_size = getattr(config, spec(arch).attention.local.global_block_size)
        assert largest <= 4 * seq * (seq // global_block_size) * config.num_attention_heads
