"""Package-level API: lazy imports, configs that read and write transformers' config.json."""

import json
import subprocess
import sys

import pytest

from harness import ROOT, project


def test_import_specformers_imports_no_framework():
    code = (
        "import sys, specformers\n"
        "from specformers import AlbertConfig, RoFormerConfig\n"
        "AlbertConfig(); RoFormerConfig()\n"
        "loaded = [m for m in ('torch', 'tensorflow', 'jax', 'flax', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_a_torch_class_imports_only_torch():
    code = (
        "import sys\nfrom specformers import AlbertModel\n"
        "loaded = [m for m in ('tensorflow', 'jax', 'flax', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_public_name_resolves():
    import specformers

    for name in specformers.__all__:
        if name.startswith(("TF", "Flax")) or "Model" in name and not name.endswith("Output"):
            continue  # model classes are imported by the parity tests
        assert getattr(specformers, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'AlbertModle'"):
        specformers.AlbertModle


@pytest.mark.parametrize("arch", [a for a in project().architectures], ids=lambda a: a.name)
def test_config_matches_transformers(arch, tmp_path):
    import transformers

    import specformers

    ref_cls = getattr(transformers, arch.config_class)
    ours_cls = getattr(specformers, arch.config_class)
    ref, ours = ref_cls(), ours_cls()

    def value(config, f):
        # A sub-configuration (`type: config`, each library's own class) by its fields.
        if f.type == "config":
            return {sub.name: getattr(getattr(config, f.name), sub.name) for sub in f.fields}
        return getattr(config, f.name)

    # Fields transformers' configuration does not declare (`upstream: false`; its models read them when a
    # configuration holds them): absent from its attributes unless given.
    declared = [f for f in arch.config_fields if f.upstream]
    for f in arch.config_fields:
        assert hasattr(ref, f.name) == f.upstream, f.name
    for f in declared:
        assert value(ours, f) == value(ref, f), f.name
    assert ours.num_labels == ref.num_labels
    # transformers' config.json -> specformers -> config.json -> transformers
    ref = ref_cls(num_labels=3, problem_type="multi_label_classification", hidden_size=64, num_attention_heads=4)
    ref.save_pretrained(tmp_path / "ref")
    loaded = ours_cls.from_pretrained(tmp_path / "ref")
    assert loaded.num_labels == 3 and loaded.hidden_size == 64 and loaded.problem_type == "multi_label_classification"
    assert loaded.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    loaded.save_pretrained(tmp_path / "ours")
    back = ref_cls.from_pretrained(tmp_path / "ours")
    for f in declared:
        assert value(back, f) == value(ref, f), f.name
    for f in arch.config_fields:
        # Ours saves every field: transformers' configuration keeps the undeclared ones as attributes, read as ours.
        assert value(back, f) == value(loaded, f), f.name
    assert back.id2label == ref.id2label
    assert ours_cls.from_dict(loaded.to_dict()) == loaded
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["model_type"] == arch.model_type


def test_config_errors_are_clear(tmp_path):
    import specformers

    with pytest.raises(ValueError, match="problem_type must be one of"):
        specformers.AlbertConfig(problem_type="ranking")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roformer"}))
    with pytest.raises(ValueError, match="describes a 'roformer' model, but AlbertConfig is for 'albert' models"):
        specformers.AlbertConfig.from_pretrained(tmp_path)
    with pytest.raises(OSError, match="no config.json found"):
        specformers.AlbertConfig.from_pretrained(tmp_path / "missing")
    with pytest.raises(ValueError, match="position_embedding_type must be one of"):
        specformers.AlbertConfig(position_embedding_type="relative_key")
