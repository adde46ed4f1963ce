"""Stage 4 — render: Jinja2 templates + the render model -> Python source strings, in memory.

The table :func:`plan` lists every file of ``generated/`` with the template that renders it and what it is rendered
from (its "source", named in the banner). Nothing here touches the disk except reading templates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jinja2

from .errors import TemplateError
from .resolve import FRAMEWORKS, Architecture, Project

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PACKAGE = "specformers"
REGENERATE = "make generate"


@dataclass(frozen=True)
class FileJob:
    path: str  # relative to the output root, e.g. "specformers/models/<name>/modeling_<name>.py"
    template: str
    source: str  # what the banner names as the file's origin
    context: dict[str, Any]
    spec: str | None = None  # the architecture spec this file belongs to (for --only)
    framework: str = "common"  # "common", "torch", "tf" or "flax"


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


# Attributes every Keras layer has (read-only properties and the attributes Keras itself sets): a module of that
# PyTorch name is held under the name and a trailing `_` (its Keras `name`, and so its checkpoint name, stays the
# PyTorch one).
KERAS_LAYER_ATTRIBUTES = frozenset({
    "output", "input", "weights", "trainable", "losses", "metrics", "variables", "built", "path", "name", "dtype",
    "trainable_weights", "non_trainable_weights", "trainable_variables", "non_trainable_variables", "compute_dtype",
    "variable_dtype", "dtype_policy", "input_dtype", "input_shape", "output_shape",
})


def _tf_attr(path: str) -> str:
    """The Python attribute path of a module path in a TensorFlow layer (see `KERAS_LAYER_ATTRIBUTES`)."""
    return ".".join(part + "_" if part in KERAS_LAYER_ATTRIBUTES else part for part in path.split("."))


def _doc(text: str) -> str:
    """Escape free text for the inside of a triple-quoted (non-raw) docstring, so that the docstring's value is the text.

    Backslashes are doubled, a triple quote cannot close the string, a trailing quote cannot merge with the closing quotes,
    and control / format / separator characters become escapes (spaces, tabs and newlines stay: the text is reflowed).
    Jinja syntax in the text is inert: rendered values are never rendered again.
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\t\n ":
            out.append(ch)
        elif unicodedata.category(ch) in _INVISIBLE:
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    text = "".join(out).replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        # An unescaped final quote would run into the closing quotes: escape it (an even number of backslashes
        # before it means they are escaped backslashes, not an escape of the quote).
        body = text[:-1]
        if (len(body) - len(body.rstrip("\\"))) % 2 == 0:
            text = body + '\\"'
    return text


def _pystr(value: Any) -> str:
    """A Python literal for ``value`` (strings get a safe repr)."""
    return repr(value)


def _fstring(text: str) -> str:
    """Free text for the inside of a one-line, double-quoted f-string, so that the string's value is the text: backslashes
    and quotes escaped, braces doubled (never a replacement field), control / format / separator characters (newlines
    and tabs too) as escapes."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in "{}":
            out.append(ch * 2)
        elif ch == "\t" or unicodedata.category(ch) in _INVISIBLE:
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


def _comment(text: str) -> str:
    """Free text for a ``#`` comment: one line, no control characters."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", " ", text)


def _wrap(text: str, width: int = 110, indent: str = "") -> str:
    import textwrap

    paragraphs = text.split("\n\n")
    out = []
    for para in paragraphs:
        lines = textwrap.wrap(para, width=width, break_long_words=False, break_on_hyphens=False, replace_whitespace=True)
        out.append("\n".join(indent + line for line in lines) if lines else "")
    return ("\n" + indent + "\n").join(out) if indent else "\n\n".join(out)


def make_environment() -> jinja2.Environment:
    import os

    bytecode_cache = None
    if os.environ.get("SPECFORMERS_NO_CACHE") != "1":
        # Compiled templates keyed by template source (jinja2 checks the checksum): a pure speed-up.
        cache_dir = TEMPLATES.parent / ".cache" / "jinja"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_dir))
        except OSError:
            bytecode_cache = None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        bytecode_cache=bytecode_cache,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["doc"] = _doc
    env.filters["tf_attr"] = _tf_attr
    env.filters["py"] = _pystr
    env.filters["comment"] = _comment
    env.filters["fstring"] = _fstring
    env.filters["wrap"] = _wrap
    env.globals["PACKAGE"] = PACKAGE
    env.globals["REGENERATE"] = REGENERATE
    env.globals["FRAMEWORKS"] = FRAMEWORKS
    return env


def plan(project: Project, only: str | None = None) -> list[FileJob]:
    """Every file the generator writes, in a stable order."""
    jobs: list[FileJob] = []
    shared_sources = "specs/*.yaml"
    catalog = project.outputs.source
    common = {"project": project}

    if only is None:
        jobs += [
            FileJob(f"{PACKAGE}/__init__.py", "common/package_init.py.jinja", shared_sources, common),
            FileJob(f"{PACKAGE}/configuration_utils.py", "common/configuration_utils.py.jinja", "templates/common", common),
            FileJob(f"{PACKAGE}/utils.py", "common/utils.py.jinja", "templates/common", common),
            FileJob(f"{PACKAGE}/checkpoint.py", "common/checkpoint.py.jinja", "templates/common", common),
            FileJob(f"{PACKAGE}/hub.py", "common/hub.py.jinja", "templates/common", common),
            FileJob(f"{PACKAGE}/generation_config.py", "common/generation_config.py.jinja", "templates/common", common),
            FileJob(f"{PACKAGE}/models/__init__.py", "common/models_init.py.jinja", shared_sources, common),
            FileJob(f"{PACKAGE}/integrations.py", "torch/integrations.py.jinja", "templates/torch", common, framework="torch"),
        ]
        for fw, module in (("torch", ""), ("tf", "tf_"), ("flax", "flax_")):
            jobs += [
                FileJob(f"{PACKAGE}/modeling_{module}outputs.py", f"{fw}/outputs.py.jinja", catalog, {**common, "catalog": project.outputs}, framework=fw),
                FileJob(f"{PACKAGE}/modeling_{module}utils.py", f"{fw}/runtime.py.jinja", f"templates/{fw}", common, framework=fw),
                FileJob(f"{PACKAGE}/activations{'_' + fw if fw != 'torch' else ''}.py", f"{fw}/activations.py.jinja", f"templates/{fw}", common, framework=fw),
                FileJob(f"{PACKAGE}/generation_{module}utils.py", f"{fw}/generation.py.jinja", f"templates/{fw}", common, framework=fw),
            ]
    for arch in project.architectures:
        if only is not None and arch.name != only:
            continue
        ctx = {"project": project, "arch": arch, "catalog": project.outputs}
        base = f"{PACKAGE}/models/{arch.name}"
        jobs += [
            FileJob(f"{base}/__init__.py", "common/model_init.py.jinja", arch.spec_file, ctx, arch.name),
            FileJob(f"{base}/configuration_{arch.name}.py", "common/configuration.py.jinja", arch.spec_file, ctx, arch.name),
            FileJob(f"{base}/modeling_{arch.name}.py", "torch/modeling.py.jinja", arch.spec_file, ctx, arch.name, "torch"),
            FileJob(f"{base}/modeling_tf_{arch.name}.py", "tf/modeling.py.jinja", arch.spec_file, ctx, arch.name, "tf"),
            FileJob(f"{base}/modeling_flax_{arch.name}.py", "flax/modeling.py.jinja", arch.spec_file, ctx, arch.name, "flax"),
        ]
    return jobs


def render(env: jinja2.Environment, job: FileJob) -> str:
    try:
        template = env.get_template(job.template)
        body = template.render(**job.context, source=job.source, output_path=job.path)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.filename and _rel_template(exc.filename) or job.template, exc.lineno, job.source, exc.message or "syntax error") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(job.template, None, job.source, f"template {exc.name!r} not found") from None
    except Exception as exc:  # undefined variables, bad filters, errors raised by render-model methods
        template_name, line = _template_frame(exc)
        raise TemplateError(template_name or job.template, line, job.source, f"{type(exc).__name__}: {exc}") from None
    return body


def _rel_template(filename: str) -> str:
    try:
        return "templates/" + Path(filename).resolve().relative_to(TEMPLATES).as_posix()
    except ValueError:
        return filename


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template frame of a traceback: (template path, line)."""
    tb = exc.__traceback__
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        frame = tb.tb_frame
        filename = frame.f_code.co_filename
        if filename.endswith(".jinja"):
            template = frame.f_globals.get("__jinja_template__")
            line = template.get_corresponding_lineno(tb.tb_lineno) if template is not None else tb.tb_lineno
            found = (_rel_template(filename), line)
        tb = tb.tb_next
    return found
