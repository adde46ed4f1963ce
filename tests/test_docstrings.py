"""Every generated public class and its forward has a docstring whose documented arguments are its signature's."""

import importlib
import inspect
import re

import pytest

from harness import project

FRAMEWORK_METHOD = {"torch": "forward", "tf": "call", "flax": "__call__"}
MODULE = {"torch": "modeling_{}", "tf": "modeling_tf_{}", "flax": "modeling_flax_{}"}


def documented_args(doc: str) -> list[str]:
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    except StopIteration:
        return []
    indent = None
    names = []
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break
        if width == indent:
            match = re.match(r"\s*(\w+) \(", line)
            if match:
                names.append(match.group(1))
    return names


def public_classes():
    for arch in project().architectures:
        for framework in FRAMEWORK_METHOD:
            for name in arch.public_classes(framework):
                yield pytest.param(arch.name, framework, name, id=name)


@pytest.mark.parametrize("arch,framework,name", list(public_classes()))
def test_forward_docstring_matches_signature(arch, framework, name):
    module = importlib.import_module(f"specformers.models.{arch}.{MODULE[framework].format(arch)}")
    cls = getattr(module, name)
    assert cls.__doc__ and cls.__doc__.strip(), f"{name} has no class docstring"
    method = getattr(cls, FRAMEWORK_METHOD[framework])
    doc = inspect.getdoc(method)
    assert doc, f"{name}.{method.__name__} has no docstring"
    params = [p for p in inspect.signature(method).parameters if p not in ("self",)]
    params = [p for p in params if inspect.signature(method).parameters[p].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
    assert documented_args(doc) == params
    assert "Returns:" in doc


@pytest.mark.parametrize("arch", [a.name for a in project().architectures])
def test_config_docstring_documents_every_field(arch):
    module = importlib.import_module(f"specformers.models.{arch}.configuration_{arch}")
    cls = getattr(module, project().architectures[[a.name for a in project().architectures].index(arch)].config_class)
    params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    assert documented_args(cls.__doc__)[: len(params)] == params


def test_parser_sees_a_missing_argument():
    doc = "Run.\n\nArgs:\n    a (`int`):\n        A.\n    b (`int`):\n        B.\n\nReturns:\n    x\n"
    assert documented_args(doc) == ["a", "b"]
    assert documented_args(doc.replace("    b (`int`):\n        B.\n", "")) == ["a"]
