"""No spec string becomes code: arbitrary text in free-text fields comes out as docstring text, identifiers are
validated, and a broken template is reported with its file and line."""

import ast
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import SpecError, TemplateError
from generator.load import load_yaml
from generator.pipeline import format_source
from generator.render import make_environment, plan, render
from generator.resolve import Project, resolve_architecture, resolve_arguments, resolve_outputs

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BASE = yaml.safe_load((SPECS / "albert.yaml").read_text())
ARGUMENTS = resolve_arguments(load_yaml(SPECS / "arguments.yaml"))
OUTPUTS = resolve_outputs(load_yaml(SPECS / "outputs.yaml"))
ENV = make_environment()
# `make test` draws a fifth of the examples `make test-all` draws (SPECFORMERS_TEST_ALL=1): rendering and formatting a
# config module is the cost of each.
FULL = os.environ.get("SPECFORMERS_TEST_ALL") == "1"


def examples(full: int) -> int:
    return full if FULL else full // 5


def render_config_module(spec: dict, tmp: Path) -> str:
    path = tmp / "albert.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    arch = resolve_architecture(load_yaml(path), OUTPUTS, ARGUMENTS)
    project = Project(architectures=[arch], outputs=OUTPUTS, arguments=ARGUMENTS)
    job = next(j for j in plan(project, "albert") if j.path.endswith("configuration_albert.py"))
    return format_source(render(ENV, job), job.path)


def normalise(text: str) -> str:
    return " ".join(text.split())


def class_docstring(source: str) -> str:
    tree = ast.parse(source)
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    return ast.get_docstring(cls, clean=False)


FREE_TEXT = st.text(min_size=1, max_size=60).filter(lambda s: s.strip())


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(config_doc=FREE_TEXT, field_doc=FREE_TEXT, title=FREE_TEXT)
def test_free_text_is_only_ever_text(config_doc, field_doc, title, tmp_path_factory):
    spec = dict(BASE, title=title, config=dict(BASE["config"], doc=config_doc))
    spec["config"]["fields"] = [dict(f) for f in BASE["config"]["fields"]]
    spec["config"]["fields"][0]["doc"] = field_doc
    source = render_config_module(spec, tmp_path_factory.mktemp("spec"))
    doc = class_docstring(source)  # parses: nothing escaped the docstring
    assert normalise(config_doc) in normalise(doc)
    assert normalise(field_doc) in normalise(doc)


IDENTIFIER_LIKE = st.one_of(
    st.text(min_size=1, max_size=20),
    st.sampled_from(["class", "lambda", "None", "self", "config", "__init__", "os.system", "a b", "1x", "x;y", "_ok", "ok_2"]),
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=IDENTIFIER_LIKE)
def test_identifiers_are_rejected_or_safe(name, tmp_path_factory):
    spec = dict(BASE, config=dict(BASE["config"]))
    spec["config"]["fields"] = [dict(f) for f in BASE["config"]["fields"]] + [
        {"name": name, "type": "int", "default": 1, "doc": "A field."}
    ]
    try:
        source = render_config_module(spec, tmp_path_factory.mktemp("spec"))
    except SpecError as exc:
        assert "config.fields" in str(exc) or "config field" in str(exc)
        return
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
    tree = ast.parse(source)
    init = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    assert name in [a.arg for a in init.args.args]


@pytest.mark.parametrize(
    "text",
    ['"""; import os; os.system("x"); """', "\\", "ends with a quote\"", "{{ arch.name }} {% if %}", "\x00\r\u2028", "'''"],
)
def test_known_hostile_text(text, tmp_path):
    spec = dict(BASE, config=dict(BASE["config"], doc=text))
    doc = class_docstring(render_config_module(spec, tmp_path))
    assert normalise(text) in normalise(doc)


def test_template_error_names_template_line_and_spec(tmp_path, monkeypatch):
    import generator.render as render_module
    from generator.pipeline import generate

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    target = templates / "common" / "configuration.py.jinja"
    lines = target.read_text().splitlines(keepends=True)
    lines.insert(3, "{{ arch.no_such_field }}\n")
    target.write_text("".join(lines))
    monkeypatch.setattr(render_module, "TEMPLATES", templates)
    monkeypatch.setenv("SPECFORMERS_NO_CACHE", "1")
    with pytest.raises(TemplateError) as info:
        generate()
    message = str(info.value)
    assert "common/configuration.py.jinja:4" in message
    assert "specs/albert.yaml" in message and "no_such_field" in message


def _raise_messages(source: str) -> list[tuple[str, list[str]]]:
    """Each `raise ValueError(<message>)` of a module: the message's literal text and its replacement fields (source)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and ast.unparse(node.exc.func) == "ValueError":
            (arg,) = node.exc.args
            parts = arg.values if isinstance(arg, ast.JoinedStr) else [arg]
            text = "".join(p.value for p in parts if isinstance(p, ast.Constant))
            out.append((text, [ast.unparse(p.value) for p in parts if isinstance(p, ast.FormattedValue)]))
    return out


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(reason=FREE_TEXT, choice=FREE_TEXT)
def test_config_error_messages_are_only_ever_text(reason, choice, tmp_path_factory):
    check_error_messages(reason, choice, tmp_path_factory.mktemp("spec"))


@pytest.mark.parametrize(
    "text",
    ['{__import__("os").system("x")}', '" + str(__import__("os")) + "', "\\", "ends with a backslash\\", "\x00\r\n\u2028", "{{}}"],
)
def test_known_hostile_config_error_messages(text, tmp_path):
    check_error_messages(text, text, tmp_path)


def check_error_messages(reason: str, choice: str, tmp: Path) -> None:
    """The reason of an `unsupported` field and the strings of `choices` reach the configuration's ValueError messages
    as text: each message's only replacement field is the value of its field."""
    spec = dict(BASE, config=dict(BASE["config"]))
    spec["config"]["fields"] = [dict(f) for f in BASE["config"]["fields"]] + [
        {"name": "flavour", "type": "str", "default": choice, "choices": [choice], "unsupported": reason, "doc": "A field."},
        {"name": "scaling", "type": "dict", "optional": True, "default": None, "unsupported": reason, "doc": "A field."},
    ]
    messages = _raise_messages(render_config_module(spec, tmp))
    # The values as the spec file holds them (YAML reads a NEL or line separator inside a string as a line break).
    reason, choice = yaml.safe_load(yaml.safe_dump([reason, choice], allow_unicode=True))
    by_field = {}
    for text, fields in messages:
        assert len(fields) == 1, (text, fields)
        by_field.setdefault(fields[0], []).append(text)
    (flavour,), (scaling,) = by_field.pop("flavour"), by_field.pop("scaling")
    assert flavour.endswith(reason) and repr([choice]) in flavour
    assert scaling.endswith(reason)
