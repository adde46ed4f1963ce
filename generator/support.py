"""What the templates render, per stack kind: the schema accepts exactly that.

pydantic checks each field on its own; this table checks the combinations. The templates render three stack kinds:

- ``encoder``: an encoder-only stack (optionally doubling as a causal decoder with `decoder: {causal, cache}`, whose
  layers then may hold a cross-attention, `attention.cross_module`), rendered by the names-layout block (below; the
  `fused | split` module layouts that encoders were once written in are gone);
- ``encoder-decoder`` (`stack: encoder-decoder`): two stacks, the decoder's blocks with a cross-attention (below);
- ``decoder-only`` (`stack: decoder-only`): one always-causal, pre-norm LayerNorm or RMSNorm stack with absolute or
  rotary positions, a final norm and a key/value cache, whose module paths are the spec's `names` (roles -> dotted
  paths).

An encoder-decoder stack is rendered by the names-layout block too: two LayerNorm or
RMSNorm stacks, post-norm or pre-norm each ending with a final norm, their feed-forward dense or gated, their
projections' biases fixed or chosen by config flags, with absolute positions (learned or fixed sinusoids, counted
from 0 or past a padding index; the roles `encoder` and `decoder` name the stacks) and/or a bucketed relative bias each
stack owns (the role `position.bias`) or their first blocks own (then optionally an encoder self-attention that is
blocked, local or transient-global as a config field chooses: `attention.select`), the decoder's blocks holding a
cross-attention (the roles `cross_attention.*`), the decoder
inputs from labels shifted right after a start token or after each row's last non-pad token (`decoder.shift`). Its rules are those of the kind
``names-layout encoder-decoder``.

An encoder stack with `attention.layout: names` is rendered by the same names-layout block as decoder-only stacks:
bidirectional (no cache), post-norm or pre-norm (then ending with a final norm), with or without a norm after the
embeddings, its module paths the spec's `names`, its positions rotary or learned absolute ones counted from 0 or past
a padding index (`embeddings.position_padding_idx`), the latter optionally with a bucketed relative bias the stack
owns (`position.owner: stack`), or functional relative positions (`position.kind: relative_functional`, also in a
stack doubling as a decoder, its cache and cross-attention included). Its rules are those of the kind ``names-layout encoder`` (`rule_kind`).

A field whose value the stack kind would ignore or render wrongly is an error naming the field and what to write
instead, so that a spec author never learns of an unsupported combination from a crash of generated code. Each rule
lists the values that render; a field the author did not write is checked with its schema default, so a default
that does not fit the stack kind (a post-norm default in an encoder-decoder) is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import schema

ENCODER = "encoder"
ENCODER_DECODER = "encoder-decoder"
DECODER_ONLY = "decoder-only"
STACK_KINDS = (ENCODER, ENCODER_DECODER, DECODER_ONLY)
# An encoder stack of the names layout: checked by rules of its own.
NAMES_ENCODER = "names-layout encoder"
# An encoder-decoder stack of the names layout.
NAMES_ENCODER_DECODER = "names-layout encoder-decoder"
RULE_KINDS = (NAMES_ENCODER, NAMES_ENCODER_DECODER, DECODER_ONLY)


def rule_kind(spec: schema.ArchitectureSpec, stack: str) -> str:
    """The kind whose rules check `spec`: `NAMES_ENCODER` for an encoder stack, `NAMES_ENCODER_DECODER` for an
    encoder-decoder stack (both rendered by the names-layout block), else its stack kind."""
    if stack == ENCODER:
        return NAMES_ENCODER
    if stack == ENCODER_DECODER:
        return NAMES_ENCODER_DECODER
    return stack


_ABSENT = None


@dataclass(frozen=True)
class Rule:
    """In stacks of kind `stack`, the field at `path` (dotted, from the spec's top level) takes one of `allowed`."""

    stack: str
    path: str
    allowed: tuple
    instead: str  # what to write instead, completing "<stack kind> stacks ...: <instead>"

    def value(self, spec: schema.ArchitectureSpec) -> Any:
        """The field's value; a component stands for its `kind` (position schemes), else for "set"."""
        node: Any = spec
        for part in self.path.split("."):
            if node is None:
                return _ABSENT
            node = getattr(node, part, _ABSENT)  # a field of another kind of component (`position.owner` of rotary positions)
        if isinstance(node, schema.BaseModel):
            return getattr(node, "kind", _SET)
        if isinstance(node, dict):
            return _SET
        return node


_SET = object()  # a component (a sub-mapping) that is present and has no `kind`


# Config fields the templates of each stack kind read by these names (a config that calls one of them something else
# maps it with `config.attribute_map`).
REQUIRED_CONFIG_FIELDS = {
    DECODER_ONLY: ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "initializer_range",
                   "use_cache"),
    NAMES_ENCODER: ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings",
                    "initializer_range"),
    # (names-layout encoder-decoders read `max_position_embeddings` only with absolute positions, which need it)
    NAMES_ENCODER_DECODER: ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                            "initializer_range", "use_cache"),
}

_READS = "the blocks read `config.{field}`: remove `{key}` (map another config name with `config.attribute_map: {{{field}: <name>}}`)"

# fmt: off
RULES: tuple[Rule, ...] = (
    # Encoder stacks of the names layout: bidirectional post-norm or pre-norm blocks whose module paths are `names`.
    Rule(NAMES_ENCODER, "names", (_SET,), "add `names:` (roles -> module paths: `embeddings.word`, `embeddings.position`, `embeddings.norm`, `layers`, `attention.query`, `attention.key`, `attention.value`, `attention.output`, `attention.norm`, `ffn.input`, `ffn.output`, `ffn.norm`)"),
    Rule(NAMES_ENCODER, "attention.layout", ("names",), "write `layout: names` (the modules are the `names` roles `attention.*`)"),
    Rule(NAMES_ENCODER, "feed_forward.layout", ("names",), "write `layout: names` (the modules are the `names` roles `ffn.*`), as for attention"),
    Rule(NAMES_ENCODER, "attention.variant", ("full",), "self-attention is `variant: full`"),
    Rule(NAMES_ENCODER, "attention.select", (_ABSENT,), "remove `select`: a config-selected attention variant exists only in encoder-decoder stacks"),
    Rule(NAMES_ENCODER, "attention.local", (_ABSENT,), "remove `local`: local attention exists only in encoder-decoder stacks"),
    Rule(NAMES_ENCODER, "attention.scale", (True,), "scores are always divided by sqrt(head_dim): remove `scale`"),
    Rule(NAMES_ENCODER, "attention.scale_by_inverse_layer", (_ABSENT,), "remove `scale_by_inverse_layer`: layer-wise attention scaling exists only in decoder-only stacks"),
    Rule(NAMES_ENCODER, "attention.upcast", (_ABSENT,), "remove `upcast`: float32 attention scores exist only in decoder-only stacks"),
    Rule(NAMES_ENCODER, "feed_forward.gated", (False, True), "write `gated: true` (the `names` role `ffn.gate`) or `gated: false`: a config-selected gate exists only in encoder-decoder stacks"),
    Rule(NAMES_ENCODER, "norm.placement", ("post", "pre"), "write `placement: post` (the norm after each residual add) or `placement: pre` (at the start of each sublayer, then the `names` role `final_norm` after the last block)"),
    Rule(NAMES_ENCODER, "position", (_ABSENT, "rotary", "bucketed_bias", "relative_functional"), "positions are learned absolute embeddings (`names: {embeddings.position: ...}`), with or without a bucketed relative bias the stack owns (`kind: bucketed_bias, owner: stack, ...`), rotary (`kind: rotary, theta: <config field>`, with `embeddings.position: none`) or functional relative (`kind: relative_functional, max_relative_position: <config field>`, with `embeddings.position: none`)"),
    Rule(NAMES_ENCODER, "position.owner", (_ABSENT, "stack"), "the stack owns the bucketed bias (the `names` role `position.bias`) and adds it in every layer: write `owner: stack`"),
    Rule(NAMES_ENCODER, "embeddings.token_type", (False, True, "word"), "write `token_type: true` (a table of `config.type_vocab_size` rows, the `names` role `embeddings.token_type`), `token_type: word` (rows of the word embeddings) or `token_type: false`"),
    Rule(NAMES_ENCODER, "embeddings.position", ("absolute", "none"), "write `position: absolute` (learned absolute embeddings) or `position: none` (with rotary positions)"),
    Rule(NAMES_ENCODER, "embeddings.position_ids", (False, True), "write `position_ids: true` (the models take `position_ids`) or `position_ids: false`"),
    # A names-layout encoder that doubles as a decoder (`decoder`): causal and cached under `config.is_decoder`.
    Rule(NAMES_ENCODER, "decoder.causal", (_ABSENT, True), "an encoder that doubles as a decoder is causal: remove `causal`"),
    Rule(NAMES_ENCODER, "decoder.cache", (_ABSENT, True), "an encoder that doubles as a decoder keeps a key/value cache: remove `cache` (a causal mask under `config.is_decoder` without a cache is `attention.decoder_mask: true`)"),
    Rule(NAMES_ENCODER, "decoder.mask", (_ABSENT, "separate"), "remove `mask`: an encoder that doubles as a decoder masks future and padding keys with one additive mask, as transformers' extended mask"),
    Rule(NAMES_ENCODER, "decoder.layers", (_ABSENT,), "remove `layers`: a second (decoder) stack exists only in encoder-decoder stacks"),
    Rule(NAMES_ENCODER, "decoder.start_token", (_ABSENT,), "remove `start_token`: labels shifted into decoder inputs exist only in encoder-decoder stacks"),
    Rule(NAMES_ENCODER, "lm_head.layout", (_ABSENT, "names", "transform", "flat"), "write `layout: names` (the `names` roles `lm_head.transform` and `lm_head.norm`, then the projector at `path`), `layout: transform` (`<path>.{transform.dense,transform.<norm>,decoder,bias}`, as encoder stacks hold it) or `layout: flat` (`<path>.{dense,<norm>,decoder,bias}`)"),
    # Encoder-decoder stacks of the names layout: two LayerNorm or RMSNorm stacks, post-norm or pre-norm then a final norm
    # (learned positions, a norm after the embeddings), the decoder's blocks with a cross-attention; every module path
    # is a `names` role.
    Rule(NAMES_ENCODER_DECODER, "names", (_SET,), "add `names:` (roles -> module paths: `embeddings.shared`, `encoder`, `decoder`, `embeddings.word`, `embeddings.position`, `embeddings.norm`, `layers`, `attention.*`, `cross_attention.*`, `ffn.*`), or a `preset` of specs/layouts.yaml"),
    Rule(NAMES_ENCODER_DECODER, "attention.layout", ("names",), "write `layout: names` (the modules are the `names` roles `attention.*` and `cross_attention.*`)"),
    Rule(NAMES_ENCODER_DECODER, "feed_forward.layout", ("names",), "write `layout: names` (the modules are the `names` roles `ffn.*`), as for attention"),
    Rule(NAMES_ENCODER_DECODER, "decoder", (_SET,), "add `decoder: {layers: <field>, heads: <field>, ffn_size: <field>, start_token: <field>}` (the decoder stack's sizes)"),
    Rule(NAMES_ENCODER_DECODER, "decoder.causal", (True,), "the decoder stack is causal: remove `causal`"),
    Rule(NAMES_ENCODER_DECODER, "decoder.cache", (True,), "the decoder stack keeps a key/value cache: remove `cache`"),
    Rule(NAMES_ENCODER_DECODER, "decoder.cache_default", ("config",), "the decoder stack's cache follows `config.use_cache`: remove `cache_default`"),
    Rule(NAMES_ENCODER_DECODER, "attention.variant", ("full",), "self-attention is `variant: full` (the decoder masks the future)"),
    Rule(NAMES_ENCODER_DECODER, "attention.cross_module", (_ABSENT,), "remove `cross_module`: the `names` roles `cross_attention.*` name the decoder's cross-attention"),
    Rule(NAMES_ENCODER_DECODER, "attention.scale", (True, False), "write `scale: true` (scores times head_dim**-0.5) or `scale: false` (unscaled scores): a config-selected scale exists only in decoder-only stacks"),
    Rule(NAMES_ENCODER_DECODER, "attention.scale_by_inverse_layer", (_ABSENT,), "remove `scale_by_inverse_layer`: layer-wise attention scaling exists only in decoder-only stacks"),
    Rule(NAMES_ENCODER_DECODER, "attention.upcast", (_ABSENT,), "remove `upcast`: float32 attention scores exist only in decoder-only stacks"),
    Rule(NAMES_ENCODER_DECODER, "attention.projection", ("linear",), "the projections are Linear layers: remove `projection`"),
    Rule(NAMES_ENCODER_DECODER, "attention.output_dropout", (True,), "the attention output always goes through dropout: remove `output_dropout`"),
    Rule(NAMES_ENCODER_DECODER, "feed_forward.projection", ("linear",), "the projections are Linear layers: remove `projection`"),
    Rule(NAMES_ENCODER_DECODER, "feed_forward.size_multiple", (_ABSENT,), "remove `size_multiple`: the feed-forward widths are always config fields (`size`, `decoder.ffn_size`)"),
    Rule(NAMES_ENCODER_DECODER, "norm.placement", ("post", "pre"), "write `placement: post` (the norm after each residual add) or `placement: pre` (at the start of each sublayer, then the `names` role `final_norm` after each stack)"),
    Rule(NAMES_ENCODER_DECODER, "position", (_ABSENT, "bucketed_bias"), "positions are absolute embeddings (`names: {embeddings.position: ...}`), with or without a bucketed relative bias each stack owns (`kind: bucketed_bias, owner: stack, ...`): remove `position` or write `kind: bucketed_bias`"),
    Rule(NAMES_ENCODER_DECODER, "position.owner", (_ABSENT, "stack", "first_layer", "every_layer"), "write `owner: stack` (each stack's table at the `names` role `position.bias`), `first_layer` (each stack's first block's, at the role `attention.relative_bias`) or `every_layer` (each block's own)"),
    Rule(NAMES_ENCODER_DECODER, "embeddings.token_type", (False,), "there are no token type embeddings: write `token_type: false`"),
    Rule(NAMES_ENCODER_DECODER, "embeddings.position", ("absolute", "none"), "write `position: absolute` (learned or sinusoidal absolute embeddings) or `position: none` (no absolute positions, with a bucketed relative bias)"),
    Rule(NAMES_ENCODER_DECODER, "embeddings.projection", (_ABSENT,), "remove `projection`: embeddings are hidden_size wide"),
    Rule(NAMES_ENCODER_DECODER, "pooler", (_ABSENT,), "remove `pooler`: encoder-decoder heads do not pool"),
    Rule(NAMES_ENCODER_DECODER, "sentence_head", (_ABSENT,), "remove `sentence_head`"),
    Rule(NAMES_ENCODER_DECODER, "discriminator_head", (_ABSENT,), "remove `discriminator_head`"),
    Rule(NAMES_ENCODER_DECODER, "sequence_summary", (_ABSENT,), "remove `sequence_summary`: there is no multiple-choice head"),
    Rule(NAMES_ENCODER_DECODER, "classifier_dropout", (_ABSENT,), "remove `classifier_dropout`: give the sequence classification head its `dropout`"),
    Rule(NAMES_ENCODER_DECODER, "lm_head.layout", (_ABSENT, "linear"), "write `layout: linear` (one Linear without bias, tied to the shared embeddings)"),
    Rule(NAMES_ENCODER_DECODER, "lm_head.decoder", (_ABSENT,), "remove `decoder`: the LM head is one Linear at `lm_head.path`"),
    Rule(NAMES_ENCODER_DECODER, "flax_keyword_arguments", ([],), "remove `flax_keyword_arguments`: the Flax encoder-decoders take transformers' `input_ids, attention_mask, decoder_input_ids, decoder_attention_mask` first and the other inputs by keyword"),
    Rule(NAMES_ENCODER_DECODER, "attention.kv_heads", (_ABSENT,), "remove `kv_heads`: grouped-query attention exists only in decoder-only and names-layout encoder stacks"),
    Rule(NAMES_ENCODER_DECODER, "attention.multi_query", (_ABSENT,), "remove `multi_query`: multi-query attention exists only in decoder-only and names-layout encoder stacks"),
    Rule(NAMES_ENCODER_DECODER, "attention.sliding_window", (_ABSENT,), "remove `sliding_window`: sliding-window attention exists only in decoder-only stacks (`stack: decoder-only`)"),
    Rule(NAMES_ENCODER_DECODER, "decoder.mask", (_ABSENT, "separate"), "remove `mask`: the names-layout encoder-decoder's decoder always masks future and padding keys with one additive mask; `mask` chooses between the two ways of decoder-only stacks"),
    # Decoder-only stacks: always-causal pre-norm (LayerNorm or RMSNorm) blocks whose module paths are the spec's `names`.
    Rule(DECODER_ONLY, "names", (_SET,), "add `names:` (roles -> module paths: `embeddings.word`, `embeddings.position`, `layers`, `final_norm`, `attention.norm`, `attention.query`, `attention.key`, `attention.value`, `attention.output`, `ffn.norm`, `ffn.input`, `ffn.output`)"),
    Rule(NAMES_ENCODER_DECODER, "flax_positional_order", (_ABSENT,), "remove `flax_positional_order`: only decoder-only and names-layout encoder stacks state transformers' Flax order (the other stacks' follows from their components; their heads without cross-attention keep transformers' places of the encoder states themselves)"),
    Rule(NAMES_ENCODER_DECODER, "torch_positional_order", (_ABSENT,), "remove `torch_positional_order`: only decoder-only and encoder stacks state transformers' PyTorch order (an encoder-decoder's follows from its components)"),
    Rule(DECODER_ONLY, "flax_keyword_arguments", ([],), "remove `flax_keyword_arguments`: the Flax decoder-only models take transformers' `input_ids, attention_mask, position_ids` first and the other inputs by keyword"),
    Rule(DECODER_ONLY, "attention.layout", ("names",), "write `layout: names` (the modules are the `names` roles `attention.*`)"),
    Rule(DECODER_ONLY, "feed_forward.layout", ("names",), "write `layout: names` (the modules are the `names` roles `ffn.*`)"),
    Rule(DECODER_ONLY, "attention.variant", ("full",), "self-attention is `variant: full` (causal: the stack masks the future)"),
    Rule(DECODER_ONLY, "attention.select", (_ABSENT,), "remove `select`: a config-selected attention variant exists only in encoder-decoder stacks"),
    Rule(DECODER_ONLY, "attention.local", (_ABSENT,), "remove `local`: local attention exists only in encoder-decoder stacks"),
    Rule(DECODER_ONLY, "attention.cross_module", (_ABSENT,), "remove `cross_module`: decoder-only stacks have no cross-attention"),
    Rule(DECODER_ONLY, "feed_forward.gated", (False, True), "write `gated: true` (the `names` role `ffn.gate`) or `gated: false`: a config-selected gate exists only in encoder-decoder stacks"),
    Rule(DECODER_ONLY, "norm.placement", ("pre", "output", "sandwich"), "write `placement: pre` (at the start of each sublayer), `placement: output` (on each sublayer's output before the residual add) or `placement: sandwich` (both, the output norms the roles `attention.output_norm` and `ffn.output_norm`); all end with the `final_norm` role"),
    Rule(DECODER_ONLY, "position", (_ABSENT, "rotary", "alibi"), "positions are learned absolute embeddings (`names: {embeddings.position: ...}`), rotary (`kind: rotary, theta: <config field>`) or linear attention biases (`kind: alibi`), the latter two with `embeddings.position: none`"),
    Rule(DECODER_ONLY, "embeddings.token_type", (False, "word"), "token types are embedded by the word embeddings (`token_type: word`) or absent (`token_type: false`): a table of their own exists only in encoder stacks"),
    Rule(DECODER_ONLY, "embeddings.position", ("absolute", "none"), "write `position: absolute` (learned absolute embeddings) or `position: none` (with rotary or ALiBi positions)"),
    Rule(DECODER_ONLY, "embeddings.position_padding_idx", (_ABSENT,), "remove `position_padding_idx`: positions count from 0 (or follow `position_ids`)"),
    Rule(DECODER_ONLY, "decoder", (_SET,), "add `decoder: {causal: true, cache: true}`"),
    Rule(DECODER_ONLY, "decoder.causal", (True,), "the stack is causal: remove `causal`"),
    Rule(DECODER_ONLY, "decoder.cache", (True,), "the stack keeps a key/value cache: remove `cache`"),
    Rule(DECODER_ONLY, "decoder.cache_default", ("config",), "the cache follows `config.use_cache`: remove `cache_default`"),
    Rule(DECODER_ONLY, "pooler", (_ABSENT,), "remove `pooler`: decoder-only heads read the last token, not a pooler"),
    Rule(DECODER_ONLY, "sentence_head", (_ABSENT,), "remove `sentence_head`"),
    Rule(DECODER_ONLY, "discriminator_head", (_ABSENT,), "remove `discriminator_head`"),
    Rule(DECODER_ONLY, "sequence_summary", (_ABSENT,), "remove `sequence_summary`: there is no multiple-choice head"),
    Rule(DECODER_ONLY, "classifier_dropout", (_ABSENT,), "remove `classifier_dropout`: give each head its `dropout` (a config field or a rate)"),
    Rule(DECODER_ONLY, "lm_head.layout", (_ABSENT, "linear"), "write `layout: linear` (one Linear, tied to the word embeddings when `config.tie_word_embeddings`; `bias: true` gives it a bias)"),
    Rule(DECODER_ONLY, "lm_head.decoder", (_ABSENT,), "remove `decoder`: the LM head is one Linear at `lm_head.path`"),
)
# Components of the names-layout block that not every kind renders.
RULES += (
    Rule(NAMES_ENCODER_DECODER, "attention.fused_order", ("blocks",), "remove `fused_order`: encoder-decoder stacks hold separate q, k and v projections (a fused q/k/v projection exists only in decoder-only and names-layout encoder stacks)"),
    Rule(NAMES_ENCODER, "residual", (_ABSENT,), "remove `residual`: blocks are sequential (a parallel residual exists only in decoder-only stacks)"),
    Rule(NAMES_ENCODER_DECODER, "residual", (_ABSENT,), "remove `residual`: sublayers are sequential (a parallel residual exists only in decoder-only stacks)"),
    Rule(NAMES_ENCODER_DECODER, "attention.prunable", (True, False), "write `prunable: true` (the encoder-only model prunes its encoder's self-attention) or `prunable: false` (every model refuses `prune_heads`)"),
    Rule(NAMES_ENCODER, "lm_head.bias", (_ABSENT, False), "remove `bias`: it gives a bias to the `layout: linear` LM head of decoder-only stacks"),
    Rule(NAMES_ENCODER_DECODER, "lm_head.bias", (_ABSENT, False), "remove `bias`: the LM head has no bias (`logits_bias` adds a buffer to the logits)"),
)
# Components that only names-layout encoder-decoder stacks render: refused in every other kind (a field with a schema
# default is refused at any other value).
_SCHEMA_DEFAULTS = {"decoder.embeddings_norm": ("after_positions",), "decoder.embeddings_scale": (True,),
                    "norm.final_dropout": (False,), "lm_head.tied_scale": (False,)}
_NAMES_ENCODER_DECODER_ONLY = (
    ("decoder.heads", "remove `heads`: a decoder stack with heads of its own exists only in names-layout encoder-decoder stacks"),
    ("decoder.ffn_size", "remove `ffn_size`: a decoder stack with a feed-forward width of its own exists only in names-layout encoder-decoder stacks"),
    ("decoder.embeddings_norm", "remove `embeddings_norm`: a decoder stack whose embeddings norm applies before the positions exists only in names-layout encoder-decoder stacks"),
    ("decoder.embeddings_scale", "remove `embeddings_scale`: a decoder stack whose word embeddings are not scaled as the encoder's exists only in names-layout encoder-decoder stacks"),
    ("lm_head.logits_bias", "remove `logits_bias`: a bias buffer on the logits exists only in names-layout encoder-decoder stacks"),
    ("embeddings.vocabularies", "remove `vocabularies`: separate encoder and decoder vocabularies exist only in names-layout encoder-decoder stacks"),
    ("norm.final_dropout", "remove `final_dropout`: a dropout after each stack's final norm exists only in names-layout encoder-decoder stacks"),
    ("initializer", "remove `initializer`: Mesh TensorFlow's initialisation from a factor exists only in names-layout encoder-decoder stacks (the others draw at `config.initializer_range`)"),
    ("lm_head.tied_scale", "remove `tied_scale`: a tied LM head scaling the decoder output by hidden_size ** -0.5 exists only in names-layout encoder-decoder stacks (the `sublayer` LM head always scales)"),
)
RULES += tuple(
    Rule(kind, path, (_ABSENT,) + _SCHEMA_DEFAULTS.get(path, ()), instead) for kind in RULE_KINDS if kind != NAMES_ENCODER_DECODER for path, instead in _NAMES_ENCODER_DECODER_ONLY
)
# LayerDrop: names-layout encoder-decoder and decoder-only stacks (a decoder-only stack's in `layerdrop.decoder`).
RULES += tuple(
    Rule(kind, "layerdrop", (_ABSENT,), "remove `layerdrop`: LayerDrop exists only in names-layout encoder-decoder and decoder-only stacks")
    for kind in (NAMES_ENCODER,)
)
RULES += (Rule(DECODER_ONLY, "layerdrop.encoder", (_ABSENT,), "remove `encoder`: a decoder-only stack's LayerDrop probability is `layerdrop.decoder`"),)
# A row offset of the position table: names-layout encoder-decoder and decoder-only stacks.
RULES += tuple(
    Rule(kind, path, (_ABSENT,), instead)
    for kind in (NAMES_ENCODER,)
    for path, instead in (
        ("embeddings.position_offset", "remove `position_offset`: a row offset of the position table exists only in names-layout encoder-decoder and decoder-only stacks"),
    )
)
# Layer groups shared by the steps of the stack: names-layout encoders only.
RULES += tuple(
    Rule(kind, "layer_sharing", (_ABSENT,), "remove `layer_sharing`: groups of blocks shared by the steps of a names-layout stack exist only in names-layout encoders")
    for kind in RULE_KINDS if kind != NAMES_ENCODER
)
# A `position_ids` argument chosen by the spec: names-layout encoders only (the other kinds take it as their
# positions say).
RULES += tuple(
    Rule(kind, "embeddings.position_ids", (False,), "remove `position_ids`: a choice of whether the models take `position_ids` exists only in names-layout encoders")
    for kind in RULE_KINDS if kind != NAMES_ENCODER
)
# Positions counted over the attention mask: decoder-only stacks only.
RULES += tuple(
    Rule(kind, "embeddings.mask_positions", (False,), "remove `mask_positions`: positions counted over the attention mask exist only in decoder-only stacks")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# Float multipliers from the config (of the word embeddings, the attention scores, the sublayers' outputs) and a
# divisor of the logits: decoder-only stacks only.
RULES += tuple(
    Rule(kind, path, (_ABSENT,), instead)
    for kind in RULE_KINDS if kind != DECODER_ONLY
    for path, instead in (
        ("embeddings.multiplier", "remove `multiplier`: word embeddings times a config factor exist only in decoder-only stacks"),
        ("attention.multiplier", "remove `multiplier`: scores times a config factor exist only in decoder-only stacks"),
        ("lm_head.logits_divisor", "remove `logits_divisor`: logits divided by a config factor exist only in decoder-only stacks"),
        ("lm_head.logits_multiplier", "remove `logits_multiplier`: logits times a config factor exist only in decoder-only stacks"),
    )
)
# A fixed feed-forward activation (no config field) exists only in the blocks of decoder-only stacks and names-layout
# encoders.
RULES += tuple(
    Rule(kind, "feed_forward.activation_name", (_ABSENT,), "remove `activation_name` (and name the activation's config field in `activation`): a fixed feed-forward activation exists only in decoder-only stacks and names-layout encoders")
    for kind in RULE_KINDS if kind not in (DECODER_ONLY, NAMES_ENCODER)
)
# An LM head of its own width, and an untied vocabulary projection with its own bias: the `flat` head of encoder stacks
# (names-layout encoders included).
RULES += tuple(
    Rule(kind, path, allowed, instead)
    for kind in RULE_KINDS if kind != NAMES_ENCODER
    for path, allowed, instead in (
        ("lm_head.size", (_ABSENT,), "remove `size`: an LM head of its own width exists only in encoder stacks (`layout: flat`)"),
        ("lm_head.tied", (_ABSENT, True), "remove `tied`: an untied `flat` LM head with its own decoder bias exists only in encoder stacks"),
    )
)
# Soft-capped scores and logits, scores scaled by a config width instead of head_dim: decoder-only stacks only.
RULES += tuple(
    Rule(kind, path, (_ABSENT,), instead)
    for kind in RULE_KINDS if kind != DECODER_ONLY
    for path, instead in (
        ("attention.softcap", "remove `softcap`: soft-capped attention scores exist only in decoder-only stacks"),
        ("attention.scale_dim", "remove `scale_dim`: scores scaled by a config width in place of head_dim exist only in decoder-only stacks"),
        ("attention.scale_value", "remove `scale_value`: scores scaled by a config factor in place of 1 / sqrt(head_dim) exist only in decoder-only stacks"),
        ("lm_head.logits_softcap", "remove `logits_softcap`: soft-capped logits exist only in decoder-only stacks"),
    )
)
# Word embeddings times sqrt(hidden_size) exist only in names-layout encoder-decoder and decoder-only stacks.
RULES += tuple(
    Rule(kind, "embeddings.scale", (_ABSENT,), "remove `scale`: scaled word embeddings exist only in names-layout encoder-decoder and decoder-only stacks")
    for kind in (NAMES_ENCODER,)
)
# Given `inputs_embeds` left unscaled (only looked-up word embeddings scaled): decoder-only stacks only.
RULES += tuple(
    Rule(kind, "embeddings.scale_inputs_embeds", (True,), "remove `scale_inputs_embeds`: given `inputs_embeds` left unscaled exist only in decoder-only stacks")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# How labels become decoder inputs: another shift than after `decoder.start_token` exists only in names-layout
# encoder-decoder stacks.
RULES += tuple(
    Rule(kind, "decoder.shift", (_ABSENT, "start_token"), "remove `shift`: the decoder inputs start with `decoder.start_token` (each row's last non-pad token starts them only in names-layout encoder-decoder stacks)")
    for kind in RULE_KINDS if kind != NAMES_ENCODER_DECODER
)
# A head mask copied to the decoder is a choice of encoder-decoder stacks only; names-layout ones copy none by default.
RULES += tuple(
    Rule(kind, "decoder.copy_head_mask", (_ABSENT, True), "remove `copy_head_mask`: a choice of whether `head_mask` masks the decoder too exists only in encoder-decoder stacks")
    for kind in RULE_KINDS if kind != NAMES_ENCODER_DECODER
)
RULES += (
    Rule(NAMES_ENCODER_DECODER, "decoder.copy_head_mask", (_ABSENT, True), "remove `copy_head_mask: false`: names-layout encoder-decoder stacks copy `head_mask` to the decoder only with `copy_head_mask: true`"),
)
# A call without decoder inputs refused by the base model: names-layout encoder-decoder stacks only.
RULES += tuple(
    Rule(kind, "decoder.shift_inputs", (_ABSENT, True), "remove `shift_inputs`: a base model refusing a call without decoder inputs exists only in names-layout encoder-decoder stacks")
    for kind in RULE_KINDS if kind != NAMES_ENCODER_DECODER
)
# Fixed sinusoids in halves (sines, then cosines) exist only in names-layout encoder-decoder stacks, fairseq's table
# in decoder-only and names-layout encoder-decoder stacks.
RULES += tuple(
    Rule(kind, "embeddings.sinusoidal_layout", ("interleaved",), "remove `sinusoidal_layout`: sines and cosines in halves exist only in names-layout encoder-decoder stacks, fairseq's table only in decoder-only and names-layout encoder-decoder stacks")
    for kind in RULE_KINDS if kind not in (NAMES_ENCODER_DECODER, DECODER_ONLY)
)
RULES += (
    Rule(DECODER_ONLY, "embeddings.sinusoidal_layout", ("interleaved", "fairseq"), "write `sinusoidal_layout: interleaved` or `fairseq`: sines and cosines in halves with angles 10000^(-2k / dim) exist only in names-layout encoder-decoder stacks"),
)
# Norms of the queries and keys: in the names-layout block of decoder-only and names-layout encoder stacks.
RULES += tuple(
    Rule(kind, "attention.qk_norm", (False,), "remove `qk_norm`: norms of the queries and keys exist only in decoder-only and names-layout encoder stacks")
    for kind in (NAMES_ENCODER_DECODER,)
)
RULES += tuple(
    Rule(kind, "attention.qk_norm_scope", ("head",), "remove `qk_norm_scope`: norms of the queries and keys exist only in decoder-only and names-layout encoder stacks")
    for kind in (NAMES_ENCODER_DECODER,)
)
# LayerNorms without a bias (or with one as a config field says): decoder-only stacks and names-layout encoders.
RULES += (
    Rule(NAMES_ENCODER_DECODER, "norm.bias", (True,), "remove `bias`: LayerNorms without a bias exist only in decoder-only stacks and names-layout encoders"),
)
# The first block's attention without a norm, the biases of the names-layout LM head: names-layout encoders only.
RULES += tuple(
    Rule(kind, path, allowed, instead)
    for kind in RULE_KINDS if kind != NAMES_ENCODER
    for path, allowed, instead in (
        ("norm.first_attention_norm", (True,), "remove `first_attention_norm`: a first block without an attention norm exists only in names-layout encoders"),
        ("lm_head.dense_bias", (True,), "remove `dense_bias`: it sets the bias of the `flat` LM head of names-layout encoders"),
        ("lm_head.decoder_bias", (True,), "remove `decoder_bias`: it sets the bias of the `flat` LM head's `decoder` in names-layout encoders"),
    )
)
# LayerNorms without parameters, norms of the queries and keys with a weight of each head's own (held stacked or as a list),
# a chosen bias of those norms: decoder-only stacks only.
RULES += tuple(
    Rule(kind, path, allowed, instead)
    for kind in RULE_KINDS if kind != DECODER_ONLY
    for path, allowed, instead in (
        ("norm.weight", (True,), "remove `weight`: LayerNorms without parameters exist only in decoder-only stacks"),
        ("attention.qk_norm_layout", ("stacked",), "remove `qk_norm_layout`: norms of the queries and keys with a weight of each head's own exist only in decoder-only stacks"),
        ("attention.qk_norm_bias", (_ABSENT,), "remove `qk_norm_bias`: a bias chosen for the norms of the queries and keys exists only in decoder-only stacks"),
    )
)
RULES += (
    Rule(NAMES_ENCODER, "attention.qk_norm_scope", ("head", "all"), "write `qk_norm_scope: head` or `all`: norms of the queries and keys with a weight of each head's own exist only in decoder-only stacks"),
)
# A causal mask under `config.is_decoder` without a cache exists only in names-layout encoders.
RULES += tuple(
    Rule(kind, "attention.decoder_mask", (False,), "remove `decoder_mask`: a self-attention made causal by `config.is_decoder` without a cache exists only in names-layout encoders (an encoder stack doubles as a decoder with `decoder: {causal: true, cache: ...}`)")
    for kind in RULE_KINDS if kind != NAMES_ENCODER
)
# Rotary positions on some layers only (`position.layers`): in decoder-only stacks only.
RULES += tuple(
    Rule(kind, "position.layers", (_ABSENT,), "remove `layers`: rotary positions on some layers only (the others without positions) exist only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# Token dropout, rotary inverse frequencies held as a saved buffer and Linears held but never called: in names-layout
# encoders only.
RULES += tuple(
    Rule(kind, path, allowed, instead)
    for kind in RULE_KINDS if kind != NAMES_ENCODER
    for path, allowed, instead in (
        ("embeddings.token_dropout", (_ABSENT,), "remove `token_dropout`: token dropout exists only in names-layout encoders"),
        ("position.buffer", (_ABSENT,), "remove `buffer`: rotary inverse frequencies held as a saved buffer exist only in names-layout encoders"),
        ("held", ([],), "remove `held`: Linears held but never called exist only in names-layout encoders"),
    )
)
# An embeddings norm chosen by a config flag, given embeddings that skip the embeddings and positions chosen by a
# config field's value: in names-layout encoders only.
RULES += tuple(
    Rule(kind, path, allowed, instead)
    for kind in RULE_KINDS if kind != NAMES_ENCODER
    for path, allowed, instead in (
        ("embeddings.norm", (True, False), "write `norm: true` or `norm: false`: an embeddings norm chosen by a config flag exists only in names-layout encoders"),
        ("embeddings.raw_inputs_embeds", (False,), "remove `raw_inputs_embeds`: given embeddings that skip the positions and norm exist only in names-layout encoders"),
        ("position.select", (_ABSENT,), "remove `select`: rotary or absolute positions chosen by a config field's value exist only in names-layout encoders"),
    )
)
# Checkpoint entries dropped on load by a spec's patterns: names-layout encoders and encoder-decoders.
RULES += tuple(
    Rule(kind, "ignore_unexpected", ([],), "remove `ignore_unexpected`: checkpoint entries dropped on load by a spec's patterns exist only in names-layout encoders and encoder-decoders")
    for kind in RULE_KINDS if kind not in (NAMES_ENCODER, NAMES_ENCODER_DECODER)
)
# A rotary sinusoidal table module (`position.table`): in names-layout encoders only.
RULES += tuple(
    Rule(kind, "position.table", (_ABSENT,), "remove `table`: a rotary sinusoidal table module at a `names` role exists only in names-layout encoders")
    for kind in RULE_KINDS if kind != NAMES_ENCODER
)
# Values rotated too (`position.rotary_value`): names-layout encoders only.
RULES += tuple(
    Rule(kind, "position.rotary_value", (_ABSENT,), "remove `rotary_value`: values rotated with the queries and keys exist only in names-layout encoders")
    for kind in RULE_KINDS if kind != NAMES_ENCODER
)
# Embeddings of another width than hidden_size (`embeddings.size`): not in names-layout encoder-decoder stacks.
RULES += tuple(
    Rule(kind, "embeddings.size", ("hidden_size",), "remove `size`: embeddings of another width than hidden_size exist only in names-layout encoders and decoder-only stacks")
    for kind in (NAMES_ENCODER_DECODER,)
)
# Scaled rotary positions (`position.scaling`): names-layout stacks computing the rotation from `theta` (decoder-only
# stacks and names-layout encoders).
RULES += tuple(
    Rule(kind, "position.scaling", (_ABSENT,), "remove `scaling`: scaled rotary positions exist only in decoder-only stacks and names-layout encoders (rotary positions computed from `theta`)")
    for kind in RULE_KINDS if kind not in (DECODER_ONLY, NAMES_ENCODER)
)
# Rotary positions left unscaled on some layer kinds (`position.unscaled_layer_types`): with the per-layer attention
# kinds of decoder-only stacks only.
RULES += tuple(
    Rule(kind, "position.unscaled_layer_types", (_ABSENT, []), "remove `unscaled_layer_types`: layer kinds rotating unscaled exist only in decoder-only stacks (with `attention.layer_types`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# Per-layer attention kinds choose which layers see the sliding window: in decoder-only stacks and names-layout
# encoders (a bidirectional window).
RULES += tuple(
    Rule(kind, "attention.layer_types", (_ABSENT,), "remove `layer_types`: per-layer attention kinds (sliding-window layers) exist only in decoder-only stacks and names-layout encoders")
    for kind in RULE_KINDS if kind not in (DECODER_ONLY, NAMES_ENCODER)
)
# A further token-type table selected by a config flag (`embeddings.task_type`): names-layout encoders (a table next
# to the word embeddings).
RULES += tuple(
    Rule(kind, "embeddings.task_type", (_ABSENT,), "remove `task_type`: a flag-selected table of further token types exists only in names-layout encoders")
    for kind in RULE_KINDS if kind != NAMES_ENCODER
)
# The last entry of `hidden_states` before the final norm: decoder-only and names-layout encoder stacks only.
RULES += tuple(
    Rule(kind, "norm.hidden_states_before_final_norm", (_ABSENT, False), "remove `hidden_states_before_final_norm`: `hidden_states` ending before the final norm exist only in decoder-only and names-layout encoder stacks")
    for kind in RULE_KINDS if kind not in (DECODER_ONLY, NAMES_ENCODER)
)
# A final norm built only without a config flag: decoder-only stacks only.
RULES += tuple(
    Rule(kind, "norm.final_unless", (_ABSENT,), "remove `final_unless`: a final norm that a config flag removes exists only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# The placement chosen by a config flag (pre-norm or post-norm): decoder-only stacks only.
RULES += tuple(
    Rule(kind, "norm.pre_when", (_ABSENT,), "remove `pre_when`: blocks whose norm placement a config flag chooses exist only in decoder-only stacks (`stack: decoder-only`); write `placement: pre` or `post`")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# Queries, keys and values clipped to a config bound: in decoder-only stacks only.
RULES += tuple(
    Rule(kind, "attention.clip", (_ABSENT,), "remove `clip`: queries, keys and values clipped to a config bound exist only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# Key/value heads counted under a config flag, and keys and values repeated before the cache: decoder-only stacks only.
RULES += tuple(
    Rule(kind, "attention.kv_heads_when", (_ABSENT,), "remove `kv_heads_when`: key/value heads counted under a config flag exist only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
RULES += tuple(
    Rule(kind, "attention.cache_repeated", (False,), "remove `cache_repeated`: a cache of keys and values repeated to every query head exists only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# ALiBi positions chosen by a config flag in place of rotary ones: decoder-only stacks only.
RULES += tuple(
    Rule(kind, "position.alibi", (_ABSENT,), "remove `alibi`: ALiBi positions chosen by a config flag in place of rotary ones exist only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# A sparse mixture-of-experts feed-forward: in decoder-only stacks only.
RULES += tuple(
    Rule(kind, "feed_forward.experts", (_ABSENT,), "remove `experts`: a sparse mixture-of-experts feed-forward exists only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# A mixture of experts' shared expert: in decoder-only stacks only (with the experts).
RULES += tuple(
    Rule(kind, "feed_forward.experts.shared", (_ABSENT,), "remove `shared`: a mixture of experts' shared expert exists only in decoder-only stacks (`stack: decoder-only`)")
    for kind in RULE_KINDS if kind != DECODER_ONLY
)
# fmt: on


# Fields that render only together with certain values of another field: (stack, field, other field, values of the
# other that render, what to write instead). `_SET` stands for any component written at the other path.
REQUIRES: tuple[tuple[str, str, str, tuple, str], ...] = (
    (NAMES_ENCODER, "attention.cross_module", "decoder", (_SET,), "a layer attends to an encoder's states only as a decoder: add `decoder: {causal: true, cache: true}` or remove `cross_module` (and the `names` roles `cross_attention.*`)"),
    # The cross-attention of a names-layout encoder is the block's second attention sublayer, as in names-layout
    # encoder-decoders: rendered with what their decoder blocks render.
    *((NAMES_ENCODER, "attention.cross_module", path, allowed, instead) for path, allowed, instead in (
        ("attention.projection", ("linear",), "a cross-attention is rendered with Linear projections: remove `projection` or `cross_module`"),
        ("attention.head_dim", (_ABSENT,), "a cross-attention is rendered with heads hidden_size / heads wide: remove `head_dim` or `cross_module`"),
        ("attention.kv_heads", (_ABSENT,), "a cross-attention is rendered with as many key/value heads as query heads: remove `kv_heads` or `cross_module`"),
        ("attention.multi_query", (_ABSENT,), "a cross-attention is rendered with as many key/value heads as query heads: remove `multi_query` or `cross_module`"),
        ("attention.qk_norm", (False,), "a cross-attention is rendered without norms of the queries and keys: remove `qk_norm` or `cross_module`"),
        ("attention.output_dropout", (True,), "a cross-attention's output is rendered through the feed-forward's dropout: remove `output_dropout` or `cross_module`"),
    )),
    (NAMES_ENCODER, "decoder", "position", (_ABSENT, "rotary", "relative_functional"), "an encoder that doubles as a decoder is rendered with learned absolute, rotary or functional relative positions (a stack-owned bucketed bias is computed for a bidirectional pass without a cache): remove `decoder` or `position`"),
    (NAMES_ENCODER, "decoder", "attention.decoder_mask", (False,), "`decoder` already makes the self-attention causal under `config.is_decoder` (with a cache): remove `decoder_mask`"),
    # The blocked encoder self-attention of a names-layout encoder-decoder (`attention.select` of `local` /
    # `transient_global` variants): its bias tables are the first block's, the window's parameters in `local`.
    (NAMES_ENCODER_DECODER, "attention.select", "position.owner", ("first_layer",), "the blocked variants add the bias of the first block's tables (`attention.relative_bias`, the transient-global `attention.global_relative_bias`): write `position: {kind: bucketed_bias, owner: first_layer, ...}` or remove `select`"),
    (NAMES_ENCODER_DECODER, "attention.select", "layerdrop", (_ABSENT,), "the encoder's blocked variants are rendered without LayerDrop: remove `layerdrop` or `select`"),
    (NAMES_ENCODER_DECODER, "attention.local", "attention.select", (_SET,), "`local` parameterises the encoder's blocked variants, which `select` chooses by a config field: add `select: {field, variants}` or remove `local`"),
    (DECODER_ONLY, "embeddings.position_offset", "embeddings.position", ("absolute",), "the offset shifts the rows of the absolute position table: write `embeddings.position: absolute` or remove `position_offset`"),
    # A names-layout encoder-decoder without absolute positions (`embeddings.position: none`) has no position table.
    *((NAMES_ENCODER_DECODER, path, "embeddings.position", ("absolute",), f"`{key}` is a property of the absolute position table: write `embeddings.position: absolute` or remove `{key}`") for path, key in (
        ("embeddings.position_offset", "position_offset"), ("embeddings.position_padding_idx", "position_padding_idx"), ("embeddings.sinusoidal", "sinusoidal"))),
    *((kind, "norm.unit_offset", "norm.kind", ("rms_norm",), "`1 + weight` scales an RMSNorm: write `norm.kind: rms_norm` or remove `unit_offset`") for kind in (NAMES_ENCODER, NAMES_ENCODER_DECODER)),
    (DECODER_ONLY, "norm.pre_when", "norm.placement", ("pre",), "the flag chooses between pre-norm blocks (ending with the final norm) and post-norm ones: write `placement: pre` or remove `pre_when`"),
    (DECODER_ONLY, "attention.layer_types", "attention.sliding_window", (_SET,), "the `sliding_attention` layers see the window of `sliding_window`: add `sliding_window: <int config field>` or remove `layer_types`"),
    (NAMES_ENCODER, "attention.layer_types", "attention.sliding_window", (_SET,), "the `sliding_attention` layers see the window of `sliding_window`: add `sliding_window: <int config field>` or remove `layer_types`"),
    # An encoder's sliding window narrows the layers `layer_types` marks, in a stack that is never a decoder.
    (NAMES_ENCODER, "attention.sliding_window", "attention.layer_types", (_SET,), "an encoder's window narrows the layers of the second kind of `layer_types`: add `layer_types: <list config field>` or remove `sliding_window`"),
    (NAMES_ENCODER, "attention.sliding_window", "decoder", (_ABSENT,), "a sliding window of a stack doubling as a decoder is not rendered: remove `decoder` or `sliding_window`"),
    (NAMES_ENCODER, "attention.sliding_window", "layer_sharing", (_ABSENT,), "the steps of shared layer groups take no layer kinds: remove `layer_sharing` or `sliding_window`"),
)


# Values that render only together with certain values of another field: (stack, field, its value, other field,
# values of the other that render, what to write instead).
VALUE_REQUIRES: tuple[tuple[str, str, Any, str, tuple, str], ...] = (
    (DECODER_ONLY, "embeddings.scale_inputs_embeds", False, "embeddings.scale", (True,), "only word embeddings always scaled can leave given `inputs_embeds` unscaled: write `embeddings.scale: true` or remove `scale_inputs_embeds`"),
    (DECODER_ONLY, "embeddings.mask_positions", True, "embeddings.position", ("absolute",), "positions counted over the attention mask index the absolute position table: write `embeddings.position: absolute` or remove `mask_positions`"),
    (NAMES_ENCODER, "norm.first_attention_norm", False, "decoder", (_ABSENT,), "a first block without an attention norm is not rendered in a stack doubling as a decoder: remove `decoder` or `first_attention_norm`"),
    (DECODER_ONLY, "norm.weight", False, "norm.kind", ("layer_norm",), "RMSNorms without a weight are not rendered: write `kind: layer_norm` or remove `weight`"),
    (DECODER_ONLY, "norm.weight", False, "norm.bias", (False,), "a LayerNorm without a weight has no bias either (no parameters at all): add `bias: false` or remove `weight`"),
    (DECODER_ONLY, "norm.weight", False, "norm.placement", ("pre", "output"), "the output norms of `placement: sandwich` keep their parameters: write `placement: pre` or `output`, or remove `weight`"),
    (DECODER_ONLY, "norm.weight", False, "norm.unit_offset", (_ABSENT,), "a LayerNorm without parameters has no weight to offset: remove `unit_offset` or `weight`"),
    (DECODER_ONLY, "norm.unit_offset", True, "attention.qk_norm_scope", ("head", "all"), "norms with a weight of each head's own are not rendered with a unit offset: write `qk_norm_scope: head` or `all`, or remove `unit_offset`"),
    (DECODER_ONLY, "norm.unit_offset", True, "attention.qk_norm_bias", (_ABSENT,), "the norms of the queries and keys follow the stack's unit-offset norms, bias included: remove `qk_norm_bias` or `unit_offset`"),
    (DECODER_ONLY, "norm.weight", False, "attention.qk_norm", (False,), "norms of the queries and keys without parameters are not rendered: remove `qk_norm` or `norm.weight`"),
    (NAMES_ENCODER_DECODER, "decoder.embeddings_norm", "before_positions", "embeddings.position", ("absolute",), "without absolute positions, the embeddings norm has no positions to precede: write `embeddings.position: absolute` or remove `decoder.embeddings_norm`"),
    (NAMES_ENCODER_DECODER, "embeddings.position", "none", "position", ("bucketed_bias",), "without absolute positions, the stacks need the bucketed relative bias: add `position: {kind: bucketed_bias, owner: stack, ...}` or write `embeddings.position: absolute`"),
    (NAMES_ENCODER_DECODER, "embeddings.position_accessors", True, "embeddings.position", ("absolute",), "the accessors return the absolute position table: write `embeddings.position: absolute` or remove `position_accessors`"),
    (NAMES_ENCODER_DECODER, "decoder.embeddings_norm", "before_positions", "embeddings.norm", (True,), "the decoder's embeddings norm is the `embeddings.norm` LayerNorm: write `embeddings.norm: true` or remove `decoder.embeddings_norm`"),
    (NAMES_ENCODER_DECODER, "decoder.embeddings_scale", False, "embeddings.scale", (_SET,), "only scaled word embeddings can be left unscaled in the decoder: add `embeddings.scale: true` or `scale: <boolean config field>`, or remove `decoder.embeddings_scale`"),
)


# Module paths of a bounded depth: (field, depths that render, what to write instead).
PATH_DEPTHS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("lm_head.path", (1, 2), "write `<attr>` or `<container>.<attr>` (e.g. `cls.predictions`)"),
    ("sentence_head.path", (2,), "write `<container>.<attr>` (e.g. `cls.seq_relationship`)"),
)


def check(spec: schema.ArchitectureSpec, stack: str, fail: Callable[[str, list], Exception]) -> None:
    """Raise ``fail(message, location)`` for the first field whose value stacks of kind ``stack`` do not render (an
    encoder of the names layout is checked by the rules of `NAMES_ENCODER`)."""
    stack = rule_kind(spec, stack)
    for path, depths, instead in PATH_DEPTHS:
        value = Rule(stack, path, (), "").value(spec)
        if value is not _ABSENT and len(value.split(".")) not in depths:
            raise fail(f"`{value}` is {len(value.split('.'))} modules deep, which is not rendered: {instead}", path.split("."))
    for kind, path, other, allowed, instead in REQUIRES:
        if kind != stack or Rule(stack, path, (), "").value(spec) is _ABSENT:
            continue
        value = Rule(stack, other, (), "").value(spec)
        if not _one_of(value, allowed):
            shown = "which this spec lacks" if value is _ABSENT else f"not with `{other}`" if value is _SET else f"not with `{other}: {_show(value)}`"
            raise fail(f"{stack} stacks render `{path}` only with {_requirement(other, allowed)}, {shown}: {instead}", path.split("."))
    for kind, path, given, other, allowed, instead in VALUE_REQUIRES:
        if kind != stack or Rule(stack, path, (), "").value(spec) != given:
            continue
        value = Rule(stack, other, (), "").value(spec)
        if not _one_of(value, allowed):
            shown = "which this spec lacks" if value is _ABSENT else f"not with `{other}`" if value is _SET else f"not with `{other}: {_show(value)}`"
            raise fail(f"{stack} stacks render `{path}: {_show(given)}` only with {_requirement(other, allowed)}, {shown}: {instead}", path.split("."))
    for rule in RULES:
        if rule.stack != stack:
            continue
        value = rule.value(spec)
        if _one_of(value, rule.allowed):
            continue
        if value is _ABSENT:
            message = f"{stack} stacks need `{rule.path}`: {rule.instead}"
        elif value is _SET or (isinstance(value, list) and value and isinstance(value[0], schema.BaseModel)):
            message = f"{stack} stacks do not render `{rule.path}`: {rule.instead}"
        else:
            message = f"{stack} stacks do not render `{rule.path}: {_show(value)}`: {rule.instead}"
        raise fail(message, rule.path.split("."))


def _one_of(value: Any, allowed: tuple) -> bool:
    # `is` for booleans and None: 0 == False and 1 == True must not pass for one another. `_SET` allows any value
    # written (a component or a config field's name).
    return any(value is not _ABSENT if a is _SET else value is a if a is None or isinstance(a, bool) else value == a for a in allowed)


def _requirement(other: str, allowed: tuple) -> str:
    return " or ".join(f"`{other}`" if a is _SET else f"no `{other}`" if a is _ABSENT else f"`{other}: {_show(a)}`" for a in allowed)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def markdown_table() -> str:
    """The rules as README.md shows them, one row per field (a test checks that the README holds exactly this)."""
    paths: dict[str, dict[str, str]] = {}
    for rule in RULES:
        shown = ", ".join("absent" if v is _ABSENT else "set" if v is _SET else f"`{_show(v)}`" for v in rule.allowed)
        paths.setdefault(rule.path, {})[rule.stack] = shown
    rows = ["| field | " + " | ".join(f"{kind} stacks" for kind in RULE_KINDS) + " |", "|---|" + "---|" * len(RULE_KINDS)]
    for path, by_stack in paths.items():
        rows.append(f"| `{path}` | " + " | ".join(by_stack.get(kind, "any") for kind in RULE_KINDS) + " |")
    required: dict[str, dict[str, list[str]]] = {}
    for kind, path, other, allowed, _ in REQUIRES:
        required.setdefault(path, {}).setdefault(kind, []).append(_requirement(other, allowed))
    for path, by_stack in required.items():
        shown = {kind: "only with " + " and ".join(needs) for kind, needs in by_stack.items()}
        rows.append(f"| `{path}` | " + " | ".join(shown.get(kind, "any") for kind in RULE_KINDS) + " |")
    valued: dict[str, dict[str, list[str]]] = {}
    for kind, path, given, other, allowed, _ in VALUE_REQUIRES:
        valued.setdefault(f"{path}: {_show(given)}", {}).setdefault(kind, []).append(_requirement(other, allowed))
    for path, by_stack in valued.items():
        shown = {kind: "only with " + " and ".join(needs) for kind, needs in by_stack.items()}
        rows.append(f"| `{path}` | " + " | ".join(shown.get(kind, "any") for kind in RULE_KINDS) + " |")
    for path, depths, _ in PATH_DEPTHS:
        shown = " or ".join(str(d) for d in depths)
        rows.append(f"| `{path}` | " + " | ".join(f"{shown} modules deep" for _ in RULE_KINDS) + " |")
    return "\n".join(rows)
