"""Errors the generator reports to its user.

Every problem a spec author can cause ends as a :class:`SpecError`: one line that names the file, the line and the
field path, printed by the CLI with exit code 2 and no traceback.
"""

from __future__ import annotations

from pathlib import Path


def _display(file: str | Path) -> str:
    """A path as the user typed it relative to the working directory, when it is below it."""
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(file)


class GeneratorError(Exception):
    """Base class of every error the CLI turns into a one-line message."""

    exit_code = 2


class SpecError(GeneratorError):
    """A spec that cannot be loaded, validated or resolved."""

    def __init__(self, file: str | Path, message: str, *, line: int | None = None, field: str | None = None):
        self.file = _display(file)
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class TemplateError(GeneratorError):
    """A template that failed to render for one spec."""

    def __init__(self, template: str, line: int | None, spec: str, message: str):
        self.template = template
        self.line = line
        self.spec = spec
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.template if self.line is None else f"{self.template}:{self.line}"
        return f"{where}: while rendering {self.spec}: {self.message}"


class OutputError(GeneratorError):
    """The output tree cannot be written safely (e.g. a hand-written file would be removed)."""
