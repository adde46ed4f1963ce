"""Behaviour of the generated encoder-decoder models of the names layout beyond output parity: the decoder cache
(self- and cross-attention; in TensorFlow also preallocated, in Flax preallocated under `jax.jit` and growing),
labels shifted into the decoder inputs, `generate()` (greedy and beam search, the forced end-of-sequence token;
TensorFlow's also under `jit_compile`, Flax's inside a user's `jax.jit`) against transformers' token ids, the
end-of-sequence pooling of sequence classification, explicit position ids (TensorFlow's against transformers'
TensorFlow models, Flax's against its Flax models where they compute what its PyTorch models do) and LayerDrop
(TensorFlow and Flax)."""

import functools
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from harness import (
    separate_vocabularies,
    in_turn,
    ATOL,
    SEQ2SEQ_ARCHS,
    ROOT,
    SMALL_CONFIGS,
    TEST_ALL,
    assert_close,
    cases,
    config_kwargs,
    flatten,
    make_inputs,
    pick_eos,
    project,
    reference_config,
    reference_model,
    run_reference,
    shift_labels,
)

pytestmark = pytest.mark.skipif(not SEQ2SEQ_ARCHS, reason="no encoder-decoder spec")
CASES = [c for c in cases() if c.arch in SEQ2SEQ_ARCHS]
ARCH_VARIANTS = [(arch, variant) for arch in SEQ2SEQ_ARCHS for variant in SMALL_CONFIGS[arch]]


def _spec(arch: str):
    return next(a for a in project().architectures if a.name == arch)


def _head_width(arch: str, config, heads: int) -> int:
    """A head's width: the configured one (`attention.head_dim`), else hidden_size / heads."""
    field = _spec(arch).attention.head_dim
    return getattr(config, field) if field else config.hidden_size // heads


def _case(arch: str, head: str, variant: str):
    return next(c for c in CASES if c.arch == arch and c.head == head and c.variant == variant)


def _tensors(inputs: dict) -> dict:
    return {k: torch.from_numpy(v) for k, v in inputs.items()}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A saved transformers reference model (random, non-trivial weights) per case: (config, reference, directory)."""
    saved = {}

    def get(case, **overrides):
        key = (case, tuple(sorted(overrides.items())))
        if key not in saved:
            config = reference_config(case, **overrides)
            model = reference_model(case, config)
            directory = tmp_path_factory.mktemp(case.id)
            model.save_pretrained(directory)
            saved[key] = (config, model, str(directory))
        return saved[key]

    return get


def _generate(reference, *args, **kwargs):
    """transformers' generate(). Its beam search reshapes the scores by `config.vocab_size`, which with separate
    encoder and decoder vocabularies is not the LM head's width (the decoder's vocabulary): the reference is given
    that width meanwhile (the same value otherwise)."""
    config = reference.config
    saved, config.vocab_size = config.vocab_size, reference.get_output_embeddings().weight.shape[0]
    try:
        return reference.generate(*args, **kwargs)
    finally:
        config.vocab_size = saved


def _ours(case, directory):
    import specformers

    return getattr(specformers, case.class_name("torch")).from_pretrained(directory)


def _tf_ours(case, directory):
    import specformers

    return getattr(specformers, case.class_name("tf")).from_pretrained(directory)


@pytest.mark.parametrize("arch,variant", ARCH_VARIANTS)
def test_cached_decoding_matches_the_full_decoder_pass(arch, variant, checkpoint):
    """A prompt of 2 tokens, then one token at a time with the cache: the logits of the full pass; the cross-attention
    keys and values are computed once and passed on as they are."""
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    decoder_input_ids = inputs["decoder_input_ids"]
    target = decoder_input_ids.shape[1]
    with torch.no_grad():
        full = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                     decoder_input_ids=decoder_input_ids, use_cache=True)
        encoder_outputs = (full.encoder_last_hidden_state,)
        out = model(attention_mask=inputs["attention_mask"], encoder_outputs=encoder_outputs,
                    decoder_input_ids=decoder_input_ids[:, :2], use_cache=True)
        steps, past = [out.logits], out.past_key_values
        first_cross = [(layer[2], layer[3]) for layer in past]
        for t in range(2, target):
            out = model(attention_mask=inputs["attention_mask"], encoder_outputs=encoder_outputs,
                        decoder_input_ids=decoder_input_ids[:, t : t + 1], past_key_values=past, use_cache=True)
            steps.append(out.logits)
            past = out.past_key_values
            assert all(layer[2] is k and layer[3] is v for layer, (k, v) in zip(past, first_cross))
    stepped = torch.cat(steps, dim=1)
    assert torch.allclose(stepped, full.logits, atol=ATOL, rtol=0)
    spec = _spec(arch)
    heads = getattr(config, spec.decoder.heads)
    assert len(past) == getattr(config, spec.decoder.layers)
    for layer, full_layer in zip(past, full.past_key_values):
        assert len(layer) == 4
        assert layer[0].shape == (3, heads, target, _head_width(arch, config, heads))
        assert layer[2].shape[2] == inputs["input_ids"].shape[1]
        for ours, theirs in zip(layer, full_layer):
            assert torch.allclose(ours, theirs, atol=ATOL, rtol=0)


@pytest.mark.parametrize("arch,variant", ARCH_VARIANTS)
def test_labels_are_shifted_into_decoder_inputs(arch, variant, checkpoint):
    """Labels alone (no decoder inputs): shifted right after the start token, -100 -> pad; the outputs and the loss
    of transformers."""
    case = _case(arch, "conditional_generation", variant)
    config, reference, directory = checkpoint(case)
    inputs = make_inputs(case, config)
    del inputs["decoder_input_ids"]
    labels = inputs["labels"]
    assert (labels == -100).any()
    model = _ours(case, directory)
    shifted = model.prepare_decoder_input_ids_from_labels(torch.from_numpy(labels)).numpy()
    # After the start token (or each row's last non-pad token, `decoder.shift: last_non_pad`).
    assert np.array_equal(shifted, shift_labels(case, config, labels))
    assert np.array_equal(shifted[:, 1:], np.where(labels[:, :-1] == -100, config.pad_token_id, labels[:, :-1]))
    with torch.no_grad():
        got = flatten(model(**_tensors(inputs), output_hidden_states=True, output_attentions=True))
    assert_close(run_reference(reference, inputs), got, "torch")


LAST_NON_PAD_ARCHS = [arch for arch in SEQ2SEQ_ARCHS if _spec(arch).decoder.shift == "last_non_pad"]


@pytest.mark.parametrize("arch", LAST_NON_PAD_ARCHS)
def test_shift_after_the_last_non_pad_token(arch):
    """`decoder.shift: last_non_pad`: each framework's `shift_tokens_right` equals transformers' (each row's last
    non-pad token first, -100 -> pad, padded rows of several lengths); a row of padding only, which has no such
    token, is an error naming the rows (eagerly) in every framework."""
    import importlib

    import tensorflow as tf

    pad = 1
    labels = np.array([[5, 6, 7, 250], [8, 9, 251, -100], [10, 252, pad, pad]])
    expected = importlib.import_module(f"transformers.models.{arch}.modeling_{arch}").shift_tokens_right(
        torch.from_numpy(labels), pad
    ).numpy()
    assert expected[:, 0].tolist() == [250, 251, 252]
    modules = {fw: importlib.import_module(f"specformers.models.{arch}.modeling{fw}_{arch}") for fw in ("", "_tf", "_flax")}
    shifts = {
        "torch": lambda ids: modules[""].shift_tokens_right(torch.from_numpy(ids), pad).numpy(),
        "tf": lambda ids: modules["_tf"].shift_tokens_right(tf.constant(ids), pad).numpy(),
        "flax": lambda ids: np.asarray(modules["_flax"].shift_tokens_right(ids, pad)),
    }
    for framework, shift in shifts.items():
        assert np.array_equal(shift(labels), expected), framework
        with pytest.raises(ValueError, match="only padding"):
            shift(np.array([[5, 6, 7], [pad, pad, pad]]))


def test_sequence_classification_needs_equal_end_of_sequence_counts(checkpoint):
    arch = SEQ2SEQ_ARCHS[0]
    case = _case(arch, "sequence_classification", next(iter(SMALL_CONFIGS[arch])))
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    inputs["input_ids"][0, 1] = config.eos_token_id  # row 0 now has one more than the others
    with pytest.raises(ValueError, match="the same number in every row"):
        model(**inputs)


# ----------------------------------------------------------------------------------------------------------------------
# generate() against transformers


def _generation_pair(arch, variant, checkpoint, framework="torch"):
    case = _case(arch, "conditional_generation", variant)
    spec = _spec(arch)
    # transformers' generate() sizes its cache by the encoder's layer count: keep the decoder as deep.
    depth = SMALL_CONFIGS[arch][variant][spec.attribute_map.get("num_hidden_layers", "num_hidden_layers")]
    config, reference, directory = checkpoint(case, **{spec.decoder.layers: depth})
    inputs = make_inputs(case, config)
    prompt = torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"])
    return config, reference, (_ours if framework == "torch" else _tf_ours)(case, directory), prompt


@pytest.mark.parametrize("arch,variant", ARCH_VARIANTS)
def test_greedy_generate_matches_transformers(arch, variant, checkpoint):
    config, reference, model, (input_ids, attention_mask) = _generation_pair(arch, variant, checkpoint)
    greedy = _generate(reference, input_ids, attention_mask=attention_mask, max_new_tokens=6, do_sample=False,
                       eos_token_id=None, forced_eos_token_id=None)
    eos = pick_eos(greedy[:, 1:].numpy())
    settings = [
        # The configuration's forced end-of-sequence token ends every row that reaches the length limit.
        dict(max_new_tokens=8),
        dict(max_new_tokens=8, eos_token_id=eos),
        dict(max_length=6, eos_token_id=[eos, config.eos_token_id]),
    ]
    for kwargs in settings:
        expected = _generate(reference, input_ids, attention_mask=attention_mask, do_sample=False, **kwargs)
        got = model.generate(input_ids, attention_mask=attention_mask, **kwargs)
        assert torch.equal(got, expected), (kwargs, got, expected)
    # Finished rows are padded (compared above): where the rows decode differently (the small random BART-family
    # models decode every row alike), the eos setting ends some row before the others, so that padding is exercised.
    if len({tuple(row) for row in greedy.tolist()}) > 1:
        got = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=8, eos_token_id=eos)
        assert (got == config.pad_token_id)[:, 1:].any(), got
    assert torch.equal(model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=8, use_cache=False),
                       _generate(reference, input_ids, attention_mask=attention_mask, max_new_tokens=8, do_sample=False))


@pytest.mark.parametrize("arch,variant", ARCH_VARIANTS)
def test_beam_search_matches_transformers(arch, variant, checkpoint):
    config, reference, model, (input_ids, attention_mask) = _generation_pair(arch, variant, checkpoint)
    for kwargs in (
        dict(num_beams=4, length_penalty=0.6, max_new_tokens=7, early_stopping=True),
        dict(num_beams=4, max_new_tokens=7, num_return_sequences=2, early_stopping="never"),
    ):
        expected = _generate(reference, input_ids, attention_mask=attention_mask, do_sample=False, **kwargs)
        got = model.generate(input_ids, attention_mask=attention_mask, **kwargs)
        assert torch.equal(got, expected), (kwargs, got, expected)


# ----------------------------------------------------------------------------------------------------------------------
# TensorFlow: the cache and generate() (eagerly and under jit_compile) against transformers' PyTorch token ids


def _positions(arch: str) -> str:
    """A spec's kind of positions: absolute (learned or sinusoid tables) or a relative bias (`position.kind`)."""
    position = _spec(arch).spec.position
    return position.kind if position is not None else "absolute"


# `make test`: TensorFlow steps through the cached loop of each architecture in its last variant, and generates with
# every other architecture, in its first variant, and with the first of each kind of positions that sample misses
# (test_parity.py runs every variant's outputs in TensorFlow; PyTorch decodes every variant; generate() drives the
# cache the loop checks); `make test-all`: every variant in both.
TF_STEPPED = ARCH_VARIANTS if TEST_ALL else list({arch: (arch, variant) for arch, variant in ARCH_VARIANTS}.values())
_TF_FIRST = list({arch: (arch, variant) for arch, variant in reversed(ARCH_VARIANTS)}.values())[::-1]
_TF_SAMPLE = _TF_FIRST[::2]
_TF_KINDS = {}
for _arch, _variant in _TF_FIRST:
    _TF_KINDS.setdefault(_positions(_arch), (_arch, _variant))
TF_GENERATED = ARCH_VARIANTS if TEST_ALL else _TF_SAMPLE + [
    first for kind, first in _TF_KINDS.items() if kind not in {_positions(arch) for arch, _ in _TF_SAMPLE}
]


@pytest.mark.parametrize("arch,variant", TF_STEPPED)
def test_tf_cached_decoding_matches_the_full_decoder_pass(arch, variant, checkpoint):
    """TensorFlow: a prompt of 2 tokens, then one token at a time with the cache (appended to); then the same on a
    cache preallocated for the whole length and written in place (`cache_index`, as generate() decodes): the logits
    and the cache of the full pass."""
    import tensorflow as tf

    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _tf_ours(case, directory)
    inputs = {k: tf.constant(v) for k, v in make_inputs(case, config).items() if k != "labels"}
    mask, decoder_input_ids = inputs["attention_mask"], inputs["decoder_input_ids"]
    target = decoder_input_ids.shape[1]
    full = model(input_ids=inputs["input_ids"], attention_mask=mask, decoder_input_ids=decoder_input_ids,
                 use_cache=True, training=False)
    encoder_outputs = (full.encoder_last_hidden_state,)
    out = model(attention_mask=mask, encoder_outputs=encoder_outputs, decoder_input_ids=decoder_input_ids[:, :2],
                use_cache=True, training=False)
    steps, past = [out.logits], out.past_key_values
    for t in range(2, target):
        out = model(attention_mask=mask, encoder_outputs=encoder_outputs, decoder_input_ids=decoder_input_ids[:, t : t + 1],
                    past_key_values=past, use_cache=True, training=False)
        steps.append(out.logits)
        past = out.past_key_values
    np.testing.assert_allclose(tf.concat(steps, axis=1).numpy(), full.logits.numpy(), atol=ATOL, rtol=0)
    spec = _spec(arch)
    heads = getattr(config, spec.decoder.heads)
    assert len(past) == getattr(config, spec.decoder.layers)
    for layer, full_layer in zip(past, full.past_key_values):
        assert len(layer) == 4 and layer[0].shape == (3, heads, target, _head_width(arch, config, heads))
        for ours, theirs in zip(layer, full_layer):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=ATOL, rtol=0)

    # The preallocated cache: two positions more than decoded (never attended to), the logits of the full pass.
    cache = model.init_decoder_cache(full.encoder_last_hidden_state, target + 2)
    logits = []
    for t in range(target):
        step, cache = model.decode_step(decoder_input_ids[:, t : t + 1], full.encoder_last_hidden_state, mask, cache,
                                        tf.constant(t))
        logits.append(step)
    np.testing.assert_allclose(tf.stack(logits, axis=1).numpy(), full.logits.numpy(), atol=ATOL, rtol=0)


@pytest.mark.parametrize("arch,variant", TF_GENERATED)
def test_tf_generate_matches_transformers(arch, variant, checkpoint):
    """TensorFlow generate(), greedy and beam search (num_beams=4): transformers' PyTorch token ids, eagerly; on the
    first architecture's first variant, the first greedy and beam settings under `tf.function(jit_compile=True)` too
    (max_length columns, the rest padding; each compilation costs seconds)."""
    import tensorflow as tf

    config, reference, model, (input_ids, attention_mask) = _generation_pair(arch, variant, checkpoint, "tf")
    greedy = _generate(reference, input_ids, attention_mask=attention_mask, max_new_tokens=6, do_sample=False,
                       eos_token_id=None, forced_eos_token_id=None)
    eos = pick_eos(greedy[:, 1:].numpy())
    settings = [
        # The configuration's forced end-of-sequence token ends every row that reaches the length limit.
        (dict(max_new_tokens=8), True),
        (dict(max_new_tokens=8, eos_token_id=eos), False),
        (dict(max_length=6, eos_token_id=[eos, config.eos_token_id]), False),
        (dict(num_beams=4, length_penalty=0.6, max_new_tokens=7, early_stopping=True), True),
        (dict(num_beams=4, max_new_tokens=7, num_return_sequences=2, early_stopping="never"), False),
    ]
    ids, mask = input_ids.numpy(), attention_mask.numpy()
    for kwargs, xla in settings:
        expected = _generate(reference, input_ids, attention_mask=attention_mask, do_sample=False, **kwargs).numpy()
        got = model.generate(ids, attention_mask=mask, **kwargs).numpy()
        np.testing.assert_array_equal(got, expected, err_msg=str(kwargs))
        if xla and (arch, variant) == ARCH_VARIANTS[0]:
            # The compiled search loop is the stack kind's template code: compiled once, for the first architecture.
            run = tf.function(lambda i, m: model.generate(i, attention_mask=m, **kwargs), jit_compile=True)
            fixed = run(tf.constant(ids), tf.constant(mask)).numpy()
            np.testing.assert_array_equal(fixed[:, : expected.shape[1]], expected, err_msg=f"jit_compile {kwargs}")


def _default_positions(arch: str, config, ids) -> np.ndarray:
    """The positions a stack takes without `position_ids`: counted past the padding index from the ids where the spec
    says so (`embeddings.position_padding_idx`: pads keep it), else 0, 1, ... in every row."""
    ids = np.asarray(ids)
    pad = _spec(arch).embeddings.position_padding_idx
    if pad is None:
        return np.broadcast_to(np.arange(ids.shape[1]), ids.shape)
    padding_idx = getattr(config, pad)
    not_pad = (ids != padding_idx).astype(ids.dtype)
    return np.cumsum(not_pad, axis=1) * not_pad + padding_idx


def _random_positions(config, shape, seed) -> np.ndarray:
    """Random positions of `shape` anywhere in the table, the first and the last one included."""
    positions = np.random.default_rng(seed).integers(0, config.max_position_embeddings, size=shape)
    positions[0, :2] = (0, config.max_position_embeddings - 1)
    return positions


def _assert_near(got, expected, what: str) -> None:
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    diff = float(np.max(np.abs(got - expected)))
    assert got.shape == expected.shape and diff <= ATOL, (what, got.shape, expected.shape, diff)


# transformers' TensorFlow models on a checkpoint, in a legacy-Keras subprocess (they cannot share this process with
# Keras 3): stdin holds `class name, checkpoint directory, inputs .npz, output .npz` lines; each output file gets the
# logits of the model on its inputs.
_UPSTREAM_TF_SCRIPT = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import transformers
for line in sys.stdin.read().splitlines():
    class_name, directory, inputs_path, output_path = line.split("\\t")
    if not hasattr(transformers, class_name):
        continue  # transformers has no TensorFlow class of this head for the architecture
    model = getattr(transformers, class_name).from_pretrained(directory, from_pt=True)
    np.savez(output_path, logits=model(**dict(np.load(inputs_path)), training=False).logits.numpy())
"""


def _upstream_tf_logits(jobs: list, tmp_path) -> list:
    """The logits of transformers' TensorFlow class `class_name` loaded from `directory` on `inputs`, for each job
    `(class_name, directory, inputs)`, all in one subprocess; None where transformers has no such class (mBART has
    TensorFlow classes of its base model and conditional generation only)."""
    lines, outputs = [], []
    for i, (class_name, directory, inputs) in enumerate(jobs):
        inputs_path, output_path = tmp_path / f"inputs{i}.npz", tmp_path / f"logits{i}.npz"
        np.savez(inputs_path, **inputs)
        lines.append(f"{class_name}\t{directory}\t{inputs_path}\t{output_path}")
        outputs.append(output_path)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_BACKEND", None)
    subprocess.run([sys.executable, "-c", _UPSTREAM_TF_SCRIPT], input="\n".join(lines), text=True, check=True, env=env,
                   cwd=ROOT, capture_output=True)
    return [np.load(path)["logits"] if path.exists() else None for path in outputs]


# The first architecture of each position table kind (learned, or fixed sinusoids by their layout and flag): the
# positions are read from that table; the rest of the decoder is the cached-decoding tests'.
POSITION_KIND_ARCHS = list({
    (_spec(arch).embeddings.sinusoidal, _spec(arch).embeddings.sinusoidal_layout): arch for arch in reversed(SEQ2SEQ_ARCHS)
}.values())[::-1]


# (Each runs transformers' TensorFlow classes in a child process, seconds apiece: `make test` checks the position kinds
# in turn, one per run; `make test-all` every kind.)
@pytest.mark.parametrize("arch,variant", [(arch, list(SMALL_CONFIGS[arch])[-1]) for arch in in_turn(POSITION_KIND_ARCHS, 1)])
def test_tf_decoder_position_ids_match_transformers_tf(arch, variant, checkpoint, tmp_path):
    """TensorFlow `decoder_position_ids` (positionally after `decoder_attention_mask`, as transformers' TensorFlow
    models take them; its PyTorch models take none): the default positions given explicitly change nothing; random
    positions anywhere in the table change the logits, as they change transformers' TensorFlow logits (conditional
    generation and sequence classification, where transformers has those TensorFlow classes); decoding a prompt of 2 tokens and then one token at a time with those
    positions, on the appended cache and on the preallocated one (`cache_index`, under `tf.function`), gives the
    logits of the full pass."""
    import tensorflow as tf

    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _tf_ours(case, directory)
    inputs = {k: v for k, v in make_inputs(case, config).items() if k != "labels"}
    ids, mask, decoder_ids = (tf.constant(inputs[k]) for k in ("input_ids", "attention_mask", "decoder_input_ids"))
    batch, target = decoder_ids.shape
    default = model(ids, mask, decoder_ids, training=False).logits.numpy()
    default_positions = tf.constant(_default_positions(arch, config, inputs["decoder_input_ids"]), tf.int32)
    explicit = model(ids, mask, decoder_ids, None, default_positions, training=False).logits.numpy()
    assert np.array_equal(explicit, default)

    positions = _random_positions(config, (batch, target), 2)
    full = model(ids, mask, decoder_ids, decoder_position_ids=tf.constant(positions), training=False).logits.numpy()
    assert np.max(np.abs(full - default)) > 1e-3  # the positions matter
    # transformers' TensorFlow models where it has them (the upstream script skips the classes it lacks).
    jobs = [(case.class_name("tf"), directory, {**inputs, "decoder_position_ids": positions})]
    # The sequence classification head, where the spec has one (Marian's has none).
    classification = next((c for c in CASES if c.arch == arch and c.head == "sequence_classification" and c.variant == variant), None)
    if classification is not None:
        classification_config, _, classification_directory = checkpoint(classification)
        classification_inputs = make_inputs(classification, classification_config)
        classification_inputs.pop("labels", None)
        classification_positions = _random_positions(classification_config, classification_inputs["input_ids"].shape, 3)
        jobs.append((classification.class_name("tf"), classification_directory,
                     {**classification_inputs, "decoder_position_ids": classification_positions}))
    # transformers' TensorFlow port has no separate encoder and decoder vocabularies.
    upstream = not separate_vocabularies(case, config)
    expected, expected_classification = ((_upstream_tf_logits(jobs, tmp_path) if upstream else []) + [None, None])[:2]
    if expected is not None:
        _assert_near(full, expected, "conditional generation")
    if expected_classification is not None:
        classifier = _tf_ours(classification, classification_directory)
        got = classifier(**{k: tf.constant(v) for k, v in classification_inputs.items()},
                         decoder_position_ids=tf.constant(classification_positions), training=False).logits
        _assert_near(got, expected_classification, "sequence classification")

    # The cache: appended to eagerly, then preallocated and written in place under tf.function.
    encoder_outputs = (model(ids, mask, decoder_ids, training=False).encoder_last_hidden_state,)
    steps, past = [], None
    for start, end in [(0, 2)] + [(t, t + 1) for t in range(2, target)]:
        out = model(attention_mask=mask, encoder_outputs=encoder_outputs, decoder_input_ids=decoder_ids[:, start:end],
                    decoder_position_ids=tf.constant(positions[:, start:end]), past_key_values=past, use_cache=True,
                    training=False)
        steps.append(out.logits)
        past = out.past_key_values
    _assert_near(tf.concat(steps, axis=1), full, "appended cache")

    decoder = model.get_decoder()

    @tf.function
    def step(tokens, step_positions, cache, index):
        out = decoder(input_ids=tokens, position_ids=step_positions, encoder_hidden_states=encoder_outputs[0],
                      encoder_attention_mask=mask, past_key_values=cache, cache_index=index, use_cache=True)
        return model.lm_logits(out.last_hidden_state), out.past_key_values

    cache = model.init_decoder_cache(encoder_outputs[0], target)
    steps = []
    for t in range(target):
        logits, cache = step(decoder_ids[:, t : t + 1], tf.constant(positions[:, t : t + 1]), cache, tf.constant(t))
        steps.append(logits)
    _assert_near(tf.concat(steps, axis=1), full, "preallocated cache")


# ----------------------------------------------------------------------------------------------------------------------
# LayerDrop (TensorFlow and Flax): a skipped block computes nothing; the draw is part of a traced training step


LAYERDROP_ARCHS = [a.name for a in project().architectures if a.name in SEQ2SEQ_ARCHS and a.spec.layerdrop]
# The skip is the stack kind's template code: `make test` checks it for the first architecture, `make test-all` for all.
if not TEST_ALL:
    LAYERDROP_ARCHS = LAYERDROP_ARCHS[:1]


def _layerdrop_config(arch: str, rate: float):
    """A small configuration (the architecture's first test variant) without dropout, with LayerDrop `rate` in both
    stacks."""
    import specformers

    spec = _spec(arch)
    rates = {spec.spec.layerdrop.encoder: rate, spec.spec.layerdrop.decoder: rate}
    ffn = spec.feed_forward
    dropouts = [spec.embeddings.dropout, spec.attention.dropout, ffn.dropout, ffn.activation_dropout]
    fields = {**next(iter(SMALL_CONFIGS[arch].values())), **rates, **{name: 0.0 for name in dropouts if name}}
    return getattr(specformers, spec.config_class)(**fields)


def _final_norm_trim(arch: str) -> int:
    """How many blocks' outputs each stack's hidden states show after the normalised embeddings: all, or (pre-norm
    stacks ending with a final norm) all but the last, whose output is seen only through that norm."""
    return -1 if _spec(arch).names.final_norm else 0


def _skipped_blocks(outputs, arch: str) -> tuple:
    """Which blocks of both stacks left their input unchanged (were skipped), from the hidden states (the blocks
    whose outputs they show)."""
    stacks = (outputs.encoder_hidden_states, outputs.decoder_hidden_states)
    return tuple(bool(np.array_equal(states[i], states[i + 1])) for states in stacks
                 for i in range(len(states) - 1 + _final_norm_trim(arch)))


def _check_all_skipped(trained, evaluated, arch: str) -> None:
    """LayerDrop 1: every block skipped. Each stack's output (before a final norm) is its normalised embeddings (the
    evaluation's first hidden states), every attention probability is zero, and the first decoder block's
    self-attention cache is the evaluation's (the keys and values of the same input)."""
    for states, first in ((trained.encoder_hidden_states, evaluated.encoder_hidden_states[0]),
                          (trained.decoder_hidden_states, evaluated.decoder_hidden_states[0])):
        for state in states[: len(states) + _final_norm_trim(arch)]:
            assert np.array_equal(state, first)
    for name in ("encoder_attentions", "decoder_attentions", "cross_attentions"):
        assert len(trained[name]) == len(evaluated[name]), name
        for got, expected in zip(trained[name], evaluated[name]):
            assert got.shape == expected.shape and not np.any(np.asarray(got)), name
    assert len(trained.past_key_values) == len(evaluated.past_key_values)
    pre_norm = _spec(arch).spec.norm.placement == "pre"
    for got, expected in zip(trained.past_key_values[0][:2], evaluated.past_key_values[0][:2]):
        if pre_norm:
            # A norm before the projections may round differently in the branch that skips the block (XLA compiles
            # the two branches of `cond` apart).
            np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=0, atol=ATOL)
        else:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


@pytest.mark.parametrize("arch", LAYERDROP_ARCHS)
def test_tf_layerdrop_skips_without_computing(arch, monkeypatch):
    """TensorFlow LayerDrop in training: at rate 1 no block runs (`tf.cond`; the blocks' `call` is never entered) and
    each stack returns its normalised embeddings; at rate 0 training equals evaluation (no dropout); a training step
    under `tf.function` draws anew at every run (rate 0.5: the skipped blocks differ between runs)."""
    import specformers
    import tensorflow as tf

    ids = np.array([[5, 6, 7, 2], [8, 9, 10, 2]])
    decoder_ids = np.array([[2, 5, 6], [2, 8, 9]])
    flags = dict(output_hidden_states=True, output_attentions=True, use_cache=True)
    case = _case(arch, "conditional_generation", next(iter(SMALL_CONFIGS[arch])))
    model_class = getattr(specformers, case.class_name("tf"))
    model = model_class(_layerdrop_config(arch, 1.0))
    evaluated = model(ids, decoder_input_ids=decoder_ids, training=False, **flags)
    blocks = model.get_encoder().layers + model.get_decoder().layers
    calls = []

    def counted(call):
        @functools.wraps(call)  # Keras reads the signature of `call`
        def wrapper(self, *args, **kwargs):
            calls.append(self)
            return call(self, *args, **kwargs)

        return wrapper

    for block_class in {type(block) for block in blocks}:
        monkeypatch.setattr(block_class, "call", counted(block_class.call))
    trained = model(ids, decoder_input_ids=decoder_ids, training=True, **flags)
    assert calls == []
    _check_all_skipped(trained, evaluated, arch)

    model = model_class(_layerdrop_config(arch, 0.0))
    evaluated = model(ids, decoder_input_ids=decoder_ids, training=False, **flags)
    calls.clear()
    trained = model(ids, decoder_input_ids=decoder_ids, training=True, **flags)
    assert len(calls) == len(blocks)
    np.testing.assert_array_equal(trained.logits.numpy(), evaluated.logits.numpy())

    model = model_class(_layerdrop_config(arch, 0.5))
    step = tf.function(lambda: model(ids, decoder_input_ids=decoder_ids, output_hidden_states=True, training=True))
    tf.random.set_seed(0)
    patterns = {_skipped_blocks(step(), arch) for _ in range(6)}
    assert len(patterns) > 1, patterns


@pytest.mark.parametrize("arch", LAYERDROP_ARCHS)
def test_flax_layerdrop_skips_without_computing(arch):
    """Flax LayerDrop in training: the forward pass holds one `cond` per block (one branch runs, also under
    `jax.jit`); at rate 1 each stack returns its normalised embeddings; at rate 0 training equals evaluation (no
    dropout); a jitted training step draws anew with every `dropout_rng` (rate 0.5: the skipped blocks differ).
    Random parameters of the models' shapes (initialising them costs seconds); everything runs under one `jax.jit`
    (eagerly, each operation compiles)."""
    jax = pytest.importorskip("jax")
    import specformers

    ids = np.array([[5, 6, 7, 2], [8, 9, 10, 2]])
    decoder_ids = np.array([[2, 5, 6], [2, 8, 9]])
    case = _case(arch, "conditional_generation", next(iter(SMALL_CONFIGS[arch])))
    model_class = getattr(specformers, case.class_name("flax"))
    models = {rate: model_class(_layerdrop_config(arch, rate), _do_init=False) for rate in (0.0, 0.5, 1.0)}
    shapes = jax.eval_shape(functools.partial(models[0.0].init_weights, input_shape=ids.shape), jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    params = jax.tree_util.tree_map(lambda leaf: rng.normal(0.0, 0.2, leaf.shape).astype(leaf.dtype), shapes)

    def train(rate, dropout_rng, **flags):
        model = models[rate]
        return model(ids, decoder_input_ids=decoder_ids, params=params, train=True, dropout_rng=dropout_rng, **flags)

    blocks = models[0.0].config.num_hidden_layers + getattr(models[0.0].config, _spec(arch).decoder.layers)
    assert str(jax.make_jaxpr(lambda r: train(1.0, r).logits)(jax.random.PRNGKey(0))).count("cond[") == blocks

    flags = dict(output_hidden_states=True, output_attentions=True, use_cache=True)

    @jax.jit
    def step(dropout_rng):
        evaluated = models[0.0](ids, decoder_input_ids=decoder_ids, params=params, **flags)
        return evaluated, {rate: train(rate, dropout_rng, **flags) for rate in models}

    evaluated, trained = step(jax.random.PRNGKey(0))
    _check_all_skipped(trained[1.0], evaluated, arch)
    np.testing.assert_array_equal(np.asarray(trained[0.0].logits), np.asarray(evaluated.logits))
    patterns = {_skipped_blocks(step(jax.random.PRNGKey(seed))[1][0.5], arch) for seed in range(6)}
    assert len(patterns) > 1, patterns

# Flax: the decoder cache and generate() under jax.jit


# One variant per architecture (its last: every option that changes the math flipped, a decoder of its own depth and
# heads), to keep the Flax compilations few; test_parity.py runs every variant's outputs.
FLAX_ARCH_VARIANTS = [(arch, list(SMALL_CONFIGS[arch])[-1]) for arch in SEQ2SEQ_ARCHS]
# `make test`: Flax decodes the first architecture of each norm placement and kind of positions through generate()
# (which steps through the cache, its positions counting on from the cache's length, to transformers' token ids), and
# the second architecture of the first of them through the cached decoding loop (the same cache and decoder
# templates; each Flax decoding compiles for seconds); its position ids are compared for every fourth architecture.
# `make test-all` runs each for every architecture.
_BY_PLACEMENT: dict = {}
for _arch, _variant in FLAX_ARCH_VARIANTS:
    _BY_PLACEMENT.setdefault((_spec(_arch).norm.placement, _positions(_arch)), []).append((_arch, _variant))
FLAX_GENERATED = FLAX_ARCH_VARIANTS if TEST_ALL else [own[0] for own in _BY_PLACEMENT.values()]
FLAX_STEPPED = FLAX_ARCH_VARIANTS if TEST_ALL else [own[1 % len(own)] for own in _BY_PLACEMENT.values()][:1]
# (Position ids exist only where the stacks have absolute positions.)
_FLAX_WITH_POSITIONS = [(arch, variant) for arch, variant in FLAX_ARCH_VARIANTS if _spec(arch).spec.embeddings.position != "none"]
FLAX_POSITIONED = _FLAX_WITH_POSITIONS if TEST_ALL else _FLAX_WITH_POSITIONS[::4]


def _flax_ours(case, directory):
    import specformers

    return getattr(specformers, case.class_name("flax")).from_pretrained(directory)


@pytest.mark.parametrize("arch,variant", FLAX_STEPPED)
def test_flax_cached_decoding_matches_the_full_pass(arch, variant, checkpoint):
    """Flax: a prompt of 2 tokens, then one token at a time, with the preallocated cache of `init_cache` under
    `jax.jit` and with the growing tuple cache eagerly: the logits of the full pass."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _flax_ours(case, directory)
    inputs = {k: jnp.asarray(v) for k, v in make_inputs(case, config).items() if k != "labels"}
    decoder_input_ids = inputs["decoder_input_ids"]
    batch, target = decoder_input_ids.shape
    full = model(**inputs).logits
    encoder_outputs = model.encode(inputs["input_ids"], attention_mask=inputs["attention_mask"])
    mask = inputs["attention_mask"]

    step = jax.jit(lambda ids, cache: model.decode(ids, encoder_outputs, encoder_attention_mask=mask, past_key_values=cache))
    cache = model.init_cache(batch, target, encoder_outputs)
    steps, tuple_steps, past = [], [], None
    for start, end in [(0, 2)] + [(t, t + 1) for t in range(2, target)]:
        out = step(decoder_input_ids[:, start:end], cache)
        steps.append(out.logits)
        cache = out.past_key_values
        eager = model.decode(decoder_input_ids[:, start:end], encoder_outputs, encoder_attention_mask=mask,
                             past_key_values=past)
        tuple_steps.append(eager.logits)
        past = eager.past_key_values
    assert int(cache.index) == target
    assert len(past) == getattr(config, _spec(arch).decoder.layers) and all(len(layer) == 4 for layer in past)
    for stepped in (steps, tuple_steps):
        assert np.max(np.abs(np.asarray(jnp.concatenate(stepped, axis=1)) - np.asarray(full))) <= ATOL


def _flax_generation_pair(arch, variant, checkpoint):
    case = _case(arch, "conditional_generation", variant)
    spec = _spec(arch)
    depth = SMALL_CONFIGS[arch][variant][spec.attribute_map.get("num_hidden_layers", "num_hidden_layers")]
    config, reference, directory = checkpoint(case, **{spec.decoder.layers: depth})
    inputs = make_inputs(case, config)
    return config, reference, _flax_ours(case, directory), inputs["input_ids"], inputs["attention_mask"]


@pytest.mark.parametrize("arch,variant", FLAX_GENERATED)
def test_flax_generate_matches_transformers(arch, variant, checkpoint):
    """Flax generate() inside a user's `jax.jit`: greedy (with the configuration's forced end-of-sequence token, and
    with an end-of-sequence id the model does produce) and beam search with 4 beams give transformers' PyTorch token
    ids; the positions after the stop hold padding."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    config, reference, model, input_ids, attention_mask = _flax_generation_pair(arch, variant, checkpoint)
    torch_inputs = dict(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
    free = _generate(reference, **torch_inputs, max_new_tokens=6, do_sample=False, eos_token_id=None,
                     forced_eos_token_id=None)
    eos = pick_eos(free[:, 1:].numpy())
    settings = [
        dict(max_new_tokens=8),
        dict(max_new_tokens=8, eos_token_id=eos),
        dict(num_beams=4, length_penalty=0.6, max_new_tokens=7, early_stopping=True),
        dict(num_beams=4, max_new_tokens=7, eos_token_id=eos, early_stopping="never"),
        # The default rule (False, the heuristic stop) with a length penalty below 1 up to a total length, and 3 beams
        # stopping once that many hypotheses are done under a length penalty above 1.
        dict(num_beams=4, length_penalty=0.6, max_length=9, eos_token_id=eos),
        dict(num_beams=3, length_penalty=1.7, max_new_tokens=6, eos_token_id=eos, early_stopping=True),
    ]
    if (arch, variant) != FLAX_ARCH_VARIANTS[0]:
        # Each setting is a compilation of seconds: the stopping rules (the stack kind's template code) run for the
        # first architecture; the others decode greedily and by beam search.
        settings = [settings[0], settings[2]]
    for kwargs in settings:
        expected = _generate(reference, **torch_inputs, do_sample=False, **kwargs).numpy()
        run = jax.jit(lambda params, ids, mask: model.generate(ids, attention_mask=mask, params=params, **kwargs).sequences)
        got = np.asarray(run(model.params, jnp.asarray(input_ids), jnp.asarray(attention_mask)))
        length = expected.shape[1]
        assert np.array_equal(got[:, :length], expected), (kwargs, got, expected)
        assert (got[:, length:] == config.pad_token_id).all(), (kwargs, got)


def _table_rows(params, stack: str, table: str, positions, offset: int):
    """`params` with the position table `<stack>.<table>` (a Flax embedding) holding at rows `offset + 0, 1, ...`
    its rows `offset + positions`: the default positions then read what `positions` read."""
    from flax.traverse_util import flatten_dict, unflatten_dict

    flat = flatten_dict(params)
    keys = [k for k in flat if len(k) >= 3 and k[-3:-1] == (stack, table)]
    assert len(keys) == 1, (stack, table, keys)
    rows = flat[keys[0]]
    flat[keys[0]] = rows.at[offset + np.arange(len(positions))].set(rows[offset + np.asarray(positions)])
    return unflatten_dict(flat)


@pytest.mark.parametrize("arch,variant", FLAX_POSITIONED)
def test_flax_position_ids_match_transformers_flax(arch, variant, checkpoint):
    """Flax `position_ids` / `decoder_position_ids` (of `__call__`, `encode`, `decode` and the causal LM, positionally
    where transformers' Flax models take them): the default positions given explicitly change nothing; random
    positions anywhere in the table change the outputs and give transformers' Flax outputs with the same positions
    where transformers has the Flax class (of the causal LM too; its PyTorch models take none). transformers' models run on our parameters, whose tree is theirs (test_parity checks that
    they hold the checkpoint's weights): converting the checkpoint again costs seconds for nothing."""
    pytest.importorskip("jax")
    import jax.numpy as jnp
    import transformers

    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    ours = _flax_ours(case, directory)
    # transformers' Flax model, where it has one.
    # (transformers' Flax port has no separate encoder and decoder vocabularies.)
    theirs = getattr(transformers, case.class_name("flax"), None) if not separate_vocabularies(case, config) else None
    theirs = theirs(config, _do_init=False) if theirs is not None else None
    inputs = {k: jnp.asarray(v) for k, v in make_inputs(case, config).items() if k != "labels"}
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    decoder_ids = inputs["decoder_input_ids"]
    decoder_mask = inputs.get("decoder_attention_mask", jnp.ones_like(decoder_ids))
    default = ours(ids, mask, decoder_ids, decoder_mask)
    default_positions = jnp.asarray(_default_positions(arch, config, ids))
    decoder_default_positions = jnp.asarray(_default_positions(arch, config, decoder_ids))
    explicit = ours(ids, mask, decoder_ids, decoder_mask, default_positions, decoder_default_positions)
    for name in ("logits", "encoder_last_hidden_state"):
        assert np.array_equal(np.asarray(explicit[name]), np.asarray(default[name])), name

    positions = jnp.asarray(_random_positions(config, ids.shape, 1))
    decoder_positions = jnp.asarray(_random_positions(config, decoder_ids.shape, 2))
    encoded = ours.encode(ids, mask, positions)
    decoded = ours.decode(decoder_ids, encoded, mask, decoder_mask, decoder_positions)
    # transformers' Flax port, where it has one, on our parameters at the default positions.
    port = theirs(ids, mask, decoder_ids, decoder_mask, params=ours.params).logits if theirs is not None else None
    if port is not None and float(np.max(np.abs(np.asarray(port) - np.asarray(default["logits"])))) <= ATOL:
        expected_encoded = theirs.encode(ids, mask, positions, params=ours.params)
        _assert_near(encoded.last_hidden_state, expected_encoded.last_hidden_state, "encode")
        expected_decoded = theirs.decode(
            decoder_ids, expected_encoded, mask, decoder_mask, decoder_positions, params=ours.params
        )
        _assert_near(decoded.logits, expected_decoded.logits, "decode")
    elif port is not None:
        # transformers' Flax port computes another function than its PyTorch classes on this configuration (the
        # reference, which test_parity holds our Flax model to at the default positions; BlenderbotSmall's Flax decoder
        # scales the word embeddings its PyTorch decoder does not): each row's random positions are checked against
        # our model at the default positions on a position table whose first rows are the random positions' rows.
        names, offset = _spec(arch).names, _spec(arch).embeddings.position_offset or 0
        for row in range(ids.shape[0]):
            params = _table_rows(ours.params, names.encoder, names.position_embeddings, positions[row], offset)
            expected = ours.encode(ids[row : row + 1], mask[row : row + 1], params=params)
            _assert_near(encoded.last_hidden_state[row : row + 1], expected.last_hidden_state, f"encode, row {row}")
            params = _table_rows(ours.params, names.decoder, names.position_embeddings, decoder_positions[row], offset)
            expected = ours.decode(decoder_ids[row : row + 1], encoded.last_hidden_state[row : row + 1],
                                   mask[row : row + 1], decoder_mask[row : row + 1], params=params)
            _assert_near(decoded.logits[row : row + 1], expected.logits, f"decode, row {row}")
    assert np.max(np.abs(np.asarray(decoded.logits) - np.asarray(default.logits))) > 1e-3  # the positions matter
    got = ours(ids, mask, decoder_ids, decoder_mask, positions, decoder_positions)
    _assert_near(got.logits, decoded.logits, "__call__")

    lm_case = next((c for c in CASES if c.arch == arch and c.head == "causal_lm" and c.variant == variant), None)
    if lm_case is None or separate_vocabularies(case, config) or not hasattr(transformers, lm_case.class_name("flax")):
        return  # no causal LM head, or transformers has no Flax causal LM of this architecture (mBART) or configuration
    config, _, directory = checkpoint(lm_case)
    lm_ids = jnp.asarray(make_inputs(lm_case, config)["input_ids"])
    lm_mask = jnp.ones_like(lm_ids)
    lm_positions = jnp.asarray(_random_positions(config, lm_ids.shape, 3))
    lm_ours = _flax_ours(lm_case, directory)
    lm_theirs = getattr(transformers, lm_case.class_name("flax"))(config, _do_init=False)
    expected = lm_theirs(lm_ids, lm_mask, lm_positions, params=lm_ours.params).logits
    _assert_near(lm_ours(lm_ids, lm_mask, lm_positions).logits, expected, "causal LM")


# Names-layout encoder-decoders whose base model refuses a call without decoder inputs (`decoder.shift_inputs: false`),
# and one that builds them from `input_ids` (the default), each with its first variant.
_REFUSING = [arch for arch in SEQ2SEQ_ARCHS if not _spec(arch).decoder.shift_inputs]
_SHIFTING = [arch for arch in SEQ2SEQ_ARCHS if _spec(arch).decoder.shift_inputs][:1]


def test_some_encoder_decoder_needs_decoder_inputs():
    assert _REFUSING


@pytest.mark.parametrize("framework", ["torch", "tf", "flax"])
@pytest.mark.parametrize("arch", _REFUSING + _SHIFTING)
def test_a_call_without_decoder_inputs_as_transformers(arch, framework):
    """Without decoder inputs (nor labels), the base model and the generation head raise ValueError exactly where
    transformers' PyTorch classes do (`decoder.shift_inputs: false`) and otherwise read `input_ids` shifted right;
    the classification and question-answering heads shift `input_ids` either way."""
    import specformers

    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}[framework]
    for case in [c for c in CASES if c.arch == arch and c.variant == next(iter(SMALL_CONFIGS[arch]))]:
        if case.head not in ("seq2seq", "conditional_generation", "sequence_classification", "question_answering"):
            continue
        config = reference_config(case)
        inputs = make_inputs(case, config)
        ids = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        reference = reference_model(case, config).eval()
        try:
            with torch.no_grad():
                reference(**_tensors(ids))
            refused = False
        except ValueError:
            refused = True
        assert refused == (case.head in ("seq2seq", "conditional_generation") and arch in _REFUSING), case.id
        ours = getattr(specformers, prefix + case.class_name("torch"))(getattr(specformers, _spec(arch).config_class)(**config_kwargs(case)))
        given = _tensors(ids) if framework == "torch" else ids
        if refused:
            with pytest.raises(ValueError, match="You have to specify either decoder_input_ids or decoder_inputs_embeds"):
                ours(**given)
        else:
            ours(**given)


# The first names-layout encoder-decoder whose generation head adds a logits bias (`lm_head.logits_bias`).
_LOGITS_BIAS = [arch for arch in SEQ2SEQ_ARCHS if _spec(arch).lm_head.logits_bias][:1]


@pytest.mark.parametrize("framework", ["tf", "flax"])
@pytest.mark.parametrize("arch", _LOGITS_BIAS)
def test_base_checkpoint_lacking_the_logits_bias_loads_quietly(arch, framework, checkpoint, caplog):
    """A base model's checkpoint into the generation head in TensorFlow and Flax (PyTorch: test_torch_seq2seq): the
    logits bias it lacks starts at zeros without a report (transformers lists it in `_keys_to_ignore_on_load_missing`);
    nothing else is reported where the LM head is tied."""
    import logging

    import specformers

    variant = next(iter(SMALL_CONFIGS[arch]))
    config, _, directory = checkpoint(_case(arch, "seq2seq", variant))
    assert config.tie_word_embeddings
    case = _case(arch, "conditional_generation", variant)
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = getattr(specformers, case.class_name(framework)).from_pretrained(directory)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    bias = _spec(arch).lm_head.logits_bias
    values = getattr(model, bias).numpy() if framework == "tf" else model.params[bias]
    assert values.shape == (1, config.vocab_size) and not np.asarray(values).any()
