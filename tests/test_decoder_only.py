"""Decoder-only stacks (every spec with `stack: decoder-only`), in every framework: decoding token by token with the
key/value cache equals one full pass, `generate()` (greedy and beam search, a left-padded prompt among the rows) returns
transformers' token ids (TensorFlow under `jit_compile`, Flax's loop under `jax.jit`), and a transformers checkpoint survives
the round trip through each framework's `save_pretrained`; the PyTorch classes take their inputs in transformers'
positional order."""

import numpy as np
import pytest

from harness import (
    DECODER_ONLY_ARCHS,
    project,
    TEST_ALL,
    assert_close,
    Case,
    config_kwargs,
    dynamically_scaled,
    framework_params,
    pick_eos,
    reference_config,
    reference_model,
    spec,
    turn_params,
    variants,
)

FRAMEWORKS = ("torch", "tf", "flax")
PROMPT, NEW_TOKENS = 6, 8


def _case(arch: str, kind: str, variant: str) -> Case:
    head = spec(arch).head(kind)
    return Case(arch, spec(arch).prefix, kind, head.suffix, variant)


CAUSAL = [_case(a, "causal_lm", v) for a in DECODER_ONLY_ARCHS for v in variants(a)]
BASE = [_case(a, "base", v) for a in DECODER_ONLY_ARCHS for v in variants(a)]
# Beam search (4 beams) and greedy search alternate over an architecture's variants (both on a single variant), to
# keep the compiled TF and Flax loops few.
SEARCHES = []
for _arch in DECODER_ONLY_ARCHS:
    _names = variants(_arch)
    for _i, _variant in enumerate(_names):
        for _beams in ((4, 1) if len(_names) == 1 else ((4, 1)[_i % 2],)):
            SEARCHES.append((_case(_arch, "causal_lm", _variant), _beams))
# `make test` compiles TensorFlow's or Flax's search loop for one search of every fourth architecture (beam search and
# greedy search alternating from one such architecture to the next, over its variants; the frameworks in turn, the
# first in both): the loops are the stack kind's template code, and the cache they drive is compared step by step
# below. PyTorch runs every search, and so does `make test-all`.
COMPILED_SEARCHES = {"tf": [], "flax": []}
for _i, _arch in enumerate(DECODER_ONLY_ARCHS[::4]):
    _own = [s for s in SEARCHES if s[0].arch == _arch]
    for _framework in ("tf", "flax") if _i == 0 else (("tf", "flax")[_i % 2],):
        COMPILED_SEARCHES[_framework].append(_own[_i // 2 % len(_own)])
# TensorFlow and Flax decode eagerly, token by token (each new shape compiles Flax's operations: seconds a case, a
# tenth of that in TensorFlow): `make test` steps through one variant of every architecture in TensorFlow and of every
# eighth in Flax (the variants in turn from one architecture to the next, TensorFlow one ahead), every variant in
# PyTorch; `make test-all` every variant everywhere.
STEPPED_FLAX, STEPPED_TF = [], []
for _i, _arch in enumerate(DECODER_ONLY_ARCHS):
    _own = [c for c in BASE if c.arch == _arch]
    if _i % 8 == 0:
        STEPPED_FLAX.append(_own[_i % len(_own)])
    STEPPED_TF.append(_own[(_i + 1) % len(_own)])
STEPPED = {"torch": BASE, "tf": STEPPED_TF, "flax": STEPPED_FLAX}
STEP_PARAMS = turn_params(BASE, lambda c: c.id, lambda _, c: [fw for fw, stepped in STEPPED.items() if c in stepped])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(case) -> (config, transformers model, checkpoint directory), saved once per case."""
    cache = {}

    def get(case):
        if case not in cache:
            config = reference_config(case)
            model = reference_model(case, config)
            directory = tmp_path_factory.mktemp(case.id)
            model.save_pretrained(directory)
            cache[case] = (config, model, str(directory))
        return cache[case]

    return get


def _load(framework: str, case: Case, directory: str):
    import specformers

    return getattr(specformers, case.class_name(framework)).from_pretrained(directory)


def _prompts(config, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three prompts: row 0 full, rows 1 and 2 left-padded by 2 and 4 tokens (`config.pad_token_id`)."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(0, config.vocab_size - 2, size=(3, PROMPT), dtype=np.int64)
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, :2] = 0
    attention_mask[2, :4] = 0
    input_ids[attention_mask == 0] = config.pad_token_id
    return input_ids, attention_mask


def _forward(framework: str, model, **inputs):
    """The model's output on numpy inputs (cache tuples of numpy pairs pass through as the framework's tensors)."""
    if framework == "torch":
        import torch

        convert = torch.from_numpy
    elif framework == "tf":
        import tensorflow as tf

        convert = tf.constant
    else:
        import jax.numpy as jnp

        convert = jnp.asarray
    feed = {}
    for key, value in inputs.items():
        if key == "past_key_values" and not isinstance(value, tuple):
            feed[key] = value  # transformers' own cache object
        elif key == "past_key_values":
            feed[key] = tuple(tuple(convert(np.asarray(t)) for t in layer) for layer in value)
        elif isinstance(value, bool):
            feed[key] = value
        else:
            feed[key] = convert(value)
    if framework == "torch":
        import torch

        with torch.no_grad():
            return model(**feed, return_dict=True)
    return model(**feed, return_dict=True)


def _numpy(x) -> np.ndarray:
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def _stepwise(framework: str, model, full_ids, full_mask, position_ids, own_cache: bool = False) -> dict:
    """The prompt (its first PROMPT tokens) in one call, then one token per call with the returned cache: the hidden
    states of every position and the last cache, as numpy arrays. `own_cache`: the cache object a call returns is
    passed back as it is (transformers' classes), not as nested tuples."""
    out = _forward(
        framework, model, input_ids=full_ids[:, :PROMPT], attention_mask=full_mask[:, :PROMPT], position_ids=position_ids[:, :PROMPT],
        use_cache=True,
    )
    steps = [_numpy(out.last_hidden_state)]
    for end in range(PROMPT + 1, full_ids.shape[1] + 1):
        past = out.past_key_values if own_cache else tuple(tuple(_numpy(t) for t in layer) for layer in out.past_key_values)
        out = _forward(
            framework,
            model,
            input_ids=full_ids[:, end - 1 : end],
            attention_mask=full_mask[:, :end],
            position_ids=position_ids[:, end - 1 : end],
            past_key_values=past,
            use_cache=True,
        )
        steps.append(_numpy(out.last_hidden_state))
    stepwise = {"last_hidden_state": np.concatenate(steps, axis=1)}
    for i, layer in enumerate(out.past_key_values):
        for j, tensor in enumerate(layer):
            stepwise[f"past_key_values.{i}.{j}"] = _numpy(tensor)
    return stepwise


@pytest.mark.parametrize("case,framework", STEP_PARAMS)
def test_cache_step_by_step_equals_full_pass(case, framework, saved):
    """The prompt in one call, then one token per call with the returned cache: the same hidden states and cache as
    the whole sequence in one call (left-padded rows included: positions come from the attention mask). With
    dynamically scaled rotary positions (whose cached keys keep the rotation of their call): transformers' steps."""
    config, torch_model, directory = saved(case)
    model = _load(framework, case, directory)
    input_ids, attention_mask = _prompts(config)
    extra = np.random.default_rng(1).integers(0, config.vocab_size - 2, size=(3, 3), dtype=np.int64)
    full_ids = np.concatenate([input_ids, extra], axis=1)
    full_mask = np.concatenate([attention_mask, np.ones_like(extra)], axis=1)
    position_ids = np.where(full_mask == 0, 1, np.cumsum(full_mask, axis=1) - 1)
    stepwise = _stepwise(framework, model, full_ids, full_mask, position_ids)
    if dynamically_scaled(case, config):
        reference = _stepwise("torch", torch_model, full_ids, full_mask, position_ids, own_cache=True)
    else:
        full = _forward(framework, model, input_ids=full_ids, attention_mask=full_mask, position_ids=position_ids, use_cache=True)
        reference = {"last_hidden_state": _numpy(full.last_hidden_state)}
        for i, layer in enumerate(full.past_key_values):
            for j, tensor in enumerate(layer):
                reference[f"past_key_values.{i}.{j}"] = _numpy(tensor)
    if spec(case.arch).decoder.mask == "combined":
        # A padded query sees no key and spreads its attention over every key, so its output (and, in later layers,
        # its key and value) depends on how many keys the call holds: only the attended positions are compared.
        attended = full_mask.astype(bool)
        for key, array in list(reference.items()):
            keep = attended[:, :, None] if key == "last_hidden_state" else attended[:, None, :, None]
            reference[key], stepwise[key] = np.where(keep, array, 0.0), np.where(keep, stepwise[key], 0.0)
    # Only the attended rows' outputs are meaningful; with separate causal and padding masks padded query positions
    # are compared too (same masks).
    assert_close(reference, stepwise, "torch")


def _reference_generate(model, config, input_ids, attention_mask, num_beams: int, eos: int, token_type_ids=None) -> np.ndarray:
    import torch

    types = {} if token_type_ids is None else {"token_type_ids": torch.from_numpy(token_type_ids)}
    if getattr(config, "output_router_logits", False):
        # transformers' mixture-of-experts causal LMs compute the auxiliary loss in every decoding step from the
        # whole attention mask and the new tokens' router logits, whose shapes then disagree (a RuntimeError): the
        # search does not read them.
        types["output_router_logits"] = False
    with torch.no_grad():
        out = model.generate(
            torch.from_numpy(input_ids),
            attention_mask=torch.from_numpy(attention_mask),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            num_beams=num_beams,
            eos_token_id=eos,
            pad_token_id=config.pad_token_id,
            **types,
        )
    return out.numpy()


def _generate(framework: str, model, input_ids, attention_mask, num_beams: int, eos: int, pad: int, token_type_ids=None) -> np.ndarray:
    kwargs = dict(max_new_tokens=NEW_TOKENS, num_beams=num_beams, eos_token_id=eos, pad_token_id=pad)
    types = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
    if framework == "torch":
        import torch

        types = {k: torch.from_numpy(v) for k, v in types.items()}
        return model.generate(torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask), **kwargs, **types).numpy()
    if framework == "tf":
        import tensorflow as tf

        run = tf.function(lambda ids, mask, types: model.generate(ids, attention_mask=mask, **kwargs, **types), jit_compile=True)
        out = run(tf.constant(input_ids), tf.constant(attention_mask), {k: tf.constant(v) for k, v in types.items()}).numpy()
    else:
        # Flax's generate compiles its whole loop with jax.jit, and returns the generated length.
        out = np.asarray(model.generate(input_ids, attention_mask=attention_mask, **kwargs, **types).sequences)
    return out


@pytest.mark.parametrize(
    "case,num_beams,framework",
    [
        p for p in framework_params(SEARCHES, SEARCHES, lambda s: f"{s[0].id}-beams{s[1]}")
        if p.values[-1] == "torch" or TEST_ALL or tuple(p.values[:2]) in COMPILED_SEARCHES[p.values[-1]]
    ],
)
def test_generate_matches_transformers(case, num_beams, framework, saved):
    """Greedy and beam search (4 beams) with a left-padded prompt among the rows; an end-of-sequence id that ends
    some rows early, so that finished rows are padded. Compiled runs keep the full length: the columns after the
    reference's end hold the pad id."""
    config, reference, directory = saved(case)
    input_ids, attention_mask = _prompts(config)
    free = _reference_generate(reference, config, input_ids, attention_mask, 1, eos=config.vocab_size - 1)
    eos = pick_eos(free[:, PROMPT:])
    expected = _reference_generate(reference, config, input_ids, attention_mask, num_beams, eos)
    ours = _generate(framework, _load(framework, case, directory), input_ids, attention_mask, num_beams, eos, config.pad_token_id)
    assert ours.shape[0] == expected.shape[0]
    np.testing.assert_array_equal(ours[:, : expected.shape[1]], expected)
    # transformers' fill value: the pad id; beam search's buffers hold the end-of-sequence id instead where the pad id
    # is 0 (`pad_token_id or eos_token_id`).
    fill = config.pad_token_id if num_beams == 1 else (config.pad_token_id or eos)
    assert (ours[:, expected.shape[1] :] == fill).all()


# generate() with the prompts' token types, where the word embeddings embed them: the first such architecture (the
# search code that extends them is the stack kind's, shared by every architecture), greedy and beam search.
TOKEN_TYPE_CASES = [c for c in CAUSAL if spec(c.arch).embeddings.token_type == "word"][:1]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("num_beams", (1, 4), ids=lambda b: f"beams{b}")
@pytest.mark.parametrize("case", TOKEN_TYPE_CASES, ids=lambda c: c.id)
def test_generate_with_token_types_matches_transformers(case, num_beams, framework, saved):
    """Each generated token gets the type of its row's last prompt token, as transformers' generate extends them;
    a left-padded row among the prompts."""
    config, reference, directory = saved(case)
    input_ids, attention_mask = _prompts(config)
    token_type_ids = np.random.default_rng(1).integers(0, config.vocab_size, size=input_ids.shape)
    free = _reference_generate(reference, config, input_ids, attention_mask, 1, config.vocab_size - 1, token_type_ids)
    untyped = _reference_generate(reference, config, input_ids, attention_mask, 1, config.vocab_size - 1)
    assert not np.array_equal(free, untyped)  # the types change the tokens
    eos = pick_eos(free[:, PROMPT:])
    expected = _reference_generate(reference, config, input_ids, attention_mask, num_beams, eos, token_type_ids)
    model = _load(framework, case, directory)
    ours = _generate(framework, model, input_ids, attention_mask, num_beams, eos, config.pad_token_id, token_type_ids)
    np.testing.assert_array_equal(ours[:, : expected.shape[1]], expected)
    with pytest.raises(ValueError, match="token_type_ids has shape"):
        _generate(framework, model, input_ids, attention_mask, num_beams, eos, config.pad_token_id, token_type_ids[:, 1:])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_generate_refuses_token_types_a_model_does_not_take(framework, saved):
    case = next(c for c in CAUSAL if spec(c.arch).embeddings.token_type != "word")
    config, _, directory = saved(case)
    input_ids, attention_mask = _prompts(config)
    with pytest.raises(ValueError, match="takes no token_type_ids"):
        _generate(framework, _load(framework, case, directory), input_ids, attention_mask, 1, 0, 0, np.zeros_like(input_ids))


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CAUSAL[:1], ids=lambda c: c.id)
def test_checkpoint_round_trip(case, framework, saved, tmp_path):
    """transformers -> the framework's from_pretrained -> save_pretrained -> transformers: the same tensors (Conv1D
    weights untransposed, the tied LM head saved once) and the same outputs."""
    import torch
    import transformers

    config, reference, directory = saved(case)
    _load(framework, case, directory).save_pretrained(tmp_path)
    reloaded = getattr(transformers, case.class_name("torch")).from_pretrained(tmp_path, attn_implementation="eager").eval()
    expected = reference.state_dict()
    for name, tensor in reloaded.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), expected[name].numpy(), err_msg=name)
    input_ids, attention_mask = _prompts(config)
    with torch.no_grad():
        a = reference(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask)).logits
        b = reloaded(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask)).logits
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _positional_names(function) -> list[str]:
    import inspect

    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [n for n, p in inspect.signature(function).parameters.items() if p.kind in kinds and n != "self"]


def _small_torch_model(case: Case):
    import specformers
    import torch

    torch.manual_seed(0)
    config = getattr(specformers, f"{case.prefix}Config")(**config_kwargs(case))
    return getattr(specformers, case.class_name("torch"))(config).eval()


# Every decoder-only stack, and the encoders whose spec states transformers' PyTorch order (`torch_positional_order`).
ORDERED_ARCHS = DECODER_ONLY_ARCHS + [a.name for a in project().architectures if a.stack == "encoder" and a.spec.torch_positional_order]


@pytest.mark.parametrize("arch", ORDERED_ARCHS)
def test_torch_positional_order_is_transformers(arch):
    """Every head's PyTorch forward takes transformers' arguments at transformers' places, up to the last one it
    takes (the inputs it has no use for keep theirs and refuse a value); its own inputs come after."""
    import torch
    import transformers

    for head in spec(arch).heads:
        case = _case(arch, head.kind, variants(arch)[0])
        theirs = _positional_names(getattr(transformers, case.class_name("torch")).forward)
        ours = _positional_names(getattr(__import__("specformers"), case.class_name("torch")).forward)
        last = max(i for i, name in enumerate(theirs) if name in ours)
        assert ours[: last + 1] == theirs[: last + 1], case.class_name("torch")
        placeholders = [a.name for a in head.args["torch"] if a.placeholder]
        if placeholders:
            model = _small_torch_model(case)
            ids = torch.ones((1, 4), dtype=torch.long)
            for name in placeholders:
                with pytest.raises(ValueError, match=f"`{name}`.* must be None"):
                    model(ids, **{name: torch.zeros((1, 4), dtype=torch.long)})


@pytest.mark.parametrize("arch", DECODER_ONLY_ARCHS)
def test_torch_positional_call_equals_keyword_call(arch):
    """`model(input_ids, ..., attention_mask)` by position (at transformers' place of the mask) is the keyword call."""
    import torch
    import transformers

    case = _case(arch, "causal_lm", variants(arch)[0])
    model = _small_torch_model(case)
    input_ids, attention_mask = (torch.from_numpy(a) for a in _prompts(model.config))
    at = _positional_names(getattr(transformers, case.class_name("torch")).forward).index("attention_mask")
    args = [input_ids] + [None] * (at - 1) + [attention_mask]
    with torch.no_grad():
        positional = model(*args).logits
        keyword = model(input_ids=input_ids, attention_mask=attention_mask).logits
        unmasked = model(input_ids=input_ids).logits
    assert not torch.equal(keyword, unmasked)  # the mask matters to these prompts
    torch.testing.assert_close(positional, keyword, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------------------------------
# LayerDrop (`layerdrop`): in training each block is skipped with the configured probability and then computes
# nothing; in evaluation every block runs. Every decoder-only spec that declares it (`make test`: the first; the skip
# is the stack kind's template code).


LAYERDROP_ARCHS = [a for a in DECODER_ONLY_ARCHS if spec(a).spec.layerdrop is not None]
if not TEST_ALL:
    LAYERDROP_ARCHS = LAYERDROP_ARCHS[:1]
LAYERDROP_IDS = np.array([[5, 6, 7, 8], [9, 10, 11, 12]])


def _layerdrop_model(arch: str, framework: str, rate: float, **extra):
    """The base model of the architecture's first test variant, without dropout, with LayerDrop `rate`."""
    import specformers

    resolved = spec(arch)
    case = _case(arch, "base", variants(arch)[0])
    ffn = resolved.feed_forward
    dropouts = [resolved.embeddings.dropout, resolved.attention.dropout, ffn.dropout, ffn.activation_dropout]
    fields = {**config_kwargs(case), resolved.spec.layerdrop.decoder: rate, **{name: 0.0 for name in dropouts if name}}
    config = getattr(specformers, resolved.config_class)(**fields)
    return getattr(specformers, case.class_name(framework))(config, **extra)


def _block_class_name(arch: str, framework: str) -> str:
    return spec(arch).class_name("Block", framework)


def _layers(config) -> int:
    return config.num_hidden_layers


def _skipped_blocks(hidden_states, layers: int) -> tuple:
    """Which blocks (all but the last, whose output the hidden states show only after the final norm) left their
    input unchanged."""
    return tuple(bool(np.array_equal(np.asarray(hidden_states[i]), np.asarray(hidden_states[i + 1]))) for i in range(layers - 1))


def _check_all_skipped(trained, evaluated, layers: int) -> None:
    """Every block skipped: each block's input is the embeddings (the evaluation's first hidden states)."""
    assert len(trained.hidden_states) == len(evaluated.hidden_states) == layers + 1
    for state in trained.hidden_states[:layers]:
        np.testing.assert_array_equal(np.asarray(state), np.asarray(evaluated.hidden_states[0]))


@pytest.mark.parametrize("arch", LAYERDROP_ARCHS)
def test_torch_layerdrop_skips_without_computing(arch, monkeypatch):
    """PyTorch LayerDrop: in training at rate 1 no block runs, the hidden states stay the embeddings and, as in
    transformers, the skipped blocks return neither attention probabilities nor a cache entry; at rate 0 training
    equals evaluation (no dropout); in evaluation every block runs at any rate; at rate 0.5 the skipped blocks differ
    from draw to draw (`torch.rand`, seeded by `torch.manual_seed`)."""
    import torch

    ids = torch.tensor(LAYERDROP_IDS)
    flags = dict(output_hidden_states=True, output_attentions=True, use_cache=True)
    model = _layerdrop_model(arch, "torch", 1.0)
    layers = _layers(model.config)
    blocks = [m for m in model.modules() if type(m).__name__ == _block_class_name(arch, "torch")]
    assert len(blocks) == layers
    calls = []
    block_class = type(blocks[0])
    forward = block_class.forward

    def counted(self, *args, **kwargs):
        calls.append(self)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(block_class, "forward", counted)
    with torch.no_grad():
        model.eval()
        evaluated = model(ids, **flags)
        assert len(calls) == layers
        calls.clear()
        model.train()
        trained = model(ids, **flags)
    assert calls == []
    _check_all_skipped(trained, evaluated, layers)
    assert len(trained.attentions) == 0 and len(trained.past_key_values) == 0

    model = _layerdrop_model(arch, "torch", 0.0)
    with torch.no_grad():
        evaluated = model.eval()(ids, **flags)
        calls.clear()
        trained = model.train()(ids, **flags)
    assert len(calls) == layers
    np.testing.assert_array_equal(trained.last_hidden_state.numpy(), evaluated.last_hidden_state.numpy())

    model = _layerdrop_model(arch, "torch", 0.5).train()
    patterns = set()
    for seed in range(6):
        torch.manual_seed(seed)
        with torch.no_grad():
            patterns.add(_skipped_blocks(model(ids, output_hidden_states=True).hidden_states, layers))
    assert len(patterns) > 1, patterns


@pytest.mark.parametrize("arch", LAYERDROP_ARCHS)
def test_tf_layerdrop_skips_without_computing(arch, monkeypatch):
    """TensorFlow LayerDrop in training: at rate 1 no block runs (`tf.cond`; the blocks' `call` is never entered),
    the hidden states stay the embeddings, the attention probabilities are zeros of their shape and the cache holds
    zeros at the new positions; at rate 0 training equals evaluation (no dropout); in evaluation every block runs; a
    training step under `tf.function` draws anew at every run (rate 0.5: the skipped blocks differ between runs)."""
    import functools

    import tensorflow as tf

    flags = dict(output_hidden_states=True, output_attentions=True, use_cache=True)
    model = _layerdrop_model(arch, "tf", 1.0)
    evaluated = model(LAYERDROP_IDS, training=False, **flags)
    layers = _layers(model.config)
    blocks = [m for m in model._flatten_layers(include_self=False) if type(m).__name__ == _block_class_name(arch, "tf")]
    assert len(blocks) == layers
    calls = []

    def counted(call):
        @functools.wraps(call)  # Keras reads the signature of `call`
        def wrapper(self, *args, **kwargs):
            calls.append(self)
            return call(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(type(blocks[0]), "call", counted(type(blocks[0]).call))
    trained = model(LAYERDROP_IDS, training=True, **flags)
    assert calls == []
    _check_all_skipped(trained, evaluated, layers)
    assert len(trained.attentions) == len(evaluated.attentions) == layers
    for got, expected in zip(trained.attentions, evaluated.attentions):
        assert got.shape == expected.shape and not np.any(got.numpy())
    assert len(trained.past_key_values) == len(evaluated.past_key_values) == layers
    for got, expected in zip(trained.past_key_values, evaluated.past_key_values):
        for got_array, expected_array in zip(got, expected):
            assert got_array.shape == expected_array.shape and not np.any(got_array.numpy())
    model(LAYERDROP_IDS, training=False)
    assert len(calls) == layers

    model = _layerdrop_model(arch, "tf", 0.0)
    evaluated = model(LAYERDROP_IDS, training=False)
    trained = model(LAYERDROP_IDS, training=True)
    np.testing.assert_array_equal(trained.last_hidden_state.numpy(), evaluated.last_hidden_state.numpy())

    model = _layerdrop_model(arch, "tf", 0.5)
    step = tf.function(lambda: model(LAYERDROP_IDS, output_hidden_states=True, training=True))
    tf.random.set_seed(0)
    patterns = {_skipped_blocks(step().hidden_states, layers) for _ in range(6)}
    assert len(patterns) > 1, patterns


@pytest.mark.parametrize("arch", LAYERDROP_ARCHS)
def test_flax_layerdrop_skips_without_computing(arch):
    """Flax LayerDrop in training: the forward pass holds one `cond` per block (one branch runs, also under
    `jax.jit`); at rate 1 the hidden states stay the embeddings, the attention probabilities are zeros and the cache
    holds zeros at the new positions; at rate 0 training equals evaluation (no dropout); a jitted training step draws
    anew with every `dropout_rng` (rate 0.5: the skipped blocks differ). Random parameters of the models' shapes;
    everything runs under one `jax.jit`."""
    jax = pytest.importorskip("jax")
    import functools

    models = {rate: _layerdrop_model(arch, "flax", rate, _do_init=False) for rate in (0.0, 0.5, 1.0)}
    layers = _layers(models[0.0].config)
    shapes = jax.eval_shape(functools.partial(models[0.0].init_weights, input_shape=LAYERDROP_IDS.shape), jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    params = jax.tree_util.tree_map(lambda leaf: rng.normal(0.0, 0.2, leaf.shape).astype(leaf.dtype), shapes)

    def train(rate, dropout_rng, **flags):
        return models[rate](LAYERDROP_IDS, params=params, train=True, dropout_rng=dropout_rng, **flags)

    jaxpr = str(jax.make_jaxpr(lambda r: train(1.0, r).last_hidden_state)(jax.random.PRNGKey(0)))
    assert jaxpr.count("cond[") == layers

    flags = dict(output_hidden_states=True, output_attentions=True)

    @jax.jit
    def step(dropout_rng):
        evaluated = models[0.0](LAYERDROP_IDS, params=params, **flags)
        return evaluated, {rate: train(rate, dropout_rng, **flags) for rate in models}

    evaluated, trained = step(jax.random.PRNGKey(0))
    _check_all_skipped(trained[1.0], evaluated, layers)
    for got, expected in zip(trained[1.0].attentions, evaluated.attentions):
        assert got.shape == expected.shape and not np.any(np.asarray(got))
    np.testing.assert_array_equal(np.asarray(trained[0.0].last_hidden_state), np.asarray(evaluated.last_hidden_state))
    patterns = {_skipped_blocks(step(jax.random.PRNGKey(seed))[1][0.5].hidden_states, layers) for seed in range(6)}
    assert len(patterns) > 1, patterns


@pytest.mark.parametrize("arch", LAYERDROP_ARCHS)
def test_torch_layerdrop_skips_the_blocks_transformers_skips(arch, tmp_path):
    """PyTorch LayerDrop in training draws as transformers does (one `torch.rand([])` per block, none in evaluation):
    from the same seed, without dropout, at rate 0.5, the hidden states and attention probabilities of transformers'
    model (its weights loaded) ≤ 1e-5, the skipped blocks differing from seed to seed."""
    import torch

    resolved = spec(arch)
    case = _case(arch, "base", variants(arch)[0])
    ffn = resolved.feed_forward
    dropouts = [resolved.embeddings.dropout, resolved.attention.dropout, ffn.dropout, ffn.activation_dropout]
    overrides = {resolved.spec.layerdrop.decoder: 0.5, **{name: 0.0 for name in dropouts if name}}
    reference = reference_model(case, reference_config(case, **overrides)).train()
    reference.save_pretrained(tmp_path)
    ours = _load("torch", case, str(tmp_path)).train()
    ids = torch.tensor(LAYERDROP_IDS)
    flags = dict(output_hidden_states=True, output_attentions=True, use_cache=False)
    patterns = set()
    for seed in range(6):
        with torch.no_grad():
            torch.manual_seed(seed)
            expected = reference(ids, **flags)
            torch.manual_seed(seed)
            got = ours(ids, **flags)
        assert len(got.attentions) == len(expected.attentions)
        for name in ("hidden_states", "attentions"):
            for got_array, expected_array in zip(got[name], expected[name]):
                np.testing.assert_allclose(got_array.numpy(), expected_array.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(got.last_hidden_state.numpy(), expected.last_hidden_state.numpy(), rtol=0, atol=1e-5)
        patterns.add(len(got.attentions))
    assert len(patterns) > 1, patterns
