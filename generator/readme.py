"""Rewrite the tables of README.md that are generated from the generator itself: `python -m generator.readme`.

- "What each stack kind renders": `support.markdown_table()`, the rules the schema enforces per stack kind;
- "Every spec field": `reference.markdown_table()`, every field of the schema with its values, default and comment;
- "The shipped specs": `specs_table()`, each spec's stack kind, PyTorch classes and opening comment (what it composes),
  the table a newcomer picks the spec to copy from.

The tests check that the README holds exactly these tables (tests/test_generator.py), so neither can drift from the
code; after changing the schema or its rules, run this and commit the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import reference, support
from .pipeline import SPECS, load_project

README = Path(__file__).resolve().parent.parent / "README.md"


def _opening_comment(path: Path) -> str:
    """The comment lines a spec opens with, joined into one paragraph."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines).replace("|", "\\|")


def specs_table() -> str:
    """One row per shipped spec: its file, stack kind, PyTorch classes (TensorFlow's and Flax's add `TF` / `Flax`)
    and its opening comment."""
    rows = [
        "| spec | stack | classes (PyTorch; `TF…` and `Flax…` alike) | what it composes |",
        "|---|---|---|---|",
    ]
    for arch in sorted(load_project(SPECS).architectures, key=lambda a: (a.stack, a.name)):
        classes = ", ".join(arch.public_classes("torch"))
        rows.append(f"| `{Path(arch.spec_file).name}` | {arch.stack} | {classes} | {_opening_comment(SPECS / Path(arch.spec_file).name)} |")
    return "\n".join(rows)


def tables() -> list[str]:
    return [support.markdown_table(), reference.markdown_table(), specs_table()]


def rewrite(text: str) -> str:
    """`text` with each generated table (found by its header line, ended by a blank line) replaced."""
    for table in tables():
        header = table.split("\n", 1)[0]
        if header not in text:
            raise ValueError(f"README.md has no table with the header {header!r}: add one where it belongs")
        start = text.index(header)
        end = text.find("\n\n", start)
        text = text[:start] + table + (text[end:] if end != -1 else "\n")
    return text


def main() -> int:
    missing = reference.undocumented()
    if missing:
        print(f"generator/schema.py: these fields have no comment above them: {', '.join(missing)}", file=sys.stderr)
        return 1
    before = README.read_text(encoding="utf-8")
    after = rewrite(before)
    if after != before:
        README.write_text(after, encoding="utf-8")
        print("README.md: tables rewritten")
    else:
        print("README.md: tables up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
