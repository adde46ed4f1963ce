"""Checkpoint interoperability in every framework: transformers' layouts in (safetensors, .bin, sharded indexes, upstream
TF `tf_model.h5` and Flax `flax_model.msgpack`), transformers' sharded safetensors out, dtypes, configuration
overrides, and errors that say what to do."""

import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from harness import (
    DECODER_ONLY_ARCHS,
    ROOT,
    assert_close,
    cases,
    alternating_params,
    make_inputs,
    project,
    reference_config,
    reference_model,
    run_model,
    run_reference,
    turn_params,
    variants,
)

FRAMEWORKS = ("torch", "tf", "flax")


def _case(arch, head, variant=None):
    return next(c for c in cases() if c.arch == arch and c.head == head and (variant is None or c.variant == variant))


def _cls(case, framework):
    import specformers

    return getattr(specformers, case.class_name(framework))


def _shards(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith("model-") and n.endswith(".safetensors"))


def _saved_keys(directory):
    """Every tensor name of the safetensors checkpoint in `directory` (sharded or not)."""
    from safetensors import safe_open

    names = _shards(directory) or ["model.safetensors"]
    keys = set()
    for name in names:
        with safe_open(os.path.join(directory, name), framework="np") as fh:
            keys |= set(fh.keys())
    return keys


# ----------------------------------------------------------------------------------------------------------------------
# Reading transformers' PyTorch layouts


MLM = _case("albert", "masked_lm")
LAYOUTS = {
    "safetensors": dict(),
    "safetensors-sharded": dict(max_shard_size="20KB"),
    "bin": dict(safe_serialization=False),
    "bin-sharded": dict(safe_serialization=False, max_shard_size="20KB"),
}
EXPECTED_FILES = {
    "safetensors": "model.safetensors",
    "safetensors-sharded": "model.safetensors.index.json",
    "bin": "pytorch_model.bin",
    "bin-sharded": "pytorch_model.bin.index.json",
}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """The ALBERT MLM reference saved by transformers in each PyTorch layout: `{layout: directory}`."""
    config = reference_config(MLM)
    model = reference_model(MLM, config)
    out = {}
    for layout, kwargs in LAYOUTS.items():
        directory = tmp_path_factory.mktemp(layout)
        model.save_pretrained(directory, **kwargs)
        assert (directory / EXPECTED_FILES[layout]).is_file()
        out[layout] = str(directory)
    return config, model, out


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_reads_every_pytorch_layout(layout, framework, layouts):
    config, reference, directories = layouts
    inputs = make_inputs(MLM, config)
    model = _cls(MLM, framework).from_pretrained(directories[layout])
    assert_close(run_reference(reference, inputs, framework), run_model(framework, model, inputs), framework)


def test_bin_is_read_with_weights_only(tmp_path):
    """A .bin holding anything but tensors is refused (never unpickled), naming the file."""
    import torch

    torch.save({"weight": torch.zeros(2), "payload": object.__new__(_Payload)}, tmp_path / "pytorch_model.bin")
    reference_config(MLM).save_pretrained(tmp_path)
    with pytest.raises(OSError, match=r"cannot read .*pytorch_model\.bin: it pickles Python objects other than tensors.*weights_only=True"):
        _cls(MLM, "torch").from_pretrained(tmp_path)


class _Payload:
    def __reduce__(self):
        return (os.getpid, ())


# ----------------------------------------------------------------------------------------------------------------------
# Round trips: transformers PT -> specformers {PT, TF, Flax} -> sharded save -> transformers PT


ROUND_TRIP = [
    _case("albert", "masked_lm"),
    _case("bert", "pretraining"),
    _case("roberta", "masked_lm", "pad5_left"),
    _case("electra", "masked_lm", "factorized"),
    _case("electra", "discriminator", "mean_summary"),
    _case("roformer", "masked_lm", "factorized"),
    _case("nezha", "pretraining"),
    # Every other encoder spec: its pretraining (else masked-LM, else first) head on its first variant.
    *[
        _case(a.name, next((h for h in ("pretraining", "masked_lm") if h in [x.kind for x in a.heads]), a.heads[0].kind))
        for a in project().architectures
        if a.stack == "encoder" and a.name not in ("albert", "bert", "roberta", "electra", "roformer", "nezha")
    ],
    # Every encoder-decoder spec, with tied and untied embeddings (its first two variants).
    *[
        _case(a.name, "conditional_generation", variant)
        for a in project().architectures
        if a.seq2seq
        for variant in variants(a.name)[:2]
    ],
    # Every decoder-only spec's causal LM, on its last variant (its fused or separate projections, a tied or untied LM
    # head as the variant says).
    *[_case(arch, "causal_lm", variants(arch)[-1]) for arch in DECODER_ONLY_ARCHS],
]


# Every case in PyTorch; in TensorFlow and Flax the first in both and the others in turn (`make test-all`: every case
# in all three). The sharded writing and reading is one runtime per framework; each class's names and tensors, saved
# unsharded, are test_parity's.
@pytest.mark.parametrize("case,framework", alternating_params(ROUND_TRIP, lambda c: c.id))
def test_round_trip_through_sharded_save(case, framework, reference_checkpoint, tmp_path):
    import transformers

    if framework == "flax" and case.arch == "roformer":
        case = _case("roformer", "masked_lm", "rotary_value")  # Flax has no E != H projection (as upstream)
    config, reference, directory = reference_checkpoint(case)
    model = _cls(case, framework).from_pretrained(directory)
    model.save_pretrained(tmp_path, max_shard_size="30KB")

    shards = _shards(tmp_path)
    assert len(shards) > 1 and not (tmp_path / "model.safetensors").exists()
    assert shards == [f"model-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)
    sizes = {}
    for shard in shards:
        from safetensors import safe_open

        with safe_open(tmp_path / shard, framework="np") as fh:
            for key in fh.keys():
                assert index["weight_map"][key] == shard
                sizes[key] = fh.get_tensor(key).nbytes
    assert index["metadata"]["total_size"] == sum(sizes.values())
    # Tied weights saved once, exactly as transformers saves this model.
    assert set(index["weight_map"]) == _saved_keys(directory)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], "staging folder left behind"

    torch_class = getattr(transformers, case.class_name("torch"))
    back, info = torch_class.from_pretrained(tmp_path, output_loading_info=True)
    # Exactly what transformers reports for its own checkpoint (an untied LongT5 saves no embed_tokens, and
    # transformers lists them as missing before re-tying them to `shared`).
    _, own_info = torch_class.from_pretrained(directory, output_loading_info=True)
    assert info == own_info and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    back.config._attn_implementation = "eager"
    inputs = make_inputs(case, config)
    assert_close(run_reference(reference, inputs), run_reference(back.eval(), inputs), "torch")


def test_resave_replaces_previous_layout(reference_checkpoint, tmp_path):
    """Saving unsharded over a sharded checkpoint (or a .bin) leaves only the new weights."""
    config, reference, directory = reference_checkpoint(MLM)
    model = _cls(MLM, "torch").from_pretrained(directory)
    model.save_pretrained(tmp_path, max_shard_size="30KB")
    (tmp_path / "pytorch_model.bin").write_bytes(b"stale")
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]


@pytest.mark.parametrize(
    "size,expected",
    [(1000, 1000), ("200MB", 200 * 10**6), ("5GB", 5 * 10**9), ("1GiB", 2**30), ("10KiB", 10240), ("8Mb", 10**6)],
)
def test_max_shard_size_parsing(size, expected):
    from specformers.checkpoint import parse_shard_size

    assert parse_shard_size(size) == expected


def test_bad_max_shard_size_is_reported(reference_checkpoint, tmp_path):
    _, _, directory = reference_checkpoint(MLM)
    model = _cls(MLM, "torch").from_pretrained(directory)
    with pytest.raises(ValueError, match=r"max_shard_size='5 parsecs' is not a size.*'5GB'"):
        model.save_pretrained(tmp_path, max_shard_size="5 parsecs")
    assert not os.listdir(tmp_path)


# ----------------------------------------------------------------------------------------------------------------------
# Atomic saves


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_interrupted_save_never_loads_with_missing_weights(framework, reference_checkpoint, tmp_path, monkeypatch):
    import safetensors.numpy
    import safetensors.torch

    config, reference, directory = reference_checkpoint(MLM)
    cls = _cls(MLM, framework)
    model = cls.from_pretrained(directory)
    target = tmp_path / "checkpoint"
    model.save_pretrained(target)
    inputs = make_inputs(MLM, config)
    expected = run_reference(reference, inputs, framework)

    # (1) A shard fails to write: the previous checkpoint is untouched and still loads.
    module = safetensors.torch if framework == "torch" else safetensors.numpy
    real_save, calls = module.save_file, []

    def failing_save(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(module, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        model.save_pretrained(target, max_shard_size="30KB")
    monkeypatch.setattr(module, "save_file", real_save)
    assert sorted(os.listdir(target)) == ["config.json", "model.safetensors"]
    assert_close(expected, run_model(framework, cls.from_pretrained(target), inputs), framework)

    # (2) Interrupted while moving files in: what is left does not load (an error naming the files looked for).
    import specformers.checkpoint as checkpoint

    real_replace, moves = os.replace, []

    def failing_replace(src, dst):
        moves.append(dst)
        if len(moves) == 3:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(target, max_shard_size="30KB")
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert not [n for n in os.listdir(target) if n.startswith(".")], "staging folder left behind"
    with pytest.raises(OSError, match=r"no weights found .*model\.safetensors\.index\.json"):
        cls.from_pretrained(target)


# ----------------------------------------------------------------------------------------------------------------------
# Upstream TensorFlow (tf_model.h5) and Flax (flax_model.msgpack) checkpoints


def _upstream_has(arch, kind) -> bool:
    """Whether transformers ships a TensorFlow / Flax port of `arch` (looked up on disk: importing one here would
    load upstream's TensorFlow next to specformers' Keras 3)."""
    import importlib.util

    package = os.path.dirname(importlib.util.find_spec("transformers").origin)
    # transformers' module of a model type: its hyphens become underscores (xlm-roberta -> models/xlm_roberta).
    module = next(a.model_type for a in project().architectures if a.name == arch).replace("-", "_")
    framework = "tf" if kind.startswith("tf_h5") else "flax"
    return os.path.exists(os.path.join(package, "models", module, f"modeling_{framework}_{module}.py"))


def _upstream_flax_fails(arch) -> bool:
    """Whether transformers' Flax port of `arch` fails on current JAX: it (or the port it imports its modules from, as
    mT5's T5's) calls `jnp.clip(a_max=)`, which current JAX no longer takes (T5 and kin)."""
    import importlib.util

    package = os.path.dirname(importlib.util.find_spec("transformers").origin)
    module = next(a.model_type for a in project().architectures if a.name == arch).replace("-", "_")
    path = os.path.join(package, "models", module, f"modeling_flax_{module}.py")
    if not os.path.exists(path):
        return False
    text = open(path, encoding="utf-8").read()
    imported = re.findall(r"from \.\.(\w+)\.modeling_flax_\1 import", text)
    return "a_max=" in text or any(_upstream_flax_fails_module(package, name) for name in imported)


def _upstream_flax_fails_module(package, module) -> bool:
    path = os.path.join(package, "models", module, f"modeling_flax_{module}.py")
    return os.path.exists(path) and "a_max=" in open(path, encoding="utf-8").read()


# Encoder-decoder specs whose Flax checkpoints specformers' own Flax classes write (below), not upstream's port: those
# transformers has no Flax port of, and those whose upstream port fails on current JAX (LongT5's among them).
FLAX_WRITTEN_HERE = [
    a.name
    for a in project().architectures
    if a.seq2seq and (not _upstream_has(a.name, "flax_msgpack") or _upstream_flax_fails(a.name))
]

# Every architecture transformers has a TF / Flax port of, as its masked-LM (or conditional-generation, or causal-LM)
# head. Upstream's Flax ports of T5 and kin fail on current JAX (`jnp.clip(a_max=)`): those, and the
# encoder-decoders', are written by specformers' own Flax classes below; those of the other names-layout
# encoder-decoders work. The variant is the first of the spec's test variants upstream's port can hold
# (upstream Flax RoFormer has no E != H projection, for instance): the fixture tries them in order.
_UPSTREAM_GROUPS = {}
for _arch in project().architectures:
    _heads = [h.kind for h in _arch.heads]
    _first = next((h for h in ("masked_lm", "conditional_generation", "causal_lm") if h in _heads), _heads[-1])
    for _kind in ("tf_h5", "flax_msgpack"):
        if _upstream_has(_arch.name, _kind) and not (_kind == "flax_msgpack" and _arch.name in FLAX_WRITTEN_HERE):
            _UPSTREAM_GROUPS.setdefault(_kind, []).append((_arch.name, _first))
for _kind in ("tf_h5", "flax_msgpack"):
    # A base model too (upstream's TF / Flax names of a model without a head), and sharded by transformers
    # (tf_model.h5.index.json / flax_model.msgpack.index.json): the first architecture of each kind.
    _UPSTREAM_GROUPS[_kind].append((_UPSTREAM_GROUPS[_kind][0][0], "base"))
    _UPSTREAM_GROUPS[f"{_kind}-sharded"] = _UPSTREAM_GROUPS[_kind][:1]
UPSTREAM = [(kind, arch, head) for kind, groups in _UPSTREAM_GROUPS.items() for arch, head in groups]
UPSTREAM_FILES = {
    "tf_h5": "tf_model.h5",
    "flax_msgpack": "flax_model.msgpack",
    "tf_h5-sharded": "tf_model.h5.index.json",
    "flax_msgpack-sharded": "flax_model.msgpack.index.json",
}

# Reads groups of candidate conversions (one line each: key, kind, source, class, target; a blank line ends a group),
# converts the first candidate of each group that upstream's class can hold and prints its key.
_UPSTREAM_SCRIPT = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import transformers
for group in sys.stdin.read().split("\\n\\n"):
    for key, kind, source, class_name, out in [line.split("\\t") for line in group.splitlines()]:
        try:
            cls = getattr(transformers, ("TF" if kind.startswith("tf_h5") else "Flax") + class_name)
            model = cls.from_pretrained(source, from_pt=True)
            model.save_pretrained(out, **({"max_shard_size": "20KB"} if kind.endswith("sharded") else {}))
        except Exception as error:  # a class or variant upstream's port does not have: try the next
            print("skip", key, type(error).__name__, file=sys.stderr)
            continue
        print("converted", key, flush=True)
        break
"""


@pytest.fixture(scope="module")
def upstream(reference_checkpoint, tmp_path_factory):
    """Each UPSTREAM case converted from its PyTorch reference by transformers' own TF / Flax class, in a subprocess
    (upstream TF needs legacy Keras, which must never be loaded next to specformers' Keras 3 code)."""
    groups, candidates = [], {}
    for kind, arch, head in UPSTREAM:
        lines = []
        for variant in variants(arch):
            case = _case(arch, head, variant)
            overrides = {"num_labels": 2} if case.head == "pretraining" else {}
            config, reference, directory = reference_checkpoint(case, **overrides)
            target = tmp_path_factory.mktemp(f"{kind}-{case.id}")
            key = f"{kind}:{case.id}"
            lines.append(f"{key}\t{kind}\t{directory}\t{case.class_name('torch')}\t{target}")
            candidates[key] = (kind, arch, head), (case, config, reference, str(target))
        groups.append("\n".join(lines))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run(
        [sys.executable, "-c", _UPSTREAM_SCRIPT], input="\n\n".join(groups), text=True, check=True, env=env,
        cwd=ROOT, capture_output=True,
    )
    return dict(candidates[line.split()[1]] for line in done.stdout.splitlines() if line.startswith("converted "))


# Each upstream checkpoint is read by every framework in `make test-all`; in `make test` by one, the frameworks taking
# the checkpoints in turn: reading a tf_model.h5 / flax_model.msgpack maps its names to transformers' PyTorch layout
# once for every framework, and each framework's loading of that layout is test_parity's.
UPSTREAM_READS = turn_params(UPSTREAM, "-".join, lambda i, _: FRAMEWORKS[i % len(FRAMEWORKS) :][:1], FRAMEWORKS)


# One worker runs them all (`make test` distributes with `--dist loadgroup`): the conversion fixture behind them takes
# about a minute, which each worker would otherwise pay.
@pytest.mark.xdist_group("upstream-conversions")
@pytest.mark.parametrize("kind,arch,head,framework", UPSTREAM_READS)
def test_reads_upstream_tf_and_flax_checkpoints(kind, arch, head, framework, upstream):
    assert (kind, arch, head) in upstream, f"transformers' {kind} port could hold none of {arch}'s test variants"
    case, config, reference, directory = upstream[kind, arch, head]
    names = set(os.listdir(directory))
    assert UPSTREAM_FILES[kind] in names
    assert not names & {"model.safetensors", "pytorch_model.bin"}
    model, info = _cls(case, framework).from_pretrained(directory, output_loading_info=True)
    assert info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    # The only tensors an upstream checkpoint may lack are constant tables every framework computes (a sinusoidal
    # position table, which upstream's Flax ports do not store).
    assert not [k for k in info["missing_keys"] if not k.endswith("embed_positions.weight")]
    inputs = make_inputs(case, config)
    assert_close(run_reference(reference, inputs, framework), run_model(framework, model, inputs), framework)


# No upstream Flax class can write these (NEZHA and ERNIE have none; LongT5's fails on current JAX; every encoder-decoder spec is
# run the same way): the msgpack is written the way transformers' Flax save_pretrained writes one
# (`flax.serialization.to_bytes` of the parameter tree), from specformers' Flax model, whose tree has upstream's layout.
WITHOUT_UPSTREAM_FLAX = [
    _case(a.name, "masked_lm")
    for a in project().architectures
    if a.stack == "encoder" and "masked_lm" in [h.kind for h in a.heads] and not _upstream_has(a.name, "flax_msgpack")
] + [_case(arch, "conditional_generation") for arch in FLAX_WRITTEN_HERE]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", WITHOUT_UPSTREAM_FLAX, ids=lambda c: c.id)
def test_reads_flax_msgpack_without_upstream_class(case, framework, reference_checkpoint, tmp_path):
    import shutil

    from flax.serialization import to_bytes

    config, reference, directory = reference_checkpoint(case)
    params = _cls(case, "flax").from_pretrained(directory).params
    (tmp_path / "flax_model.msgpack").write_bytes(to_bytes(params))
    shutil.copy(os.path.join(directory, "config.json"), tmp_path / "config.json")
    model, info = _cls(case, framework).from_pretrained(tmp_path, output_loading_info=True)
    assert info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    inputs = make_inputs(case, config)
    assert_close(run_reference(reference, inputs, framework), run_model(framework, model, inputs), framework)


def test_tf_and_flax_names_are_converted_generically():
    from specformers.checkpoint import flax_path_to_pytorch, tf_weight_name_to_pytorch

    assert tf_weight_name_to_pytorch("tf_albert_model/albert/encoder/albert_layer_groups_._1/albert_layers_._0/ffn/kernel:0") == (
        "albert.encoder.albert_layer_groups.1.albert_layers.0.ffn.weight", True)
    assert tf_weight_name_to_pytorch("tf_ro_former_for_masked_lm/mlm___cls/predictions/transform/LayerNorm/beta:0") == (
        "cls.predictions.transform.LayerNorm.bias", False)
    assert tf_weight_name_to_pytorch("m/roformer/encoder/embed_positions/embeddings:0") == (
        "roformer.encoder.embed_positions.weight", False)
    # transformers' sharded TF files name weights without the model's scope.
    assert tf_weight_name_to_pytorch("mlm___cls/predictions/bias:0", scoped=False) == ("cls.predictions.bias", False)
    assert flax_path_to_pytorch(("encoder", "layer", "0", "output", "LayerNorm", "scale")) == (
        "encoder.layer.0.output.LayerNorm.weight", False)
    assert flax_path_to_pytorch(("shared", "embedding")) == ("shared.weight", False)


# ----------------------------------------------------------------------------------------------------------------------
# dtype, config overrides and keywords


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "torch.float16", "torch_dtype=bfloat16", "auto"])
def test_torch_dtype(dtype, reference_checkpoint):
    import torch

    config, reference, directory = reference_checkpoint(MLM)
    if dtype.startswith("torch_dtype="):
        name = dtype.split("=")[1]
        model = _cls(MLM, "torch").from_pretrained(directory, torch_dtype=getattr(torch, name))
    else:
        name = {"auto": "float32", "torch.float16": "float16"}.get(dtype, dtype)
        model = _cls(MLM, "torch").from_pretrained(directory, dtype=dtype)
    assert model.dtype == getattr(torch, name)
    theirs = reference.state_dict()
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            assert value.dtype == getattr(torch, name), key
            assert torch.equal(value, theirs[key].to(value.dtype)), key


@pytest.mark.parametrize("framework", ["tf", "flax"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_tf_and_flax_dtype(framework, dtype, reference_checkpoint, tmp_path):
    config, reference, directory = reference_checkpoint(MLM)
    inputs = {k: v for k, v in make_inputs(MLM, config).items() if k == "input_ids"}
    if framework == "tf":
        import tensorflow as tf

        model = _cls(MLM, "tf").from_pretrained(directory, dtype=getattr(tf, dtype))
        assert {v.dtype for v in model.weights} == {dtype}
        logits = model(**{k: tf.constant(v) for k, v in inputs.items()}).logits
        assert logits.dtype == getattr(tf, dtype)
        # Saved in that dtype, as transformers records it.
        import torch
        import transformers

        model.save_pretrained(tmp_path)
        assert json.loads((tmp_path / "config.json").read_text())["dtype"] == dtype
        back = transformers.AlbertForMaskedLM.from_pretrained(tmp_path, dtype="auto")
        assert back.dtype == getattr(torch, dtype)
        word = back.albert.embeddings.word_embeddings.weight
        expected = reference.albert.embeddings.word_embeddings.weight.to(getattr(torch, dtype))
        assert torch.equal(word, expected)
    else:
        import jax.numpy as jnp

        model = _cls(MLM, "flax").from_pretrained(directory, torch_dtype=dtype)
        assert model.dtype == getattr(jnp, dtype)
        logits = model(**{k: jnp.asarray(v) for k, v in inputs.items()}).logits
        assert logits.dtype == getattr(jnp, dtype)
    assert np.isfinite(np.asarray(logits, dtype=np.float32)).all()


def test_bfloat16_checkpoint_loads_everywhere(reference_checkpoint, tmp_path):
    """A bfloat16 safetensors (written by transformers) is read by TF and Flax too (widened exactly to float32)."""
    import torch

    config, reference, _ = reference_checkpoint(MLM)
    reference.to(torch.bfloat16).save_pretrained(tmp_path)
    reference.to(torch.float32)
    expected = {k: v.to(torch.bfloat16).float().numpy() for k, v in reference.state_dict().items()}
    state = _cls(MLM, "flax").from_pretrained(tmp_path).state_dict()
    for key, value in state.items():
        if key in expected:
            np.testing.assert_array_equal(value, expected[key], err_msg=key)
    tf_model = _cls(MLM, "tf").from_pretrained(tmp_path)
    word = tf_model.pytorch_weight_map().variables["albert.embeddings.word_embeddings.weight"][0]
    np.testing.assert_array_equal(word.numpy(), expected["albert.embeddings.word_embeddings.weight"])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_config_overrides_and_unknown_keywords(framework, reference_checkpoint):
    import specformers

    case = _case("albert", "sequence_classification")
    config, reference, directory = reference_checkpoint(case)
    cls = _cls(case, framework)
    model = cls.from_pretrained(directory, problem_type="regression", output_hidden_states=True, hidden_dropout_prob=0.3)
    assert model.config.problem_type == "regression" and model.config.output_hidden_states is True
    assert model.config.hidden_dropout_prob == 0.3 and model.config.num_labels == 3
    # config= replaces config.json; keywords still override it (on a copy).
    given = specformers.AlbertConfig.from_pretrained(directory)
    model = cls.from_pretrained(directory, config=given, output_attentions=True)
    assert model.config.output_attentions is True and given.output_attentions is False
    # config= may also be a path to a config.json or its directory, as in transformers.
    assert cls.from_pretrained(directory, config=os.path.join(directory, "config.json")).config.num_labels == 3
    with pytest.raises(TypeError, match=rf"{cls.__name__}.from_pretrained\(\) got an unexpected keyword argument 'num_lables'"):
        cls.from_pretrained(directory, num_lables=4)
    with pytest.raises(ValueError, match="problem_type must be one of"):
        cls.from_pretrained(directory, problem_type="ranking")
    with pytest.raises(ValueError, match=r"dtype='float8' is not a supported dtype: use 'float32', 'float16' or 'bfloat16'"):
        cls.from_pretrained(directory, dtype="float8")


# ----------------------------------------------------------------------------------------------------------------------
# Errors that say what to do


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_directory_without_weights_lists_what_was_looked_for(framework, tmp_path):
    reference_config(MLM).save_pretrained(tmp_path)
    with pytest.raises(OSError) as error:
        _cls(MLM, framework).from_pretrained(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
                 "tf_model.h5", "tf_model.h5.index.json", "flax_model.msgpack", "flax_model.msgpack.index.json"):
        assert name in message


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    "damage", ["truncated", "garbage", "missing-shard", "incomplete-index", "bad-bin", "bad-h5", "bad-msgpack"]
)
def test_damaged_files_are_named(damage, framework, layouts, tmp_path):
    import shutil

    _, _, directories = layouts
    source = directories["safetensors-sharded" if damage in ("missing-shard", "incomplete-index") else "safetensors"]
    shutil.copytree(source, tmp_path, dirs_exist_ok=True)
    weights = tmp_path / "model.safetensors"
    if damage == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
        pattern = r"cannot read .*model\.safetensors: .*truncated"
    elif damage == "garbage":
        weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
        pattern = r"cannot read .*model\.safetensors: its header is not valid JSON"
    elif damage == "missing-shard":
        shard = _shards(tmp_path)[1]
        (tmp_path / shard).unlink()
        pattern = rf"model\.safetensors\.index\.json lists the shard {shard}, which is missing"
    elif damage == "incomplete-index":
        # A shard from another save that lacks a tensor the index places in it.
        index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
        index["weight_map"]["albert.extra.weight"] = _shards(tmp_path)[0]
        (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
        pattern = rf"index\.json lists tensors that its shards do not hold: albert\.extra\.weight \(in {_shards(tmp_path)[0]}\)"
    else:
        weights.unlink()
        name = {"bad-bin": "pytorch_model.bin", "bad-h5": "tf_model.h5", "bad-msgpack": "flax_model.msgpack"}[damage]
        (tmp_path / name).write_bytes(b"\x00\x01 this is not a checkpoint")
        pattern = rf"cannot read .*{name.replace('.', r'[.]')}"
    with pytest.raises(OSError, match=pattern):
        _cls(MLM, framework).from_pretrained(tmp_path)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_shape_mismatch_lists_keys_and_ignore_mismatched_sizes(framework, reference_checkpoint, caplog):
    case = _case("albert", "sequence_classification")
    config, reference, directory = reference_checkpoint(case)
    cls = _cls(case, framework)
    with pytest.raises(ValueError) as error:
        cls.from_pretrained(directory, num_labels=5)
    message = str(error.value)
    assert "- classifier.weight: found shape [3, 32] in the checkpoint and [5, 32] in the model instantiated" in message
    assert "- classifier.bias: found shape [3] in the checkpoint and [5] in the model instantiated" in message
    assert "ignore_mismatched_sizes=True" in message

    with caplog.at_level(logging.WARNING, logger="specformers"):
        model, info = cls.from_pretrained(directory, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True)
    assert info["mismatched_keys"] == ["classifier.bias", "classifier.weight"]
    assert "newly initialized because the shapes did not match" in caplog.text
    assert "- classifier.weight: found shape [3, 32]" in caplog.text
    # The rest is the checkpoint's: the base model's outputs equal the reference's.
    inputs = {k: v for k, v in make_inputs(case, config).items() if k != "labels"}
    ours = run_model(framework, model, inputs)
    theirs = run_reference(reference, inputs, framework)
    assert ours["logits"].shape == (inputs["input_ids"].shape[0], 5)
    hidden = sorted(k for k in theirs if k.startswith("hidden_states"))
    assert hidden
    assert_close({k: theirs[k] for k in hidden}, {k: ours[k] for k in hidden}, "torch")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_config_of_another_architecture_names_both(framework, reference_checkpoint):
    _, _, directory = reference_checkpoint(_case("roformer", "masked_lm", "factorized"))
    with pytest.raises(ValueError, match=r"config\.json describes a 'roformer' model, but AlbertConfig is for 'albert' models"):
        _cls(MLM, framework).from_pretrained(directory)
