"""The spec-field reference: every field a spec may write, read from the schema itself.

README.md's "Every spec field" table is `markdown_table()` (a test checks that the README holds exactly this text), so
the documentation of the spec language cannot drift from what `generator/schema.py` accepts: a new field appears in
it with its accepted values and default, and its description is the comment written above it in the schema (or the
inline comment after it; a component's own rows follow a row for the component, described by its class docstring).
`undocumented()` lists the fields that have no such comment: the tests require it to be empty.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import schema

# What a string field holds, by the validators of its annotated type.
_STRING_KINDS = {
    schema._not_reserved: "a config field",
    schema._field_reference: "a config field",
    schema._dotted: "a module path",
    schema._class_prefix: "a class-name part",
    schema._class_name: "a class name",
    schema._model_type: "a model type",
    schema._identifier: "a name",
}


@dataclass(frozen=True)
class Row:
    path: str
    accepts: str
    default: str
    description: str


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """`{field: description}` from the comment lines right above each field of `model`'s class body, or the inline
    comment after it."""
    source = textwrap.dedent(inspect.getsource(model))
    lines = source.splitlines()
    tree = ast.parse(source).body[0]
    out: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above = []
        i = node.lineno - 2
        while i >= 0 and lines[i].strip().startswith("#"):
            above.insert(0, lines[i].strip()[1:].strip())
            i -= 1
        inline = lines[node.end_lineno - 1].split("  # ", 1)
        text = " ".join(above) if above else (inline[1].strip() if len(inline) == 2 else "")
        out[node.target.id] = text
    return out


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split()) if model.__doc__ else ""


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside `annotation` (through Optional, Union, list, dict, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _string_kind(metadata: list) -> str | None:
    validators = [getattr(m, "func", None) for m in metadata]
    return next((words for validator, words in _STRING_KINDS.items() if validator in validators), None)


def _accepts(annotation: Any, metadata: list = ()) -> str:
    """What a spec may write for a field of this type (pydantic keeps a top-level `Annotated`'s validators in
    `metadata`), in words."""
    if metadata and _string_kind(metadata):
        return _string_kind(metadata)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _string_kind(annotation.__metadata__) or _accepts(args[0])
    if origin is Literal:
        return ", ".join(f"`{_yaml(v)}`" for v in args)
    if origin is Union:
        options = [_accepts(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(options))
    if origin is list:
        options = typing.get_args(args[0]) if typing.get_origin(args[0]) is Union else (args[0],)
        return "a list of " + ", ".join(_plural(_accepts(a)) for a in options)
    if origin is dict:
        return f"a mapping of {_plural(_accepts(args[0]))} to {_plural(_accepts(args[1]))}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a mapping (below)"
    return {bool: "`true`, `false`", int: "an integer", float: "a number", str: "text", Any: "any value", type(None): "`null`"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _plural(words: str) -> str:
    for single, many in (("a config field", "config fields"), ("a module path", "module paths"), ("a name", "names"),
                         ("an integer", "integers"), ("a number", "numbers"), ("a mapping (below)", "mappings (below)"),
                         ("a config field or a number or a mapping (below)", "config fields, numbers or mappings")):
        if words == single:
            return many
    return words


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        shown = ", ".join(f"{k}: {_yaml(v)}" for k, v in value.model_dump(exclude_defaults=True).items())
        return "{" + shown + "}"
    if isinstance(value, (list, dict)) and not value:
        return "[]" if isinstance(value, list) else "{}"
    return str(value)


def _default(field) -> str:
    if field.default_factory is not None:
        return f"`{_yaml(field.default_factory())}`"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "absent"
    return f"`{_yaml(field.default)}`"


def _walk(model: type[BaseModel], prefix: str, rows: list[Row], missing: list[str], seen: tuple, skip=()) -> None:
    comments = _comments(model)
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        path = prefix + name
        nested = _models(field.annotation)
        description = comments.get(name, "")
        if not description and len(nested) == 1:
            description = _doc(nested[0])
        if len(nested) > 1:  # a union of components told apart by their `kind`
            rows.append(Row(path, "one of the mappings below, by `kind`", _default(field), description))
            if not description:
                missing.append(path)
            for member in nested:
                kind = typing.get_args(member.model_fields["kind"].annotation)[0]
                rows.append(Row(f"{path} (kind `{kind}`)", f"`{{kind: {kind}, ...}}`", "", _doc(member)))
                if not _doc(member):
                    missing.append(f"{path} (kind {kind})")
                if member not in seen:
                    _walk(member, f"{path}.", rows, missing, seen + (member,), skip=("kind",))
            continue
        rows.append(Row(path, _accepts(field.annotation, field.metadata), _default(field), description))
        if not description:
            missing.append(path)
        for member in nested:
            if member not in seen:
                _walk(member, f"{path}.", rows, missing, seen + (member,))


def rows() -> tuple[list[Row], list[str]]:
    """Every spec field in schema order, and the paths of those without a description."""
    out: list[Row] = []
    missing: list[str] = []
    _walk(schema.ArchitectureSpec, "", out, missing, (schema.ArchitectureSpec,))
    return out, missing


def undocumented() -> list[str]:
    return rows()[1]


def markdown_table() -> str:
    """The reference as README.md shows it."""
    lines = ["| field | accepts | default | what it says |", "|---|---|---|---|"]
    for row in rows()[0]:
        cells = (f"`{row.path}`" if " " not in row.path else row.path.replace(row.path.split(" ")[0], f"`{row.path.split(' ')[0]}`", 1),
                 row.accepts, row.default, row.description.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
