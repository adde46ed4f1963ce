"""transformers' TensorFlow calling conventions in the generated TensorFlow (Keras 3) models: the forms of the first
argument (`BatchEncoding`, dict, list / tuple in the forward's order, Keras Functional API), `fit` forms with the
model's own loss, scalar labels, the loss shapes and output fields of transformers' TensorFlow classes (run in a
legacy-Keras subprocess), `predict`'s output object, the embedding methods, `compile(metrics=...)` without a loss and
the exported `serving_default` signature.

The code is generic; it runs on the first encoder architecture, the first encoder-decoder architecture and the first
names-layout encoder-decoder architecture that have an upstream TensorFlow module in transformers.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from harness import (
    SEQ2SEQ_ARCHS,
    TEST_ALL,
    ROOT,
    cases,
    config_kwargs,
    make_inputs,
    project,
    reference_config,
    run_reference,
    spec,
)

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def _has_upstream_tf(arch: str) -> bool:
    try:
        return importlib.util.find_spec(f"transformers.models.{arch}.modeling_tf_{arch}") is not None
    except ModuleNotFoundError:  # no package `transformers.models.<arch>` (NEZHA's is under `models.deprecated`)
        return False


ENCODER = next(a.name for a in project().architectures if not a.seq2seq and _has_upstream_tf(a.name))
# (None without such a spec: the tests then run on the other two.)
NAMES_SEQ2SEQ = next((a for a in SEQ2SEQ_ARCHS if _has_upstream_tf(a)), None)


def _positions(arch: str) -> str:
    position = spec(arch).spec.position
    return position.kind if position is not None else "absolute"


# A second encoder-decoder: the first one whose kind of positions differs from NAMES_SEQ2SEQ's (a relative bias
# instead of absolute tables), else none.
SEQ2SEQ = next((a for a in SEQ2SEQ_ARCHS if _has_upstream_tf(a) and _positions(a) != _positions(NAMES_SEQ2SEQ)), None)
# The first names-layout encoder with a masked LM and the first decoder-only stack with a causal LM (None without one):
# the models of the names-layout block.
NAMES_ENCODER = next((a.name for a in project().architectures if a.stack == "encoder" and a.names is not None and a.head("masked_lm") and _has_upstream_tf(a.name)), None)
DECODER_ONLY = next((a.name for a in project().architectures if a.stack == "decoder-only" and a.head("causal_lm") and _has_upstream_tf(a.name)), None)
CASES = cases()


def _first_case(arch: str, head: str):
    return next((c for c in CASES if c.arch == arch and c.head == head), None)


def _model(case, **overrides):
    import specformers

    config = reference_config(case, **overrides)
    cls = getattr(specformers, case.class_name("tf"))
    model = cls(cls.config_class.from_dict(config.to_dict()))
    model.build_with_dummy_inputs()
    return model, config


def _feed(inputs: dict) -> dict:
    return {k: tf.constant(v) for k, v in inputs.items()}


def _without_labels(inputs: dict) -> dict:
    from harness import LABEL_KEYS

    return {k: v for k, v in inputs.items() if k not in LABEL_KEYS}


def _close(a, b, atol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.max(np.abs(a - b)) <= atol, np.max(np.abs(a - b))


# The classification head of the encoder architecture and the generation head of the encoder-decoder ones.
CALL_CASES = [_first_case(ENCODER, "sequence_classification")] + [
    _first_case(arch, "conditional_generation") for arch in (SEQ2SEQ, NAMES_SEQ2SEQ) if arch is not None
]
# The classification head of each architecture with a further token-type table (`embeddings.task_type`), in its first
# variant that sets the table's flag: its ids are one more input of every form.
CALL_CASES += list({
    c.arch: c
    for c in reversed(CASES)
    if c.head == "sequence_classification" and spec(c.arch).task_type is not None
    and config_kwargs(c).get(spec(c.arch).task_type.flag)
}.values())

# `make test` exports (a traced fit, `model.export` and `tf.saved_model.save`: seconds each) every other case: an
# encoder-decoder's signature and an encoder's with a further token-type table; `make test-all` every case.
EXPORTED = CALL_CASES if TEST_ALL else CALL_CASES[1::2]


@pytest.mark.parametrize("case", CALL_CASES, ids=lambda c: c.id)
def test_first_argument_forms(case):
    from transformers import BatchEncoding

    model, config = _model(case)
    inputs = _feed(_without_labels(make_inputs(case, config)))
    expected = model(**inputs).logits.numpy()
    _close(model(BatchEncoding(inputs)).logits, expected)  # model(tokenizer(..., return_tensors="tf"))
    _close(model(dict(inputs)).logits, expected)
    ordered = [name for name in model._forward_names() if name in inputs]
    # A list or tuple fills the forward's arguments in order: give every argument up to the last input.
    names = model._forward_names()[: max(model._forward_names().index(n) for n in ordered) + 1]
    values = [inputs.get(name) for name in names]
    _close(model(values).logits, expected)
    _close(model(tuple(values)).logits, expected)
    with pytest.raises(ValueError, match="both in the list of inputs and as keywords"):
        model([inputs["input_ids"]], input_ids=inputs["input_ids"])
    # Keras Functional API: a dict of keras.Input through the model into a keras.Model.
    symbolic = {name: keras.Input((None,), dtype="int32", name=name) for name in inputs}
    functional = keras.Model(symbolic, model(symbolic).logits)
    _close(functional(inputs), expected)


@pytest.mark.parametrize("case", CALL_CASES, ids=lambda c: c.id)
def test_fit_forms_predict_metrics_and_export(case, tmp_path):
    from transformers import BatchEncoding

    model, config = _model(case)
    data = make_inputs(case, config)
    x, labels = _without_labels(data), data["labels"]
    # The model's own loss; eager steps (the test is about the data forms, and tracing each form costs seconds).
    model.compile(optimizer=keras.optimizers.SGD(1e-3), metrics=["accuracy"], run_eagerly=True)
    forms = [
        (BatchEncoding(x), labels),
        ({**x, "labels": labels}, None),
        (tf.data.Dataset.from_tensor_slices((x, labels)).batch(2), None),
    ]
    if case.head == "sequence_classification":
        forms.append((x["input_ids"], labels))  # `fit(input_ids, labels)`: a tensor x is the forward's first argument
    for fx, fy in forms:
        history = model.fit(fx, fy, epochs=1, verbose=0).history
        assert np.isfinite(history["loss"][-1]) and 0.0 <= history["accuracy"][-1] <= 1.0, history

    predicted = model.predict(BatchEncoding(x), verbose=0)
    assert type(predicted).__name__ == type(model(**_feed(x))).__name__
    _close(predicted.logits, model(**_feed(x)).logits)

    if case not in EXPORTED:
        return
    # After a traced fit with labels in the dict: `model.export` and `tf.saved_model.save` serve `serving_default`
    # with the model's outputs.
    model.compile(optimizer=keras.optimizers.SGD(1e-3), metrics=["accuracy"])
    assert "accuracy" in model.fit({**x, "labels": labels}, epochs=1, verbose=0).history
    serving = ("input_ids", "attention_mask", "token_type_ids", "decoder_input_ids", "decoder_attention_mask")
    task_type = spec(case.arch).task_type
    if task_type is not None and getattr(model.config, task_type.flag):
        serving += (task_type.argument,)  # the ids of the further token-type table, where the model has it
    names = {n for n in serving if n in model._forward_names()}
    feed = {name: tf.constant(x[name], tf.int32) for name in names if name in x}
    feed.update({name: tf.ones_like(feed[name[: -len("attention_mask")] + "input_ids"]) for name in names - set(feed)})
    expected = model(**feed, training=False)
    for how in ("export", "saved_model"):
        path = str(tmp_path / how)
        model.export(path, verbose=False) if how == "export" else tf.saved_model.save(model, path)
        signature = tf.saved_model.load(path).signatures["serving_default"]
        assert set(signature.structured_input_signature[1]) == names
        served = signature(**feed)
        assert set(served) == {k for k, v in expected.items() if not isinstance(v, (tuple, list))}
        for key, value in served.items():
            _close(value, expected[key])


def test_scalar_label_batch_of_one():
    case = CALL_CASES[0]
    model, config = _model(case)
    ids = tf.constant(make_inputs(case, config)["input_ids"][:1])
    scalar = model(ids, labels=tf.constant(1)).loss
    _close(scalar, model(ids, labels=tf.constant([1])).loss)
    assert tuple(scalar.shape) == (1,)


def test_embedding_methods():
    # Resized embeddings keep their rows, tied heads follow (old-vocabulary logits unchanged), untied heads too.
    resized = [(_first_case(ENCODER, "masked_lm"), {})]
    if SEQ2SEQ is not None:
        resized.append((_first_case(SEQ2SEQ, "conditional_generation"), {"tie_word_embeddings": False}))
    if NAMES_SEQ2SEQ is not None:
        # A tied LM head with a bias buffer on the logits, which follows the vocabulary.
        resized.append((_first_case(NAMES_SEQ2SEQ, "conditional_generation"), {}))
    # The names-layout block: an encoder's tied masked-LM head (a bias of its own), a decoder-only stack's causal LM
    # tied or untied.
    if NAMES_ENCODER is not None:
        resized.append((_first_case(NAMES_ENCODER, "masked_lm"), {}))
    if DECODER_ONLY is not None:
        resized += [(_first_case(DECODER_ONLY, "causal_lm"), {}), (_first_case(DECODER_ONLY, "causal_lm"), {"tie_word_embeddings": False})]
    for case, overrides in resized:
        model, config = _model(case, **overrides)
        inputs = _feed(_without_labels(make_inputs(case, config)))
        before = model(**inputs).logits.numpy()
        old = model.get_input_embeddings().embeddings.numpy().copy()
        vocab = config.vocab_size
        layer = model.resize_token_embeddings(vocab + 5)
        assert layer is model.get_input_embeddings() and model.config.vocab_size == vocab + 5
        np.testing.assert_array_equal(layer.embeddings.numpy()[:vocab], old)
        after = model(**inputs).logits.numpy()
        assert after.shape[-1] == vocab + 5
        _close(after[..., :vocab], before)
        model.compile(optimizer="sgd", run_eagerly=True)  # trains on the resized variables
        labels = inputs.get("decoder_input_ids", inputs["input_ids"])
        assert np.isfinite(model.fit({**inputs, "labels": labels}, verbose=0).history["loss"][-1])
        # set_input_embeddings: the given matrix is the one looked up (another size resizes).
        matrix = np.random.default_rng(0).standard_normal((vocab + 2, old.shape[1])).astype(np.float32)
        model.set_input_embeddings(matrix)
        np.testing.assert_array_equal(model.get_input_embeddings().embeddings.numpy(), matrix)
        assert model(**inputs).logits.shape[-1] == vocab + 2
        with pytest.raises(NotImplementedError, match="head_mask"):  # as transformers' TensorFlow models
            model.prune_heads({0: [0]})


def test_causal_lm_heads_return_their_cache_as_config_use_cache_says():
    # Every encoder stack with a causal-LM head returns its cache as `use_cache`, or else config.use_cache, says (as
    # transformers' TensorFlow classes, whose input processing fills a missing `use_cache` from the config, and its
    # PyTorch classes); one whose spec says `decoder.cache_default: "off"` only when asked for, as its PyTorch class.
    # A decoder-only stack returns its cache as config.use_cache says, as transformers' TF GPT-2 does.
    checked = set()
    for case in [_first_case(a.name, "causal_lm") for a in project().architectures if a.head("causal_lm") and a.stack == "encoder"]:
        model, config = _model(case)
        ids = tf.constant(make_inputs(case, config)["input_ids"])
        off = spec(case.arch).decoder.cache_default == "off"
        assert config.use_cache
        assert list(model(ids).keys()) == (["logits"] if off else ["logits", "past_key_values"]), case.id
        assert list(model(ids, use_cache=False).keys()) == ["logits"], case.id
        assert len(model(ids, use_cache=False, return_dict=False)) == 1
        assert "past_key_values" in model(ids, use_cache=True)
        checked.add(off)
    assert checked == {True, False}, checked
    for case in [_first_case(a.name, "causal_lm") for a in project().architectures if a.stack == "decoder-only"]:
        model, config = _model(case)
        ids = tf.constant(make_inputs(case, config)["input_ids"])
        # (Beside the fields a config flag adds, such as router logits and their loss.)
        with_cache, without = list(model(ids, use_cache=True).keys()), list(model(ids, use_cache=False).keys())
        assert "logits" in with_cache and "past_key_values" in with_cache, case.id
        assert without == [k for k in with_cache if k != "past_key_values"], case.id
        # Not asked: as config.use_cache says (MPT's configuration defaults it to False).
        assert list(model(ids).keys()) == (with_cache if config.use_cache else without), case.id


# ----------------------------------------------------------------------------------------------------------------------
# Against transformers' TensorFlow classes (legacy Keras, in a subprocess)

_UPSTREAM_SCRIPT = """
import inspect, json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import transformers
out = {}
for key, class_name, directory, inputs_path in [line.split("\\t") for line in sys.stdin.read().splitlines()]:
    try:
        model = getattr(transformers, "TF" + class_name).from_pretrained(directory, from_pt=True)
    except NotImplementedError as error:  # a configuration transformers' TF class cannot hold (an odd width, say)
        print("cannot hold", key, error, file=sys.stderr)
        continue
    inputs = dict(np.load(inputs_path))
    accepted = inspect.signature(model.call).parameters
    if "labels" in inputs and "labels" not in accepted and "next_sentence_label" in accepted:
        inputs["next_sentence_label"] = inputs.pop("labels")  # transformers' TF next-sentence classes name it so
    with_labels = model(**inputs, training=False)
    labels = ("labels", "start_positions", "end_positions", "next_sentence_label", "sentence_order_label")
    without = model(**{k: v for k, v in inputs.items() if k not in labels}, training=False)
    out[key] = {
        "loss": np.asarray(with_labels.loss).tolist(),
        "keys": list(with_labels.keys()),
        "keys_without_labels": list(without.keys()),
    }
print(json.dumps(out))
"""

# The first encoder and encoder-decoder architectures, and every names-layout one (its blocks and heads are other
# templates): each head with a loss, in the first variant transformers' TF class can hold.
UPSTREAM_ARCHS = {ENCODER, SEQ2SEQ} - {None} | {a.name for a in project().architectures if a.names is not None and _has_upstream_tf(a.name)}
UPSTREAM_CANDIDATES = {}  # (arch, head) -> its cases, variant by variant
for _c in CASES:
    # (Not the replaced-token discriminator: transformers' TensorFlow class of that head takes no labels, so it has
    # no loss to compare.)
    if _c.arch in UPSTREAM_ARCHS and _c.head not in ("base", "seq2seq", "encoder", "discriminator"):
        UPSTREAM_CANDIDATES.setdefault((_c.arch, _c.head), []).append(_c)
if not TEST_ALL:
    # `make test`: each head kind of each stack kind once (the architectures in turn), and every architecture once (a
    # head of its own in turn), among the heads transformers has a TensorFlow class of; `make test-all`: every head of
    # every architecture.
    import transformers as _transformers

    UPSTREAM_CANDIDATES = {k: v for k, v in UPSTREAM_CANDIDATES.items() if hasattr(_transformers, v[0].class_name("tf"))}
    _used: dict = {}
    _kept = {}
    for (_arch, _head) in sorted(UPSTREAM_CANDIDATES, key=lambda k: (k[1], k[0])):
        _kind = (spec(_arch).stack, spec(_arch).names is not None, _head)
        if _kind not in {(spec(a).stack, spec(a).names is not None, h) for a, h in _kept}:
            _options = [a for a, h in UPSTREAM_CANDIDATES if h == _head and (spec(a).stack, spec(a).names is not None) == _kind[:2]]
            _choice = min(_options, key=lambda a: (_used.get(a, 0), _options.index(a)))
            _used[_choice] = _used.get(_choice, 0) + 1
            _kept[(_choice, _head)] = UPSTREAM_CANDIDATES[(_choice, _head)]
    for _index, _arch in enumerate(sorted(UPSTREAM_ARCHS - set(_used))):
        _heads = [h for a, h in UPSTREAM_CANDIDATES if a == _arch]
        _kept.setdefault((_arch, _heads[_index % len(_heads)]), UPSTREAM_CANDIDATES[(_arch, _heads[_index % len(_heads)])])
    UPSTREAM_CANDIDATES = _kept


@pytest.fixture(scope="module")
def upstream(reference_checkpoint, tmp_path_factory):
    """Each (architecture, head) in its first variant transformers' TF class can hold: that class's loss and fields,
    from a legacy-Keras subprocess (a second one tries the next variants of those it could not hold)."""
    import transformers

    pending = {key: list(cases) for key, cases in UPSTREAM_CANDIDATES.items() if hasattr(transformers, cases[0].class_name("tf"))}
    found = {}
    while pending:
        jobs, data = [], {}
        for key, cases in pending.items():
            case = cases.pop(0)
            config, _, directory = reference_checkpoint(case)
            inputs = make_inputs(case, config)
            if case.head == "question_answering":
                # Inside the sequence: transformers' TensorFlow span loss does not ignore clamped positions (PyTorch's does).
                for name in ("start_positions", "end_positions"):
                    inputs[name] = inputs[name] % inputs["input_ids"].shape[1]
            path = tmp_path_factory.mktemp("inputs") / f"{case.id}.npz"
            np.savez(path, **inputs)
            jobs.append(f"{case.id}\t{case.class_name('torch')}\t{directory}\t{path}")
            data[case.id] = (case, directory, inputs)
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        env.pop("KERAS_BACKEND", None)
        done = subprocess.run(
            [sys.executable, "-c", _UPSTREAM_SCRIPT], input="\n".join(jobs), text=True, env=env, cwd=ROOT, capture_output=True
        )
        assert done.returncode == 0, f"transformers' TensorFlow classes failed:\n{done.stderr[-3000:]}"
        results = json.loads(done.stdout.strip().splitlines()[-1])
        for case_id, (case, directory, inputs) in data.items():
            if case_id in results:
                found[case] = (directory, inputs, results[case_id])
                pending.pop((case.arch, case.head))
        for key, cases in list(pending.items()):
            assert cases, f"transformers' TensorFlow class of {key} could hold none of the test variants"
    return found


def _with_pytorch_cache(keys: list, torch_fields: dict) -> list:
    """Upstream TensorFlow's output fields, with or without the cache as transformers' PyTorch class returns it where
    the two disagree (PyTorch's fields are the ones kept): given labels, its causal-LM classes of encoder stacks
    return no cache (nothing to continue from) while their TensorFlow ports do; RoFormer's causal LM returns one while
    its TensorFlow port does not."""
    torch_keys = list(dict.fromkeys(k.split(".")[0] for k in torch_fields))
    if "past_key_values" in keys and "past_key_values" not in torch_keys:
        return [k for k in keys if k != "past_key_values"]
    if "past_key_values" in torch_keys and "past_key_values" not in keys:
        keys = list(keys)
        keys.insert(torch_keys.index("past_key_values"), "past_key_values")
    return list(keys)


def test_loss_shapes_values_and_fields_match_upstream_tf(upstream, reference_checkpoint):
    import specformers

    assert {c.head for c in upstream} >= {"conditional_generation", "sequence_classification", "masked_lm", "causal_lm"}
    assert {c.arch for c in upstream} == UPSTREAM_ARCHS
    torch_models = {case: reference_checkpoint(case)[1] for case in upstream}
    compared_per_example = set()
    for case, (directory, inputs, reference) in upstream.items():
        model = getattr(specformers, case.class_name("tf")).from_pretrained(directory)
        torch_fields = run_reference(torch_models[case], inputs)
        torch_loss = torch_fields["loss"]
        ours = model(**_feed(inputs), training=False)
        # transformers' TensorFlow shape ((1,) or (batch,)); PyTorch's value (the mean). Per-example losses equal
        # upstream TensorFlow's one by one (the inputs hold no ignored label, where the two libraries differ); a
        # reduced one may not (upstream TensorFlow's pretraining losses, say), and PyTorch's value is the one kept.
        upstream_loss = np.asarray(reference["loss"], np.float32)
        assert tuple(ours.loss.shape) == upstream_loss.shape, case.id
        _close(np.mean(ours.loss.numpy()), torch_loss, atol=1e-5)
        # Where transformers' TensorFlow port computes another loss than its PyTorch class (TFMistral has no sliding
        # window), PyTorch's is the one kept: per-example values are compared where the two agree on the mean.
        if upstream_loss.shape != (1,) and abs(float(np.mean(upstream_loss)) - float(torch_loss)) <= 1e-5:
            _close(ours.loss, upstream_loss)
            compared_per_example.add(case.arch)
        expected_keys = _with_pytorch_cache(reference["keys"], torch_fields)
        assert list(ours.keys()) == expected_keys, case.id
        # The fields without labels, in order (tuple positions).
        expected_without = _with_pytorch_cache(reference["keys_without_labels"], run_reference(torch_models[case], _without_labels(inputs)))
        assert list(model(**_feed(_without_labels(inputs)), training=False).keys()) == expected_without, case.id
    # The comparison cannot pass vacuously: the seeded encoder and encoder-decoder families agree with upstream.
    assert compared_per_example >= {ENCODER, SEQ2SEQ} & {c.arch for c in upstream if c.head == "sequence_classification"}, compared_per_example
