"""Behaviour of the generated PyTorch models beyond output parity: KV cache, state-dict names, gradients and dropout,
torch.compile, checkpoints in both directions, half precision, loading logs, the SDPA path and the documentation."""

import inspect
import logging
import re

import numpy as np
import pytest
import torch

from harness import (
    ATOL,
    TEST_ALL,
    distinct_compositions,
    target_vocab_size,
    SMALL_CONFIGS,
    assert_close,
    cases,
    dynamically_scaled,
    flatten,
    instantiate_reference,
    make_inputs,
    reference_config,
    reference_model,
    run_reference,
    sample,
    variants,
)

CASES = cases()
# Encoder-decoder architectures have their own tests (test_torch_seq2seq.py): their heads take decoder inputs.
ENCODER_ARCHS = [a.name for a in __import__("harness").project().architectures if a.stack == "encoder" and a.name in SMALL_CONFIGS]
# ALBERT's reference pretraining and QA heads only run with two labels (their losses hard-code 2).
TWO_LABEL_HEADS = ("pretraining", "question_answering")


def _overrides(case):
    return {"num_labels": 2} if case.head in TWO_LABEL_HEADS else {}


def _first_variant(arch: str) -> str:
    return next(iter(SMALL_CONFIGS[arch]))


def _tensors(inputs: dict) -> dict:
    return {k: torch.from_numpy(v) for k, v in inputs.items()}


def _spec(arch: str):
    from harness import project

    return next(a for a in project().architectures if a.name == arch)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A saved transformers reference model (random, non-trivial weights) per case: (config, reference, directory)."""
    saved = {}

    def get(case, **overrides):
        key = (case, tuple(sorted(overrides.items())))
        if key not in saved:
            config = reference_config(case, **_overrides(case), **overrides)
            model = reference_model(case, config)
            directory = tmp_path_factory.mktemp(case.id)
            model.save_pretrained(directory)
            saved[key] = (config, model, str(directory))
        return saved[key]

    return get


def _ours(case, directory, **kwargs):
    import specformers

    return getattr(specformers, case.class_name("torch")).from_pretrained(directory, **kwargs)


def _case(arch: str, head: str, variant: str | None = None):
    variant = variant or _first_variant(arch)
    return next(c for c in CASES if c.arch == arch and c.head == head and c.variant == variant)


# ----------------------------------------------------------------------------------------------------------------------
# (a) KV cache


@pytest.mark.parametrize("case", [c for c in CASES if c.head == "causal_lm"], ids=lambda c: c.id)
def test_causal_lm_cache_matches_full_pass(case, checkpoint):
    """A prompt of 3 tokens, then one token at a time: the logits and cache of one pass over the whole sequence (with
    dynamically scaled rotary positions, whose cached keys keep the rotation of their call: transformers' own
    steps)."""
    config, reference, directory = checkpoint(case)
    model = _ours(case, directory)

    rng = np.random.default_rng(1)
    batch, seq = 2, 9
    ids = rng.integers(1, target_vocab_size(case, config), size=(batch, seq))
    # No padding tokens: positions counted past the padding index then run on across the steps.
    ids[ids == config.pad_token_id] = config.pad_token_id + 1
    input_ids = torch.from_numpy(ids)
    # Token types where the stack has them (a decoder-only stack has none).
    token_types = _spec(case.arch).has_token_type
    token_type_ids = torch.from_numpy(rng.integers(0, config.type_vocab_size, size=(batch, seq))) if token_types else None
    types = lambda sl: {"token_type_ids": token_type_ids[:, sl]} if token_types else {}  # noqa: E731

    def in_steps(m):
        # A prompt of 3 tokens, then one token at a time.
        out = m(input_ids[:, :3], **types(slice(0, 3)), use_cache=True)
        steps, past = [out.logits], out.past_key_values
        for t in range(3, seq):
            out = m(
                input_ids[:, t : t + 1],
                attention_mask=torch.ones(batch, t + 1),
                **types(slice(t, t + 1)),
                past_key_values=past,
                use_cache=True,
            )
            steps.append(out.logits)
            past = out.past_key_values
        return torch.cat(steps, dim=1), past

    with torch.no_grad():
        stepped, past = in_steps(model)
        if dynamically_scaled(case, config):
            expected_logits, expected_past = in_steps(reference)
        else:
            full = model(input_ids, **types(slice(None)), use_cache=True)
            expected_logits, expected_past = full.logits, full.past_key_values
    assert stepped.shape == expected_logits.shape
    assert torch.allclose(stepped, expected_logits, atol=ATOL, rtol=0)
    # The decoder stack of an encoder-decoder model has a depth and heads of its own; the cache holds the key/value
    # heads (fewer than the query heads with `attention.kv_heads`, under its `kv_heads_when` flag if any; one with a set
    # `attention.multi_query` flag, unless that flag is set; every query head's with `attention.cache_repeated`), each
    # head_dim wide.
    attention = _spec(case.arch).attention
    decoder = _spec(case.arch).decoder if _spec(case.arch).seq2seq else None
    layers = getattr(config, decoder.layers) if decoder else config.num_hidden_layers
    heads = getattr(config, decoder.heads) if decoder and decoder.heads else config.num_attention_heads
    assert len(past) == layers
    head_dim = config.hidden_size // heads
    query_heads = heads
    grouped = attention.kv_heads_when is not None and getattr(config, attention.kv_heads_when)
    if attention.kv_heads and (attention.kv_heads_when is None or grouped):
        heads = getattr(config, attention.kv_heads)
    if attention.multi_query and getattr(config, attention.multi_query) and not grouped:
        heads = 1
    if attention.cache_repeated is True or (isinstance(attention.cache_repeated, str) and getattr(config, attention.cache_repeated)):
        heads = query_heads
    if attention.head_dim:
        # A config may leave the width None (Mistral's), or not hold it (transformers' configuration, of a field it
        # does not declare: `upstream: false`): hidden_size / heads.
        head_dim = getattr(config, attention.head_dim, None) or head_dim
    for (key, value), (full_key, full_value) in zip(past, expected_past):
        assert key.shape == (batch, heads, seq, head_dim)
        assert torch.allclose(key, full_key, atol=ATOL, rtol=0) and torch.allclose(value, full_value, atol=ATOL, rtol=0)


# ----------------------------------------------------------------------------------------------------------------------
# (b) state-dict names


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_matches_transformers(case):
    import specformers
    import transformers

    config = reference_config(case, **_overrides(case))
    ours = getattr(specformers, case.class_name("torch"))(getattr(specformers, f"{case.prefix}Config")(**config.to_dict()))
    theirs = instantiate_reference(getattr(transformers, case.class_name("torch")), config)
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    # Ours leaves out the tied aliases (an LM decoder sharing the word embeddings), as checkpoints do.
    state = theirs.state_dict()
    owners = {}
    for k, v in state.items():
        owners.setdefault((v.data_ptr(), tuple(v.shape)), []).append(k)
    aliases = {k for names in owners.values() if len(names) > 1 for k in names if k in ours._tied_weights_keys}
    theirs_shapes = {k: tuple(v.shape) for k, v in state.items() if k not in aliases}
    assert sorted(ours_shapes) == sorted(theirs_shapes)
    assert ours_shapes == theirs_shapes


# ----------------------------------------------------------------------------------------------------------------------
# (c) gradients and dropout


_TRAINED = [c for c in CASES if c.head != "base" and c.arch in ENCODER_ARCHS]
# `make test`: every head in an architecture's first variant, and every variant with its first head (the variants
# choose which parameters exist, the heads which reach the loss); `make test-all`: every head in every variant.
BACKWARD_CASES = [
    c for c in _TRAINED
    if c in set(sample(_TRAINED, lambda c: (c.arch, c.head))) | set(sample(_TRAINED, lambda c: (c.arch, c.variant)))
]


@pytest.mark.parametrize("case", BACKWARD_CASES, ids=lambda c: c.id)
def test_backward_gives_finite_gradients(case, checkpoint):
    config, _, directory = checkpoint(case)
    model = _ours(case, directory).train()
    out = model(**_tensors(make_inputs(case, config)))
    out.loss.backward()
    # The Linears a spec holds but never calls (`held`, e.g. transformers' ESM contact head) get no gradient, as in
    # transformers' classes.
    held = [leaf.path for a in __import__("harness").project().architectures if a.name == case.arch for leaf in (a.names.held if a.names else ())]
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and p.grad is None and not any(re.search(rf"(^|\.){re.escape(path)}\.", n) for path in held)]
    assert not missing, f"parameters without gradient: {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"


def _dropout_rates(arch: str) -> dict:
    """Every dropout rate the spec's components read (config field -> 0.1): the embeddings', the attention
    probabilities' and output's, the feed-forward's and its activation's."""
    s = __import__("harness").spec(arch).spec
    fields = [s.embeddings.dropout, s.attention.dropout, s.attention.output_dropout, s.feed_forward.dropout,
              s.feed_forward.activation_dropout]
    return {field: 0.1 for field in fields if isinstance(field, str)}


@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_dropout_active_in_train_mode_only(arch, checkpoint):
    case = _case(arch, "masked_lm")
    rates = _dropout_rates(arch)
    assert rates, arch
    config, _, directory = checkpoint(case, **rates)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        model.train()
        a, b = model(**inputs).logits, model(**inputs).logits
        model.eval()
        c, d = model(**inputs).logits, model(**inputs).logits
    assert not torch.allclose(a, b)
    assert torch.equal(c, d)


# ----------------------------------------------------------------------------------------------------------------------
# (d) torch.compile


# `make test`: one encoder of each composition (the same components compile to the same graph); `make test-all`: every
# encoder.
COMPILE_ARCHS = ENCODER_ARCHS if TEST_ALL else distinct_compositions(ENCODER_ARCHS)


@pytest.mark.parametrize("arch", COMPILE_ARCHS)
def test_compile_fullgraph_matches_eager(arch, checkpoint):
    case = _case(arch, "base")
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    torch._dynamo.reset()
    # aot_eager traces forward and backward graphs like inductor does, without its (slow on CPU) code generation.
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        eager = flatten(model(**inputs))
        traced = flatten(compiled(**inputs))
        traced_all = flatten(compiled(**inputs, output_attentions=True, output_hidden_states=True))
        eager_all = flatten(model(**inputs, output_attentions=True, output_hidden_states=True))
    assert_close(eager, traced, "torch")
    assert_close(eager_all, traced_all, "torch")


def test_outputs_are_pytree_nodes():
    import torch.utils._pytree as pytree
    from specformers import BaseModelOutputWithPooling

    out = BaseModelOutputWithPooling(last_hidden_state=torch.ones(2, 3), hidden_states=(torch.zeros(1),))
    leaves, spec = pytree.tree_flatten(out)
    assert len([leaf for leaf in leaves if leaf is not None]) == 2
    back = pytree.tree_unflatten([leaf + 1 if leaf is not None else None for leaf in leaves], spec)
    assert type(back) is BaseModelOutputWithPooling
    assert back.pooler_output is None and torch.equal(back.last_hidden_state, torch.full((2, 3), 2.0))


# ----------------------------------------------------------------------------------------------------------------------
# (e) specformers -> transformers


# Every class in every variant but its first: `test_parity.py` saves each class in its first variant from every
# framework and requires exactly the tensors transformers wrote (names, shapes, values, tied weights written once),
# so the names of those variants are checked there; the others (tied or untied heads, other flags) are checked here.
LATER_VARIANTS = [c for c in CASES if c.variant != variants(c.arch)[0]]


@pytest.mark.parametrize("case", LATER_VARIANTS, ids=lambda c: c.id)
def test_saved_checkpoint_loads_in_transformers(case, checkpoint, tmp_path):
    import transformers

    config, _, directory = checkpoint(case)
    ours = _ours(case, directory)
    with torch.no_grad():
        for p in ours.parameters():  # new values, so that the round trip proves something
            if p.requires_grad:  # not fixed tables (sinusoids), which a checkpoint may leave out, as transformers'
                p.add_(0.01 * torch.randn_like(p))
    ours.save_pretrained(tmp_path)
    theirs = getattr(transformers, case.class_name("torch")).from_pretrained(tmp_path, attn_implementation="eager")
    inputs = make_inputs(case, config)
    # transformers' outputs as the harness computes them (with a sliding window, on a cache that keeps every key).
    expected = run_reference(theirs.eval(), inputs)
    with torch.no_grad():
        got = flatten(ours.eval()(**_tensors(inputs), output_hidden_states=True, output_attentions=True, return_dict=True))
    assert_close(expected, got, "torch")


def test_save_writes_tied_weights_once(checkpoint, tmp_path):
    from safetensors.numpy import load_file

    case = _case("roformer", "masked_lm")
    _, reference, directory = checkpoint(case)
    _ours(case, directory).save_pretrained(tmp_path)
    assert sorted(load_file(f"{tmp_path}/model.safetensors")) == sorted(load_file(f"{directory}/model.safetensors"))


# ----------------------------------------------------------------------------------------------------------------------
# (f) half precision


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_half_precision_forward_is_finite(arch, dtype, checkpoint):
    case = _case(arch, "masked_lm")
    config, _, directory = checkpoint(case)
    model = _ours(case, directory, dtype=dtype)
    assert model.dtype == dtype
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        out = model(**inputs, output_attentions=True, output_hidden_states=True)
        fast = model(**inputs)
    assert out.logits.dtype == dtype
    for name, value in flatten(out).items():
        assert np.isfinite(value).all(), name
    assert torch.isfinite(fast.logits).all()


# ----------------------------------------------------------------------------------------------------------------------
# (g) loading logs


@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_base_checkpoint_into_head_model_logs_new_weights(arch, checkpoint, caplog):
    base_case = _case(arch, "base")
    _, _, directory = checkpoint(base_case)
    head_case = _case(arch, "token_classification")
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = _ours(head_case, directory)
    new = [r.getMessage() for r in caplog.records if "newly initialized" in r.getMessage()]
    assert len(new) == 1
    assert "'classifier.weight'" in new[0] and "'classifier.bias'" in new[0]
    # Only the head is new: every base-model weight came from the checkpoint.
    assert f"'{model.base_model_prefix}." not in new[0]


def test_head_checkpoint_into_base_model_reports_unused(checkpoint, caplog):
    case = _case("roformer", "masked_lm")
    _, _, directory = checkpoint(case)
    with caplog.at_level(logging.WARNING, logger="specformers"):
        _ours(_case("roformer", "base"), directory)
    assert "were not used" in caplog.text and "cls.predictions.bias" in caplog.text
    assert "newly initialized" not in caplog.text


# ----------------------------------------------------------------------------------------------------------------------
# Attention kernels and documentation


@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_sdpa_path_matches_explicit_softmax(arch, checkpoint):
    case = _case(arch, "masked_lm")
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        fused = model(**inputs).logits
        explicit = model(**inputs, output_attentions=True).logits
        heads = model(**inputs, head_mask=torch.ones(config.num_attention_heads)).logits
    assert torch.allclose(fused, explicit, atol=ATOL, rtol=0)
    assert torch.allclose(fused, heads, atol=ATOL, rtol=0)


def test_return_dict_false_gives_the_non_none_fields(checkpoint):
    case = _case("albert", "sequence_classification")
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        as_dict = model(**inputs)
        as_tuple = model(**inputs, return_dict=False)
    assert len(as_tuple) == 2 and torch.equal(as_tuple[1], as_dict.logits)


def _documented_args(doc: str) -> list[str]:
    block = doc.split("Args:", 1)[1].split("Returns:", 1)[0]
    return re.findall(r"^\s{12}(\w+) \(", block, flags=re.MULTILINE)


@pytest.mark.parametrize("arch", list(SMALL_CONFIGS))
def test_public_classes_are_documented(arch):
    import specformers
    from harness import project

    spec = next(a for a in project().architectures if a.name == arch)
    for name in spec.public_classes("torch"):
        cls = getattr(specformers, name)
        assert cls.__doc__ and cls.forward.__doc__, name
        params = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
        assert _documented_args(cls.forward.__doc__) == params, name


# ----------------------------------------------------------------------------------------------------------------------
# Functional relative positions, sentence heads, classifier dropout


SPECS = {a.name: a for a in __import__("harness").project().architectures}
RELATIVE_ARCHS = [name for name, spec in SPECS.items() if getattr(spec, "relative", None) is not None]
SENTENCE_CASES = [c for c in CASES if c.head in ("pretraining", "next_sentence")]


@pytest.mark.parametrize("arch", RELATIVE_ARCHS)
def test_relative_table_is_one_constant_shared_by_every_layer(arch):
    """One non-persistent table per model, equal to T[clip(j - i, -M, M) + M] with T's sin/cos interleaved."""
    import specformers

    case = _case(arch, "base")
    config = reference_config(case)
    model = getattr(specformers, case.class_name("torch"))(getattr(specformers, f"{case.prefix}Config")(**config.to_dict()))
    field = _spec(arch).relative.max_relative_position
    tables = [(name, buf) for name, buf in model.named_buffers() if buf.dim() == 3]
    assert len(tables) == 1, [name for name, _ in tables]
    name, table = tables[0]
    assert name not in model.state_dict()
    assert not any(p.dim() == 3 for p in model.parameters())
    P, M = config.max_position_embeddings, getattr(config, field)
    d = config.hidden_size // config.num_attention_heads
    assert table.shape == (P, P, d)
    # Independent float64 construction of the table.
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    sinusoids = np.zeros((2 * M + 1, d))
    sinusoids[:, 0::2] = np.sin(np.arange(2 * M + 1)[:, None] * omega)
    sinusoids[:, 1::2] = np.cos(np.arange(2 * M + 1)[:, None] * omega)
    i, j = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    expected = sinusoids[np.clip(j - i, -M, M) + M]
    assert np.max(np.abs(table.numpy() - expected)) < 1e-5
    # The same tensor reaches every layer: the layers hold no table of their own.
    for layer_name, module in model.named_modules():
        assert not any(b.dim() == 3 for b in module.buffers(recurse=False)) or layer_name == name.rsplit(".", 1)[0]


@pytest.mark.parametrize("arch", RELATIVE_ARCHS)
def test_too_long_input_raises_a_clear_error(arch, checkpoint):
    for head in ("base", "multiple_choice"):
        case = _case(arch, head)
        config, _, directory = checkpoint(case)
        model = _ours(case, directory)
        limit = config.max_position_embeddings
        with torch.no_grad():
            model(**_tensors(make_inputs(case, config, seq=limit)))  # the limit itself is fine
            with pytest.raises(ValueError, match=rf"{limit + 1}.*max_position_embeddings.*\({limit}\)"):
                model(**_tensors(make_inputs(case, config, seq=limit + 1)))


@pytest.mark.parametrize("case", SENTENCE_CASES, ids=lambda c: c.id)
def test_sentence_head_losses_match_transformers(case, checkpoint):
    """Pretraining (LM + sentence loss) and next-sentence heads, with their labels, against the reference."""
    config, reference, directory = checkpoint(case)
    inputs = make_inputs(case, config)
    expected = run_reference(reference, inputs)
    assert "loss" in expected
    model = _ours(case, directory)
    with torch.no_grad():
        got = flatten(model(**_tensors(inputs), output_hidden_states=True, output_attentions=True, return_dict=True))
    assert_close(expected, got, "torch")


@pytest.mark.parametrize("case", [c for c in CASES if c.head == "pretraining"], ids=lambda c: c.id)
def test_pretraining_heads_share_a_container_when_their_paths_do(case):
    """`<c>.<lm>` and `<c>.<sentence>` live in one module `<c>`; otherwise each head is its own module."""
    import specformers

    spec = _spec(case.arch)
    config = reference_config(case, **_overrides(case))
    model = getattr(specformers, case.class_name("torch"))(getattr(specformers, f"{case.prefix}Config")(**config.to_dict()))
    lm, sentence = spec.lm_head.path.split("."), spec.sentence_head.path.split(".")
    modules = dict(model.named_modules())
    assert ".".join(lm) in modules and ".".join(sentence) in modules
    if len(lm) == len(sentence) == 2 and lm[0] == sentence[0]:
        assert set(dict(modules[lm[0]].named_children())) >= {lm[1], sentence[1]}


@pytest.mark.parametrize("arch", [name for name, spec in SPECS.items() if spec.classifier_dropout is not None])
def test_classifier_dropout_falls_back_when_none(arch):
    """Heads without a dropout field of their own read `classifier_dropout.field`, or its `fallback` when it is None."""
    import specformers

    spec = SPECS[arch]
    dropout = spec.classifier_dropout
    kinds = ("sequence_classification", "token_classification", "multiple_choice")
    heads = [h for h in spec.heads if h.kind in kinds and h.dropout is None and h.style != "dense_act" and h.summary != "sequence_summary"]
    assert heads
    config_cls = getattr(specformers, f"{spec.prefix}Config")
    for head in heads:
        cls = getattr(specformers, head.class_name(spec.prefix, "torch"))
        config = reference_config(_case(arch, head.kind)).to_dict()
        config[dropout.field] = 0.25
        assert cls(config_cls(**config)).dropout.p == 0.25, head.kind
        if dropout.fallback is not None:
            config[dropout.field] = None
            config[dropout.fallback] = 0.3
            assert cls(config_cls(**config)).dropout.p == 0.3, head.kind


@pytest.mark.parametrize("arch", [name for name, spec in SPECS.items() if spec.head("multiple_choice")])
def test_generated_models_do_not_print(arch, checkpoint, capsys):
    import specformers

    module = inspect.getmodule(getattr(specformers, f"{_spec(arch).prefix}Model"))
    assert "print(" not in inspect.getsource(module)
    case = _case(arch, "multiple_choice")
    config, _, directory = checkpoint(case)
    with torch.no_grad():
        _ours(case, directory)(**_tensors(make_inputs(case, config)))
    assert capsys.readouterr().out == ""
