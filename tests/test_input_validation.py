"""Bad input fails clearly at the model's entrance, in every (architecture, framework): a `ValueError` naming the
argument and the shapes, never a shape error deep inside attention.

Covered: both or neither of input_ids / inputs_embeds (decoder_* too), an inputs_embeds of the wrong width, masks and
ids whose shape does not match the input (attention_mask, token_type_ids, position_ids, decoder_attention_mask),
sequences longer than the position table, ids outside the vocabulary (PyTorch, TensorFlow eager and `tf.function`,
Flax on concrete arrays), the ids of a further token-type table (`embeddings.task_type`: refused without the table,
of the input's shape and in range with it), an unknown `config.problem_type`, and labels of the wrong shape for every head that takes
labels (PyTorch, TensorFlow; Flax heads take no labels). The shape checks also hold under `tf.function` and `jax.jit`.
"""

import re

import numpy as np
import pytest

from generator import support

from harness import (
    LABEL_KEYS, SEQ2SEQ_HEADS, SMALL_CONFIGS, cases, config_kwargs, distinct_compositions, framework_params, make_inputs,
    project, sample,
)

FRAMEWORKS = ("torch", "tf", "flax")
ARCHS = {a.name: a for a in project().architectures}
BATCH, SEQ = 2, 5

# The model every entrance test calls: the bare model (encoder-decoder: the bare seq2seq model), first variant.
# One architecture of each composition (`distinct_compositions`: the same components render the same checks).
ENTRANCE = {}
for c in cases():
    if c.head in ("base", "seq2seq") and c.arch not in ENTRANCE:
        ENTRANCE[c.arch] = c
ENTRANCE = [ENTRANCE[arch] for arch in distinct_compositions(list(ENTRANCE))]


def _entrance_kind(case) -> tuple:
    """What a model's entrance checks are rendered from: the stack kind's templates and the embeddings' inputs."""
    arch = ARCHS[case.arch]
    return (
        support.rule_kind(arch.spec, arch.stack), arch.has_token_type, arch.task_type is not None, arch.has_position_ids,
        bool(arch.position_table), bool(arch.embeddings.position_padding_idx), arch.embedding_size,
    )


# `make test`: the entrance checks in TensorFlow (also under `tf.function`) and Flax (also under `jax.jit`), whose
# eager first calls compile every operation, for the first architecture of each kind of entrance; every architecture
# in PyTorch, and everywhere in `make test-all` (harness.TEST_ALL).
COMPILED_ENTRANCE = sample(ENTRANCE, _entrance_kind)
_TABLED = [c for c in ENTRANCE if ARCHS[c.arch].position_table]
# Every kind of head that takes labels, in every stack kind (the first variant of the first architecture of ENTRANCE
# that has it): the heads' label checks are rendered from the head kind and the stack kind's templates.
_LABELLED = {}
for c in cases():
    if c.variant == next(iter(SMALL_CONFIGS[c.arch])) and c.head not in ("base", "seq2seq", "encoder") and c.arch in {
        e.arch for e in ENTRANCE
    }:
        _LABELLED.setdefault((support.rule_kind(ARCHS[c.arch].spec, ARCHS[c.arch].stack), c.head), c)
LABELLED = list(_LABELLED.values())


def _config(case, **overrides):
    import specformers

    return getattr(specformers, f"{case.prefix}Config")(**config_kwargs(case, **overrides))


_MODELS = {}


def _model(case, framework, **overrides):
    """A randomly initialised generated model (cached per case, framework and config overrides)."""
    import specformers

    key = (case, framework, tuple(sorted(overrides.items())))
    if key not in _MODELS:
        config = _config(case, **overrides)
        _MODELS[key] = (getattr(specformers, case.class_name(framework))(config), config)
    return _MODELS[key]


def _call(framework, model, **inputs):
    if framework == "torch":
        import torch

        with torch.no_grad():
            return model(**{k: _nest(v, torch.from_numpy) for k, v in inputs.items()})
    if framework == "tf":
        import tensorflow as tf

        return model(**{k: _nest(v, tf.constant) for k, v in inputs.items()}, training=False)
    import jax.numpy as jnp

    return model(**{k: _nest(v, jnp.asarray) for k, v in inputs.items() if k not in LABEL_KEYS})


def _nest(value, convert):
    """`convert` every array of `value` (an array, a tuple of arrays or None)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(convert(v) for v in value)
    return convert(value)


def _ids(config, *shape):
    return np.random.default_rng(0).integers(1, config.vocab_size, size=shape, dtype=np.int64)


def _decoder(case, config) -> dict:
    """The decoder inputs an encoder-decoder model needs besides the encoder's."""
    return {"decoder_input_ids": _ids(config, BATCH, 4)} if case.head in SEQ2SEQ_HEADS else {}


def _raises(framework, model, message, **inputs):
    with pytest.raises(ValueError, match=re.escape(message)):
        _call(framework, model, **inputs)


def _width(case, config) -> int:
    return getattr(config, ARCHS[case.arch].embedding_size)


# ----------------------------------------------------------------------------------------------------------------------
# input_ids / inputs_embeds


@pytest.mark.parametrize("case,framework", framework_params(ENTRANCE, COMPILED_ENTRANCE, lambda c: c.arch))
def test_both_or_neither_of_ids_and_embeddings(case, framework):
    model, config = _model(case, framework)
    E = _width(case, config)
    ids, embeds = _ids(config, BATCH, SEQ), np.zeros((BATCH, SEQ, E), np.float32)
    _raises(
        framework, model,
        f"You cannot specify both input_ids (shape ({BATCH}, {SEQ})) and inputs_embeds (shape ({BATCH}, {SEQ}, {E})) "
        "at the same time",
        input_ids=ids, inputs_embeds=embeds, **_decoder(case, config),
    )
    _raises(framework, model, "You have to specify either input_ids or inputs_embeds (both are None)", **_decoder(case, config))
    _raises(
        framework, model,
        f"inputs_embeds must have shape (batch_size, sequence_length, {E}), got shape ({BATCH}, {SEQ}, {E + 1})",
        inputs_embeds=np.zeros((BATCH, SEQ, E + 1), np.float32), **_decoder(case, config),
    )
    if case.head in SEQ2SEQ_HEADS and ARCHS[case.arch].names is None:
        # (A names-layout encoder-decoder decodes input_ids shifted right when given no decoder inputs.)
        _raises(
            framework, model, "You have to specify either decoder_input_ids or decoder_inputs_embeds (both are None)",
            input_ids=ids,
        )


# ----------------------------------------------------------------------------------------------------------------------
# Masks and ids of the wrong shape


@pytest.mark.parametrize("case,framework", framework_params(ENTRANCE, COMPILED_ENTRANCE, lambda c: c.arch))
def test_mask_and_id_shapes(case, framework):
    model, config = _model(case, framework)
    arch = ARCHS[case.arch]
    ids = _ids(config, BATCH, SEQ)
    decoder = _decoder(case, config)
    expected = f"but input_ids has shape ({BATCH}, {SEQ}): expected ({BATCH}, {SEQ})"
    _raises(
        framework, model, f"attention_mask has shape ({BATCH}, {SEQ + 1}), {expected}",
        input_ids=ids, attention_mask=np.ones((BATCH, SEQ + 1), np.int64), **decoder,
    )
    _raises(
        framework, model, f"attention_mask has shape ({BATCH + 1}, {SEQ}), {expected}",
        input_ids=ids, attention_mask=np.ones((BATCH + 1, SEQ), np.int64), **decoder,
    )
    names = (["token_type_ids"] if arch.has_token_type else []) + (["position_ids"] if arch.has_position_ids else [])
    for name in names:
        _raises(
            framework, model, f"{name} has shape ({BATCH}, {SEQ - 1}), {expected}",
            input_ids=ids, **{name: np.zeros((BATCH, SEQ - 1), np.int64)},
        )
    if case.head in SEQ2SEQ_HEADS:
        _raises(
            framework, model,
            f"decoder_attention_mask has shape ({BATCH}, 3), but decoder_input_ids has shape ({BATCH}, 4): expected ({BATCH}, 4)",
            input_ids=ids, decoder_attention_mask=np.ones((BATCH, 3), np.int64), **decoder,
        )
        # Given the encoder's output, the encoder mask is checked against it by the decoder.
        encoder_output = _call(framework, model, input_ids=ids, **decoder).encoder_last_hidden_state
        _raises(
            framework, model,
            f"attention_mask has shape ({BATCH}, {SEQ + 1}), but the encoder output has shape "
            f"({BATCH}, {SEQ}, {config.hidden_size}): expected ({BATCH}, {SEQ})",
            encoder_outputs=(np.asarray(encoder_output),), attention_mask=np.ones((BATCH, SEQ + 1), np.int64), **decoder,
        )


# ----------------------------------------------------------------------------------------------------------------------
# Length


def _table_built(case, config) -> bool:
    """Whether the model holds its position table: always, unless the spec chooses its positions by a config field's
    value (`position.select`) and the configuration chooses the rotary ones (no table bounds the length then, and
    `position_ids` change nothing, as in transformers' classes of this kind)."""
    select = ARCHS[case.arch].names.position_select if ARCHS[case.arch].names else None
    return select is None or getattr(config, select[0]) == select[2]


@pytest.mark.parametrize("case,framework", framework_params(_TABLED, COMPILED_ENTRANCE, lambda c: c.arch))
def test_sequence_longer_than_the_position_table(case, framework):
    model, config = _model(case, framework)
    table = config.max_position_embeddings
    if not _table_built(case, config):
        # Rotary positions chosen by the config: a sequence longer than the table is accepted (the table is not built).
        _call(framework, model, input_ids=_ids(config, BATCH, table + 1))
        return
    padding_field = ARCHS[case.arch].embeddings.position_padding_idx
    # Positions counted past a padding index leave the table's first `padding_idx + 1` rows unused.
    offset = getattr(config, padding_field) + 1 if padding_field else 0
    n = table - offset
    limit = f"config.max_position_embeddings ({table})"
    if offset:
        limit += f" less the {offset} rows before the first position ({n})"
    _raises(
        framework, model,
        f"Input sequence length {n + 1} exceeds {limit}, the number of positions "
        f"{ARCHS[case.arch].position_table} covers",
        input_ids=_ids(config, BATCH, n + 1),
    )
    _call(framework, model, input_ids=_ids(config, BATCH, n))  # exactly the table's length is fine


# ----------------------------------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("case,framework", framework_params(ENTRANCE, COMPILED_ENTRANCE, lambda c: c.arch))
def test_ids_outside_the_vocabulary(case, framework):
    model, config = _model(case, framework)
    V = config.vocab_size
    ids = _ids(config, BATCH, SEQ)
    ids[0, 1] = V
    _raises(
        framework, model, f"input_ids must lie in [0, config.vocab_size) = [0, {V}), got values in [",
        input_ids=ids, **_decoder(case, config),
    )
    ids[0, 1] = -1
    _raises(framework, model, "got values in [-1, ", input_ids=ids, **_decoder(case, config))
    if ARCHS[case.arch].has_token_type:
        _raises(
            framework, model,
            f"token_type_ids must lie in [0, config.type_vocab_size) = [0, {config.type_vocab_size}), "
            f"got values in [0, {config.type_vocab_size}]",
            input_ids=_ids(config, BATCH, SEQ),
            token_type_ids=np.array([[0] * SEQ, [config.type_vocab_size] * SEQ], np.int64),
        )
    if ARCHS[case.arch].has_position_ids and _table_built(case, config):
        n = config.max_position_embeddings
        _raises(
            framework, model,
            f"position_ids must lie in [0, config.max_position_embeddings) = [0, {n}), got values in [0, {n}]",
            input_ids=_ids(config, BATCH, SEQ), position_ids=np.array([[0, 1, 2, 3, n]] * BATCH, np.int64),
        )
    if case.head in SEQ2SEQ_HEADS:
        decoder_ids = _ids(config, BATCH, 4)
        decoder_ids[1, 0] = V + 3
        _raises(
            framework, model, f"decoder_input_ids must lie in [0, config.vocab_size) = [0, {V}), got values in [",
            input_ids=_ids(config, BATCH, SEQ), decoder_input_ids=decoder_ids,
        )


# ----------------------------------------------------------------------------------------------------------------------
# Compiled entrances


@pytest.mark.parametrize("case", COMPILED_ENTRANCE, ids=lambda c: c.arch)
def test_tf_function_checks(case):
    """Under `tf.function` shape errors raise while tracing; the vocabulary check runs as a `tf.debugging` assertion."""
    import tensorflow as tf

    model, config = _model(case, "tf")
    decoder = {k: tf.constant(v) for k, v in _decoder(case, config).items()}
    ids = tf.constant(_ids(config, BATCH, SEQ))

    @tf.function
    def run(input_ids, attention_mask):
        return model(input_ids=input_ids, attention_mask=attention_mask, **decoder, training=False)[0]

    run(ids, tf.ones((BATCH, SEQ), tf.int64))
    with pytest.raises(ValueError, match=re.escape(f"attention_mask has shape ({BATCH}, {SEQ + 1}), but input_ids")):
        run(ids, tf.ones((BATCH, SEQ + 1), tf.int64))
    bad = _ids(config, BATCH, SEQ)
    bad[1, 2] = config.vocab_size
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("input_ids must lie in [0, config.vocab_size)")):
        run(tf.constant(bad), tf.ones((BATCH, SEQ), tf.int64))

    # A dimension known only at run time is checked by a tf.debugging assertion.
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, None], tf.int64)])
    def dynamic(input_ids, attention_mask):
        return model(input_ids=input_ids, attention_mask=attention_mask, **decoder, training=False)[0]

    dynamic(ids, tf.ones((BATCH, SEQ), tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("attention_mask has shape (?, ?), but input_ids")):
        dynamic(ids, tf.ones((BATCH, SEQ + 1), tf.int64))


@pytest.mark.parametrize("case", COMPILED_ENTRANCE, ids=lambda c: c.arch)
def test_jax_jit_checks_shapes(case):
    import jax
    import jax.numpy as jnp

    model, config = _model(case, "flax")
    decoder = {k: jnp.asarray(v) for k, v in _decoder(case, config).items()}
    run = jax.jit(lambda ids, mask: model(input_ids=ids, attention_mask=mask, **decoder)[0])
    ids = jnp.asarray(_ids(config, BATCH, SEQ))
    run(ids, jnp.ones((BATCH, SEQ), jnp.int32))
    with pytest.raises(ValueError, match=re.escape(f"attention_mask has shape ({BATCH}, {SEQ + 1}), but input_ids")):
        run(ids, jnp.ones((BATCH, SEQ + 1), jnp.int32))


# ----------------------------------------------------------------------------------------------------------------------
# Labels and problem_type (PyTorch and TensorFlow: Flax heads take no labels, as in transformers)


def _expected_label_shape(case, config, name, inputs):
    if case.head in ("masked_lm", "causal_lm", "token_classification", "discriminator", "conditional_generation") or (
        case.head == "pretraining" and name == "labels"
    ):
        return inputs[name].shape
    return (BATCH,)


@pytest.mark.parametrize("framework", ("torch", "tf"))
@pytest.mark.parametrize("case", LABELLED, ids=lambda c: c.id)
def test_labels_of_the_wrong_shape(case, framework):
    model, config = _model(case, framework)
    inputs = make_inputs(case, config, batch=BATCH, seq=SEQ)
    _call(framework, model, **inputs)  # the right shapes work
    for name in [k for k in inputs if k in LABEL_KEYS]:
        expected = _expected_label_shape(case, config, name, inputs)
        bad = dict(inputs)
        bad[name] = np.concatenate([inputs[name], inputs[name][:1]], axis=0)  # one row too many
        _raises(framework, model, f"{name} has shape {bad[name].shape}, expected {tuple(expected)}", **bad)


@pytest.mark.parametrize("framework", ("torch", "tf"))
@pytest.mark.parametrize("case", [c for c in LABELLED if c.head == "sequence_classification"], ids=lambda c: c.id)
def test_sequence_classification_label_shapes_per_problem_type(case, framework):
    # The harness's ids: an encoder-decoder classifies at the end-of-sequence token they hold.
    ids = make_inputs(case, _config(case), batch=BATCH, seq=SEQ)["input_ids"]
    regression, _ = _model(case, framework, num_labels=1, problem_type="regression")
    _raises(
        framework, regression, f"labels has shape ({BATCH}, 2), expected ({BATCH},) (one target per example for regression)",
        input_ids=ids, labels=np.zeros((BATCH, 2), np.float32),
    )
    multi, config = _model(case, framework, problem_type="multi_label_classification")
    n = config.num_labels
    _raises(
        framework, multi, f"labels has shape ({BATCH},), expected ({BATCH}, {n}) (one 0/1 target per class",
        input_ids=ids, labels=np.zeros((BATCH,), np.float32),
    )


@pytest.mark.parametrize("framework", ("torch", "tf"))
@pytest.mark.parametrize("case", [c for c in LABELLED if c.head == "sequence_classification"], ids=lambda c: c.id)
def test_unknown_problem_type(case, framework):
    model, config = _model(case, framework, problem_type="single_label_classification")
    config.problem_type = "ordinal_regression"  # set after construction, which validates it
    try:
        _raises(
            framework, model,
            "Unknown config.problem_type 'ordinal_regression': expected 'regression', 'single_label_classification' "
            "or 'multi_label_classification'",
            input_ids=make_inputs(case, config, batch=BATCH, seq=SEQ)["input_ids"], labels=np.zeros((BATCH,), np.int64),
        )
    finally:
        config.problem_type = "single_label_classification"


def test_unknown_problem_type_in_the_config_is_refused():
    import specformers

    with pytest.raises(ValueError, match="problem_type must be one of"):
        specformers.AlbertConfig(problem_type="ordinal_regression")


# Sequence classification of an encoder-decoder reads the decoder at each row's last end-of-sequence token.
SEQ2SEQ_CLASSIFIERS = [
    c for c in cases() if ARCHS[c.arch].seq2seq and c.head == "sequence_classification" and c.variant == next(iter(SMALL_CONFIGS[c.arch]))
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", SEQ2SEQ_CLASSIFIERS, ids=lambda c: c.id)
def test_sequence_classification_needs_an_end_of_sequence_token_per_row(case, framework):
    model, config = _model(case, framework)
    ids = make_inputs(case, config, batch=BATCH, seq=SEQ)["input_ids"]
    _call(framework, model, input_ids=ids)  # every row has one
    ids[1] = np.where(ids[1] == config.eos_token_id, config.eos_token_id + 1, ids[1])
    _raises(framework, model, f"every row of input_ids needs an end-of-sequence token (config.eos_token_id = {config.eos_token_id})", input_ids=ids)
    _raises(
        framework, model, "the decoder inputs have length 4 and input_ids 5",
        input_ids=make_inputs(case, config, batch=BATCH, seq=SEQ)["input_ids"], decoder_input_ids=_ids(config, BATCH, 4),
    )


# ----------------------------------------------------------------------------------------------------------------------
# A further token-type table (`embeddings.task_type`) exists only with its config flag: its ids are refused without it
# (transformers' classes ignore them then)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", [c for c in ENTRANCE if ARCHS[c.arch].task_type is not None], ids=lambda c: c.arch)
def test_further_token_types_need_their_table(case, framework):
    task = ARCHS[case.arch].task_type
    model, config = _model(case, framework, **{task.flag: False})
    _raises(
        framework, model, f"{task.argument} given, but this model has no table for them (config.{task.flag} is False)",
        input_ids=_ids(config, BATCH, SEQ), **{task.argument: np.zeros((BATCH, SEQ), np.int64)},
    )


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", [c for c in ENTRANCE if ARCHS[c.arch].task_type is not None], ids=lambda c: c.arch)
def test_further_token_types_of_the_wrong_shape_or_range(case, framework):
    task = ARCHS[case.arch].task_type
    model, config = _model(case, framework, **{task.flag: True})
    rows = getattr(config, task.size)
    _raises(
        framework, model, f"{task.argument} has shape ({BATCH}, {SEQ + 1}), but the input is ({BATCH}, {SEQ}): expected ({BATCH}, {SEQ})",
        input_ids=_ids(config, BATCH, SEQ), **{task.argument: np.zeros((BATCH, SEQ + 1), np.int64)},
    )
    _raises(
        framework, model, f"{task.argument} must lie in [0, config.{task.size}) = [0, {rows}), got values in [0, {rows}]",
        input_ids=_ids(config, BATCH, SEQ), **{task.argument: np.array([[0] * SEQ, [rows] * SEQ], np.int64)},
    )
    # (1, seq) ids apply to every row, as token types do.
    _call(framework, model, input_ids=_ids(config, BATCH, SEQ), **{task.argument: np.ones((1, SEQ), np.int64)})


# Causal-LM decoders of encoder-decoders whose vocabularies may be separate (`embeddings.vocabularies`): the decoder's
# ids are checked against its own table's rows (the target vocabulary), not `config.vocab_size`.
SEPARATE_VOCAB_CASES = []
for _c in cases():
    _v = ARCHS[_c.arch].spec.embeddings.vocabularies
    if _v is not None and _c.head == "causal_lm":
        _kw = config_kwargs(_c)
        if _kw.get(_v.shared) is False and _kw.get(_v.decoder_size, _kw["vocab_size"]) < _kw["vocab_size"]:
            SEPARATE_VOCAB_CASES.append(_c)


def test_some_decoder_has_a_smaller_target_vocabulary():
    assert SEPARATE_VOCAB_CASES


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", SEPARATE_VOCAB_CASES, ids=lambda c: c.id)
def test_decoder_ids_checked_against_the_target_vocabulary(case, framework):
    import specformers

    vocabularies = ARCHS[case.arch].spec.embeddings.vocabularies
    kwargs = config_kwargs(case)
    config = getattr(specformers, ARCHS[case.arch].config_class)(**kwargs)
    rows = kwargs[vocabularies.decoder_size]
    model = getattr(specformers, {"torch": "", "tf": "TF", "flax": "Flax"}[framework] + case.class_name("torch"))(config)
    ok, bad = np.array([[1, 2, rows - 1]]), np.array([[1, 2, rows]])  # `rows` < config.vocab_size
    if framework == "torch":
        import torch

        ok, bad = torch.from_numpy(ok), torch.from_numpy(bad)
    model(input_ids=ok)
    with pytest.raises(ValueError, match=re.escape(f"input_ids must lie in [0, config.{vocabularies.decoder_size}) = [0, {rows})")):
        model(input_ids=bad)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", SEPARATE_VOCAB_CASES, ids=lambda c: c.id)
def test_tied_lm_head_refuses_vocabularies_of_two_sizes(case, framework):
    """Tied, the LM head of an encoder-decoder with separate vocabularies is the decoder's word embeddings, which the
    encoder-decoder builds with `config.vocab_size` rows (as transformers does, whose forward pass then fails on the
    logits bias): refused when the model is built, naming both ways out; untied, the same sizes build."""
    import specformers

    arch = ARCHS[case.arch]
    vocabularies = arch.spec.embeddings.vocabularies
    head = next(c for c in cases() if c.arch == case.arch and c.head == "conditional_generation")
    model_class = getattr(specformers, {"torch": "", "tf": "TF", "flax": "Flax"}[framework] + head.class_name("torch"))
    kwargs = config_kwargs(case)
    rows = kwargs[vocabularies.decoder_size]
    with pytest.raises(ValueError, match=re.escape(f"separate ones of {kwargs['vocab_size']} (vocab_size) and {rows} ({vocabularies.decoder_size}) tokens: set tie_word_embeddings=False")):
        model_class(getattr(specformers, arch.config_class)(**{**kwargs, "tie_word_embeddings": True}))
    model_class(getattr(specformers, arch.config_class)(**{**kwargs, "tie_word_embeddings": False}))
