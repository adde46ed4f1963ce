"""The ModelOutput catalog: coverage of transformers' three output modules, behaviour and docstrings in each framework."""

import dataclasses
import importlib
import re
from pathlib import Path

import numpy as np
import pytest

from harness import project

MODULES = {
    "torch": ("transformers.modeling_outputs", "specformers.modeling_outputs"),
    "tf": ("transformers.modeling_tf_outputs", "specformers.modeling_tf_outputs"),
    "flax": ("transformers.modeling_flax_outputs", "specformers.modeling_flax_outputs"),
}
EXPECTED_COUNTS = {"torch": 43, "tf": 27, "flax": 20}


def reference_classes(framework):
    module = importlib.import_module(MODULES[framework][0])
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
    }


def signature_of(cls):
    return [(f.name, f.default) for f in dataclasses.fields(cls)]


def expected_signature(framework, name, cls):
    """transformers' fields; Flax classes (whose transformers models take no labels) also start with `loss` where
    the PyTorch class of the same name does, since specformers' Flax heads return their loss."""
    expected = signature_of(cls)
    if framework == "flax":
        torch_class = reference_classes("torch").get(name[len("Flax") :])
        if torch_class is not None and signature_of(torch_class)[:1] == [("loss", None)]:
            expected = [("loss", None)] + expected
    return expected


def catalog_problems(framework, module) -> list[str]:
    problems = []
    for name, cls in reference_classes(framework).items():
        if not hasattr(module, name):
            problems.append(f"{name} missing")
        elif signature_of(getattr(module, name)) != expected_signature(framework, name, cls):
            problems.append(f"{name}: {signature_of(getattr(module, name))} != {expected_signature(framework, name, cls)}")
    return problems


@pytest.mark.parametrize("framework", list(MODULES))
def test_every_reference_output_class_exists_with_same_fields(framework):
    assert len(reference_classes(framework)) == EXPECTED_COUNTS[framework]
    assert catalog_problems(framework, importlib.import_module(MODULES[framework][1])) == []


@pytest.mark.parametrize("edit", ["reorder", "drop"])
@pytest.mark.parametrize("framework", list(MODULES))
def test_catalog_drift_is_detected(framework, edit, tmp_path):
    """Render the output module from a catalog with one class edited: the coverage check must fail."""
    import shutil
    import sys

    from generator.pipeline import generate

    root = Path(__file__).resolve().parent.parent
    specs = tmp_path / "specs"
    shutil.copytree(root / "specs", specs)
    catalog = specs / "outputs.yaml"
    old = "fields: [last_hidden_state, pooler_output, hidden_states, attentions]"
    new = {"reorder": "fields: [last_hidden_state, hidden_states, pooler_output, attentions]",
           "drop": "fields: [last_hidden_state, pooler_output, hidden_states]"}[edit]
    catalog.write_text(catalog.read_text().replace(old, new, 1))
    result = generate(specs, frameworks=[framework, "common"])
    package = tmp_path / "pkg" / "sfdrift"
    shutil.copytree(root / "generated" / "specformers", package, ignore=shutil.ignore_patterns("__pycache__"))
    module_name = MODULES[framework][1].split(".")[1]
    (package / f"{module_name}.py").write_text(result.files[f"specformers/{module_name}.py"])
    sys.path.insert(0, str(tmp_path / "pkg"))
    try:
        module = importlib.import_module(f"sfdrift.{module_name}")
        problems = catalog_problems(framework, module)
    finally:
        sys.path.remove(str(tmp_path / "pkg"))
        for name in [m for m in sys.modules if m == "sfdrift" or m.startswith("sfdrift.")]:
            del sys.modules[name]
    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}[framework]
    assert any(p.startswith(f"{prefix}BaseModelOutputWithPooling:") for p in problems), problems


@pytest.mark.parametrize("framework", list(MODULES))
def test_docstrings_document_exactly_the_fields(framework):
    ours = importlib.import_module(MODULES[framework][1])
    for output in project().outputs.for_framework(framework):
        cls = getattr(ours, output.class_name(framework))
        documented = re.findall(r"^ {8}(\w+) \(`", cls.__doc__, flags=re.M)
        assert documented == [f.name for f in dataclasses.fields(cls)], cls.__name__


def _tensor(framework, value):
    if framework == "torch":
        import torch

        return torch.tensor(value, dtype=torch.float32)
    if framework == "tf":
        import tensorflow as tf

        return tf.constant(value, dtype=tf.float32)
    import jax.numpy as jnp

    return jnp.asarray(value, dtype=jnp.float32)


@pytest.mark.parametrize("framework", list(MODULES))
def test_mapping_behaviour(framework):
    ours = importlib.import_module(MODULES[framework][1])
    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}[framework]
    cls = getattr(ours, prefix + "BaseModelOutputWithPooling")
    h = _tensor(framework, np.ones((2, 3, 4)))
    p = _tensor(framework, np.zeros((2, 4)))
    out = cls(last_hidden_state=h, pooler_output=p)
    assert out.last_hidden_state is h and out["pooler_output"] is p and out[0] is h and out[1] is p
    assert list(out.keys()) == ["last_hidden_state", "pooler_output"]
    assert [k for k, _ in out.items()] == ["last_hidden_state", "pooler_output"]
    assert len(out.to_tuple()) == 2 and out.to_tuple()[1] is p
    with pytest.raises(KeyError, match="has no field 'logits'"):
        out["logits"]
    with pytest.raises(KeyError):
        out["hidden_states"]  # a field that is None is not a key
    hs = (h, h)
    out.hidden_states = hs
    assert out["hidden_states"] is hs and list(out.keys()) == ["last_hidden_state", "pooler_output", "hidden_states"]
    out["pooler_output"] = h
    assert out.pooler_output is h
    # Another key is an extra entry after the fields, as in transformers' ModelOutput (pipelines attach their inputs).
    out["extra"] = p
    assert out["extra"] is p and out.extra is p and list(out.keys())[-1] == "extra" and out[-1] is p
    with pytest.raises(TypeError):
        out.pop("last_hidden_state")


def test_torch_outputs_are_pytrees():
    import torch
    import torch.utils._pytree as pytree

    from specformers.modeling_outputs import BaseModelOutputWithPooling

    out = BaseModelOutputWithPooling(last_hidden_state=torch.ones(2, 3), pooler_output=torch.zeros(2))
    leaves, spec = pytree.tree_flatten(out)
    assert len([l for l in leaves if l is not None]) == 2
    rebuilt = pytree.tree_unflatten(leaves, spec)
    assert type(rebuilt) is BaseModelOutputWithPooling and torch.equal(rebuilt.last_hidden_state, out.last_hidden_state)

    class Toy(torch.nn.Module):
        def forward(self, x):
            return BaseModelOutputWithPooling(last_hidden_state=x * 2, pooler_output=x.sum(-1))

    x = torch.randn(2, 3)
    compiled = torch.compile(Toy(), fullgraph=True, backend="eager")(x)
    assert isinstance(compiled, BaseModelOutputWithPooling) and torch.allclose(compiled.pooler_output, x.sum(-1))
    exported = torch.export.export(Toy(), (x,))
    result = exported.module()(x)
    assert torch.allclose(result.last_hidden_state, x * 2)


def test_flax_outputs_are_pytrees():
    import jax
    import jax.numpy as jnp

    from specformers.modeling_flax_outputs import FlaxBaseModelOutputWithPooling

    @jax.jit
    def f(x):
        return FlaxBaseModelOutputWithPooling(last_hidden_state=x * 2, pooler_output=x.sum(-1))

    out = f(jnp.ones((2, 3)))
    assert isinstance(out, FlaxBaseModelOutputWithPooling) and float(out.pooler_output[0]) == 3.0
    doubled = jax.tree_util.tree_map(lambda a: a * 2, out)
    assert isinstance(doubled, FlaxBaseModelOutputWithPooling) and float(doubled.pooler_output[0]) == 6.0


@pytest.mark.parametrize("jit_compile", [False, True])
def test_tf_outputs_through_tf_function(jit_compile):
    import tensorflow as tf

    from specformers.modeling_tf_outputs import TFBaseModelOutputWithPooling

    @tf.function(jit_compile=jit_compile)
    def f(x):
        return TFBaseModelOutputWithPooling(last_hidden_state=x * 2, pooler_output=tf.reduce_sum(x, -1))

    out = f(tf.ones((2, 3)))
    assert isinstance(out, TFBaseModelOutputWithPooling) and float(out.pooler_output[0]) == 3.0


@pytest.mark.parametrize("framework", list(MODULES))
def test_rebuilt_from_pairs_like_dataparallel_gather(framework):
    """DataParallel's gather (and tf.function) rebuild a mapping as `type(out)(iterable of (key, value) pairs)`."""
    ours = importlib.import_module(MODULES[framework][1])
    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}[framework]
    cls = getattr(ours, prefix + "BaseModelOutputWithPooling")
    out = cls(last_hidden_state=_tensor(framework, np.ones((2, 3))), pooler_output=_tensor(framework, np.zeros(2)))
    rebuilt = type(out)((k, v) for k, v in out.items())
    assert type(rebuilt) is cls and list(rebuilt.keys()) == ["last_hidden_state", "pooler_output"]
    assert rebuilt.pooler_output is out.pooler_output and rebuilt.hidden_states is None
