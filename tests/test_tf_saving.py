"""Keras saving formats of the generated TensorFlow models: `.keras` files (`model.save`, `keras.models.load_model`,
`ModelCheckpoint`), `save_weights` / `load_weights` (`.weights.h5`), the refused legacy HDF5 full-model format, and
`save_pretrained` of a model never called.

Every TF class of every spec is enumerated from the harness (one configuration per architecture; `make test` a sample
of them, `make test-all` every one), so a new spec is covered without editing this file. A round trip must be exact: every class gets the same variables back (path and
value); per stack kind, a class with its own loss and one without also compare every output field (max abs diff 0),
before a training step and after one (with the optimizer's state).
"""

import numpy as np
import pytest

from generator import support

from harness import (
    LABEL_KEYS, TEST_ALL, Case, assert_close, cases, config_kwargs, distinct_compositions, make_inputs, run_model, run_reference,
    spec,
)

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def _one_case_per_class() -> list:
    """Every TF class of one spec per composition (`distinct_compositions`: another spec of the same composition
    renders the same layers), with the first small configuration of its architecture."""
    first_variant = {}
    for case in cases():
        first_variant.setdefault(case.arch, case.variant)
    distinct = set(distinct_compositions(list(first_variant)))
    return [case for case in cases() if case.variant == first_variant[case.arch] and case.arch in distinct]


CLASSES = _one_case_per_class()
ARCHS = sorted({case.arch for case in CLASSES})


def _tf_class(case: Case):
    import specformers

    return getattr(specformers, case.class_name("tf"))


def _new_model(case: Case, **overrides):
    """A model of `case` that was never called (no variables but those its constructors make)."""
    cls = _tf_class(case)
    return cls(cls.config_class(**config_kwargs(case, **overrides)))


def _inputs(case: Case, config) -> dict:
    # Small: two rows (the second padded), six tokens.
    return make_inputs(case, config, batch=2, seq=6)


def _takes_labels(case: Case) -> bool:
    return any(key in LABEL_KEYS for key in _inputs(case, _new_model(case).config))


def _train_one_step(model, inputs: dict) -> None:
    """One Keras training step on one batch (`train_on_batch`, the step `fit` runs; eager, so nothing is traced): the
    model's own loss when the inputs carry labels, else a Keras loss on the first output (zeros as targets)."""
    if any(key in LABEL_KEYS for key in inputs):
        model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
        model.train_on_batch(inputs)
    else:
        target = np.zeros_like(model._prediction(model(**inputs, training=False)).numpy())
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.MeanSquaredError(), run_eagerly=True)
        model.train_on_batch(inputs, target)
    assert int(model.optimizer.iterations.numpy()) == 1


def _outputs(model, inputs: dict) -> dict:
    return run_model("tf", model, inputs)


def _local_path(variable) -> str:
    return variable.path.split("/", 1)[1]


def _assert_same_model(expected, actual, inputs: dict, expected_outputs: dict | None) -> None:
    """Same class, configuration and variables (path and value), and every output field exactly equal (unless
    `expected_outputs` is None: equal variables of the same class and configuration compute the same outputs)."""
    assert type(actual) is type(expected)
    assert actual.config.to_dict() == expected.config.to_dict()
    # Variable paths start with the model's name, which differs between two models built in one process.
    assert [_local_path(v) for v in actual.weights] == [_local_path(v) for v in expected.weights]
    for a, b in zip(expected.weights, actual.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)
    if expected_outputs is None:
        return
    outputs = _outputs(actual, inputs)
    assert set(outputs) == set(expected_outputs)
    for key, value in expected_outputs.items():
        # Exactly equal, NaN where the original has NaN (a loss over labels that are all ignored).
        np.testing.assert_array_equal(outputs[key], value, err_msg=key)


def _assert_same_optimizer_state(expected, actual) -> None:
    assert int(actual.optimizer.iterations.numpy()) == int(expected.optimizer.iterations.numpy())
    assert len(actual.optimizer.variables) == len(expected.optimizer.variables)
    for a, b in zip(expected.optimizer.variables, actual.optimizer.variables):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)


# ----------------------------------------------------------------------------------------------------------------------
# (a) every class: a `.keras` file (loaded without custom_objects), saved never called; and after a training step


# After a training step: per stack kind (encoder, names-layout encoder, encoder-decoder, names-layout encoder-decoder,
# decoder-only), one class with its own loss (labels in the inputs) and one without (a Keras loss on its first
# output). What the step adds to a `.keras` file -- trained variables and the optimizer's state, written and read by
# the runtime shared by every model -- depends neither on the head nor on the components, whose variables the
# never-called round trip above covers for every class of every spec.
WITHOUT_LABELS = ("base", "encoder", "seq2seq")
TRAINED = {}
for _case in CLASSES:
    _arch = spec(_case.arch)
    TRAINED.setdefault((support.rule_kind(_arch.spec, _arch.stack), _case.head in WITHOUT_LABELS), _case)


# `make test`: the never-called round trip for the first class of every other architecture (its components' layers;
# `test_save_weights_round_trip` writes and reads the variables of the others) and of each head kind in each stack
# kind (the head's layers), and the trained round trips; `make test-all`: every class.
ROUND_TRIPS = CLASSES
KERAS_FILE_ARCHS = ARCHS if TEST_ALL else ARCHS[::2]
WEIGHTS_FILE_ARCHS = ARCHS if TEST_ALL else ARCHS[1::2]
if not TEST_ALL:
    _firsts = {}
    for _case in CLASSES:
        _arch = spec(_case.arch)
        if _case.arch in KERAS_FILE_ARCHS:
            _firsts.setdefault(_case.arch, _case)
        _firsts.setdefault((support.rule_kind(_arch.spec, _arch.stack), _case.head), _case)
    ROUND_TRIPS = [c for c in CLASSES if c in set(_firsts.values()) | set(TRAINED.values())]


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=lambda c: c.class_name("tf"))
def test_keras_file_round_trip(case, tmp_path):
    model = _new_model(case)
    inputs = _inputs(case, model.config)
    model.save(tmp_path / "never_called.keras")  # builds the model first
    reloaded = keras.models.load_model(tmp_path / "never_called.keras")
    if case not in TRAINED.values():
        # Every variable of every sub-layer (the head's too) back at its path with its value: the outputs follow.
        _assert_same_model(model, reloaded, inputs, None)
        return
    _assert_same_model(model, reloaded, inputs, _outputs(model, inputs))

    _train_one_step(model, inputs)
    model.save(tmp_path / "trained.keras")
    reloaded = keras.models.load_model(tmp_path / "trained.keras")
    _assert_same_model(model, reloaded, inputs, _outputs(model, inputs))
    _assert_same_optimizer_state(model, reloaded)


# ----------------------------------------------------------------------------------------------------------------------
# (b) ModelCheckpoint, save_weights / load_weights, and weights files that do not fit the model


def test_model_checkpoint_files_reload(tmp_path):
    case = next(c for c in CLASSES if _takes_labels(c))
    model = _new_model(case)
    inputs = _inputs(case, model.config)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    callbacks = [
        keras.callbacks.ModelCheckpoint(tmp_path / "model.keras"),
        keras.callbacks.ModelCheckpoint(tmp_path / "model.weights.h5", save_weights_only=True),
    ]
    model.fit(inputs, batch_size=len(inputs["input_ids"]), epochs=1, verbose=0, callbacks=callbacks)
    expected = _outputs(model, inputs)

    reloaded = keras.models.load_model(tmp_path / "model.keras")
    _assert_same_model(model, reloaded, inputs, expected)
    _assert_same_optimizer_state(model, reloaded)
    fresh = _new_model(case)  # never called: load_weights builds it
    fresh.load_weights(tmp_path / "model.weights.h5")
    _assert_same_model(model, fresh, inputs, expected)


@pytest.mark.parametrize("arch", WEIGHTS_FILE_ARCHS)
def test_save_weights_round_trip(arch, tmp_path):
    case = next(c for c in CLASSES if c.arch == arch)
    model = _new_model(case)
    model.save_weights(tmp_path / "w.weights.h5")  # never called: builds it first
    fresh = _new_model(case)
    fresh.load_weights(tmp_path / "w.weights.h5")
    inputs = _inputs(case, model.config)
    _assert_same_model(model, fresh, inputs, _outputs(model, inputs))


def test_load_weights_into_a_partly_built_model(tmp_path):
    """A model whose only call skipped a sub-layer (`inputs_embeds` skips the word embeddings) gets that sub-layer's
    variables too, instead of keeping its random initialisation."""
    case = CLASSES[0]
    model = _new_model(case)
    model.build_with_dummy_inputs()
    model.save_weights(tmp_path / "w.weights.h5")
    partly_built = _new_model(case)
    width = getattr(partly_built.config, "embedding_size", None) or partly_built.config.hidden_size
    partly_built(inputs_embeds=tf.zeros((1, 3, width)), training=False)
    partly_built.load_weights(tmp_path / "w.weights.h5")
    inputs = _inputs(case, model.config)
    _assert_same_model(model, partly_built, inputs, _outputs(model, inputs))


def test_weights_file_missing_a_layer_is_an_error(tmp_path):
    """A weights file without some sub-layer's variables (here: a bare model's file loaded into a head model) raises,
    instead of leaving that layer (or, into a model never called, every layer) randomly initialised."""
    base = next(c for c in CLASSES if c.head == "base")
    head = next(c for c in CLASSES if c.arch == base.arch and c.head != "base")
    _new_model(base).save_weights(tmp_path / "base.weights.h5")
    with pytest.raises(ValueError, match="could not be loaded"):
        _new_model(head).load_weights(tmp_path / "base.weights.h5")


def test_weights_file_of_another_shape_is_an_error(tmp_path):
    case = CLASSES[0]
    vocab_size = config_kwargs(case)["vocab_size"]
    _new_model(case, vocab_size=vocab_size + 1).save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="could not be loaded"):
        _new_model(case).load_weights(tmp_path / "w.weights.h5")


# ----------------------------------------------------------------------------------------------------------------------
# (c) dtype policy and the legacy HDF5 format


def test_keras_file_keeps_the_dtype_policy(tmp_path):
    case = CLASSES[0]
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("bfloat16")
    try:
        model = _new_model(case)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert reloaded.dtype_policy.name == "bfloat16"
    assert {v.dtype for v in reloaded.trainable_weights} == {"bfloat16"}
    inputs = _inputs(case, model.config)
    _assert_same_model(model, reloaded, inputs, _outputs(model, inputs))


def test_legacy_h5_full_model_save_is_refused(tmp_path):
    model = _new_model(CLASSES[0])
    with pytest.raises(ValueError, match=r"legacy HDF5 .*\.keras"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


# ----------------------------------------------------------------------------------------------------------------------
# (d) save_pretrained of a model never called


def _most_constructor_variables(arch: str) -> Case:
    """The class of `arch` whose never-called model holds the most variables: those made in constructors (a head's
    bias, a relative-position table, a norm's scale), so not empty, yet not built."""
    return max((c for c in CLASSES if c.arch == arch), key=lambda c: len(_new_model(c).variables))


# `make test`: every other architecture (the others' never-called models go through the `.keras` file above);
# `make test-all`: every one.
@pytest.mark.parametrize("arch", ARCHS if TEST_ALL else ARCHS[1::2])
def test_save_pretrained_of_a_model_never_called(arch, tmp_path):
    import transformers

    case = _most_constructor_variables(arch)
    model = _new_model(case)
    model.save_pretrained(tmp_path)
    torch_model, info = getattr(transformers, case.class_name("torch")).from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    torch_model.config._attn_implementation = "eager"
    inputs = _inputs(case, model.config)
    assert_close(run_reference(torch_model.eval(), inputs), run_model("tf", model, inputs), "tf")
