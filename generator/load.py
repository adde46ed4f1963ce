"""Stage 1 — load: read a YAML file into plain Python data, remembering the line of every field.

The loader is deliberately stricter than ``yaml.safe_load``: only the core scalar tags are accepted, anchors and aliases
are rejected (no expansion bombs, no shared mutable nodes), and a key that appears twice in a mapping is an error
instead of silently keeping the last value. Every value's line is recorded under its dotted field path so that later
stages can point at the line a problem comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import SpecError

_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass
class LoadedYaml:
    """Data of one YAML file plus the line (1-based) of each field path (``"a.b.0.c"``)."""

    path: Path
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, loc: tuple | list | str) -> int | None:
        """Line of the deepest recorded prefix of ``loc``."""
        parts = [str(p) for p in (loc.split(".") if isinstance(loc, str) else loc)]
        while parts:
            key = ".".join(parts)
            if key in self.lines:
                return self.lines[key]
            parts.pop()
        return self.lines.get("")


class _Composer(yaml.SafeLoader):
    """SafeLoader used for composing nodes only; construction is done by :func:`_construct`."""


# libyaml's parser (PyYAML's C extension) where the install has it: the same events and nodes, several times faster than
# the pure-Python one (every run reads every spec and catalog). A file it rejects is read again by the pure-Python
# parser, whose error messages the errors quote, so that a message never depends on the install.
_FastComposer = type("_FastComposer", (yaml.CSafeLoader,), {}) if getattr(yaml, "__with_libyaml__", False) else _Composer


def load_yaml(path: Path) -> LoadedYaml:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(path, f"cannot read file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(path, "file is not valid UTF-8", line=line) from None
    if not text.strip():
        raise SpecError(path, "file is empty", line=1)
    try:
        try:
            _reject_anchors(path, text, _FastComposer)
            node = yaml.compose(text, Loader=_FastComposer)
        except yaml.YAMLError:
            _reject_anchors(path, text, _Composer)
            node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(path, f"malformed YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - composer errors are marked
        raise SpecError(path, f"malformed YAML: {exc}") from None
    if node is None:
        raise SpecError(path, "file is empty", line=1)
    loaded = LoadedYaml(path=path, data=None)
    loaded.data = _construct(node, (), loaded)
    return loaded


def _reject_anchors(path: Path, text: str, loader: type) -> None:
    """Anchors and aliases are refused before anything is built: no alias expansion bomb can start."""
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise SpecError(path, "YAML anchors and aliases are not allowed in a spec", line=event.start_mark.line + 1)


def _construct(node: Any, loc: tuple, loaded: LoadedYaml) -> Any:
    field_path = ".".join(str(p) for p in loc)
    line = node.start_mark.line + 1
    loaded.lines.setdefault(field_path, line)
    if node.tag not in _CORE_TAGS:
        raise SpecError(loaded.path, f"YAML tag {node.tag!r} is not allowed in a spec", line=line, field=field_path or None)
    if isinstance(node, ScalarNode):
        return _Composer.construct_scalar_value(node)
    if isinstance(node, SequenceNode):
        return [_construct(item, loc + (i,), loaded) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _CORE_TAGS:
                raise SpecError(loaded.path, "mapping keys must be plain scalars", line=key_node.start_mark.line + 1, field=field_path or None)
            key = _Composer.construct_scalar_value(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                first = loaded.lines.get(".".join(str(p) for p in loc + (key,)))
                raise SpecError(
                    loaded.path,
                    f"duplicate key {key!r} (first defined on line {first})",
                    line=key_node.start_mark.line + 1,
                    field=".".join(str(p) for p in loc + (key,)),
                )
            loaded.lines[".".join(str(p) for p in loc + (key,))] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, loc + (key,), loaded)
        return result
    raise SpecError(loaded.path, "unsupported YAML node", line=line)  # pragma: no cover


def _construct_scalar_value(node: ScalarNode) -> Any:
    constructor = yaml.SafeLoader.yaml_constructors[node.tag]
    return constructor(_SCALAR_LOADER, node)


_SCALAR_LOADER = yaml.SafeLoader("")
_Composer.construct_scalar_value = staticmethod(_construct_scalar_value)
