"""Stage 2 — validate: the pydantic models of what a spec author may write.

Every model forbids unknown keys. A component kind names the template that renders it (``template``); every framework
folder (``templates/torch``, ``templates/tf``, ``templates/flax``) has a file of that name exporting the same macros.
Cross-field rules that pydantic cannot see locally (a head that needs a component the spec lacks, a config field that
does not exist) are checked in :mod:`generator.resolve`.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator, StrictInt

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

# Names a spec may not use as a config field or module attribute: they would shadow what generated code relies on.
RESERVED_NAMES = frozenset(
    {"config", "self", "cls", "super", "forward", "call", "setup", "training", "dtype", "name", "params", "to_dict",
     "from_dict", "from_pretrained", "save_pretrained", "model_type", "attribute_map", "torch", "tf", "jnp", "jax", "nn",
     "np", "keras", "math"}
)


def _identifier(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(f"{value!r} is not a valid Python identifier")
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise ValueError(f"{value!r} is a Python keyword")
    return value


def _not_reserved(value: str) -> str:
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved: generated code uses this name")
    return value


def _dotted(value: str) -> str:
    if not _DOTTED.match(value):
        raise ValueError(f"{value!r} is not a dotted module path such as 'encoder.embed_positions'")
    for part in value.split("."):
        _identifier(part)
    return value


_MODEL_TYPE = re.compile(r"^[a-z][a-z0-9]*([_-][a-z0-9]+)*$")


def _model_type(value: str) -> str:
    if not _MODEL_TYPE.match(value):
        raise ValueError(
            f"{value!r} is not a model type such as 'bert' or 'bert-generation' (lower-case letters and digits, words "
            "joined by '_' or '-')"
        )
    return value


def _class_prefix(value: str) -> str:
    _identifier(value)
    if not value[0].isupper():
        raise ValueError(f"{value!r} must start with an upper-case letter (it prefixes class names)")
    return value


def _class_name(value: str) -> str:
    _identifier(value)
    if not value[0].isupper():
        raise ValueError(f"{value!r} must start with an upper-case letter (it is a class name)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
def _field_reference(value: str) -> str:
    """A config field's name, or `<field>.<sub-field>`: a field of a sub-configuration (`type: config`)."""
    parts = value.split(".")
    if len(parts) > 2:
        raise ValueError(f"{value!r} is not a config field: write `<field>` or `<field>.<sub-field>` (a field of a sub-configuration)")
    for part in parts:
        _not_reserved(_identifier(part))
    return value


# A config field a component reads: a field, or `<field>.<sub-field>` of a sub-configuration.
FieldName = Annotated[str, AfterValidator(_field_reference)]
# The name a config field declares (no dot).
DeclaredName = Annotated[str, AfterValidator(_identifier), AfterValidator(_not_reserved)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
DottedPath = Annotated[str, AfterValidator(_dotted)]
ClassPrefix = Annotated[str, AfterValidator(_class_prefix)]
ClassName = Annotated[str, AfterValidator(_class_name)]
ModelType = Annotated[str, AfterValidator(_model_type)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------------------------------
# Config


class ConfigFieldSpec(Strict):
    """One configuration field."""

    # The field's name, as in transformers' configuration class.
    name: DeclaredName
    # `dict`: a mapping whose only rendered value is null (with `unsupported`), or the rotary positions' scaling
    # (`position.scaling`, without `unsupported`). `list`: a list of strings (or of ints:
    # `choices` of ints, e.g. `[0, 1]`) or null (`optional: true`, `default: null`), whose entries `choices` restricts
    # (`choices: []` with `unsupported`: only null or an empty list is accepted, and the configuration keeps `[]` for
    # null, as transformers keeps a list of layer indices of a kind the models do not render). `repeats`: a list of `[entries, count]`
    # pairs (`entries` a list of strings, `count` an int >= 0; e.g. `[[["global", "local"], 12]]`), the compact form
    # of a per-layer list that a `list` field's `default_expand` expands. `eos_token_id` (`int`) may default to a
    # list of ints: generation stops at any of them. `config`: a sub-configuration (`default: null`, with
    # `config_class` and `fields`), its own class in the configuration module, as transformers nests some settings
    # (an `attn_config`): built from a dict (config.json) or an instance, None its defaults.
    type: Literal["int", "float", "str", "bool", "dict", "list", "repeats", "config"]
    # The default value (null only with `optional: true`; of a `repeats` field, such a list of pairs).
    default: Union[bool, int, float, str, None, list]
    # The field's description in the configuration's docstring.
    doc: str
    # Whether null is a valid value.
    optional: bool = False
    # A None value takes another field's value (`num_attention_heads`), a quotient of two (`hidden_size //
    # num_attention_heads`), or a field's value times a whole number (`hidden_size * 4`).
    default_from: Optional[str] = None
    # The values the configuration accepts, of the field's type or (`optional: true`) null (others raise ValueError
    # when it is built); of a `list` field, the values each entry may take.
    choices: Optional[list[Union[bool, int, float, str, None]]] = None
    # A field or values the models do not render: any value but null (a `dict` field), with `choices` any value
    # outside them, with `default_from: <field>` any value but null or that field's value (a value the models render
    # only when it equals that field's), with `minimum` any value below it, raises ValueError at config construction,
    # with this reason.
    unsupported: Optional[str] = None
    # `int` and `float` fields: the smallest value the configuration accepts (a smaller one raises ValueError when it
    # is built, with the `unsupported` reason when given), e.g. `minimum: 1` for a count of experts whose 0 would
    # mean a component the models do not render.
    minimum: Union[int, float, None] = None
    # A boolean config field: the configuration keeps this field's value only when that field is true, else None (as
    # transformers keeps a `sliding_window` only with `use_sliding_window`).
    none_unless: Optional[FieldName] = None
    # `list` fields: the int config field of the length a None value takes, each entry the first of `choices` (as
    # transformers computes `layer_types`, one entry per layer: `num_hidden_layers`); a given list of another length
    # raises ValueError.
    default_repeat: Optional[FieldName] = None
    # Optional `list` fields with a null default: the configuration keeps None as an empty list (as transformers'
    # Qwen MoE configurations keep `mlp_only_layers`).
    default_empty: bool = False
    # `list` fields with `default_repeat`: a None value takes the second of `choices` from the entry at index
    # `config.<start>` on, where the config field `<when>` (as the configuration keeps it) is not None (as
    # transformers derives `layer_types`: sliding layers from `max_window_layers` on, with a `sliding_window`).
    default_tail: Optional["DefaultTailSpec"] = None
    # `list` fields: a None value is the expansion of a `repeats` config field declared before it (each pair's
    # entries, `count` times, in order), as transformers' GPT-Neo derives `attention_layers` from `attention_types`;
    # the list (expanded or given) must hold one entry per layer of `length`, else ValueError.
    default_expand: Optional["DefaultExpandSpec"] = None
    # `list` fields with `default_repeat` (not with `default_tail`): a None value takes the second of `choices`, but
    # every this-many-th entry (index i with (i + 1) % period == 0) the first: a number, or an int config field (as
    # transformers derives `layer_types` from a pattern: every other layer sliding, the second one full).
    default_period: Union[PositiveInt, FieldName, None] = None
    # `list` fields with `default_period`: where the period starts, the index i of the first choice's entries being those
    # with (i + offset) % period == 0 (1: the period-th, 2 * period-th, ... entries; 0: the first entry and every
    # period-th after it: a layer every period counting from the first, as an encoder whose first layer is global).
    default_period_offset: Literal[0, 1] = 1
    # `list` fields with `default_repeat` (not with `default_tail` or `default_period`): a None value takes the second of
    # `choices` at the indexes where another `list` config field holds a given entry, when a boolean config field is
    # true and another field is not None, the first elsewhere (as transformers derives a `layer_types`: sliding where
    # `no_rope_layers` holds 0, with `use_sliding_window` and a `sliding_window`).
    default_match: Optional["DefaultMatchSpec"] = None
    # false: transformers' configuration class does not declare the field, but its models read it from a
    # configuration that holds it (`getattr(config, name, default)`, e.g. a config.json's `head_dim`); the generated
    # configuration declares it so that the generated models honour it too (its None: the default they compute).
    upstream: bool = True
    # true: kept in the configuration (config.json) for transformers' users and tools, read by no generated module and
    # changing no computation (a tokenizer class, an initialisation range, a setting transformers' own models ignore
    # too). The generator refuses a declared field that nothing reads unless it is `informative`, has one of
    # `choices` or is `unsupported`: a checkpoint's config.json that set it would otherwise be silently ignored.
    informative: bool = False
    # `type: config`: the sub-configuration's class name, as transformers names it (`MyAttentionConfig`).
    config_class: Optional[ClassName] = None
    # `type: config`: the sub-configuration's fields (`int`, `float`, `str` or `bool`; `name`, `type`, `default`,
    # `doc`, `optional`, `choices`, `unsupported`, `minimum` and `informative` as a field's here). Components name
    # one as `<field>.<sub-field>` wherever they take a config field (`attention.clip: attn_config.clip_qkv`); a test
    # variant sets them as a mapping (`attn_config: {clip_qkv: 0.5}`).
    fields: Optional[list["ConfigFieldSpec"]] = None

    @field_validator("default_from")
    @classmethod
    def _fields_or_quotient(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            if " * " in value:
                # A field times a whole number (`hidden_size * 4`).
                part, factor = value.split(" * ", 1)
                if not factor.isdigit() or int(factor) < 1:
                    raise ValueError(f"{value!r}: a product default is `<field> * <whole number>`")
                _not_reserved(_identifier(part))
                return value
            for part in value.split(" // ") if " // " in value else [value]:
                _not_reserved(_identifier(part))
        return value

    @model_validator(mode="after")
    def _default_has_type(self) -> "ConfigFieldSpec":
        value = self.default
        if self.type == "config" or self.config_class is not None or self.fields is not None:
            return self._sub_configuration()
        if self.type == "dict" and self.choices is not None:
            raise ValueError(f"{self.name!r}: a `dict` field takes no `choices`: give it `unsupported: <reason>` (the models render only null) or name it as the rotary positions' `position.scaling`")
        only_default_from = self.default_from is not None and " // " not in self.default_from and " * " not in self.default_from
        if self.unsupported is not None and self.type != "dict" and self.choices is None and not only_default_from and self.minimum is None:
            raise ValueError(f"{self.name!r}: `unsupported` is the reason a value is refused: give the accepted values as `choices`, or `default_from: <field>` (only null or that field's value is accepted), or a `minimum`, or make it a `dict` field, whose only value is null")
        if self.minimum is not None:
            if self.type not in ("int", "float") or isinstance(self.minimum, bool) or (self.type == "int" and not isinstance(self.minimum, int)):
                raise ValueError(f"{self.name!r}: `minimum` bounds an `int` or `float` field, with a number of its type (this field is of type {self.type})")
            if self.choices is not None or self.default_from is not None:
                raise ValueError(f"{self.name!r}: give the accepted values either as `choices` or `default_from`, or as a `minimum`, not both")
            if self.default is not None and not isinstance(self.default, list) and not isinstance(self.default, bool) and isinstance(self.default, (int, float)) and self.default < self.minimum:
                raise ValueError(f"default {self.default!r} of {self.name!r} is below its `minimum` {self.minimum!r}")
        if self.unsupported is not None and self.choices is not None and self.default_from is not None:
            raise ValueError(f"{self.name!r}: with `unsupported`, give the accepted values either as `choices` or as `default_from: <field>`, not both")
        if self.type == "list" and (value is not None or not self.optional):
            raise ValueError(f"{self.name!r}: a `list` field defaults to null: write `optional: true, default: null` (restrict its entries with `choices`)")
        if self.default_empty and (self.type != "list" or not self.optional or self.default is not None or self.default_repeat is not None or self.default_expand is not None):
            raise ValueError(f"{self.name!r}: `default_empty` keeps None as an empty list: give it `type: list`, `optional: true`, `default: null` and no other derived default")
        if self.default_repeat is not None and (self.type != "list" or not self.choices):
            raise ValueError(f"{self.name!r}: `default_repeat` repeats the first of `choices` of a `list` field: give it `type: list` and `choices`")
        if self.default_tail is not None and (self.default_repeat is None or len(self.choices or []) < 2):
            raise ValueError(f"{self.name!r}: `default_tail` turns the later entries of `default_repeat` into the second of `choices`: give the field `default_repeat` and two `choices`")
        if self.default_period is not None and (self.default_repeat is None or len(self.choices or []) < 2):
            raise ValueError(f"{self.name!r}: `default_period` turns every period-th entry of `default_repeat` into the first of `choices`, the others into the second: give the field `default_repeat` and two `choices`")
        if self.default_match is not None and (self.default_repeat is None or len(self.choices or []) < 2):
            raise ValueError(f"{self.name!r}: `default_match` turns the entries of `default_repeat` where another list holds an entry into the second of `choices`: give the field `default_repeat` and two `choices`")
        if self.default_match is not None and (self.default_period is not None or self.default_tail is not None):
            raise ValueError(f"{self.name!r}: `default_match`, `default_period` and `default_tail` each derive every entry of `default_repeat`: keep one")
        if self.default_period_offset != 1 and self.default_period is None:
            raise ValueError(f"{self.name!r}: `default_period_offset` places the entries `default_period` derives: give the field `default_period` or remove `default_period_offset`")
        if self.default_period is not None and self.default_tail is not None:
            raise ValueError(f"{self.name!r}: `default_period` and `default_tail` each derive every entry of `default_repeat`: keep one")
        if self.default_expand is not None and (self.type != "list" or not self.choices):
            raise ValueError(f"{self.name!r}: `default_expand` expands a `repeats` field into a `list` field whose entries `choices` restricts: give it `type: list` and `choices`")
        if sum(x is not None for x in (self.none_unless, self.default_from, self.default_repeat, self.default_expand)) > 1:
            raise ValueError(f"{self.name!r}: give at most one of `default_from`, `default_repeat`, `default_expand`, `none_unless` (each says what a None value means)")
        if self.type == "repeats":
            if self.choices is not None or self.optional:
                raise ValueError(f"{self.name!r}: a `repeats` field has a list of `[entries, count]` pairs as its default, no `choices` (restrict the entries of the `list` field that expands it) and no `optional`")
            if not _is_repeats(value):
                raise ValueError(f"default of {self.name!r} must be a list of `[entries, count]` pairs (`entries` a list of strings, `count` an int >= 0), e.g. [[[\"global\", \"local\"], 12]]")
            return self
        # The entries of a `list` field are all text or all ints (the type of its first choice).
        entry_type = "int" if self.type == "list" and self.choices and _has_type(self.choices[0], "int") else "str"
        for choice in self.choices or []:
            if choice is None and self.optional and self.type != "list":
                continue
            if not _has_type(choice, entry_type if self.type == "list" else self.type):
                kind = f"entries of a `list` field are all text or all ints (its first choice is {'an int' if entry_type == 'int' else 'text'})" if self.type == "list" else f"the field is of type {self.type}"
                raise ValueError(f"choice {choice!r} of {self.name!r} is not of the field's type: {kind}")
        if value is None:
            if not self.optional:
                raise ValueError(f"default of {self.name!r} is null but the field is not `optional: true`")
            return self
        if self.type == "dict":
            raise ValueError(f"default of {self.name!r} must be null: a `dict` field defaults to None (a mapping is given when the configuration is built)")
        if isinstance(value, list) and self.type == "int":
            if self.name != "eos_token_id":
                raise ValueError(f"default {value!r} of {self.name!r} is a list: only `eos_token_id` (generation stops at any of its ids) defaults to a list of ints; write one int")
            if not value or not all(_has_type(v, "int") for v in value) or self.choices is not None:
                raise ValueError(f"default {value!r} of {self.name!r} must be a non-empty list of ints, without `choices`")
            return self
        if not _has_type(value, self.type):
            raise ValueError(f"default {value!r} of {self.name!r} is not of type {self.type}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"default {value!r} of {self.name!r} is not one of {self.choices}")
        return self


    def _sub_configuration(self) -> "ConfigFieldSpec":
        """A `type: config` field: its class and fields, each a plain scalar field."""
        if self.type != "config":
            raise ValueError(f"{self.name!r}: `config_class` and `fields` declare a sub-configuration: write `type: config`, or remove them")
        if self.config_class is None or not self.fields:
            raise ValueError(f"{self.name!r}: a sub-configuration (`type: config`) needs `config_class: <its class name>` and its `fields`")
        if self.default is not None or self.optional:
            raise ValueError(f"{self.name!r}: a sub-configuration defaults to null (its fields' defaults): write `default: null`, without `optional`")
        extra = [key for key in ("default_from", "choices", "unsupported", "minimum", "none_unless", "default_repeat", "default_tail", "default_expand", "default_period", "default_match") if getattr(self, key) is not None]
        if extra or not self.upstream or self.informative:
            raise ValueError(f"{self.name!r}: a sub-configuration takes `config_class`, `fields` and `doc`; put {', '.join(f'`{k}`' for k in extra) or 'the other keys'} on its fields")
        seen: set[str] = set()
        for sub in self.fields:
            if sub.type not in ("int", "float", "str", "bool"):
                raise ValueError(f"{self.name}.{sub.name}: a sub-configuration's field is an `int`, `float`, `str` or `bool` (not {sub.type!r})")
            derived = [key for key in ("default_from", "none_unless", "default_repeat", "default_tail", "default_expand", "default_period", "default_match") if getattr(sub, key) is not None]
            if derived or not sub.upstream:
                raise ValueError(f"{self.name}.{sub.name}: a sub-configuration's field takes `name`, `type`, `default`, `doc`, `optional`, `choices`, `unsupported`, `minimum` and `informative`; remove {', '.join(f'`{k}`' for k in derived) or '`upstream`'}")
            if sub.name in seen:
                raise ValueError(f"{self.name}.{sub.name}: the sub-configuration declares this field twice")
            seen.add(sub.name)
        return self


class DefaultTailSpec(Strict):
    """The entries of a derived `list` default that take the second of `choices`: those from index `config.<start>`
    on, where `config.<when>` is not None."""

    # The first index that takes the second choice: an int config field, or a number (`0`: every entry, e.g. every
    # layer sliding while a `sliding_window` is set).
    start: Union[NonNegativeInt, FieldName]
    # The config field that must not be None for any entry to take it (declared before the list field).
    when: FieldName


class DefaultMatchSpec(Strict):
    """The entries of a derived `list` default that take the second of `choices`: those at the indexes where the
    `list` config field `source` holds `entry`, when `config.<flag>` is true and `config.<when>` is not None."""

    # The `list` config field read, one entry per layer (declared before the list field).
    source: FieldName
    # The entry of `source` (one of its `choices`) at which the derived list takes its second choice.
    entry: Union[StrictInt, str]
    # A boolean config field (declared before the list field) that must be true for any entry to take it (absent: no
    # such condition).
    flag: Optional[FieldName] = None
    # A config field (declared before the list field) that must not be None for any entry to take it (absent: no
    # such condition).
    when: Optional[FieldName] = None


class DefaultExpandSpec(Strict):
    """A derived `list` default: the expansion of a `repeats` config field, one entry per layer."""

    # The `repeats` config field expanded (declared before the list field).
    pairs: FieldName
    # The int config field of the number of entries the list must hold (the number of layers).
    length: FieldName


ConfigFieldSpec.model_rebuild()


def _is_repeats(value: Any) -> bool:
    """Whether a YAML value is a list of `[entries, count]` pairs (entries a list of strings, count an int >= 0)."""
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], list)
        and all(isinstance(entry, str) for entry in pair[0]) and _has_type(pair[1], "int") and pair[1] >= 0
        for pair in value
    )


def _has_type(value: Any, type_: str) -> bool:
    """Whether a YAML scalar is a value of a config field's type (a bool is no int, an int is a float)."""
    return {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
    }.get(type_, False)


class ConfigSpec(Strict):
    """The configuration class (`<class_prefix>Config`): transformers' fields and defaults, loaded from and saved to
    config.json."""

    # The configuration class's docstring.
    doc: str
    # The configuration fields, with transformers' names, types and defaults.
    fields: list[ConfigFieldSpec] = Field(min_length=1)
    # Aliases: the name templates read (`hidden_size`) -> the config field that holds it (`d_model`).
    attribute_map: dict[Identifier, Identifier] = Field(default_factory=dict)
    activation_spec: Optional["ActivationSpec"] = None
    # Combinations of config values the models do not render (each value accepted alone): building a configuration
    # whose fields hold every value of a `when` raises ValueError with its reason, e.g.
    # `[{when: {new_decoder_architecture: true, parallel_attn: false}, reason: "..."}]`.
    refuse: list["RefusedCombination"] = Field(default_factory=list)

    @field_validator("fields")
    @classmethod
    def _unique(cls, fields: list[ConfigFieldSpec]) -> list[ConfigFieldSpec]:
        seen: set[str] = set()
        for f in fields:
            if f.name in seen:
                raise ValueError(f"config field {f.name!r} is declared twice")
            seen.add(f.name)
        return fields


class RefusedCombination(Strict):
    """A combination of config values the models do not render (`config.refuse`)."""

    # Two or more config fields and the value each holds in the combination.
    when: dict[FieldName, Union[bool, int, float, str, None]]
    # Why the models do not render it (the ValueError's message says which values were given).
    reason: str

    @field_validator("when")
    @classmethod
    def _two_or_more(cls, when: dict) -> dict:
        if len(when) < 2:
            raise ValueError("name two or more fields: a value refused alone is the field's `choices` with `unsupported`")
        return when


# --------------------------------------------------------------------------------------------------------------------
# Components. Each kind names its template; the resolver checks that the config fields it reads exist.


class Projection(Strict):
    """A projection of the embeddings to hidden_size (its module path: the `names` role `embeddings.projection`)."""

    # Built always, or only when the embedding width differs from hidden_size.
    when: Literal["always", "sizes_differ"] = "always"
    # names-layout stacks: whether the projection has a bias (in decoder-only stacks, the output projection back to
    # the embedding width, the `names` role `final_projection`, too).
    bias: bool = True


class TypeTableSpec(Strict):
    """A further table of token types (task types), selected by a boolean config flag: with the flag set, the
    table (`config.<size>` rows at the embeddings' width) exists and `<argument>[i]` picks the row added to token i's
    sum (zeros when not given), after the word, token type and position rows and before the LayerNorm; with the flag
    unset there is no table (checkpoints hold none) and a given `<argument>` raises a `ValueError` (transformers'
    classes ignore it then: an answer that silently drops it would be wrong). Given ids are checked at the entrance
    as the token types are: the input's shape (or (1, seq)), values in `[0, config.<size>)`. The heads take `<argument>` right after
    `token_type_ids` (Flax: before `params`, after `token_type_ids`), documented from specs/arguments.yaml."""

    # The boolean config field that creates the table.
    flag: FieldName
    # The config field of the table's number of rows.
    size: FieldName
    # The table's attribute in the embeddings module.
    path: Identifier
    # The forward argument of the ids (an entry of specs/arguments.yaml).
    argument: Identifier


class Vocabularies(Strict):
    """Separate source and target vocabularies of a names-layout encoder-decoder, chosen by a config flag."""

    # A boolean config field: true, one vocabulary matrix (the role `embeddings.shared`) for both stacks, as without
    # `vocabularies`; false, no such matrix (the base model's attribute is None): the encoder and the decoder each own
    # a table of `config.vocab_size` rows (as transformers builds them, the decoder's too).
    shared: FieldName
    # The int config field of the target vocabulary's size: the rows of the LM head and `lm_head.logits_bias` when
    # the tables are separate, and of the decoder stack's own table (the `causal_lm` head's decoder alone, whose LM
    # head has `config.vocab_size` rows, as in transformers).
    decoder_size: FieldName


class TokenDropout(Strict):
    """Token dropout at inference: the masked tokens' embeddings zeroed, the rest scaled up as in training."""

    # The boolean config field that turns it on.
    flag: FieldName
    # The config field of the id whose embeddings are zeroed (the mask token).
    token: FieldName
    # The fraction of tokens zeroed in training (the scale's numerator is `1 - ratio`).
    ratio: float = Field(gt=0, lt=1)


class EmbeddingsSpec(Strict):
    """The input embeddings: words, optional token types and learned positions, an optional norm and dropout."""

    template: ClassVar[str] = "modeling_decoder_only.py.jinja"
    # The config field of the embedding width (another than hidden_size: factorized embeddings, see `projection`).
    size: FieldName = "hidden_size"
    # Whether there are token type embeddings (`token_type_ids`): a table of `config.type_vocab_size` rows (true), none
    # (false), or (decoder-only stacks) `word`: the ids index the word embeddings, whose rows are added (GPT-2, GPT-J).
    token_type: Union[bool, Literal["word"]] = True
    # names-layout encoders: a further table of token types that a boolean config field creates (e.g.
    # `use_task_id`): `config.<size>` rows, their ids the heads' argument `<argument>` (right after `token_type_ids`;
    # zeros when not given; given without the table: a ValueError), added after the positions; `path` is the table's
    # attribute next to the word embeddings, in their container.
    task_type: Optional[TypeTableSpec] = None
    # Learned absolute position embeddings (`absolute`) or none (`none`: positions come from `position`, or none at
    # all). names-layout encoders: `absolute` with rotary positions whose `select` chooses one of the two by a config
    # field's value.
    position: Literal["absolute", "none"] = "absolute"
    # A Linear from the embedding width to hidden_size (factorized embeddings).
    projection: Optional[Projection] = None
    # names-layout encoder-decoder stacks: separate encoder and decoder vocabularies when a config flag says so
    # (e.g. `{shared: share_encoder_decoder_embeddings, decoder_size: decoder_vocab_size}`); the PyTorch classes then
    # have `get_decoder_input_embeddings`, `set_decoder_input_embeddings` and `resize_decoder_token_embeddings` (which
    # refuse shared ones), the LM head is tied to the decoder's table with `config.tie_word_embeddings`, and
    # `resize_token_embeddings` resizes the encoder's table only.
    vocabularies: Optional[Vocabularies] = None
    # Whether a LayerNorm follows the summed embeddings; names-layout encoders: or a boolean config field, the norm
    # existing (and applied) only when it is true (e.g. `emb_layer_norm_before`).
    norm: Union[bool, FieldName] = True
    # names layout: null for embeddings without dropout.
    dropout: Optional[FieldName] = "hidden_dropout_prob"
    # Absolute positions counted from `input_ids`, past a padding index (a config field): non-pad tokens get
    # `padding_idx + 1 + (number of non-pad tokens up to them)`, pads get `padding_idx`; from `inputs_embeds`,
    # `padding_idx + 1, padding_idx + 2, ...`. The table's first `padding_idx + 1` rows are never a real position.
    # In a names-layout encoder-decoder both stacks count so (the decoder's continuing after the cached length, as
    # transformers' M2M100 does); `position_offset` then only adds rows to the table, positions index it directly.
    position_padding_idx: Optional[FieldName] = None
    # names-layout encoders with learned absolute positions counted from 0: whether the models take `position_ids`
    # (given ones replace the count, as transformers' BERT-style encoders take them; encoders without them count only).
    # Positions counted past a padding index (`position_padding_idx`) always take them.
    position_ids: bool = False
    # names layout: a boolean config field; when set, the absolute position table holds fixed sinusoids (initialised
    # once, not trained) instead of learned positions. `true` (names-layout encoder-decoder and decoder-only stacks):
    # always fixed sinusoids. Checkpoints store the table, except a names-layout encoder-decoder head's with
    # `sinusoidal_saved: false`; decoder-only stacks, and names-layout encoder-decoders with fairseq's layout, hold an
    # always fixed table as a constant the model computes (no parameter: a PyTorch buffer left out of the state dict,
    # as transformers' fairseq-derived classes hold it).
    sinusoidal: Union[Literal[True], FieldName, None] = None
    # With `sinusoidal`: where each position's sines and cosines sit. `interleaved`: sin in the even columns, cos in
    # the odd ones; `halves` (names-layout encoder-decoder stacks): the sines in the first ceil(dim / 2) columns, the
    # cosines after them. Column pair k's angle is `position / 10000^(2k / dim)` in both. `fairseq` (decoder-only and
    # names-layout encoder-decoder stacks): fairseq's table, computed in float32: the sines of the first floor(dim / 2) columns then their cosines
    # (an odd width's last column zero), angle k `position * exp(-k * ln(10000) / (floor(dim / 2) - 1))`, the row
    # `config.<padding_idx>` of an always fixed table (`sinusoidal: true`) zero.
    sinusoidal_layout: Literal["interleaved", "halves", "fairseq"] = "interleaved"
    # names-layout encoders with a position table, and names-layout encoder-decoder stacks with `sinusoidal: true`:
    # the PyTorch classes have transformers' `get_position_embeddings` (the encoder's and the decoder's tables) and
    # `resize_position_embeddings` (learned rows kept, sinusoids recomputed at the new length,
    # `config.max_position_embeddings` following), where transformers' classes have them.
    position_accessors: bool = False
    # names layout: the config field of the word embeddings' padding index (PyTorch's `padding_idx`: its row starts at
    # zero and gets no gradient).
    padding_idx: Optional[FieldName] = None
    # names-layout encoder-decoder and decoder-only stacks: absolute positions read row `position + position_offset`
    # of a table of `max_position_embeddings + position_offset` rows (the first rows are never a position).
    position_offset: Optional[int] = Field(default=None, ge=0)
    # decoder-only stacks with absolute positions: without `position_ids`, positions are counted over the attention
    # mask, `cumsum(mask) * mask - 1` (pads -1: the row before the first position, so `position_offset` >= 1), the
    # new tokens' entries (those after the cached length); without a mask they continue after the cached ones.
    mask_positions: bool = False
    # Word embeddings multiplied by sqrt(hidden_size): always (`true`) or when a boolean config field is true.
    # names-layout encoder-decoder stacks: the looked-up embeddings only, times the float factor. decoder-only stacks:
    # the looked-up or given `inputs_embeds`, the factor rounded to their dtype first (which matters only in half
    # precision).
    scale: Union[Literal[True], FieldName, None] = None
    # decoder-only stacks with `scale`: whether given `inputs_embeds` are scaled too (`true`), or only the embeddings
    # looked up from `input_ids` (`false`).
    scale_inputs_embeds: bool = True
    # decoder-only stacks: the word embeddings (looked up or given as `inputs_embeds`) times this float config field,
    # after `scale`.
    multiplier: Optional[FieldName] = None
    # names-layout encoders: when `flag` is set, the word embeddings looked up from `input_ids` have the rows of the
    # `token` ids zeroed and are scaled by `(1 - ratio) / (1 - n / seq_len)` (n: the row's count of `token` ids,
    # seq_len: its full length, padding included); given `inputs_embeds` are left as they are.
    token_dropout: Optional[TokenDropout] = None
    # names-layout encoders: given `inputs_embeds` are the blocks' input as they are: no positions, token dropout,
    # norm or dropout added (as transformers' classes that call their embeddings module only for `input_ids`). Not
    # with token types, `task_type`, `projection` or `decoder`.
    raw_inputs_embeds: bool = False


class RotaryPosition(Strict):
    """Rotary position embeddings: queries and keys (and optionally values) rotated by position."""

    template: ClassVar[str] = "names_block.jinja"
    kind: Literal["rotary"]
    # names-layout encoders: a boolean config field; when set, the values are rotated too (after
    # the queries and keys, before the cache; never in a cross-attention).
    rotary_value: Optional[FieldName] = None
    # names-layout encoders: the rotations read a fixed sinusoidal table module at the `names` role `position.table`
    # (`max_position_embeddings` rows of one head's width: the sines `sin(p * theta^(-2k / head_dim))` in the first
    # half of row p, the cosines in the second, computed in float64 then cast to float32), computed once
    # per forward by the stack for the positions 0.. (after the cached length) and passed to every block; the input
    # length is bounded by its rows. `saved`: checkpoints hold it as `<path>.weight` (a PyTorch buffer in the state
    # dict; TensorFlow and Flax compute it, write it on save and skip it on load);
    # `computed`: a constant left out of checkpoints. Not with `fraction`, `dims`, `scaling`, `layers` or
    # `theta_by_layer_type` (the table spans each head's width with one base).
    table: Optional[Literal["saved", "computed"]] = None
    # names layout: rotary positions without a module, inverse frequencies `theta ** (-2i / dim)` from the config field
    # `theta` (e.g. `rope_theta`) or a fixed base (`10000.0`), over the first `fraction` or `dims` (absent: all) of
    # each head's dimensions.
    theta: Optional[Union[FieldName, float]] = None
    # names layout: the float config field of the fraction of each head's dimensions that rotate (absent: all).
    fraction: Optional[FieldName] = None
    # names layout: the config field of the number of each head's dimensions that rotate (a count, e.g. `rotary_dim`;
    # its value None: all of them). Exclusive with `fraction`.
    dims: Optional[FieldName] = None
    # names layout: which dimensions rotate together. `halves`: dimension j with j + d/2 (rotate-half);
    # `interleaved`: 2i with 2i + 1 (rotate every two), each pair's angle repeated side by side.
    pairing: Literal["halves", "interleaved"] = "halves"
    # names layout with `attention.layer_types`: layer kinds (values of the `layer_types` field, e.g.
    # `sliding_attention`) whose rotations take their base from another config field (e.g. `rope_local_base_freq`),
    # `{kind: field}` (an optional field's None: `theta`); the layers of the other kinds rotate with `theta`.
    theta_by_layer_type: dict[str, FieldName] = Field(default_factory=dict)
    # names layout with `attention.layer_types` and `scaling`: layer kinds (values of the `layer_types` field, e.g.
    # `sliding_attention`) whose rotations stay unscaled (transformers' `rope_type: default`, e.g. on the
    # sliding-window layers); the layers of the other kinds rotate as `scaling` says, with the base `theta` (so every
    # kind of `theta_by_layer_type` is listed here too).
    unscaled_layer_types: list[str] = Field(default_factory=list)
    # names-layout encoders: the module path, inside each block, of a module whose buffer `inv_freq` (the rotations'
    # inverse frequencies) checkpoints hold: written on save and loaded, never read (the rotations compute the same
    # frequencies).
    buffer: Optional[DottedPath] = None
    # decoder-only stacks: the `list` config field (two `choices`, one entry per layer, e.g. `no_rope_layers`,
    # `[0, 1]`) of the layers that rotate: those whose entry is the second choice; the layers of the first choice take
    # no positions at all (their queries and keys are not rotated, "NoPE").
    layers: Optional[FieldName] = None
    # decoder-only and names-layout encoder stacks (names layout, one `theta`, no `dims`): the `dict` config field of
    # transformers' `rope_scaling` (declared without `unsupported`), which scales the inverse frequencies of the
    # rotation as its `rope_type` (or legacy `type`) says: `default`, `linear` (divided by `factor`), `llama3`
    # (`factor`, `low_freq_factor`, `high_freq_factor`, `original_max_position_embeddings`) or `yarn` (`factor`,
    # optional `attention_factor`, `beta_fast`, `beta_slow`, `mscale`, `mscale_all_dim`,
    # `original_max_position_embeddings`, `truncate`; the cosines and sines times the attention factor) or `longrope`
    # (`short_factor`, `long_factor`: one divisor per rotated pair, the long ones for a call whose positions pass the
    # original context, the config field `original_max_position_embeddings` when declared, else
    # `max_position_embeddings`; optional `factor`, `attention_factor`) or `dynamic` (`factor`: NTK-aware, the base
    # grown as the call's longest position passes `max_position_embeddings`, computed per call: transformers' state,
    # the longest length seen, gives the same for a fresh model and in generation). Other types and other keys raise
    # ValueError when the configuration is built.
    scaling: Optional[FieldName] = None
    # with `scaling`: the rope types the configuration accepts when transformers' configuration of the architecture
    # accepts fewer than every rendered one (e.g. `[longrope]`); others raise ValueError when it is built. Empty:
    # every rendered type.
    scaling_types: list[Literal["default", "linear", "llama3", "yarn", "longrope", "dynamic"]] = Field(default_factory=list)
    # Decoder-only stacks: ALiBi positions in place of the rotary ones when a boolean config field is true (below).
    alibi: Optional["AlibiSwitch"] = None
    # names-layout encoders: these rotary positions or the embeddings' learned absolute ones (`embeddings.position:
    # absolute`), as a str config field's value says when the model is built (below).
    select: Optional["PositionSelect"] = None


class PositionSelect(Strict):
    """The position scheme chosen by a str config field's value when the model is built (transformers'
    `position_embedding_type`): with `value`, the rotary positions (the position table is not built; they count from
    0 in every row, so `position_ids` change nothing, as transformers' classes of this kind), with `absolute`, the embeddings' learned
    absolute positions (the rotations and their `buffer` are not built). The field declares exactly these two values
    as `choices` (other values, e.g. `relative_key`, refused with its `unsupported` reason)."""

    # The str config field whose value chooses the scheme (e.g. `position_embedding_type`).
    field: FieldName
    # The value that chooses the rotary positions (e.g. `rotary`).
    value: str
    # The value that chooses the embeddings' learned absolute positions (e.g. `absolute`).
    absolute: str


class AlibiSwitch(Strict):
    """ALiBi positions chosen by a boolean config field in place of rotary ones (decoder-only stacks): under the flag
    no rotation, and each head's scores get `slope_h * key_position` (the slopes of `position: {kind: alibi}`) added
    with the additive mask; without it, the rotary positions."""

    # The boolean config field that chooses ALiBi positions.
    flag: FieldName
    # How the keys' positions are counted (`mask` or `absolute`, as `count` of `position: {kind: alibi}`).
    count: Literal["mask", "absolute"] = "mask"
    # The bias joins the scores before their division by sqrt(head_dim), so it is divided too (false: after it).
    scaled: bool = False
    # With `scaled`: the additive mask carries the divided bias once more unless a head mask is given (the bias then
    # counts twice, as the reference's eager attention of this kind computes it).
    mask_copy: bool = False
    # The bias rounded to bfloat16 before the model's dtype (positions beyond 256 lose precision, as in the reference).
    bfloat16: bool = False
    # The config field of the attention probabilities' dropout under the flag (absent: none).
    dropout: Optional[FieldName] = None
    # Whether the head mask applies to the rotary attention too (false: only under the flag; the rotary attention
    # ignores it, as the reference's).
    rotary_head_mask: bool = True


RotaryPosition.model_rebuild()


class RelativeFunctionalPosition(Strict):
    """Fixed sinusoidal relative-position table added to attention scores (q·R) and to the attention output (p·R).

    `R[i, j]` is row `clip(j - i, -M, M) + M` of a sinusoid table of head_dim columns (sines and cosines interleaved),
    `M = config.<max_relative_position>`: a constant the stack computes once for `config.max_position_embeddings`
    positions and shares with every layer (never a parameter, never saved). Rendered in names-layout encoders
    (`embeddings.position: none`), where a stack doubling as a decoder continues the queries' positions after the
    cached keys and its cross-attention adds `R` of the decoder's positions against the encoder's.
    """

    template: ClassVar[str] = "positions/relative_functional.jinja"
    kind: Literal["relative_functional"]
    # The config field clipping relative distances.
    max_relative_position: FieldName


class BucketedBiasPosition(Strict):
    """Bucketed relative attention bias: log-bucketed relative distances -> a learned per-head bias added to the scores.

    With `owner: first_layer`, the first block of each stack owns the table (an Embedding of num_buckets x heads, the
    block role `attention.relative_bias`); its bias is reused by the later blocks. With `owner: every_layer`, every
    block's self-attention owns its own table and computes its own bias (the cross-attention has none: the padding mask
    only). With `owner: stack` (names-layout encoders and encoder-decoders), each stack owns the table at the `names`
    role `position.bias` and computes the bias once per forward; every layer adds it to its self-attention scores,
    with the mask, on top of the absolute positions of the embeddings if any. Encoders bucket bidirectionally,
    decoders causally (queries after the cached keys).
    """

    template: ClassVar[str] = "positions/bucketed_bias.jinja"
    kind: Literal["bucketed_bias"]
    # The config field of the number of buckets.
    num_buckets: FieldName
    # The config field of the distance beyond which every distance shares the last bucket; `owner: stack`: that
    # field or a fixed distance (an integer, for a config that holds none).
    max_distance: Union[FieldName, PositiveInt]
    # `owner: stack`: the number of buckets the distances fall into, fixed whatever `config.<num_buckets>` (the
    # table's rows) is; absent: `config.<num_buckets>`.
    fixed_buckets: Optional[PositiveInt] = None
    # Which module owns a bias table: `first_layer` (the first of each stack; the others reuse its bias),
    # `every_layer` (each self-attention its own; only with `attention.variant: full` and no `attention.select`) —
    # in names-layout encoder-decoder stacks the table is the block role `attention.relative_bias`, built in the
    # first block only or in every block, and each stack computes the bias from it —, or
    # `stack` (names-layout encoders and encoder-decoders: each stack, at the `names` role `position.bias`; one bias
    # for every layer of the stack).
    owner: Literal["first_layer", "every_layer", "stack"] = "first_layer"


class AlibiPosition(Strict):
    """Attention with linear biases (ALiBi, decoder-only stacks): no position embeddings; each head's scores get
    `slope_h * key_position` added (a query's own position only shifts its row, which softmax ignores). With n the
    largest power of two <= heads, head h < n (from 0) has slope `2^(-8 (h + 1) / n)`; the remaining heads take the
    odd-numbered slopes of 2n heads, `2^(-4 (2j + 1) / n)` for j = 0, 1, ... The bias joins the additive mask, before
    the softmax; `position_ids` are accepted and change nothing (as in transformers' ALiBi models)."""

    template: ClassVar[str] = "positions/alibi.jinja"
    kind: Literal["alibi"]
    # How the keys' positions are counted. `mask`: over the attention mask, `(cumsum(mask) - 1) * mask` across the
    # cached and new keys (padding keys 0: they are masked anyway; a left-padded row's first token is at 0); without a
    # mask, 0, 1, 2, ... `absolute`: the key's index in the cache, 0, 1, 2, ..., padding included.
    count: Literal["mask", "absolute"] = "mask"


PositionSpec = Annotated[
    Union[RotaryPosition, RelativeFunctionalPosition, BucketedBiasPosition, AlibiPosition], Field(discriminator="kind")
]


AttentionVariant = Literal["full", "local", "transient_global"]


class AttentionVariantChoice(Strict):
    """One variant of a config-selected attention."""

    # The attention variant rendered for this config value.
    variant: AttentionVariant
    # names-layout encoder-decoder stacks: the encoder blocks' module paths under this variant, role -> path from
    # the block, overriding `names` for the self-attention roles whose module the variant names otherwise
    # (`attention.query: layer.0.LocalSelfAttention.q`, ...; the decoder blocks keep `names`); `local` and
    # `transient_global` only. `transient_global` adds the roles `attention.global_norm` (the norm of the global
    # tokens' inputs, of `norm.kind`) and `attention.global_relative_bias` (the first block's bias table of the
    # relative block positions between a token and a global token).
    names: Optional[dict[str, str]] = None


class AttentionSelect(Strict):
    """The encoder's self-attention variant is chosen at run time by a config field (`value -> variant`)."""

    # The config field whose value chooses the variant.
    field: FieldName
    # Config value -> `{variant, names}`.
    variants: dict[str, AttentionVariantChoice] = Field(min_length=1)


class LocalAttentionSpec(Strict):
    """Parameters of the local / transient-global variants: blocks of `radius + 1` tokens see their neighbours."""

    # The config field of the local radius (tokens seen on each side).
    radius: FieldName
    # transient_global: the config field of the size of the blocks summarised into global tokens.
    global_block_size: Optional[FieldName] = None


class AttentionSpec(Strict):
    """The self-attention of each block (and the cross-attention of decoder blocks): its variant, module layout, scaling,
    biases, heads and dropout."""

    template: ClassVar[str] = "names_block.jinja"
    # The self-attention: full, local (blocks see their neighbours) or transient-global (local plus block summaries);
    # with `select`, chosen by config.
    variant: AttentionVariant = "full"
    # names (the only layout, the default): the modules are the spec's `names` roles (`attention.norm`,
    # `attention.query`, ...).
    layout: Literal["names"] = "names"
    # Divide scores by sqrt(head_dim): always (true), never (false), or as a boolean config field says.
    scale: Union[bool, FieldName] = True
    # decoder-only stacks: the scores times this float config field (with `scale: false`: instead of the division by
    # sqrt(head_dim)).
    multiplier: Optional[FieldName] = None
    # decoder-only stacks with `scale: true`: the int or float config field whose inverse square root the scores are
    # multiplied by, in place of the division by sqrt(head_dim) (`scores * config.<field> ** -0.5`).
    scale_dim: Optional[FieldName] = None
    # decoder-only stacks with `scale: true`: the optional float config field the scores are multiplied by in place of
    # the division by sqrt(head_dim) when it is not None (e.g. `attn_config.softmax_scale`).
    scale_value: Optional[FieldName] = None
    # decoder-only stacks: the optional float config field of a soft cap of the scores, `tanh(scores / cap) * cap`
    # after their scaling and before the mask (None in the config: no cap).
    softcap: Optional[FieldName] = None
    # A boolean config field: scores are also divided by the layer's index + 1 (layer-wise attention scaling).
    scale_by_inverse_layer: Optional[FieldName] = None
    # Scores and probabilities computed in float32 whatever the model's dtype: always (true) or when a boolean config
    # field is true.
    upcast: Optional[Union[bool, FieldName]] = None
    # names layout: the weight layout of the q/k/v/output projections, `linear` (`weight [out, in]`, nn.Linear) or
    # `conv1d` (`weight [in, out]`, transformers' Conv1D).
    projection: Literal["linear", "conv1d"] = "linear"
    # Biases on the q/k/v/o projections: always, never, or (names layout) as a boolean config field says.
    bias: Union[bool, FieldName] = True
    # names layout: the output projection's bias when it differs from the q/k/v projections' (default: `bias`).
    output_bias: Optional[Union[bool, FieldName]] = None
    # names layout: how one fused q/k/v projection (one `names` path for query, key and value) orders its output.
    # `blocks`: the queries of every head, then the keys, then the values (`[q | k | v]`, each heads x head_dim wide,
    # the keys and values key/value heads x head_dim with `kv_heads`: then `prunable: false`);
    # `per_head`: head by head, each head's query, key and value side by side (`[q0 k0 v0 | q1 k1 v1 | ...]`);
    # `per_group` (with `kv_heads` or `multi_query`): key/value head by key/value head, the query heads it serves, then
    # its key, then its value (`[q0 .. q(g-1) k0 v0 | qg .. q(2g-1) k1 v1 | ...]`, g = heads / key/value heads);
    # `sharded` (with `fused_shards`): shard by shard (the heads split into `fused_shards` equal runs), the shard's
    # three parts side by side in the order of `fused_parts`, each heads / shards x head_dim wide
    # (`[q_0 v_0 k_0 | q_1 v_1 k_1 | ...]` with `fused_parts: [query, value, key]`, as model-parallel checkpoints
    # store it); the head count must be a multiple of the shard count.
    fused_order: Literal["blocks", "per_head", "per_group", "sharded"] = "blocks"
    # `fused_order: sharded`: the number of shards of the fused projection's output.
    fused_shards: Optional[PositiveInt] = None
    # `fused_order: sharded`: the order of the query, key and value parts in each shard.
    fused_parts: list[Literal["query", "key", "value"]] = Field(default_factory=lambda: ["query", "key", "value"])
    # names layout: the config field of the number of key/value heads (grouped-query attention: each key/value head
    # serves num_attention_heads / kv_heads query heads); absent: as many as query heads.
    kv_heads: Optional[FieldName] = None
    # names layout: a boolean config field; when true, one key/value head serves every query head (multi-query
    # attention), whatever `kv_heads` says.
    multi_query: Optional[FieldName] = None
    # decoder-only stacks with `kv_heads`: a boolean config field; `kv_heads` counts the key/value heads only when it
    # is true (`multi_query` then ignored); when false, as many as query heads (one with `multi_query`), e.g. a flag
    # of a newer decoder architecture with grouped key/value heads.
    kv_heads_when: Optional[FieldName] = None
    # decoder-only stacks with `kv_heads` or `multi_query`: the new keys and values are repeated to every query head
    # before the cache, which then holds num_attention_heads of them: always (true), never (false) or when a boolean
    # config field is true.
    cache_repeated: Union[bool, FieldName] = False
    # decoder-only stacks: the int config field of a sliding window (a query at position i sees the keys j with
    # i - window < j <= i, positions counted over the whole cached sequence, padding included); None in the config:
    # no window (every earlier key). Names-layout encoders (with `layer_types`, not doubling as a decoder): a
    # bidirectional window, the query at position i sees the keys j with |i - j| <= window // 2.
    sliding_window: Optional[FieldName] = None
    # decoder-only stacks and names-layout encoders with `sliding_window`: the `list` config field of each layer's
    # attention kind, one entry per layer, of two `choices`: the first names the layers that see every (earlier) key,
    # the second the layers that see the window (transformers' `layer_types`, `[full_attention, sliding_attention]`;
    # GPT-Neo's `attention_layers`, `[global, local]`). Absent (decoder-only stacks): every layer sees the window. The
    # configuration refuses sliding layers without a window (where the window field is optional) and a list of
    # another length than the number of layers.
    layer_types: Optional[FieldName] = None
    # The config field of the attention-probability dropout; decoder-only stacks: null, none (an architecture whose
    # reference drops no attention probabilities).
    dropout: Optional[FieldName] = "attention_probs_dropout_prob"
    # names layout: whether the attention output goes through the feed-forward's dropout before the residual add;
    # a config field: through a dropout at that rate instead (names-layout encoders and decoder-only stacks).
    output_dropout: Union[bool, FieldName] = True
    # Whether `prune_heads` removes heads (false: it raises, as where transformers' class
    # of the architecture cannot prune, so that no pruned checkpoint is saved that would not load there).
    prunable: bool = True
    # names-layout encoders: with `config.is_decoder` the self-attention masks the keys after each query too, as
    # transformers' `get_extended_attention_mask` does for the encoders that build their mask with it; no
    # cache, no cross-attention (a names-layout encoder with `decoder` has both instead).
    decoder_mask: bool = False
    # projections are heads x head_dim wide (default hidden_size / heads; names layout: an optional field without
    # `default_from` that the config leaves None means hidden_size / heads too, computed where the width is read)
    head_dim: Optional[FieldName] = None
    # names layout: norms of the queries and the keys (the `names` roles `attention.q_norm` and `attention.k_norm`,
    # of `norm.kind` with `norm.eps`), applied after the q/k projections and before the rotary positions: always
    # (true), never (false), or as a boolean config field says (the two norms then exist only when it is true).
    qk_norm: Union[bool, FieldName] = False
    # decoder-only stacks: the optional float config field clipping the queries, keys and values to
    # `[-config.<clip>, config.<clip>]` when it is not None, after the projections and the whole-width norms of
    # `qk_norm_scope: all`, before the per-head norms of `qk_norm_scope: head` and the rotary positions.
    clip: Optional[FieldName] = None
    # The width each norm of `qk_norm` normalises: `head`, each head's head_dim values on their own (one weight of
    # head_dim shared by the heads, applied after the split into heads); `all`, the whole projection's (query heads x
    # head_dim for the queries, key/value heads x head_dim for the keys), before the split (not with a fused q/k/v
    # projection ordered `per_head` or `per_group`; PyTorch's `prune_heads` then refuses); `each_head` (decoder-only stacks), each
    # head's head_dim values on their own with a weight of each head's own (see `qk_norm_layout`; PyTorch's
    # `prune_heads` then refuses).
    qk_norm_scope: Literal["head", "all", "each_head"] = "head"
    # With `qk_norm_scope: each_head` (decoder-only stacks, `norm.kind: layer_norm`): each head's head_dim values
    # normalised on their own, each head with its own weight (and bias), `heads x head_dim` of them for the queries and
    # `key/value heads x head_dim` for the keys. How a norm holds them: `stacked`, one `weight` (heads, head_dim) at the
    # role's path; `list`, one LayerNorm per head at `<path>.norms.<i>` (a module list). The same computation: only
    # the checkpoint names differ.
    qk_norm_layout: Literal["stacked", "list"] = "stacked"
    # Whether the LayerNorms of `qk_norm` have a bias (absent: as `norm.bias`).
    qk_norm_bias: Optional[bool] = None
    select: Optional[AttentionSelect] = None
    local: Optional[LocalAttentionSpec] = None
    # The cross-attention module of a decoder layer: in the decoder stack of an encoder-decoder model; in an encoder
    # stack that doubles as a decoder (`decoder`), each layer's `<cross_module>`, built when
    # `config.add_cross_attention`, attending to `encoder_hidden_states` (the `names` roles `cross_attention.{norm,query,key,value,output}`,
    # paths inside `<cross_module>`, the block's second attention sublayer with its own norm).
    cross_module: Optional[Identifier] = None

    @model_validator(mode="after")
    def _local_params(self) -> "AttentionSpec":
        variants = {self.variant} | ({c.variant for c in self.select.variants.values()} if self.select else set())
        if variants & {"local", "transient_global"} and self.local is None:
            raise ValueError("local and transient_global attention need `local: {radius: <field>, ...}`")
        if "transient_global" in variants and (self.local is None or self.local.global_block_size is None):
            raise ValueError("transient_global attention needs `local.global_block_size`")
        return self


# Activation names every framework's activations module knows.
ActivationName = Literal[
    "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "relu2", "silu", "swish", "tanh", "sigmoid", "mish", "linear"
]


class FeedForwardSpec(Strict):
    """The feed-forward of each block: two projections around an activation, optionally gated."""

    template: ClassVar[str] = "names_block.jinja"
    # The feed-forward kind (two projections around an activation).
    variant: Literal["dense"] = "dense"
    # names (the only layout, the default): `ffn.norm`, `ffn.input`, `ffn.output` from the spec's `names`.
    layout: Literal["names"] = "names"
    # The config field of the inner width; decoder-only stacks: null with `size_multiple` (a width no config field
    # holds).
    size: Optional[FieldName] = "intermediate_size"
    # When `size`'s config field is None (or `size` is null), the feed-forward is this many times hidden_size wide.
    size_multiple: Optional[int] = Field(default=None, gt=0)
    # names layout: the weight layout of the two projections (see `AttentionSpec.projection`).
    projection: Literal["linear", "conv1d"] = "linear"
    # The config field naming the activation; null with `activation_name`.
    activation: Optional[FieldName] = "hidden_act"
    # decoder-only stacks and names-layout encoders: an activation the architecture fixes (no config field names it),
    # with `activation: null`.
    activation_name: Optional[ActivationName] = None
    # names layout: null for blocks without residual dropout.
    dropout: Optional[FieldName] = "hidden_dropout_prob"
    # names layout: whether the feed-forward output goes through `dropout` before its residual add (false: only the
    # attention output does, `attention.output_dropout`).
    output_dropout: bool = True
    # Biases on the projections: always, never, or (names layout) as a boolean config field says.
    bias: Union[bool, FieldName] = True
    # A config flag selects the gated variant act(wi_0 x) * wi_1 x; names layout: `true`, the `names` role `ffn.gate`
    # (act(gate(x)) * input(x) -> output; `ffn.gate` and `ffn.input` one path: one projection computing
    # `[gate | input]`, as `gate_up_proj`); names-layout encoder-decoder stacks, a boolean config field: the gate and
    # input projections exist only when it is true, the role `ffn.plain_input` (act(plain_input(x)) -> output) only
    # when it is false.
    gated: Union[bool, FieldName] = False
    # names layout, `gated: true` with `ffn.gate` and `ffn.input` one path: the order of the one projection's two
    # halves, `[gate | input]` (as `gate_up_proj`) or `[input | gate]` (act(input(x)) * gate(x)).
    fused_order: Literal["gate_input", "input_gate"] = "gate_input"
    # names-layout stacks: the config field of the dropout after the activation
    # (between the two projections; gated: after the product).
    activation_dropout: Optional[FieldName] = None
    # decoder-only stacks: a sparse mixture of experts in place of the one feed-forward (see `ExpertsSpec`).
    experts: Optional["ExpertsSpec"] = None


class ExpertsSpec(Strict):
    """A sparse mixture-of-experts feed-forward: a router (the `names` role `ffn.router`, a Linear hidden ->
    `config.<count>` without bias) scores each token's experts; the scores' softmax, in float32, keeps each token's
    `config.<top_k>` largest probabilities (renormalised to sum 1 as `normalize` says), cast back to the hidden
    states' dtype; the token's output is the weighted sum of its chosen experts' outputs. The experts are the list at
    the `names` role `ffn.experts`, `config.<count>` of them, each the block's feed-forward (the roles `ffn.gate`,
    `ffn.input` and `ffn.output` are then paths inside each expert, with `feed_forward.size`, `activation`, `gated`
    and `bias`). PyTorch runs each expert on the tokens routed to it; TensorFlow and Flax (compiled with XLA) run every
    expert on every token and weight its output by the token's routing weight, zero outside its top-k (the same sum:
    the other terms are exact zeros)."""

    # The int config field of the number of experts.
    count: FieldName
    # The int config field of the number of experts each token is routed to.
    top_k: FieldName
    # Whether the top-k probabilities are divided by their sum: always (true), never (false), or as a boolean config
    # field says.
    normalize: Union[bool, FieldName] = True
    # The float config field of the router's training-time jitter: in training, while the field is above 0, the
    # feed-forward's input (the router's and the experts') is multiplied elementwise by noise drawn uniformly from
    # `[1 - jitter, 1 + jitter]` (PyTorch's `uniform_`, TensorFlow's `tf.random.uniform`, Flax's `dropout` PRNG stream);
    # evaluation is exact (no noise). None: no jitter.
    jitter: Optional[FieldName] = None
    # The boolean config field of the default of the forward argument `output_router_logits`, which the base model and
    # the causal LM then take: with it, the base model returns each block's router logits (`router_logits`, one
    # `[batch * sequence_length, count]` tensor per block) and the causal LM also the auxiliary load-balancing loss
    # (`aux_loss`: Switch Transformer's, `count` times the sum over the experts of the share of the top-k choices that
    # pick the expert times its mean router probability, over every block's tokens that `attention_mask` attends;
    # with a cache, the mask's last columns, those of the new tokens), added to the loss times `aux_loss_coef` when
    # labels are given. The base model's and the causal LM's output classes (`heads[].output`) hold these fields.
    # None: no router logits.
    router_logits: Optional[FieldName] = None
    # With `router_logits`: the float config field of the auxiliary loss's factor in the loss.
    aux_loss_coef: Optional[FieldName] = None
    # With `router_logits`: whether the base model's `output_router_logits` argument falls back to the config field
    # (true) or to false, only the causal LM reading the field (false).
    base_reads_config: bool = True
    # Layers that hold a dense feed-forward in place of the experts (see `DenseLayersSpec`). None: every layer holds
    # experts.
    dense: Optional["DenseLayersSpec"] = None
    # A shared expert (see `SharedExpertSpec`): one more feed-forward that every token goes through, added to the
    # routed experts' sum. None: only the routed experts.
    shared: Optional["SharedExpertSpec"] = None
    # Where the experts' weights live: `list` (the list at the `names` role `ffn.experts`, one module per expert
    # holding the roles `ffn.gate`, `ffn.input`, `ffn.output`, e.g. `experts.0.w1`) or `stacked` (no `ffn.experts`
    # role: each of the roles `ffn.gate`, `ffn.input`, `ffn.output` is a module of the block, e.g.
    # `block_sparse_moe.input_linear`, holding one parameter `weight` of every expert's matrix, `[count, out, in]`,
    # transformers' "parallel experts"; `ffn.gate` and `ffn.input` one path: one `[gate | input]` matrix per expert;
    # no biases, no shared expert).
    layout: Literal["list", "stacked"] = "list"


class DenseLayersSpec(Strict):
    """The layers of a mixture-of-experts stack that hold one dense feed-forward in place of the router and the
    experts: the experts' kind (`feed_forward.activation`, `gated`, `bias`; the roles `ffn.gate`, `ffn.input`,
    `ffn.output` as paths inside it) at a width of its own, in the module that holds the router in the other layers
    (the router's container, e.g. `mlp` for `mlp.gate`: then `mlp.gate_proj`). Layer `i` (from 0) holds the experts
    when `i` is not in `config.<layers>` and `(i + 1) % config.<step> == 0` (as transformers' Qwen MoE configurations
    choose them), else the dense feed-forward; only the layers with experts return router logits."""

    # The int config field of the dense feed-forward's inner width.
    size: FieldName
    # The `list` config field of the indices of the layers that are dense (None or empty: none by index). None: no
    # such field.
    layers: Optional[FieldName] = None
    # The int config field of the period of the layers with experts (1: every layer but those of `layers`). None: no
    # such field.
    step: Optional[FieldName] = None


class SharedExpertSpec(Strict):
    """The shared expert of a sparse mixture of experts: a feed-forward of the experts' kind (the roles `ffn.gate`,
    `ffn.input`, `ffn.output` as paths inside it, with `feed_forward.activation`, `gated` and `bias`) at a width of
    its own, held at the `names` role `ffn.shared_expert`, that every token goes through (reading the routed experts'
    input); its output, optionally scaled by `sigmoid(gate(x))` (the role `ffn.shared_gate`, a Linear hidden -> 1
    without bias), is added to the routed experts' weighted sum."""

    # The int config field of the shared expert's inner width.
    size: FieldName
    # Whether the shared expert's output is multiplied by `sigmoid(gate(x))`, a Linear hidden -> 1 without bias (the
    # role `ffn.shared_gate`), before it is added.
    gate: bool = True


FeedForwardSpec.model_rebuild()
ExpertsSpec.model_rebuild()


class NormSpec(Strict):
    """The normalisation of each block: kind, placement and epsilon."""

    # LayerNorm, or RMSNorm (weight only, mean of squares in float32).
    kind: Literal["layer_norm", "rms_norm"] = "layer_norm"
    # After each residual add (`post`: `norm(x + f(x))`), at the start of each sublayer (`pre`: `x + f(norm(x))`), or
    # (decoder-only stacks) on each sublayer's output before the residual add (`output`: `x + norm(f(x))`, the norms
    # the roles `attention.norm` and `ffn.norm`; no dropout after the sublayers, no parallel residual), or (decoder-only
    # stacks) both (`sandwich`: `x + output_norm(f(norm(x)))`, the input norms the roles `attention.norm` and
    # `ffn.norm`, the output norms `attention.output_norm` and `ffn.output_norm`; no dropout after the sublayers, no
    # parallel residual). `pre`, `output` and `sandwich` stacks end with a final norm (`final_norm`).
    placement: Literal["post", "pre", "output", "sandwich"] = "post"
    # A config field, or (names layout) a fixed number.
    eps: Union[FieldName, float] = "layer_norm_eps"
    # `kind: layer_norm`: whether the LayerNorms of the stack have a bias (false: a weight only, `weight * (x - mean) /
    # sqrt(var + eps)`; decoder-only stacks), or (names-layout encoders) a boolean config field that says so.
    bias: Union[bool, FieldName] = True
    # decoder-only stacks, `kind: layer_norm` with `bias: false`: whether the LayerNorms of the stack have a weight
    # (false: no parameters at all, `(x - mean) / sqrt(var + eps)`, computed in float32 and cast back to the input's
    # dtype; nothing of them in checkpoints; no `qk_norm`, no `placement: sandwich`).
    weight: bool = True
    # names-layout RMSNorm: every norm of the stack scales by `1 + weight` (the weight initialised to zeros), in
    # float32, then casts back to the input's dtype, where the plain RMSNorm casts back before its weight scales.
    # decoder-only LayerNorm: every norm of the stack is `(1 + weight) * (x - mean) / sqrt(var + eps) + bias` (the
    # weight initialised to ones, as transformers does; no `qk_norm_scope: each_head`, no `qk_norm_bias`).
    unit_offset: Optional[Literal[True]] = None
    # Decoder-only and names-layout encoder stacks with a final norm: the last entry of `hidden_states` is the last
    # block's output, appended before the final norm, not the stack's output after it.
    hidden_states_before_final_norm: bool = False
    # names-layout encoders, `placement: pre`: false: the first block's attention reads its input as it is, without a
    # norm (the role `attention.norm` exists from the second block on).
    first_attention_norm: bool = True
    # Decoder-only stacks with a final norm: a boolean config field with which the stack has none (the `final_norm`
    # role's module exists, and normalises the last block's output, only when the field is false).
    final_unless: Optional[FieldName] = None
    # Decoder-only stacks with `placement: pre`: a boolean config field choosing the placement when the model is built:
    # pre-norm while it is true, post-norm (`norm(x + f(x))`, the same norms) while it is false, and the final norm
    # (`final_norm`) built only while it is true (as transformers builds `do_layer_norm_before`'s); sequential
    # sublayers only (no `residual`).
    pre_when: Optional[FieldName] = None
    # Names-layout encoder-decoder stacks with a final norm (`placement: pre`): each stack's output after the final
    # norm goes through the embeddings' dropout (`embeddings.dropout`) again, also in the last hidden state.
    final_dropout: bool = False


class SplitNormsSpec(Strict):
    """A parallel residual with a norm for each sublayer, chosen by a boolean config field (e.g. a newer
    decoder architecture's flag): when `flag` is true, the block is parallel whatever `parallel` says, its attention
    reading the norm `attention.parallel_norm` of the block's input and its feed-forward the norm `ffn.parallel_norm`
    (`x + attention(norm1(x)) + feed_forward(norm2(x))`); when the int config field `count` is 1, both read the one
    norm `attention.norm` instead, which exists only then (and without the flag)."""

    # The boolean config field that chooses this form.
    flag: FieldName
    # The int config field of the number of norms under the flag: 1, one shared norm; any other value or None, two.
    count: FieldName


class ResidualSpec(Strict):
    """How a pre-norm block adds its two sublayers to the residual stream. Sequential (`parallel: false`, the
    default): `h = x + attention(norm1(x))`, then `h + feed_forward(norm2(h))`. Parallel: both read the block's input,
    `x + attention(norm1(x)) + feed_forward(norm2(x))`. Always, never, or as a boolean config field says."""

    # Decoder-only stacks: the parallel form always (true), never (false), or when a boolean config field is true.
    parallel: Union[bool, FieldName] = False
    # Decoder-only stacks with `parallel: true`: both sublayers read the output of one norm, `attention.norm`
    # (`x + attention(norm(x)) + feed_forward(norm(x))`, GPT-J); there is then no `ffn.norm` role. With `parallel: <flag>`:
    # so when the flag is true; when false, the sequential form with its second norm `ffn.norm`, which exists only then.
    shared_norm: bool = False
    # Decoder-only stacks, sequential pre-norm sublayers without dropout after them: each sublayer's output times this
    # float config field before its residual add (`x + attention(norm(x)) * m`).
    multiplier: Optional[FieldName] = None
    # Decoder-only stacks, sequential pre-norm sublayers: the residual stream continues from each sublayer's normalised
    # input instead of its input (`norm(x) + attention(norm(x))`, then likewise around the feed-forward): always
    # (true), never (false), or when a boolean config field is true.
    from_norm: Union[bool, FieldName] = False
    # Decoder-only stacks with `shared_norm: true`: a second parallel form that a boolean config field chooses (see
    # below), with two norms.
    split_norms: Optional[SplitNormsSpec] = None
    # Decoder-only stacks with a parallel residual whose feed-forward output goes through its dropout
    # (`feed_forward.dropout`, `output_dropout: true`): in the parallel form that dropout drops the sum of both
    # sublayers' outputs, `x + dropout(attention(...) + feed_forward(...))`, instead of the feed-forward's alone.
    dropout_sum: bool = False


class LayerSharingSpec(Strict):
    """names-layout encoders: groups of blocks shared by the steps of the stack."""

    # The config field of the number of layer groups.
    groups: FieldName
    # The config field of the number of blocks in each group.
    inner: FieldName


class DecoderSpec(Strict):
    """`causal`/`cache`: the encoder doubles as a causal decoder (config.is_decoder): its self-attention masks the
    future keys and keeps a key/value cache (a names-layout encoder's `causal_lm` head then reads the `transform` or `flat` LM head). In
    an encoder-decoder model, the decoder stack: causal self-attention, cross-attention, `layers` from a config field."""

    # Whether self-attention masks future tokens when the model is a decoder.
    causal: bool = True
    # Whether the decoder keeps a key/value cache (`past_key_values`, `use_cache`).
    cache: bool = True
    # Decoder-only stacks: how future keys are masked. `separate`: replaced by the mask value before the padding mask
    # adds its own (a query whose visible keys are all padding spreads its attention over them, as GPT-2; a sliding
    # window narrows only the replaced keys' mask, the additive one holding the future and padding keys, as GPT-Neo);
    # `combined`: one additive mask of future and padding keys (a query that sees no key spreads its attention over
    # every key, as the shared masking utilities of recent transformers models do). Other stacks: absent (encoder-decoders
    # render their own mask: names-layout ones one additive mask of future and padding keys).
    mask: Literal["separate", "combined"] = "separate"
    # Encoder-decoder stacks: the config field of the decoder's depth.
    layers: Optional[FieldName] = None
    start_token: Optional[FieldName] = None  # config field of the decoder start id (labels are shifted right)
    # names-layout encoder-decoder stacks: how labels (or input_ids) become decoder inputs, shifted one position right.
    # `start_token`: after the id in the config field `start_token`; `last_non_pad`: after each row's last token
    # that is not padding (a language code ending the row, moved to the front; `start_token` is then absent).
    shift: Literal["start_token", "last_non_pad"] = "start_token"
    # Without a `use_cache` argument a decoder returns its cache as `config.use_cache` says (`config`), or only when
    # asked for with `use_cache=True` (`off`), in every framework.
    cache_default: Literal["config", "off"] = "config"
    # Whether a `head_mask` given without `decoder_head_mask` masks the decoder too (when both stacks are equally deep;
    # deprecated in transformers, which warns) or only the encoder (absent; names-layout encoder-decoder stacks).
    copy_head_mask: Optional[bool] = None
    # names-layout encoder-decoder stacks: whether the base model and the generation head (without labels) build the
    # decoder inputs from `input_ids` shifted right when neither `decoder_input_ids` nor `decoder_inputs_embeds` is
    # given (true), or raise ValueError then (false); the classification and question-answering heads shift
    # `input_ids` either way.
    shift_inputs: bool = True
    # names-layout encoder-decoder stacks: the config fields of the decoder stack's heads and feed-forward width (the
    # encoder's are `num_attention_heads` and `feed_forward.size`).
    heads: Optional[FieldName] = None
    # names-layout encoder-decoder stacks: the config field of the decoder's feed-forward width.
    ffn_size: Optional[FieldName] = None
    # names-layout encoder-decoder stacks: where the decoder stack's embeddings norm (`embeddings.norm`) applies.
    # `after_positions`: to the sum of the word embeddings and the positions, as the encoder's; `before_positions`: to
    # the (scaled) word embeddings, the positions added after it. Dropout follows in both.
    embeddings_norm: Literal["after_positions", "before_positions"] = "after_positions"
    # names-layout encoder-decoder stacks: whether the decoder stack's word embeddings are scaled as `embeddings.scale`
    # says (`true`), or never (`false`: `embeddings.scale` then scales the encoder's only).
    embeddings_scale: bool = True


class LayerDropSpec(Strict):
    """names-layout encoder-decoder and decoder-only stacks: the config fields of each stack's LayerDrop probability
    (in training, a whole block is skipped with this probability)."""

    # The config field of the encoder stack's LayerDrop probability (names-layout encoder-decoder stacks, which need
    # it; decoder-only stacks have none).
    encoder: Optional[FieldName] = None
    # The config field of the decoder stack's LayerDrop probability (of a decoder-only stack: its blocks').
    decoder: FieldName


class ActivationSpec(Strict):
    """A config string `[gated-]ACT` (e.g. `gated-gelu`) parsed into two derived config attributes."""

    # The config field holding the string (e.g. `feed_forward_proj`).
    field: FieldName
    # The derived config attribute naming the activation (e.g. `dense_act_fn`).
    activation: FieldName
    # The derived boolean config attribute: whether the string starts with `gated-` (e.g. `is_gated_act`).
    gated: FieldName
    aliases: dict[str, str] = Field(default_factory=dict)  # full value -> activation name (gated-gelu -> gelu_new)


class HeadActivation(Strict):
    """The activation of a head module: a config field (`{field: hidden_act}`) or a fixed one (`{name: gelu}`)."""

    # A config field naming the activation.
    field: Optional[FieldName] = None
    # A fixed activation.
    name: Optional[ActivationName] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "HeadActivation":
        if (self.field is None) == (self.name is None):
            raise ValueError("give exactly one of `field: <config field>` or `name: <activation>`")
        return self

    def expr(self, config: str) -> str:
        """The Python expression of the activation's name, `config` being the expression of the configuration."""
        return f"{config}.{self.field}" if self.field is not None else repr(self.name)


class PoolerSpec(Strict):
    """The pooler: a Linear + tanh on the first token."""

    # The pooler's attribute in the base model.
    path: Identifier = "pooler"
    # `bare`: the pooler is the Linear itself; `dense`: it holds it as `dense`. Both apply tanh to the first token.
    layout: Literal["bare", "dense"] = "dense"


class LMHeadSpec(Strict):
    """The language-modelling head: the vocabulary projection and what comes before it."""

    # The LM head's module path in the head models.
    path: DottedPath
    # flat / transform: BERT-style MLM heads; linear: a bare Linear without bias (encoder-decoder LM), which reuses
    # the shared embedding when config.tie_word_embeddings, scaling the decoder output by hidden_size**-0.5 first.
    # names (names layout): `lm_head.transform` (a Linear), the activation, `lm_head.norm` (a LayerNorm), then the
    # vocabulary projection at `path` (a Linear with a bias, tied to the word embeddings), all top-level modules of the
    # head model named by the spec's `names`.
    layout: Literal["flat", "transform", "linear", "names"]
    # flat / transform: the LayerNorm's module name, and the activation between `dense` and the norm.
    norm: Identifier = "LayerNorm"
    activation: HeadActivation = HeadActivation(field="hidden_act")
    # Where the vocabulary projection lives. Absent: `<path>.decoder`, whose bias is the head's own `bias` parameter.
    # A top-level attribute of the head model (`generator_lm_head`): a Linear with its own bias, after `path`, which
    # then holds only `dense`, the activation and the norm.
    decoder: Optional[Identifier] = None
    # flat (names-layout encoders): the config field of the head's own width (`dense`'s output, the norm, the
    # vocabulary projection's input); absent: the embeddings' width. A width of its own needs `tied: false`.
    size: Optional[FieldName] = None
    # flat (names-layout encoders): false: the vocabulary projection `<path>.decoder` is a Linear with its own weight
    # and bias, never tied to the word embeddings, and the head holds no `<path>.bias` (the configuration declares
    # `tie_word_embeddings` with `choices: [false]`, as transformers' configuration that forces it False).
    tied: bool = True
    # linear (names-layout encoder-decoder stacks): a buffer of this name, (1, vocab_size), added to the logits (saved
    # in checkpoints, not trained; zeros without a report where a checkpoint lacks it, a base model's, as transformers).
    logits_bias: Optional[Identifier] = None
    # flat, tied, without `decoder` (names-layout encoders): true: the vocabulary projection `<path>.decoder` has no
    # bias and the head adds its own `<path>.bias` after it, so checkpoints hold `<path>.bias` alone (no
    # `<path>.decoder.bias` alias); false: `<path>.decoder.bias` is `<path>.bias` (BERT's head).
    separate_bias: bool = False
    # flat with `decoder` (names-layout encoders): whether `<path>.dense` has a bias, always, never or as a boolean
    # config field says (the norm's bias follows `norm.bias`).
    dense_bias: Union[bool, FieldName] = True
    # flat with `decoder` (names-layout encoders): whether the vocabulary projection `decoder` has a bias, always,
    # never or as a boolean config field says.
    decoder_bias: Union[bool, FieldName] = True
    # linear (names-layout encoder-decoder stacks): with `config.tie_word_embeddings`, the decoder output times
    # hidden_size ** -0.5 before the vocabulary projection tied to the word embeddings (untied heads unscaled).
    tied_scale: bool = False
    # linear (decoder-only stacks): whether the vocabulary projection has a bias (`<path>.bias`; it is not tied with
    # the word embeddings).
    bias: bool = False
    # linear (decoder-only stacks): the logits divided by this float config field (before the loss).
    logits_divisor: Optional[FieldName] = None
    # linear (decoder-only stacks): the optional float config field of a soft cap of the logits, `tanh(logits / cap) *
    # cap` (after `logits_divisor`, before the loss; None in the config: no cap).
    logits_softcap: Optional[FieldName] = None
    # linear (decoder-only stacks): the logits times this float config field (before the loss; before
    # `logits_divisor`).
    logits_multiplier: Optional[FieldName] = None


class DiscriminatorHeadSpec(Strict):
    """A token-level binary classifier (replaced-token detection): `<path>.dense` (hidden -> hidden), an activation,
    `<path>.dense_prediction` (hidden -> 1); one logit per token, BCE-with-logits loss over the attended tokens."""

    # The head's attribute in the head model.
    path: Identifier
    activation: HeadActivation = HeadActivation(field="hidden_act")


class SequenceSummarySpec(Strict):
    """A sequence reduced to one vector, as config fields say (transformers' SequenceSummary): the token chosen by
    `type` (`first`, `last`, `mean`, `cls_index`: the last token), then, in order, `<path>.summary` (hidden ->
    hidden, when `use_proj`), `activation` (a config field naming one, or None: none) and dropout `last_dropout`."""

    # The summary module's attribute in the head model.
    path: Identifier = "sequence_summary"
    # The config field choosing the token (`first`, `last`, `mean`, `cls_index`).
    type: FieldName
    # The boolean config field: whether the `summary` projection is applied.
    use_proj: FieldName
    # The config field naming the activation after the projection (None: none).
    activation: FieldName
    # The config field of the dropout rate applied last.
    last_dropout: FieldName


class SentenceHeadSpec(Strict):
    """A sentence-level classifier (next-sentence or sentence-order prediction) on the pooled output."""

    # The classifier's module path in the head models (two modules deep: `cls.seq_relationship`).
    path: DottedPath
    # The number of sentence labels: a config field or a number.
    num_labels: Union[FieldName, int] = 2
    # The config field of a dropout before the classifier (absent: none).
    dropout: Optional[FieldName] = None
    # The forward argument of the sentence labels in the pretraining head.
    label_argument: Identifier = "next_sentence_label"


class InitializerSpec(Strict):
    """Mesh TensorFlow's initialisation, scaled by a config field instead of drawn at
    `config.initializer_range`."""

    # The config field of the factor every standard deviation is multiplied by (`initializer_factor`).
    factor: FieldName


class ClassifierDropoutSpec(Strict):
    """The dropout of the classification heads: a config field with an optional fallback."""

    # The config field of the classification heads' dropout.
    field: FieldName
    # The config field used when `field` is None.
    fallback: Optional[FieldName] = None


class AttributeRateSpec(Strict):
    """A head's dropout rate read from the first of `attributes` that the configuration holds with a value other than
    None (attributes its class need not declare, set by keyword: transformers reads them with `getattr`), else
    `default`."""

    # The configuration attributes, in order of precedence.
    attributes: list[Identifier] = Field(min_length=1)
    # The rate when none is set.
    default: float


HeadKind = Literal[
    "base",
    "pretraining",
    "masked_lm",
    "causal_lm",
    "sequence_classification",
    "token_classification",
    "question_answering",
    "multiple_choice",
    "next_sentence",
    "discriminator",
    "seq2seq",
    "conditional_generation",
    "encoder",
]


class TorchPositionalSpec(Strict):
    # transformers' PyTorch order of the inputs its classes of this architecture take first, for the heads not in
    # `heads`: names a head does not take keep their places as arguments that refuse a value; a head's labels go where
    # `labels` is listed (the span positions of a question-answering head too), else before `use_cache` (without it,
    # before the output flags).
    inputs: list[str] = Field(min_length=1)
    # The heads whose transformers class orders its inputs otherwise: the head kind -> its list, as `inputs`.
    heads: dict[HeadKind, list[str]] = Field(default_factory=dict)


class HeadSpec(Strict):
    """One model class: a head kind on the base model."""

    # What the head computes (its class suffix, inputs, outputs and loss).
    kind: HeadKind
    # The class name is `<class_prefix><suffix>`; each kind has a default (`ForCausalLM`, ...).
    suffix: Optional[ClassPrefix] = None
    # The whole class name, where transformers' class of the head does not start with `class_prefix` (e.g. a
    # `Gemma3ForCausalLM` among `Gemma3Text...` classes); TensorFlow and Flax prefix it with `TF` / `Flax` as usual.
    # Exclusive with `suffix`.
    class_name: Optional[ClassPrefix] = None
    # The output class (from specs/outputs.yaml, defined there for every framework) when it is not the kind's
    # default (decoder-only stacks: `BaseModelOutputWithPast`, `CausalLMOutputWithPast`; GPT-2 names the
    # `...CrossAttentions` classes transformers' GPT-2 returns).
    output: Optional[Identifier] = None
    # sequence_classification: `pooled` (dropout + `classifier` on the pooler output) or `dense_act`
    # (`classifier.{dense,out_proj}` on the first token, with `activation` between them).
    # `last_token` (decoder-only stacks): a Linear on every token, read at each row's last token that is not
    # `config.pad_token_id` (the last token without a pad id; then only one row may be given).
    # `first_token` (encoder stacks of the names layout): the first token's hidden state, through `pre_classifier`
    # when set, then dropout and the classifier (`path`).
    style: Optional[Literal["pooled", "dense_act", "last_token", "first_token"]] = None
    # style `last_token`: the token each row is read at. `last_non_pad` (default): the rightmost token that is not
    # `config.pad_token_id`. `non_pad_count`: the index `count(tokens != pad_token_id) - 1` (the same with right
    # padding, another token with left padding; without a pad id, the last position of every row, any batch size).
    index: Optional[Literal["last_non_pad", "non_pad_count"]] = None
    # token_classification of decoder-only stacks and names-layout encoders: the tokens the loss covers. `labels` (default): every label that
    # is not -100. `attended`: those whose `attention_mask` is 1 too (every label not -100 without a mask).
    loss_over: Optional[Literal["labels", "attended"]] = None
    activation: Optional[HeadActivation] = None
    # multiple_choice: the pooler output, the last token, or the spec's `sequence_summary` component.
    # `first_token` (names layout): as sequence_classification's `style: first_token`, one score per choice.
    summary: Optional[Literal["pooled", "last_token", "sequence_summary", "first_token"]] = None
    # A config field, a fixed rate, or (names layout) the first configuration attribute set, else a rate.
    dropout: Union[FieldName, float, AttributeRateSpec, None] = None
    # causal_lm (default false) and conditional_generation of names-layout encoder-decoder stacks (default true): given
    # labels, the model returns no key/value cache (training needs none).
    labels_disable_cache: Optional[bool] = None
    # masked_lm / causal_lm of a spec with `attention.cross_module`: whether forward takes `encoder_hidden_states` and
    # `encoder_attention_mask` (default true; false where transformers' class of the head does not take them, its
    # layers then holding the cross-attention weights without reading them).
    encoder_states: Optional[bool] = None
    # Names-layout stacks: the head's Linear (`score`, `classifier`, `qa_outputs`) and whether it has a bias.
    path: Optional[Identifier] = None
    # Names-layout stacks: whether the head's Linear has a bias.
    bias: Optional[bool] = None
    # style / summary `first_token`: a Linear (hidden -> hidden) and ReLU before the dropout and the classifier.
    pre_classifier: Optional[Identifier] = None
    # Names-layout encoders with the `flat` LM head and its top-level `decoder`: the attribute of a module of the LM
    # head's class (`dense`, activation, norm) that the head's hidden states go through before the dropout and the
    # classifier (sequence_classification `style: first_token`, multiple_choice `summary: first_token`,
    # token_classification, question_answering).
    transform: Optional[Identifier] = None
    # sequence_classification `style: first_token` and multiple_choice `summary: first_token`: a str config field
    # choosing the pooling, `mean` (the mean of the hidden states over the attended tokens) or any other value (the
    # first token).
    pooling: Optional[FieldName] = None
    # multiple_choice `summary: first_token` with `pooling`: the first token is each row's first attended one (the
    # first position whose `attention_mask` is 1; position 0 without a mask or in a row of padding).
    first_attended: bool = False
    # Names-layout stacks: the attribute that holds the base model in this head's class, where transformers' class
    # differs from the spec's `base_model_prefix` (its checkpoints name the base model's weights so).
    base_model_prefix: Optional[Identifier] = None
    # Names-layout encoder-decoder stacks with `embeddings.sinusoidal: true`: whether this head's checkpoints hold the
    # fixed position tables. false: transformers' class of the head leaves them out of its checkpoints, so they are not
    # saved, and a checkpoint without them loads silently (they are computed).
    sinusoidal_saved: bool = True
    # Names-layout encoder-decoder stacks (conditional_generation, question_answering, sequence_classification): the
    # head's class holds the base model's modules itself (the vocabulary matrix, `encoder`, `decoder`, then its own),
    # not the base model under `base_model_prefix`, as transformers' T5ForConditionalGeneration: its checkpoint names
    # have no prefix, and a checkpoint of the base model (or of a head holding it) loads into it and back.
    inline_base: bool = False


ConfigSpec.model_rebuild()


class SpecTests(Strict):
    """Small configurations the test harness builds every head with, `variants: {name: {config field: value}}`. They
    document why each variant exists (in comments) and never change generated code."""

    # Variant name -> config values (scalars; of a `repeats` field, its list of pairs; of the `dict` field that
    # `position.scaling` names, a mapping of text to scalars or lists of numbers), plus `padding_side: left` to pad
    # the test inputs on the left.
    variants: dict[Identifier, dict[Identifier, Union[bool, int, float, str, None, list, dict[str, Union[bool, int, float, str, None, list[float]]]]]] = Field(min_length=1)


class HeldLinear(Strict):
    """A Linear the base model holds but never calls (its weights load and save)."""

    # The module path in the base model (a names-layout path: its containers are generated).
    path: DottedPath
    # The input width: the product of these config fields and integers.
    in_features: list[Union[FieldName, int]] = Field(min_length=1)
    # The output width: a config field or an integer.
    out_features: Union[FieldName, int]
    # Whether the Linear has a bias.
    bias: bool = True


class IgnoredEntries(Strict):
    """Entries of transformers' checkpoints that the models never use, dropped on load without a report."""

    # A regular expression searched in each checkpoint name.
    pattern: str
    # Why the models never use them (a comment in the generated code).
    reason: str


class ArchitectureSpec(Strict):
    # The architecture's name: the spec's file name and the module `specformers.models.<name>`.
    name: Identifier
    # The prefix of every class name (`My`: MyModel, TFMyModel, FlaxMyModel, MyConfig, ...).
    class_prefix: ClassPrefix
    # config.json's `model_type` (transformers' name of the architecture, `bert-generation`: it may hold hyphens).
    model_type: ModelType
    # The attribute holding the base model in every head model, and so the prefix of its weights in checkpoints.
    base_model_prefix: Identifier
    # The architecture's name in docstrings.
    title: str
    # A Markdown link to the paper, in the docstrings.
    paper: str
    config: ConfigSpec
    embeddings: EmbeddingsSpec
    # The position scheme inside attention (rotary, relative or a bucketed bias); absent: only the embeddings' absolute
    # positions, if any.
    position: Optional[PositionSpec] = None
    attention: AttentionSpec
    feed_forward: FeedForwardSpec
    norm: NormSpec = NormSpec()
    # Decoder-only stacks: a parallel residual (both sublayers read the block's input).
    residual: Optional[ResidualSpec] = None
    # The stack kind; absent: `encoder`.
    stack: Optional[Literal["encoder", "decoder-only", "encoder-decoder"]] = None
    # names layout: module paths by role, `preset: <name>` from specs/layouts.yaml, then `role: dotted.path` entries
    # that add to or override it. A preset's roles that the spec's components do not render are left out by
    # themselves (`embeddings.norm: false` drops `embeddings.norm`); a role cannot be removed by name (null).
    # Names-layout encoder-decoder stacks: a number in a block role's path names an item of a module list
    # (`layer.0.SelfAttention.q`: PyTorch's `nn.ModuleList`), numbered 0, 1, ... in each stack's blocks; a role
    # `decoder_block.<block role>` gives the decoder blocks' path of that role, when not the encoder blocks'.
    names: Optional[dict[str, str]] = None
    decoder: Optional[DecoderSpec] = None
    layerdrop: Optional[LayerDropSpec] = None
    pooler: Optional[PoolerSpec] = None
    lm_head: Optional[LMHeadSpec] = None
    sentence_head: Optional[SentenceHeadSpec] = None
    discriminator_head: Optional[DiscriminatorHeadSpec] = None
    sequence_summary: Optional[SequenceSummarySpec] = None
    classifier_dropout: Optional[ClassifierDropoutSpec] = None
    # Names-layout encoder-decoder stacks without absolute positions: Mesh TensorFlow's initialisation from the
    # config field `factor` (the configuration then needs no `initializer_range`): each Linear normal with std
    # factor / sqrt(fan-in), the queries' also divided by sqrt(head width) (their scores are not scaled), the vocabulary
    # matrix, an untied LM head and a token classifier std factor, bucketed bias tables std factor / sqrt(hidden_size),
    # norm weights factor.
    initializer: Optional[InitializerSpec] = None
    # The model classes: one per head, each generated for PyTorch, TensorFlow and Flax.
    heads: list[HeadSpec] = Field(min_length=1)
    # Model inputs that transformers' Flax classes of this architecture do not take before `params` (they lack
    # them): the generated Flax classes take them after the positional arguments of transformers' order, by keyword.
    flax_keyword_arguments: list[
        Literal["head_mask", "position_ids", "token_type_ids", "encoder_hidden_states", "encoder_attention_mask"]
    ] = Field(default_factory=list)
    # Decoder-only and names-layout encoder stacks: transformers' Flax positional order of `__call__`'s arguments, up
    # to the last one specformers shares (absent, decoder-only: `input_ids, attention_mask, position_ids, params,
    # past_key_values, dropout_rng, train, output_attentions, output_hidden_states, return_dict`). Must list `params`.
    # A listed input the stack has no use for (a decoder's `encoder_hidden_states`,
    # `encoder_attention_mask`) keeps its place and refuses a value;
    # `past_key_values` is skipped on heads without a cache; the head's other arguments follow, by keyword.
    flax_positional_order: Optional[list[str]] = Field(default=None, min_length=1)
    # Decoder-only and names-layout encoder stacks: transformers' PyTorch positional order of the forward inputs (the
    # order when absent: decoder-only stacks `input_ids, past_key_values, attention_mask, position_ids, head_mask,
    # inputs_embeds, use_cache`; encoders the order their components give).
    torch_positional_order: Optional[TorchPositionalSpec] = None
    # names-layout encoders: Linear modules the base model holds (and checkpoints carry) but never calls, e.g. a head
    # of another task that transformers builds in every model.
    held: list[HeldLinear] = Field(default_factory=list)
    # names-layout encoders: cross-layer parameter sharing. The role `layers` names the list of `config.<groups>`
    # layer groups, the role `layer_group.layers` each group's list of `config.<inner>` blocks; step i of
    # `config.num_hidden_layers` runs every block of group `i // (num_hidden_layers / groups)` in turn (its head mask
    # entries those of the steps the group covers), `hidden_states` holding one entry per step, `attentions` one per
    # block run.
    layer_sharing: Optional[LayerSharingSpec] = None
    # names-layout encoders and encoder-decoders: entries of transformers' checkpoints that the models drop on load
    # without a report (as transformers' `_keys_to_ignore_on_load_unexpected`), e.g. a table transformers' TensorFlow
    # class builds and its PyTorch class ignores, or a relative bias table some checkpoints hold in a cross-attention.
    ignore_unexpected: list[IgnoredEntries] = Field(default_factory=list)
    test: Optional[SpecTests] = None


# --------------------------------------------------------------------------------------------------------------------
# Shared documents


class ArgumentDoc(Strict):
    type: str
    shape: Optional[str] = None
    optional: bool = False
    doc: str


class ShiftDocs(Strict):
    """How decoder inputs built from `labels` start, for each `decoder.shift` (`{decoder_start}` in the docs)."""

    start_token: str
    last_non_pad: str


class ArgumentsSpec(Strict):
    arguments: dict[Identifier, ArgumentDoc]
    shift_docs: ShiftDocs
    label_docs: dict[Identifier, str]


class OutputFieldSpec(Strict):
    name: Identifier
    kind: Optional[Literal["tensor", "tensor_tuple", "cache"]] = None
    shape: Optional[str] = None
    required: Optional[bool] = None
    doc: Optional[str] = None


class OutputClassSpec(Strict):
    name: ClassPrefix
    doc: str
    frameworks: list[Literal["torch", "tf", "flax"]] = Field(default_factory=lambda: ["torch", "tf", "flax"])
    fields: list[Union[Identifier, OutputFieldSpec]] = Field(min_length=1)
    tf_fields: Optional[list[Union[Identifier, OutputFieldSpec]]] = None


class OutputCatalogSpec(Strict):
    fields: dict[Identifier, OutputFieldSpec | dict[str, Any]]
    classes: list[OutputClassSpec]

    @field_validator("fields", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"name": k, **v} if isinstance(v, dict) and "name" not in v else v) for k, v in value.items()}
        return value
