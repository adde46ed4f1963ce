"""Behaviour of the generated TensorFlow encoder-decoder models (every spec with a decoder stack) beyond forward parity: cached decoding, labels and LM-head
scaling, `generate` (greedy and beam search, eager and XLA) against transformers' PyTorch `generate`, training,
checkpoints shared with transformers, and blocked (linear-cost) encoder attention.

Module structure is reached through the resolved spec's `names` or through public API, never by an architecture's
attribute names. The compositions are many: `make test` runs one of them in each test, in turn (`in_turn`), so that each
runs in some test; `make test-all` runs every one in every test.
"""

import logging

import numpy as np
import pytest

from harness import (
    SEQ2SEQ_ARCHS,
    SMALL_CONFIGS,
    TEST_ALL,
    Case,
    cases,
    config_kwargs,
    distinct_compositions,
    encoder_attention,
    in_turn,
    make_inputs,
    reference_config,
    reference_model,
    shift_labels,
    spec,
    variants,
)

tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")

ATOL = 1e-5
if not SEQ2SEQ_ARCHS:
    pytest.skip("no encoder-decoder spec", allow_module_level=True)
CASES = {(c.arch, c.head, c.variant): c for c in cases() if c.arch in SEQ2SEQ_ARCHS}
# The encoder-decoders of distinct compositions (mT5 is T5's).
COMPOSITIONS = distinct_compositions(SEQ2SEQ_ARCHS)
CASES_ARCHS = SEQ2SEQ_ARCHS


def _compositions(*indices: int) -> list:
    """The compositions a test runs: `make test`, those at `indices` (each test of this module takes
    others); `make test-all`, every one."""
    return list(dict.fromkeys(arch for index in indices for arch in in_turn(COMPOSITIONS, index)))


def _first_two(*indices: int) -> list:
    """(architecture, variant) of `_compositions(*indices)`: `make test`, one of the first two variants of each (in turn);
    `make test-all`, both."""
    out = []
    for position, arch in enumerate(_compositions(*indices)):
        first_two = variants(arch)[:2]
        chosen = first_two if TEST_ALL else [first_two[(indices[position] + 1) % len(first_two)]]
        out.extend((arch, variant) for variant in chosen)
    return out


# The compositions of a test (`make test`: one, each test taking the next).
BEHAVIOUR = _compositions


def _case(arch: str, head: str, variant: str) -> Case:
    return CASES[(arch, head, variant)]


def _second(arch: str) -> str:
    """The second variant of an architecture (its first if it has one)."""
    return variants(arch)[1 if len(variants(arch)) > 1 else 0]


def _tf_class(case: Case):
    import specformers

    return getattr(specformers, case.class_name("tf"))


def _as_deep(arch: str, variant: str) -> dict:
    """The config override that makes the decoder as deep as the encoder: transformers' PyTorch `generate` sizes its
    cache by the encoder's layer count."""
    layers = SMALL_CONFIGS[arch][variant][spec(arch).attribute_map.get("num_hidden_layers", "num_hidden_layers")]
    return {spec(arch).decoder.layers: layers}


def _decoder_blocks(arch: str, model) -> list:
    """The decoder's blocks, by the spec's `layers` role."""
    return list(getattr(model.get_decoder(), spec(arch).names.layers))


def _cross_projection(arch: str, block) -> tuple:
    """`(module, method)`: the method of a decoder block that projects the encoder states to the cross-attention's
    keys and values."""
    return block, "project_cross_key_value"


def _shift(model, labels):
    """The decoder inputs the model builds from labels (public `prepare_decoder_input_ids_from_labels` where the
    class has it)."""
    shift = getattr(model, "prepare_decoder_input_ids_from_labels", None) or model._shift_right
    return shift(tf.constant(labels)).numpy()


def _torch_generate(reference, *args, **kwargs):
    """transformers' generate(). Its beam search reshapes the scores by `config.vocab_size`, which with separate
    encoder and decoder vocabularies is not the LM head's width: the reference is given that width meanwhile."""
    config = reference.config
    saved, config.vocab_size = config.vocab_size, reference.get_output_embeddings().weight.shape[0]
    try:
        with torch.no_grad():
            return reference.generate(*args, **kwargs)
    finally:
        config.vocab_size = saved


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(config, transformers model, directory) per (case, overrides, seed), saved once."""
    store = {}

    def get(case: Case, seed: int = 0, **overrides):
        key = (case, seed, tuple(sorted(overrides.items())))
        if key not in store:
            config = reference_config(case, **overrides)
            model = reference_model(case, config, seed=seed)
            directory = tmp_path_factory.mktemp(f"{case.id}-{seed}")
            model.save_pretrained(directory)
            store[key] = (config, model, str(directory))
        return store[key]

    return get


def _max_diff(a, b) -> float:
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    return float(np.max(np.abs(a.astype(np.float64) - np.asarray(b, dtype=np.float64))))


# ----------------------------------------------------------------------------------------------------------------------
# (a) cached decoding


@pytest.mark.parametrize("arch,variant", _first_two(0))
def test_cached_decoding_matches_full_pass(arch, variant, saved):
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = saved(case)
    model = _tf_class(case).from_pretrained(directory)
    inputs = make_inputs(case, config)
    ids, mask, decoder_ids = (tf.constant(inputs[k]) for k in ("input_ids", "attention_mask", "decoder_input_ids"))
    full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, use_cache=True)
    encoder_outputs = model.get_encoder()(input_ids=ids, attention_mask=mask)

    # Cross-attention keys and values are projected once (the first step), then read from the cache.
    calls = []
    blocks = _decoder_blocks(arch, model)
    for block in blocks:
        module, method = _cross_projection(arch, block)
        original = getattr(module, method)
        setattr(module, method, lambda states, _f=original: calls.append(1) or _f(states))
    try:
        past, steps = None, []
        for t in range(decoder_ids.shape[1]):
            out = model(
                attention_mask=mask,
                decoder_input_ids=decoder_ids[:, t : t + 1],
                encoder_outputs=encoder_outputs,
                past_key_values=past,
                use_cache=True,
            )
            past = out.past_key_values
            steps.append(out.logits)
        assert len(calls) == len(blocks)
    finally:
        for block in blocks:
            delattr(*_cross_projection(arch, block))
    assert _max_diff(tf.concat(steps, axis=1), full.logits) <= ATOL
    for ours, reference in zip(tf.nest.flatten(past), tf.nest.flatten(full.past_key_values)):
        assert _max_diff(ours, reference) <= ATOL

    # The preallocated cache of `generate` (written in place at a step index) gives the same logits.
    length = decoder_ids.shape[1] + 2
    cache = model.init_decoder_cache(encoder_outputs.last_hidden_state, length)
    for t in range(decoder_ids.shape[1]):
        logits, cache = model.decode_step(
            decoder_ids[:, t : t + 1], encoder_outputs.last_hidden_state, mask, cache, tf.constant(t)
        )
        assert _max_diff(logits, full.logits[:, t]) <= ATOL
    assert cache[0][0].shape[2] == length


# ----------------------------------------------------------------------------------------------------------------------
# (b) labels and the LM head


@pytest.mark.parametrize("arch,variant", _first_two(1))
def test_labels_are_shifted_and_logits_scaled_as_transformers(arch, variant, saved):
    case = _case(arch, "conditional_generation", variant)
    config, torch_model, directory = saved(case)
    model = _tf_class(case).from_pretrained(directory)
    inputs = make_inputs(case, config)
    labels = inputs["labels"]
    with torch.no_grad():
        reference = torch_model(
            input_ids=torch.from_numpy(inputs["input_ids"]),
            attention_mask=torch.from_numpy(inputs["attention_mask"]),
            labels=torch.from_numpy(labels),
        )
    ours = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=labels)
    assert _max_diff(reference.loss, ours.loss) <= ATOL
    assert _max_diff(reference.logits, ours.logits) <= ATOL

    shifted = _shift(model, labels)
    # After the start token (or each row's last non-pad token, `decoder.shift: last_non_pad`), -100 -> pad.
    np.testing.assert_array_equal(shifted, shift_labels(case, config, labels))
    expected = np.where(labels[:, :-1] == -100, config.pad_token_id, labels[:, :-1])
    np.testing.assert_array_equal(shifted[:, 1:], expected)

    # Tied: the decoder output projected on the decoder's word embeddings, scaled by hidden_size ** -0.5 first where
    # the spec says so (`lm_head.tied_scale`); untied: lm_head alone. Then the logits
    # bias, where the head has one (`lm_head.logits_bias`).
    resolved = spec(arch)
    hidden = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=labels).logits
    decoder_output = model.get_decoder()(
        input_ids=tf.constant(shifted),
        encoder_hidden_states=model.get_encoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).last_hidden_state,
        encoder_attention_mask=inputs["attention_mask"],
    ).last_hidden_state.numpy()
    if config.tie_word_embeddings:
        scale = config.hidden_size**-0.5 if resolved.lm_head.tied_scale else 1.0
        # The decoder's word embeddings (its own, with separate vocabularies).
        embeddings = getattr(model.get_decoder(), "get_input_embeddings", model.get_input_embeddings)()
        expected_logits = (decoder_output * scale) @ embeddings.embeddings.numpy().T
        assert not hasattr(model, "lm_head")
    else:
        expected_logits = decoder_output @ model.lm_head.kernel.numpy()
    if resolved.lm_head.logits_bias:
        expected_logits = expected_logits + getattr(model, resolved.lm_head.logits_bias).numpy()
    assert _max_diff(hidden, expected_logits) <= 1e-4


# ----------------------------------------------------------------------------------------------------------------------
# (c) generate == transformers' PyTorch generate


_GENERATE_SETTINGS = [
    # (index of the variant, seed, generate kwargs, under XLA)
    (0, 3, dict(), True),
    (0, 3, dict(num_beams=4, length_penalty=0.7, early_stopping=True), False),
    (1, 0, dict(), False),
    (1, 0, dict(num_beams=4, length_penalty=1.5, early_stopping=False), True),
    (1, 0, dict(num_beams=4, length_penalty=0.6, early_stopping=True, num_return_sequences=2), False),
    (2, 2, dict(num_beams=3, length_penalty=2.0, early_stopping="never"), False),
]
# `make test`: one composition (in turn) with every setting (test_names_encoder_decoder.py generates with every spec,
# under XLA with its first); `make test-all`: every setting on the first composition, greedy search (under XLA) and
# beam search on the others (the search loops are the shared runtime's, each composition brings its decoding step).
_GREEDY_AND_BEAM = _GENERATE_SETTINGS[:2]
GENERATE = [
    (arch, variants(arch)[index], seed, kwargs, xla)
    for position, arch in enumerate(_compositions(2))
    for index, seed, kwargs, xla in (_GENERATE_SETTINGS if position == 0 else _GREEDY_AND_BEAM)
    if index < len(variants(arch))
]


@pytest.mark.parametrize("arch,variant,seed,kwargs,xla", GENERATE, ids=lambda p: str(p))
def test_generate_matches_transformers(arch, variant, seed, kwargs, xla, saved):
    case = _case(arch, "conditional_generation", variant)
    # transformers' PyTorch cache holds `num_layers` layers: generate there needs as many decoder layers.
    config, torch_model, directory = saved(case, seed=seed, **_as_deep(arch, variant))
    model = _tf_class(case).from_pretrained(directory)
    inputs = make_inputs(case, config, seed=seed)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]  # batch 3, rows 1 and 2 padded
    free = _torch_generate(torch_model, torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), max_new_tokens=10, do_sample=False)
    # An end-of-sequence id that some row produces early, so that rows end at different lengths.
    produced = [t for row in free[:, 2:].tolist() for t in row if t != config.pad_token_id]
    eos = int(produced[0]) if produced else config.eos_token_id
    kwargs = dict(kwargs, max_new_tokens=10, eos_token_id=eos)
    expected = _torch_generate(torch_model, torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), do_sample=False, **kwargs).numpy()
    ours = model.generate(ids, attention_mask=mask, **kwargs).numpy()
    np.testing.assert_array_equal(ours, expected)
    if xla:
        generate = tf.function(lambda i, m: model.generate(i, attention_mask=m, **kwargs), jit_compile=True)
        fixed = generate(tf.constant(ids), tf.constant(mask)).numpy()
        assert fixed.shape == (expected.shape[0], 11)  # max_length columns under XLA
        np.testing.assert_array_equal(fixed[:, : expected.shape[1]], expected)


@pytest.mark.parametrize("arch", BEHAVIOUR(3))
def test_generate_without_mask_infers_padding(arch, saved):
    case = _case(arch, "conditional_generation", _second(arch))
    config, torch_model, directory = saved(case, **_as_deep(arch, _second(arch)))
    model = _tf_class(case).from_pretrained(directory)
    ids = make_inputs(case, config)["input_ids"]
    ids[1, 9:] = config.pad_token_id
    expected = _torch_generate(torch_model, torch.from_numpy(ids), max_length=6, do_sample=False).numpy()
    np.testing.assert_array_equal(model.generate(ids, max_length=6).numpy(), expected)


# (architecture, variant, seed) of tied models whose greedy search is numerically stable in half precision (checked by
# the test): LongT5's first variant and, in `make test-all`, mT5's (of the names layout; seconds a model).
_MIXED = [
    (arch, variant, 3)
    for arch, variant in (("longt5", "local"), ("mt5", "gated_tied"))[: 2 if TEST_ALL else 1]
    if arch in CASES_ARCHS
]


@pytest.mark.parametrize("arch,variant,seed", _MIXED)
def test_generate_under_mixed_precision_with_tied_embeddings(arch, variant, seed, saved):
    """`generate` under the mixed_float16 and mixed_bfloat16 policies with a tied LM head (the shared embedding, read
    outside the model's `__call__`): the greedy ids of the float32 model with the same weights. The comparison is
    numerically stable, which the test checks: at every step of the float32 search the top logit leads the next by
    more than twice the largest logit difference the half-precision model makes on the same decoder inputs (on
    LongT5's model 0.43 against 0.005 in float16 and 0.04 in bfloat16)."""
    keras = pytest.importorskip("keras")
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = saved(case, seed=seed, **_as_deep(arch, variant))
    assert config.tie_word_embeddings
    inputs = make_inputs(case, config, seed=seed)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    reference = _tf_class(case).from_pretrained(directory)
    expected = reference.generate(ids, attention_mask=mask, max_new_tokens=6).numpy()
    logits = reference(input_ids=ids, attention_mask=mask, decoder_input_ids=expected[:, :-1]).logits.numpy()
    top = np.sort(logits, axis=-1)
    margin = float(np.min(top[..., -1] - top[..., -2]))
    assert len(set(expected[:, 1].tolist())) > 1  # not one token everywhere
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            model = _tf_class(case).from_pretrained(directory)
            assert model.compute_dtype == policy.split("_")[1]
            half = model(input_ids=ids, attention_mask=mask, decoder_input_ids=expected[:, :-1]).logits
            ours = model.generate(ids, attention_mask=mask, max_new_tokens=6)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        assert 2 * _max_diff(half.numpy(), logits) < margin, policy
        assert ours.dtype == tf.int32
        np.testing.assert_array_equal(ours.numpy(), expected, err_msg=policy)


# ----------------------------------------------------------------------------------------------------------------------
# (d) training


@pytest.mark.parametrize(
    "arch,first_call",
    [(arch, "tf.function") for arch in _compositions(4)]
    + [(arch, "evaluate") for arch in _compositions(5)],
)
def test_a_failed_traced_first_call_leaves_the_model_usable(arch, first_call):
    """A first call that is traced and fails (no decoder inputs, and no `input_ids` they could be shifted from: a
    clear error in every encoder-decoder) creates no variable inside the trace: the model then runs as a model of the
    same weights that never failed (variables left uninitialised by the failed trace would read as empty tables)."""
    case = _case(arch, "conditional_generation", variants(arch)[0])
    cls = _tf_class(case)
    config = cls.config_class(**config_kwargs(case))
    inputs = make_inputs(case, config)
    encoder_inputs = {k: tf.constant(inputs[k]) for k in ("input_ids", "attention_mask")}
    embedded = {
        "inputs_embeds": tf.random.stateless_normal(inputs["input_ids"].shape + (config.hidden_size,), seed=(0, 1)),
        "attention_mask": encoder_inputs["attention_mask"],
    }
    model = cls(config)
    with pytest.raises(ValueError, match="decoder_input_ids or decoder_inputs_embeds"):
        if first_call == "tf.function":
            tf.function(lambda feed: model(feed, training=False))(embedded)
        else:
            model.compile(optimizer="sgd")
            model.evaluate(embedded, batch_size=3, verbose=0)
    feed = dict(encoder_inputs, decoder_input_ids=tf.constant(inputs["decoder_input_ids"]))
    logits = model(**feed, training=False).logits.numpy()
    twin = cls(config)
    twin.build_with_dummy_inputs()
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(logits, twin(**feed, training=False).logits.numpy())


@pytest.mark.parametrize("arch", BEHAVIOUR(6))
def test_gradients_are_finite_and_dropout_trains(arch, saved):
    case = _case(arch, "conditional_generation", _second(arch))
    config, _, directory = saved(case)
    model = _tf_class(case).from_pretrained(directory)
    inputs = make_inputs(case, config)
    feed = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=inputs["labels"])
    with tf.GradientTape() as tape:
        loss = model(**feed, training=True).loss
    grads = tape.gradient(loss, model.trainable_variables)
    # Each trainable variable under one PyTorch name (the shared embedding once; fixed tables and the logits bias
    # are not trained).
    names = [key for key, (variable, _) in model.pytorch_weight_map().variables.items() if variable.trainable]
    assert len(model.trainable_variables) == len(names)
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None, variable.path
        assert np.isfinite(tf.convert_to_tensor(grad).numpy()).all(), variable.path
    eval_a, eval_b = (model(**feed, training=False).logits.numpy() for _ in range(2))
    train_a, train_b = (model(**feed, training=True).logits.numpy() for _ in range(2))
    np.testing.assert_array_equal(eval_a, eval_b)
    assert not np.allclose(train_a, train_b) and not np.allclose(train_a, eval_a)


# ----------------------------------------------------------------------------------------------------------------------
# (e) checkpoints


@pytest.mark.parametrize("arch,variant", _first_two(7, 8))
def test_save_pretrained_loads_in_transformers(arch, variant, saved, tmp_path):
    import transformers

    case = _case(arch, "conditional_generation", variant)
    config, torch_model, directory = saved(case)
    model = _tf_class(case).from_pretrained(directory)
    model.save_pretrained(tmp_path)
    from safetensors.numpy import load_file

    written = set(load_file(str(tmp_path / "model.safetensors")))
    reference_keys = set(load_file(directory + "/model.safetensors"))
    assert written == reference_keys  # tied names written as transformers writes them
    # The reference's attention implementation (eager): transformers' default, where a class supports it, is SDPA,
    # whose other order of operations moves the logits by ~1e-7 on the same weights.
    reloaded = getattr(transformers, case.class_name("torch")).from_pretrained(
        tmp_path, attn_implementation=torch_model.config._attn_implementation
    ).eval()
    inputs = make_inputs(case, config)
    feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
    with torch.no_grad():
        a, b = torch_model(**feed).logits, reloaded(**feed).logits
    assert _max_diff(a, b) == 0.0


# (The architectures with an encoder-only head.)
@pytest.mark.parametrize("arch", [arch for arch in COMPOSITIONS if spec(arch).head("encoder")])
def test_encoder_model_loads_a_full_checkpoint_quietly(arch, saved, caplog):
    full = _case(arch, "conditional_generation", _second(arch))
    config, torch_model, directory = saved(full)
    encoder_case = _case(arch, "encoder", _second(arch))
    with caplog.at_level(logging.WARNING, logger="specformers"):
        encoder = _tf_class(encoder_case).from_pretrained(directory)
    assert "were not used" not in caplog.text and "newly initialized" not in caplog.text
    inputs = make_inputs(encoder_case, config)
    with torch.no_grad():
        reference = torch_model.get_encoder()(
            input_ids=torch.from_numpy(inputs["input_ids"]), attention_mask=torch.from_numpy(inputs["attention_mask"])
        ).last_hidden_state
    assert _max_diff(reference, encoder(**inputs).last_hidden_state) <= ATOL


# ----------------------------------------------------------------------------------------------------------------------
# (f) blocked encoder attention: linear cost, XLA


def _blocked_archs() -> list:
    """Encoder-decoder architectures of either layout whose encoder can run blocked (local / transient-global)
    attention."""
    out = []
    for arch in SEQ2SEQ_ARCHS:
        attention = spec(arch).attention
        chosen = [c.variant for c in attention.select.variants.values()] if attention.select else [attention.variant]
        if set(chosen) - {"full"}:
            out.append(arch)
    return out


@pytest.mark.parametrize("arch,variant", [(arch, variant) for arch in _blocked_archs() for variant in variants(arch)[:2]])
def test_blocked_attention_is_linear_and_compiles(arch, variant, saved):
    # The encoder-only head, or the generation head's encoder where the spec has none.
    head = "encoder" if spec(arch).head("encoder") else "conditional_generation"
    case = _case(arch, head, variant)
    config, _, directory = saved(case)
    model = _tf_class(case).from_pretrained(directory)
    if head != "encoder":
        model = model.get_encoder()
    local = spec(arch).attention.local
    block = getattr(config, local.radius) + 1
    length = 1000  # not a multiple of the block
    rng = np.random.default_rng(0)
    ids = tf.constant(rng.integers(2, config.vocab_size, size=(2, length)), dtype=tf.int32)
    mask = tf.constant(np.concatenate([np.ones((2, length - 7)), np.zeros((2, 7))], axis=1), dtype=tf.int32)
    eager = model(input_ids=ids, attention_mask=mask, output_attentions=True)
    num_blocks = -(-length // block)
    transient_global = encoder_attention(arch, config) == "transient_global"
    globals_ = length // getattr(config, local.global_block_size) if transient_global else 0
    for probs in eager.attentions:
        # (batch, blocks, heads, block, 3 * block [+ globals]): no (length x length) matrix anywhere
        assert tuple(probs.shape) == (2, num_blocks, config.num_heads, block, 3 * block + globals_)
    compiled = tf.function(lambda i, m: model(input_ids=i, attention_mask=m).last_hidden_state, jit_compile=True)
    assert _max_diff(compiled(ids, mask), eager.last_hidden_state) <= ATOL
