"""Stage 3 — resolve: turn validated specs into the render model that templates read.

The spec says what the author wrote; the render model says what every template needs: class names, the config fields a
component reads, which heads need the pooler, each forward signature per framework (so that signature and docstring are
rendered from one list), and the output class of each head. Templates never see raw dicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Union, get_args

from pydantic import ValidationError

from . import schema, support
from .errors import SpecError
from .load import LoadedYaml

FRAMEWORKS = ("torch", "tf", "flax")
FRAMEWORK_CLASS_PREFIX = {"torch": "", "tf": "TF", "flax": "Flax"}

# Fields every config has through the shared base class (transformers' PretrainedConfig).
BASE_CONFIG_FIELDS = (
    "num_labels",
    "problem_type",
    "is_decoder",
    "add_cross_attention",
    "tie_word_embeddings",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "decoder_start_token_id",
    "is_encoder_decoder",
)


# --------------------------------------------------------------------------------------------------------------------
# Render model




@dataclass(frozen=True)
class ConfigField:
    name: str
    type: str
    annotation: str
    default: Any
    default_repr: str
    doc: str
    default_from: Optional[str]
    choices: Optional[list]
    unsupported: Optional[str] = None  # only null (or the choices) renders: another value raises ValueError with this reason
    minimum: Union[int, float, None] = None  # the smallest value accepted
    none_unless: Optional[str] = None  # the boolean field without which the config keeps None
    default_repeat: Optional[str] = None  # list fields: None -> the first choice this (constructor parameter) many times
    default_empty: bool = False  # list fields: None -> []
    default_tail: Optional[tuple[Union[int, str], str]] = None  # with default_repeat: (start, when) of the entries that take the second choice
    default_expand: Optional[tuple[str, str]] = None  # list fields: (pairs, length): None -> the `repeats` field `pairs` expanded
    default_period: Union[int, str, None] = None  # with default_repeat: every this-many-th entry the first choice, the others the second
    default_period_offset: int = 1  # with default_period: the entries i with (i + offset) % period == 0 take the first choice
    # with default_repeat: (source, entry literal, flag or None, when or None): the second choice where the list `source`
    # holds `entry` (with `flag` true and `when` not None), the first elsewhere
    default_match: Optional[tuple[str, str, Optional[str], Optional[str]]] = None
    upstream: bool = True  # whether transformers' configuration class declares the field
    config_class: Optional[str] = None  # `type: config`: the sub-configuration's class
    fields: tuple = ()  # `type: config`: the sub-configuration's fields (ConfigField)


@dataclass(frozen=True)
class Argument:
    """One forward argument: its name, default (as Python source) and documentation."""

    name: str
    default: Optional[str]
    type: str
    shape: Optional[str]
    doc: str
    # Kept only for transformers' positional order (an input this head has no use for: Flax's encoder states, the
    # inputs of `torch_positional_order` a PyTorch head does not take): must stay None.
    placeholder: bool = False


@dataclass(frozen=True)
class OutputField:
    name: str
    kind: str
    shape: Optional[str]
    required: bool
    doc: str


@dataclass(frozen=True)
class OutputClass:
    name: str
    doc: str
    fields: tuple[OutputField, ...]
    tf_fields: Optional[tuple[OutputField, ...]] = None

    def class_name(self, framework: str) -> str:
        return FRAMEWORK_CLASS_PREFIX[framework] + self.name

    def fields_for(self, framework: str) -> tuple[OutputField, ...]:
        """Fields in the framework's order."""
        if framework == "tf" and self.tf_fields is not None:
            return self.tf_fields
        return self.fields


@dataclass(frozen=True)
class OutputCatalog:
    source: str
    classes: tuple[OutputClass, ...]
    frameworks: dict[str, tuple[str, ...]]

    def for_framework(self, framework: str) -> list[OutputClass]:
        return [c for c in self.classes if framework in self.frameworks[c.name]]

    def get(self, name: str) -> OutputClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class Head:
    kind: str
    suffix: str  # "Model", "ForMaskedLM", ...
    output: str  # catalog name, without framework prefix
    uses_pooler: bool
    style: Optional[str]
    summary: Optional[str]
    dropout: Union[str, float, schema.AttributeRateSpec, None]  # the head's dropout: a config field, a rate, or attributes
    activation: Optional[schema.HeadActivation]  # the classification head's activation (style dense_act)
    labels_disable_cache: bool  # causal_lm: no key/value cache is returned when labels are given
    encoder_states: bool  # forward takes encoder_hidden_states / encoder_attention_mask (a decoder's cross-attention)
    args: dict[str, tuple[Argument, ...]]  # framework -> forward signature
    doc: str
    path: Optional[str] = None  # names-layout heads: the head's Linear
    bias: Optional[bool] = None  # names-layout heads: whether that Linear has a bias
    pre_classifier: Optional[str] = None  # names-layout first-token heads: the Linear (+ ReLU) before the dropout
    transform: Optional[str] = None  # names-layout encoder heads: the attribute of the LM head's transform before the dropout
    pooling: Optional[str] = None  # style first_token: the config field choosing the mean over the attended tokens (`mean`)
    first_attended: bool = False  # with pooling (multiple choice): the first token is each row's first attended one
    base_model_prefix: Optional[str] = None  # names-layout heads: the base model's attribute, when not the spec's
    sinusoidal_saved: bool = True  # whether checkpoints of this head hold the fixed sinusoid position tables
    inline_base: bool = False  # names-layout encoder-decoders: the class holds the base model's modules itself
    index: str = "last_non_pad"  # style last_token: `last_non_pad` or `non_pad_count` (the row's count of non-pad tokens - 1)
    loss_over: str = "labels"  # token_classification: `labels` (every label not -100) or `attended` (attention_mask 1 too)
    name: Optional[str] = None  # the whole class name (`heads[].class_name`), when it is not `<prefix><suffix>`
    # names-layout classification heads without a dropout of their own: the spec's `classifier_dropout` they read
    classifier_dropout: Optional[schema.ClassifierDropoutSpec] = None

    def class_name(self, prefix: str, framework: str) -> str:
        return FRAMEWORK_CLASS_PREFIX[framework] + (self.name or prefix + self.suffix)


@dataclass(frozen=True)
class Leaf:
    """A parameter-holding module of a names-layout stack: `kind` is `layer_norm`, `rms_norm`, `linear` (`weight [out, in]`),
    `conv1d` (`weight [in, out]`), `stacked` (`weight [count, out, in]`: one projection of `count` experts), `embedding` (`in_size` rows of `out_size`), `head_layer_norm` (a LayerNorm of each of
    `out_size` heads over its `in_size` values, with its own weight), `layers` (the list of blocks) or `experts` (the
    list of `in_size` experts of a sparse mixture of experts, each of the class of `Names.expert`); sizes are
    Python expressions over `config` (the generated module's helpers). A leaf with `when` is built only when that
    config flag is true, one with `unless` only when it is false (as transformers builds them)."""

    attr: str
    path: str  # dotted, from the block
    kind: str
    in_size: str
    out_size: str
    bias: Union[bool, str]  # a string: the boolean config field that decides
    roles: tuple[str, ...]
    when: Optional[str] = None  # the boolean config field without which the module does not exist (None: always)
    unless: Optional[str] = None  # the boolean config field with which the module does not exist (None: always)
    # The int config field whose value must differ from hidden_size for the module to exist (None: always).
    differs: Optional[str] = None
    first_layer: bool = False  # built in the stack's first block only (`layer_idx == 0`)
    # The Python condition over `config` under which the module exists, when no single flag says it (None: see above).
    expr: Optional[str] = None
    # `stacked` leaves (every expert's matrix of one projection, `weight [count, out, in]`): the number of experts.
    count: Optional[str] = None

    @property
    def is_leaf(self) -> bool:
        return True

    @property
    def condition(self) -> Optional[str]:
        """The Python condition over `config` (and the block's `layer_idx`) under which the module exists (None:
        always)."""
        if self.first_layer:
            return "layer_idx == 0"
        if self.expr:
            return self.expr
        if self.differs:
            return f"config.{self.differs} != config.hidden_size"
        flags = ([f"config.{self.when}"] if self.when else []) + ([f"not config.{self.unless}"] if self.unless else [])
        return " and ".join(flags) or None


@dataclass(frozen=True)
class Container:
    """An inner node of a names-layout module tree: it holds its children (leaves and containers) and computes
    nothing; the block (or the base model) reaches each leaf by its path. `suffix` completes the generated class name
    `<P><suffix>`."""

    attr: str
    path: str  # dotted, from the block ("" for the block itself)
    suffix: str
    children: tuple  # of Leaf | Container, in the order of the roles that created them
    # A module list (a path segment `0`, `1`, ... below it): its children are containers `0`, `1`, ... in that order,
    # each of its own class; no class of its own (PyTorch's `nn.ModuleList`).
    indexed: bool = False

    @property
    def is_leaf(self) -> bool:
        return False

    def containers(self) -> list["Container"]:
        """Every container below this one, children before their parents (the order classes are defined in); a module
        list's items, not the list."""
        out: list[Container] = []
        for child in self.children:
            if not child.is_leaf:
                out += child.containers()
                if not child.indexed:
                    out.append(child)
        return out


@dataclass(frozen=True)
class EncoderVariant:
    """The encoder blocks of one config-selected self-attention variant of a names-layout encoder-decoder
    (`attention.select`): the config value that chooses it, the variant (`local`, `transient_global`), the block's
    module tree and its roles as the generated code reaches them."""

    value: str
    variant: str
    block: Container
    roles: dict
    # The block class's suffix (`LocalEncoderLayer`, `TransientGlobalEncoderLayer`).
    suffix: str


@dataclass(frozen=True)
class Names:
    """The module paths of a names-layout stack (`names`): the tree of the base model's modules, the tree of one block
    (`layers.N`) and the LM head's modules (top-level attributes of the head model)."""

    word_embeddings: str
    position_embeddings: Optional[str]  # None: rotary positions (`embeddings.position: none`)
    layers: str
    final_norm: Optional[str]  # pre-norm stacks
    position_bias: Optional[str]  # the bucketed relative bias table the stack owns (`position.owner: stack`)
    embeddings_norm: Optional[str]  # post-norm stacks: the norm after the embeddings
    token_type_embeddings: Optional[str]  # `embeddings.token_type: true`: the table of `config.type_vocab_size` rows
    model: Container
    block: Container
    lm_transform: Optional[str]  # `lm_head.layout: names`
    lm_norm: Optional[str]
    # role -> path from the block (`attention.query` -> `attn.c_attn`)
    roles: dict[str, str]
    fused_qkv: bool  # one projection computes q, k and v (split in the forward)
    ffn_size: str  # Python expression of the feed-forward width over `config`
    # Python expressions over `config`: the width of one head, the number of key/value heads (None: one per query
    # head; fewer: grouped-query attention).
    head_dim: str = "config.hidden_size // config.num_attention_heads"
    kv_heads: Optional[str] = None
    # The Python expression of the number of heads the key/value cache holds (`kv_heads`, or every query head with
    # `attention.cache_repeated`), and that field's value: False, True or its boolean config field.
    cache_heads: Optional[str] = None
    cache_repeated: Union[bool, str] = False
    # `residual.split_norms`: its boolean config field (the parallel form with a norm for each sublayer, the roles
    # `attention.parallel_norm` and `ffn.parallel_norm`) and its int config field of the count of norms (1: one).
    split_flag: Optional[str] = None
    split_count: Optional[str] = None
    # `residual.dropout_sum`: the parallel form's dropout drops the sum of both sublayers' outputs.
    dropout_sum: bool = False
    # The fused projection's output order (`attention.fused_order`): `blocks` ([q | k | v]) or `per_head` (each
    # head's q, k, v side by side).
    fused_order: str = "blocks"
    # `fused_order: sharded`: the shard count and the order of the three parts in each shard.
    fused_shards: Optional[int] = None
    fused_parts: tuple = ("query", "key", "value")
    # A parallel residual (`residual.parallel`): False, True, or the boolean config field that chooses it.
    parallel_residual: Union[bool, str] = False
    gate: Optional[str] = None  # gated feed-forward: the gate projection's path (`ffn.gate`)
    # One projection computes the gate and the input side by side ([gate | input]: `ffn.gate` and `ffn.input` one path).
    fused_gate: bool = False
    # Rotary positions (`position: {kind: rotary, theta: ...}`): the Python expression of the base over `config`
    # (`config.rope_theta`, or a number), the config fields of the rotated fraction or count of each head's
    # dimensions (at most one), and whether pairs are interleaved (2i, 2i + 1) rather than halves (j, j + d/2).
    rotary_theta: Optional[str] = None
    rotary_fraction: Optional[str] = None
    rotary_dims: Optional[str] = None
    rotary_interleaved: bool = False
    # `position.theta_by_layer_type`: the layer kinds whose rotations take another base -> its Python expression over
    # `config` (the other kinds rotate with `rotary_theta`).
    rotary_thetas: dict[str, str] = field(default_factory=dict)
    # `position.unscaled_layer_types`: the layer kinds whose rotations stay unscaled (the others scale as
    # `rotary_scaling` says).
    rotary_unscaled: tuple[str, ...] = ()
    # `position.layers`: (the `list` config field of the layers that rotate, the Python literal of its entry that
    # rotates); the layers of its other entry take no positions. None: every layer rotates.
    rotary_layers: Optional[tuple[str, str]] = None
    # `position.scaling`: the `dict` config field of transformers' `rope_scaling` that scales the inverse frequencies
    # (and, `yarn`, the cosines and sines); None: unscaled.
    rotary_scaling: Optional[str] = None
    # With `rotary_scaling`: the config field of the original context that `longrope` scaling compares positions with
    # (transformers reads `original_max_position_embeddings` when the configuration has it), else None
    # (`max_position_embeddings`).
    rotary_original_context: Optional[str] = None
    # `position.scaling_types`: the rope types the configuration accepts (empty: every rendered one).
    rotary_scaling_types: tuple[str, ...] = ()
    # A parallel residual whose two sublayers read one norm's output (`residual.shared_norm`: no `ffn.norm` role).
    shared_norm: bool = False
    # The config field each sublayer's output is multiplied by before its residual add (`residual.multiplier`).
    residual_multiplier: Optional[str] = None
    # The residual stream continues from each sublayer's normalised input (`residual.from_norm`): False, True, or the
    # boolean config field that chooses it.
    residual_from_norm: Union[bool, str] = False
    # The Python expression of the feed-forward's activation name over `config` (a config field, or a fixed name).
    activation: str = "config.hidden_act"
    # ALiBi (`position: {kind: alibi}`): how the keys' positions are counted, `mask` or `absolute`; None without.
    alibi: Optional[str] = None
    # ALiBi positions chosen by a config flag in place of the rotary ones (`position.alibi`), else None.
    alibi_switch: Optional[Any] = None
    # Norms of the queries and keys (`attention.qk_norm`, the roles `attention.q_norm` / `attention.k_norm`): False,
    # True, or the boolean config field without which they do not exist; over each head's width (`head`) or the whole
    # projection's (`all`, before the split into heads).
    qk_norm: Union[bool, str] = False
    qk_norm_scope: str = "head"
    # `qk_norm_scope: each_head`: how each norm holds its per-head weights (`attention.qk_norm_layout`).
    qk_norm_layout: str = "stacked"
    # Encoder-decoder stacks: the base model's attributes (the shared vocabulary matrix, the two stacks; `model` is
    # then the tree of one stack, `block` that of an encoder block), the tree of a decoder block (with the
    # cross-attention roles) and its feed-forward width.
    shared: Optional[str] = None
    encoder: Optional[str] = None
    decoder: Optional[str] = None
    decoder_block: Optional[Container] = None
    # The decoder blocks' roles and gate as the generated code reaches them (`decoder_block.<role>` overrides).
    decoder_roles: Optional[dict] = None
    decoder_gate: Optional[str] = None
    # The boolean config field that chooses the gated feed-forward (`feed_forward.gated: <field>`), else None.
    gate_flag: Optional[str] = None
    # `position.owner` of a bucketed bias table in the blocks (`first_layer`, `every_layer`; role
    # `attention.relative_bias`), else None.
    layer_bias: Optional[str] = None
    decoder_ffn_size: Optional[str] = None
    # Encoder-decoder stacks: the encoder's blocked self-attention variants chosen by `attention.select` (the encoder
    # blocks of each; `block` is then never built), in the order of the select's values.
    encoder_variants: tuple = ()
    # A sparse mixture of experts (`feed_forward.experts`): the module tree of one expert (its feed-forward roles,
    # paths inside the expert); the block holds the router (`ffn.router`) and the list of experts (`ffn.experts`).
    expert: Optional[Container] = None
    # The mixture's shared expert (`feed_forward.experts.shared`): its module tree (the experts' roles at its own
    # width), the class `<P>SharedExpert`; the block holds it (`ffn.shared_expert`) and its gate (`ffn.shared_gate`).
    shared_expert: Optional[Container] = None
    # The dense layers' feed-forward (`feed_forward.experts.dense`): its module tree (the experts' roles at its own
    # width), the class `<P>DenseFeedForward`, held at `dense_path` (the router's container) in the blocks where
    # `sparse` (a Python condition over `config` and `layer_idx`) is false.
    dense: Optional[Container] = None
    dense_path: Optional[str] = None
    sparse: Optional[str] = None
    # Rotary inverse frequencies held as a saved buffer (`position.buffer`): the module's path inside each block.
    rotary_buffer: Optional[str] = None
    # `position.select`: (the str config field, its value choosing the rotary positions, its value choosing the
    # embeddings' absolute ones); None: the positions the spec names, always.
    position_select: Optional[tuple[str, str, str]] = None
    # `embeddings.norm: <bool field>`: the config flag without which the embeddings' norm neither exists nor applies.
    embeddings_norm_flag: Optional[str] = None
    # The fixed sinusoidal table the rotations read (`position.table`, the role `position.table`): its path in the
    # base model, and whether checkpoints hold it (`saved`).
    rotary_table: Optional[str] = None
    rotary_table_saved: bool = False
    # `position.rotary_value`: the boolean config field with which the values are rotated too.
    rotary_value: Optional[str] = None
    # Linears the base model holds but never calls (`held`): their paths and input widths.
    held: tuple[Leaf, ...] = ()
    # Factorized embeddings (`embeddings.projection`): the path of the Linear from the embedding width to hidden_size
    # (the role `embeddings.projection`), applied after the embeddings' norm and dropout, and, when it exists only
    # while the widths differ (`when: sizes_differ`), the config field of the embedding width.
    projection: Optional[str] = None
    projection_differs: Optional[str] = None
    # Decoder-only stacks with `embeddings.projection`: the path of the Linear from hidden_size back to the embedding
    # width (the role `final_projection`), applied to the stack's output after the final norm (built as the input
    # projection is); the input projection then maps the word embeddings alone, before the positions are added.
    final_projection: Optional[str] = None
    # Shared layer groups (`layer_sharing`): the config fields of the number of groups and of blocks per group, and
    # the attribute of each group's list of blocks (the role `layer_group.layers`); `layers` is then the list of groups.
    sharing: Optional[tuple[str, str, str]] = None
    # `embeddings.task_type`: the path of the flag-built table of further token types, next to the word embeddings.
    task_type_embeddings: Optional[str] = None

    @property
    def rotary_by_kind(self) -> bool:
        """Whether the rotations depend on the layer kind (another base, or no scaling, on some kinds)."""
        return bool(self.rotary_thetas or self.rotary_unscaled)


@dataclass(frozen=True)
class Architecture:
    spec: schema.ArchitectureSpec
    spec_file: str
    name: str
    prefix: str
    model_type: str
    base_model_prefix: str
    title: str
    paper: str
    config_class: str
    config_doc: str
    config_fields: tuple[ConfigField, ...]
    attribute_map: dict[str, str]
    # Config fields the spec declares optional (None, with no `default_from`) that the models read as sizes: a model
    # refuses a configuration holding None in one of them, naming it (see `PretrainedConfig.check_model_fields`).
    fields_models_need: tuple[str, ...]
    embeddings: schema.EmbeddingsSpec
    embedding_size: str  # config field of the embedding width
    lm_size: str  # config field of the `flat` / `transform` LM head's width (`lm_head.size`, else the embeddings')
    relative: Optional[schema.RelativeFunctionalPosition]
    bucketed: Optional[schema.BucketedBiasPosition]
    seq2seq: bool  # an encoder-decoder model (`stack: encoder-decoder`)
    attention: schema.AttentionSpec
    feed_forward: schema.FeedForwardSpec
    norm: schema.NormSpec
    decoder: Optional[schema.DecoderSpec]
    pooler: Optional[schema.PoolerSpec]
    lm_head: Optional[schema.LMHeadSpec]
    lm_head_path: tuple[str, ...]
    sentence_head: Optional[schema.SentenceHeadSpec]
    sentence_head_path: tuple[str, ...]
    discriminator_head: Optional[schema.DiscriminatorHeadSpec]
    sequence_summary: Optional[schema.SequenceSummarySpec]
    classifier_dropout: Optional[schema.ClassifierDropoutSpec]
    heads: tuple[Head, ...]
    has_token_type: bool
    # `embeddings.task_type`: a further token-type table selected by a config flag, with its own forward argument.
    task_type: Optional[schema.TypeTableSpec]
    # `embeddings.token_type: word`: `token_type_ids` index the word embeddings (decoder-only stacks).
    token_type_word: bool
    has_position_ids: bool
    # What bounds the sequence length at `config.max_position_embeddings` (absolute, rotary and functional relative
    # positions index a table of that many rows), for the entrance check's message; None: no bound (bucketed biases).
    position_table: Optional[str] = None
    # The cross-attention module of each layer of an encoder stack that doubles as a decoder (`attention.cross_module`;
    # built when `config.add_cross_attention`); None without one (and for encoder-decoder models, whose decoder stack
    # renders its own).
    cross_attention: Optional[str] = None
    # `{config flag: regular expressions}` of checkpoint names that have a place only when the flag is set (a component
    # the spec makes conditional on a flag: the layers' cross-attention), for the loader's error when such names cannot
    # load.
    keys_needing_config_flag: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The spec's `test.variants`: small configurations (name -> config keyword arguments) for the test harness.
    test_variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The stack kind (generator.support.STACK_KINDS).
    stack: str = "encoder"
    # Names-layout stacks (decoder-only, encoder, or an encoder-decoder with `attention.layout: names`): the module
    # paths of `names`.
    names: Optional[Names] = None

    @property
    def word_embeddings_path(self) -> str:
        """The word embeddings' module path in the base model."""
        return self.names.word_embeddings

    @property
    def layer_kinds(self) -> Optional[tuple[str, str]]:
        """With `attention.layer_types`: the names of its full layers and of its sliding layers (the `choices` of its
        config field, in that order)."""
        if self.attention.layer_types is None:
            return None
        name = self.attribute_map.get(self.attention.layer_types, self.attention.layer_types)
        field_ = next(f for f in self.config_fields if f.name == name)
        return field_.choices[0], field_.choices[1]

    def head(self, kind: str) -> Optional[Head]:
        for h in self.heads:
            if h.kind == kind:
                return h
        return None

    def class_name(self, component: str, framework: str) -> str:
        return FRAMEWORK_CLASS_PREFIX[framework] + self.prefix + component

    def public_classes(self, framework: str) -> list[str]:
        return [h.class_name(self.prefix, framework) for h in self.heads]


@dataclass
class Project:
    architectures: list[Architecture]
    outputs: OutputCatalog
    arguments: schema.ArgumentsSpec
    frameworks: tuple[str, ...] = FRAMEWORKS
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------------
# Validation helpers


def validate(loaded: LoadedYaml, model: type[schema.BaseModel]) -> Any:
    """Validate loaded YAML against a schema model; the first error becomes a SpecError naming its line."""
    try:
        return model.model_validate(loaded.data)
    except ValidationError as exc:
        # An unknown key is usually a misspelling of a missing one: report it first, with its suggestion.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        loc = [str(p) for p in err["loc"]]
        # pydantic adds the union/discriminator member name to the location; keep only real keys and indices.
        real = _real_location(loaded, loc)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, real[:-1], loaded)
            message = f"unknown key {loc[-1]!r}" + _suggest(loc[-1], allowed)
            if allowed:
                message += f" (allowed here: {', '.join(allowed)})"
        elif err["type"] == "missing":
            message = f"required field {loc[-1]!r} is missing"
            real = real[:-1] + [loc[-1]]
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        elif err["type"] in ("literal_error", "enum"):
            message = _not_a_value(loaded, loc[-1], err)
        elif real[:1] == ["names"] and len(real) == 2 and err["input"] is None:
            # A role's path written null, to drop a role of a preset: roles are left out by the components, not by
            # name.
            message = (
                f"a role's module path cannot be null: a preset's roles that the spec's components do not render are "
                f"left out by themselves (`embeddings.norm: false` drops `embeddings.norm`), and a role the stack kind "
                f"always renders (the `embeddings.shared` vocabulary matrix of an encoder-decoder, ...) has no "
                f"component without it; write the module path, or remove `{real[1]}`"
            )
        elif len(members := [e for e in errors if _real_location(loaded, [str(p) for p in e["loc"]]) == real]) > 1:
            # A union (`true`, `false` or a config field, say): each member reports its own error.
            message = _not_a_member(loaded, real[-1] if real else loc[-1], members)
        elif err["type"] in _SCALARS:
            message = _not_a_scalar(loaded, loc[-1], err, _SCALARS[err["type"]])
        elif err["type"] == "model_type":
            message = f"expected a mapping, got {type(err['input']).__name__}"
        elif err["type"] == "list_type":
            message = f"expected a list, got {type(err['input']).__name__}"
        line = loaded.line_of(real)
        raise SpecError(loaded.path, message, line=line, field=".".join(real) or None) from None


# pydantic's scalar type errors -> what the field takes.
_SCALARS = {
    "bool_type": "`true` or `false`",
    "bool_parsing": "`true` or `false`",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
}


def _not_a_member(loaded: LoadedYaml, key: str, errors: list[dict]) -> str:
    """A value no member of a union field takes: what each member takes (a text given where a member takes a name
    says what is wrong with it)."""
    value = errors[0]["input"]
    shown = f"`{value}`" if isinstance(value, (str, int, float)) else repr(value)
    takes = []
    for e in errors:
        member = str(e["loc"][-1])
        if e["type"] == "value_error" and isinstance(value, str):
            return f"{shown} is not a value of `{key}`: {e['msg'].removeprefix('Value error, ')}"
        if e["type"] in _SCALARS and not e["type"].startswith("string"):
            takes.append(_SCALARS[e["type"]])
        elif e["type"] == "string_type":
            takes.append("a config field's name" if "_not_reserved" in member or "_field_reference" in member else "a name" if "_identifier" in member else "text")
        elif e["type"] in ("literal_error", "enum"):
            takes.append(re.sub(r"'([^']*)'", r"`\1`", e.get("ctx", {}).get("expected", "")))
        elif e["type"] in ("model_type", "dict_type", "model_attributes_type"):
            takes.append("a mapping")
        elif e["type"] == "list_type":
            takes.append("a list")
    takes = list(dict.fromkeys(t for t in takes if t))
    if not takes:
        return errors[0]["msg"]
    return f"{shown} is not a value of `{key}`: write {', or '.join(takes)}"


def _declared_fields(loaded: LoadedYaml) -> set:
    """The names of the config fields the spec declares."""
    config = loaded.data.get("config") if isinstance(loaded.data, dict) else None
    fields = config.get("fields") if isinstance(config, dict) else None
    return {f.get("name") for f in fields if isinstance(f, dict)} if isinstance(fields, list) else set()


def _not_a_scalar(loaded: LoadedYaml, key: str, err: dict, expected: str) -> str:
    """A value of the wrong type where a field takes one fixed scalar (a declared config field's name there is said
    to be one: the field takes a fixed value, not a config field that would choose it)."""
    value = err["input"]
    shown = f"`{value}`" if isinstance(value, (str, int, float)) else repr(value)
    if isinstance(value, str) and value in _declared_fields(loaded):
        return f"{shown} is a config field, but `{key}` takes a fixed value (one chosen by a config field is not rendered): write {expected}"
    return f"{shown} is not a value of `{key}`: write {expected}"


def _not_a_value(loaded: LoadedYaml, key: str, err: dict) -> str:
    """A value outside a field's fixed set: the values to write instead (a declared config field's name there is
    said to be one: the field takes one of its values, not a config field that would choose it)."""
    value = err["input"]
    expected = re.sub(r"'([^']*)'", r"`\1`", err.get("ctx", {}).get("expected", ""))
    shown = f"`{value}`" if isinstance(value, (str, int, float)) else repr(value)
    if isinstance(value, str) and value in _declared_fields(loaded):
        return f"{shown} is a config field, but `{key}` takes a fixed value (one chosen by a config field is not rendered): write {expected}"
    return f"{shown} is not a value of `{key}`: write {expected}"


def _real_location(loaded: LoadedYaml, loc: list[str]) -> list[str]:
    out: list[str] = []
    node: Any = loaded.data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            out.append(part)
            node = node[int(part)]
        elif isinstance(node, dict) and part not in node and part == loc[-1] and not _is_member_tag(part):
            out.append(part)
    return out


def _is_member_tag(part: str) -> bool:
    """Whether a location part is pydantic's name of a union member (`bool`, `function-after[...]`, a model class),
    not a key."""
    return part in ("bool", "int", "float", "str", "list", "dict", "none") or "[" in part or part[:1].isupper()


def _allowed_keys(model: type[schema.BaseModel], loc: list[str], loaded: LoadedYaml) -> list[str]:
    """Keys allowed at ``loc`` (best effort: follows pydantic field annotations)."""
    current: Any = model
    node: Any = loaded.data
    for part in loc:
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
        if part.isdigit():
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        # A discriminated union (position schemes): the member whose `kind` the author wrote.
        kind = node.get("kind") if isinstance(node, dict) else None
        current = _inner_model(fields[part].annotation, kind)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def _inner_model(annotation: Any, kind: Any = None) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, schema.BaseModel):
        kind_field = annotation.model_fields.get("kind")
        if kind is not None and kind_field is not None and kind not in typing.get_args(kind_field.annotation):
            return None
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg, kind)
        if found is not None:
            return found
    return None


def _suggest(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# --------------------------------------------------------------------------------------------------------------------
# Resolution


def resolve_arguments(loaded: LoadedYaml) -> schema.ArgumentsSpec:
    return validate(loaded, schema.ArgumentsSpec)


def resolve_outputs(loaded: LoadedYaml) -> OutputCatalog:
    spec: schema.OutputCatalogSpec = validate(loaded, schema.OutputCatalogSpec)
    classes = []
    frameworks: dict[str, tuple[str, ...]] = {}
    for ci, cls in enumerate(spec.classes):
        fields = _resolve_fields(loaded, spec, cls.name, cls.fields, ["classes", ci, "fields"])
        tf_fields = None
        if cls.tf_fields is not None:
            tf_fields = _resolve_fields(loaded, spec, cls.name, cls.tf_fields, ["classes", ci, "tf_fields"])
        if cls.name in frameworks:
            raise SpecError(loaded.path, f"output class {cls.name!r} is declared twice", line=loaded.line_of(["classes", ci]), field=f"classes.{ci}.name")
        frameworks[cls.name] = tuple(cls.frameworks)
        classes.append(OutputClass(name=cls.name, doc=cls.doc, fields=fields, tf_fields=tf_fields))
    return OutputCatalog(source=_rel(loaded.path), classes=tuple(classes), frameworks=frameworks)


def _resolve_fields(loaded: LoadedYaml, spec: schema.OutputCatalogSpec, owner: str, entries: list, loc: list) -> tuple[OutputField, ...]:
    fields = []
    for fi, entry in enumerate(entries):
        where = dict(line=loaded.line_of(loc + [fi]), field=".".join(str(p) for p in loc + [fi]))
        if isinstance(entry, str):
            if entry not in spec.fields:
                raise SpecError(loaded.path, f"unknown shared output field {entry!r}" + _suggest(entry, list(spec.fields)), **where)
            merged = spec.fields[entry]
        else:
            merged = _merge_field(spec.fields.get(entry.name), entry)
        if merged.kind is None or merged.doc is None:
            raise SpecError(loaded.path, f"output field {merged.name!r} needs a `kind` and a `doc` (it is not a shared field)", **where)
        fields.append(OutputField(name=merged.name, kind=merged.kind, shape=merged.shape, required=bool(merged.required), doc=merged.doc))
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(loaded.path, f"class {owner!r} lists field(s) {duplicates} twice", line=loaded.line_of(loc), field=".".join(str(p) for p in loc))
    return tuple(fields)


def _merge_field(base: Optional[schema.OutputFieldSpec], override: Optional[schema.OutputFieldSpec]) -> schema.OutputFieldSpec:
    if base is None:
        return override  # type: ignore[return-value]
    if override is None:
        return base
    data = base.model_dump()
    data.update({k: v for k, v in override.model_dump().items() if v is not None})
    return schema.OutputFieldSpec(**data)


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name if path.parent.name != "specs" else f"specs/{path.name}"


_PY_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "dict": "dict", "list": "list", "repeats": "list"}


def _sub_config_fields(fields: list) -> dict:
    """The fields of the sub-configurations (`type: config`) by their dotted name, `<field>.<sub-field>`."""
    return {f"{f.name}.{sub.name}": sub for f in fields if f.type == "config" for sub in f.fields}

_HEAD_SUFFIX = {
    "base": "Model",
    "seq2seq": "Model",
    "conditional_generation": "ForConditionalGeneration",
    "encoder": "EncoderModel",
    "pretraining": "ForPreTraining",
    "masked_lm": "ForMaskedLM",
    "causal_lm": "ForCausalLM",
    "sequence_classification": "ForSequenceClassification",
    "token_classification": "ForTokenClassification",
    "question_answering": "ForQuestionAnswering",
    "multiple_choice": "ForMultipleChoice",
    "next_sentence": "ForNextSentencePrediction",
    "discriminator": "ForPreTraining",
}

_HEAD_DOC = {
    "base": "The bare {title} Model transformer outputting raw hidden-states without any specific head on top.",
    "seq2seq": "The bare {title} encoder-decoder Model outputting the decoder's raw hidden-states without any specific head on top.",
    "conditional_generation": "{title} encoder-decoder Model with a `language modeling` head on top of the decoder.",
    "encoder": "The bare {title} encoder outputting raw hidden-states without any specific head on top.",
    "pretraining": "{title} Model with the heads used during pretraining on top: a `masked language modeling` head and a sentence-level classification head.",
    "masked_lm": "{title} Model with a `language modeling` head on top.",
    "causal_lm": "{title} Model with a `language modeling` head on top for causal language modeling (CLM).",
    "sequence_classification": "{title} Model transformer with a sequence classification/regression head on top (a linear layer on top of the pooled output), e.g. for GLUE tasks.",
    "token_classification": "{title} Model with a token classification head on top (a linear layer on top of the hidden-states output), e.g. for Named-Entity-Recognition (NER) tasks.",
    "question_answering": "{title} Model with a span classification head on top for extractive question-answering tasks like SQuAD (linear layers on top of the hidden-states output to compute `span start logits` and `span end logits`).",
    "multiple_choice": "{title} Model with a multiple choice classification head on top (a linear layer on top of the pooled output and a softmax), e.g. for RocStories/SWAG tasks.",
    "next_sentence": "{title} Model with a `next sentence prediction (classification)` head on top.",
    "discriminator": "{title} Model with a binary classification head on top of every token, as used for pretraining the discriminator: whether each token was replaced.",
}

_HEAD_OUTPUT = {
    "masked_lm": "MaskedLMOutput",
    "causal_lm": "CausalLMOutputWithCrossAttentions",
    "sequence_classification": "SequenceClassifierOutput",
    "token_classification": "TokenClassifierOutput",
    "question_answering": "QuestionAnsweringModelOutput",
    "multiple_choice": "MultipleChoiceModelOutput",
    "next_sentence": "NextSentencePredictorOutput",
    "seq2seq": "Seq2SeqModelOutput",
    "conditional_generation": "Seq2SeqLMOutput",
    "encoder": "BaseModelOutput",
}


# Heads of encoder-decoder models; those that differ from the encoder-only head of that kind have their own output
# class and description.
# The heads of an encoder stack with cross-attention that take a decoder's encoder states (unless `encoder_states: false`).
ENCODER_STATE_HEAD_KINDS = ("base", "masked_lm", "causal_lm")
_SEQ2SEQ_HEAD_OUTPUT = {
    "sequence_classification": "Seq2SeqSequenceClassifierOutput",
    "question_answering": "Seq2SeqQuestionAnsweringModelOutput",
}
_SEQ2SEQ_HEAD_DOC = {
    "sequence_classification": "{title} model with a sequence classification/regression head on top (a linear layer on top of the decoder's hidden state at the last end-of-sequence token), e.g. for GLUE tasks.",
    "token_classification": "{title} encoder with a token classification head on top (a linear layer on top of the encoder's hidden-states output), e.g. for Named-Entity-Recognition (NER) tasks.",
    "question_answering": "{title} encoder-decoder model with a span classification head on top of the decoder for extractive question-answering tasks like SQuAD (a linear layer on top of the decoder's hidden-states output to compute `span start logits` and `span end logits`).",
}


# Heads of decoder-only stacks.
DECODER_ONLY_HEAD_KINDS = ("base", "causal_lm", "sequence_classification", "token_classification", "question_answering")
# Heads of encoder-decoder stacks of the names layout (`causal_lm`: the decoder stack alone).
NAMES_SEQ2SEQ_HEAD_KINDS = ("seq2seq", "conditional_generation", "sequence_classification", "question_answering", "causal_lm", "encoder", "token_classification")
# Heads of names-layout encoder-decoders that may hold the base model's modules themselves (`heads[].inline_base`).
INLINE_BASE_HEAD_KINDS = ("conditional_generation", "sequence_classification", "question_answering")
# Heads of encoder stacks of the names layout.
# (`causal_lm`: the encoder as a decoder, with `decoder`.)
NAMES_ENCODER_HEAD_KINDS = ("base", "masked_lm", "sequence_classification", "multiple_choice", "token_classification", "question_answering",
                            "next_sentence", "pretraining", "causal_lm", "discriminator")
_DECODER_ONLY_HEAD_OUTPUT = {
    "base": "BaseModelOutputWithPast",
    "causal_lm": "CausalLMOutputWithPast",
    "sequence_classification": "SequenceClassifierOutputWithPast",
}
_DECODER_ONLY_HEAD_DOC = {
    "causal_lm": "The {title} Model transformer with a language modeling head on top (linear layer with weights tied to the input embeddings).",
    "sequence_classification": "The {title} Model transformer with a sequence classification head on top (linear layer), reading the last token that is not padding, e.g. for GLUE tasks.",
}
_NAMES_ENCODER_HEAD_DOC = {
    "sequence_classification": "{title} Model transformer with a sequence classification/regression head on top (a linear layer on top of the first token's hidden state) e.g. for GLUE tasks.",
    "multiple_choice": "{title} Model with a multiple choice classification head on top (a linear layer on top of the first token's hidden state and a softmax) e.g. for RocStories/SWAG tasks.",
}
def _pooled_head_doc(spec: schema.ArchitectureSpec, h: schema.HeadSpec) -> Optional[str]:
    """The class docstring of a first-token classification head whose options change what it reads (a transform
    before the classifier, pooling chosen by a config field, each choice's first attended token); None otherwise."""
    if h.kind not in ("sequence_classification", "multiple_choice") or not (h.transform or h.pooling or h.first_attended):
        return None
    token = "first attended token" if h.first_attended else "first token"
    read = f"the {token}'s hidden state"
    if h.pooling:
        read = f"the {token}'s hidden state or the mean over the attended tokens, as `config.{h.pooling}` says (`\"mean\"`)"
    layers = "a dense layer, activation and norm, then a linear layer," if h.transform else "a linear layer"
    if h.kind == "sequence_classification":
        return f"{spec.title} Model transformer with a sequence classification/regression head on top ({layers} on {read}) e.g. for GLUE tasks."
    return f"{spec.title} Model with a multiple choice classification head on top ({layers} on {read}, and a softmax) e.g. for RocStories/SWAG tasks."


# The Linear of each names-layout head, per rule kind: default path and bias.
_NAMES_HEAD_LINEAR = {
    support.DECODER_ONLY: {
        "sequence_classification": ("score", False),
        "token_classification": ("classifier", True),
        "question_answering": ("qa_outputs", True),
    },
    support.NAMES_ENCODER_DECODER: {
        "question_answering": ("qa_outputs", True),
        "token_classification": ("classifier", True),
    },
    support.NAMES_ENCODER: {
        "sequence_classification": ("classifier", True),
        "multiple_choice": ("classifier", True),
        "token_classification": ("classifier", True),
        "question_answering": ("qa_outputs", True),
    },
}


def _check_names_head(h: schema.HeadSpec, kind: str, loc: list, fail, classifier_dropout: bool = False, spec: Optional[schema.ArchitectureSpec] = None) -> None:
    """The heads a names-layout stack (`kind`: decoder-only, names-layout encoder or encoder-decoder) renders, with
    their options (`classifier_dropout`: the spec has a top-level `classifier_dropout`, the dropout of the
    classification heads without one of their own)."""
    if kind == support.NAMES_ENCODER_DECODER:
        if h.kind not in NAMES_SEQ2SEQ_HEAD_KINDS:
            raise fail(f"head {h.kind!r} is not available for {kind} stacks (use {', '.join(NAMES_SEQ2SEQ_HEAD_KINDS)})", loc + ["kind"])
        for option in ("style", "summary", "pre_classifier", "activation", "transform", "pooling", "first_attended"):
            if getattr(h, option) not in (None, False):
                raise fail(f"head {h.kind!r} of a {kind} stack has no `{option}` option: remove it", loc + [option])
        if h.kind not in _NAMES_HEAD_LINEAR[kind] and (h.path is not None or h.bias is not None):
            raise fail(f"head {h.kind!r} has no Linear of its own to name: remove `path` and `bias`", loc + ["path" if h.path is not None else "bias"])
        if (h.kind in ("sequence_classification", "token_classification")) != (h.dropout is not None):
            raise fail(f"the classification head of {h.kind.replace('_', ' ')} needs `dropout: <config field or rate>`" if h.dropout is None else f"head {h.kind!r} has no dropout: remove `dropout`", loc + (["dropout"] if h.dropout is not None else []))
        return
    decoder_only = kind == support.DECODER_ONLY
    allowed = DECODER_ONLY_HEAD_KINDS if decoder_only else NAMES_ENCODER_HEAD_KINDS
    if h.kind not in allowed:
        raise fail(f"head {h.kind!r} is not available for {kind} stacks (use {', '.join(allowed)})", loc + ["kind"])
    if decoder_only and h.kind == "sequence_classification" and h.style != "last_token":
        raise fail(f"sequence_classification of a {kind} stack reads each row's last non-padding token: write `style: last_token`", loc + ["style"])
    if not decoder_only and h.kind == "sequence_classification" and h.style not in ("first_token", "pooled", "dense_act"):
        raise fail(f"sequence_classification of a {kind} stack reads the first token (`style: first_token`, or `style: dense_act` through a dense + activation classification head) or the pooler's output (`style: pooled`, with a `pooler`): write one of them", loc + ["style"])
    if h.style == "dense_act":
        if h.activation is None or (h.dropout is None and not classifier_dropout):
            raise fail("the `dense_act` classification head (dropout, `classifier.dense`, activation, dropout, `classifier.out_proj`) needs `activation` and `dropout: <config field, rate or attributes>` (or a top-level `classifier_dropout`)", loc)
        if h.path is not None or h.bias is not None or h.pre_classifier is not None:
            key = "path" if h.path is not None else "bias" if h.bias is not None else "pre_classifier"
            raise fail(f"the `dense_act` classification head is the module `classifier` (`dense`, `out_proj`): remove `{key}`", loc + [key])
    if h.kind != "sequence_classification" and h.style is not None:
        raise fail(f"`style` only applies to sequence_classification, not {h.kind}", loc + ["style"])
    if h.kind == "multiple_choice" and h.summary not in ("first_token", "pooled", "last_token", "sequence_summary"):
        raise fail(f"multiple_choice of a {kind} stack reads the first token of each choice (`summary: first_token`), its last position (`summary: last_token`, padding or not), the pooler's output (`summary: pooled`, with a `pooler`) or a configured summary (`summary: sequence_summary`, with a `sequence_summary`): write one of them", loc + ["summary"])
    if h.kind != "multiple_choice" and h.summary is not None:
        raise fail(f"`summary` only applies to multiple_choice, not {h.kind}", loc + ["summary"])
    if h.summary == "sequence_summary" and (h.dropout is not None or h.pre_classifier is not None):
        key = "dropout" if h.dropout is not None else "pre_classifier"
        raise fail(f"the configured summary (`sequence_summary`: its projection, activation and dropout) feeds the classifier directly: remove `{key}`", loc + [key])
    if h.pre_classifier is not None and (decoder_only or h.kind not in ("sequence_classification", "multiple_choice") or "pooled" in (h.style, h.summary) or h.summary == "sequence_summary"):
        raise fail("`pre_classifier` (a Linear and ReLU before the classifier) is rendered only for the first-token heads of names-layout encoders: remove it", loc + ["pre_classifier"])
    if h.transform is not None:
        lm = spec.lm_head
        if decoder_only or lm is None or lm.layout != "flat" or lm.decoder is None:
            raise fail("`transform` holds a module of the `flat` LM head's class (with its top-level `decoder`) in a names-layout encoder: add that LM head or remove `transform`", loc + ["transform"])
        if not (h.kind in ("token_classification", "question_answering") or "first_token" in (h.style, h.summary)) or h.pre_classifier is not None:
            raise fail("`transform` is rendered before the dropout of the first-token sequence classification and multiple choice (without `pre_classifier`), token classification and question answering heads: remove it", loc + ["transform"])
        if h.transform in (spec.base_model_prefix, h.path or "", "dropout"):
            raise fail(f"`{h.transform}` is another module of this head: name the transform otherwise", loc + ["transform"])
    if h.pooling is not None:
        if "first_token" not in (h.style, h.summary):
            raise fail("`pooling` chooses between the first token and the mean of a first-token sequence classification or multiple choice: remove it", loc + ["pooling"])
        field_ = next((f for f in spec.config.fields if f.name == spec.config.attribute_map.get(h.pooling, h.pooling)), None)
        if field_ is None or field_.type != "str" or "mean" not in (field_.choices or ()):
            raise fail(f"`pooling` names a str config field whose `choices` hold `mean` (the mean over the attended tokens; the other choice: the first token), not {h.pooling!r}", loc + ["pooling"])
    if h.first_attended and (h.kind != "multiple_choice" or h.pooling is None):
        raise fail("`first_attended` reads each choice's first attended token in a multiple choice with `pooling`: remove it (or add `pooling`)", loc + ["first_attended"])
    if h.activation is not None and h.style != "dense_act":
        raise fail(f"head {h.kind!r} of a {kind} stack has no activation option (only `style: dense_act` has one): remove `activation`", loc + ["activation"])
    if h.kind == "base" and h.base_model_prefix is not None:
        raise fail("the base model holds no base model: remove `base_model_prefix`", loc + ["base_model_prefix"])
    if h.kind not in _NAMES_HEAD_LINEAR[kind] and (h.path is not None or h.bias is not None):
        raise fail(f"head {h.kind!r} has no Linear of its own to name: remove `path` and `bias`", loc + ["path" if h.path is not None else "bias"])
    if decoder_only:
        if h.kind == "token_classification" and h.dropout is None:
            raise fail("token_classification needs `dropout: <config field or rate>`", loc)
        if h.kind != "token_classification" and h.dropout is not None:
            raise fail(f"head {h.kind!r} of a decoder-only stack has no dropout: remove `dropout`", loc + ["dropout"])
    elif h.kind in ("base", "masked_lm", "causal_lm", "next_sentence", "pretraining", "discriminator") and h.dropout is not None:
        raise fail(f"head {h.kind!r} has no dropout: remove `dropout`", loc + ["dropout"])
    elif h.kind == "token_classification" and h.dropout is None and not classifier_dropout:
        raise fail("token_classification needs `dropout: <config field, rate or attributes>` or a top-level `classifier_dropout`", loc)


# Roles of a names-layout stack: the base model's modules, those of each block, and the LM head's (top-level
# attributes of the head model).
MODEL_ROLES = ("embeddings.word", "embeddings.position", "embeddings.token_type", "embeddings.norm", "embeddings.projection",
               "layers", "final_norm", "position.bias", "position.table", "final_projection")
BLOCK_ROLES = ("attention.norm", "attention.query", "attention.key", "attention.value", "attention.output",
               "attention.q_norm", "attention.k_norm", "attention.output_norm", "ffn.norm", "ffn.gate", "ffn.input",
               "ffn.output", "ffn.output_norm", "ffn.router", "ffn.experts", "ffn.shared_expert", "ffn.shared_gate",
               "attention.relative_bias", "ffn.plain_input", "attention.parallel_norm", "ffn.parallel_norm")
HEAD_ROLES = ("lm_head.transform", "lm_head.norm")
# Encoder-decoder stacks: the base model's attributes (`MODEL_ROLES` are then paths in each stack) and the
# cross-attention of each decoder block.
SEQ2SEQ_ROLES = ("embeddings.shared", "encoder", "decoder")
CROSS_ROLES = ("cross_attention.norm", "cross_attention.query", "cross_attention.key", "cross_attention.value",
               "cross_attention.output")
# Shared layer groups (`layer_sharing`): each group's list of blocks (one attribute of the group).
GROUP_ROLES = ("layer_group.layers",)
ALL_ROLES = MODEL_ROLES + BLOCK_ROLES + HEAD_ROLES + SEQ2SEQ_ROLES + CROSS_ROLES + GROUP_ROLES
# Encoder-decoder stacks: `decoder_block.<role>`, the decoder blocks' path of a block role when not the encoder
# blocks' (a feed-forward that is the encoder blocks' second sublayer and the decoder blocks' third).
DECODER_BLOCK_PREFIX = "decoder_block."
# The roles a transient-global variant's `names` adds (`attention.select.variants.<value>.names`): the norm of the
# global tokens' inputs and the first block's bias table of the relative block positions to the global tokens.
GLOBAL_ROLES = ("attention.global_norm", "attention.global_relative_bias")
LAYOUTS_FILE = "layouts.yaml"
# Attributes the generated block and base model (or main layer) set themselves: no role's module may take them.
_BLOCK_ATTRIBUTES = frozenset({"config", "layer_idx", "num_heads", "head_dim", "activation", "attention_dropout", "residual_dropout", "pruned_heads", "attention_output_dropout"})
# ... and those a blocked encoder block (`attention.select` of a names-layout encoder-decoder) sets besides.
_BLOCKED_ATTRIBUTES = frozenset({"block_len", "global_block_size", "scores_per_chunk"})
_MODEL_ATTRIBUTES = frozenset({"config", "dropout", "layerdrop", "embed_scale", "is_decoder", "relative_positions", "relative_positions_encoding"})
_HEAD_ATTRIBUTES = frozenset({"config", "activation", "dropout"})


def _load_presets(spec_dir: Path) -> tuple[dict[str, dict[str, str]], Any]:
    from .load import load_yaml

    path = spec_dir / LAYOUTS_FILE
    if not path.exists():
        return {}, None
    loaded = load_yaml(path)
    presets = (loaded.data or {}).get("presets", {})
    for name, entries in presets.items():
        for role, target in entries.items():
            if role not in ALL_ROLES:
                raise SpecError(path, f"unknown role {role!r} in preset {name!r}" + _suggest(role, list(ALL_ROLES)), line=loaded.line_of(["presets", name, role]), field=f"presets.{name}.{role}")
    return presets, loaded


def _tree(leaves: dict[str, Leaf], prefix: str, suffix_start: str) -> Container:
    """The container at `prefix` ("" for the root) of the leaves' module tree, its children in the leaves' order; a
    container's class suffix is `suffix_start` + its path in CamelCase."""
    children: list = []
    seen: set[str] = set()
    depth = len(prefix.split(".")) if prefix else 0
    for path, item in leaves.items():
        parts = path.split(".")
        if prefix and not path.startswith(prefix + "."):
            continue
        attr = parts[depth]
        if attr in seen:
            continue
        seen.add(attr)
        if len(parts) == depth + 1:
            children.append(item)
        else:
            children.append(_tree(leaves, ".".join(parts[: depth + 1]), suffix_start))
    suffix = suffix_start + "".join(p[:1].upper() + p[1:] for p in prefix.replace("_", ".").split(".") if p)
    # A module list: its items `0`, `1`, ... (checked contiguous and all containers by `_check_module_lists`).
    indexed = bool(children) and all(child.attr.isdigit() for child in children)
    if indexed:
        children.sort(key=lambda child: int(child.attr))
    return Container(prefix.split(".")[-1] if prefix else "", prefix, suffix, tuple(children), indexed)


def _access(path: str) -> str:
    """The Python attribute path of a module path whose segments `0`, `1`, ... are items of module lists
    (`layer.0.SelfAttention.q` -> `layer[0].SelfAttention.q`)."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", path)


def _check_module_lists(paths: dict[str, str], fail) -> None:
    """Segments `0`, `1`, ... of role paths (role -> path) are the items of a module list: never the first segment or
    a parameter-holding module itself, never beside named modules, numbered from 0 without gaps."""
    items: dict[str, set[int]] = {}
    named: dict[str, str] = {}
    for role, path in paths.items():
        parts = path.split(".")
        for depth, part in enumerate(parts):
            prefix = ".".join(parts[:depth])
            if part.isdigit():
                if depth == 0 or depth == len(parts) - 1:
                    raise fail(f"`{path}`: a number names an item of a module list inside the block (`<list>.<i>.<module>`), never {'the first module' if depth == 0 else 'a parameter-holding module'}: write a name", ["names", role])
                if part != str(int(part)):
                    raise fail(f"`{path}`: write the item number {int(part)} without leading zeros", ["names", role])
                items.setdefault(prefix, set()).add(int(part))
            else:
                named.setdefault(prefix, part)
    for prefix, numbers in items.items():
        if prefix in named:
            raise fail(f"`{prefix}` holds the module list items {sorted(numbers)} and the module `{named[prefix]}`: a module list holds numbered items only", ["names"])
        if sorted(numbers) != list(range(len(numbers))):
            raise fail(f"the module list `{prefix}` holds the items {sorted(numbers)}: number them 0, 1, ... without gaps", ["names"])


def _rotary_layers(spec: schema.ArchitectureSpec) -> Optional[tuple[str, str]]:
    """`position.layers`: (its config field, the Python literal of the entry of the rotating layers), or None (the
    position resolver refuses a field that is not a `list` of two choices)."""
    if not isinstance(spec.position, schema.RotaryPosition) or spec.position.layers is None:
        return None
    name = spec.config.attribute_map.get(spec.position.layers, spec.position.layers)
    field_ = next((f for f in spec.config.fields if f.name == name), None)
    if field_ is None or field_.type != "list" or len(field_.choices or ()) != 2:
        return None
    return name, repr(field_.choices[1])


def _resolve_names(loaded: LoadedYaml, spec: schema.ArchitectureSpec, fail, seq2seq: bool = False) -> Names:
    """Role -> path (the preset, then the spec's entries), checked and turned into the module trees."""
    written = dict(spec.names)
    roles: dict[str, str] = {}
    if "preset" in written:
        presets, _ = _load_presets(loaded.path.parent)
        preset = written.pop("preset")
        if preset not in presets:
            raise fail(f"unknown preset {preset!r} (specs/{LAYOUTS_FILE} has: {', '.join(sorted(presets)) or 'none'})", ["names", "preset"])
        roles.update(presets[preset])
    for role, target in written.items():
        if role not in ALL_ROLES and not (role.startswith(DECODER_BLOCK_PREFIX) and role[len(DECODER_BLOCK_PREFIX):] in BLOCK_ROLES):
            raise fail(f"unknown role {role!r}" + _suggest(role, list(ALL_ROLES)), ["names", role])
        try:
            # Numbers name the items of module lists (`layer.0.SelfAttention`, checked below).
            schema._dotted(".".join("item" if part.isdigit() else part for part in target.split(".")))
            # A module inside a container may be named `self` (`attention.self.query`): generated code reaches it
            # only as an attribute.
            for i, part in enumerate(target.split(".")):
                if not (i > 0 and part == "self") and not part.isdigit():
                    schema._not_reserved(part)
        except ValueError as exc:
            raise fail(str(exc), ["names", role]) from None
        roles[role] = target
    # The decoder blocks' own paths of block roles (`decoder_block.<role>`), checked once the roles are known.
    decoder_paths = {role[len(DECODER_BLOCK_PREFIX):]: roles.pop(role) for role in list(roles) if role.startswith(DECODER_BLOCK_PREFIX)}
    stack_bias = isinstance(spec.position, schema.BucketedBiasPosition) and spec.position.owner == "stack"
    rotary_table = spec.position.table if isinstance(spec.position, schema.RotaryPosition) else None
    # A gate that a boolean config field chooses (encoder-decoder stacks): then `ffn.gate` and `ffn.input` exist only
    # with it, `ffn.plain_input` only without it.
    gate_flag = spec.feed_forward.gated if seq2seq and isinstance(spec.feed_forward.gated, str) else None
    # A bucketed bias table in the blocks of an encoder-decoder: the first block's, or every block's.
    layer_bias = seq2seq and isinstance(spec.position, schema.BucketedBiasPosition) and spec.position.owner in ("first_layer", "every_layer")
    # A names-layout encoder's cross-attention module (its roles `cross_attention.*` are paths inside it).
    names_cross = spec.attention.cross_module if not seq2seq else None
    # A mixture of experts' shared expert (`feed_forward.experts.shared`).
    shared = spec.feed_forward.experts.shared if spec.feed_forward.experts is not None else None
    # A second parallel form with a norm for each sublayer, chosen by a config flag (`residual.split_norms`).
    split = spec.residual.split_norms if spec.residual is not None else None
    # Roles that exist only with a component: the embeddings' norm (`embeddings.norm`), the final norm of pre-norm
    # blocks, the modules of a names-layout LM head.
    conditional = {
        "embeddings.position": (spec.embeddings.position == "absolute", "`embeddings.position: absolute`"),
        "embeddings.norm": (spec.embeddings.norm, "`embeddings.norm: true`"),
        "embeddings.token_type": (spec.embeddings.token_type is True, "`embeddings.token_type: true`"),
        "embeddings.projection": (spec.embeddings.projection is not None, "`embeddings.projection` (factorized embeddings)"),
        "final_projection": (spec.embeddings.projection is not None and spec.stack == "decoder-only", "`embeddings.projection` (decoder-only stacks: the stack's output projected back to the embedding width)"),
        "layer_group.layers": (spec.layer_sharing is not None, "`layer_sharing` (shared layer groups)"),
        "ffn.gate": (spec.feed_forward.gated is True or gate_flag is not None, "`feed_forward.gated: true` (or a boolean config field, in names-layout encoder-decoder stacks)"),
        "ffn.plain_input": (gate_flag is not None, "`feed_forward.gated: <boolean config field>` (names-layout encoder-decoder stacks)"),
        "ffn.router": (spec.feed_forward.experts is not None, "`feed_forward.experts`"),
        "ffn.experts": (spec.feed_forward.experts is not None and spec.feed_forward.experts.layout == "list", "`feed_forward.experts` (with `layout: list`)"),
        "ffn.shared_expert": (shared is not None, "`feed_forward.experts.shared`"),
        "ffn.shared_gate": (shared is not None and shared.gate, "`feed_forward.experts.shared: {gate: true}`"),
        "attention.q_norm": (spec.attention.qk_norm is not False, "`attention.qk_norm: true` (or a config flag)"),
        "attention.k_norm": (spec.attention.qk_norm is not False, "`attention.qk_norm: true` (or a config flag)"),
        "ffn.norm": (spec.residual is None or not spec.residual.shared_norm or isinstance(spec.residual.parallel, str), "`residual.shared_norm: false` (a shared norm is `attention.norm`) or a config-chosen `parallel`"),
        "attention.parallel_norm": (split is not None, "`residual.split_norms`"),
        "ffn.parallel_norm": (split is not None, "`residual.split_norms`"),
        "final_norm": (spec.norm.placement in ("pre", "output", "sandwich"), "`norm.placement: pre` (or `output`, `sandwich`)"),
        "attention.output_norm": (spec.norm.placement == "sandwich", "`norm.placement: sandwich`"),
        "ffn.output_norm": (spec.norm.placement == "sandwich", "`norm.placement: sandwich`"),
        "position.bias": (stack_bias, "`position: {kind: bucketed_bias, owner: stack}`"),
        "position.table": (rotary_table is not None, "`position: {kind: rotary, table: saved | computed}`"),
        "attention.relative_bias": (layer_bias, "`position: {kind: bucketed_bias, owner: first_layer}` or `owner: every_layer` (names-layout encoder-decoder stacks)"),
        "lm_head.transform": (spec.lm_head is not None and spec.lm_head.layout == "names", "`lm_head.layout: names`"),
        "lm_head.norm": (spec.lm_head is not None and spec.lm_head.layout == "names", "`lm_head.layout: names`"),
        **{role: (seq2seq, "`stack: encoder-decoder`") for role in SEQ2SEQ_ROLES},
        # An encoder-decoder's decoder blocks, and the blocks of an encoder that doubles as a decoder with
        # cross-attention (`attention.cross_module`, built when `config.add_cross_attention`).
        **{role: (seq2seq or names_cross is not None, "`stack: encoder-decoder` or `attention.cross_module`") for role in CROSS_ROLES},
    }
    needed = [r for r in ALL_ROLES if conditional.get(r, (True, ""))[0]]
    if spec.norm.final_dropout and "final_norm" not in needed:
        raise fail("`final_dropout` drops out each stack's output after its final norm, which only pre-norm stacks have: write `norm.placement: pre` (then the `names` role `final_norm`) or remove `final_dropout`", ["norm", "final_dropout"])
    if spec.norm.hidden_states_before_final_norm and "final_norm" not in needed:
        raise fail("`hidden_states_before_final_norm` needs a final norm (`norm.placement: pre` or `output`, and the `names` role `final_norm`): remove it", ["norm", "hidden_states_before_final_norm"])
    for role, (present, condition) in conditional.items():
        if not present and role in roles:
            if role not in written:
                # A preset serves several specs: its roles that this spec's components do not render are left out.
                del roles[role]
                continue
            raise fail(f"the role `{role}` is rendered only with {condition}: remove it", ["names", role])
    missing = [r for r in needed if r not in roles]
    if missing:
        raise fail(f"`names` lacks the roles {', '.join(missing)}: give each a module path (or a `preset` that does)", ["names"])
    for role, path in decoder_paths.items():
        loc = ["names", DECODER_BLOCK_PREFIX + role]
        if not seq2seq:
            raise fail(f"`{DECODER_BLOCK_PREFIX}{role}` names a path of the decoder blocks of an encoder-decoder (`stack: encoder-decoder`): remove it", loc)
        if role not in needed:
            raise fail(f"the role `{role}` is not rendered by this spec's components, so neither is `{DECODER_BLOCK_PREFIX}{role}`: remove it", loc)
        if path == roles[role]:
            raise fail(f"`{path}` is the encoder blocks' path of `{role}` already: remove `{DECODER_BLOCK_PREFIX}{role}`", loc)
    # Each block role's path in the decoder blocks.
    decoder_roles = {r: decoder_paths.get(r, roles[r]) for r in needed if r in BLOCK_ROLES + CROSS_ROLES} if seq2seq else {}
    numbered = [r for r in needed if any(part.isdigit() for part in roles[r].split("."))] + [
        DECODER_BLOCK_PREFIX + r for r in decoder_paths if any(part.isdigit() for part in decoder_paths[r].split("."))]
    if numbered and not seq2seq:
        raise fail(f"`{roles[numbered[0]]}`: module lists (numbered items, `<list>.<i>.<module>`) are rendered only in the blocks of names-layout encoder-decoder stacks: write names", ["names", numbered[0]])
    if numbered and numbered[0] not in BLOCK_ROLES + CROSS_ROLES and not numbered[0].startswith(DECODER_BLOCK_PREFIX):
        raise fail(f"`{roles[numbered[0]]}`: module lists (numbered items) are rendered only inside the blocks (the roles `attention.*`, `cross_attention.*`, `ffn.*`): write names", ["names", numbered[0]])
    if numbered:
        # The encoder's blocks, then the decoder's (which add the cross-attention).
        _check_module_lists({r: roles[r] for r in needed if r in BLOCK_ROLES}, fail)
        _check_module_lists({(DECODER_BLOCK_PREFIX + r if r in decoder_paths else r): path for r, path in decoder_roles.items()}, fail)
    if "layer_group.layers" in needed:
        if "." in roles["layer_group.layers"]:
            raise fail(f"`{roles['layer_group.layers']}` is {len(roles['layer_group.layers'].split('.'))} modules deep: each layer group holds its list of blocks as one attribute (write a name without dots)", ["names", "layer_group.layers"])
        if spec.decoder is not None:
            raise fail("shared layer groups keep no key/value cache: remove `decoder` or `layer_sharing`", ["layer_sharing"])
        if isinstance(spec.position, schema.RotaryPosition) and spec.position.buffer is not None:
            raise fail("the saved rotary buffer of each block is rendered for a list of blocks, not of shared layer groups: remove `position.buffer` or `layer_sharing`", ["position", "buffer"])
    for role in HEAD_ROLES:
        if role in roles and "." in roles[role]:
            raise fail(f"`{roles[role]}` is {len(roles[role].split('.'))} modules deep: the head model holds `{role}` as one attribute (write a name without dots)", ["names", role])
    head_taken = _HEAD_ATTRIBUTES | {spec.base_model_prefix} | ({spec.lm_head.path.split(".")[0]} if spec.lm_head else set())
    for role in [r for r in SEQ2SEQ_ROLES if r in needed]:
        if "." in roles[role]:
            raise fail(f"`{roles[role]}` is {len(roles[role].split('.'))} modules deep: the base model holds `{role}` as one attribute (write a name without dots)", ["names", role])
    if seq2seq and "." in roles["layers"]:
        # The two stacks share their module tree's container classes, but each holds its own kind of block.
        raise fail(f"`{roles['layers']}` is {len(roles['layers'].split('.'))} modules deep: each stack of an encoder-decoder holds its blocks as one attribute (write a name without dots)", ["names", "layers"])
    if seq2seq and "position.bias" in needed and "." in roles["position.bias"]:
        # Each stack holds its own table (of its own heads) as one attribute.
        raise fail(f"`{roles['position.bias']}` is {len(roles['position.bias'].split('.'))} modules deep: each stack of an encoder-decoder holds its bias table as one attribute (write a name without dots)", ["names", "position.bias"])
    if seq2seq and len({roles[r] for r in SEQ2SEQ_ROLES}) != len(SEQ2SEQ_ROLES):
        raise fail("the roles `embeddings.shared`, `encoder` and `decoder` need three different names", ["names"])
    # The pooler's attribute (and a bare pooler's activation) in the base model.
    model_taken = _MODEL_ATTRIBUTES | ({spec.pooler.path} | ({"pooler_activation"} if spec.pooler.layout == "bare" else set()) if spec.pooler else set())
    for role in needed:
        taken = model_taken if role in MODEL_ROLES + SEQ2SEQ_ROLES else _BLOCK_ATTRIBUTES if role in BLOCK_ROLES + CROSS_ROLES else head_taken
        first = roles[role].split(".")[0]
        if first in taken:
            owner = "model" if role in MODEL_ROLES + SEQ2SEQ_ROLES else "block" if role in BLOCK_ROLES + CROSS_ROLES else "head model"
            raise fail(f"`{first}` is an attribute the generated {owner} uses itself: name the module otherwise", ["names", role])
    if len({roles[r] for r in HEAD_ROLES if r in roles}) != len([r for r in HEAD_ROLES if r in roles]):
        raise fail("the LM head's roles need two different names", ["names"])

    if seq2seq:
        for loc, value in ((["embeddings", "dropout"], spec.embeddings.dropout), (["feed_forward", "dropout"], spec.feed_forward.dropout)):
            if value is None:
                raise fail("encoder-decoder stacks apply this dropout: name its config field (`null` exists only in decoder-only and names-layout encoder stacks)", loc)
    att, ffn = spec.attention, spec.feed_forward
    q, k, v = roles["attention.query"], roles["attention.key"], roles["attention.value"]
    fused = q == k == v
    if not fused and len({q, k, v}) != 3:
        raise fail("q, k and v are one fused projection (one path for the three) or three projections (three paths)", ["names", "attention.key"])
    hidden = "config.hidden_size"
    ffn_size = f"config.{ffn.size}" if ffn.size_multiple is None else "feed_forward_size(config)" if ffn.size else f"{ffn.size_multiple} * config.hidden_size"
    head_dim = f"config.{att.head_dim}" if att.head_dim else "config.hidden_size // config.num_attention_heads"
    head_dim_field = next((f for f in spec.config.fields if f.name == spec.config.attribute_map.get(att.head_dim, att.head_dim)), None)
    if head_dim_field is not None and head_dim_field.optional and not head_dim_field.default_from:
        # An optional field the config keeps None (as transformers' does): None means hidden_size / heads, where read.
        head_dim = f"({head_dim} or config.hidden_size // config.num_attention_heads)"
    kv_heads = f"config.{att.kv_heads}" if att.kv_heads else None
    if att.kv_heads_when and att.kv_heads:
        # `kv_heads` only under its flag; else one key/value head per query head (or one with `multi_query`).
        other = f"(1 if config.{att.multi_query} else config.num_attention_heads)" if att.multi_query else "config.num_attention_heads"
        kv_heads = f"(config.{att.kv_heads} if config.{att.kv_heads_when} else {other})"
    elif att.multi_query:
        # One key/value head when the flag is set, else the grouped (or every query head's) count.
        kv_heads = f"(1 if config.{att.multi_query} else {kv_heads or 'config.num_attention_heads'})"
    # The number of heads the key/value cache holds: the key/value heads, or every query head when they are repeated
    # before the cache (`attention.cache_repeated`).
    if att.cache_repeated is True:
        cache_heads = "config.num_attention_heads"
    elif att.cache_repeated:
        # Under the flag of `kv_heads_when` too, the count without that flag.
        unflagged = other if att.kv_heads_when == att.cache_repeated and att.kv_heads else kv_heads
        cache_heads = f"(config.num_attention_heads if config.{att.cache_repeated} else {unflagged})"
    else:
        cache_heads = kv_heads
    if att.fused_order == "per_group" and fused and not kv_heads:
        raise fail("a fused q/k/v projection ordered `per_group` groups the query heads by the key/value head they share: name the count (`kv_heads`) or a multi-query flag (`multi_query`), or write `fused_order: per_head` (as many key/value heads as query heads)", ["attention", "fused_order"])
    if att.fused_order != "blocks" and not fused:
        raise fail(f"`fused_order: {att.fused_order}` orders the output of one fused q/k/v projection, and `names` gives query, key and value three paths: give `attention.query`, `attention.key` and `attention.value` one path, or remove `fused_order`", ["attention", "fused_order"])
    if att.fused_order == "sharded" and att.fused_shards is None:
        raise fail("a fused q/k/v projection ordered `sharded` needs its shard count: write `fused_shards: <number>`", ["attention", "fused_order"])
    if att.fused_shards is not None and att.fused_order != "sharded":
        raise fail("`fused_shards` counts the shards of a fused projection ordered `sharded`: write `fused_order: sharded`, or remove `fused_shards`", ["attention", "fused_shards"])
    if sorted(att.fused_parts) != ["key", "query", "value"]:
        raise fail("`fused_parts` orders the query, key and value parts: list each of `query`, `key`, `value` once", ["attention", "fused_parts"])
    if att.fused_parts != ["query", "key", "value"] and att.fused_order != "sharded":
        raise fail("`fused_parts` orders the parts of each shard of a fused projection ordered `sharded`: write `fused_order: sharded`, or remove `fused_parts`", ["attention", "fused_parts"])
    if fused and att.fused_order == "sharded" and (kv_heads or att.head_dim or att.multi_query):
        key = "kv_heads" if kv_heads else "head_dim" if att.head_dim else "multi_query"
        raise fail(f"a fused q/k/v projection ordered `sharded` holds as many key/value heads as query heads, each hidden_size / heads wide: write `fused_order: blocks`, or remove `attention.{key}`", ["attention", key])
    if fused and att.fused_order == "per_head" and (kv_heads or att.head_dim):
        key = "kv_heads" if kv_heads else "head_dim"
        raise fail(f"a fused q/k/v projection ordered `per_head` holds as many key/value heads as query heads, each hidden_size / heads wide: write `fused_order: blocks` ([q | k | v]), name three projections, or remove `attention.{key}`", ["attention", key])
    if fused and kv_heads and att.prunable:
        raise fail("`prune_heads` cannot prune a fused q/k/v projection with fewer key/value heads than query heads (nor can transformers' models of this layout): write `attention.prunable: false`", ["attention", "kv_heads"])
    # Projection widths: hidden_size unless heads are `head_dim` wide or key/value heads are fewer.
    query_size = f"config.num_attention_heads * {head_dim}" if att.head_dim or kv_heads else hidden
    kv_size = f"{kv_heads or 'config.num_attention_heads'} * {head_dim}" if att.head_dim or kv_heads else hidden
    norm_kind = spec.norm.kind
    norm_bias = spec.norm.bias
    output_bias = att.bias if att.output_bias is None else att.output_bias

    def add(leaves: dict[str, Leaf], role_list: tuple[str, ...], kind: str, in_size: str, out_size: str, bias: Union[bool, str], when: Optional[str] = None, unless: Optional[str] = None, expr: Optional[str] = None, count: Optional[str] = None) -> None:
        path = roles[role_list[0]]
        if path in leaves:
            raise fail(f"`{path}` is named by `{leaves[path].roles[0]}` and `{role_list[0]}`: give each module its own path", ["names", role_list[0]])
        leaves[path] = Leaf(path.split(".")[-1], path, kind, in_size, out_size, bias, role_list, when, unless, expr=expr, count=count)

    def nested(leaves: dict[str, Leaf]) -> None:
        for path, item in leaves.items():
            for other in leaves:
                if other.startswith(path + "."):
                    raise fail(f"`{path}` ({item.roles[0]}) holds parameters and cannot also contain `{other}`", ["names", item.roles[0]])

    model_leaves: dict[str, Leaf] = {}
    # The embeddings' width: hidden_size, or another config field with a projection to hidden_size.
    size_field = spec.config.attribute_map.get(spec.embeddings.size, spec.embeddings.size)
    projection = spec.embeddings.projection
    if projection is None and spec.embeddings.size != "hidden_size":
        raise fail(f"embeddings `{spec.embeddings.size}` wide reach hidden_size blocks through a projection: add `projection: {{when: always | sizes_differ}}` (and the `names` role `embeddings.projection`) or remove `size`", ["embeddings", "size"])
    width = hidden if spec.embeddings.size == "hidden_size" else f"config.{size_field}"
    add(model_leaves, ("embeddings.word",), "embedding", "config.vocab_size", width, False)
    if "embeddings.position" in needed:
        positions = "config.max_position_embeddings" + (f" + {spec.embeddings.position_offset}" if spec.embeddings.position_offset else "")
        # Decoder-only stacks project the word embeddings alone: their positions are hidden_size wide.
        # With `position.select`, the table exists only when the config field's value chooses absolute positions.
        select = spec.position.select if isinstance(spec.position, schema.RotaryPosition) else None
        absolute_only = f"config.{select.field} == {select.absolute!r}" if select is not None else None
        add(model_leaves, ("embeddings.position",), "embedding", positions, hidden if spec.stack == "decoder-only" else width, False, expr=absolute_only)
    if "embeddings.token_type" in needed:
        add(model_leaves, ("embeddings.token_type",), "embedding", "config.type_vocab_size", width, False)
    task_type_path = None
    if spec.embeddings.task_type is not None and not seq2seq:
        # The further token types' table: `path` next to the word embeddings (in their container), built only with
        # its flag.
        task = spec.embeddings.task_type
        parent = roles["embeddings.word"].rpartition(".")[0]
        task_type_path = f"{parent}.{task.path}" if parent else task.path
        taken_by = next((f"`{r}`" for r in needed if roles.get(r) == task_type_path or roles.get(r, "").startswith(task_type_path + ".")), None)
        if taken_by is None and not parent and task.path in model_taken:
            taken_by = "the generated model"
        if taken_by is not None:
            raise fail(f"`path` names the table's attribute next to the word embeddings, and `{task_type_path}` is {taken_by}'s: name it otherwise (e.g. `task_type_embeddings`)", ["embeddings", "task_type", "path"])
        model_leaves[task_type_path] = Leaf(task.path, task_type_path, "embedding", f"config.{task.size}", width, False, ("embeddings.task_type",), when=task.flag)
    if "embeddings.norm" in needed:
        # (Built only under its config flag, `embeddings.norm: <bool field>`.)
        add(model_leaves, ("embeddings.norm",), norm_kind, width, width, norm_bias, when=spec.embeddings.norm if isinstance(spec.embeddings.norm, str) else None)
    if projection is not None:
        if spec.lm_head is not None and spec.lm_head.layout == "names":
            raise fail("the `names` LM head maps hidden_size to the vocabulary through the word embeddings, which are `embeddings.size` wide here: write `lm_head.layout: flat` or `transform` (their `dense` maps hidden_size to the embeddings' width)", ["lm_head", "layout"])
        if spec.embeddings.size == "hidden_size":
            raise fail("the projection maps embeddings of another width to hidden_size: name their width's config field in `embeddings.size` (e.g. `embedding_size`) or remove `projection`", ["embeddings", "projection"])
        add(model_leaves, ("embeddings.projection",), "linear", width, hidden, projection.bias)
        if projection.when == "sizes_differ":
            leaf = model_leaves[roles["embeddings.projection"]]
            model_leaves[leaf.path] = Leaf(leaf.attr, leaf.path, leaf.kind, leaf.in_size, leaf.out_size, leaf.bias, leaf.roles, differs=size_field)
        if spec.stack == "decoder-only":
            for key, refused in (("norm", spec.embeddings.norm), ("token_type", spec.embeddings.token_type == "word")):
                if refused:
                    raise fail(f"a decoder-only stack projects the word embeddings alone to hidden_size, and `{key}` works on the embeddings after the positions are added: remove `{key}` or `projection`", ["embeddings", key])
    add(model_leaves, ("layers",), "layers", "", "", False)
    if "position.bias" in needed:
        # The bucketed relative bias the stack owns: a row of one bias per head for each bucket.
        add(model_leaves, ("position.bias",), "embedding", f"config.{spec.position.num_buckets}", "config.num_attention_heads", False)
    if "position.table" in needed:
        # The rotary positions' fixed sinusoidal table: a row of one head's width per position.
        add(model_leaves, ("position.table",), "rotary_table", "config.max_position_embeddings", head_dim, False)
    if "final_norm" in needed:
        add(model_leaves, ("final_norm",), norm_kind, hidden, hidden, norm_bias, when=spec.norm.pre_when, unless=spec.norm.final_unless)
    if "final_projection" in needed:
        # The stack's output projected back to the embedding width, built as the input projection is.
        add(model_leaves, ("final_projection",), "linear", hidden, width, projection.bias)
        if projection.when == "sizes_differ":
            leaf = model_leaves[roles["final_projection"]]
            model_leaves[leaf.path] = replace(leaf, differs=size_field)
    declared_ints = {f.name for f in spec.config.fields if f.type == "int" and not f.optional} | {
        alias for alias, target in spec.config.attribute_map.items() if any(f.name == target and f.type == "int" and not f.optional for f in spec.config.fields)
    }
    for i, entry in enumerate(spec.ignore_unexpected):
        try:
            re.compile(entry.pattern)
        except re.error as exc:
            raise fail(f"`pattern` is not a regular expression ({exc}): write one searched in each checkpoint name", ["ignore_unexpected", i, "pattern"])
    for i, held in enumerate(spec.held):
        # Linears the base model holds but never calls (their weights load and save).
        loc = ["held", i]
        if held.path.split(".")[0] in model_taken:
            raise fail(f"`{held.path.split('.')[0]}` is an attribute the generated model uses itself: name the module otherwise", loc + ["path"])
        if held.path in model_leaves:
            raise fail(f"`{held.path}` is named by `{model_leaves[held.path].roles[0]}` too: give each module its own path", loc + ["path"])
        sizes = []
        for j, factor in enumerate(held.in_features + [held.out_features]):
            if isinstance(factor, str):
                if factor not in declared_ints:
                    raise fail(f"{factor!r} is not an int config field: name one (or write an integer)", loc + (["in_features", j] if j < len(held.in_features) else ["out_features"]))
                sizes.append(f"config.{factor}")
            else:
                sizes.append(str(factor))
        model_leaves[held.path] = Leaf(held.path.split(".")[-1], held.path, "linear", " * ".join(sizes[:-1]), sizes[-1], held.bias, ("held",))
    nested(model_leaves)

    leaves: dict[str, Leaf] = {}
    # With `residual.split_norms`: two norms under its flag (unless its count is 1), else the one `attention.norm`.
    split_condition = f"config.{split.flag} and config.{split.count} != 1" if split is not None else None
    # Without `norm.first_attention_norm`, the first block's attention has no norm.
    attention_norm_expr = f"not ({split_condition})" if split is not None else None if spec.norm.first_attention_norm else "layer_idx != 0"
    add(leaves, ("attention.norm",), norm_kind, hidden, hidden, norm_bias, expr=attention_norm_expr)
    if split is not None:
        add(leaves, ("attention.parallel_norm",), norm_kind, hidden, hidden, norm_bias, expr=split_condition)
        add(leaves, ("ffn.parallel_norm",), norm_kind, hidden, hidden, norm_bias, expr=split_condition)
    if fused:
        # [q | k | v]: the queries', keys' and values' widths side by side.
        fused_size = f"3 * {hidden}" if not (att.head_dim or kv_heads) else f"{query_size} + 2 * {kv_size}"
        add(leaves, ("attention.query", "attention.key", "attention.value"), att.projection, hidden, fused_size, att.bias)
    else:
        add(leaves, ("attention.query",), att.projection, hidden, query_size, att.bias)
        for role in ("attention.key", "attention.value"):
            add(leaves, (role,), att.projection, hidden, kv_size, att.bias)
    add(leaves, ("attention.output",), att.projection, query_size, hidden, output_bias)
    if "attention.relative_bias" in needed:
        # The bucketed bias table of the self-attention: a row of one bias per head for each bucket, in the stack's
        # first block only (`owner: first_layer`) or in every block.
        add(leaves, ("attention.relative_bias",), "embedding", f"config.{spec.position.num_buckets}", "config.num_attention_heads", False)
        path = roles["attention.relative_bias"]
        leaves[path] = replace(leaves[path], first_layer=spec.position.owner == "first_layer")
    buffer = spec.position.buffer if isinstance(spec.position, schema.RotaryPosition) else None
    if buffer is not None:
        # The module holding each block's rotary inverse frequencies (a saved buffer, never read).
        if buffer.split(".")[0] in _BLOCK_ATTRIBUTES:
            raise fail(f"`{buffer.split('.')[0]}` is an attribute the generated block uses itself: name the module otherwise", ["position", "buffer"])
        if buffer in leaves:
            raise fail(f"`{buffer}` is named by `{leaves[buffer].roles[0]}` too: give the buffer's module its own path", ["position", "buffer"])
        # With `position.select`, only when the config field's value chooses the rotary positions.
        select = spec.position.select
        rotary_only = f"config.{select.field} == {select.value!r}" if select is not None else None
        leaves[buffer] = Leaf(buffer.split(".")[-1], buffer, "inv_freq", head_dim, "", False, ("position.buffer",), expr=rotary_only)
    if "attention.output_norm" in needed:
        add(leaves, ("attention.output_norm",), norm_kind, hidden, hidden, True)
    if att.qk_norm is not False:
        if att.qk_norm_scope == "all" and fused and att.fused_order != "blocks":
            raise fail(f"`qk_norm_scope: all` normalises every head's queries (and keys) together before the split into heads, and a fused q/k/v projection ordered `{att.fused_order}` interleaves them with the values: write `qk_norm_scope: head` or `fused_order: blocks`", ["attention", "qk_norm_scope"])
        # Norms over each head's width, one weight shared by the heads (query and key/value heads alike), or over the
        # whole projection's (a fused projection's queries and keys are hidden_size wide each).
        flag = att.qk_norm if isinstance(att.qk_norm, str) else None
        qk_bias = norm_bias if att.qk_norm_bias is None else att.qk_norm_bias
        if att.qk_norm_scope == "each_head":
            # One LayerNorm of each head's width per head: the query heads', the key/value heads'.
            for role, count in (("attention.q_norm", "config.num_attention_heads"), ("attention.k_norm", kv_heads or "config.num_attention_heads")):
                add(leaves, (role,), "head_layer_norm", head_dim, count, qk_bias, flag)
        else:
            for role, width in (("attention.q_norm", query_size), ("attention.k_norm", kv_size)):
                size = head_dim if att.qk_norm_scope == "head" else width
                add(leaves, (role,), norm_kind, size, size, qk_bias, flag)
    elif att.qk_norm_scope != "head":
        raise fail("`qk_norm_scope` sets the width of the norms of `qk_norm`, which this spec does not render: remove `qk_norm_scope` or add `qk_norm`", ["attention", "qk_norm_scope"])
    elif att.qk_norm_bias is not None:
        raise fail("`qk_norm_bias` sets the bias of the norms of `qk_norm`, which this spec does not render: remove `qk_norm_bias` or add `qk_norm`", ["attention", "qk_norm_bias"])
    if att.qk_norm_layout != "stacked" and att.qk_norm_scope != "each_head":
        raise fail("`qk_norm_layout` says how norms with a weight of each head's own hold them: write `qk_norm_scope: each_head` or remove `qk_norm_layout`", ["attention", "qk_norm_layout"])
    if att.qk_norm is not False and norm_kind == "rms_norm" and att.qk_norm_scope == "each_head":
        raise fail("norms with a weight of each head's own are LayerNorms: write `norm.kind: layer_norm` or another `qk_norm_scope`", ["attention", "qk_norm_scope"])
    if att.qk_norm is not False and norm_kind == "rms_norm" and att.qk_norm_bias is not None:
        raise fail("RMSNorms have no bias: remove `qk_norm_bias` (or write `norm.kind: layer_norm`)", ["attention", "qk_norm_bias"])
    if "ffn.norm" in needed:
        # With one norm shared in the parallel form, the sequential form's second norm exists only without it.
        shared_unless = spec.residual.parallel if spec.residual is not None and spec.residual.shared_norm else None
        if split is not None and shared_unless:
            # Sequential only when neither the parallel flag nor the split norms' flag is set.
            add(leaves, ("ffn.norm",), norm_kind, hidden, hidden, norm_bias, expr=f"not (config.{shared_unless} or config.{split.flag})")
        else:
            add(leaves, ("ffn.norm",), norm_kind, hidden, hidden, norm_bias, unless=shared_unless)
    fused_gate = "ffn.gate" in needed and roles["ffn.gate"] == roles["ffn.input"]
    if ffn.fused_order != "gate_input" and not fused_gate:
        raise fail("`fused_order` orders the halves of one projection computing the gate and the input: give `ffn.gate` and `ffn.input` one path, or remove `fused_order`", ["feed_forward", "fused_order"])
    if fused_gate and gate_flag:
        raise fail("a gate chosen by a config field is a projection of its own: give `ffn.gate` and `ffn.input` two paths", ["names", "ffn.input"])
    expert = shared_expert = dense = dense_path = sparse = None
    if ffn.experts is not None and ffn.experts.layout == "stacked":
        # A sparse mixture of experts whose projections each hold every expert's matrix, `[count, out, in]`: the
        # router, then the projections (block paths, as without experts).
        count = f"config.{ffn.experts.count}"
        if ffn.bias is not False:
            raise fail("stacked experts' projections hold no bias: write `bias: false`, or `experts.layout: list`", ["feed_forward", "bias"])
        if shared is not None:
            raise fail("a shared expert is rendered with a list of experts: remove `shared`, or write `layout: list`", ["feed_forward", "experts", "shared"])
        if ffn.experts.dense is not None:
            raise fail("dense layers are rendered with a list of experts: remove `dense`, or write `layout: list`", ["feed_forward", "experts", "dense"])
        if fused_gate and ffn.fused_order != "gate_input":
            raise fail("stacked experts' fused projection is ordered [gate | input]: remove `fused_order`", ["feed_forward", "fused_order"])
        if ffn.projection != "linear":
            raise fail("stacked experts' matrices are [experts, out, in]: remove `projection` (or write `experts.layout: list`)", ["feed_forward", "projection"])
        add(leaves, ("ffn.router",), "linear", hidden, count, False)
        if fused_gate:
            add(leaves, ("ffn.gate", "ffn.input"), "stacked", hidden, f"2 * {ffn_size}", False, count=count)
        else:
            if "ffn.gate" in needed:
                add(leaves, ("ffn.gate",), "stacked", hidden, ffn_size, False, count=count)
            add(leaves, ("ffn.input",), "stacked", hidden, ffn_size, False, count=count)
        add(leaves, ("ffn.output",), "stacked", ffn_size, hidden, False, count=count)
    elif ffn.experts is not None:
        # A sparse mixture of experts: the router, then the list of experts, each holding the feed-forward's
        # projections (`ffn.gate`, `ffn.input`, `ffn.output`: paths inside each expert).
        if fused_gate:
            raise fail("the experts' gate and input are two projections (a fused [gate | input] projection is rendered only without `feed_forward.experts`, or with `experts.layout: stacked`): give `ffn.gate` and `ffn.input` two paths", ["names", "ffn.input"])
        for role in ("ffn.gate", "ffn.input", "ffn.output"):
            if role in needed and "." in roles[role]:
                raise fail(f"`{roles[role]}` is {len(roles[role].split('.'))} modules deep: with `feed_forward.experts` each expert holds `{role}` as one attribute (write a name without dots)", ["names", role])
        count = f"config.{ffn.experts.count}"
        add(leaves, ("ffn.router",), "linear", hidden, count, False)
        add(leaves, ("ffn.experts",), "experts", count, "", False)
        expert_leaves: dict[str, Leaf] = {}
        if "ffn.gate" in needed:
            add(expert_leaves, ("ffn.gate",), ffn.projection, hidden, ffn_size, ffn.bias)
        add(expert_leaves, ("ffn.input",), ffn.projection, hidden, ffn_size, ffn.bias)
        add(expert_leaves, ("ffn.output",), ffn.projection, ffn_size, hidden, ffn.bias)
        expert = _tree(expert_leaves, "", "Expert")
        if shared is not None:
            # The shared expert: the experts' projections at its own width, in one module; its optional gate.
            add(leaves, ("ffn.shared_expert",), "shared_expert", f"config.{shared.size}", "", False)
            if shared.gate:
                add(leaves, ("ffn.shared_gate",), "linear", hidden, "1", False)
            shared_size = f"config.{shared.size}"
            shared_leaves: dict[str, Leaf] = {}
            for path, leaf in expert_leaves.items():
                in_size = shared_size if leaf.roles[0] == "ffn.output" else leaf.in_size
                out_size = shared_size if leaf.roles[0] != "ffn.output" else leaf.out_size
                shared_leaves[path] = Leaf(leaf.attr, path, leaf.kind, in_size, out_size, leaf.bias, leaf.roles)
            shared_expert = _tree(shared_leaves, "", "SharedExpert")
        if ffn.experts.dense is not None:
            # The dense layers' feed-forward: the experts' projections at its own width, held where the router's
            # container is in the other layers.
            spec_dense = ffn.experts.dense
            if "." not in roles["ffn.router"]:
                raise fail(f"the dense layers' feed-forward takes the place of the module holding the router: give `ffn.router` a path inside one (e.g. `mlp.{roles['ffn.router']}`)", ["names", "ffn.router"])
            dense_path = roles["ffn.router"].rsplit(".", 1)[0]
            if "." in dense_path:
                raise fail(f"the dense layers' feed-forward replaces a module of the block: give `ffn.router` a path one module deep (e.g. `{dense_path.split('.')[-1]}.{roles['ffn.router'].rsplit('.', 1)[-1]}`), not inside `{dense_path}`", ["names", "ffn.router"])
            for role in ("ffn.experts", "ffn.shared_expert", "ffn.shared_gate"):
                if role in needed and not roles[role].startswith(dense_path + "."):
                    raise fail(f"the dense layers build `{dense_path}` in place of the router's module and everything in it: put `{role}` inside `{dense_path}` too", ["names", role])
            dense_size = f"config.{spec_dense.size}"
            dense_leaves: dict[str, Leaf] = {}
            for path, leaf in expert_leaves.items():
                in_size = dense_size if leaf.roles[0] == "ffn.output" else leaf.in_size
                out_size = dense_size if leaf.roles[0] != "ffn.output" else leaf.out_size
                dense_leaves[path] = Leaf(leaf.attr, path, leaf.kind, in_size, out_size, leaf.bias, leaf.roles)
            dense = _tree(dense_leaves, "", "DenseFeedForward")
            conditions = []
            if spec_dense.layers is not None:
                conditions.append(f"layer_idx not in (config.{spec_dense.layers} or ())")
            if spec_dense.step is not None:
                conditions.append(f"(layer_idx + 1) % config.{spec_dense.step} == 0")
            if not conditions:
                raise fail("say which layers are dense: give `layers` (a list config field of their indices) and/or `step` (an int config field: the period of the layers with experts)", ["feed_forward", "experts", "dense"])
            sparse = " and ".join(conditions)
    elif fused_gate:
        # One projection computes the gate and the input side by side: [gate | input].
        add(leaves, ("ffn.gate", "ffn.input"), ffn.projection, hidden, f"2 * {ffn_size}", ffn.bias)
    else:
        if "ffn.gate" in needed:
            add(leaves, ("ffn.gate",), ffn.projection, hidden, ffn_size, ffn.bias, when=gate_flag)
        add(leaves, ("ffn.input",), ffn.projection, hidden, ffn_size, ffn.bias, when=gate_flag)
        if gate_flag:
            # The input projection of the feed-forward without gate.
            add(leaves, ("ffn.plain_input",), ffn.projection, hidden, ffn_size, ffn.bias, unless=gate_flag)
    if ffn.experts is None:
        add(leaves, ("ffn.output",), ffn.projection, ffn_size, hidden, ffn.bias)
    if "ffn.output_norm" in needed:
        add(leaves, ("ffn.output_norm",), norm_kind, hidden, hidden, True)
    if names_cross is not None:
        # The cross-attention of an encoder that doubles as a decoder: built only with `config.add_cross_attention`.
        for role in CROSS_ROLES:
            if not roles[role].startswith(names_cross + "."):
                raise fail(f"the cross-attention's modules are inside `{names_cross}` (`attention.cross_module`): write `{role}: {names_cross}.<path>`", ["names", role])
        if fused:
            raise fail("a block with a cross-attention is rendered with three self-attention projections (a fused q/k/v projection exists only without `attention.cross_module`): give `attention.query`, `attention.key` and `attention.value` three paths", ["names", "attention.key"])
        if len({roles[r] for r in CROSS_ROLES}) != len(CROSS_ROLES):
            raise fail("the cross-attention's norm, q, k, v and output are five modules (five paths)", ["names", "cross_attention.key"])
        add(leaves, ("cross_attention.norm",), norm_kind, hidden, hidden, norm_bias, when="add_cross_attention")
        for role in ("cross_attention.query", "cross_attention.key", "cross_attention.value"):
            add(leaves, (role,), att.projection, hidden, hidden, att.bias, when="add_cross_attention")
        add(leaves, ("cross_attention.output",), att.projection, hidden, hidden, output_bias, when="add_cross_attention")
    nested(leaves)

    encoder_variants = []
    if seq2seq and att.select is not None:
        # The encoder blocks of each blocked variant: the encoder block's modules, the variant's paths of its roles.
        for value, choice in att.select.variants.items():
            loc = ["attention", "select", "variants", value, "names"]
            overrides = dict(choice.names or {})
            tg = choice.variant == "transient_global"
            for role, path in overrides.items():
                if role in GLOBAL_ROLES and not tg:
                    raise fail(f"the role `{role}` is rendered only in the `transient_global` variant: remove it", loc + [role])
                if role not in GLOBAL_ROLES and (role not in BLOCK_ROLES or role not in needed):
                    raise fail(f"`{role}` is not a block role this spec renders (the encoder blocks' roles: {', '.join(r for r in BLOCK_ROLES if r in needed)}{', ' + ', '.join(GLOBAL_ROLES) if tg else ''})", loc + [role])
                try:
                    schema._dotted(".".join("item" if part.isdigit() else part for part in path.split(".")))
                    for part in path.split("."):
                        if not part.isdigit():
                            schema._not_reserved(part)
                except ValueError as exc:
                    raise fail(str(exc), loc + [role]) from None
                if path.split(".")[0] in _BLOCK_ATTRIBUTES | _BLOCKED_ATTRIBUTES:
                    raise fail(f"`{path.split('.')[0]}` is an attribute the generated block uses itself: name the module otherwise", loc + [role])
            if tg:
                missing_global = [r for r in GLOBAL_ROLES if r not in overrides]
                if missing_global:
                    raise fail(f"the transient-global variant needs the roles {', '.join(missing_global)}: give each a module path", loc)
            variant_leaves: dict[str, Leaf] = {}
            for path, leaf in leaves.items():
                moved = {overrides[r] for r in leaf.roles if r in overrides}
                if moved:
                    path = moved.pop()
                    leaf = replace(leaf, attr=path.split(".")[-1], path=path)
                if path in variant_leaves:
                    raise fail(f"`{path}` is named by `{variant_leaves[path].roles[0]}` and `{leaf.roles[0]}` in the `{value}` encoder blocks: give each module its own path", loc)
                variant_leaves[path] = leaf
            if tg:
                for role, kind, in_size, out_size, bias in (
                    ("attention.global_norm", norm_kind, hidden, hidden, norm_bias),
                    ("attention.global_relative_bias", "embedding", f"config.{spec.position.num_buckets}", "config.num_attention_heads", False),
                ):
                    path = overrides[role]
                    if path in variant_leaves:
                        raise fail(f"`{path}` is named by `{variant_leaves[path].roles[0]}` and `{role}`: give each module its own path", loc + [role])
                    variant_leaves[path] = Leaf(path.split(".")[-1], path, kind, in_size, out_size, bias, (role,), first_layer=role == "attention.global_relative_bias")
            nested(variant_leaves)
            numbered_paths = {r: p for r, p in {**{r: roles[r] for r in needed if r in BLOCK_ROLES}, **overrides}.items() if any(part.isdigit() for part in p.split("."))}
            if numbered_paths:
                _check_module_lists(numbered_paths, fail)
            suffix = "".join(part.capitalize() for part in choice.variant.split("_")) + "EncoderLayer"
            variant_roles = {r: _access(overrides.get(r, roles[r])) for r in BLOCK_ROLES if r in needed}
            variant_roles.update({r: _access(overrides[r]) for r in GLOBAL_ROLES if r in overrides})
            encoder_variants.append(EncoderVariant(value, choice.variant, _tree(variant_leaves, "", suffix), variant_roles, suffix))

    decoder_block = decoder_ffn_size = None
    if seq2seq:
        # A decoder block: the encoder block's roles at the decoder's feed-forward width, and the cross-attention.
        q, k, v = roles["cross_attention.query"], roles["cross_attention.key"], roles["cross_attention.value"]
        if len({q, k, v}) != 3:
            raise fail("the cross-attention's q, k and v are three projections (three paths)", ["names", "cross_attention.key"])
        if fused:
            raise fail("the self-attention's q, k and v are three projections in encoder-decoder stacks (a fused q/k/v projection exists only in decoder-only and names-layout encoder stacks): give `attention.query`, `attention.key` and `attention.value` three paths", ["names", "attention.key"])
        decoder_ffn_size = f"config.{spec.decoder.ffn_size}"
        # Heads of a configured width (`attention.head_dim`): the decoder's projections are its heads times that wide.
        decoder_width = f"config.{spec.decoder.heads} * {head_dim}" if att.head_dim else hidden
        decoder_leaves: dict[str, Leaf] = {}
        for path, leaf in leaves.items():
            moved = {decoder_paths[r] for r in leaf.roles if r in decoder_paths}
            if moved:
                if len(moved) > 1 or len([r for r in leaf.roles if r in decoder_paths]) != len(leaf.roles):
                    raise fail(f"`{path}` is one module for the roles {', '.join(leaf.roles)}: give each `{DECODER_BLOCK_PREFIX}<role>` of them one path", ["names", DECODER_BLOCK_PREFIX + leaf.roles[0]])
                path = moved.pop()
                leaf = replace(leaf, attr=path.split(".")[-1], path=path)
            if leaf.roles[0] == "attention.relative_bias":
                # The decoder's table: one bias per decoder head.
                leaf = replace(leaf, out_size=f"config.{spec.decoder.heads}")
            elif leaf.roles[0] in ("attention.query", "attention.key", "attention.value"):
                leaf = replace(leaf, path=path, in_size=hidden, out_size=decoder_width)
            elif leaf.roles[0] == "attention.output":
                leaf = replace(leaf, path=path, in_size=decoder_width, out_size=hidden)
            elif leaf.roles[0] in ("ffn.input", "ffn.gate", "ffn.plain_input"):
                width = f"2 * {decoder_ffn_size}" if fused_gate else decoder_ffn_size
                leaf = replace(leaf, path=path, in_size=hidden, out_size=width)
            elif leaf.roles[0] == "ffn.output":
                leaf = replace(leaf, path=path, in_size=decoder_ffn_size, out_size=hidden)
            if path in decoder_leaves:
                raise fail(f"`{path}` is named by `{decoder_leaves[path].roles[0]}` and `{leaf.roles[0]}` in the decoder blocks: give each module its own path", ["names", DECODER_BLOCK_PREFIX + leaf.roles[0]])
            decoder_leaves[path] = leaf
        add(decoder_leaves, ("cross_attention.norm",), norm_kind, hidden, hidden, norm_bias)
        for role in ("cross_attention.query", "cross_attention.key", "cross_attention.value"):
            add(decoder_leaves, (role,), att.projection, hidden, decoder_width, att.bias)
        add(decoder_leaves, ("cross_attention.output",), att.projection, decoder_width, hidden, output_bias)
        nested(decoder_leaves)
        decoder_block = _tree(decoder_leaves, "", "DecoderLayer")

    model = _tree(model_leaves, "", "")
    block = _tree(leaves, "", "EncoderLayer" if seq2seq else "Block")
    suffixes = [c.suffix for c in block.containers() + model.containers()] + ["Block"] + (["Expert"] if expert else []) + (["SharedExpert"] if shared_expert else [])
    if decoder_block is not None:
        suffixes += [c.suffix for c in decoder_block.containers()] + ["EncoderLayer", "DecoderLayer", "Encoder", "Decoder"]
    for ev in encoder_variants:
        suffixes += [c.suffix for c in ev.block.containers()] + [ev.suffix]
    if len(set(suffixes)) != len(suffixes):
        raise fail("two containers of `names` would get one class name: rename one path", ["names"])
    return Names(
        word_embeddings=roles["embeddings.word"],
        position_embeddings=roles.get("embeddings.position") if "embeddings.position" in needed else None,
        layers=roles["layers"],
        final_norm=roles.get("final_norm") if "final_norm" in needed else None,
        final_projection=roles.get("final_projection") if "final_projection" in needed else None,
        position_bias=roles.get("position.bias") if "position.bias" in needed else None,
        rotary_buffer=buffer,
        position_select=(
            (spec.config.attribute_map.get(spec.position.select.field, spec.position.select.field), spec.position.select.value, spec.position.select.absolute)
            if isinstance(spec.position, schema.RotaryPosition) and spec.position.select is not None
            else None
        ),
        embeddings_norm_flag=spec.config.attribute_map.get(spec.embeddings.norm, spec.embeddings.norm) if isinstance(spec.embeddings.norm, str) else None,
        rotary_table=roles["position.table"] if "position.table" in needed else None,
        rotary_table_saved=rotary_table == "saved",
        rotary_value=spec.config.attribute_map.get(spec.position.rotary_value, spec.position.rotary_value) if isinstance(spec.position, schema.RotaryPosition) and spec.position.rotary_value else None,
        held=tuple(model_leaves[h.path] for h in spec.held),
        projection=roles["embeddings.projection"] if projection is not None else None,
        sharing=(
            (spec.config.attribute_map.get(spec.layer_sharing.groups, spec.layer_sharing.groups),
             spec.config.attribute_map.get(spec.layer_sharing.inner, spec.layer_sharing.inner), roles["layer_group.layers"])
            if spec.layer_sharing is not None
            else None
        ),
        projection_differs=size_field if projection is not None and projection.when == "sizes_differ" else None,
        embeddings_norm=roles.get("embeddings.norm") if "embeddings.norm" in needed else None,
        token_type_embeddings=roles.get("embeddings.token_type") if "embeddings.token_type" in needed else None,
        task_type_embeddings=task_type_path,
        model=model,
        block=block,
        lm_transform=roles["lm_head.transform"] if "lm_head.transform" in needed else None,
        lm_norm=roles["lm_head.norm"] if "lm_head.norm" in needed else None,
        # As the generated code reaches them (module list items indexed).
        roles={r: _access(roles[r]) for r in BLOCK_ROLES + (CROSS_ROLES if seq2seq or names_cross is not None else ()) if r in needed},
        fused_qkv=fused,
        fused_order=att.fused_order,
        fused_shards=att.fused_shards,
        fused_parts=tuple(att.fused_parts),
        parallel_residual=spec.residual.parallel if spec.residual is not None else False,
        ffn_size=ffn_size,
        head_dim=head_dim,
        kv_heads=kv_heads,
        cache_heads=cache_heads,
        cache_repeated=att.cache_repeated,
        split_flag=split.flag if split is not None else None,
        split_count=split.count if split is not None else None,
        dropout_sum=spec.residual is not None and spec.residual.dropout_sum,
        gate=_access(roles["ffn.gate"]) if "ffn.gate" in needed else None,
        fused_gate=fused_gate,
        rotary_theta=(
            (f"config.{spec.position.theta}" if isinstance(spec.position.theta, str) else repr(float(spec.position.theta)))
            if isinstance(spec.position, schema.RotaryPosition) and spec.position.theta is not None
            else None
        ),
        rotary_fraction=spec.position.fraction if isinstance(spec.position, schema.RotaryPosition) else None,
        rotary_dims=spec.position.dims if isinstance(spec.position, schema.RotaryPosition) else None,
        rotary_interleaved=isinstance(spec.position, schema.RotaryPosition) and spec.position.pairing == "interleaved",
        rotary_thetas=(
            {kind: _theta_by_kind(spec, name) for kind, name in spec.position.theta_by_layer_type.items()}
            if isinstance(spec.position, schema.RotaryPosition)
            else {}
        ),
        rotary_original_context=(
            "original_max_position_embeddings"
            if isinstance(spec.position, schema.RotaryPosition) and spec.position.scaling is not None
            and any(f.name == "original_max_position_embeddings" for f in spec.config.fields)
            else None
        ),
        rotary_scaling_types=(
            tuple(spec.position.scaling_types) if isinstance(spec.position, schema.RotaryPosition) else ()
        ),
        rotary_unscaled=(
            tuple(spec.position.unscaled_layer_types) if isinstance(spec.position, schema.RotaryPosition) else ()
        ),
        rotary_layers=_rotary_layers(spec),
        rotary_scaling=(
            spec.config.attribute_map.get(spec.position.scaling, spec.position.scaling)
            if isinstance(spec.position, schema.RotaryPosition) and spec.position.scaling is not None
            else None
        ),
        shared_norm=spec.residual is not None and spec.residual.shared_norm,
        residual_multiplier=spec.residual.multiplier if spec.residual is not None else None,
        residual_from_norm=spec.residual.from_norm if spec.residual is not None else False,
        activation=f"config.{spec.feed_forward.activation}" if spec.feed_forward.activation else repr(spec.feed_forward.activation_name),
        alibi=spec.position.count if isinstance(spec.position, schema.AlibiPosition) else None,
        alibi_switch=spec.position.alibi if isinstance(spec.position, schema.RotaryPosition) else None,
        qk_norm=att.qk_norm,
        qk_norm_scope=att.qk_norm_scope,
        qk_norm_layout=att.qk_norm_layout,
        shared=roles["embeddings.shared"] if seq2seq else None,
        encoder=roles["encoder"] if seq2seq else None,
        decoder=roles["decoder"] if seq2seq else None,
        decoder_block=decoder_block,
        layer_bias=spec.position.owner if layer_bias else None,
        gate_flag=gate_flag,
        decoder_roles={r: _access(path) for r, path in decoder_roles.items()} if seq2seq else None,
        decoder_gate=_access(decoder_roles["ffn.gate"]) if seq2seq and "ffn.gate" in decoder_roles else None,
        decoder_ffn_size=decoder_ffn_size,
        encoder_variants=tuple(encoder_variants),
        expert=expert,
        shared_expert=shared_expert,
        dense=dense,
        dense_path=dense_path,
        sparse=sparse,
    )


@dataclass
class _Context:
    """What every component resolver reads: the validated spec, its stack kind, its config fields, and the two ways
    to fail (an error at a spec location, a config field that must exist)."""

    loaded: LoadedYaml
    spec: schema.ArchitectureSpec
    fields: dict[str, schema.ConfigFieldSpec]
    known: set[str]
    stack: str = support.ENCODER

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def seq2seq(self) -> bool:
        return self.stack == support.ENCODER_DECODER

    @property
    def decoder_only(self) -> bool:
        return self.stack == support.DECODER_ONLY

    @property
    def rule_kind(self) -> str:
        return support.rule_kind(self.spec, self.stack)

    def fail(self, message: str, loc: list) -> SpecError:
        return SpecError(self.path, message, line=self.loaded.line_of(loc), field=".".join(str(p) for p in loc))

    def need_field(self, name: Optional[str], loc: list, *, numeric: bool = False) -> None:
        """`name` (when given) is a config field the spec declares, maps or derives, or one every config has."""
        if name is None:
            return
        if name not in self.known:
            if ".".join(str(p) for p in loc) not in self.loaded.lines:
                raise self.fail(self._implicit_default(name, loc), loc)
            if "." in name:
                # `<field>.<sub-field>`: a field of a sub-configuration.
                owner, sub = name.split(".")
                subs = sorted(known.split(".")[1] for known in self.known if known.startswith(f"{owner}."))
                if not subs:
                    raise self.fail(f"{owner!r} is not a sub-configuration (a config field of `type: config`): name a config field, or `<sub-configuration>.<its field>`", loc)
                raise self.fail(f"{sub!r} is not a field of the sub-configuration {owner!r} (under its `fields`)" + _suggest(sub, subs), loc)
            raise self.fail(f"config field {name!r} is not declared under `config.fields`" + _suggest(name, sorted(self.known)), loc)

    def field(self, name: str) -> Optional[Any]:
        """The declared config field `name` (through `attribute_map`), or None."""
        return self.fields.get(self.spec.config.attribute_map.get(name, name))

    def typed_field(self, name: str, loc: list, kind: str) -> Optional[Any]:
        """`need_field(name, loc)`, then the declared field `name` (through `attribute_map`) when its type is not
        `kind` (the caller words the error), else None."""
        self.need_field(name, loc)
        declared = self.field(name)
        return declared if declared is not None and declared.type != kind else None

    def _implicit_default(self, name: str, loc: list) -> str:
        """The message for an unwritten key whose default names config field `name`, which the spec lacks: the
        default, then what may be written instead (a number, where the key takes one)."""
        key = str(loc[-1])
        node: Any = self.spec
        for part in loc[:-1]:
            node = getattr(node, str(part), None)
        annotation = type(node).model_fields[key].annotation if isinstance(node, schema.BaseModel) and key in type(node).model_fields else None
        kinds = set(get_args(annotation)) | {annotation}
        number = f" or a number (e.g. `{key}: 1.0e-5`)" if float in kinds else f" or a number (`{key}: <int>`)" if int in kinds else ""
        return (f"`{key}` is not written, so it defaults to the config field {name!r}, which is not declared under "
                f"`config.fields`: write `{key}:` with a declared config field{number}, or declare {name!r}")

    def default_of(self, name: str) -> Any:
        """The default of config field `name` (through `attribute_map` and `default_from`)."""
        spec, fields = self.spec, self.fields
        name = spec.config.attribute_map.get(name, name)
        f = fields[name]
        if f.default is None and f.default_from and " * " in f.default_from:
            part, factor = f.default_from.split(" * ")
            value = self.default_of(part)
            return value * int(factor) if isinstance(value, int) else None
        if f.default is None and f.default_from and " // " in f.default_from:
            numerator, denominator = (self.default_of(part) for part in f.default_from.split(" // "))
            return numerator // denominator if isinstance(numerator, int) and isinstance(denominator, int) and denominator else None
        if f.default is None and f.default_from:
            return self.default_of(f.default_from)
        return f.default


def _value_fits(field, value) -> bool:
    """Whether a config field accepts `value` (its type, optional null, its `choices`)."""
    if value is None:
        return field.optional
    return schema._has_type(value, field.type) and (field.choices is None or value in field.choices)


def _resolve_config(c: _Context) -> None:
    """The config section: the derived activation attributes, `default_from` and `attribute_map` targets; then the
    stack kind (`c.stack`) and the fields every stack of that kind reads."""
    spec, fields, known, loaded, path, fail, need_field = c.spec, c.fields, c.known, c.loaded, c.path, c.fail, c.need_field
    act = spec.config.activation_spec
    if act is not None:
        if act.field not in fields:
            raise SpecError(path, f"config field {act.field!r} is not declared under `config.fields`", line=loaded.line_of(["config", "activation_spec", "field"]), field="config.activation_spec.field")
        for loc_name in ("activation", "gated"):
            derived = getattr(act, loc_name)
            if derived in fields:
                raise SpecError(path, f"{derived!r} is derived from {act.field!r}; it cannot also be a config field", line=loaded.line_of(["config", "activation_spec", loc_name]), field=f"config.activation_spec.{loc_name}")
            known.add(derived)

    # The configuration's own derivations read its top-level fields: a sub-configuration builds apart.
    top_level = [(["config", "fields", i, key], getattr(f, key)) for i, f in enumerate(spec.config.fields) for key in ("default_from", "none_unless", "default_repeat", "default_period")]
    top_level += [(["config", "fields", i, key, part], getattr(getattr(f, key), part)) for i, f in enumerate(spec.config.fields) for key, parts in (("default_tail", ("start", "when")), ("default_expand", ("pairs", "length")), ("default_match", ("source", "flag", "when"))) if getattr(f, key) is not None for part in parts]
    top_level += [(["config", "refuse", i, "when", name], name) for i, refused in enumerate(spec.config.refuse) for name in refused.when]
    top_level += [(["config", "activation_spec", key], getattr(act, key)) for key in ("field", "activation", "gated")] if act is not None else []
    for loc, name in top_level:
        if isinstance(name, str) and "." in name:
            raise fail(f"{name!r} is a field of a sub-configuration: the configuration's own defaults, refusals and activation read its top-level fields (a sub-configuration's values are checked by its own `choices`, `unsupported` and `minimum`)", loc)
    for i, f in enumerate(spec.config.fields):
        for part in (f.default_from.split(" * ")[0].split(" // ") if f.default_from else []):
            need_field(part, ["config", "fields", i, "default_from"])
        if f.default_repeat is not None:
            need_field(f.default_repeat, ["config", "fields", i, "default_repeat"])
        if isinstance(f.default_period, str):
            need_field(f.default_period, ["config", "fields", i, "default_period"])
        if f.default_tail is not None:
            if isinstance(f.default_tail.start, str):
                need_field(f.default_tail.start, ["config", "fields", i, "default_tail", "start"])
            when = spec.config.attribute_map.get(f.default_tail.when, f.default_tail.when)
            if when not in [g.name for g in spec.config.fields[:i]]:
                raise fail(f"`when` names {f.default_tail.when!r}, which is not a config field declared before {f.name!r} (the derived default reads the value the configuration keeps): declare it before {f.name!r} or name one declared before", ["config", "fields", i, "default_tail", "when"])
        if f.default_match is not None:
            before = {g.name: g for g in spec.config.fields[:i]}
            m = f.default_match
            source = before.get(spec.config.attribute_map.get(m.source, m.source))
            if source is None or source.type != "list":
                raise fail(f"`source` names {m.source!r}, which is not a `list` config field declared before {f.name!r} (the derived default reads the list the configuration keeps): declare one before {f.name!r} and name it", ["config", "fields", i, "default_match", "source"])
            if m.entry not in (source.choices or ()):
                raise fail(f"{m.entry!r} is not an entry of {m.source!r}: write one of its `choices` ({', '.join(map(str, source.choices or ()))})", ["config", "fields", i, "default_match", "entry"])
            flag = before.get(spec.config.attribute_map.get(m.flag, m.flag)) if m.flag is not None else None
            if m.flag is not None and (flag is None or flag.type != "bool"):
                raise fail(f"`flag` names {m.flag!r}, which is not a `bool` config field declared before {f.name!r}: declare one before {f.name!r} and name it, or remove `flag`", ["config", "fields", i, "default_match", "flag"])
            if m.when is not None and spec.config.attribute_map.get(m.when, m.when) not in before:
                raise fail(f"`when` names {m.when!r}, which is not a config field declared before {f.name!r} (the derived default reads the value the configuration keeps): declare it before {f.name!r} or name one declared before", ["config", "fields", i, "default_match", "when"])
        if f.default_expand is not None:
            need_field(f.default_expand.length, ["config", "fields", i, "default_expand", "length"])
            pairs = spec.config.attribute_map.get(f.default_expand.pairs, f.default_expand.pairs)
            if pairs not in [g.name for g in spec.config.fields[:i] if g.type == "repeats"]:
                raise fail(f"`pairs` names {f.default_expand.pairs!r}, which is not a `repeats` config field declared before {f.name!r} (the list of `[entries, count]` pairs expanded): declare one (`type: repeats`) before {f.name!r} and name it", ["config", "fields", i, "default_expand", "pairs"])
        if f.none_unless is not None and (f.none_unless not in fields or fields[f.none_unless].type != "bool"):
            raise fail(f"none_unless names {f.none_unless!r}, which is not a `bool` field under `config.fields`", ["config", "fields", i, "none_unless"])
    for alias, target in spec.config.attribute_map.items():
        if target not in fields:
            raise fail(f"attribute_map target {target!r} is not a config field", ["config", "attribute_map", alias])
    for i, refused in enumerate(spec.config.refuse):
        for name, value in refused.when.items():
            loc = ["config", "refuse", i, "when", name]
            field = fields.get(name)
            if field is None:
                raise fail(f"{name!r} is not a field under `config.fields`" + _suggest(name, sorted(fields)), loc)
            if not _value_fits(field, value):
                raise fail(f"{value!r} is not a value of the `{field.type}` field {name!r}" + (f" (its `choices`: {', '.join(map(repr, field.choices))})" if field.choices else "") + ": write one it accepts", loc)
        if all(fields[name].default == value for name, value in refused.when.items()):
            raise fail("every value of `when` is its field's default: the default configuration would be refused; refuse a combination of values the defaults do not hold", ["config", "refuse", i, "when"])
    c.stack = spec.stack or support.ENCODER
    rule_kind = c.rule_kind
    for name in support.REQUIRED_CONFIG_FIELDS[rule_kind]:
        if name == "initializer_range" and spec.initializer is not None:
            # Mesh TensorFlow's initialisation reads its factor instead.
            continue
        if name not in fields and name not in spec.config.attribute_map:
            raise fail(f"config must declare {name!r} (or map it with `attribute_map`): every {rule_kind} stack reads it", ["config", "fields"])
    if spec.initializer is not None:
        c.need_field(spec.initializer.factor, ["initializer", "factor"])
        if rule_kind == support.NAMES_ENCODER_DECODER and spec.attention.head_dim is None:
            raise fail("Mesh TensorFlow's initialisation divides the queries' std by the configured head width: write `attention.head_dim: <int field>`, or remove `initializer`", ["initializer"])
        if rule_kind == support.NAMES_ENCODER_DECODER and spec.embeddings.position == "absolute":
            raise fail("Mesh TensorFlow's initialisation has no rule for absolute position tables: remove `initializer`, or write `embeddings.position: none` (positions from a bucketed bias)", ["initializer"])


def _check_head_count(c: _Context) -> None:
    """The default hidden_size splits into the default number of heads."""
    spec, fail = c.spec, c.fail
    index = {f.name: i for i, f in enumerate(spec.config.fields)}
    hidden, heads_n = c.default_of("hidden_size"), c.default_of("num_attention_heads")
    # With `attention.head_dim` (a config field) the attention projections are heads x head_dim wide, whatever
    # hidden_size is (Seed-OSS: 80 heads of 128 over a hidden size of 4096); without it they split hidden_size.
    split_hidden = spec.attention.head_dim is None
    if isinstance(hidden, int) and isinstance(heads_n, int) and (heads_n <= 0 or (split_hidden and hidden % heads_n)):
        heads_field = spec.config.attribute_map.get("num_attention_heads", "num_attention_heads")
        raise fail(
            f"the default hidden_size ({hidden}) is not a multiple of the default num_attention_heads ({heads_n})",
            ["config", "fields", index[heads_field], "default"],
        )



# The inputs of the embeddings, which `embeddings.task_type` must not name.
_EMBEDDING_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "head_mask", "inputs_embeds")


def _resolve_embeddings(c: _Context) -> None:
    """`embeddings`: the config fields it reads, dropout, shared matrices, sinusoidal / padded positions."""
    spec, fields, fail, need_field = c.spec, c.fields, c.fail, c.need_field
    emb = spec.embeddings
    need_field(emb.size, ["embeddings", "size"])
    need_field(emb.dropout, ["embeddings", "dropout"])
    _need_float_field(c, emb.multiplier, ["embeddings", "multiplier"])
    if emb.position_ids and emb.position != "absolute":
        raise fail("`position_ids` index the learned absolute positions, which this spec does not have (`position: absolute`): remove `position_ids`", ["embeddings", "position_ids"])
    if emb.position_ids and emb.position_padding_idx is not None:
        raise fail("positions counted past a padding index always take `position_ids`: remove `position_ids`", ["embeddings", "position_ids"])
    if emb.mask_positions and not emb.position_offset:
        raise fail("positions counted over the attention mask give padding -1, the row before the first position: add `position_offset: 2` (as transformers' tables of max_position_embeddings + 2 rows) or another offset of at least 1", ["embeddings", "mask_positions"])
    if emb.sinusoidal is True and support.rule_kind(spec, c.stack) not in (support.NAMES_ENCODER_DECODER, support.DECODER_ONLY):
        raise fail("`sinusoidal: true` (always fixed sinusoids) is rendered only in names-layout encoder-decoder and decoder-only stacks: name a boolean config field that chooses them", ["embeddings", "sinusoidal"])
    kind = support.rule_kind(spec, c.stack)
    if emb.position_accessors and not (
        (emb.sinusoidal is True and kind == support.NAMES_ENCODER_DECODER) or (kind == support.NAMES_ENCODER and emb.position == "absolute")
    ):
        raise fail("`position_accessors` are rendered only in names-layout encoders with a position table and in names-layout encoder-decoder stacks with `sinusoidal: true`; remove `position_accessors`", ["embeddings", "position_accessors"])
    if emb.position_accessors and kind == support.NAMES_ENCODER_DECODER and (emb.sinusoidal_layout == "fairseq" or emb.position_padding_idx is not None):
        raise fail("`position_accessors` recompute interleaved or halves sinusoids counted from 0: remove `position_accessors` (fairseq's table and positions past a padding index have none)", ["embeddings", "position_accessors"])
    if emb.sinusoidal is not None and emb.position != "absolute":
        raise fail("fixed sinusoidal positions fill the absolute position table, which this spec does not have: write `embeddings.position: absolute` or remove `sinusoidal`", ["embeddings", "sinusoidal"])
    if emb.sinusoidal is None and emb.sinusoidal_layout != "interleaved":
        raise fail("`sinusoidal_layout` places the sines and cosines of fixed sinusoidal positions: set `sinusoidal` or remove `sinusoidal_layout`", ["embeddings", "sinusoidal_layout"])
    if isinstance(emb.sinusoidal, str):
        need_field(emb.sinusoidal, ["embeddings", "sinusoidal"])
    need_field(emb.padding_idx, ["embeddings", "padding_idx"])
    sinusoidal_field = c.field(emb.sinusoidal) if isinstance(emb.sinusoidal, str) else None
    if sinusoidal_field is not None and sinusoidal_field.type != "bool":
        raise fail(f"`sinusoidal` names a boolean config field (fixed sinusoid positions when true), not the {sinusoidal_field.type} field {emb.sinusoidal!r}", ["embeddings", "sinusoidal"])
    if emb.token_type is True:
        need_field("type_vocab_size", ["embeddings", "token_type"])
    if emb.vocabularies is not None:
        loc = ["embeddings", "vocabularies"]
        if (flag_field := c.typed_field(emb.vocabularies.shared, loc + ["shared"], "bool")) is not None:
            raise fail(f"`shared` names a boolean config field (one vocabulary matrix for both stacks when true), not the {flag_field.type} field {emb.vocabularies.shared!r}: declare one (`type: bool`, e.g. `share_encoder_decoder_embeddings`) and name it", loc + ["shared"])
        need_field(emb.vocabularies.decoder_size, loc + ["decoder_size"])
        size_field = c.field(emb.vocabularies.decoder_size)
        if size_field is not None and (size_field.type != "int" or (size_field.optional and size_field.default_from != "vocab_size")):
            raise fail(f"`decoder_size` names the int config field of the decoder's vocabulary size (None only with `default_from: vocab_size`), not {'the optional ' if size_field.optional else 'the '}{size_field.type} field {emb.vocabularies.decoder_size!r}: declare one (`type: int`, e.g. `decoder_vocab_size`) and name it", loc + ["decoder_size"])
    if emb.task_type is not None:
        loc = ["embeddings", "task_type"]
        if (flag_field := c.typed_field(emb.task_type.flag, loc + ["flag"], "bool")) is not None:
            raise fail(f"`flag` names a boolean config field (the table exists when true), not the {flag_field.type} field {emb.task_type.flag!r}", loc + ["flag"])
        need_field(emb.task_type.size, loc + ["size"])
        if emb.task_type.argument in _EMBEDDING_INPUTS:
            raise fail(f"`argument` names the forward argument of the table's ids, one no other input takes: {emb.task_type.argument!r} is taken (write e.g. `task_type_ids`)", loc + ["argument"])
    if emb.token_dropout is not None:
        loc = ["embeddings", "token_dropout"]
        if (flag_field := c.typed_field(emb.token_dropout.flag, loc + ["flag"], "bool")) is not None:
            raise fail(f"`flag` names a boolean config field (token dropout when true), not the {flag_field.type} field {emb.token_dropout.flag!r}", loc + ["flag"])
        if (token_field := c.typed_field(emb.token_dropout.token, loc + ["token"], "int")) is not None:
            raise fail(f"`token` names the int config field of the token id whose embeddings are zeroed, not the {token_field.type} field {emb.token_dropout.token!r}", loc + ["token"])
    if isinstance(emb.norm, str):
        if (norm_field := c.typed_field(emb.norm, ["embeddings", "norm"], "bool")) is not None:
            raise fail(f"`norm` is true, false or a boolean config field (the norm exists when it is true), not the {norm_field.type} field {emb.norm!r}", ["embeddings", "norm"])
    if emb.raw_inputs_embeds:
        # Given embeddings skip the word embeddings' container: what it adds must not be needed by them.
        for key, present in (("token_type", emb.token_type is not False), ("task_type", emb.task_type is not None), ("projection", emb.projection is not None)):
            if present:
                raise fail(f"given `inputs_embeds` that skip the embeddings (`raw_inputs_embeds`) would skip `{key}` too: remove `{key}` or `raw_inputs_embeds`", ["embeddings", key])
        if isinstance(spec.position, schema.RotaryPosition) and (spec.position.table or spec.position.theta_by_layer_type):
            key = "table" if spec.position.table else "theta_by_layer_type"
            raise fail(f"remove `{key}` or `raw_inputs_embeds`: with given embeddings that skip the embeddings, the rotary positions are computed from one `theta` for the positions 0, 1, ... of each row", ["position", key])
        if spec.decoder is not None:
            raise fail("remove `raw_inputs_embeds` or `decoder`: given `inputs_embeds` skip the positions, which a decoder continues after its cache", ["embeddings", "raw_inputs_embeds"])
    if emb.position == "absolute":
        need_field("max_position_embeddings", ["embeddings", "position"])
    if emb.position_ids and (emb.position != "absolute" or emb.position_padding_idx is not None):
        reason = "positions counted past a padding index take `position_ids` already" if emb.position == "absolute" else "it gives the learned absolute positions (`position: absolute`) ids of the caller's"
        raise fail(f"remove `position_ids`: {reason}", ["embeddings", "position_ids"])
    if emb.position_padding_idx is not None:
        need_field(emb.position_padding_idx, ["embeddings", "position_padding_idx"])
        if emb.position != "absolute":
            raise fail("positions past a padding index index the absolute position table: set `embeddings.position: absolute`", ["embeddings", "position_padding_idx"])


def _resolve_attention(c: _Context) -> None:
    """`attention`: its biases, heads, dropout, variant selection, local windows, layout and scaling flags."""
    spec, fields, fail, need_field = c.spec, c.fields, c.fail, c.need_field
    att, ffn = spec.attention, spec.feed_forward
    for loc in (["attention", "bias"], ["attention", "output_bias"]):
        value = getattr(att, loc[1])
        if isinstance(value, str):
            need_field(value, loc)
    need_field(spec.attention.kv_heads, ["attention", "kv_heads"])
    if att.multi_query is not None:
        need_field(att.multi_query, ["attention", "multi_query"])
        flag_field = c.field(att.multi_query)
        if flag_field is not None and flag_field.type != "bool":
            raise fail(f"`multi_query` names a boolean config field (one key/value head when true), not the {flag_field.type} field {att.multi_query!r}", ["attention", "multi_query"])
    _need_float_field(c, att.multiplier, ["attention", "multiplier"])
    _need_float_field(c, att.clip, ["attention", "clip"])
    _need_float_field(c, att.softcap, ["attention", "softcap"])
    if att.scale_dim is not None:
        need_field(att.scale_dim, ["attention", "scale_dim"])
        dim_field = c.field(att.scale_dim)
        if dim_field is not None and (dim_field.type not in ("int", "float") or dim_field.optional):
            raise fail(f"`scale_dim` names the int or float config field whose inverse square root scales the scores (never None), not the {'optional ' if dim_field.optional else ''}{dim_field.type} field {att.scale_dim!r}: declare one and name it", ["attention", "scale_dim"])
        if att.scale is not True:
            raise fail("`scale_dim` replaces the division of the scores by sqrt(head_dim), always done: write `scale: true`", ["attention", "scale"])
    if att.scale_value is not None:
        _need_float_field(c, att.scale_value, ["attention", "scale_value"])
        if att.scale is not True or att.scale_dim is not None:
            raise fail("`scale_value` replaces the division of the scores by sqrt(head_dim) where the config sets it: write `scale: true`, without `scale_dim`", ["attention", "scale_value"])
    need_field(att.sliding_window, ["attention", "sliding_window"])
    window_field = c.field(att.sliding_window) if att.sliding_window else None
    if window_field is not None and window_field.type != "int":
        raise fail(f"`sliding_window` names an int config field (the window's width in tokens), not the {window_field.type} field {att.sliding_window!r}: declare one (`type: int`, `optional: true` where None means no window) and name it", ["attention", "sliding_window"])
    if att.layer_types is not None:
        need_field(att.layer_types, ["attention", "layer_types"])
        kinds_field = c.field(att.layer_types)
        if kinds_field is not None and (kinds_field.type != "list" or len(kinds_field.choices or ()) != 2):
            raise fail(f"`layer_types` names a `list` config field of each layer's attention kind with two `choices`, the full layers' then the sliding layers' (e.g. `[full_attention, sliding_attention]`; not {kinds_field.type} field {att.layer_types!r}{' with choices ' + str(kinds_field.choices) if kinds_field.choices else ''}): declare one (`type: list, optional: true, default: null`, `default_repeat: num_hidden_layers`) and name it", ["attention", "layer_types"])
    if spec.attention.output_dropout is True and spec.feed_forward.dropout is None:
        raise fail("the attention output's dropout is the feed-forward's, which has none (`feed_forward.dropout: null`): write `output_dropout: false` or the config field of its rate", ["attention", "output_dropout"])
    if isinstance(att.output_dropout, str):
        need_field(att.output_dropout, ["attention", "output_dropout"])
        rate_field = c.field(att.output_dropout)
        if rate_field is not None and rate_field.type != "float":
            raise fail(f"`output_dropout` names the float config field of the attention output's dropout rate (or is true: the feed-forward's, false: none), not the {rate_field.type} field {att.output_dropout!r}", ["attention", "output_dropout"])
    if att.dropout is None and not c.decoder_only:
        raise fail("attention probabilities without dropout are rendered only in decoder-only stacks: write `dropout: <config field>`", ["attention", "dropout"])
    need_field(att.dropout, ["attention", "dropout"])
    if att.kv_heads_when is not None:
        _need_bool_field(c, att.kv_heads_when, ["attention", "kv_heads_when"], "`kv_heads` counts the key/value heads only when it is true")
        if att.kv_heads is None:
            raise fail("`kv_heads_when` says when `kv_heads` counts the key/value heads: name that count (`kv_heads: <int config field>`) or remove `kv_heads_when`", ["attention", "kv_heads_when"])
    if att.cache_repeated is not False:
        if isinstance(att.cache_repeated, str):
            _need_bool_field(c, att.cache_repeated, ["attention", "cache_repeated"], "the keys and values are repeated to every query head before the cache when it is true")
        if att.kv_heads is None and att.multi_query is None:
            raise fail("`cache_repeated` repeats fewer key/value heads to every query head before the cache, and every query head has its own: name `kv_heads` or `multi_query`, or remove `cache_repeated`", ["attention", "cache_repeated"])
    need_field(att.head_dim, ["attention", "head_dim"])
    if isinstance(att.qk_norm, str):
        need_field(att.qk_norm, ["attention", "qk_norm"])
        flag_field = c.field(att.qk_norm)
        if flag_field is not None and flag_field.type != "bool":
            raise fail(f"`qk_norm` names a bool config field (whether the norms exist), not the {flag_field.type} field {att.qk_norm!r}: write `true`, `false` or a bool field", ["attention", "qk_norm"])
    if att.select is not None:
        need_field(att.select.field, ["attention", "select", "field"])
        choices = fields[spec.config.attribute_map.get(att.select.field, att.select.field)].choices if att.select.field in fields else None
        if choices is not None and set(choices) != set(att.select.variants):
            raise fail(f"variants {sorted(att.select.variants)} must cover the choices of {att.select.field!r}: {sorted(map(str, choices))}", ["attention", "select", "variants"])
    for value, choice in (att.select.variants.items() if att.select is not None else ()):
        loc = ["attention", "select", "variants", value]
        if choice.variant == "full":
            raise fail("a names-layout encoder-decoder selects between blocked variants (`local`, `transient_global`); its full self-attention is `attention.variant: full` without `select`", loc + ["variant"])
        if choice.names is None:
            raise fail("give the variant's encoder-block paths: `names: {attention.query: <path>, ...}` (roles -> paths overriding `names`)", loc)
    if att.local is not None:
        need_field(att.local.radius, ["attention", "local", "radius"])
        need_field(att.local.global_block_size, ["attention", "local", "global_block_size"])
    for loc_name in ("scale", "scale_by_inverse_layer", "upcast"):
        if isinstance(getattr(att, loc_name), str):
            need_field(getattr(att, loc_name), ["attention", loc_name])


def _resolve_feed_forward(c: _Context) -> None:
    """`feed_forward`: the config fields of its width, activation, dropout, bias and gate."""
    ffn, need_field = c.spec.feed_forward, c.need_field
    if isinstance(ffn.bias, str):
        need_field(ffn.bias, ["feed_forward", "bias"])
    for name in ("size", "activation", "dropout"):
        need_field(getattr(ffn, name), ["feed_forward", name])
    if ffn.size is None and (ffn.size_multiple is None or c.rule_kind != support.DECODER_ONLY):
        reason = "a width no config field holds exists only in decoder-only stacks" if ffn.size_multiple else "give `size_multiple` (the width is that many times hidden_size)"
        raise c.fail(f"`size: null`: {reason}", ["feed_forward", "size"])
    if (ffn.activation is None) == (ffn.activation_name is None):
        loc = ["feed_forward", "activation_name" if ffn.activation_name is not None else "activation"]
        raise c.fail("name the feed-forward's activation once: a config field (`activation: <field>`) or, with `activation: null`, a fixed one (`activation_name: <activation>`)", loc)
    if isinstance(ffn.gated, str):
        need_field(ffn.gated, ["feed_forward", "gated"])
    if not ffn.output_dropout and ffn.dropout is None:
        raise c.fail("the feed-forward has no dropout (`dropout: null`): remove `output_dropout`", ["feed_forward", "output_dropout"])
    if not ffn.output_dropout and not c.spec.attention.output_dropout:
        raise c.fail("no sublayer output goes through `dropout` (`attention.output_dropout: false`): write `dropout: null` and remove `output_dropout`", ["feed_forward", "output_dropout"])
    if ffn.experts is not None:
        for name in ("count", "top_k"):
            need_field(getattr(ffn.experts, name), ["feed_forward", "experts", name])
        if isinstance(ffn.experts.normalize, str):
            need_field(ffn.experts.normalize, ["feed_forward", "experts", "normalize"])
        if ffn.experts.jitter is not None:
            need_field(ffn.experts.jitter, ["feed_forward", "experts", "jitter"])
        for name in ("router_logits", "aux_loss_coef"):
            need_field(getattr(ffn.experts, name), ["feed_forward", "experts", name])
        if (ffn.experts.router_logits is None) != (ffn.experts.aux_loss_coef is None):
            given, other = ("router_logits", "aux_loss_coef") if ffn.experts.aux_loss_coef is None else ("aux_loss_coef", "router_logits")
            raise c.fail(f"the router logits and the auxiliary loss's factor come together: give `{other}` (a config field) or remove `{given}`", ["feed_forward", "experts", given])
        if not ffn.experts.base_reads_config and ffn.experts.router_logits is None:
            raise c.fail("`base_reads_config` says where the base model's `output_router_logits` falls back to: give `router_logits` (a config field) or remove `base_reads_config`", ["feed_forward", "experts", "base_reads_config"])
        if ffn.activation_dropout is not None:
            raise c.fail("the experts' feed-forward has no dropout between its projections: remove `activation_dropout` or `experts`", ["feed_forward", "activation_dropout"])
        if ffn.experts.shared is not None:
            need_field(ffn.experts.shared.size, ["feed_forward", "experts", "shared", "size"])
        if ffn.experts.dense is not None:
            loc = ["feed_forward", "experts", "dense"]
            need_field(ffn.experts.dense.size, loc + ["size"])
            if ffn.experts.dense.layers is not None and (f := c.typed_field(ffn.experts.dense.layers, loc + ["layers"], "list")) is not None:
                raise c.fail(f"`layers` names the list config field of the dense layers' indices, not the {f.type} field {ffn.experts.dense.layers!r}", loc + ["layers"])
            if ffn.experts.dense.step is not None and (f := c.typed_field(ffn.experts.dense.step, loc + ["step"], "int")) is not None:
                raise c.fail(f"`step` names the int config field of the period of the layers with experts, not the {f.type} field {ffn.experts.dense.step!r}", loc + ["step"])


def _theta_by_kind(spec: schema.ArchitectureSpec, name: str) -> str:
    """The Python expression of a layer kind's rotary base `config.<name>`: an optional field's None falls back to
    `position.theta`."""
    target = spec.config.attribute_map.get(name, name)
    field_ = next((f for f in spec.config.fields if f.name == target), None)
    if field_ is None or not field_.optional:
        return f"config.{name}"
    theta = f"config.{spec.position.theta}" if isinstance(spec.position.theta, str) else repr(float(spec.position.theta))
    return f"(config.{name} if config.{name} is not None else {theta})"


def _need_bool_field(c: _Context, name: str, loc: list, meaning: str) -> None:
    """`name` is a declared boolean config field (`meaning`: what its truth does, for the message)."""
    c.need_field(name, loc)
    field = c.field(name)
    if field is not None and field.type != "bool":
        raise c.fail(f"`{loc[-1]}` names a boolean config field ({meaning}), not the {field.type} field {name!r}", loc)


def _need_float_field(c: _Context, name: Optional[str], loc: list) -> None:
    """`name` (when set) is a declared float config field: a factor of the computation."""
    if name is None:
        return
    c.need_field(name, loc)
    field = c.field(name)
    if field is not None and field.type != "float":
        raise c.fail(f"a factor of the computation is a float config field, not the {field.type} field {name!r}: declare it `type: float` or name another", loc)


def _resolve_residual(c: _Context) -> None:
    """`residual`: the config field that chooses the parallel form, when one does; the sublayers' multiplier."""
    residual = c.spec.residual
    if residual is not None and residual.multiplier is not None:
        _need_float_field(c, residual.multiplier, ["residual", "multiplier"])
        spec = c.spec
        if residual.parallel is not False or spec.norm.placement != "pre":
            raise c.fail("`multiplier` scales each sublayer's output before its residual add in sequential pre-norm blocks: write `parallel: false` and `norm.placement: pre`, or remove `multiplier`", ["residual", "multiplier"])
        if spec.attention.output_dropout or spec.feed_forward.dropout is not None:
            loc = ["attention", "output_dropout"] if spec.attention.output_dropout else ["feed_forward", "dropout"]
            raise c.fail("a residual `multiplier` scales the sublayers' outputs with no dropout after them: write `attention.output_dropout: false` and `feed_forward.dropout: null`", loc)
    if residual is not None and isinstance(residual.parallel, str):
        c.need_field(residual.parallel, ["residual", "parallel"])
    if residual is not None and residual.from_norm is not False:
        if residual.parallel is not False or c.spec.norm.placement != "pre":
            raise c.fail("`from_norm` continues the residual stream from each sublayer's normalised input in sequential pre-norm blocks: write `parallel: false` and `norm.placement: pre`, or remove `from_norm`", ["residual", "from_norm"])
        if isinstance(residual.from_norm, str):
            c.need_field(residual.from_norm, ["residual", "from_norm"])
    if residual is not None and residual.shared_norm and residual.parallel is False:
        raise c.fail("one norm shared by both sublayers exists only in the parallel form: write `parallel: true` or a config flag (sequential blocks need `ffn.norm`) or remove `shared_norm`", ["residual", "shared_norm"])
    split = residual.split_norms if residual is not None else None
    if split is not None:
        if not residual.shared_norm:
            raise c.fail("`split_norms` chooses between a norm for each sublayer and the one norm both read (`shared_norm: true`): write `shared_norm: true` or remove `split_norms`", ["residual", "split_norms"])
        _need_bool_field(c, split.flag, ["residual", "split_norms", "flag"], "the parallel form with a norm for each sublayer when it is true")
        c.need_field(split.count, ["residual", "split_norms", "count"])
        count_field = c.field(split.count)
        if count_field is not None and count_field.type != "int":
            raise c.fail(f"`count` names the int config field of the number of norms (1: one shared norm), not the {count_field.type} field {split.count!r}", ["residual", "split_norms", "count"])
    if residual is not None and residual.dropout_sum:
        ffn = c.spec.feed_forward
        if residual.parallel is False:
            raise c.fail("`dropout_sum` drops the sum of the parallel sublayers' outputs, and the blocks are sequential: write `parallel: true` or a config flag, or remove `dropout_sum`", ["residual", "dropout_sum"])
        if ffn.dropout is None or not ffn.output_dropout:
            raise c.fail("`dropout_sum` moves the feed-forward's output dropout onto the sum of both sublayers' outputs, and the feed-forward output has none: write `feed_forward.dropout: <config field>` (with `output_dropout: true`) or remove `dropout_sum`", ["residual", "dropout_sum"])


def _resolve_norm(c: _Context) -> None:
    """`norm`: the LM head's norm kind, the final norm of pre-norm stacks, the epsilon."""
    spec, fail, need_field = c.spec, c.fail, c.need_field
    if spec.lm_head is not None and (spec.lm_head.dense_bias is not True or spec.lm_head.decoder_bias is not True):
        key = "dense_bias" if spec.lm_head.dense_bias is not True else "decoder_bias"
        if spec.lm_head.layout != "flat" or spec.lm_head.decoder is None:
            raise fail(f"`{key}` sets a bias of the `flat` LM head whose vocabulary projection is the head model's `decoder`: write `layout: flat` with `decoder: <attribute>`, or remove `{key}`", ["lm_head", key])
        for k in ("dense_bias", "decoder_bias"):
            if isinstance(getattr(spec.lm_head, k), str):
                _need_bool_field(c, getattr(spec.lm_head, k), ["lm_head", k], "the projection has a bias when it is true")
    if isinstance(spec.norm.bias, str):
        if spec.norm.kind != "layer_norm" or spec.norm.unit_offset or not spec.norm.weight or spec.attention.qk_norm is not False:
            raise fail("a LayerNorm bias chosen by a config field is rendered for plain LayerNorms (`kind: layer_norm`, no `unit_offset`, `weight: true`, no `attention.qk_norm`): write `bias: true` or `false`", ["norm", "bias"])
        _need_bool_field(c, spec.norm.bias, ["norm", "bias"], "the LayerNorms have a bias when it is true")
    if not spec.norm.first_attention_norm:
        if spec.norm.placement != "pre" or spec.residual is not None:
            raise fail("only a pre-norm block's attention reads a norm of its input (`placement: pre`, sequential sublayers): remove `first_attention_norm` or write `placement: pre`", ["norm", "first_attention_norm"])
    if spec.norm.kind == "rms_norm" and not spec.norm.bias:
        raise fail("RMSNorms have no bias: remove `norm.bias` (or write `kind: layer_norm`)", ["norm", "bias"])
    if spec.norm.kind == "layer_norm" and spec.norm.unit_offset and not spec.norm.bias and spec.norm.placement == "sandwich":
        raise fail("the output norms of `placement: sandwich` keep a bias, and unit-offset LayerNorms take the stack's `bias: false`: write `placement: pre` or `output`, or remove `unit_offset` or `bias`", ["norm", "unit_offset"])
    if spec.norm.kind == "rms_norm" and spec.lm_head is not None and spec.lm_head.layout == "names":
        raise fail("the names-layout LM head's norm (`lm_head.norm`) is a LayerNorm: write `norm.kind: layer_norm` or remove the masked_lm head", ["norm", "kind"])
    if spec.norm.placement in ("output", "sandwich"):
        # The sublayers' outputs are normalised right before the residual add: nothing may come between.
        placement = spec.norm.placement
        if spec.residual is not None and spec.residual.parallel is not False:
            raise fail(f"`placement: {placement}` normalises each sublayer's output before its own residual add: remove `residual.parallel` (sequential sublayers)", ["norm", "placement"])
        if spec.attention.output_dropout:
            raise fail(f"`placement: {placement}` adds each sublayer's normalised output to the residual stream directly: write `attention.output_dropout: false`", ["attention", "output_dropout"])
        if spec.feed_forward.dropout is not None:
            raise fail(f"`placement: {placement}` adds each sublayer's normalised output to the residual stream directly: write `feed_forward.dropout: null`", ["feed_forward", "dropout"])
    if spec.norm.final_unless is not None:
        need_field(spec.norm.final_unless, ["norm", "final_unless"])
        if spec.norm.hidden_states_before_final_norm:
            raise fail("`final_unless` builds the final norm only without its flag, and `hidden_states_before_final_norm` returns the last block's output before it: remove one", ["norm", "final_unless"])
    if spec.norm.pre_when is not None:
        loc = ["norm", "pre_when"]
        if (flag_field := c.typed_field(spec.norm.pre_when, loc, "bool")) is not None:
            raise fail(f"`pre_when` names a boolean config field (pre-norm blocks when true, post-norm when false), not the {flag_field.type} field {spec.norm.pre_when!r}: declare one (`type: bool`, e.g. `do_layer_norm_before`) and name it", loc)
        if spec.residual is not None:
            raise fail("post-norm blocks (the flag false) are rendered with sequential sublayers and the plain residual: remove `residual` or `pre_when`", loc)
        if spec.norm.hidden_states_before_final_norm:
            raise fail("`pre_when` builds the final norm only with its flag, and `hidden_states_before_final_norm` returns the last block's output before it: remove one", loc)
    if isinstance(spec.norm.eps, float):
        if spec.norm.eps <= 0:
            raise fail(f"the epsilon must be positive, not {spec.norm.eps}", ["norm", "eps"])
    else:
        need_field(spec.norm.eps, ["norm", "eps"])


@dataclass(frozen=True)
class _PositionResolved:
    relative: Optional[schema.RelativeFunctionalPosition]
    bucketed: Optional[schema.BucketedBiasPosition]
    position_table: Optional[str]


def _resolve_position(c: _Context) -> _PositionResolved:
    """`position` (rotary, relative or bucketed) against the embeddings' absolute positions, and the table that bounds
    the input length."""
    spec, fail, need_field = c.spec, c.fail, c.need_field
    emb = spec.embeddings
    stack_bias = isinstance(spec.position, schema.BucketedBiasPosition) and spec.position.owner == "stack"
    # (A bucketed bias the stack owns adds to the absolute positions: `embeddings.position: absolute` is required.)
    select = spec.position.select if isinstance(spec.position, schema.RotaryPosition) else None
    if spec.position is not None and emb.position != "none" and not stack_bias and select is None:
        raise fail(
            f"{spec.position.kind} positions replace absolute position embeddings: set `embeddings.position: none`",
            ["position", "kind"],
        )

    scaling = spec.position.scaling if isinstance(spec.position, schema.RotaryPosition) else None
    switch = spec.position.alibi if isinstance(spec.position, schema.RotaryPosition) else None
    if switch is not None:
        _need_bool_field(c, switch.flag, ["position", "alibi", "flag"], "ALiBi positions in place of the rotary ones when it is true")
        need_field(switch.dropout, ["position", "alibi", "dropout"])
        if switch.mask_copy and not switch.scaled:
            raise fail("`mask_copy` adds the bias divided by sqrt(head_dim) to the mask once more, as the scores carry it with `scaled: true`: write `scaled: true` or remove `mask_copy`", ["position", "alibi", "mask_copy"])
        for key in ("layer_types", "sliding_window"):
            if getattr(spec.attention, key) is not None:
                raise fail(f"ALiBi positions chosen by a config flag are rendered without `attention.{key}`: remove `position.alibi` or `attention.{key}`", ["position", "alibi"])
        if spec.position.layers is not None or spec.position.theta_by_layer_type:
            raise fail("ALiBi positions chosen by a config flag replace the rotary positions in every layer: remove `position.layers` and `position.theta_by_layer_type`, or `position.alibi`", ["position", "alibi"])
    if select is not None:
        # The rotary positions or the embeddings' absolute ones, as a str config field's value says.
        loc = ["position", "select"]
        if emb.position != "absolute":
            raise fail("`select` chooses between these rotary positions and the embeddings' learned absolute ones, which this spec does not have: write `embeddings.position: absolute` (and the `names` role `embeddings.position`) or remove `select`", loc)
        if (select_field := c.typed_field(select.field, loc + ["field"], "str")) is not None:
            raise fail(f"`field` names the str config field whose value chooses the positions (e.g. `position_embedding_type`), not the {select_field.type} field {select.field!r}", loc + ["field"])
        choices = c.field(select.field).choices or []
        if select.value == select.absolute or sorted(choices) != sorted([select.value, select.absolute]):
            raise fail(f"the config field {select.field!r} chooses between two rendered values, `value` (rotary) and `absolute`: declare it with `choices: [{select.absolute}, {select.value}]` (and `unsupported: <reason>` for the values it refuses), not {'choices ' + str(choices) if choices else 'without choices'}", loc + ["field"])
        for key in ("table", "scaling", "rotary_value", "theta_by_layer_type"):
            if getattr(spec.position, key):
                raise fail(f"remove `{key}` or `select`: the rotary positions chosen by a config field are computed from one unscaled `theta` for the queries and keys at the positions 0, 1, ... of each row", ["position", key])
        if spec.decoder is not None:
            raise fail("remove `decoder` or `position.select`: the rotary positions chosen by a config field count from 0 in every row, without a cache to continue after", ["decoder"])
    if isinstance(spec.position, schema.RotaryPosition):
        # Rotary positions of the names-layout block: computed from `theta`, no table module, no length bound.
        if spec.position.theta is None:
            raise fail("rotary positions of a names-layout stack need `theta: <config field>` (the base of the inverse frequencies, e.g. `rope_theta`) or a fixed base (`theta: 10000.0`)", ["position"])
        if spec.position.fraction is not None and spec.position.dims is not None:
            raise fail("give the rotated part of each head once: `fraction: <float field>` or `dims: <int field>`, not both", ["position", "dims"])
        if spec.position.rotary_value is not None:
            if (value_field := c.typed_field(spec.position.rotary_value, ["position", "rotary_value"], "bool")) is not None:
                raise fail(f"`rotary_value` names a boolean config field (the values rotated too when true), not the {value_field.type} field {spec.position.rotary_value!r}", ["position", "rotary_value"])
        if spec.position.table is not None:
            for key in ("fraction", "dims", "scaling", "layers"):
                if getattr(spec.position, key) is not None:
                    raise fail(f"remove `{key}` or `table`: the sinusoidal table spans each head's whole width with one unscaled base, in every layer", ["position", key])
            if spec.position.theta_by_layer_type:
                raise fail("remove `theta_by_layer_type` or `table`: the sinusoidal table has one base for every layer", ["position", "theta_by_layer_type"])
            need_field("max_position_embeddings", ["position", "table"])
        if isinstance(spec.position.theta, str):
            need_field(spec.position.theta, ["position", "theta"])
        need_field(spec.position.fraction, ["position", "fraction"])
        need_field(spec.position.dims, ["position", "dims"])
        if spec.position.theta_by_layer_type:
            kinds_name = spec.attention.layer_types
            kinds_field = c.field(kinds_name) if kinds_name else None
            if kinds_field is None:
                raise fail("`theta_by_layer_type` gives a base to layer kinds of `attention.layer_types`, which is not set: set it or remove `theta_by_layer_type`", ["position", "theta_by_layer_type"])
            for kind, name in spec.position.theta_by_layer_type.items():
                if kind not in (kinds_field.choices or ()):
                    raise fail(f"{kind!r} is not a layer kind: write one of the `choices` of {kinds_name!r} ({', '.join(map(str, kinds_field.choices or ()))})", ["position", "theta_by_layer_type", kind])
                _need_float_field(c, name, ["position", "theta_by_layer_type", kind])
        if scaling is not None:
            need_field(scaling, ["position", "scaling"])
            scaling_field = c.field(scaling)
            if scaling_field is not None and (scaling_field.type != "dict" or scaling_field.unsupported is not None):
                raise fail(f"`scaling` names the `dict` config field of transformers' `rope_scaling` (not {'the unsupported ' if scaling_field.unsupported else 'a ' + scaling_field.type + ' '}field {scaling!r}): declare it `type: dict, optional: true, default: null` without `unsupported`", ["position", "scaling"])
            for kind in spec.position.theta_by_layer_type:
                if kind not in spec.position.unscaled_layer_types:
                    raise fail(f"add {kind!r} to `unscaled_layer_types` or remove it from `theta_by_layer_type`: the scaled rotary positions are rendered with the one base `theta`, another base only on unscaled layer kinds", ["position", "theta_by_layer_type", kind])
            if spec.position.dims is not None:
                raise fail("remove `scaling`: transformers scales the rotary positions of a rotated fraction of each head (`fraction: <float field>`), not of a counted part (`dims`)", ["position", "scaling"])
            need_field("max_position_embeddings", ["position", "scaling"])
        if spec.position.scaling_types and scaling is None:
            raise fail("remove `scaling_types`: without `scaling` the configuration takes no rope scaling", ["position", "scaling_types"])
        if spec.position.unscaled_layer_types:
            loc = ["position", "unscaled_layer_types"]
            if scaling is None:
                raise fail("remove `unscaled_layer_types`: without `scaling` every layer rotates unscaled", loc)
            kinds_name = spec.attention.layer_types
            kinds_field = c.field(kinds_name) if kinds_name else None
            if kinds_field is None:
                raise fail("`unscaled_layer_types` names layer kinds of `attention.layer_types`, which is not set: set it or remove `unscaled_layer_types`", loc)
            for kind in spec.position.unscaled_layer_types:
                if kind not in (kinds_field.choices or ()):
                    raise fail(f"{kind!r} is not a layer kind: write one of the `choices` of {kinds_name!r} ({', '.join(map(str, kinds_field.choices or ()))})", loc)
            if set(spec.position.unscaled_layer_types) >= set(kinds_field.choices or ()):
                raise fail(f"leave at least one layer kind of {kinds_name!r} scaled (list fewer kinds in `unscaled_layer_types`) or remove `scaling`", loc)
        if spec.position.layers is not None:
            need_field(spec.position.layers, ["position", "layers"])
            layers_field = c.field(spec.position.layers)
            if layers_field is not None and (layers_field.type != "list" or len(layers_field.choices or ()) != 2 or layers_field.default_repeat is None):
                raise fail(f"`layers` names a `list` config field of one entry per layer with two `choices`, the entry of the layers without positions then that of the rotating layers (e.g. `[0, 1]`; not {layers_field.type} field {spec.position.layers!r}{' with choices ' + str(layers_field.choices) if layers_field.choices else ''}): declare one (`type: list, optional: true, default: null, choices: [0, 1], default_repeat: num_hidden_layers`) and name it", ["position", "layers"])

    for i, f in enumerate(spec.config.fields):
        if f.type == "dict" and f.unsupported is None and f.name != spec.config.attribute_map.get(scaling, scaling):
            raise fail(f"a `dict` field is rendered only as the rotary positions' scaling (`position: {{kind: rotary, ..., scaling: {f.name}}}`): name it there, or give it `unsupported: <reason>` (only null is accepted)", ["config", "fields", i, "type"])

    bucketed = None
    if isinstance(spec.position, schema.BucketedBiasPosition):
        bucketed = spec.position
        need_field(bucketed.num_buckets, ["position", "num_buckets"])
        if isinstance(bucketed.max_distance, int) and bucketed.owner != "stack":
            raise fail("a fixed `max_distance` exists only with `owner: stack` (names-layout encoders and encoder-decoders): name its config field", ["position", "max_distance"])
        need_field(bucketed.max_distance if isinstance(bucketed.max_distance, str) else None, ["position", "max_distance"])

    relative = None
    if isinstance(spec.position, schema.RelativeFunctionalPosition):
        relative = spec.position
        need_field(relative.max_relative_position, ["position", "max_relative_position"])
        need_field("max_position_embeddings", ["position"])

    position_table = None
    if emb.position == "absolute":
        need_field("max_position_embeddings", ["embeddings", "position"])
        position_table = "the position-embedding table"
    elif isinstance(spec.position, schema.RotaryPosition) and spec.position.table is not None:
        position_table = "the rotary sinusoidal table"
    elif spec.position is None and emb.position == "none":
        raise fail("a names-layout stack without position embeddings needs `position: {kind: rotary, theta: <config field>}`", ["embeddings", "position"])
    elif relative is not None:
        position_table = "the relative-position table"
    return _PositionResolved(relative, bucketed, position_table)


def _resolve_stacks(c: _Context) -> None:
    """`decoder` (a causal encoder's cache, or the decoder stack of an encoder-decoder), `layerdrop`, and the encoder's
    layer sharing."""
    spec, fields, fail, need_field, seq2seq = c.spec, c.fields, c.fail, c.need_field, c.seq2seq
    emb, att, ffn = spec.embeddings, spec.attention, spec.feed_forward
    if spec.decoder is not None and spec.decoder.cache:
        need_field("use_cache", ["decoder", "cache"])
    if spec.layer_sharing is not None:
        need_field(spec.layer_sharing.groups, ["layer_sharing", "groups"])
        need_field(spec.layer_sharing.inner, ["layer_sharing", "inner"])
    if seq2seq:
        # The start token's field exactly when the decoder inputs start with it (`shift: start_token`).
        shifted_after = ("start_token",) if spec.decoder.shift == "start_token" else ()
        if spec.decoder.shift != "start_token" and spec.decoder.start_token is not None:
            raise fail(f"with `shift: {spec.decoder.shift}` the decoder inputs start with each row's last non-pad token, not a configured one: remove `start_token` (or write `shift: start_token`)", ["decoder", "start_token"])
        for name in ("layers", "heads", "ffn_size") + shifted_after:
            if getattr(spec.decoder, name) is None:
                raise fail(f"a names-layout decoder stack needs `decoder.{name}: <config field>`", ["decoder"])
            need_field(getattr(spec.decoder, name), ["decoder", name])
        need_field(ffn.activation_dropout, ["feed_forward", "activation_dropout"])
        if spec.layerdrop is not None:
            if spec.layerdrop.encoder is None:
                raise fail("a names-layout encoder-decoder skips blocks of both stacks: name the encoder's LayerDrop probability too (`encoder: <config field>`)", ["layerdrop"])
            need_field(spec.layerdrop.encoder, ["layerdrop", "encoder"])
            need_field(spec.layerdrop.decoder, ["layerdrop", "decoder"])
    if spec.layerdrop is not None and c.rule_kind == support.DECODER_ONLY:
        _need_float_field(c, spec.layerdrop.decoder, ["layerdrop", "decoder"])
        if spec.feed_forward.experts is not None and spec.feed_forward.experts.router_logits is not None:
            raise fail("a block LayerDrop skips computes no router logits: remove `layerdrop` or `feed_forward.experts.router_logits`", ["layerdrop"])

    if isinstance(emb.scale, str):
        need_field(emb.scale, ["embeddings", "scale"])
        scale_field = c.field(emb.scale)
        if scale_field is not None and scale_field.type != "bool":
            raise fail(f"`scale` names a boolean config field (word embeddings times sqrt(hidden_size) when true), not the {scale_field.type} field {emb.scale!r}", ["embeddings", "scale"])


def _resolve_head_components(c: _Context) -> None:
    """The components heads are built from: sentence head, classifier dropout, LM head, discriminator, summary."""
    spec, fail, need_field = c.spec, c.fail, c.need_field
    if spec.sentence_head is not None:
        need_field(spec.sentence_head.dropout, ["sentence_head", "dropout"])
        if isinstance(spec.sentence_head.num_labels, str):
            need_field(spec.sentence_head.num_labels, ["sentence_head", "num_labels"])
    if spec.classifier_dropout is not None:
        need_field(spec.classifier_dropout.field, ["classifier_dropout", "field"])
        need_field(spec.classifier_dropout.fallback, ["classifier_dropout", "fallback"])
    if spec.lm_head is not None and spec.lm_head.logits_divisor is not None:
        if spec.lm_head.layout != "linear":
            raise fail("`logits_divisor` divides the logits of the `layout: linear` LM head: write `layout: linear` or remove it", ["lm_head", "logits_divisor"])
        _need_float_field(c, spec.lm_head.logits_divisor, ["lm_head", "logits_divisor"])
    if spec.lm_head is not None:
        # (Only decoder-only stacks soft-cap their logits, whose LM head is `layout: linear`: the rules refuse others.)
        _need_float_field(c, spec.lm_head.logits_softcap, ["lm_head", "logits_softcap"])
    if spec.lm_head is not None and spec.lm_head.logits_multiplier is not None:
        if spec.lm_head.layout != "linear":
            raise fail("`logits_multiplier` scales the logits of the `layout: linear` LM head: write `layout: linear` or remove it", ["lm_head", "logits_multiplier"])
        _need_float_field(c, spec.lm_head.logits_multiplier, ["lm_head", "logits_multiplier"])
    if spec.lm_head is not None and spec.lm_head.layout != "linear":
        need_field(spec.lm_head.activation.field, ["lm_head", "activation", "field"])
        if spec.lm_head.decoder is not None:
            if spec.lm_head.layout != "flat":
                raise fail("a vocabulary projection outside the head (`decoder`) follows a `layout: flat` head (`dense`, activation, norm): write `layout: flat`", ["lm_head", "decoder"])
            if "." in spec.lm_head.path:
                raise fail("with `decoder` at the top level, the head before it is a top-level module too: write `path: <attr>`", ["lm_head", "path"])
    if spec.lm_head is not None and (spec.lm_head.size is not None or not spec.lm_head.tied):
        at = ["lm_head", "size" if spec.lm_head.size is not None else "tied"]
        if spec.lm_head.layout != "flat" or spec.lm_head.decoder is not None:
            raise fail("a head width of its own and an untied vocabulary projection belong to a `layout: flat` head that holds its vocabulary projection (`<path>.decoder`, no top-level `decoder`): write `layout: flat` without `decoder`, or remove `size` and `tied`", at)
        if spec.lm_head.size is not None:
            need_field(spec.lm_head.size, ["lm_head", "size"])
            if spec.lm_head.tied:
                raise fail("a head width of its own cannot feed a vocabulary projection tied to the word embeddings: add `tied: false`", ["lm_head", "size"])
        if not spec.lm_head.tied:
            tie = next((f for f in spec.config.fields if f.name == "tie_word_embeddings"), None)
            if tie is None or tie.choices != [False]:
                raise fail("an untied LM head needs the configuration to refuse tying: declare `{name: tie_word_embeddings, type: bool, default: false, choices: [false], unsupported: \"<reason>\"}`", ["lm_head", "tied"])
            if any(h.kind == "pretraining" for h in spec.heads):
                raise fail("the pretraining head runs a tied LM head: remove `tied: false` or the pretraining head", ["lm_head", "tied"])
    if spec.lm_head is not None and spec.lm_head.separate_bias and (spec.lm_head.layout != "flat" or spec.lm_head.decoder is not None or not spec.lm_head.tied):
        raise fail("`separate_bias` belongs to a tied `layout: flat` head that holds its vocabulary projection (`<path>.decoder`, no top-level `decoder`, no `tied: false`): remove `separate_bias` or write such a head", ["lm_head", "separate_bias"])
    if spec.discriminator_head is not None:
        need_field(spec.discriminator_head.activation.field, ["discriminator_head", "activation", "field"])
    if spec.sequence_summary is not None:
        for name in ("type", "use_proj", "activation", "last_dropout"):
            need_field(getattr(spec.sequence_summary, name), ["sequence_summary", name])


def _resolve_head(c: _Context, i: int, h: schema.HeadSpec, suffix: str, outputs: OutputCatalog, arguments: schema.ArgumentsSpec) -> Head:
    """One head: its options for the stack kind, the components it needs, its output class and forward arguments."""
    spec, fail, need_field, seq2seq, decoder_only, rule_kind = (
        c.spec, c.fail, c.need_field, c.seq2seq, c.decoder_only, c.rule_kind
    )
    att = spec.attention
    loc = ["heads", i]
    if h.index is not None and not (decoder_only and h.style == "last_token"):
        raise fail("`index` chooses the token the `style: last_token` sequence classifier of a decoder-only stack reads: remove it", loc + ["index"])
    if h.loss_over is not None and rule_kind not in (support.DECODER_ONLY, support.NAMES_ENCODER):
        raise fail("`loss_over` (the tokens a token-classification loss covers) is rendered only in decoder-only stacks and names-layout encoders: remove it", loc + ["loss_over"])
    if h.loss_over is not None and h.kind != "token_classification":
        raise fail(f"`loss_over` chooses the tokens the loss of token_classification covers, not of {h.kind}: remove it", loc + ["loss_over"])
    if not isinstance(h.dropout, (float, schema.AttributeRateSpec)):
        need_field(h.dropout, loc + ["dropout"])
    _check_names_head(h, rule_kind, loc, fail, spec.classifier_dropout is not None, spec)
    if h.kind in ("masked_lm", "pretraining") and spec.lm_head is not None and spec.lm_head.layout == "transform" and not isinstance(spec.norm.eps, str):
        raise fail("the `transform` LM head's LayerNorm reads its epsilon from the config: write `norm.eps: <config field>`, or `lm_head.layout: names`", ["norm", "eps"])
    # The heads a names-layout encoder renders through the shared heads templates hold the base model at the
    # spec's `base_model_prefix`.
    as_encoder_stacks = h.kind in ("next_sentence", "pretraining", "discriminator") or h.style == "dense_act" or h.summary == "sequence_summary" or (
        h.kind == "masked_lm" and spec.lm_head is not None and spec.lm_head.layout in ("transform", "flat"))
    if rule_kind == support.NAMES_ENCODER and as_encoder_stacks and h.base_model_prefix not in (None, spec.base_model_prefix):
        raise fail(f"head {h.kind!r} is rendered by the shared heads templates, its base model at `{spec.base_model_prefix}` (the spec's `base_model_prefix`): remove `base_model_prefix`", loc + ["base_model_prefix"])
    requires = {
        "pretraining": ["lm_head", "sentence_head", "pooler"],
        "masked_lm": ["lm_head"],
        "causal_lm": ["lm_head", "decoder"],
        "next_sentence": ["sentence_head", "pooler"],
        "discriminator": ["discriminator_head"],
        "conditional_generation": ["lm_head"],
    }.get(h.kind, [])
    if "pooled" in (h.style, h.summary):
        requires.append("pooler")
    if h.summary == "sequence_summary":
        requires.append("sequence_summary")
    if rule_kind == support.NAMES_ENCODER and h.kind == "causal_lm" and spec.lm_head is not None and spec.lm_head.layout not in ("transform", "flat"):
        raise fail("the causal LM of a names-layout encoder is rendered with the shared heads templates' LM head: write `lm_head.layout: transform` or `flat`", ["lm_head", "layout"])
    if h.kind in ("seq2seq", "conditional_generation") and not seq2seq:
        raise fail(f"head {h.kind!r} needs a decoder stack (`stack: encoder-decoder`)", loc + ["kind"])
    if seq2seq and h.kind == "token_classification" and "encoder" not in {x.kind for x in spec.heads}:
        raise fail("token_classification of an encoder-decoder model wraps the encoder model: list `kind: encoder` too", loc + ["kind"])
    if seq2seq and h.kind == "sequence_classification" and h.style is not None:
        raise fail("sequence_classification of an encoder-decoder model classifies the decoder output at the last end-of-sequence token: it takes no `style`", loc + ["style"])
    if h.labels_disable_cache is not None and not (h.kind == "causal_lm" or (h.kind == "conditional_generation" and rule_kind == support.NAMES_ENCODER_DECODER)):
        raise fail(f"`labels_disable_cache` only applies to causal_lm and to conditional_generation of names-layout encoder-decoder stacks, not {h.kind}: remove it", loc + ["labels_disable_cache"])
    # Default: a causal LM keeps returning the cache given labels; an encoder-decoder's generation head does not.
    labels_disable_cache = h.labels_disable_cache if h.labels_disable_cache is not None else h.kind == "conditional_generation"
    if h.encoder_states is not None:
        if att.cross_module is None or seq2seq:
            raise fail("`encoder_states` only applies to a spec with `attention.cross_module` (a decoder's cross-attention): remove it", loc + ["encoder_states"])
        if h.kind not in ("masked_lm", "causal_lm"):
            raise fail(f"`encoder_states` only applies to masked_lm and causal_lm heads, not {h.kind}: remove it", loc + ["encoder_states"])
    encoder_states = (
        not seq2seq and att.cross_module is not None and h.kind in ENCODER_STATE_HEAD_KINDS and h.encoder_states is not False
    )
    activation = h.activation
    if h.style == "dense_act":
        activation = activation or schema.HeadActivation(field="hidden_act")
        need_field(activation.field, loc + ["activation", "field"])
    elif h.activation is not None:
        raise fail("`activation` only applies to `style: dense_act` classification heads", loc + ["activation"])
    if h.kind == "pretraining" and spec.lm_head is not None and spec.lm_head.decoder is not None:
        raise fail("the pretraining head runs the LM head inside its container: remove `lm_head.decoder` or the pretraining head", loc + ["kind"])
    for component in requires:
        if getattr(spec, component) is None:
            raise fail(f"head {h.kind!r} needs the `{component}` component, which this spec does not define", loc + ["kind"])
    needs_dropout = h.kind in ("sequence_classification", "token_classification") or h.summary == "pooled"
    output = h.output or (_SEQ2SEQ_HEAD_OUTPUT if seq2seq else _DECODER_ONLY_HEAD_OUTPUT if decoder_only else {}).get(h.kind) or _HEAD_OUTPUT.get(h.kind)
    if h.kind == "base":
        if spec.pooler is not None and spec.decoder is not None:
            output = h.output or "BaseModelOutputWithPoolingAndCrossAttentions"
        elif spec.pooler is not None:
            output = h.output or "BaseModelOutputWithPooling"
        elif spec.decoder is not None:
            output = h.output or "BaseModelOutputWithPastAndCrossAttentions"
        else:
            output = h.output or "BaseModelOutput"
    if output is None:
        raise fail(f"head {h.kind!r} needs `output: <class from specs/outputs.yaml>`", loc)
    if output not in outputs.frameworks:
        raise fail(f"output class {output!r} is not in the output catalog", loc + ["output"])
    missing = [fw for fw in FRAMEWORKS if fw not in outputs.frameworks[output]]
    if missing:
        raise fail(
            f"output class {output!r} has no {' / '.join(missing)} class: add {missing} to its `frameworks` in "
            f"{outputs.source} (or leave `frameworks` out: every framework), or pick another class",
            loc + ["output"] if h.output else loc,
        )
    if h.kind == "base" and not seq2seq:
        # What the bare model returns must have a field for it: a decoder's cache, the cross-attentions.
        fields_of = {f.name for f in outputs.get(output).fields}
        needed = (["past_key_values"] if spec.decoder is not None and spec.decoder.cache else []) + (
            ["cross_attentions"] if att.cross_module is not None else []
        )
        missing = [name for name in needed if name not in fields_of]
        if missing:
            raise fail(f"output class {output!r} has no field {', '.join(map(repr, missing))}, which this base model returns", loc + ["output"])
    # The router logits (base model and causal LM) and the auxiliary loss (causal LM) of `feed_forward.experts.router_logits`.
    moe_logits = spec.feed_forward.experts is not None and spec.feed_forward.experts.router_logits is not None
    returned = {"base": ["router_logits"], "causal_lm": ["router_logits", "aux_loss"]}.get(h.kind, []) if moe_logits and decoder_only else []
    fields_of = {f.name for f in outputs.get(output).fields}
    missing = [name for name in returned if name not in fields_of]
    if missing:
        raise fail(f"output class {output!r} has no field {', '.join(map(repr, missing))}, which this model returns with `feed_forward.experts.router_logits`: name a class with {'it' if len(missing) == 1 else 'them'} (e.g. `MoeModelOutputWithPast` for the base model, `MoeCausalLMOutputWithPast` for the causal LM)", loc + ["output"] if h.output else loc)
    unset = [name for name in ("router_logits", "aux_loss") if name in fields_of and name not in returned]
    if unset:
        where = "this head does not return them" if moe_logits else "the spec renders no router logits (`feed_forward.experts.router_logits`)"
        fields = f"the field {unset[0]!r}" if len(unset) == 1 else f"the fields {', '.join(map(repr, unset))}"
        raise fail(f"output class {output!r} has {fields}, but {where}: name a class without {'it' if len(unset) == 1 else 'them'}", loc + ["output"] if h.output else loc)
    if not h.sinusoidal_saved and spec.embeddings.sinusoidal is True and spec.embeddings.sinusoidal_layout == "fairseq":
        raise fail("fairseq's always fixed table is a constant the model computes, never saved in checkpoints: remove `sinusoidal_saved`", loc + ["sinusoidal_saved"])
    if not h.sinusoidal_saved and (spec.embeddings.sinusoidal is not True or rule_kind != support.NAMES_ENCODER_DECODER):
        # With a config flag, the tables may be learned: they must then be saved; decoder-only stacks never save them.
        raise fail("`sinusoidal_saved: false` leaves the position tables of a names-layout encoder-decoder with always fixed sinusoids out of the head's checkpoints (decoder-only stacks hold such a table as a computed constant, never saved): write `embeddings.sinusoidal: true` in a names-layout encoder-decoder or remove `sinusoidal_saved`", loc + ["sinusoidal_saved"])
    if rule_kind == support.NAMES_ENCODER_DECODER and h.kind in ("encoder", "token_classification") and spec.embeddings.vocabularies is not None:
        raise fail(f"head {h.kind!r} runs the encoder on the one vocabulary matrix both stacks share: remove it or `embeddings.vocabularies`", loc + ["kind"])
    if h.inline_base:
        if rule_kind != support.NAMES_ENCODER_DECODER:
            raise fail("`inline_base` (a head holding the base model's modules itself) is rendered only in names-layout encoder-decoder stacks: remove it", loc + ["inline_base"])
        if h.kind not in INLINE_BASE_HEAD_KINDS:
            raise fail(f"head {h.kind!r} cannot hold the base model's modules itself (only {', '.join(INLINE_BASE_HEAD_KINDS)} can): remove `inline_base`", loc + ["inline_base"])
        if h.base_model_prefix is not None:
            raise fail("a head holding the base model's modules itself (`inline_base`) has no base-model attribute: remove `base_model_prefix`", loc + ["base_model_prefix"])
        if spec.embeddings.vocabularies is not None or spec.embeddings.position_accessors:
            key = "vocabularies" if spec.embeddings.vocabularies is not None else "position_accessors"
            raise fail(f"a head holding the base model's modules itself (`inline_base`) is rendered without `embeddings.{key}`: remove `inline_base` or `embeddings.{key}`", loc + ["inline_base"])
    uses_pooler = spec.pooler is not None and (
        h.kind in ("base", "pretraining", "next_sentence") or h.style == "pooled" or h.summary == "pooled"
    )
    args = {fw: _head_arguments(spec, h.kind, fw, arguments, encoder_states, decoder_only, seq2seq) for fw in FRAMEWORKS}
    linear = _NAMES_HEAD_LINEAR.get(rule_kind, {}).get(h.kind, (None, None))
    return Head(
        kind=h.kind,
        suffix=suffix,
        output=output,
        uses_pooler=uses_pooler,
        style=h.style,
        summary=h.summary,
        dropout=h.dropout,
        activation=activation,
        labels_disable_cache=labels_disable_cache,
        encoder_states=encoder_states,
        args=args,
        doc=_pooled_head_doc(spec, h) or ((_SEQ2SEQ_HEAD_DOC if seq2seq else _DECODER_ONLY_HEAD_DOC if decoder_only else _NAMES_ENCODER_HEAD_DOC).get(h.kind) or _HEAD_DOC[h.kind]).format(title=spec.title),
        path=h.path or linear[0],
        bias=h.bias if h.bias is not None else linear[1],
        pre_classifier=h.pre_classifier,
        transform=h.transform,
        pooling=h.pooling,
        first_attended=h.first_attended,
        base_model_prefix=h.base_model_prefix if h.base_model_prefix != spec.base_model_prefix else None,
        sinusoidal_saved=h.sinusoidal_saved,
        inline_base=h.inline_base,
        index=h.index or "last_non_pad",
        loss_over=h.loss_over or "labels",
        name=h.class_name,
        classifier_dropout=spec.classifier_dropout if needs_dropout and h.dropout is None else None,
    )


def _resolve_heads(c: _Context, outputs: OutputCatalog, arguments: schema.ArgumentsSpec) -> list[Head]:
    """`heads`: each once, distinct class names, the bare model first; `flax_keyword_arguments` some head takes."""
    spec, fail, seq2seq = c.spec, c.fail, c.seq2seq
    _check_torch_positional(c, arguments)
    _check_flax_positional(c, arguments)
    heads: list[Head] = []
    seen: set[str] = set()
    suffixes: dict[str, str] = {}
    for i, h in enumerate(spec.heads):
        loc = ["heads", i]
        if h.kind in seen:
            raise fail(f"head {h.kind!r} is listed twice", loc + ["kind"])
        seen.add(h.kind)
        suffix = h.suffix or _HEAD_SUFFIX[h.kind]
        if h.class_name is not None and h.suffix is not None:
            raise fail("`class_name` is the whole class name: remove `suffix`", loc + ["class_name"])
        name = h.class_name or spec.class_prefix + suffix
        if name in suffixes:
            raise fail(f"heads {suffixes[name]!r} and {h.kind!r} would both be named {name}: give one another `suffix` or `class_name`", loc + ["class_name" if h.class_name else "suffix"])
        suffixes[name] = h.kind
        heads.append(_resolve_head(c, i, h, suffix, outputs, arguments))
    taken = {a.name for head in heads for a in head.args["flax"] if not a.placeholder}
    for i, name in enumerate(spec.flax_keyword_arguments):
        if name not in taken:
            raise fail(
                f"no head of this architecture takes `{name}`: remove it from `flax_keyword_arguments`",
                ["flax_keyword_arguments", i],
            )
    first = "seq2seq" if seq2seq else "base"
    if heads[0].kind != first:
        raise fail(f"the first head must be `kind: {first}` (the bare model every head wraps)", ["heads", 0, "kind"])

    return heads


def _check_torch_positional(c: _Context, arguments: schema.ArgumentsSpec) -> None:
    """`torch_positional_order`: known input names, each once, no labels; `heads` only of this architecture's heads."""
    order = c.spec.torch_positional_order
    if order is None:
        return
    kinds = {h.kind for h in c.spec.heads}
    lists = [(["torch_positional_order", "inputs"], order.inputs)]
    lists += [(["torch_positional_order", "heads", kind], names) for kind, names in order.heads.items()]
    for loc, names in lists:
        if len(loc) == 3 and loc[2] not in kinds:
            raise c.fail(f"this architecture has no head {loc[2]!r}: remove it (or add the head to `heads`)", loc)
        for i, name in enumerate(names):
            if name in _LABEL_NAMES[1:]:
                raise c.fail(f"write `labels` where the head's labels go (`{name}` with the other labels of a question-answering head), or leave them out: before `use_cache`, else before the output flags", loc + [i])
            if name not in arguments.arguments:
                raise c.fail(f"unknown argument `{name}`: write one of the inputs in specs/arguments.yaml", loc + [i])
            if name in names[:i]:
                raise c.fail(f"`{name}` is listed twice: keep its first place", loc + [i])


def _check_flax_positional(c: _Context, arguments: schema.ArgumentsSpec) -> None:
    """`flax_positional_order`: known arguments a decoder-only or names-layout encoder Flax head takes (or the encoder
    states, kept as placeholders), each once, `params` among them, no labels."""
    order = c.spec.flax_positional_order
    if order is None:
        return
    if c.stack == support.ENCODER:
        taken = {a.name for h in c.spec.heads for a in _head_arguments(c.spec, h.kind, "torch", arguments, False)}
        taken |= {"params", "dropout_rng", "train", "output_attentions", "output_hidden_states", "return_dict"}
    else:
        token_type = c.spec.embeddings.token_type == "word"
        router_logits = c.spec.feed_forward.experts is not None and c.spec.feed_forward.experts.router_logits is not None
        taken = {a.name for h in c.spec.heads for a in _decoder_only_arguments(h.kind, "flax", arguments, token_type=token_type, router_logits=router_logits)}
    for i, name in enumerate(order):
        loc = ["flax_positional_order", i]
        if name in _LABEL_NAMES:
            raise c.fail(f"remove `{name}`: labels follow the other arguments, by keyword", loc)
        if name not in taken and name not in _ENCODER_STATES:
            allowed = ", ".join(f"`{n}`" for n in sorted(taken - set(_LABEL_NAMES)) + list(_ENCODER_STATES))
            raise c.fail(f"unknown argument `{name}`: write one of {allowed}", loc)
        if name in order[:i]:
            raise c.fail(f"`{name}` is listed twice: keep its first place", loc)
    if "params" not in order:
        raise c.fail("list `params` at its place in transformers' Flax order", ["flax_positional_order"])


def resolve_architecture(
    loaded: LoadedYaml, outputs: OutputCatalog, arguments: schema.ArgumentsSpec
) -> Architecture:
    """A spec file -> the render model: one resolver per component, in the order a spec reads (config, embeddings,
    attention, feed-forward, norm, positions, stacks, head components, heads), each failing at the spec location it
    checks."""
    spec: schema.ArchitectureSpec = validate(loaded, schema.ArchitectureSpec)
    path = loaded.path
    if spec.name != path.stem:
        raise SpecError(path, f"name {spec.name!r} must match the file name {path.stem!r}", line=loaded.line_of(["name"]), field="name")
    fields = {f.name: f for f in spec.config.fields}
    fields.update(_sub_config_fields(spec.config.fields))
    c = _Context(loaded, spec, fields, set(fields) | set(spec.config.attribute_map) | set(BASE_CONFIG_FIELDS))
    _resolve_config(c)
    _check_head_count(c)
    support.check(spec, c.stack, c.fail)
    _resolve_embeddings(c)
    _resolve_attention(c)
    _resolve_feed_forward(c)
    _resolve_residual(c)
    _resolve_norm(c)
    positions = _resolve_position(c)
    _resolve_stacks(c)
    _resolve_head_components(c)
    task_type = spec.embeddings.task_type
    if task_type is not None and task_type.argument not in arguments.arguments:
        raise c.fail(f"`argument` {task_type.argument!r} has no documentation: add it to specs/arguments.yaml (`arguments:`)", ["embeddings", "task_type", "argument"])
    heads = _resolve_heads(c, outputs, arguments)
    stack, seq2seq, decoder_only, fail = c.stack, c.seq2seq, c.decoder_only, c.fail
    emb, att = spec.embeddings, spec.attention

    config_fields = tuple(
        ConfigField(
            name=f.name,
            type=f.type,
            annotation=(
                f"Union[{f.config_class}, dict, None]" if f.type == "config"
                else "Union[int, list[int]]" if isinstance(f.default, list) and f.type == "int" else f"Optional[{_PY_TYPES[f.type]}]" if f.optional else _PY_TYPES[f.type]
            ),
            default=f.default,
            default_repr=repr(float(f.default) if f.type == "float" and f.default is not None else f.default),
            doc=f.doc,
            # The constructor's parameters are the fields' own names: aliases of `attribute_map` resolved.
            default_from=" // ".join(spec.config.attribute_map.get(part, part) for part in f.default_from.split(" // ")) if f.default_from else None,
            choices=f.choices,
            unsupported=f.unsupported,
            minimum=f.minimum,
            none_unless=f.none_unless,
            default_repeat=spec.config.attribute_map.get(f.default_repeat, f.default_repeat) if f.default_repeat else None,
            default_empty=f.default_empty,
            default_tail=tuple(spec.config.attribute_map.get(n, n) for n in (f.default_tail.start, f.default_tail.when)) if f.default_tail else None,
            default_expand=tuple(spec.config.attribute_map.get(n, n) for n in (f.default_expand.pairs, f.default_expand.length)) if f.default_expand else None,
            default_period=spec.config.attribute_map.get(f.default_period, f.default_period) if isinstance(f.default_period, str) else f.default_period,
            default_period_offset=f.default_period_offset,
            default_match=(
                (
                    spec.config.attribute_map.get(f.default_match.source, f.default_match.source),
                    repr(f.default_match.entry),
                    spec.config.attribute_map.get(f.default_match.flag, f.default_match.flag) if f.default_match.flag else None,
                    spec.config.attribute_map.get(f.default_match.when, f.default_match.when) if f.default_match.when else None,
                )
                if f.default_match
                else None
            ),
            upstream=f.upstream,
            config_class=f.config_class,
            fields=tuple(
                ConfigField(
                    name=sub.name,
                    type=sub.type,
                    annotation=f"Optional[{_PY_TYPES[sub.type]}]" if sub.optional else _PY_TYPES[sub.type],
                    default=sub.default,
                    default_repr=repr(float(sub.default) if sub.type == "float" and sub.default is not None else sub.default),
                    doc=sub.doc,
                    default_from=None,
                    choices=sub.choices,
                    unsupported=sub.unsupported,
                    minimum=sub.minimum,
                )
                for sub in f.fields or ()
            ),
        )
        for f in spec.config.fields
    )

    experts = spec.feed_forward.experts
    sizes = ["vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers", emb.size, att.kv_heads, spec.feed_forward.size if spec.feed_forward.size_multiple is None else None,
             *((experts.count, experts.top_k) if experts is not None else ())]
    declared = {f.name: f for f in spec.config.fields}
    fields_models_need = tuple(dict.fromkeys(
        name for name in (spec.config.attribute_map.get(s, s) for s in sizes if isinstance(s, str))
        if name in declared and declared[name].optional and declared[name].default is None and not declared[name].default_from
    ))

    names = _resolve_names(loaded, spec, fail, seq2seq)
    cross_attention = None if seq2seq else att.cross_module
    keys_needing_config_flag = {}
    if cross_attention is not None:
        layers = re.escape(names.layers)
        keys_needing_config_flag["add_cross_attention"] = (rf"(^|\.){layers}\.\d+\.{cross_attention}\.",)
    if names is not None and isinstance(names.qk_norm, str):
        # The norms of the queries and keys exist only when their flag is set.
        layers = re.escape(names.layers)
        keys_needing_config_flag[names.qk_norm] = tuple(
            rf"(^|\.){layers}\.\d+\.{re.escape(names.roles[role])}\." for role in ("attention.q_norm", "attention.k_norm")
        )
    if names is not None and spec.norm.pre_when is not None and names.final_norm is not None:
        # The final norm exists only in pre-norm stacks (the flag set).
        keys_needing_config_flag[spec.config.attribute_map.get(spec.norm.pre_when, spec.norm.pre_when)] = (rf"(^|\.){re.escape(names.final_norm)}\.",)
    if emb.task_type is not None:
        table = re.escape(names.task_type_embeddings)
        keys_needing_config_flag[emb.task_type.flag] = (rf"(^|\.){table}\.",)
    test_variants = _resolve_test_variants(spec, fail)

    lm_path = tuple(spec.lm_head.path.split(".")) if spec.lm_head else ()
    sent_path = tuple(spec.sentence_head.path.split(".")) if spec.sentence_head else ()
    return Architecture(
        spec=spec,
        spec_file=f"specs/{path.name}",
        name=spec.name,
        prefix=spec.class_prefix,
        model_type=spec.model_type,
        base_model_prefix=spec.base_model_prefix,
        title=spec.title,
        paper=spec.paper,
        config_class=f"{spec.class_prefix}Config",
        config_doc=spec.config.doc,
        config_fields=config_fields,
        attribute_map=dict(spec.config.attribute_map),
        fields_models_need=fields_models_need,
        embeddings=emb,
        embedding_size=emb.size,
        lm_size=(spec.lm_head.size if spec.lm_head is not None and spec.lm_head.size else None) or emb.size,
        relative=positions.relative,
        bucketed=positions.bucketed,
        seq2seq=seq2seq,
        attention=spec.attention,
        feed_forward=spec.feed_forward,
        norm=spec.norm,
        # `copy_head_mask` as rendered: only when told to.
        decoder=spec.decoder.model_copy(update={"copy_head_mask": spec.decoder.copy_head_mask is True}) if spec.decoder is not None else None,
        pooler=spec.pooler,
        lm_head=spec.lm_head,
        lm_head_path=lm_path,
        sentence_head=spec.sentence_head,
        sentence_head_path=sent_path,
        discriminator_head=spec.discriminator_head,
        sequence_summary=spec.sequence_summary,
        classifier_dropout=spec.classifier_dropout,
        heads=tuple(heads),
        has_token_type=emb.token_type is True,
        task_type=emb.task_type,
        token_type_word=emb.token_type == "word",
        has_position_ids=emb.position == "absolute" and (decoder_only or ((emb.position_padding_idx is not None or emb.position_ids) and not seq2seq)),
        position_table=positions.position_table,
        cross_attention=cross_attention,
        keys_needing_config_flag=keys_needing_config_flag,
        test_variants=test_variants,
        stack=stack,
        names=names,
    )



# Keys of a test variant that shape the test inputs rather than the model, with their values.
TEST_INPUT_OPTIONS = {"padding_side": ("right", "left")}


def _resolve_test_variants(spec: schema.ArchitectureSpec, fail) -> dict[str, dict[str, Any]]:
    """The `test.variants` of a spec: every key is a config field the spec declares (or maps, or the base config
    has), and a declared field's value has the field's type and is one of its choices."""
    if spec.test is None:
        return {}
    fields = {f.name: f for f in spec.config.fields}
    known = set(fields) | set(spec.config.attribute_map) | set(BASE_CONFIG_FIELDS)
    for variant, kwargs in spec.test.variants.items():
        for key, value in kwargs.items():
            loc = ["test", "variants", variant, key]
            if key in TEST_INPUT_OPTIONS:
                if value not in TEST_INPUT_OPTIONS[key]:
                    raise fail(f"{key} is one of {list(TEST_INPUT_OPTIONS[key])}, not {value!r}", loc)
                continue
            if key not in known:
                raise fail(f"{key!r} is not a config field of this spec" + _suggest(key, sorted(known)), loc)
            f = fields.get(spec.config.attribute_map.get(key, key))
            if f is None or (value is None and f.optional):
                continue
            if f.type == "repeats":
                if not schema._is_repeats(value):
                    raise fail(f"{value!r} is not a list of `[entries, count]` pairs (config field {f.name!r})", loc)
                continue
            if f.type == "config":
                # A sub-configuration: a mapping of its fields.
                if not isinstance(value, dict):
                    raise fail(f"a test variant sets the sub-configuration {f.name!r} as a mapping of its fields, e.g. `{f.name}: {{{f.fields[0].name}: ...}}`", loc)
                subs = {sub.name: sub for sub in f.fields}
                for name, sub_value in value.items():
                    sub = subs.get(name)
                    if sub is None:
                        raise fail(f"{name!r} is not a field of the sub-configuration {f.name!r}" + _suggest(name, sorted(subs)), loc + [name])
                    if sub_value is None and sub.optional:
                        continue
                    if not schema._has_type(sub_value, sub.type) or (sub.choices is not None and sub_value not in sub.choices):
                        raise fail(f"{sub_value!r} is not a value of the `{sub.type}` field {f.name}.{name}" + (f" (its `choices`: {sub.choices})" if sub.choices else ""), loc + [name])
                continue
            if f.type == "dict" and f.unsupported is None and isinstance(value, dict):
                continue  # the rotary positions' scaling (`position.scaling`): the configuration checks the mapping
            if f.type == "list" and isinstance(value, list) and all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in value):
                if f.choices is not None and any(v not in f.choices for v in value):
                    raise fail(f"{value!r}: each entry of the list field {f.name!r} is one of its `choices` {f.choices}", loc)
                continue  # a list of numbers or names (the configuration checks its length and entries)
            if f.type in ("dict", "list"):
                raise fail(f"a test variant sets scalars, lists of numbers or names, `repeats` pairs and the mapping of the `dict` field of `position.scaling`: leave the {f.type} field {f.name!r} out", loc)
            if not schema._has_type(value, f.type):
                raise fail(f"{value!r} is not of type {f.type} (config field {f.name!r})", loc)
            if f.choices is not None and value not in f.choices:
                raise fail(f"{value!r} is not one of the choices of {f.name!r}: {f.choices}", loc)
        _check_variant_kv_heads(spec, fields, variant, kwargs, fail)
    return {variant: dict(kwargs) for variant, kwargs in spec.test.variants.items()}


def _check_variant_kv_heads(spec: schema.ArchitectureSpec, fields: dict, variant: str, kwargs: dict, fail) -> None:
    """A test variant's query heads split into its key/value heads. A variant that leaves the key/value heads out
    gets their default, which is not always None (as many as the query heads): some configurations default to 8 or
    32, which a copied tiny variant of 4 heads does not split into."""
    kv_field = spec.attention.kv_heads
    if kv_field is None or kv_field not in fields:
        return
    amap = spec.config.attribute_map
    given = {amap.get(key, key): value for key, value in kwargs.items()}
    heads_field = amap.get("num_attention_heads", "num_attention_heads")
    heads = given.get(heads_field, fields[heads_field].default if heads_field in fields else None)
    kv = given.get(kv_field, fields[kv_field].default)
    if kv is None or not isinstance(heads, int) or not isinstance(kv, int):
        return
    if kv <= 0 or heads % kv:
        where = "" if kv_field in given else ", its default: set it in the variant"
        raise fail(f"{heads_field} ({heads}) is not a multiple of {kv_field} ({kv}{where})", ["test", "variants", variant])


def _head_arguments(
    spec: schema.ArchitectureSpec, kind: str, framework: str, arguments: schema.ArgumentsSpec, encoder_states: bool,
    decoder_only: bool = False,
    seq2seq: bool = False,
) -> tuple[Argument, ...]:
    if seq2seq:
        start = getattr(arguments.shift_docs, spec.decoder.shift).format(start_token=spec.decoder.start_token)
        return tuple(
            replace(a, doc=a.doc.replace("{decoder_start}", start))
            for a in _seq2seq_arguments(kind, framework, arguments, spec.embeddings.position == "absolute")
        )
    if decoder_only:
        token_type = spec.embeddings.token_type == "word"
        experts = spec.feed_forward.experts
        router_logits = experts is not None and experts.router_logits is not None
        order = spec.torch_positional_order
        if framework == "torch" and order is not None:
            names = order.heads.get(kind, order.inputs)
            args = _decoder_only_arguments(kind, framework, arguments, token_type=token_type, router_logits=router_logits)
            args = _torch_positional(args, names, kind, arguments)
        else:
            args = _decoder_only_arguments(kind, framework, arguments, token_type, spec.flax_positional_order, router_logits)
        if router_logits and kind == "base" and not experts.base_reads_config:
            # The base model's flag falls back to False; only the causal LM reads the configuration.
            args = tuple(
                replace(a, doc=f"Whether to return the router logits of the mixture-of-experts layers (`router_logits`, one tensor of shape `(batch_size * sequence_length, num_experts)` per layer). `None`: no router logits (the configuration's `{experts.router_logits}` is the causal LM's default only).")
                if a.name == "output_router_logits" else a
                for a in args
            )
        return args
    names: list[str] = ["input_ids", "attention_mask"]
    if spec.embeddings.token_type in (True, "word"):
        names.append("token_type_ids")
    task_type = spec.embeddings.task_type.argument if spec.embeddings.task_type is not None else None
    if task_type is not None:
        # transformers' place of the further token types: right after the token types.
        names.append(task_type)
    if spec.embeddings.position == "absolute" and (spec.embeddings.position_padding_idx is not None or spec.embeddings.position_ids):
        # (A names-layout encoder's positions count from 0, without `position_ids` unless `embeddings.position_ids`
        # says so, or past a padding index: then they take `position_ids`.)
        names.append("position_ids")
    names += ["head_mask", "inputs_embeds"]
    if encoder_states:
        # A decoder's cross-attention reads these.
        names += ["encoder_hidden_states", "encoder_attention_mask"]
    cached = spec.decoder is not None and spec.decoder.cache and kind in ("base", "causal_lm")
    if cached:
        names += ["past_key_values", "use_cache"]
    labels = {
            "pretraining": ["labels", spec.sentence_head.label_argument if spec.sentence_head else "next_sentence_label"],
            "masked_lm": ["labels"],
            "causal_lm": ["labels"],
            "sequence_classification": ["labels"],
            "token_classification": ["labels"],
            "multiple_choice": ["labels"],
            "question_answering": ["start_positions", "end_positions"],
            "next_sentence": ["labels"],
            "discriminator": ["labels"],
        }.get(kind, [])
    if framework == "flax" and spec.flax_positional_order is not None:
        # The spec's (transformers') Flax order of the listed arguments; listed encoder states keep their places as
        # placeholders (a value raises: these encoders have no cross-attention); then, by keyword, the rest.
        flags = ["params", "dropout_rng", "train", "output_attentions", "output_hidden_states", "return_dict"]
        order = [n for n in spec.flax_positional_order if n in names + flags or n in _ENCODER_STATES]
        placeholders = tuple(n for n in order if n in _ENCODER_STATES and n not in names)
        rest = [n for n in names + flags if n not in order]
        return _document(order + rest + labels, kind, arguments, placeholders)
    if framework == "flax":
        # transformers' Flax order: the inputs its models take, then `params, dropout_rng, train`, the output flags
        # and the cache; the inputs only specformers takes (and the labels) come after, to pass by keyword.
        # transformers' Flax models of an architecture with cross-attention take the encoder states on every head
        # (and ignore them where unused): a head without cross-attention keeps their places, as placeholders.
        placeholders = _ENCODER_STATES if spec.attention.cross_module is not None and not encoder_states else ()
        order = list(_FLAX_POSITIONAL)
        if task_type is not None:
            # Further token types: with the other ids, after the token types (before the positions).
            order.insert(order.index("position_ids"), task_type)
        positional = [n for n in order if (n in names or n in placeholders) and n not in spec.flax_keyword_arguments]
        tail = ["params", "dropout_rng", "train", "output_attentions", "output_hidden_states", "return_dict"]
        tail += ["past_key_values"] if cached else []
        rest = [n for n in names if n not in positional and n != "past_key_values"]
        return _document(positional + tail + rest + labels, kind, arguments, placeholders)
    names += labels + ["output_attentions", "output_hidden_states", "return_dict"]
    if framework == "tf":
        names.append("training")
    args = _document(names, kind, arguments)
    if framework == "torch" and spec.torch_positional_order is not None:
        # transformers' PyTorch order, as the spec lists it (names-layout encoders).
        order = spec.torch_positional_order
        args = _torch_positional(args, order.heads.get(kind, order.inputs), kind, arguments)
    return args


def _decoder_only_arguments(
    kind: str, framework: str, arguments: schema.ArgumentsSpec, token_type: bool = False,
    flax_order: Optional[list[str]] = None, router_logits: bool = False,
) -> tuple[Argument, ...]:
    """transformers' GPT-2-style signatures: every head but question answering takes a cache; `token_type`: the
    heads take `token_type_ids` (embedded by the word embeddings); `flax_order`: the spec's `flax_positional_order`;
    `router_logits` (`feed_forward.experts.router_logits`): the base model and the causal LM take
    `output_router_logits` (before `return_dict`)."""
    names = ["input_ids"] + (["past_key_values"] if kind != "question_answering" else [])
    names += ["attention_mask"] + (["token_type_ids"] if token_type else []) + ["position_ids", "head_mask", "inputs_embeds"]
    if kind != "question_answering":
        names.append("use_cache")
    labels = {"question_answering": ["start_positions", "end_positions"]}.get(kind, ["labels"] if kind != "base" else [])
    if framework == "flax":
        # transformers' Flax order (the spec's, else `_FLAX_DECODER_ONLY_ORDER`); then by keyword the inputs only
        # specformers takes and the labels. Listed encoder states keep their places as placeholders (GPT-2's: its
        # Flax classes take them before `params`, these stacks have no cross-attention).
        flags = ["dropout_rng", "train", "output_attentions", "output_hidden_states", "return_dict"]
        if router_logits and kind in ("base", "causal_lm"):
            flags.insert(flags.index("return_dict"), "output_router_logits")
        order = [n for n in (flax_order or _FLAX_DECODER_ONLY_ORDER) if n in names + flags + ["params"] or n in _ENCODER_STATES]
        placeholders = tuple(n for n in order if n in _ENCODER_STATES)
        rest = [n for n in names + flags if n not in order]
        return _document(order + rest + labels, kind, arguments, placeholders)
    tail = _seq2seq_tail(framework)
    if router_logits and kind in ("base", "causal_lm"):
        tail.insert(tail.index("return_dict"), "output_router_logits")
    return _document(names + labels + tail, kind, arguments)


# transformers' usual Flax order of decoder-only classes' arguments (a spec's `flax_positional_order` replaces it).
_FLAX_DECODER_ONLY_ORDER = (
    "input_ids", "attention_mask", "position_ids", "params", "past_key_values", "dropout_rng", "train",
    "output_attentions", "output_hidden_states", "return_dict",
)


def _torch_positional(
    args: tuple[Argument, ...], order: list[str], kind: str, arguments: schema.ArgumentsSpec
) -> tuple[Argument, ...]:
    """`args` in transformers' PyTorch order (the spec's `torch_positional_order` list for this head): the listed
    inputs, the labels before `use_cache` (without it, before the output flags); a listed name the head does not
    take keeps its place as a placeholder (unless nothing the head takes follows it); then, by keyword, the rest of
    `args`."""
    taken = {a.name: a for a in args}
    labels = [n for n in _LABEL_NAMES if n in taken]
    if "labels" in order:
        # Listed: the head's labels (none, `labels`, or the span positions) take that place.
        at = order.index("labels")
        order = order[:at] + order[at + 1:]
    elif "use_cache" in order:
        at = order.index("use_cache")
    else:
        at = next((i for i, n in enumerate(order) if n in _OUTPUT_FLAGS), len(order))
    names = order[:at] + labels + order[at:]
    while names and names[-1] not in taken:
        names.pop()
    placeholders = tuple(n for n in names if n not in taken)
    listed = _document(names, kind, arguments, placeholders, _TORCH_PLACEHOLDER_DOC)
    return tuple(taken.get(a.name, a) for a in listed) + tuple(a for a in args if a.name not in names)


# Labels: placed by the head kind, or where `torch_positional_order` lists `labels`.
_LABEL_NAMES = ("labels", "start_positions", "end_positions")
_OUTPUT_FLAGS = ("output_attentions", "output_hidden_states", "return_dict")

# The model inputs that transformers' Flax encoders take before `params` (in this order), when a head has them.
_FLAX_POSITIONAL = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "position_ids",
    "head_mask",
    "encoder_hidden_states",
    "encoder_attention_mask",
)
# A decoder's cross-attention inputs.
_ENCODER_STATES = ("encoder_hidden_states", "encoder_attention_mask")

# The documentation of an input kept only for transformers' Flax positional order.
_PLACEHOLDER_DOC = (
    "Not used: this model has no cross-attention. Taken only so that the arguments keep transformers' Flax positional "
    "order (`params` and the ones after it where transformers' models take them); any value but `None` raises a "
    "`ValueError`."
)


# The documentation of an input kept only for transformers' PyTorch positional order.
_TORCH_PLACEHOLDER_DOC = (
    "Not used by this model. Taken only so that the arguments keep transformers' PyTorch positional order; any value "
    "but `None` raises a `ValueError`."
)


def _seq2seq_arguments(
    kind: str, framework: str, arguments: schema.ArgumentsSpec, absolute_positions: bool
) -> tuple[Argument, ...]:
    # `absolute_positions` (learned absolute position embeddings): transformers' Flax models take position ids, its
    # TensorFlow ones the decoder's (`decoder_position_ids`, after `decoder_attention_mask`), PyTorch's none.
    if framework == "flax":
        return _flax_seq2seq_arguments(kind, arguments, absolute_positions)
    labels = {"token_classification": ["labels"]}.get(kind, [])
    if kind == "causal_lm":
        # The decoder stack alone (transformers' `<Model>ForCausalLM`), optionally attending to encoder states.
        names = ["input_ids", "attention_mask", "encoder_hidden_states", "encoder_attention_mask", "head_mask"]
        names += ["cross_attn_head_mask", "past_key_values", "inputs_embeds", "labels", "use_cache"]
        return _document(names + _seq2seq_tail(framework), kind, arguments)
    if kind in ("encoder", "token_classification"):
        names = ["input_ids", "attention_mask", "head_mask", "inputs_embeds", *labels]
        return _document(names + _seq2seq_tail(framework), kind, arguments)
    # Sequence classification and question answering decode the input itself: they take no cache.
    cached = kind not in ("sequence_classification", "question_answering")
    names = ["input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask"]
    names += ["decoder_position_ids"] if absolute_positions and framework == "tf" else []
    names += ["head_mask", "decoder_head_mask", "cross_attn_head_mask", "encoder_outputs"]
    names += ["past_key_values"] if cached else []
    if kind == "question_answering" and framework != "flax":
        names += ["start_positions", "end_positions"]
    names += ["inputs_embeds", "decoder_inputs_embeds"]
    if kind in ("conditional_generation", "sequence_classification") and framework != "flax":
        names += ["labels"]
    names += ["use_cache"]
    return _document(names + _seq2seq_tail(framework), kind, arguments)


def _flax_seq2seq_arguments(kind: str, arguments: schema.ArgumentsSpec, absolute_positions: bool) -> tuple[Argument, ...]:
    """transformers' Flax encoder-decoder order: `input_ids, attention_mask[, decoder_input_ids,
    decoder_attention_mask]` (with learned absolute positions, `position_ids[, decoder_position_ids]` next), the
    output flags, `train, params, dropout_rng`; then by keyword the inputs only specformers takes and the labels."""
    positions = ["position_ids"] if absolute_positions else []
    if kind == "causal_lm":
        # The decoder stack alone: transformers' `input_ids, attention_mask[, position_ids], encoder_hidden_states,
        # encoder_attention_mask`, the output flags, `train, params, past_key_values, dropout_rng`.
        names = ["input_ids", "attention_mask", *positions, "encoder_hidden_states", "encoder_attention_mask"]
        names += ["output_attentions", "output_hidden_states", "return_dict", "train", "params", "past_key_values"]
        names += ["dropout_rng", "head_mask", "cross_attn_head_mask", "inputs_embeds", "use_cache", "labels"]
        return _document(names, kind, arguments)
    if kind in ("encoder", "token_classification"):
        names = ["input_ids", "attention_mask", *positions] + _seq2seq_tail("flax") + ["head_mask", "inputs_embeds"]
        return _document(names + (["labels"] if kind == "token_classification" else []), kind, arguments)
    names = ["input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask"]
    names += positions + [f"decoder_{name}" for name in positions] + _seq2seq_tail("flax")
    names += ["head_mask", "decoder_head_mask", "cross_attn_head_mask", "encoder_outputs"]
    # Sequence classification and question answering decode the input itself: they take no cache.
    names += [] if kind in ("sequence_classification", "question_answering") else ["past_key_values"]
    names += ["inputs_embeds", "decoder_inputs_embeds", "use_cache"]
    names += {
        "conditional_generation": ["labels"],
        "sequence_classification": ["labels"],
        "question_answering": ["start_positions", "end_positions"],
    }.get(kind, [])
    return _document(names, kind, arguments)


def _seq2seq_tail(framework: str) -> list[str]:
    """The arguments every encoder-decoder forward ends with."""
    names = ["output_attentions", "output_hidden_states", "return_dict"]
    if framework == "tf":
        names.append("training")
    if framework == "flax":
        names += ["train", "params", "dropout_rng"]
    return names


def _document(
    names: list[str],
    kind: str,
    arguments: schema.ArgumentsSpec,
    placeholders: tuple[str, ...] = (),
    placeholder_doc: str = _PLACEHOLDER_DOC,
) -> tuple[Argument, ...]:
    label_doc_key = "masked_lm" if kind == "pretraining" else kind
    result = []
    for name in names:
        doc = arguments.arguments[name]
        if name in placeholders:
            placeholder = Argument(name=name, default="None", type=doc.type, shape=None, doc=placeholder_doc, placeholder=True)
            result.append(placeholder)
            continue
        text = doc.doc
        shape = doc.shape
        if name == "labels":
            text = arguments.label_docs.get(label_doc_key, text)
            if kind in ("sequence_classification", "multiple_choice", "next_sentence"):
                shape = "(batch_size,)"
        if kind == "multiple_choice" and shape and shape.startswith("(batch_size, sequence_length"):
            shape = shape.replace("(batch_size, sequence_length", "(batch_size, num_choices, sequence_length")
        if name in ("training", "train"):
            default = "False"
        else:
            default = "None"
        result.append(Argument(name=name, default=default, type=doc.type, shape=shape, doc=text))
    return tuple(result)
