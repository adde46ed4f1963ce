"""The generation configuration, in every framework and both stack kinds (the first encoder-decoder spec and the first
decoder-only spec; the code is the runtime's, shared by every architecture): generate() without arguments returns
transformers' token ids for a checkpoint whose config.json sets num_beams / max_length / length_penalty, a
generation_config.json beside it wins over config.json, explicit arguments win over both, save_pretrained writes a
generation_config.json that transformers reads back, and a setting generate() does not implement is a clear
ValueError (TensorFlow's search under `jit_compile`, Flax's under `jax.jit`)."""

import json
import os
import warnings

import numpy as np
import pytest

from harness import (
    DECODER_ONLY_ARCHS,
    SEQ2SEQ_ARCHS,
    Case,
    config_kwargs,
    reference_config,
    reference_model,
    spec,
    variants,
)

FRAMEWORKS = ("torch", "tf", "flax")
PROMPT = 5
# Settings that a config.json may carry (as bart-large-cnn's does), and a generation_config.json that differs.
IN_CONFIG = {"num_beams": 3, "max_length": PROMPT + 6, "length_penalty": 0.6}
IN_GENERATION_CONFIG = {"num_beams": 2, "max_length": PROMPT + 4, "length_penalty": 1.5, "early_stopping": True}


def _case(arch: str, kind: str) -> Case:
    return Case(arch, spec(arch).prefix, kind, spec(arch).head(kind).suffix, variants(arch)[0])


ENCODER_DECODER = SEQ2SEQ_ARCHS[:1]
CASES = [_case(a, "conditional_generation") for a in ENCODER_DECODER] + [_case(a, "causal_lm") for a in DECODER_ONLY_ARCHS[:1]]
pytestmark = pytest.mark.skipif(not CASES, reason="no spec that generates")


def _decoder_prompt_length(case: Case) -> int:
    return PROMPT if spec(case.arch).stack == "decoder-only" else 1


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(case, config.json settings, generation_config.json settings or None) -> (config, directory): transformers'
    checkpoint of the case with those settings written into config.json, and into its generation_config.json (None:
    the checkpoint has no generation_config.json)."""
    cache = {}

    def get(case, in_config, in_generation_config=None):
        key = (case, json.dumps(in_config, sort_keys=True), json.dumps(in_generation_config, sort_keys=True))
        if key not in cache:
            arch = spec(case.arch)
            overrides = {}
            if arch.stack != "decoder-only":
                # transformers' generate() sizes its cache by the encoder's layer count: keep the decoder as deep.
                overrides[arch.decoder.layers] = config_kwargs(case)[arch.attribute_map.get("num_hidden_layers", "num_hidden_layers")]
            config = reference_config(case, **overrides)
            directory = tmp_path_factory.mktemp(case.id)
            reference_model(case, config).save_pretrained(directory)
            path = os.path.join(directory, "config.json")
            with open(path, encoding="utf-8") as fh:
                written = json.load(fh)
            written.update(in_config)
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(written, fh)
            path = os.path.join(directory, "generation_config.json")
            if in_generation_config is None:
                os.remove(path)
            else:
                # The file transformers wrote (the special tokens), with other settings; no longer marked as derived
                # from config.json (transformers lets config.json's generation parameters override such a file).
                with open(path, encoding="utf-8") as fh:
                    written = json.load(fh)
                del written["_from_model_config"]
                with open(path, "w", encoding="utf-8") as fh:
                    json.dump({**written, **in_generation_config}, fh)
            cache[key] = (config, str(directory))
        return cache[key]

    return get


def _inputs(config) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    input_ids = rng.integers(3, config.vocab_size - 1, size=(2, PROMPT), dtype=np.int64)
    return input_ids, np.ones_like(input_ids)


def _reference(case: Case, directory: str, **kwargs) -> np.ndarray:
    """transformers' generate() on the checkpoint, with its own defaults for what `kwargs` leaves out."""
    import torch
    import transformers

    model = getattr(transformers, case.class_name("torch")).from_pretrained(directory, attn_implementation="eager").eval()
    input_ids, attention_mask = _inputs(model.config)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.generate(torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask), **kwargs)
    return out.numpy()


def _load(framework: str, case: Case, directory: str):
    import specformers

    return getattr(specformers, case.class_name(framework)).from_pretrained(directory)


def _generate(framework: str, model, compiled: bool = False, **kwargs) -> np.ndarray:
    input_ids, attention_mask = _inputs(model.config)
    if framework == "torch":
        import torch

        return model.generate(torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask), **kwargs).numpy()
    if framework == "tf":
        import tensorflow as tf

        if compiled:
            run = tf.function(lambda ids, mask: model.generate(ids, attention_mask=mask, **kwargs), jit_compile=True)
            return run(tf.constant(input_ids), tf.constant(attention_mask)).numpy()
        return model.generate(tf.constant(input_ids), attention_mask=tf.constant(attention_mask), **kwargs).numpy()
    if compiled:
        import jax

        run = jax.jit(lambda params, ids, mask: model.generate(ids, attention_mask=mask, params=params, **kwargs).sequences)
        return np.asarray(run(model.params, input_ids, attention_mask))
    return np.asarray(model.generate(input_ids, attention_mask=attention_mask, **kwargs).sequences)


def _assert_same_ids(ours: np.ndarray, expected: np.ndarray) -> None:
    """Equal ids; a compiled search keeps `max_length` columns (padding after the reference's end)."""
    assert ours.shape[0] == expected.shape[0]
    assert ours.shape[1] >= expected.shape[1]
    np.testing.assert_array_equal(ours[:, : expected.shape[1]], expected)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_config_json_settings_are_read_as_transformers_reads_them(case, framework, saved):
    """config.json's num_beams / max_length / length_penalty drive generate() without arguments (TensorFlow under
    `jit_compile`, Flax under a caller's `jax.jit`: the settings are resolved in Python, before tracing)."""
    _, directory = saved(case, IN_CONFIG)
    expected = _reference(case, directory)
    model = _load(framework, case, directory)
    assert {name: getattr(model.generation_config, name) for name in IN_CONFIG} == IN_CONFIG
    _assert_same_ids(_generate(framework, model, compiled=framework != "torch"), expected)
    # Explicit arguments win over the generation configuration.
    explicit = dict(num_beams=1, max_new_tokens=3)
    _assert_same_ids(_generate(framework, model, **explicit), _reference(case, directory, **explicit))


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_generation_config_json_wins_over_config_json(case, framework, saved):
    _, directory = saved(case, IN_CONFIG, IN_GENERATION_CONFIG)
    expected = _reference(case, directory)
    model = _load(framework, case, directory)
    assert {name: getattr(model.generation_config, name) for name in IN_GENERATION_CONFIG} == IN_GENERATION_CONFIG
    _assert_same_ids(_generate(framework, model), expected)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES[:1], ids=lambda c: c.id)
def test_default_length_is_twenty_new_tokens(case, framework, saved):
    """Without any length setting, transformers generates 20 new tokens after the (decoder) prompt."""
    _, directory = saved(case, {})
    expected = _reference(case, directory, eos_token_id=None)
    assert expected.shape[1] == _decoder_prompt_length(case) + 20
    _assert_same_ids(_generate(framework, _load(framework, case, directory), eos_token_id=[]), expected)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_save_pretrained_writes_generation_config_json(case, framework, saved, tmp_path):
    """The generation parameters of config.json move to generation_config.json (as transformers' save_pretrained
    moves them), which transformers reads back; a model that does not generate writes none."""
    import specformers
    import transformers

    _, directory = saved(case, IN_CONFIG)
    model = _load(framework, case, directory)
    model.generation_config.early_stopping = "never"
    model.save_pretrained(tmp_path / "generating")
    with open(tmp_path / "generating" / "config.json", encoding="utf-8") as fh:
        assert not set(IN_CONFIG) & set(json.load(fh))
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path / "generating")
    for name, value in {**IN_CONFIG, "early_stopping": "never"}.items():
        assert getattr(theirs, name) == value, name
    assert theirs.eos_token_id == model.generation_config.eos_token_id
    assert specformers.GenerationConfig.from_pretrained(tmp_path / "generating") == model.generation_config
    other = next(head for head in spec(case.arch).heads if head.kind != case.head)
    base = getattr(specformers, _case(case.arch, other.kind).class_name(framework))(model.config)
    assert base.generation_config is None
    base.save_pretrained(tmp_path / "base")
    assert not (tmp_path / "base" / "generation_config.json").exists()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unimplemented_settings_are_refused(case, framework, saved):
    """A setting that generate() does not implement, holding a non-default value, is a ValueError that names it,
    its value, where it came from and what to do; never silently ignored."""
    _, directory = saved(case, {**IN_CONFIG, "no_repeat_ngram_size": 3})
    model = _load(framework, case, directory)
    with pytest.raises(ValueError, match=r"no_repeat_ngram_size=3, set by model.generation_config \(read from config.json of .*model.generation_config.no_repeat_ngram_size = 0"):
        _generate(framework, model)
    model.generation_config.no_repeat_ngram_size = 0
    with pytest.raises(ValueError, match=r"min_length=4, set by the argument min_length=.*pass min_length=0"):
        _generate(framework, model, min_length=4)
    with pytest.raises(NotImplementedError, match="do_sample"):
        _generate(framework, model, do_sample=True)
    with pytest.raises(TypeError, match="no_such_setting"):
        _generate(framework, model, no_such_setting=1)
