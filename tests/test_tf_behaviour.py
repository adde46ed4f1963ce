"""Behaviour of the generated TensorFlow (Keras 3) models beyond forward parity: KV-cache decoding, gradients and
dropout, XLA compilation, Keras compile/fit/predict, checkpoints readable by transformers' PyTorch classes, the
PyTorch-name mapping of every (architecture, head), what loading a base checkpoint into a head model reports, and the
functional relative positions (one constant table; checkpoints shared with specformers' PyTorch and Flax models; inputs
longer than the table refused).
"""

import logging

import numpy as np
import pytest

from harness import (
    Case,
    sample,
    assert_close,
    cases,
    flatten,
    make_inputs,
    reference_config,
    reference_model,
    run_model,
    run_reference,
    variants,
    checked_in_turn,
    parity_frameworks,
    TEST_ALL,
)

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

CASES = cases()


def _case(arch: str, head: str, variant: str) -> Case:
    return next(c for c in CASES if (c.arch, c.head, c.variant) == (arch, head, variant))


def _tf_class(case: Case):
    import specformers

    return getattr(specformers, case.class_name("tf"))


def _tf_config(case: Case, **overrides):
    """The specformers config equal to the reference (transformers) config of `case`."""
    reference = reference_config(case, **overrides)
    return _tf_class(case).config_class.from_dict(reference.to_dict())


def _tf_model(case: Case, **overrides):
    model = _tf_class(case)(_tf_config(case, **overrides))
    model.build_with_dummy_inputs()
    return model


def _feed(inputs: dict) -> dict:
    return {k: tf.constant(v) for k, v in inputs.items()}


def _spec(arch: str):
    from harness import project

    return next(a for a in project().architectures if a.name == arch)


def _perturb(model, seed: int = 3) -> None:
    """Non-trivial LayerNorm and bias values, so that a misplaced parameter shows."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        if "gamma" in variable.path or "beta" in variable.path or variable.path.endswith("bias"):
            variable.assign(variable.numpy() + 0.2 * rng.standard_normal(variable.shape).astype(np.float32))


# ----------------------------------------------------------------------------------------------------------------------
# (a) KV cache


@pytest.mark.parametrize("variant", ["factorized", "rotary_value"])
def test_cached_decoding_matches_full_pass(variant, reference_checkpoint):
    case = _case("roformer", "causal_lm", variant)
    _, _, directory = reference_checkpoint(case)
    model = _tf_class(case).from_pretrained(directory)
    rng = np.random.default_rng(1)
    batch, seq, prefix = 2, 9, 4
    input_ids = tf.constant(rng.integers(1, 99, size=(batch, seq)))
    assert "past_key_values" in model(input_ids=input_ids, training=False)  # as config.use_cache says, as upstream TF
    assert "past_key_values" not in model(input_ids=input_ids, use_cache=False, training=False)
    full = model(input_ids=input_ids, use_cache=True, training=False)
    assert len(full.past_key_values) == model.config.num_hidden_layers
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    assert full.past_key_values[0][0].shape == (batch, model.config.num_attention_heads, seq, head_dim)

    # A prefix of several tokens, then one token at a time: positions (rotary) and the causal mask follow the cache.
    step = model(input_ids=input_ids[:, :prefix], use_cache=True, training=False)
    logits = [step.logits]
    past = step.past_key_values
    for t in range(prefix, seq):
        step = model(
            input_ids=input_ids[:, t : t + 1],
            attention_mask=tf.ones((batch, t + 1), dtype=tf.int32),
            past_key_values=past,
            use_cache=True,
            training=False,
        )
        past = step.past_key_values
        assert past[0][0].shape[2] == t + 1
        logits.append(step.logits)
    stepped = tf.concat(logits, axis=1)
    np.testing.assert_allclose(stepped.numpy(), full.logits.numpy(), atol=1e-5, rtol=0)
    for (k_full, v_full), (k_step, v_step) in zip(full.past_key_values, past):
        np.testing.assert_allclose(k_step.numpy(), k_full.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(v_step.numpy(), v_full.numpy(), atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------------------------------------------------
# (b) gradients and dropout


@pytest.mark.parametrize(
    "arch,head,variant",
    [
        ("albert", "masked_lm", "groups"),
        ("roformer", "sequence_classification", "factorized"),
        ("nezha", "pretraining", "clipped"),
        ("nezha", "next_sentence", "clipped"),
        ("nezha", "multiple_choice", "clipped"),
        ("bart", "conditional_generation", "flipped"),
        ("bart", "sequence_classification", "base"),
        ("bart", "question_answering", "flipped"),
    ],
)
def test_gradients_reach_every_variable(arch, head, variant):
    case = _case(arch, head, variant)
    model = _tf_model(case, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    feed = _feed(make_inputs(case, reference_config(case)))
    with tf.GradientTape() as tape:
        out = model(**feed, training=True)
    grads = tape.gradient(out.loss, model.trainable_variables)
    assert model.trainable_variables
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None, f"no gradient for {variable.path}"
        assert np.all(np.isfinite(tf.convert_to_tensor(grad).numpy())), f"non-finite gradient for {variable.path}"


def test_dropout_only_in_training():
    case = _case("roformer", "base", "factorized")
    model = _tf_model(case, hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
    feed = _feed(make_inputs(case, reference_config(case)))
    eval_a = model(**feed, training=False).last_hidden_state.numpy()
    eval_b = model(**feed, training=False).last_hidden_state.numpy()
    train_a = model(**feed, training=True).last_hidden_state.numpy()
    train_b = model(**feed, training=True).last_hidden_state.numpy()
    np.testing.assert_array_equal(eval_a, eval_b)
    assert np.max(np.abs(train_a - train_b)) > 1e-3
    assert np.max(np.abs(train_a - eval_a)) > 1e-3


# ----------------------------------------------------------------------------------------------------------------------
# (c) XLA


# `make test`: the last case of each architecture (a head on top of the stack); `make test-all`: every case.
@pytest.mark.parametrize(
    "arch,head,variant",
    sample(reversed([
        ("albert", "base", "groups"),
        ("albert", "pretraining", "groups"),
        ("roformer", "base", "factorized"),
        ("roformer", "causal_lm", "rotary_value"),
        ("nezha", "base", "clipped"),
        ("nezha", "pretraining", "clipped"),
        ("nezha", "next_sentence", "clipped"),
        ("bart", "sequence_classification", "base"),
        ("bart", "conditional_generation", "flipped"),
    ]), lambda item: item[0]),
)
def test_xla_matches_eager(arch, head, variant):
    case = _case(arch, head, variant)
    overrides = {"num_labels": 2} if head == "pretraining" else {}
    model = _tf_model(case, **overrides)
    feed = _feed(make_inputs(case, reference_config(case, **overrides)))

    def forward(**kwargs):
        return model(**kwargs, output_hidden_states=True, output_attentions=True, training=False)

    eager = flatten(forward(**feed))
    compiled = flatten(tf.function(forward, jit_compile=True)(**feed))
    assert set(compiled) == set(eager)
    for key in eager:
        np.testing.assert_allclose(compiled[key], eager[key], atol=1e-5, rtol=0, err_msg=key)


# ----------------------------------------------------------------------------------------------------------------------
# (d) Keras compile / fit / predict


def test_compile_fit_predict():
    case = _case("albert", "sequence_classification", "groups")
    # One shared layer: fit() traces the whole train step, and its cost grows with depth.
    model = _tf_model(case, num_hidden_layers=1, num_hidden_groups=1, inner_group_num=1)
    rng = np.random.default_rng(0)
    n, seq = 8, 7
    x = {"input_ids": rng.integers(1, 99, size=(n, seq)), "attention_mask": np.ones((n, seq), dtype=np.int64)}
    y = rng.integers(0, model.config.num_labels, size=(n,))

    # Compiled without a loss: the model's own loss (y becomes `labels`).
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    # Labels inside x work too.
    history = model.fit({**x, "labels": y}, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][-1])

    # Compiled with a Keras loss: applied to the logits.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert "accuracy" in history.history

    predictions = model.predict(x, batch_size=4, verbose=0)
    assert predictions["logits"].shape == (n, model.config.num_labels)
    assert np.all(np.isfinite(predictions["logits"]))


# Run in a fresh process: the two logical CPU devices must be configured before TensorFlow initialises its devices.
_MIRRORED_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import specformers

sys.path.insert(0, sys.argv[1])
from harness import TARGET, cases, config_kwargs

arch, head, variant, overrides = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
case = next(c for c in cases() if (c.arch, c.head, c.variant) == (arch, head, variant))
cls = getattr(specformers, case.class_name("tf"))
config = cls.config_class(**config_kwargs(case, **overrides))
rng = np.random.default_rng(0)
n, seq, batch = 12, 7, 4  # 3 steps of 4 examples, 2 per replica
x = {"input_ids": rng.integers(2, config.vocab_size, size=(n, seq)).astype(np.int32),
     "attention_mask": np.ones((n, seq), dtype=np.int32)}
# Integer labels in x, no loss compiled: the model's own loss. No ignored (-100) labels: every replica then averages
# over as many tokens, and the mean of the replicas' means is the mean over the batch.
if head == "conditional_generation":
    x["labels"] = rng.integers(2, config.vocab_size, size=(n, TARGET)).astype(np.int32)
else:
    x["labels"] = rng.integers(0, config.num_labels, size=(n,)).astype(np.int32)


class StepLosses(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(logs["loss"]))


def train(model):
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    losses = StepLosses()
    model.fit(x, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[losses])
    return losses.seen, model.get_weights()


# The same seed before each construction: the same initial weights (Keras draws each initialiser's seed then).
keras.utils.set_random_seed(0)
single = cls(config)
single.build_with_dummy_inputs()
initial = single.get_weights()
expected_losses, expected_weights = train(single)
keras.utils.set_random_seed(0)
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    # Created and compiled in the scope, never called before `fit`: an unbuilt model there would be built by Keras, by a
    # symbolic call on the replicas' mean batch (where integer ids and labels have become floats).
    losses, weights = train(cls(config))
print(json.dumps({
    "expected_losses": expected_losses,
    "losses": losses,
    "weights_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(weights, expected_weights)),
    "weights_moved": max(float(np.max(np.abs(a - b))) for a, b in zip(initial, expected_weights)),
}))
"""


# `make test`: the encoder; `make test-all`: the encoder-decoder too (each a distributed `fit` in a child process).
MIRRORED_CASES = [
    ("albert", "sequence_classification", "groups",
     dict(num_hidden_layers=1, num_hidden_groups=1, inner_group_num=1, classifier_dropout_prob=0.0)),
    ("longt5", "conditional_generation", "local", dict(num_layers=1, num_decoder_layers=1, dropout_rate=0.0)),
]


@pytest.mark.parametrize("arch,head,variant,overrides", MIRRORED_CASES if TEST_ALL else MIRRORED_CASES[:1])
def test_mirrored_fit_matches_one_device(arch, head, variant, overrides):
    """`fit` on the model's own loss under `MirroredStrategy` on 2 replicas: the same step losses and, after 3 SGD
    steps, the same weights as on one device (the loss is scaled per replica as Keras scales its own losses)."""
    import json
    import subprocess
    import sys

    from harness import ROOT

    result = subprocess.run(
        [sys.executable, "-c", _MIRRORED_SCRIPT, str(ROOT / "tests"), arch, head, variant, json.dumps(overrides)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(out["losses"]) == 3
    np.testing.assert_allclose(out["losses"], out["expected_losses"], atol=1e-5, rtol=0)
    assert out["weights_moved"] > 1e-2  # the steps did train
    assert out["weights_diff"] <= 1e-5


# ----------------------------------------------------------------------------------------------------------------------
# (e) TF checkpoint -> transformers (PyTorch)


@pytest.mark.parametrize(
    "arch,head,variant",
    [
        ("albert", "masked_lm", "groups"),
        ("roformer", "base", "factorized"),
        ("roformer", "causal_lm", "rotary_value"),
        ("nezha", "base", "clipped"),
        ("nezha", "pretraining", "clipped"),
        ("nezha", "next_sentence", "clipped"),
        ("bart", "conditional_generation", "flipped"),
        ("bart", "causal_lm", "base"),
    ],
)
def test_saved_checkpoint_loads_in_transformers(arch, head, variant, tmp_path):
    import transformers

    case = _case(arch, head, variant)
    overrides = {"num_labels": 2} if head == "pretraining" else {}
    model = _tf_model(case, **overrides)
    _perturb(model)
    model.save_pretrained(tmp_path)

    torch_model, info = getattr(transformers, case.class_name("torch")).from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    torch_model.config._attn_implementation = "eager"
    torch_model.eval()

    inputs = make_inputs(case, reference_config(case, **overrides))
    reference = run_reference(torch_model, inputs)
    assert_close(reference, run_model("tf", model, inputs), "tf")


# ----------------------------------------------------------------------------------------------------------------------
# (f) parameter names


# `make test-all`: every class in every variant but its first (`test_parity.py` saves each class in its first variant
# from every framework and requires exactly the tensors transformers wrote: names, shapes, values, tied weights written
# once; the other variants, tied or untied heads and other flags, are checked here). `make test`: the classes
# `test_parity.py` does not load in this framework (`parity_frameworks`) among those `make test` checks in TensorFlow
# and Flax (`checked_in_turn`: a later variant's further heads, in `make test-all` only), whose weight names only this
# test checks.
LATER_VARIANTS = (
    [c for c in CASES if c.variant != variants(c.arch)[0]]
    if TEST_ALL
    else [c for c in CASES if checked_in_turn(c) and "tf" not in parity_frameworks(c)]
)


@pytest.mark.parametrize("case", LATER_VARIANTS, ids=lambda c: c.id)
def test_weight_names_match_pytorch(case):
    torch_model = reference_model(case, reference_config(case))
    expected = set(torch_model.state_dict())
    weights = _tf_model(case).pytorch_weight_map()
    assert weights.names() == expected
    # Tied names are aliases in TF; the constants (rotary table) are computed, not variables.
    assert set(weights.variables) == expected - weights.tied - set(weights.constants)
    # The tied names are exactly the later names of tensors the PyTorch model shares (word embeddings and MLM decoder,
    # shared vocabulary and per-stack embed_tokens / a tied lm_head, ...).
    first_owner, tied = {}, set()
    for name, tensor in torch_model.state_dict().items():
        key = (tensor.data_ptr(), tuple(tensor.shape))
        if key in first_owner:
            tied.add(name)
        else:
            first_owner[key] = name
    assert weights.tied == tied
    for name, (variable, transposed) in weights.variables.items():
        shape = tuple(torch_model.state_dict()[name].shape)
        ours = tuple(variable.shape)[::-1] if transposed else tuple(variable.shape)
        assert ours == shape, name


# ----------------------------------------------------------------------------------------------------------------------
# (g) loading a base checkpoint into a head model


def test_base_checkpoint_into_head_reports_new_weights(reference_checkpoint, caplog):
    base_case = _case("albert", "base", "groups")
    _, torch_base, directory = reference_checkpoint(base_case)
    head_case = _case("albert", "sequence_classification", "groups")
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = _tf_class(head_case).from_pretrained(directory)
    text = caplog.text
    assert "newly initialized" in text
    for name in ("classifier.weight", "classifier.bias"):
        assert name in text
    assert "were not used" not in text
    # The base weights did load.
    word = torch_base.state_dict()["embeddings.word_embeddings.weight"].numpy()
    np.testing.assert_array_equal(model.albert.embeddings.word_embeddings.embeddings.numpy(), word)


# ----------------------------------------------------------------------------------------------------------------------
# (h) functional relative positions (any architecture whose spec has `position.kind: relative_functional`)


RELATIVE_ARCHS = [a.name for a in __import__("harness").project().architectures if a.relative is not None]


def _variant(arch: str) -> str:
    from harness import SMALL_CONFIGS

    return next(iter(SMALL_CONFIGS[arch]))


@pytest.mark.parametrize("arch", RELATIVE_ARCHS)
@pytest.mark.parametrize("framework", ["torch", "flax"])
def test_relative_checkpoint_loads_in_specformers(arch, framework, tmp_path):
    """A checkpoint saved by the TF model loads into specformers' PyTorch and Flax models, with the same outputs."""
    from harness import run_generated

    if framework == "flax":
        pytest.importorskip("jax")
    case = _case(arch, "base", _variant(arch))
    model = _tf_model(case)
    _perturb(model)
    model.save_pretrained(tmp_path)
    inputs = make_inputs(case, reference_config(case))
    ours = flatten(model(**_feed(inputs), output_hidden_states=True, output_attentions=True, training=False))
    theirs = run_generated(framework, case, str(tmp_path), inputs)
    assert_close(ours, theirs, framework)


@pytest.mark.parametrize("arch", RELATIVE_ARCHS)
def test_relative_table_is_one_constant(arch):
    """One table per model (not a variable, not in the checkpoint), equal to transformers' per-layer buffer."""
    case = _case(arch, "base", _variant(arch))
    model = _tf_model(case)
    config = model.config
    assert not [v.path for v in model.variables if "relative" in v.path]
    assert not [name for name in model.pytorch_weight_map().names() if "relative" in name]
    tables = [
        value
        for layer in model._flatten_layers(include_self=True)
        for value in vars(layer).values()
        if isinstance(value, tf.Tensor) and value.shape.rank == 3
    ]
    assert len(tables) == 1
    head_dim = config.hidden_size // config.num_attention_heads
    max_relative = getattr(config, _spec(arch).relative.max_relative_position)
    assert tuple(tables[0].shape) == (config.max_position_embeddings, config.max_position_embeddings, head_dim)
    reference = reference_model(case, reference_config(case))
    buffers = [b for name, b in reference.named_buffers() if b.dim() == 3]
    assert len(buffers) == config.num_hidden_layers  # transformers keeps one copy per layer
    np.testing.assert_allclose(tables[0].numpy(), buffers[0].numpy(), atol=1e-6, rtol=0)
    # Distances beyond the limit share the clipped row.
    table = tables[0].numpy()
    np.testing.assert_array_equal(table[0, max_relative], table[0, -1])
    np.testing.assert_array_equal(table[-1, 0], table[max_relative, 0])


@pytest.mark.parametrize("arch", RELATIVE_ARCHS)
def test_relative_input_longer_than_the_table_is_refused(arch):
    case = _case(arch, "base", _variant(arch))
    model = _tf_model(case)
    limit = model.config.max_position_embeddings
    too_long = tf.ones((1, limit + 1), dtype=tf.int32)
    with pytest.raises(ValueError, match=rf"length {limit + 1} exceeds config\.max_position_embeddings \({limit}\)"):
        model(input_ids=too_long, training=False)
    with pytest.raises(ValueError, match=rf"length {limit + 1} exceeds"):
        model(inputs_embeds=tf.zeros((1, limit + 1, model.config.hidden_size)), training=False)
    # The limit itself is fine.
    assert model(input_ids=tf.ones((1, limit), dtype=tf.int32), training=False).last_hidden_state.shape[1] == limit

    # Traced with an unknown length, the check runs in the graph.
    forward = tf.function(
        lambda ids: model(input_ids=ids, training=False).last_hidden_state,
        input_signature=[tf.TensorSpec((None, None), tf.int32)],
    )
    assert forward(tf.ones((2, 5), dtype=tf.int32)).shape == (2, 5, model.config.hidden_size)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_position_embeddings"):
        forward(too_long)
