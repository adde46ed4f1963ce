"""Specs drawn from the schema: a hypothesis strategy over the components each stack kind renders.

`specs()` draws a whole architecture spec (as the mapping a YAML file holds) for a names-layout stack (decoder-only,
encoder or encoder-decoder, its module names drawn too), combining components
independently — including combinations no shipped spec uses. `render()`
runs the generator on it in a temporary directory and makes the rendered package importable as
`specformers.models.<name>` next to the shipped models (the runtime modules it imports are the shipped ones: they do
not depend on the specs).
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent

# What the examples run in this process combined (tests/test_composition.py prints it).
COVERAGE: Counter = Counter()

VOCAB, HIDDEN, HEADS, MAX_POSITIONS = 61, 16, 2, 40

# A head's activation: the config's `hidden_act` or a fixed one.
ACTIVATIONS = st.sampled_from([{"field": "hidden_act"}, {"name": "gelu"}, {"name": "tanh"}, {"name": "relu"}]).map(dict)  # fresh dicts: no YAML aliases


# The scalings of rotary positions drawn (`position.scaling`): each rendered `rope_type`, the legacy key `type`, YaRN
# with its factor from `mscale` / `mscale_all_dim` and an untruncated ramp.
ROPE_SCALINGS = (
    {"type": "linear", "factor": 2.0},
    {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8},
    {"rope_type": "yarn", "factor": 2.0, "mscale": 1.0, "mscale_all_dim": 0.5, "beta_fast": 8.0, "truncate": False},
)


def _draw_scaling(draw, position: dict, fields: list) -> Optional[dict]:
    """Scaled rotary positions or not (transformers' `rope_scaling`, `position.scaling`): the `test` section whose
    variant `drawn` holds the mapping the check builds its configuration with, or None."""
    if not draw(st.booleans()):
        return None
    fields.append({"name": "rope_scaling", "type": "dict", "optional": True, "default": None, "doc": "rope_scaling."})
    position["scaling"] = "rope_scaling"
    return {"variants": {"drawn": {"rope_scaling": draw(st.sampled_from(ROPE_SCALINGS))}}}


def _field(name: str, type_: str, default: Any, **extra) -> dict:
    # Drawn specs declare their stack kind's usual fields whether or not the drawn components read them (a classifier
    # dropout without a classifier, an epsilon field next to a fixed epsilon): each is `informative`, which the
    # generator requires of a declared field nothing reads (tests/bad_specs/config_field_read_by_nothing.yaml).
    return {"name": name, "type": type_, "default": default, "doc": f"{name}.", "informative": True, **extra}


@st.composite
def decoder_only_specs(draw, name: str) -> dict:
    """A names-layout stack whose module names are drawn too: containers of one or two levels (or none), fused or
    separate q/k/v (a fused one ordered [q | k | v], head by head or key/value head by key/value head; one key/value
    head as a config flag says or not), Linear or Conv1D projections with or without
    biases. A decoder-only stack (pre-norm, normalising each sublayer's output or both its input and output, causal, attention scaling fixed or by config flags, a sequential or parallel
    residual, fixed or by a config flag, word embeddings times sqrt(hidden_size) always, by a config flag or never;
    absolute positions with or without a row offset, learned, counted over the attention mask or fixed sinusoids,
    interleaved or fairseq's, or ALiBi biases with the keys counted over the mask or absolute; a norm after the
    embeddings or none; the residual from each sublayer's input or (always or by a config flag) its normalised input;
    an activation named by a config field or fixed; a feed-forward width from a config field or a multiple of
    hidden_size only; a dropout between the feed-forward projections or none, or a sparse mixture of experts
    (each expert the drawn feed-forward; a shared expert, its output gated or not, or none); queries, keys and values clipped or not; the last `hidden_states` entry
    after or before the final norm, a final norm removed by a config flag or not; the sequence classifier read at the
    last non-pad token or at the count of non-pad tokens - 1; the token classifier's loss over every label or the attended tokens only; scores and logits soft-capped
    or not, scores scaled by a config width or head_dim; per-layer kinds derived from a first sliding layer or a period)
    or an encoder (`stack: encoder`, `attention.layout: names`: bidirectional, post-norm or pre-norm with a final norm,
    with or without a norm after the embeddings, learned or flag-selected sinusoidal positions or rotary ones, token
    types (a table of their own or rows of the word embeddings) or none, a fixed or configured epsilon, first-token
    heads with or without a `pre_classifier`, a pooler (dense or bare) and pooled heads, an LM head of `names` roles,
    the sentence heads and the `transform` LM head of encoder stacks; embeddings of another width projected to
    hidden_size always or while the widths differ, `position_ids` taken or not, the discriminator head, a configured
    multiple-choice summary, a decoder's cache returned only when asked for, the `flat` LM head in a container, untied
    and of its own width, layer groups shared by the steps of the stack, functional relative positions, task types;
    the `flat` LM head's norm name and activation, its vocabulary projection at the top level, the `transform` LM head
    of the masked LM, the `dense_act` classifier's activation, a multiple-choice summary at the last position, LM heads
    without encoder states, a classifier dropout falling back to another field); LayerNorm or RMSNorm blocks, the
    RMSNorm with a unit offset (`1 + weight`) or not."""
    encoder = draw(st.booleans())
    attention_box = draw(st.sampled_from(["attn", "self_attn", "attention.inner"]))
    ffn_box = draw(st.sampled_from(["mlp", "ffn.block", ""]))
    fused = draw(st.booleans())
    ffn_prefix = ffn_box + "." if ffn_box else ""
    names: dict[str, str] = {
        "embeddings.word": draw(st.sampled_from(["wte", "embed_tokens"])),
        "embeddings.position": draw(st.sampled_from(["wpe", "embed_positions"])),
        "layers": draw(st.sampled_from(["h", "layers"])),
        "attention.norm": draw(st.sampled_from(["ln_1", "self_attn_layer_norm"])),
        "attention.output": f"{attention_box}.{draw(st.sampled_from(['c_proj', 'out_proj']))}",
        "ffn.norm": draw(st.sampled_from(["ln_2", "final_layer_norm"])),
        "ffn.input": ffn_prefix + "fc_in",
        "ffn.output": ffn_prefix + "fc_out",
    }
    if encoder:
        names["embeddings.norm"] = draw(st.sampled_from(["emb_ln", "embeddings_norm"]))
    else:
        names["final_norm"] = draw(st.sampled_from(["ln_f", "norm"]))
    for role, attr in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj")):
        names[f"attention.{role}"] = f"{attention_box}.c_attn" if fused else f"{attention_box}.{attr}"
    multiple = draw(st.booleans())
    fields = [
        _field("vocab_size", "int", VOCAB),
        _field("hidden_size", "int", HIDDEN),
        _field("num_hidden_layers", "int", draw(st.sampled_from([1, 2]))),
        _field("num_attention_heads", "int", HEADS),
        _field("max_position_embeddings", "int", MAX_POSITIONS),
        _field("intermediate_size", "int", None, optional=True) if multiple else _field("intermediate_size", "int", 20),
        _field("hidden_act", "str", draw(st.sampled_from(["gelu_new", "relu"]))),
        _field("hidden_dropout_prob", "float", 0.1),
        _field("attention_probs_dropout_prob", "float", 0.1),
        _field("layer_norm_eps", "float", 1e-5),
        _field("initializer_range", "float", 0.02),
        _field("pad_token_id", "int", 0),
    ]
    # The components of the names-layout block: norm kind, gated feed-forward, projection widths (heads of a given
    # width, fewer key/value heads), biases (fixed or by config flags, the output projection's own), no dropout.
    block = _names_block(draw, names, fields, fused, ffn_prefix)
    if encoder:
        return _names_encoder_spec(draw, name, names, fields, fused, multiple, block)
    fields.append(_field("use_cache", "bool", True))
    attention: dict[str, Any] = {"layout": "names", "projection": draw(st.sampled_from(["linear", "conv1d"])),
                                 "bias": draw(st.booleans()), "scale": draw(st.sampled_from([True, False, "scale_attn_weights"]))}
    if attention["scale"] == "scale_attn_weights":
        fields.append(_field("scale_attn_weights", "bool", draw(st.booleans())))
    if draw(st.booleans()):
        fields.append(_field("scale_attn_by_inverse_layer_idx", "bool", draw(st.booleans())))
        attention["scale_by_inverse_layer"] = "scale_attn_by_inverse_layer_idx"
    if draw(st.booleans()):
        fields.append(_field("reorder_and_upcast_attn", "bool", draw(st.booleans())))
        attention["upcast"] = "reorder_and_upcast_attn"
    feed_forward: dict[str, Any] = {"layout": "names", "projection": draw(st.sampled_from(["linear", "conv1d"])), "bias": draw(st.booleans())}
    if multiple:
        feed_forward["size_multiple"] = 2
    attention.update(block["attention"])
    feed_forward.update(block["feed_forward"])
    embeddings: dict[str, Any] = {"token_type": False, "position": "absolute", "norm": False, **block["embeddings"]}
    position = None
    if draw(st.booleans()):
        # Rotary positions (all of each head's dimensions, or half), no position table.
        del names["embeddings.position"]
        embeddings["position"] = "none"
        fields.append(_field("rope_theta", "float", draw(st.sampled_from([10000.0, 500.0]))))
        position = {"kind": "rotary", "theta": "rope_theta"}
        if draw(st.booleans()):
            fields.append(_field("partial_rotary_factor", "float", 0.5))
            position["fraction"] = "partial_rotary_factor"
    # The residual: sequential (absent), parallel, or parallel as a config flag says.
    residual = draw(st.sampled_from([None, True, "use_parallel_residual"]))
    if residual == "use_parallel_residual":
        fields.append(_field("use_parallel_residual", "bool", draw(st.booleans())))
    heads: list[dict[str, Any]] = [{"kind": "base"}]
    for kind in draw(st.lists(st.sampled_from(["causal_lm", "sequence_classification", "token_classification", "question_answering"]),
                              unique=True, min_size=1, max_size=2)):
        head: dict[str, Any] = {"kind": kind}
        if kind == "sequence_classification":
            head.update(style="last_token", path=draw(st.sampled_from(["score", "classifier"])), bias=draw(st.booleans()))
        if kind == "token_classification":
            head["dropout"] = draw(st.sampled_from([0.1, "hidden_dropout_prob"]))
        heads.append(head)
    base_model_prefix = draw(st.sampled_from(["transformer", "backbone"]))
    mask = draw(st.sampled_from(["separate", "combined"]))
    # Drawn last, so that the components above keep the values of earlier samples: rotary pairs interleaved, a
    # counted rotated part (`dims`) and a fixed base; one norm shared by a parallel residual; token types embedded by
    # the word embeddings; an LM head with a bias; float32 scores always.
    lm_head: dict[str, Any] = {"path": "lm_head", "layout": "linear"}
    if position is not None:
        position["pairing"] = draw(st.sampled_from(["halves", "interleaved"]))
        if "fraction" not in position and draw(st.booleans()):
            fields.append(_field("rotary_dim", "int", 4, optional=True))
            position["dims"] = "rotary_dim"
        if draw(st.booleans()):
            fields[:] = [f for f in fields if f["name"] != "rope_theta"]
            position["theta"] = 10000.0
    shared_norm = residual is True and draw(st.booleans())
    if shared_norm:
        del names["ffn.norm"]
    embeddings["token_type"] = draw(st.sampled_from([False, "word"]))
    if draw(st.booleans()):
        lm_head["bias"] = True
    if "upcast" not in attention and draw(st.booleans()):
        attention["upcast"] = True
    if draw(st.booleans()):
        # A sliding attention window of 3 positions (shorter than the test inputs), or None in the config (no window).
        fields.append(_field("sliding_window", "int", draw(st.sampled_from([3, None])), optional=True))
        attention["sliding_window"] = "sliding_window"
    # RMSNorms scaling by `1 + weight`; word embeddings times sqrt(hidden_size), always or as a config flag says.
    norm: dict[str, Any] = {"kind": block["norm"], "placement": "pre"}
    if norm["kind"] == "rms_norm" and draw(st.booleans()):
        norm["unit_offset"] = True
    scale = draw(st.sampled_from([None, True, "scale_embedding"]))
    if scale == "scale_embedding":
        fields.append(_field("scale_embedding", "bool", draw(st.booleans())))
    if scale is not None:
        embeddings["scale"] = scale
    _qk_norm(draw, names, fields, attention)
    # Absolute positions: a row offset of the table; positions counted over the attention mask, or fixed sinusoids
    # (always; interleaved or fairseq's, the padding row zero); a dropout between the feed-forward projections.
    if position is None:
        if draw(st.booleans()):
            embeddings["position_offset"] = 2
        positions = draw(st.sampled_from(["learned", "mask", "sinusoidal"]))
        if positions == "mask":
            # (Padding counts -1: the row before the first position, which the offset provides.)
            embeddings.update(mask_positions=True, position_offset=2)
        elif positions == "sinusoidal":
            embeddings.update(sinusoidal=True, sinusoidal_layout=draw(st.sampled_from(["interleaved", "fairseq"])), padding_idx="pad_token_id")
    if draw(st.booleans()):
        fields.append(_field("activation_dropout", "float", 0.1))
        feed_forward["activation_dropout"] = "activation_dropout"
    if draw(st.booleans()):
        # Drawn last: per-layer attention kinds (with a sliding window of 3 positions, or None in the config: every
        # layer full), derived from the layer the sliding ones start at (0: every layer slides; 1: the first sees
        # every earlier key), as transformers derives `layer_types`.
        if "sliding_window" not in attention:
            fields.append(_field("sliding_window", "int", draw(st.sampled_from([3, None])), optional=True))
            attention["sliding_window"] = "sliding_window"
        fields.append(_field("max_window_layers", "int", draw(st.sampled_from([1, 0]))))
        fields.append(_field("layer_types", "list", None, optional=True, choices=["full_attention", "sliding_attention"],
                             default_repeat="num_hidden_layers",
                             default_tail={"start": "max_window_layers", "when": "sliding_window"}))
        attention["layer_types"] = "layer_types"
        if draw(st.booleans()):
            # Or the kinds named `global` and `local`, expanded from `[kinds, count]` pairs (as transformers' GPT-Neo
            # derives `attention_layers` from `attention_types`): the first layer's kind once, then the others' (a
            # sliding kind only with a window).
            layers = next(f["default"] for f in fields if f["name"] == "num_hidden_layers")
            window = next(f["default"] for f in fields if f["name"] == "sliding_window")
            kinds = draw(st.lists(st.sampled_from(["global", "local"] if window is not None else ["global"]), min_size=layers, max_size=layers))
            fields[-1] = _field("layer_types", "list", None, optional=True, choices=["global", "local"],
                                default_expand={"pairs": "attention_types", "length": "num_hidden_layers"})
            fields.insert(-1, _field("attention_types", "repeats", [[kinds[:1], 1]] + ([[kinds[1:], 1]] if layers > 1 else [])))
    # Drawn last: the last `hidden_states` entry before the final norm; the sequence classifier read at each row's
    # count of non-pad tokens - 1; the token classifier's loss over the attended tokens only.
    decoder: dict[str, Any] = {"causal": True, "cache": True, "mask": mask}
    if draw(st.booleans()):
        norm["hidden_states_before_final_norm"] = True
    for head in heads:
        if head["kind"] == "sequence_classification" and draw(st.booleans()):
            head["index"] = "non_pad_count"
        if head["kind"] == "token_classification" and draw(st.booleans()):
            head["loss_over"] = "attended"
    if residual is None and feed_forward.get("dropout", "set") is None and draw(st.booleans()):
        # And, with sequential sublayers without dropout after them: each sublayer's output normalised before its
        # residual add.
        norm["placement"] = "output"
    residual_box: dict[str, Any] = {"parallel": residual, **({"shared_norm": True} if shared_norm else {})} if residual is not None else {}
    if draw(st.booleans()):
        # Float factors from the config: the word embeddings', the attention scores' (with or without the division
        # by sqrt(head_dim)), the logits' divisor; and with sequential pre-norm sublayers without dropout after them,
        # each sublayer's output's.
        fields += [_field("embedding_multiplier", "float", 2.5), _field("attention_multiplier", "float", 0.3)]
        embeddings["multiplier"] = "embedding_multiplier"
        attention["multiplier"] = "attention_multiplier"
        if draw(st.booleans()):
            attention["scale"] = False
        if lm_head is not None and lm_head.get("layout") == "linear":
            fields.append(_field("logits_scaling", "float", 4.0))
            lm_head["logits_divisor"] = "logits_scaling"
        if residual is None and norm["placement"] == "pre" and feed_forward.get("dropout", "set") is None:
            fields.append(_field("residual_multiplier", "float", 0.6))
            residual_box["multiplier"] = "residual_multiplier"
    # Drawn last: ALiBi instead of absolute positions (the keys counted over the attention mask or absolute); a norm
    # after the embeddings; the residual stream continuing from each sublayer's normalised input (always or as a
    # config flag says); a fixed activation (no config field); a feed-forward width no config field holds.
    if position is None and draw(st.booleans()):
        del names["embeddings.position"]
        for key in ("position_offset", "mask_positions", "sinusoidal", "sinusoidal_layout"):
            embeddings.pop(key, None)
        embeddings["position"] = "none"
        position = {"kind": "alibi", "count": draw(st.sampled_from(["mask", "absolute"]))}
    if draw(st.booleans()):
        names["embeddings.norm"] = draw(st.sampled_from(["emb_ln", "word_embeddings_layernorm"]))
        embeddings["norm"] = True
    if residual is None and norm["placement"] == "pre" and draw(st.booleans()):
        from_norm = draw(st.sampled_from([True, "apply_residual_connection_post_layernorm"]))
        if from_norm is not True:
            fields.append(_field(from_norm, "bool", draw(st.booleans())))
        residual_box["from_norm"] = from_norm
    if draw(st.booleans()):
        fields[:] = [f for f in fields if f["name"] != "hidden_act"]
        feed_forward.update(activation=None, activation_name=draw(st.sampled_from(["gelu_pytorch_tanh", "relu"])))
    if multiple and draw(st.booleans()):
        fields[:] = [f for f in fields if f["name"] != "intermediate_size"]
        feed_forward["size"] = None
    # Config values of the test variant `drawn` (a list field's, which cannot default to a list).
    drawn_values: dict = {}
    if "activation_dropout" not in feed_forward and names.get("ffn.gate") != names["ffn.input"] and draw(st.booleans()):
        # Drawn last: a sparse mixture of experts (3 experts, 2 per token, their probabilities renormalised always,
        # never or as a config flag says), the router and the list of experts where the feed-forward's projections
        # were, each expert holding the drawn feed-forward's projections one attribute deep.
        fields += [_field("num_local_experts", "int", 3), _field("num_experts_per_tok", "int", 2)]
        experts: dict[str, Any] = {"count": "num_local_experts", "top_k": "num_experts_per_tok",
                                   "normalize": draw(st.sampled_from([True, False, "norm_topk_prob"]))}
        if experts["normalize"] == "norm_topk_prob":
            fields.append(_field("norm_topk_prob", "bool", draw(st.booleans())))
        if draw(st.booleans()):
            # The router's training-time jitter (evaluation, which the test compares, is exact).
            fields.append(_field("router_jitter_noise", "float", draw(st.sampled_from([0.0, 0.1]))))
            experts["jitter"] = "router_jitter_noise"
        if draw(st.booleans()):
            # The router logits returned (by default: compared) and the auxiliary loss, in the output classes that
            # hold them.
            fields += [_field("output_router_logits", "bool", True), _field("router_aux_loss_coef", "float", 0.01)]
            experts.update(router_logits="output_router_logits", aux_loss_coef="router_aux_loss_coef")
            outputs = {"base": "MoeModelOutputWithPast", "causal_lm": "MoeCausalLMOutputWithPast"}
            for head in heads:
                if head["kind"] in outputs:
                    head["output"] = outputs[head["kind"]]
        for role in ("ffn.gate", "ffn.input", "ffn.output"):
            if role in names:
                names[role] = names[role].rsplit(".", 1)[-1]
        names.update({"ffn.router": ffn_prefix + "router", "ffn.experts": ffn_prefix + "experts"})
        if draw(st.booleans()):
            # A shared expert of its own width that every token goes through, its output scaled by a sigmoid gate or
            # not.
            fields.append(_field("shared_expert_intermediate_size", "int", 20))
            experts["shared"] = {"size": "shared_expert_intermediate_size", "gate": draw(st.booleans())}
            names["ffn.shared_expert"] = ffn_prefix + "shared_expert"
            if experts["shared"]["gate"]:
                names["ffn.shared_gate"] = ffn_prefix + "shared_expert_gate"
        depth = next(f["default"] for f in fields if f["name"] == "num_hidden_layers")
        if ffn_prefix.count(".") == 1 and depth == 2 and draw(st.booleans()):
            # The first layer a dense feed-forward of its own width in place of the router's module (its router and
            # experts), chosen by index (a list config field) or by period (experts every second layer).
            fields.append(_field("dense_intermediate_size", "int", 20))
            by_index = draw(st.booleans())
            if by_index:
                # (A list field defaults to None: the test variant `drawn` sets it, the first layer dense.)
                fields.append(_field("mlp_only_layers", "list", None, optional=True))
                drawn_values["mlp_only_layers"] = [0]
            else:
                fields.append(_field("decoder_sparse_step", "int", 2))
            experts["dense"] = {"size": "dense_intermediate_size", **({"layers": "mlp_only_layers"} if by_index else {"step": "decoder_sparse_step"})}
        elif not feed_forward["bias"] and feed_forward["projection"] == "linear" and "shared" not in experts and draw(st.booleans()):
            # Each projection one parameter of every expert's matrix, [experts, out, in], held by the block (no
            # list of experts); a gated feed-forward's gate and input one such parameter, [gate | input], or two.
            experts["layout"] = "stacked"
            del names["ffn.experts"]
            for role in ("ffn.gate", "ffn.input", "ffn.output"):
                if role in names:
                    names[role] = ffn_prefix + "experts_" + names[role]
            if "ffn.gate" in names and draw(st.booleans()):
                names["ffn.gate"] = names["ffn.input"]
        feed_forward["experts"] = experts
    if draw(st.booleans()):
        # Drawn last: the queries, keys and values clipped to [-0.5, 0.5], or None in the config (no clipping).
        fields.append(_field("clip_qkv", "float", draw(st.sampled_from([0.5, None])), optional=True))
        attention["clip"] = "clip_qkv"
    # Drawn last: one key/value head when a config flag says so (multi-query attention), a fused projection ordered
    # key/value head by key/value head (each one's query heads, then its key and value), one norm shared by a
    # config-chosen parallel residual (the sequential form's second norm then built only without the flag).
    if attention.get("fused_order") not in ("per_head", "sharded") and draw(st.booleans()):
        fields.append(_field("multi_query", "bool", draw(st.booleans())))
        attention["multi_query"] = "multi_query"
        if fused:
            attention["prunable"] = False  # (refused with fewer key/value heads in one projection)
    grouped = "kv_heads" in attention or "multi_query" in attention
    if fused and grouped and attention.get("qk_norm_scope") != "all" and draw(st.booleans()):
        attention["fused_order"] = "per_group"
    if residual == "use_parallel_residual" and draw(st.booleans()):
        residual_box["shared_norm"] = True
    # Drawn last: with one norm shared by a config-chosen parallel residual, a second parallel form chosen by another
    # flag, a norm for each sublayer (one when the count is 1), key/value heads counted only under that flag and
    # repeated before the cache; the parallel sublayers' sum dropped out; no dropout of the attention probabilities,
    # the attention output's at a rate of its own.
    if residual_box.get("shared_norm") and draw(st.booleans()):
        fields.append(_field("new_decoder_architecture", "bool", draw(st.booleans())))
        fields.append(_field("num_ln_in_parallel_attn", "int", draw(st.sampled_from([None, 1])), optional=True))
        residual_box["split_norms"] = {"flag": "new_decoder_architecture", "count": "num_ln_in_parallel_attn"}
        names["attention.parallel_norm"] = "ln_attn"
        names["ffn.parallel_norm"] = "ln_mlp"
        if "kv_heads" in attention and draw(st.booleans()):
            attention["kv_heads_when"] = "new_decoder_architecture"
        if grouped and draw(st.booleans()):
            attention["cache_repeated"] = "new_decoder_architecture"
    if residual is not None and feed_forward.get("dropout", "set") is not None and feed_forward.get("output_dropout", True) and draw(st.booleans()):
        residual_box["dropout_sum"] = True
    if attention.get("output_dropout", True) is True and norm["placement"] == "pre" and "multiplier" not in residual_box and draw(st.booleans()):
        # (The attention output then dropped out at the probabilities' rate, which stays read.)
        attention.update(dropout=None, output_dropout="attention_probs_dropout_prob")
    # Drawn last: soft caps of the scores and the logits (small, so that the tanh bends them; or None in the config:
    # no cap); scores scaled by a config width's inverse square root in place of head_dim's; sublayers whose input
    # and output are both normalised (where their output may be); every other layer kind derived from a period in
    # place of a first sliding layer (with a window: sliding layers need one).
    if draw(st.booleans()):
        fields.append(_field("attn_logit_softcapping", "float", draw(st.sampled_from([0.5, None])), optional=True))
        attention["softcap"] = "attn_logit_softcapping"
        fields.append(_field("final_logit_softcapping", "float", draw(st.sampled_from([0.3, None])), optional=True))
        lm_head["logits_softcap"] = "final_logit_softcapping"
    if attention["scale"] is True and draw(st.booleans()):
        fields.append(_field("query_pre_attn_scalar", "int", 12))
        attention["scale_dim"] = "query_pre_attn_scalar"
    if norm["placement"] == "output" and draw(st.booleans()):
        norm["placement"] = "sandwich"
        names["attention.output_norm"] = draw(st.sampled_from(["post_attention_layernorm", "ln_attn_out"]))
        names["ffn.output_norm"] = draw(st.sampled_from(["post_feedforward_layernorm", "ln_ffn_out"]))
    window = next((f for f in fields if f["name"] == "sliding_window"), None)
    kinds = next((f for f in fields if f["name"] == "layer_types"), None)
    if "layer_types" in attention and "default_tail" in kinds and window["default"] is not None and draw(st.booleans()):
        del kinds["default_tail"]
        kinds["default_period"] = 2
    # Drawn last: LayerNorms without a bias (then, maybe, without a weight either); norms of the queries and keys with a
    # weight of each head's own (held stacked or as a list of norms, their bias the stack's or chosen); the logits times
    # a config factor.
    if norm["kind"] == "layer_norm" and draw(st.booleans()):
        norm["bias"] = False
    if "qk_norm" in attention and norm["kind"] == "layer_norm" and draw(st.booleans()):
        attention.update(qk_norm_scope="each_head", qk_norm_layout=draw(st.sampled_from(["stacked", "list"])))
        qk_norm_bias = draw(st.sampled_from([None, True, False]))
        if qk_norm_bias is not None:
            attention["qk_norm_bias"] = qk_norm_bias
    # LayerNorms without any parameter (no weight, no bias): pre-norm or output norms, no norms of queries and keys.
    if norm.get("bias") is False and norm["placement"] in ("pre", "output") and "qk_norm" not in attention and draw(st.booleans()):
        norm["weight"] = False
    # LayerNorms scaled by `1 + weight` (not without parameters, nor with norms of each head's own or a bias chosen
    # for the norms of the queries and keys, nor without a bias around each sublayer).
    if (norm["kind"] == "layer_norm" and "weight" not in norm and attention.get("qk_norm_scope") != "each_head" and "qk_norm_bias" not in attention
            and not (norm.get("bias") is False and norm["placement"] == "sandwich") and draw(st.booleans())):
        norm["unit_offset"] = True
    if draw(st.booleans()):
        fields.append(_field("logit_scale", "float", 0.5))
        lm_head["logits_multiplier"] = "logit_scale"
    # A final norm that a config flag removes (its module then absent).
    if not norm.get("hidden_states_before_final_norm") and draw(st.booleans()):
        fields.append(_field("remove_final_layer_norm", "bool", draw(st.booleans())))
        norm["final_unless"] = "remove_final_layer_norm"
    # Drawn last: the sliding layers rotating with a base of their own (rotary positions with a base from the config
    # and per-layer kinds); given `inputs_embeds` left unscaled (word embeddings always scaled); the last head's class
    # named in full, outside the class prefix (`_named` makes the name the drawn spec's own).
    if position is not None and position["kind"] == "rotary" and isinstance(position["theta"], str) and "layer_types" in attention and draw(st.booleans()):
        fields.append(_field("rope_local_base_freq", "float", 50.0))
        position["theta_by_layer_type"] = {kinds["choices"][1]: "rope_local_base_freq"}
    # Drawn last: rotary positions on some layers only (a per-layer list of ints, every n-th layer without positions),
    # the list declared before the layer kinds, which may then be derived from it (the layers without positions slide).
    if position is not None and position["kind"] == "rotary" and draw(st.booleans()):
        at = next((i for i, f in enumerate(fields) if f["name"] == "layer_types"), len(fields))
        fields.insert(at, _field("no_rope_layers", "list", None, optional=True, choices=[0, 1], default_repeat="num_hidden_layers",
                                 default_period=draw(st.sampled_from([1, 2]))))
        position["layers"] = "no_rope_layers"
        if kinds is not None and "default_tail" in kinds and draw(st.booleans()):
            del kinds["default_tail"]
            kinds["default_match"] = {"source": "no_rope_layers", "entry": 0, "when": "sliding_window"}
    if embeddings.get("scale") is True and draw(st.booleans()):
        embeddings["scale_inputs_embeds"] = False
    if draw(st.booleans()):
        heads[-1]["class_name"] = "Whole" + "".join(part.title() for part in heads[-1]["kind"].split("_"))
    # The norm placement chosen by a config flag: pre-norm blocks, or post-norm ones without the final norm
    # (sequential sublayers only).
    if norm["placement"] == "pre" and not residual_box and not norm.get("hidden_states_before_final_norm") and draw(st.booleans()):
        fields.append(_field("do_layer_norm_before", "bool", draw(st.booleans())))
        norm["pre_when"] = "do_layer_norm_before"
    # Word embeddings of their own width (half hidden_size, or equal): the word embeddings alone projected to
    # hidden_size and the stack's output back, always or while the widths differ, with biases or without (no norm
    # after the embeddings, no token types).
    if not embeddings.get("norm") and embeddings["token_type"] is False and draw(st.booleans()):
        fields.append(_field("word_embed_proj_dim", "int", draw(st.sampled_from([HIDDEN // 2, HIDDEN]))))
        embeddings["size"] = "word_embed_proj_dim"
        embeddings["projection"] = {"when": draw(st.sampled_from(["always", "sizes_differ"])), "bias": draw(st.booleans())}
        names["embeddings.projection"] = "project_in"
        names["final_projection"] = "project_out"
    # LayerDrop (in training; the models compared in evaluation run every block), not with router logits.
    layerdrop = None
    if "router_logits" not in feed_forward.get("experts", {}) and draw(st.booleans()):
        fields.append(_field("layerdrop", "float", draw(st.sampled_from([0.0, 0.5]))))
        layerdrop = {"decoder": "layerdrop"}
    # Drawn last: scaled rotary positions (not over a counted part), with per-layer kinds on one kind only (the other
    # rotating unscaled: always the kind with a base of its own).
    test = None
    if position is not None and position["kind"] == "rotary" and "dims" not in position:
        test = _draw_scaling(draw, position, fields)
        if test is not None and "layer_types" in attention and ("theta_by_layer_type" in position or draw(st.booleans())):
            position["unscaled_layer_types"] = list(position.get("theta_by_layer_type", ())) or [draw(st.sampled_from(kinds["choices"]))]
    if drawn_values:
        test = test or {"variants": {"drawn": {}}}
        test["variants"]["drawn"].update(drawn_values)
    # Drawn last: ALiBi positions in place of the rotary ones as a config flag says (every layer rotating, no window),
    # the bias joining the scores before or after their scaling (before: maybe once more in the mask unless a head
    # mask is given), rounded to bfloat16 or not, the probabilities dropped out under the flag or not, the head mask
    # applied by the rotary attention or not.
    if (position is not None and position["kind"] == "rotary" and "layers" not in position and "theta_by_layer_type" not in position
            and "sliding_window" not in attention and "layer_types" not in attention and draw(st.booleans())):
        fields.append(_field("use_alibi", "bool", draw(st.booleans())))
        scaled = draw(st.booleans())
        position["alibi"] = {"flag": "use_alibi", "count": draw(st.sampled_from(["mask", "absolute"])), "scaled": scaled,
                             "mask_copy": scaled and draw(st.booleans()), "bfloat16": draw(st.booleans())}
        if draw(st.booleans()):
            position["alibi"]["dropout"] = "attention_probs_dropout_prob"
        if draw(st.booleans()):
            # The head mask ignored by the rotary attention (applied under the flag only).
            position["alibi"]["rotary_head_mask"] = False
    # Drawn last: attention settings nested in a sub-configuration (`type: config`): the clipping bound (where drawn)
    # moved into it, and the scores times an optional factor of it in place of 1 / sqrt(head_dim) (or None there:
    # the division).
    if draw(st.booleans()):
        subs = [f for f in fields if f["name"] == "clip_qkv"]
        if subs:
            fields.remove(subs[0])
            attention["clip"] = "attn_config.clip_qkv"
        if attention["scale"] is True and "scale_dim" not in attention and draw(st.booleans()):
            subs.append(_field("softmax_scale", "float", draw(st.sampled_from([0.3, None])), optional=True))
            attention["scale_value"] = "attn_config.softmax_scale"
        if subs:
            fields.append({"name": "attn_config", "type": "config", "default": None, "config_class": "DrawnAttentionConfig",
                           "doc": "attn_config.", "fields": subs})
    return {
        **({"test": test} if test else {}),
        "name": name, "class_prefix": "Drawn", "model_type": name, "base_model_prefix": base_model_prefix,
        "title": name.upper(), "paper": "-", "stack": "decoder-only",
        "config": {"doc": "A drawn decoder-only architecture.", "fields": fields},
        "names": names,
        "embeddings": embeddings,
        **({"position": position} if position else {}),
        "attention": attention, "feed_forward": feed_forward,
        "norm": norm,
        **({"residual": residual_box} if residual_box else {}),
        "decoder": decoder,
        **({"layerdrop": layerdrop} if layerdrop else {}),
        "lm_head": lm_head,
        "heads": heads,
    }


@st.composite
def names_encoder_decoder_specs(draw, name: str) -> dict:
    """A names-layout encoder-decoder (`stack: encoder-decoder`, `attention.layout: names`): two LayerNorm or RMSNorm
    stacks (the RMSNorm with a unit offset or not), post-norm or pre-norm with a final norm (the role `final_norm`), a
    dense or gated feed-forward, biases on,
    off or by config flags, of learned positions (offset or not) or fixed
    sinusoids (always or by a flag, interleaved, in halves or fairseq's), counted from 0 or past the padding index,
    a norm after the embeddings or none (the decoder's before the positions are added or after), word embeddings
    scaled always, by a config flag or not (the decoder's as the encoder's or never), a decoder whose depth, heads and
    feed-forward width are its own config
    fields (drawn different from the encoder's), decoder inputs shifted after the start token or after each row's last
    non-pad token, LayerDrop fields or none, a logits bias or none, encoder and decoder vocabularies shared or separate
    by a config flag (the decoder's of its own size or not), the heads the kind renders (the generation head
    returning the cache given labels or not), with the first block's bucketed bias an encoder self-attention that is
    blocked, local or transient-global as a config field chooses; its module names the
    `bart` preset or drawn ones."""
    attention_box, cross_box = draw(st.sampled_from([("self_attn", "encoder_attn"), ("attn", "cross_attn")]))
    if draw(st.booleans()):
        names: dict[str, str] = {"preset": "bart"}
    else:
        names = {
            "embeddings.shared": draw(st.sampled_from(["shared", "embed_shared"])),
            "encoder": draw(st.sampled_from(["encoder", "enc"])),
            "decoder": draw(st.sampled_from(["decoder", "dec"])),
            "embeddings.word": draw(st.sampled_from(["embed_tokens", "wte"])),
            "embeddings.position": draw(st.sampled_from(["embed_positions", "wpe"])),
            "embeddings.norm": draw(st.sampled_from(["layernorm_embedding", "emb_ln"])),
            "layers": draw(st.sampled_from(["layers", "block"])),
            "attention.norm": draw(st.sampled_from(["self_attn_layer_norm", "ln_1"])),
            "cross_attention.norm": draw(st.sampled_from(["encoder_attn_layer_norm", "ln_cross"])),
            "ffn.norm": draw(st.sampled_from(["final_layer_norm", "ln_2"])),
            "ffn.input": draw(st.sampled_from(["fc1", "mlp.fc_in"])),
        }
        names["ffn.output"] = names["ffn.input"].replace("fc1", "fc2").replace("fc_in", "fc_out")
        # Three q/k/v projections (a fused one is refused in encoder-decoder stacks).
        for box, prefix in ((attention_box, "attention"), (cross_box, "cross_attention")):
            for role, attr in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"), ("output", "out_proj")):
                names[f"{prefix}.{role}"] = f"{box}.{attr}"
    placement = draw(st.sampled_from(["post", "pre"]))
    if placement == "pre":
        # The norm after each stack's last block.
        names["final_norm"] = draw(st.sampled_from(["layer_norm", "ln_f"]))
    # The decoder's sizes differ from the encoder's when drawn so (depth, heads of another width, feed-forward width).
    encoder_layers, decoder_layers = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2, 3]))
    encoder_heads, decoder_heads = draw(st.sampled_from([2, 4])), draw(st.sampled_from([2, 4]))
    fields = [
        _field("vocab_size", "int", VOCAB),
        _field("max_position_embeddings", "int", MAX_POSITIONS),
        _field("encoder_layers", "int", encoder_layers),
        _field("encoder_ffn_dim", "int", 20),
        _field("encoder_attention_heads", "int", encoder_heads),
        _field("decoder_layers", "int", decoder_layers),
        _field("decoder_ffn_dim", "int", draw(st.sampled_from([20, 28]))),
        _field("decoder_attention_heads", "int", decoder_heads),
        _field("activation_function", "str", draw(st.sampled_from(["gelu", "relu", "gelu_new", "silu"]))),
        _field("d_model", "int", HIDDEN),
        _field("dropout", "float", 0.1),
        _field("attention_dropout", "float", 0.1),
        _field("activation_dropout", "float", 0.1),
        _field("init_std", "float", 0.02),
        _field("classifier_dropout", "float", 0.0),
        _field("use_cache", "bool", True),
        _field("pad_token_id", "int", 1),
        _field("bos_token_id", "int", 0),
        _field("eos_token_id", "int", 2),
        _field("is_encoder_decoder", "bool", True),
        _field("decoder_start_token_id", "int", 2),
    ]
    embeddings: dict[str, Any] = {"token_type": False, "position": "absolute", "norm": True, "dropout": "dropout"}
    if draw(st.booleans()):
        embeddings["padding_idx"] = "pad_token_id"
    offset = draw(st.sampled_from([0, 2, None]))
    if offset is not None:
        embeddings["position_offset"] = offset
    if draw(st.booleans()):
        fields.append(_field("scale_embedding", "bool", draw(st.booleans())))
        embeddings["scale"] = "scale_embedding"
    feed_forward: dict[str, Any] = {"layout": "names", "size": "encoder_ffn_dim", "activation": "activation_function", "dropout": "dropout"}
    if draw(st.booleans()):
        feed_forward["activation_dropout"] = "activation_dropout"
    attention: dict[str, Any] = {"layout": "names", "dropout": "attention_dropout"}
    # The block's components: a gated feed-forward (at each stack's width), biases fixed or by config flags.
    if draw(st.booleans()):
        feed_forward["gated"] = True
        names["ffn.gate"] = "fc_gate"
        if draw(st.booleans()):
            # The gate chosen by a config flag (T5's `is_gated_act`): without it, the input projection `ffn.plain_input`.
            fields.append(_field("is_gated", "bool", draw(st.booleans())))
            feed_forward["gated"] = "is_gated"
            names["ffn.plain_input"] = "fc_plain"
    for box, flag in ((attention, "attention_bias"), (feed_forward, "mlp_bias")):
        bias = draw(st.sampled_from([True, False, flag]))
        if bias == flag:
            fields.append(_field(flag, "bool", draw(st.booleans())))
        box["bias"] = bias
    output_bias = draw(st.sampled_from([None, True, False]))
    if output_bias is not None:
        attention["output_bias"] = output_bias
    if "preset" not in names and draw(st.booleans()):
        # Module lists (T5's names): each sublayer an item of the block's list `layer`, the cross-attention the
        # decoder's third.
        for prefix, item, box in (("attention", 0, "SelfAttention"), ("cross_attention", 2, "EncDecAttention")):
            for role, attr in (("query", "q"), ("key", "k"), ("value", "v"), ("output", "o")):
                names[f"{prefix}.{role}"] = f"layer.{item}.{box}.{attr}"
            names[f"{prefix}.norm"] = f"layer.{item}.layer_norm"
        names.update({"ffn.norm": "layer.1.layer_norm", "ffn.input": "layer.1.DenseReluDense.wi", "ffn.output": "layer.1.DenseReluDense.wo"})
        if "ffn.gate" in names:
            names.update({"ffn.gate": "layer.1.DenseReluDense.wi_0", "ffn.input": "layer.1.DenseReluDense.wi_1"})
        if "ffn.plain_input" in names:
            names["ffn.plain_input"] = "layer.1.DenseReluDense.wi"
        if draw(st.booleans()):
            # T5's order: the decoder blocks' cross-attention second, their feed-forward third (`decoder_block.*`).
            for role in ("query", "key", "value", "output", "norm"):
                names[f"cross_attention.{role}"] = names[f"cross_attention.{role}"].replace("layer.2.", "layer.1.")
            for role in ("ffn.norm", "ffn.input", "ffn.output", "ffn.gate", "ffn.plain_input"):
                if role in names:
                    names[f"decoder_block.{role}"] = names[role].replace("layer.1.", "layer.2.")
    if draw(st.booleans()):
        # Heads of a configured width (T5's `d_kv`), not hidden_size / heads: each stack's projections are its heads
        # times that wide.
        fields.append(_field("d_kv", "int", draw(st.sampled_from([4, 6]))))
        attention["head_dim"] = "d_kv"
    if draw(st.booleans()):
        # Unscaled scores (T5's).
        attention["scale"] = False
    spec: dict[str, Any] = {
        "name": name, "class_prefix": "Drawn", "model_type": name, "base_model_prefix": draw(st.sampled_from(["model", "transformer"])),
        "title": name.upper(), "paper": "-", "stack": "encoder-decoder",
        "config": {"doc": "A drawn names-layout encoder-decoder.", "fields": fields,
                   "attribute_map": {"num_attention_heads": "encoder_attention_heads", "hidden_size": "d_model",
                                     "num_hidden_layers": "encoder_layers", "initializer_range": "init_std"}},
        "names": names,
        "embeddings": embeddings,
        "attention": attention,
        "feed_forward": feed_forward,
        "norm": {"kind": draw(st.sampled_from(["layer_norm", "rms_norm"])), "placement": placement, "eps": draw(st.sampled_from([1e-5, 1e-12]))},
        "decoder": {"layers": "decoder_layers", "heads": "decoder_attention_heads", "ffn_size": "decoder_ffn_dim",
                    "start_token": "decoder_start_token_id"},
        "lm_head": {"path": "lm_head", "layout": "linear"},
    }
    if draw(st.booleans()):
        fields += [_field("encoder_layerdrop", "float", 0.0), _field("decoder_layerdrop", "float", 0.0)]
        spec["layerdrop"] = {"encoder": "encoder_layerdrop", "decoder": "decoder_layerdrop"}
    if draw(st.booleans()):
        spec["lm_head"]["logits_bias"] = "final_logits_bias"
    if draw(st.booleans()):
        # A tied LM head scaling the decoder output by hidden_size ** -0.5 (T5's).
        spec["lm_head"]["tied_scale"] = True
    if placement == "pre" and draw(st.booleans()):
        # Dropout after each stack's final norm (T5's).
        spec["norm"]["final_dropout"] = True
    if draw(st.booleans()):
        # Encoder and decoder vocabularies shared or separate as a config flag says, the decoder's of its own size or not.
        shared, decoder_vocab = draw(st.booleans()), draw(st.sampled_from([VOCAB, VOCAB - 17]))
        fields += [_field("share_encoder_decoder_embeddings", "bool", shared), _field("decoder_vocab_size", "int", decoder_vocab)]
        embeddings["vocabularies"] = {"shared": "share_encoder_decoder_embeddings", "decoder_size": "decoder_vocab_size"}
        if not shared and decoder_vocab != VOCAB:
            # An LM head tied to the decoder's own table (`vocab_size` rows) cannot cover another vocabulary size.
            fields.append(_field("tie_word_embeddings", "bool", False))
    if draw(st.booleans()):
        # Decoder inputs after each row's last non-pad token (mBART), no start token.
        del spec["decoder"]["start_token"]
        spec["decoder"]["shift"] = "last_non_pad"
    heads: list[dict[str, Any]] = [{"kind": "seq2seq"}]
    kinds = draw(st.lists(st.sampled_from(["conditional_generation", "sequence_classification", "question_answering", "causal_lm",
                                           "encoder", "token_classification"]), unique=True, min_size=1, max_size=2))
    if "vocabularies" in embeddings:
        # The encoder model (and token classification on it) shares one vocabulary matrix.
        kinds = [kind for kind in kinds if kind not in ("encoder", "token_classification")]
    if "token_classification" in kinds and "encoder" not in kinds:
        # Token classification runs the encoder model (T5's): that head too.
        kinds.insert(kinds.index("token_classification"), "encoder")
    for kind in kinds:
        head: dict[str, Any] = {"kind": kind}
        if kind in ("sequence_classification", "token_classification"):
            head["dropout"] = draw(st.sampled_from([0.0, "classifier_dropout"]))
        heads.append(head)
    spec["heads"] = heads
    # Positions: learned, or fixed sinusoids (always, or as a config flag says; interleaved, in halves or fairseq's),
    # the always fixed ones left out of the LM head's checkpoints or not, counted from 0 or past the padding index; a
    # norm after the embeddings or none.
    sinusoidal = draw(st.sampled_from([None, True, "flag"]))
    if sinusoidal == "flag":
        fields.append(_field("sinusoidal_positions", "bool", draw(st.booleans())))
        embeddings["sinusoidal"] = "sinusoidal_positions"
    elif sinusoidal:
        embeddings["sinusoidal"] = True
        for head in heads:
            if head["kind"] == "conditional_generation" and draw(st.booleans()):
                head["sinusoidal_saved"] = False
    if sinusoidal:
        embeddings["sinusoidal_layout"] = draw(st.sampled_from(["interleaved", "halves", "fairseq"]))
    if sinusoidal is True and embeddings["sinusoidal_layout"] == "fairseq":
        # fairseq's always fixed table is a constant, never saved.
        for head in heads:
            head.pop("sinusoidal_saved", None)
    if draw(st.booleans()):
        # Positions counted past the padding index from the ids (M2M100's), the decoder's after the cached length.
        embeddings["position_padding_idx"] = "pad_token_id"
    for head in heads:
        if head["kind"] == "conditional_generation" and draw(st.booleans()):
            # The cache still returned when labels are given (M2M100's), or not (the default, BART's).
            head["labels_disable_cache"] = draw(st.booleans())
    if draw(st.booleans()):
        embeddings["norm"] = False
        names.pop("embeddings.norm", None)  # a preset's role is left out
    # RMSNorms scaling by `1 + weight`; word embeddings always scaled (a flag may scale them above).
    if spec["norm"]["kind"] == "rms_norm" and draw(st.booleans()):
        spec["norm"]["unit_offset"] = True
    if "scale" not in embeddings and draw(st.booleans()):
        embeddings["scale"] = True
    # The decoder's embeddings norm on the word embeddings before the positions (with a norm), its word embeddings
    # never scaled (with a scale).
    if embeddings["norm"] and draw(st.booleans()):
        spec["decoder"]["embeddings_norm"] = "before_positions"
    if "scale" in embeddings and draw(st.booleans()):
        spec["decoder"]["embeddings_scale"] = False
    if draw(st.booleans()):
        # A bucketed relative bias each stack owns (bidirectional buckets in the encoder, causal in the decoder, at
        # the decoder's heads), fixed or configured bucket counts and distances, with or without absolute positions.
        # The tables: each stack's, its first block's self-attention's (T5's) or every block's (UMT5's).
        fields.append(_field("relative_attention_num_buckets", "int", draw(st.sampled_from([8, 32]))))
        owner = draw(st.sampled_from(["stack", "first_layer", "every_layer"]))
        spec["position"] = {"kind": "bucketed_bias", "num_buckets": "relative_attention_num_buckets", "owner": owner}
        if owner != "stack" or draw(st.booleans()):
            fields.append(_field("relative_attention_max_distance", "int", 16))
            spec["position"]["max_distance"] = "relative_attention_max_distance"
        else:
            spec["position"]["max_distance"] = 128
            spec["position"]["fixed_buckets"] = 8
        if owner == "stack":
            names["position.bias"] = draw(st.sampled_from(["relative_attention_bias", "rel_bias"]))
        else:
            box = names.get("attention.query", "self_attn.q_proj").rsplit(".", 1)[0]
            names["attention.relative_bias"] = f"{box}.relative_attention_bias"
        if owner != "stack" or draw(st.booleans()):
            # No absolute positions (T5's): the bias alone (a table in the blocks replaces absolute positions).
            embeddings["position"] = "none"
            names.pop("embeddings.position", None)  # a preset's role is left out
            for key in ("position_offset", "position_padding_idx", "sinusoidal", "sinusoidal_layout"):
                embeddings.pop(key, None)
            spec["decoder"].pop("embeddings_norm", None)
            for head in heads:
                head.pop("sinusoidal_saved", None)
            # Nor a maximum length (T5's configuration has none).
            fields[:] = [f for f in fields if f["name"] not in ("sinusoidal_positions", "max_position_embeddings")]
        if owner == "first_layer" and "layerdrop" not in spec and draw(st.booleans()):
            # The encoder's blocked self-attention (LongT5's), local or transient-global as a config field chooses (one
            # variant or both): each variant's encoder-block paths in a module of its own beside the self-attention's.
            defaults = {"attention.query": "self_attn.q_proj", "attention.key": "self_attn.k_proj",
                        "attention.value": "self_attn.v_proj", "attention.output": "self_attn.out_proj"}
            paths = {role: names.get(role, default) for role, default in defaults.items()}
            paths["attention.relative_bias"] = names["attention.relative_bias"]
            parent = paths["attention.query"].rsplit(".", 1)[0].rpartition(".")[0]
            values = draw(st.sampled_from([["local"], ["transient-global"], ["local", "transient-global"]]))
            fields += [_field("local_radius", "int", draw(st.sampled_from([1, 2, 4]))),
                       _field("global_block_size", "int", draw(st.sampled_from([2, 3]))),
                       _field("encoder_attention_type", "str", draw(st.sampled_from(values)), choices=values)]
            variants = {}
            for value in values:
                variant = value.replace("-", "_")
                box = (parent + "." if parent else "") + ("LocalSelfAttention" if variant == "local" else "TransientGlobalSelfAttention")
                variant_names = {role: f"{box}.{path.rsplit('.', 1)[1]}" for role, path in paths.items()}
                if variant == "transient_global":
                    variant_names["attention.global_norm"] = f"{box}.global_input_layer_norm"
                    variant_names["attention.global_relative_bias"] = f"{box}.global_relative_attention_bias"
                variants[value] = {"variant": variant, "names": variant_names}
            attention["select"] = {"field": "encoder_attention_type", "variants": variants}
            attention["local"] = {"radius": "local_radius", "global_block_size": "global_block_size"}
    for head in heads:
        if head["kind"] in ("conditional_generation", "sequence_classification", "question_answering") and "vocabularies" not in embeddings and draw(st.booleans()):
            # The head's class holds the base model's modules itself (T5's generation and question-answering heads):
            # no base-model prefix on its names.
            head["inline_base"] = True
    if draw(st.booleans()):
        # A `head_mask` copied to the decoder when both stacks are equally deep and no `decoder_head_mask` is given (T5's).
        spec["decoder"]["copy_head_mask"] = True
    if embeddings["position"] == "none" and "head_dim" in attention and draw(st.booleans()):
        # Mesh TensorFlow's initialisation from a factor (T5's): no `initializer_range` (`init_std`) then.
        fields[:] = [f for f in fields if f["name"] != "init_std"] + [_field("initializer_factor", "float", draw(st.sampled_from([1.0, 0.5])))]
        del spec["config"]["attribute_map"]["initializer_range"]
        spec["initializer"] = {"factor": "initializer_factor"}
    return spec


def _names_block(draw, names: dict, fields: list, fused: bool, ffn_prefix: str) -> dict:
    """The block components every names-layout stack takes: `norm` (the kind) and entries of `attention`,
    `feed_forward` and `embeddings` (their config fields appended to `fields`, the gate's path to `names`)."""
    attention: dict[str, Any] = {}
    feed_forward: dict[str, Any] = {}
    embeddings: dict[str, Any] = {}
    if draw(st.booleans()):
        # The gate its own projection, or one projection computing [gate | input] (the input's path).
        names["ffn.gate"] = ffn_prefix + draw(st.sampled_from(["fc_gate", "fc_in"]))
        feed_forward["gated"] = True
    if fused and draw(st.booleans()):
        # The fused output ordered head by head ([q0 k0 v0 | q1 k1 v1 | ...]) instead of [q | k | v].
        attention["fused_order"] = "per_head"
    elif fused and draw(st.booleans()):
        # Shard by shard, each shard one head's three parts in a drawn order ([q0 v0 k0 | q1 v1 k1] with two shards).
        attention.update(fused_order="sharded", fused_shards=HEADS, fused_parts=draw(st.permutations(["query", "key", "value"])))
    # (A fused projection ordered [q | k | v] takes the widths below too: [q | k | v] of those widths.)
    blocks = attention.get("fused_order") not in ("per_head", "sharded")
    if blocks and draw(st.booleans()):
        # Heads 12 wide, whatever hidden_size / heads is (8).
        fields.append(_field("head_dim", "int", 12))
        attention["head_dim"] = "head_dim"
    if blocks and draw(st.booleans()):
        fields.append(_field("num_key_value_heads", "int", 1))
        attention["kv_heads"] = "num_key_value_heads"
        if fused:
            attention["prunable"] = False  # (refused with fewer key/value heads in one projection)
    for box, flag in ((attention, "attention_bias"), (feed_forward, "mlp_bias")):
        bias = draw(st.sampled_from([True, False, flag]))
        if bias == flag:
            fields.append(_field(flag, "bool", draw(st.booleans())))
        box["bias"] = bias
    output_bias = draw(st.sampled_from([None, True, False]))
    if output_bias is not None:
        attention["output_bias"] = output_bias
    if draw(st.booleans()):
        # No dropout but the attention probabilities'.
        embeddings["dropout"] = None
        feed_forward["dropout"] = None
        attention["output_dropout"] = False
    return {"attention": attention, "feed_forward": feed_forward, "embeddings": embeddings,
            "norm": draw(st.sampled_from(["layer_norm", "rms_norm"]))}


def _names_encoder_spec(draw, name: str, names: dict, fields: list, fused: bool, multiple: bool, block: dict) -> dict:
    """The encoder of `decoder_only_specs`: its names, config fields and heads."""
    embeddings: dict[str, Any] = {"token_type": False, "position": "absolute", "norm": True, **block["embeddings"]}
    if draw(st.booleans()):
        fields.append(_field("sinusoidal_pos_embds", "bool", draw(st.booleans())))
        embeddings["sinusoidal"] = "sinusoidal_pos_embds"
    eps = draw(st.sampled_from([1e-12, "layer_norm_eps"]))
    fields.append(_field("head_dropout", "float", 0.1))
    feed_forward: dict[str, Any] = {"layout": "names", "projection": draw(st.sampled_from(["linear", "conv1d"])), "bias": draw(st.booleans())}
    if multiple:
        feed_forward["size_multiple"] = 2
    feed_forward.update(block["feed_forward"])
    heads: list[dict[str, Any]] = [{"kind": "base"}]
    lm_head = None
    for kind in draw(st.lists(st.sampled_from(["masked_lm", "sequence_classification", "multiple_choice", "token_classification",
                                               "question_answering"]), unique=True, min_size=1, max_size=2)):
        head: dict[str, Any] = {"kind": kind}
        if kind == "masked_lm":
            names.update({"lm_head.transform": "vocab_transform", "lm_head.norm": "vocab_layer_norm"})
            lm_head = {"path": "vocab_projector", "layout": "names", "activation": {"field": "hidden_act"}}
        if kind in ("sequence_classification", "multiple_choice"):
            head["style" if kind == "sequence_classification" else "summary"] = "first_token"
            if draw(st.booleans()):
                head["pre_classifier"] = "pre_classifier"
        if kind != "masked_lm" and draw(st.booleans()):
            head["dropout"] = draw(st.sampled_from([0.1, "head_dropout"]))
        if kind == "token_classification" and "dropout" not in head:
            head["dropout"] = "hidden_dropout_prob"
        heads.append(head)
    base_model_prefix = draw(st.sampled_from(["transformer", "backbone"]))
    attention: dict[str, Any] = {"layout": "names", "projection": draw(st.sampled_from(["linear", "conv1d"])),
                                 "bias": draw(st.booleans()), "output_dropout": draw(st.booleans()), **block["attention"]}
    _qk_norm(draw, names, fields, attention)
    spec = {
        "name": name, "class_prefix": "Drawn", "model_type": name, "base_model_prefix": base_model_prefix,
        "title": name.upper(), "paper": "-", "stack": "encoder",
        "config": {"doc": "A drawn names-layout encoder architecture.", "fields": fields},
        "names": names,
        "embeddings": embeddings,
        "attention": attention,
        "feed_forward": feed_forward,
        # The LM head's norm is a LayerNorm: RMSNorm blocks only without one.
        "norm": {"kind": "layer_norm" if lm_head else block["norm"], "placement": "post", "eps": eps},
        "heads": heads,
    }
    if lm_head is not None:
        spec["lm_head"] = lm_head
    # RMSNorms scaling by `1 + weight`.
    if spec["norm"]["kind"] == "rms_norm" and draw(st.booleans()):
        spec["norm"]["unit_offset"] = True
    # Drawn last, so that the components above keep the values of earlier samples: pre-norm blocks ending with the
    # `final_norm` role, and no norm after the embeddings.
    if draw(st.booleans()):
        spec["norm"]["placement"] = "pre"
        names["final_norm"] = draw(st.sampled_from(["ln_f", "final_norm"]))
    if draw(st.booleans()):
        del names["embeddings.norm"]
        embeddings["norm"] = False
    # A pooler (tanh of a Linear on the first token, held as `dense` or the Linear itself), read by the pooled heads.
    if draw(st.booleans()):
        spec["pooler"] = {"path": "pooler", "layout": draw(st.sampled_from(["dense", "bare"]))}
        for head in heads:
            if head["kind"] in ("sequence_classification", "multiple_choice") and draw(st.booleans()):
                head["style" if head["kind"] == "sequence_classification" else "summary"] = "pooled"
                head.pop("pre_classifier", None)
    # Token types: a table of their own (the role `embeddings.token_type`, `type_vocab_size` rows, type 0 by
    # default), rows of the word embeddings, or none.
    embeddings["token_type"] = draw(st.sampled_from([False, True, "word"]))
    if embeddings["token_type"] is True:
        names["embeddings.token_type"] = draw(st.sampled_from(["token_type_embeddings", "wtte"]))
        fields.append(_field("type_vocab_size", "int", draw(st.sampled_from([2, 3]))))
    # Rotary positions (all of each head's dimensions or half, pairs in halves or interleaved) instead of the
    # position table.
    if "sinusoidal" not in embeddings and draw(st.booleans()):
        del names["embeddings.position"]
        embeddings["position"] = "none"
        fields.append(_field("rope_theta", "float", draw(st.sampled_from([10000.0, 500.0]))))
        spec["position"] = {"kind": "rotary", "theta": "rope_theta", "pairing": draw(st.sampled_from(["halves", "interleaved"]))}
        if draw(st.booleans()):
            fields.append(_field("partial_rotary_factor", "float", 0.5))
            spec["position"]["fraction"] = "partial_rotary_factor"
    # Otherwise (a position table): positions counted past the padding index (RoBERTa's), and a bucketed relative
    # bias the stack owns (computed once, added to every layer's scores), bucketing by config fields or fixed numbers.
    else:
        if draw(st.booleans()):
            embeddings["position_padding_idx"] = "pad_token_id"
        if draw(st.booleans()):
            fields.append(_field("relative_attention_num_buckets", "int", draw(st.sampled_from([8, 12]))))
            position: dict[str, Any] = {"kind": "bucketed_bias", "num_buckets": "relative_attention_num_buckets", "owner": "stack"}
            if draw(st.booleans()):
                fields.append(_field("relative_attention_max_distance", "int", 16))
                position["max_distance"] = "relative_attention_max_distance"
            else:
                position.update(max_distance=20, fixed_buckets=8)
            names["position.bias"] = draw(st.sampled_from(["relative_attention_bias", "rel_bias"]))
            spec["position"] = position
    # The LM head of the `flat` layout (`lm_head.dense`, `.layer_norm`, `.decoder` + `.bias`), and the first-token
    # classification head of `style: dense_act` (`classifier.dense`, tanh, `classifier.out_proj`).
    if lm_head is not None and draw(st.booleans()):
        del names["lm_head.transform"], names["lm_head.norm"]
        spec["lm_head"] = {"path": "lm_head", "layout": "flat", "norm": "layer_norm", "activation": {"field": "hidden_act"}}
    for head in heads:
        if head["kind"] == "sequence_classification" and head["style"] == "first_token" and draw(st.booleans()):
            head.pop("pre_classifier", None)
            head.update(style="dense_act", activation={"name": "tanh"}, dropout="head_dropout")
    # The sentence heads of encoder stacks on the pooler (`cls.seq_relationship`), next-sentence prediction or
    # pretraining with the `transform` LM head (`cls.predictions`, its LayerNorm's epsilon a config field).
    if "pooler" in spec and lm_head is None and eps == "layer_norm_eps" and draw(st.booleans()):
        spec["sentence_head"] = {"path": "cls.seq_relationship", "num_labels": 2}
        kind = draw(st.sampled_from(["next_sentence", "pretraining"]))
        heads.append({"kind": kind, **({"output": "BertForPreTrainingOutput"} if kind == "pretraining" else {})})
        if kind == "pretraining":
            spec["lm_head"] = {"path": "cls.predictions", "layout": "transform"}
    # Drawn last: pre-norm stacks whose last `hidden_states` entry is read before the final norm.
    if spec["norm"]["placement"] == "pre" and draw(st.booleans()):
        spec["norm"]["hidden_states_before_final_norm"] = True
    # Drawn after it: with learned positions, the encoder doubling as a decoder (`config.is_decoder`: causal, a
    # key/value cache), its blocks with a cross-attention (`crossattention.*`, built with `add_cross_attention`) where
    # the self-attention is the plain one, and a causal LM on the `transform` / `flat` LM head.
    if "position" not in spec and draw(st.booleans()):
        _names_encoder_decoder_mode(draw, spec, names, fields, attention, feed_forward, heads, fused)
    # Drawn last: the feed-forward output added without dropout where the attention output has it (XLM-RoBERTa-XL),
    # and the token classifier's loss over the attended tokens only.
    if attention["output_dropout"] and feed_forward.get("dropout", "set") is not None and draw(st.booleans()):
        feed_forward["output_dropout"] = False
    for head in heads:
        if head["kind"] == "token_classification" and draw(st.booleans()):
            head["loss_over"] = "attended"
    # Drawn last (ESM): token dropout as a config flag says (the mask token's looked-up embeddings zeroed, each row
    # scaled), a fixed feed-forward activation, the rotary inverse frequencies held as each block's saved buffer, and
    # a Linear the base model holds but never calls.
    if draw(st.booleans()):
        fields.append(_field("token_dropout", "bool", draw(st.booleans())))
        fields.append(_field("mask_token_id", "int", draw(st.sampled_from([3, 7]))))
        embeddings["token_dropout"] = {"flag": "token_dropout", "token": "mask_token_id", "ratio": 0.12}
    if draw(st.booleans()):
        feed_forward.update(activation=None, activation_name=draw(st.sampled_from(["gelu", "relu"])))
    if spec.get("position", {}).get("kind") == "rotary" and draw(st.booleans()):
        spec["position"]["buffer"] = "rotary_embeddings"
    if draw(st.booleans()):
        spec["held"] = [{"path": "contact_head.regression", "in_features": ["num_hidden_layers", "num_attention_heads"], "out_features": 1}]
    # Drawn last: scaled rotary positions, as decoder-only stacks draw them.
    if spec.get("position", {}).get("kind") == "rotary":
        test = _draw_scaling(draw, spec["position"], fields)
        if test:
            spec["test"] = test
    # Drawn after them (RoFormer): rotary positions read from a fixed sinusoidal table module (the role
    # `position.table`, held in checkpoints or computed), the values rotated too as a config flag says, and the
    # encoder doubling as a decoder with rotary positions (continuing after the cached length).
    position = spec.get("position", {})
    if position.get("kind") == "rotary":
        if "fraction" not in position and "scaling" not in position and draw(st.booleans()):
            position["table"] = draw(st.sampled_from(["saved", "computed"]))
            names["position.table"] = draw(st.sampled_from(["embed_positions", "rotary_table"]))
        if draw(st.booleans()):
            fields.append(_field("rotary_value", "bool", draw(st.booleans())))
            position["rotary_value"] = "rotary_value"
        if "decoder" not in spec and draw(st.booleans()):
            _names_encoder_decoder_mode(draw, spec, names, fields, attention, feed_forward, heads, fused)
    # Drawn after it (ELECTRA, RemBERT, ALBERT): factorized embeddings `embedding_size` wide (as wide as the blocks or
    # not) reaching hidden_size through the role `embeddings.projection` (a base-model attribute or a module inside a
    # container), always or only while the widths differ; learned positions counted from 0 that take `position_ids`;
    # the replaced-token discriminator head; a multiple-choice summary as config fields say.
    if spec.get("lm_head", {}).get("layout") != "names" and draw(st.booleans()):
        fields.append(_field("embedding_size", "int", draw(st.sampled_from([12, HIDDEN]))))
        embeddings.update(size="embedding_size", projection={"when": draw(st.sampled_from(["always", "sizes_differ"]))})
        names["embeddings.projection"] = draw(st.sampled_from(["embeddings_project", "encoder.embedding_hidden_mapping_in"]))
    if embeddings["position"] == "absolute" and "position_padding_idx" not in embeddings and draw(st.booleans()):
        embeddings["position_ids"] = True
    if "decoder" in spec and draw(st.booleans()):
        spec["decoder"]["cache_default"] = "off"  # a decoder's cache only when asked for (`use_cache=True`)
    # (Not beside a pretraining head: both would be named ...ForPreTraining, which the schema refuses.)
    if draw(st.booleans()) and not any(head["kind"] == "pretraining" for head in heads):
        spec["discriminator_head"] = {"path": "discriminator_predictions", "activation": draw(ACTIVATIONS)}
        heads.append({"kind": "discriminator", "output": "ElectraForPreTrainingOutput"})
    for head in heads:
        if head["kind"] == "multiple_choice" and head["summary"] == "first_token" and draw(st.booleans()):
            head.pop("pre_classifier", None)
            head.pop("dropout", None)
            head["summary"] = "sequence_summary"
            fields += [_field("summary_type", "str", draw(st.sampled_from(["first", "last", "mean"])), choices=["last", "first", "mean", "cls_index"]),
                       _field("summary_use_proj", "bool", draw(st.booleans())),
                       _field("summary_activation", "str", draw(st.sampled_from(["gelu", None])), optional=True),
                       _field("summary_last_dropout", "float", 0.1)]
            spec["sequence_summary"] = {"path": "sequence_summary", "type": "summary_type", "use_proj": "summary_use_proj",
                                        "activation": "summary_activation", "last_dropout": "summary_last_dropout"}
    # Drawn after it (RemBERT): the `flat` LM head inside a container (`cls.predictions`), and an untied vocabulary
    # projection with its own bias, the head of its own width or the embeddings'.
    if spec.get("lm_head", {}).get("layout") == "flat" and draw(st.booleans()):
        spec["lm_head"]["path"] = "cls.predictions"
        if draw(st.booleans()):
            spec["lm_head"]["tied"] = False
            fields.append(_field("tie_word_embeddings", "bool", False, choices=[False], unsupported="never tied"))
            if draw(st.booleans()):
                spec["lm_head"]["size"] = "output_embedding_size"
                fields.append(_field("output_embedding_size", "int", draw(st.sampled_from([12, 20]))))
    # Drawn after it (ALBERT): groups of blocks shared by the steps of the stack (`layers` the list of groups, each
    # holding its blocks at `layer_group.layers`), the number of steps a multiple of the number of groups.
    if "decoder" not in spec and "buffer" not in spec.get("position", {}) and draw(st.booleans()):
        groups = draw(st.sampled_from([1, 2]))
        depth = next(f for f in fields if f["name"] == "num_hidden_layers")
        depth["default"] = groups * draw(st.sampled_from([1, 2]))
        fields += [_field("num_hidden_groups", "int", groups), _field("inner_group_num", "int", draw(st.sampled_from([1, 2])))]
        spec["layer_sharing"] = {"groups": "num_hidden_groups", "inner": "inner_group_num"}
        names["layer_group.layers"] = draw(st.sampled_from(["albert_layers", "blocks"]))
    # Drawn last (NEZHA): functional relative positions instead of the position table (a fixed sinusoid table of the
    # clipped distances, added to every layer's scores and context), also in a stack doubling as a decoder (the queries
    # after the cached keys; the cross-attention against the encoder's positions).
    if "position" not in spec and "sinusoidal" not in embeddings and "position_padding_idx" not in embeddings and "position_ids" not in embeddings and draw(st.booleans()):
        del names["embeddings.position"]
        embeddings["position"] = "none"
        fields.append(_field("max_relative_position", "int", draw(st.sampled_from([3, 8]))))
        spec["position"] = {"kind": "relative_functional", "max_relative_position": "max_relative_position"}
    # Drawn last (ERNIE): a further token-type table next to the word embeddings that a config flag creates (task
    # types), the flag drawn on or off: on, the harness gives its ids; off, the table does not exist.
    if draw(st.booleans()):
        fields += [_field("task_type_vocab_size", "int", 4), _field("use_task_id", "bool", draw(st.booleans()))]
        embeddings["task_type"] = {"flag": "use_task_id", "size": "task_type_vocab_size",
                                   "path": draw(st.sampled_from(["task_type_embeddings", "wtask"])), "argument": "task_type_ids"}
    # Drawn last (what the `fused | split` encoder stacks drew before they went): the `flat` LM head's norm name and
    # activation, its vocabulary projection at the top level; the `transform` LM head of the masked LM; the
    # `dense_act` classifier's activation; a multiple-choice summary at each choice's last position; LM heads that take
    # no encoder states although the layers cross-attend; the classification heads' dropout from a config field
    # falling back to another.
    lm = spec.get("lm_head", {})
    if lm.get("layout") == "flat":
        lm.update(norm=draw(st.sampled_from(["LayerNorm", "layer_norm"])), activation=draw(ACTIVATIONS))
        if "." not in lm["path"] and lm.get("tied", True) and draw(st.booleans()):
            lm["decoder"] = "vocab_projection"
    elif lm.get("layout") == "names" and eps == "layer_norm_eps" and draw(st.booleans()):
        del names["lm_head.transform"], names["lm_head.norm"]
        spec["lm_head"] = {"path": draw(st.sampled_from(["cls.predictions", "predictions"])), "layout": "transform",
                           "norm": draw(st.sampled_from(["LayerNorm", "layer_norm"])), "activation": draw(ACTIVATIONS)}
    for head in heads:
        if head.get("style") == "dense_act":
            head["activation"] = draw(ACTIVATIONS)
        if head["kind"] == "multiple_choice" and head["summary"] == "first_token" and draw(st.booleans()):
            head.pop("pre_classifier", None)
            head["summary"] = "last_token"
        if head["kind"] in ("masked_lm", "causal_lm") and "cross_module" in attention and draw(st.booleans()):
            head["encoder_states"] = False
    if draw(st.booleans()):
        fields.append(_field("classifier_dropout", "float", None, optional=True))
        spec["classifier_dropout"] = {"field": "classifier_dropout", "fallback": "hidden_dropout_prob"}
    _modern_encoder(draw, spec, names, fields, attention, feed_forward)
    _esm_encoder(draw, spec, names, fields)
    return spec


def _esm_encoder(draw, spec: dict, names: dict, fields: list) -> None:
    """Drawn last (ESM): learned absolute or rotary positions chosen by a config field's value (the field drawn
    either way), a norm after the embeddings built by a config flag (drawn on or off), and given `inputs_embeds` that
    skip the embeddings (the token types and task types then dropped; the harness passes `input_ids`: the looked-up
    path is compared)."""
    embeddings = spec["embeddings"]
    if ("position" not in spec and embeddings["position"] == "absolute" and "sinusoidal" not in embeddings
            and "decoder" not in spec and draw(st.booleans())):
        fields.append(_field("position_embedding_type", "str", draw(st.sampled_from(["absolute", "rotary"])),
                             choices=["absolute", "rotary"], unsupported="relative positions are not rendered"))
        spec["position"] = {"kind": "rotary", "theta": 10000.0,
                            "select": {"field": "position_embedding_type", "value": "rotary", "absolute": "absolute"}}
        if draw(st.booleans()) and "layer_sharing" not in spec:  # (each block's buffer: a list of blocks)
            spec["position"]["buffer"] = "rotary_embeddings"
        if "projection" not in embeddings and draw(st.booleans()):
            embeddings["token_type"] = False
            names.pop("embeddings.token_type", None)
            embeddings.pop("task_type", None)
            embeddings["raw_inputs_embeds"] = True
        # The flat LM head's vocabulary projection without a bias, the head adding its own `bias` after it.
        lm = spec.get("lm_head", {})
        if lm.get("layout") == "flat" and "decoder" not in lm and lm.get("tied", True) and draw(st.booleans()):
            lm["separate_bias"] = True
    if "embeddings.norm" in names and draw(st.booleans()):
        fields.append(_field("emb_layer_norm_before", "bool", draw(st.booleans()), optional=True))
        embeddings["norm"] = "emb_layer_norm_before"


def _modern_encoder(draw, spec: dict, names: dict, fields: list, attention: dict, feed_forward: dict) -> None:
    """Drawn last (ModernBERT), in a names-layout encoder: full and bidirectional sliding-window layers (a window of
    3 or 4 positions, the kinds derived from a period counted from the first layer, in a stack that is never a
    decoder nor of shared layer groups), the sliding layers rotating with a base of their own (None: the full
    layers'); LayerNorms without a bias or with one as a config flag says; no attention norm in the first pre-norm
    block; a fused gated feed-forward ordered [input | gate] with a dropout after the product."""
    if "decoder" not in spec and "layer_sharing" not in spec and draw(st.booleans()):
        fields.append(_field("local_attention", "int", draw(st.sampled_from([3, 4]))))
        fields.append(_field("global_attn_every_n_layers", "int", draw(st.sampled_from([1, 2]))))
        fields.append(_field("layer_types", "list", None, optional=True, upstream=False, choices=["full_attention", "sliding_attention"],
                             default_repeat="num_hidden_layers", default_period="global_attn_every_n_layers", default_period_offset=0))
        attention.update(sliding_window="local_attention", layer_types="layer_types")
        position = spec.get("position", {})
        if (position.get("kind") == "rotary" and "table" not in position and "scaling" not in position and draw(st.booleans())):
            fields.append(_field("local_rope_theta", "float", draw(st.sampled_from([50.0, None])), optional=True))
            position["theta_by_layer_type"] = {"sliding_attention": "local_rope_theta"}
    norm = spec["norm"]
    if norm["kind"] == "layer_norm" and "unit_offset" not in norm and "qk_norm" not in attention and draw(st.booleans()):
        bias = draw(st.sampled_from([False, "norm_bias"]))
        if bias:
            fields.append(_field("norm_bias", "bool", draw(st.booleans())))
        norm["bias"] = bias
    if norm["placement"] == "pre" and "decoder" not in spec and draw(st.booleans()):
        norm["first_attention_norm"] = False
    if feed_forward.get("gated") and names.get("ffn.gate") == names["ffn.input"] and draw(st.booleans()):
        feed_forward["fused_order"] = "input_gate"
    # The flat LM head's transform (with its top-level decoder) before the classification heads' dropout, and the
    # first-token sequence classification pooling the mean over the attended tokens as a config field says.
    lm = spec.get("lm_head", {})
    if lm.get("layout") == "flat" and "decoder" in lm:
        for head in spec["heads"]:
            if ((head["kind"] in ("token_classification", "question_answering") or ("first_token" in (head.get("style"), head.get("summary")) and "pre_classifier" not in head))
                    and draw(st.booleans())):
                head["transform"] = "head"
                if "first_token" in (head.get("style"), head.get("summary")) and draw(st.booleans()):
                    if not any(f["name"] == "classifier_pooling" for f in fields):
                        fields.append(_field("classifier_pooling", "str", draw(st.sampled_from(["cls", "mean"])), choices=["cls", "mean"]))
                    head["pooling"] = "classifier_pooling"
                    if head["kind"] == "multiple_choice" and draw(st.booleans()):
                        head["first_attended"] = True
    if "activation_dropout" not in feed_forward and draw(st.booleans()):
        fields.append(_field("mlp_dropout", "float", 0.1))
        feed_forward["activation_dropout"] = "mlp_dropout"


def _names_encoder_decoder_mode(draw, spec: dict, names: dict, fields: list, attention: dict, feed_forward: dict, heads: list, fused: bool) -> None:
    """A names-layout encoder doubling as a decoder (`config.is_decoder`: causal, a key/value cache), its blocks with
    a cross-attention (`crossattention.*`, built with `add_cross_attention`) where the self-attention is the plain
    one, and a causal LM on the `transform` / `flat` LM head."""
    spec["decoder"] = {"causal": True, "cache": True}
    fields.append(_field("use_cache", "bool", True))
    if feed_forward.get("dropout", "set") is not None and draw(st.booleans()):
        # The cross-attention is the block's second attention sublayer, as in names-layout encoder-decoders: the
        # self-attention then plain too (three Linear projections hidden_size / heads wide, as many key/value
        # heads as query heads, no norms of the queries and keys, its output through the feed-forward's dropout).
        if fused:
            path = names["attention.query"]
            box = path.rsplit(".", 1)[0] + "." if "." in path else ""
            names.update({f"attention.{role}": f"{box}{role[0]}_proj" for role in ("query", "key", "value")})
        for key in ("head_dim", "kv_heads", "multi_query", "qk_norm", "qk_norm_scope", "fused_order"):
            attention.pop(key, None)
        fields[:] = [f for f in fields if f["name"] not in ("head_dim", "num_key_value_heads", "multi_query", "use_qk_norm")]
        names.pop("attention.q_norm", None)
        names.pop("attention.k_norm", None)
        attention.update(projection="linear", output_dropout=True, cross_module="crossattention")
        if spec["norm"]["placement"] == "pre":
            names["cross_attention.norm"] = "crossattention.ln"
        else:
            names["cross_attention.norm"] = "crossattention.output.LayerNorm"
        names.update({"cross_attention.query": "crossattention.self.query", "cross_attention.key": "crossattention.self.key",
                      "cross_attention.value": "crossattention.self.value", "cross_attention.output": "crossattention.output.dense"})
    if spec.get("lm_head", {}).get("layout") in ("transform", "flat") and draw(st.booleans()):
        heads.append({"kind": "causal_lm", "labels_disable_cache": draw(st.booleans())})


def _qk_norm(draw, names: dict, fields: list, attention: dict) -> None:
    """Norms of the queries and keys (`attention.qk_norm`), drawn last: none, always, or built and applied only when
    a config flag (drawn true or false) is set; their modules beside the q/k/v projections; over each head's width or
    (but with a fused projection ordered head by head) the whole projection's."""
    qk_norm = draw(st.sampled_from([False, True, "use_qk_norm"]))
    if qk_norm is False:
        return
    if qk_norm == "use_qk_norm":
        fields.append(_field("use_qk_norm", "bool", draw(st.booleans())))
    box = names["attention.output"].rsplit(".", 1)[0]
    attr = draw(st.sampled_from(["norm", "layernorm"]))
    names.update({"attention.q_norm": f"{box}.q_{attr}", "attention.k_norm": f"{box}.k_{attr}"})
    attention["qk_norm"] = qk_norm
    if attention.get("fused_order") not in ("per_head", "sharded") and draw(st.booleans()):
        attention["qk_norm_scope"] = "all"


def specs():
    """A drawn spec, named after a hash of its contents: a replayed example renders (and imports) the same module."""
    return st.one_of(decoder_only_specs("drawn"), names_encoder_decoder_specs("drawn")).map(_named)


def describe(spec: dict) -> list[str]:
    """The components a drawn spec combines, as `component=value` labels (for the coverage report)."""
    att, ffn = spec["attention"], spec["feed_forward"]
    stack = spec.get("stack") or "encoder"
    labels = [f"stack={stack}", f"norm.kind={spec['norm']['kind']}", f"norm.unit_offset={spec['norm'].get('unit_offset', False)}"]
    labels += [f"head={h['kind']}" for h in spec["heads"][1:]]
    if stack == "encoder-decoder":
        emb, decoder = spec["embeddings"], spec["decoder"]
        fields = {f["name"]: f["default"] for f in spec["config"]["fields"]}
        labels += [f"names_stack={stack}", f"names.preset={spec['names'].get('preset')}",
                   f"position_offset={emb.get('position_offset')}", f"embeddings.scale={emb.get('scale')}",
                   f"embeddings.padding_idx={'padding_idx' in emb}", f"activation={fields['activation_function']}",
                   f"activation_dropout={'activation_dropout' in ffn}",
                   f"decoder_depth={'same' if fields['decoder_layers'] == fields['encoder_layers'] else 'other'}",
                   f"decoder_heads={'same' if fields['decoder_attention_heads'] == fields['encoder_attention_heads'] else 'other'}",
                   f"decoder_ffn={'same' if fields['decoder_ffn_dim'] == fields['encoder_ffn_dim'] else 'other'}",
                   f"layerdrop={'layerdrop' in spec}", f"logits_bias={'logits_bias' in spec['lm_head']}",
                   f"norm.placement={spec['norm']['placement']}", f"decoder.shift={decoder.get('shift', 'start_token')}",
                   f"seq2seq.sinusoidal={emb.get('sinusoidal')}", f"seq2seq.sinusoidal_layout={emb.get('sinusoidal_layout')}",
                   f"seq2seq.embeddings.norm={emb['norm']}", f"seq2seq.gated={ffn.get('gated', False)}",
                   f"decoder.embeddings_norm={decoder.get('embeddings_norm', 'after_positions')}",
                   f"decoder.embeddings_scale={decoder.get('embeddings_scale', True)}",
                   f"seq2seq.attention.bias={att.get('bias', True)}", f"seq2seq.feed_forward.bias={ffn.get('bias', True)}",
                   f"seq2seq.output_bias={att.get('output_bias')}", f"seq2seq.head_dim={att.get('head_dim')}",
                   f"seq2seq.scale={att.get('scale', True)}", f"seq2seq.module_lists={spec['names'].get('attention.query', '').startswith('layer.0.')}", f"seq2seq.decoder_block_paths={'decoder_block.ffn.input' in spec['names']}",
                   f"seq2seq.bucketed_bias={spec.get('position', {}).get('owner')}", f"seq2seq.embeddings.position={emb['position']}",
                   f"seq2seq.blocked_attention={fields['encoder_attention_type'] if 'select' in att else None}",
                   f"sinusoidal_saved={all(h.get('sinusoidal_saved', True) for h in spec['heads'])}",
                   f"seq2seq.position_padding_idx={'position_padding_idx' in emb}",
                   f"vocabularies={'separate' if fields.get('share_encoder_decoder_embeddings') is False else 'shared'}"
                   f"{'' if fields.get('decoder_vocab_size', fields['vocab_size']) == fields['vocab_size'] else ', decoder size'}",
                   f"seq2seq.labels_disable_cache={[h.get('labels_disable_cache') for h in spec['heads'] if h['kind'] == 'conditional_generation']}",
                   f"seq2seq.inline_base={sorted(h['kind'] for h in spec['heads'] if h.get('inline_base'))}",
                   f"seq2seq.copy_head_mask={decoder.get('copy_head_mask', False)}", f"seq2seq.initializer={'initializer' in spec}"]
    elif spec["attention"]["layout"] == "names":
        fused = spec["names"]["attention.query"] == spec["names"]["attention.key"]
        labels += [f"names_stack={stack}", f"sinusoidal={'sinusoidal' in spec['embeddings']}",
                   f"norm.eps={spec['norm'].get('eps', 'layer_norm_eps')}"]
        if stack == "encoder":
            labels += [f"position.select={'select' in spec.get('position', {})}",
                       f"embeddings.norm_flag={isinstance(spec['embeddings'].get('norm'), str)}",
                       f"embeddings.raw_inputs_embeds={spec['embeddings'].get('raw_inputs_embeds', False)}",
                       f"lm_head.separate_bias={spec.get('lm_head', {}).get('separate_bias', False)}"]
        labels += [f"fused_qkv={fused}", f"fused_order={att.get('fused_order', 'blocks')}",
                   f"residual.parallel={spec.get('residual', {}).get('parallel', False)}", f"attention.projection={att['projection']}", f"attention.bias={att['bias']}",
                   f"feed_forward.projection={ffn['projection']}", f"feed_forward.bias={ffn['bias']}",
                   f"attention.scale={att.get('scale', True)}", f"scale_by_inverse_layer={'scale_by_inverse_layer' in att}",
                   f"upcast={'upcast' in att}", f"ffn_container={spec['names']['ffn.input'].count('.')}",
                   f"multipliers={'multiplier' in spec['embeddings']}", f"residual.multiplier={'multiplier' in spec.get('residual', {})}",
                   f"gated={ffn.get('gated', False)}", f"fused_gate={spec['names'].get('ffn.gate') == spec['names']['ffn.input']}",
                   f"head_dim={'head_dim' in att}", f"kv_heads={'kv_heads' in att}", f"multi_query={'multi_query' in att}",
                   f"output_bias={att.get('output_bias')}", f"dropout={ffn.get('dropout', 'set')}",
                   f"position={spec.get('position', {}).get('kind', 'absolute')}",
                   f"rotary_fraction={'fraction' in spec.get('position', {})}", f"mask={spec.get('decoder', {}).get('mask')}",
                   f"rotary_dims={'dims' in spec.get('position', {})}", f"pairing={spec.get('position', {}).get('pairing', 'halves')}",
                   f"shared_norm={spec.get('residual', {}).get('shared_norm', False)}",
                   f"token_type={spec['embeddings']['token_type']}", f"lm_head.bias={spec.get('lm_head', {}).get('bias', False)}",
                   f"sliding_window={'sliding_window' in att}", f"layer_types={'layer_types' in att}",
                   f"layer_types.expanded={any('default_expand' in f for f in spec['config']['fields'])}", f"rotary.layers={'layers' in (spec.get('position') or {})}",
                   f"embeddings.scale={spec['embeddings'].get('scale')}",
                   f"embeddings.scale_inputs_embeds={spec['embeddings'].get('scale_inputs_embeds', True)}",
                   f"rotary.theta_by_layer_type={bool(spec.get('position', {}).get('theta_by_layer_type'))}",
                   f"rotary.scaling={'scaling' in (spec.get('position') or {})}",
                   f"rotary.unscaled_layer_types={bool((spec.get('position') or {}).get('unscaled_layer_types'))}",
                   f"heads.class_name={any('class_name' in h for h in spec['heads'])}",
                   f"qk_norm={att.get('qk_norm', False)}", f"norm.placement={spec['norm']['placement']}",
                   f"attention.softcap={'softcap' in att}", f"attention.scale_dim={'scale_dim' in att}",
                   f"lm_head.logits_softcap={'logits_softcap' in spec.get('lm_head', {})}",
                   f"layer_types.default_period={any('default_period' in f for f in spec['config']['fields'])}",
                   f"embeddings.norm={spec['embeddings']['norm']}", f"names.pooler={spec.get('pooler', {}).get('layout')}",
                   f"pooled_heads={sum('pooled' in (h.get('style'), h.get('summary')) for h in spec['heads'])}",
                   f"names.position_padding_idx={'position_padding_idx' in spec['embeddings']}",
                   f"names.position.owner={spec.get('position', {}).get('owner')}",
                   f"names.bias_buckets={'fixed' if 'fixed_buckets' in spec.get('position', {}) else 'field' if 'position' in spec and spec['position'].get('owner') == 'stack' else None}",
                   f"names.lm_head={spec.get('lm_head', {}).get('layout')}",
                   f"dense_act_heads={sum(h.get('style') == 'dense_act' for h in spec['heads'])}",
                   f"qk_norm_scope={att.get('qk_norm_scope', 'head') if 'qk_norm' in att else None}"]
        labels.append(f"names.hidden_states_before_final_norm={spec['norm'].get('hidden_states_before_final_norm', False)}")
        if stack == "encoder":
            labels.append(f"names_encoder.decoder={'cross' if 'cross_module' in att else 'decoder' in spec}")
            labels.append(f"names_encoder.feed_forward.output_dropout={ffn.get('output_dropout', True)}")
            labels += [f"names_encoder.loss_over={h.get('loss_over', 'labels')}" for h in spec["heads"] if h["kind"] == "token_classification"]
            labels.append(f"names_encoder.token_dropout={'token_dropout' in spec['embeddings']}")
            labels.append(f"names_encoder.activation_name={ffn.get('activation_name')}")
            labels.append(f"names_encoder.rotary_buffer={'buffer' in spec.get('position', {})}")
            labels.append(f"names_encoder.held={bool(spec.get('held'))}")
            labels.append(f"names_encoder.rotary_table={spec.get('position', {}).get('table')}")
            labels.append(f"names_encoder.rotary_value={'rotary_value' in spec.get('position', {})}")
            projection = spec["embeddings"].get("projection")
            labels.append(f"names_encoder.projection={projection['when'] + ' ' + spec['names']['embeddings.projection'] if projection else None}")
            labels.append(f"names_encoder.position_ids={spec['embeddings'].get('position_ids', False)}")
            labels.append(f"names_encoder.sequence_summary={'sequence_summary' in spec}")
            labels.append(f"names_encoder.cache_default={spec.get('decoder', {}).get('cache_default', 'config')}")
            labels.append(f"names_encoder.layer_sharing={'layer_sharing' in spec}")
            labels.append(f"names_encoder.layer_types={'layer_types' in spec['attention']} theta_by_kind={bool(spec.get('position', {}).get('theta_by_layer_type'))}")
            labels.append(f"names_encoder.norm.bias={spec['norm'].get('bias', True)} first_attention_norm={spec['norm'].get('first_attention_norm', True)}")
            labels.append(f"names_encoder.fused_order={spec['feed_forward'].get('fused_order', 'gate_input')} activation_dropout={'activation_dropout' in spec['feed_forward']}")
            lm_head = spec.get("lm_head", {})
            labels.append(f"names_encoder.lm_head={lm_head.get('layout')} {lm_head.get('path')} tied={lm_head.get('tied', True)} size={'size' in lm_head}")
            labels.append(f"names_encoder.lm_head.decoder={'decoder' in lm_head}")
            labels.append(f"names_encoder.lm_head.norm={lm_head.get('norm')}")
            labels.append(f"names_encoder.lm_head.activation={lm_head.get('activation')}")
            labels.append(f"names_encoder.classifier_dropout={'classifier_dropout' in spec}")
            labels += [f"names_encoder.dense_act={h['activation']}" for h in spec["heads"] if h.get("style") == "dense_act"]
            labels += [f"names_encoder.summary={h['summary']}" for h in spec["heads"] if h["kind"] == "multiple_choice"]
            labels += [f"names_encoder.encoder_states={h.get('encoder_states', True)}" for h in spec["heads"] if h["kind"] in ("masked_lm", "causal_lm")]
            task_type = spec["embeddings"].get("task_type")
            flag = task_type and next(f["default"] for f in spec["config"]["fields"] if f["name"] == task_type["flag"])
            labels.append(f"names_encoder.task_type={'absent' if task_type is None else 'on' if flag else 'off'}")
        if stack == "decoder-only":
            emb = spec["embeddings"]
            labels += [f"decoder_only.position_offset={emb.get('position_offset')}",
                       f"decoder_only.mask_positions={emb.get('mask_positions', False)}",
                       f"decoder_only.sinusoidal={emb.get('sinusoidal_layout') if emb.get('sinusoidal') else None}",
                       f"decoder_only.activation_dropout={'activation_dropout' in ffn}",
                       f"decoder_only.alibi_count={spec.get('position', {}).get('count')}",
                       f"decoder_only.residual_from_norm={spec.get('residual', {}).get('from_norm', False)}", f"decoder_only.split_norms={'split_norms' in spec.get('residual', {})}", f"decoder_only.alibi_switch={'alibi' in spec.get('position', {})}", f"decoder_only.dropout_sum={spec.get('residual', {}).get('dropout_sum', False)}", f"decoder_only.cache_repeated={spec['attention'].get('cache_repeated', False)}", f"decoder_only.attention_dropout={spec['attention'].get('dropout', 'set') is not None}",
                       f"decoder_only.activation_name={ffn.get('activation_name')}",
                       f"decoder_only.size_from_config={ffn.get('size', 'intermediate_size') is not None}",
                       f"decoder_only.experts={ffn['experts']['normalize'] if 'experts' in ffn else None}",
                       f"decoder_only.experts_jitter={'jitter' in ffn.get('experts', {})}",
                       f"decoder_only.router_logits={'router_logits' in ffn.get('experts', {})}",
                       f"decoder_only.shared_expert={ffn.get('experts', {}).get('shared', {}).get('gate')}",
                       f"decoder_only.experts_layout={ffn.get('experts', {}).get('layout')}",
                       f"decoder_only.dense_layers={sorted(ffn.get('experts', {}).get('dense', {}))}",
                       f"decoder_only.clip={'clip' in att}",
                       f"decoder_only.sub_config={any(f['type'] == 'config' for f in spec['config']['fields'])}",
                       f"decoder_only.scale_value={'scale_value' in att}",
                       f"decoder_only.norm.bias={spec['norm'].get('bias', True)}",
                       f"decoder_only.norm.final_unless={'final_unless' in spec['norm']}",
                       f"decoder_only.norm.pre_when={'pre_when' in spec['norm']}",
                       f"decoder_only.projection={emb.get('projection', {}).get('when')}",
                       f"decoder_only.layerdrop={'layerdrop' in spec}",
                       f"decoder_only.norm.weight={spec['norm'].get('weight', True)}",
                       f"decoder_only.qk_norm_layout={att.get('qk_norm_layout') if att.get('qk_norm_scope') == 'each_head' else None}",
                       f"decoder_only.qk_norm_bias={att.get('qk_norm_bias')}",
                       f"decoder_only.logits_multiplier={'logits_multiplier' in spec['lm_head']}",
                       f"decoder_only.shared_norm_by_flag={isinstance(spec.get('residual', {}).get('parallel'), str) and spec['residual'].get('shared_norm', False)}",
                       *(f"decoder_only.index={h.get('index', 'last_non_pad')}" for h in spec["heads"] if h["kind"] == "sequence_classification"),
                       *(f"decoder_only.loss_over={h.get('loss_over', 'labels')}" for h in spec["heads"] if h["kind"] == "token_classification")]
    return labels


def _named(spec: dict) -> dict:
    digest = hashlib.sha1(yaml.safe_dump(spec, sort_keys=True).encode()).hexdigest()[:10]
    name = f"drawn{digest}"
    heads = [{**h, "class_name": f"{h['class_name']}{digest}"} if "class_name" in h else h for h in spec["heads"]]
    return {**spec, "name": name, "class_prefix": f"Drawn{digest}", "model_type": name, "title": name.upper(), "heads": heads}


def render(spec: dict, tmp: Path):
    """Generate `spec` into `tmp` and import its package; returns the module `specformers.models.<name>`."""
    sys.path.insert(0, str(ROOT))
    from generator.pipeline import generate, load_project

    import specformers.models

    name = spec["name"]
    specs_dir = tmp / "specs"
    specs_dir.mkdir(parents=True, exist_ok=True)
    for shared in ("arguments.yaml", "outputs.yaml", "layouts.yaml"):
        (specs_dir / shared).write_text((ROOT / "specs" / shared).read_text())
    (specs_dir / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = generate(specs_dir, name)
    import harness  # the harness builds inputs from the resolved architecture

    harness.EXTRA_ARCHITECTURES[name] = load_project(specs_dir, name).architectures[0]
    models = tmp / "models"
    prefix = f"specformers/models/{name}/"
    for path, text in result.files.items():
        if path.startswith(prefix):
            target = models / name / path[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if str(models) not in specformers.models.__path__:
        specformers.models.__path__.append(str(models))
    importlib.invalidate_caches()
    return importlib.import_module(f"specformers.models.{name}")
