"""Every framework in float16 and bfloat16 (PyTorch `dtype=`, TensorFlow Keras mixed-precision policies, Flax
`dtype=`): with a fully padded row (an attention-mask row of zeros, so that every key of that row's queries is
masked) and, for encoder-decoder models, a fully padded decoder row too, every output field -- hidden states,
attention probabilities, logits -- is finite and in the compute dtype.

Mask constants are `mask_value(dtype)` (half of `finfo(dtype).min`, see the runtimes): with `finfo.min` itself, or
LongT5's -1e10, float16 scores overflow to -inf and a fully masked row's softmax is NaN.
"""

import os

import numpy as np
import pytest

from generator import support
from harness import LABEL_KEYS, SEQ2SEQ_HEADS, cases, distinct_compositions, flatten, make_inputs, reference_config, reference_model, spec

# The base model of every encoder architecture (its first variant), every causal LM (a causal mask times the padding
# mask) and the generation head of every encoder-decoder variant (local, transient-global, a block longer than the
# input), one architecture per composition.
CASES = {}
_DISTINCT = set(distinct_compositions(list(dict.fromkeys(c.arch for c in cases()))))
for c in cases():
    if c.arch not in _DISTINCT:
        continue  # another spec of the same composition runs the same code
    if c.head in ("base", "causal_lm") and (c.arch, c.head) not in CASES:
        CASES[(c.arch, c.head)] = c
    elif c.head == "conditional_generation":
        CASES[(c.arch, c.variant)] = c
CASES = list(CASES.values())
# float32 is test_parity.py's `test_parity_with_fully_padded_rows`: the same cases, compared with the reference.
# float16, whose range the mask constants must fit, runs every case; bfloat16 (float32's range) the first case of each
# stack kind: that the compute dtype reaches every output (the runtime casts, per stack kind's templates).
FIRST = {}
for c in CASES:
    _arch = spec(c.arch)
    FIRST.setdefault(support.rule_kind(_arch.spec, _arch.stack), c)
DTYPE_CASES = [pytest.param(c, "float16", id=f"{c.id}-float16") for c in CASES] + [
    pytest.param(c, "bfloat16", id=f"{c.id}-bfloat16") for c in FIRST.values()
]
# Flax in float16 (eager Flax compiles every operation per dtype: seconds a case): the first case of each mask
# construction -- stack kind, head, decoder mask kind and, where the configuration selects the attention, each
# variant; PyTorch and TensorFlow run every case, and so does Flax in `make test-all` (SPECFORMERS_TEST_ALL=1).
_MASKS = {}
for c in CASES:
    _arch = spec(c.arch)
    _decoder = _arch.spec.decoder
    _key = (support.rule_kind(_arch.spec, _arch.stack), c.head, _decoder.mask if _decoder else None,
            c.variant if _arch.spec.attention.select is not None else None)
    _MASKS.setdefault(_key, c)
# bfloat16 in Flax: the first stack kind's case (`make test-all`: each stack kind's).
FLAX_DTYPE_CASES = [
    p for p in DTYPE_CASES
    if (p.values[1] == "float16" and p.values[0] in _MASKS.values()) or (p.values[1] == "bfloat16" and p.values[0] == next(iter(FIRST.values())))
]
# TensorFlow in `make test`: the Flax cases and every other case beside them (`make test-all`: every case).
TF_DTYPE_CASES = [p for i, p in enumerate(DTYPE_CASES) if i % 2 == 0 or p in FLAX_DTYPE_CASES]
if os.environ.get("SPECFORMERS_TEST_ALL") == "1":
    FLAX_DTYPE_CASES = TF_DTYPE_CASES = DTYPE_CASES


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    saved = {}

    def get(case):
        if case not in saved:
            config = reference_config(case)
            directory = tmp_path_factory.mktemp(case.id)
            reference_model(case, config).save_pretrained(directory)
            saved[case] = (config, str(directory))
        return saved[case]

    return get


def padded_inputs(case, config) -> dict:
    """The harness inputs without labels, row 0 entirely padding (and decoder row 1, for encoder-decoder models)."""
    inputs = {k: v for k, v in make_inputs(case, config).items() if k not in LABEL_KEYS}
    inputs["attention_mask"][0] = 0
    if case.head in SEQ2SEQ_HEADS:
        decoder_mask = np.ones_like(inputs["decoder_input_ids"])
        decoder_mask[1] = 0
        inputs["decoder_attention_mask"] = decoder_mask
    return inputs


def assert_finite(outputs: dict, dtype: str) -> None:
    assert outputs, "no output"
    for name, value in outputs.items():
        if np.issubdtype(value.dtype, np.floating):
            assert np.isfinite(value).all(), f"{dtype}: {name} has {np.sum(~np.isfinite(value))} non-finite entries"


@pytest.mark.parametrize("case,dtype", DTYPE_CASES)
def test_torch_fully_padded_rows_are_finite(case, dtype, checkpoint):
    import torch

    import specformers

    config, directory = checkpoint(case)
    model = getattr(specformers, case.class_name("torch")).from_pretrained(directory, dtype=getattr(torch, dtype))
    feed = {k: torch.from_numpy(v) for k, v in padded_inputs(case, config).items()}
    with torch.no_grad():
        out = model(**feed, output_attentions=True, output_hidden_states=True)
        fused = model(**feed)  # without the probabilities: the fused scaled_dot_product_attention path
    # The first output that is not a loss (a mixture of experts' auxiliary loss is float32, as transformers').
    assert next(v for k, v in out.items() if not k.endswith("loss")).dtype == getattr(torch, dtype)
    assert_finite({k: v.astype(np.float32) for k, v in flatten(out).items()}, dtype)
    assert_finite({k: v.astype(np.float32) for k, v in flatten(fused).items()}, dtype)


@pytest.mark.parametrize("case,dtype", TF_DTYPE_CASES)
def test_tf_fully_padded_rows_are_finite(case, dtype, checkpoint):
    import keras
    import tensorflow as tf

    import specformers

    config, directory = checkpoint(case)
    policy = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[dtype]
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = getattr(specformers, case.class_name("tf")).from_pretrained(directory)
        feed = {k: tf.constant(v) for k, v in padded_inputs(case, config).items()}
        out = model(**feed, output_attentions=True, output_hidden_states=True, training=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    # The first output that is not a loss (a mixture of experts' auxiliary loss is float32, as transformers').
    assert next(v for k, v in out.items() if not k.endswith("loss")).dtype == getattr(tf, dtype)
    assert_finite({k: v.astype(np.float32) for k, v in flatten(out).items()}, dtype)


@pytest.mark.parametrize("case,dtype", FLAX_DTYPE_CASES)
def test_flax_fully_padded_rows_are_finite(case, dtype, checkpoint):
    import jax.numpy as jnp

    import specformers

    config, directory = checkpoint(case)
    model = getattr(specformers, case.class_name("flax")).from_pretrained(directory, dtype=getattr(jnp, dtype))
    feed = {k: jnp.asarray(v) for k, v in padded_inputs(case, config).items()}
    out = model(**feed, output_attentions=True, output_hidden_states=True)
    # The first output that is not a loss (a mixture of experts' auxiliary loss is float32, as transformers').
    assert next(v for k, v in out.items() if not k.endswith("loss")).dtype == getattr(jnp, dtype)
    assert_finite({k: np.asarray(v, dtype=np.float32) for k, v in flatten(out).items()}, dtype)
