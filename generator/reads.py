"""Every declared configuration field changes what the generated models compute, or says that it does not.

A field that no generated module reads would be kept in config.json and silently ignored: a checkpoint whose
config sets it would load into a model that computes something else than transformers' class. After rendering, each
architecture's declared fields are looked up in what reads them:

- its generated modeling modules (PyTorch, TensorFlow, Flax: `config.<name>`, `getattr(config, "<name>" ...)`);
- the runtime shared by every model (generation, loading, outputs), which reads token ids, `use_cache`, ...;
- the generation configuration, which takes every field of transformers' `GenerationConfig` (its `_DEFAULTS`) that a
  model's configuration holds (`GenerationConfig.from_model_config`): generate() uses it or refuses its value;
- its configuration: a field another field's default derives from (`default_from`, `none_unless`, `default_repeat`,
  `default_tail`, `default_expand`, `default_period`, `default_match`), the string an `activation_spec` parses, a field `attribute_map` maps a read name to.

A field read by none of them is refused unless the spec says why: `choices` of one value (the only value the models
compute with), `unsupported` (other values refused), or `informative: true` (kept for transformers' users and tools,
changes no computation, e.g. a tokenizer class or an initialisation range transformers' own models ignore).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import SpecError
from .load import load_yaml

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Templates of the runtime every model shares: what they read from a model's configuration counts for every spec.
SHARED_TEMPLATES = (
    "common/configuration_utils.py.jinja",
    "common/checkpoint.py.jinja",
    "common/hub.py.jinja",
    "torch/integrations.py.jinja",
    *(f"{fw}/{name}" for fw in ("torch", "tf", "flax") for name in ("runtime.py.jinja", "generation.py.jinja", "outputs.py.jinja")),
)
# Its `_DEFAULTS` are the fields `GenerationConfig.from_model_config` takes from a model's configuration.
GENERATION_CONFIG = "common/generation_config.py.jinja"
_READ = re.compile(r"""config\.([A-Za-z_]\w*)|getattr\(\s*(?:self\.)?config\s*,\s*["']([A-Za-z_]\w*)["']""")
# `attribute_rate(config, ("a", "b"), default)`: the first of the attributes set (a head's dropout).
_RATE = re.compile(r"""attribute_rate\(\s*(?:self\.)?config\s*,\s*\(([^)]*)\)""")


# `config.<field>.<sub-field>`: a field of a sub-configuration (`type: config`), read as its dotted name.
_READ_SUB = re.compile(r"""config\.([A-Za-z_]\w*\.[A-Za-z_]\w*)""")


def _reads(text: str) -> set[str]:
    names = {a or b for a, b in _READ.findall(text)} | set(_READ_SUB.findall(text))
    for listed in _RATE.findall(text):
        names |= set(re.findall(r"""["']([A-Za-z_]\w*)["']""", listed))
    return names


def generation_config_reads() -> set[str]:
    """The fields of transformers' `GenerationConfig` (the keys of the `_DEFAULTS` dict of the generation
    configuration's template)."""
    text = (TEMPLATES / GENERATION_CONFIG).read_text(encoding="utf-8")
    block = text.split("\n_DEFAULTS = {", 1)[1].split("\n}\n", 1)[0]
    return set(re.findall(r'^\s*"(\w+)":', block, re.M))


def shared_reads() -> set[str]:
    out: set[str] = generation_config_reads()
    for name in SHARED_TEMPLATES:
        path = TEMPLATES / name
        if path.exists():
            out |= _reads(path.read_text(encoding="utf-8"))
    return out


def check(project, rendered: dict[str, str], specs_dir: Path, package: str = "specformers") -> None:
    """Raise a SpecError for the first declared config field of an architecture that nothing reads (`rendered`: the
    rendered files by output path)."""
    shared = shared_reads()
    for arch in project.architectures:
        prefix = f"{package}/models/{arch.name}/"
        modeling = [text for path, text in rendered.items() if path.startswith(prefix) and "/modeling_" in path]
        if not modeling:
            continue  # not rendered in this run
        read = set(shared)
        for text in modeling:
            read |= _reads(text)
        config = arch.spec.config
        for alias, target in config.attribute_map.items():
            if alias in read:
                read.add(target)
        for field in config.fields:
            for source in (field.default_from, field.none_unless, field.default_repeat):
                if source:
                    read |= set(source.split(" * ")[0].replace(" // ", " ").split())
            if field.default_tail is not None:
                read |= {n for n in (field.default_tail.start, field.default_tail.when) if isinstance(n, str)}
            if field.default_expand is not None:
                read |= {field.default_expand.pairs, field.default_expand.length}
            if isinstance(field.default_period, str):
                read.add(field.default_period)
            if field.default_match is not None:
                read |= {name for name in (field.default_match.source, field.default_match.flag, field.default_match.when) if name}
        if config.activation_spec is not None:
            read.add(config.activation_spec.field)
        # A sub-configuration's fields each by their dotted name (`attn_config.clip_qkv`).
        declared = [(index, field.name, field, ["config", "fields", index]) for index, field in enumerate(config.fields) if field.type != "config"]
        declared += [
            (index, f"{field.name}.{sub.name}", sub, ["config", "fields", index, "fields", sub_index])
            for index, field in enumerate(config.fields) if field.type == "config" for sub_index, sub in enumerate(field.fields)
        ]
        for index, name, field, loc in declared:
            if name in read or field.informative or field.unsupported or (field.choices and len(field.choices) == 1 and field.type != "list"):
                continue
            path = Path(specs_dir) / Path(arch.spec_file).name
            loaded = load_yaml(path) if path.exists() else None
            raise SpecError(
                arch.spec_file,
                f"{name!r} is read by no generated module (nor derives another field's default): a config.json "
                f"that sets it would be silently ignored. Name it where it chooses the computation (a component's "
                f"field), refuse the values that are not rendered (`choices` with `unsupported`), or write "
                f"`informative: true` if transformers' models ignore it too",
                line=loaded.line_of(loc) if loaded else None,
                field=".".join(map(str, loc)),
            )
