"""Cross-attention of encoder-style stacks used as decoders (`attention.cross_module`, `config.add_cross_attention`),
for every spec that has it, in every framework, against transformers' PyTorch classes.

The decoder reads encoder states of another length than its own (DECODER_LENGTH vs SEQ) with a padded encoder mask.
Every output field, `cross_attentions` and the cache (self and cross keys/values) included, must be within 1e-5 of the
reference. transformers' NEZHA cross-attention only runs when both lengths are equal (its relative-position table is
square), so with right padding the reference decodes SEQ tokens, of which ours are the first DECODER_LENGTH: a causal
decoder's first positions do not depend on the later ones, so the reference's outputs at those positions are ours. With
left padding they do: a padded row's first queries see only padding, and the softmax of a fully masked row spreads
evenly over every key, the later ones included, so there the reference decodes exactly our DECODER_LENGTH tokens.

The heads that take encoder states are those whose forward has `encoder_hidden_states` (per head in the spec:
transformers' ElectraForMaskedLM, for one, takes none); every other head still holds the cross-attention weights.
"""

import numpy as np
import pytest

from harness import (
    BATCH,
    SEQ,
    alternating_params,
    assert_close,
    cases,
    framework_params,
    make_inputs,
    padding_side,
    project,
    reference_config,
    reference_model,
    run_model,
    run_reference,
)

FRAMEWORKS = ("torch", "tf", "flax")
DECODER_LENGTH = 7


def _arch(case):
    return next(a for a in project().architectures if a.name == case.arch)


def _takes(case, argument: str) -> bool:
    return argument in [a.name for a in _arch(case).head(case.head).args["torch"]]


CROSS_CASES = [c for c in cases() if _arch(c).cross_attention and _takes(c, "encoder_hidden_states")]
# One variant per architecture where a check does not depend on the variant.
FIRST_VARIANT = {}
for _c in CROSS_CASES:
    FIRST_VARIANT.setdefault((_c.arch, _c.head), _c)
CACHED_CASES = [c for c in FIRST_VARIANT.values() if _takes(c, "past_key_values")]


def _cls(case, framework):
    import specformers

    return getattr(specformers, case.class_name(framework))


@pytest.fixture(scope="module")
def cross_checkpoint(tmp_path_factory):
    """`get(case) -> (config, reference model, directory)`: transformers' decoder with cross-attention, saved."""
    saved = {}

    def get(case):
        if case not in saved:
            config = reference_config(case, is_decoder=True, add_cross_attention=True)
            model = reference_model(case, config)
            directory = tmp_path_factory.mktemp(f"cross-{case.id}")
            model.save_pretrained(directory)
            saved[case] = (config, model, str(directory))
        return saved[case]

    return get


def _encoder_inputs(config, seed=1):
    """Encoder states (BATCH, SEQ, hidden) and their mask: row 1 padded after 10 tokens, row 2 after 4."""
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((BATCH, SEQ, config.hidden_size)).astype(np.float32)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    mask[1, 10:] = 0
    mask[2, 4:] = 0
    return {"encoder_hidden_states": states, "encoder_attention_mask": mask}


def _decoder_inputs(case, config):
    """The reference's inputs (SEQ decoder tokens with right padding, ours with left padding) and ours (the first
    DECODER_LENGTH), with the encoder's."""
    if padding_side(case) == "left":
        ours = {**make_inputs(case, config, seq=DECODER_LENGTH), **_encoder_inputs(config)}
        return ours, ours
    full = {**make_inputs(case, config), **_encoder_inputs(config)}
    if "labels" in full:
        full["labels"][:, DECODER_LENGTH:] = -100  # the reference's loss covers exactly our tokens
    ours = {k: (v if k.startswith("encoder_") else v[:, :DECODER_LENGTH]) for k, v in full.items()}
    return full, ours


def _first_positions(reference: dict, n: int) -> dict:
    """The reference's outputs at its first `n` decoder positions (queries, and keys of its self-attention)."""
    out = {}
    for key, value in reference.items():
        parts = key.split(".")
        if parts[0] in ("last_hidden_state", "logits", "prediction_logits", "hidden_states"):
            value = value[:, :n]
        elif parts[0] == "attentions":
            value = value[..., :n, :n]
        elif parts[0] == "cross_attentions":
            value = value[..., :n, :]
        elif parts[0] == "past_key_values" and parts[-1] in ("0", "1"):
            value = value[:, :, :n]  # the self-attention's keys and values; the cross-attention's are the encoder's
        out[key] = value
    return out


# `make test`: every case in PyTorch, in TensorFlow and Flax in turn (`alternating_params`); every case everywhere in
# `make test-all`. So too for the decoder mask and the weights held by the heads below.
@pytest.mark.parametrize("case,framework", alternating_params(CROSS_CASES, lambda c: c.id))
def test_decoder_with_cross_attention_matches_transformers(case, framework, cross_checkpoint):
    config, model, directory = cross_checkpoint(case)
    full, ours_inputs = _decoder_inputs(case, config)
    reference = _first_positions(run_reference(model, full, framework), DECODER_LENGTH)
    ours = run_model(framework, _cls(case, framework).from_pretrained(directory), ours_inputs)
    assert any(k.startswith("cross_attentions.") for k in reference) == (case.head != "masked_lm")
    assert_close(reference, ours, framework)


def _cache_entries(cache) -> list:
    """A cache (ours, or transformers' Cache object) as nested lists of numpy arrays (one entry of 4 tensors per layer)."""
    from harness import to_numpy

    if hasattr(cache, "to_legacy_cache"):
        cache = cache.to_legacy_cache()
    return [[to_numpy(t) for t in layer] for layer in cache]


def _call(framework, model, inputs: dict):
    if framework == "torch":
        import torch

        with torch.no_grad():
            return model(**{k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}, use_cache=True)
    if framework == "tf":
        import tensorflow as tf

        return model(**{k: tf.constant(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}, use_cache=True, training=False)
    import jax.numpy as jnp

    return model(**{k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}, use_cache=True)


# Flax steps eagerly (each new shape compiles its operations): `make test` decodes one head of every fourth
# architecture in Flax (the bare model and the causal-LM head in turn from one such architecture to the next), every
# head in PyTorch and TensorFlow; `make test-all` every head everywhere.
_CACHED_ARCHS = list(dict.fromkeys(c.arch for c in CACHED_CASES))
STEPPED_FLAX = []
for _i, _name in enumerate(_CACHED_ARCHS[::4]):
    _own = [c for c in CACHED_CASES if c.arch == _name]
    STEPPED_FLAX.append(_own[_i % len(_own)])


@pytest.mark.parametrize("case,framework", framework_params(CACHED_CASES, STEPPED_FLAX, lambda c: c.id, sampled=("flax",)))
def test_cached_decoding_with_cross_attention_equals_the_full_pass(case, framework, cross_checkpoint):
    """Three tokens, then one at a time, each step reading the cache (self and cross keys/values) and the encoder
    states: every step's last hidden state (or logits) and the final cache equal one pass over all tokens."""
    from harness import to_numpy

    config, _, directory = cross_checkpoint(case)
    _, inputs = _decoder_inputs(case, config)
    inputs = {k: v for k, v in inputs.items() if k != "labels"}
    model = _cls(case, framework).from_pretrained(directory)
    field = "logits" if case.head == "causal_lm" else "last_hidden_state"
    whole = _call(framework, model, inputs)
    stepped, past = _decode_in_steps(framework, model, inputs, field)
    np.testing.assert_allclose(stepped, to_numpy(whole[field]), atol=1e-5, rtol=0)
    _assert_same_cache(_cache_entries(past), _cache_entries(whole["past_key_values"]))


def _decode_in_steps(framework, model, inputs: dict, field: str):
    """Three tokens, then one at a time, each step given the cache of the last and the encoder states: the steps'
    `field` concatenated along the sequence, and the final cache."""
    from harness import to_numpy

    encoder = {k: inputs[k] for k in ("encoder_hidden_states", "encoder_attention_mask")}
    past, steps, start = None, [], 0
    for stop in [3] + list(range(4, DECODER_LENGTH + 1)):
        step_inputs = dict(
            encoder,
            input_ids=inputs["input_ids"][:, start:stop],
            token_type_ids=inputs["token_type_ids"][:, start:stop],
            attention_mask=inputs["attention_mask"][:, :stop],
        )
        if past is not None:
            step_inputs["past_key_values"] = past
        output = _call(framework, model, step_inputs)
        steps.append(to_numpy(output[field]))
        past, start = output["past_key_values"], stop
    return np.concatenate(steps, axis=1), past


def _assert_same_cache(ours: list, expected: list) -> None:
    assert len(ours) == len(expected)
    for layer, expected_layer in zip(ours, expected):
        assert len(layer) == len(expected_layer) == 4  # self key, self value, cross key, cross value
        for a, b in zip(layer, expected_layer):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


# The causal LMs of the variants after the first (left padding, a padding index other than 0, ...): the first
# variant's cached decoding equals its full pass, which matches transformers (above).
STEPPED_CASES = [c for c in CROSS_CASES if c.head == "causal_lm" and c not in FIRST_VARIANT.values()]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", STEPPED_CASES, ids=lambda c: c.id)
def test_cached_decoding_of_padded_inputs_matches_transformers(case, framework, cross_checkpoint):
    """Step-by-step decoding of padded inputs against transformers' own step-by-step decoding: positions counted from
    `input_ids` past the padding index (RoBERTa) count on from the cache's length at each step, as transformers'
    `past_key_values_length` does, which for a left-padded row is not the position the full pass gives a token."""
    config, reference, directory = cross_checkpoint(case)
    _, inputs = _decoder_inputs(case, config)
    inputs = {k: v for k, v in inputs.items() if k != "labels"}
    expected, expected_past = _decode_in_steps("torch", reference, inputs, "logits")
    stepped, past = _decode_in_steps(framework, _cls(case, framework).from_pretrained(directory), inputs, "logits")
    np.testing.assert_allclose(stepped, expected, atol=1e-5, rtol=0)
    _assert_same_cache(_cache_entries(past), _cache_entries(expected_past))


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", [c for (_, h), c in FIRST_VARIANT.items() if h == "base"], ids=lambda c: c.id)
def test_cross_attention_weights_without_the_flag_name_it(case, framework, cross_checkpoint):
    """transformers' decoder checkpoint (config.json: add_cross_attention=True) into a model built without the flag:
    the `<cross_module>` tensors have no place, and the error says which flag gives them one."""
    from specformers.checkpoint import UnexpectedKeysError

    _, _, directory = cross_checkpoint(case)
    cross = _arch(case).cross_attention
    with pytest.raises(UnexpectedKeysError) as error:
        _cls(case, framework).from_pretrained(directory, add_cross_attention=False)
    message = str(error.value)
    assert f"encoder.layer.{{0,1}}.{cross}.self.query.weight" in message
    assert "exist only when add_cross_attention=True: set it in config.json or pass add_cross_attention=True" in message
    assert "does not implement" not in message


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", [c for (_, h), c in FIRST_VARIANT.items() if h == "base"], ids=lambda c: c.id)
def test_encoder_states_without_cross_attention_are_an_error(case, framework, reference_checkpoint):
    """A model without cross-attention has nothing to read encoder states with: an error, not silently ignored."""
    config, _, directory = reference_checkpoint(case)
    inputs = {k: v for k, v in make_inputs(case, config).items() if k != "labels"}
    inputs.update(_encoder_inputs(config))
    model = _cls(case, framework).from_pretrained(directory)
    with pytest.raises(ValueError, match="build it with is_decoder=True and add_cross_attention=True"):
        run_model(framework, model, inputs)


ENCODER_BASES = {}
for _c in cases():
    if _c.head == "base":
        ENCODER_BASES.setdefault(_c.arch, _c)


@pytest.mark.parametrize("case,framework", alternating_params(list(ENCODER_BASES.values()), lambda c: c.id))
def test_is_decoder_masks_as_the_reference_does(case, framework, reference_checkpoint):
    """`is_decoder=True` without cross-attention: a causal self-attention exactly where transformers' PyTorch class of
    the architecture applies one (every framework alike; ALBERT's reference ignores the flag). A spec that does not
    render its architecture's decoder mode refuses the flag instead: its configuration raises a ValueError that says so."""
    import specformers

    config_class = getattr(specformers, f"{case.prefix}Config")
    try:
        config_class(is_decoder=True)
    except ValueError as error:
        assert "is_decoder=True is not supported" in str(error) and "not rendered" in str(error), error
        with pytest.raises(ValueError, match="is_decoder=True is not supported"):
            _, _, directory = reference_checkpoint(case, is_decoder=True)
            _cls(case, framework).from_pretrained(directory)
        return
    config, model, directory = reference_checkpoint(case, is_decoder=True)
    inputs = make_inputs(case, config)
    assert_close(run_reference(model, inputs, framework), run_model(framework, _cls(case, framework).from_pretrained(directory), inputs), framework)


HEADS_WITHOUT_ENCODER_STATES = [
    c
    for c in cases()
    if _arch(c).cross_attention and not _takes(c, "encoder_hidden_states") and c.variant == FIRST_VARIANT[(c.arch, "base")].variant
]


@pytest.mark.parametrize("case,framework", alternating_params(HEADS_WITHOUT_ENCODER_STATES, lambda c: c.id))
def test_every_head_holds_the_cross_attention_weights(case, framework, cross_checkpoint):
    """A head that takes no encoder states still holds the cross-attention of a config with add_cross_attention (as
    transformers' heads do): the weights of transformers' head of the same class load into it, and it saves them
    again."""
    _, _, directory = cross_checkpoint(case)
    cross = _arch(case).cross_attention
    model, info = _cls(case, framework).from_pretrained(directory, output_loading_info=True)
    assert not [k for k in info["missing_keys"] + info["unexpected_keys"] if f".{cross}." in k]
    names = list(model.pytorch_weight_map().variables) if framework == "tf" else list(model.state_dict())
    assert sum(f".{cross}." in name for name in names) == 20  # 10 tensors per layer, 2 layers
