"""Flax behaviour beyond output parity: KV-cache decoding, gradients and optax, dropout, jit and pytrees, checkpoints
written for transformers' PyTorch classes, the parameter-name mapping of every head, and load reports."""

import inspect
import logging
import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
optax = pytest.importorskip("optax")

from harness import (  # noqa: E402
    ATOL,
    INPUT_OPTIONS,
    LABEL_KEYS,
    SMALL_CONFIGS,
    assert_close,
    cases,
    flatten,
    make_inputs,
    reference_config,
    reference_model,
    run_reference,
    variants,
    checked_in_turn,
    parity_frameworks,
    TEST_ALL,
)

CASES = cases()


def case(arch: str, head: str, variant: str):
    return next(c for c in CASES if (c.arch, c.head, c.variant) == (arch, head, variant))


def flax_class(c):
    import specformers

    return getattr(specformers, c.class_name("flax"))


def flax_config(c, **overrides):
    """The specformers config of a harness case (same fields as the reference's)."""
    import specformers

    kwargs = {k: v for k, v in SMALL_CONFIGS[c.arch][c.variant].items() if k not in INPUT_OPTIONS}
    if c.head == "causal_lm":
        kwargs["is_decoder"] = True
    kwargs.update(overrides)
    return getattr(specformers, f"{c.prefix}Config")(**kwargs)


def perturbed(params, seed: int = 0, scale: float = 0.1):
    """Every parameter plus noise, so that a misplaced or transposed tensor shows."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [x + scale * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)]
    )


# ---------------------------------------------------------------------------------------------------------------------
# (a) KV cache


@pytest.mark.parametrize("variant", ["factorized", "rotary_value"])
def test_cached_decoding_equals_full_pass(variant, reference_checkpoint):
    c = case("roformer", "causal_lm", variant)
    _, _, directory = reference_checkpoint(c)
    model = flax_class(c).from_pretrained(directory)
    rng = np.random.default_rng(1)
    batch, seq, prefix = 2, 9, 4
    input_ids = jnp.asarray(rng.integers(1, 99, size=(batch, seq)))
    token_type_ids = jnp.asarray(rng.integers(0, 3, size=(batch, seq)))
    full = model(input_ids, token_type_ids=token_type_ids, use_cache=True)
    assert len(full.past_key_values) == model.config.num_hidden_layers

    step = model(input_ids[:, :prefix], token_type_ids=token_type_ids[:, :prefix], use_cache=True)
    logits = [step.logits]
    past = step.past_key_values
    for t in range(prefix, seq):
        step = model(
            input_ids[:, t : t + 1],
            attention_mask=jnp.ones((batch, t + 1), dtype="i4"),
            token_type_ids=token_type_ids[:, t : t + 1],
            past_key_values=past,
        )
        past = step.past_key_values
        key, value = past[0]
        assert key.shape == value.shape == (batch, model.config.num_attention_heads, t + 1, 32 // 4)
        logits.append(step.logits)
    np.testing.assert_allclose(np.concatenate(logits, axis=1), full.logits, atol=ATOL, rtol=0)
    for (k1, v1), (k2, v2) in zip(past, full.past_key_values):
        np.testing.assert_allclose(k1, k2, atol=ATOL, rtol=0)
        np.testing.assert_allclose(v1, v2, atol=ATOL, rtol=0)


def test_no_cache_for_encoders(reference_checkpoint):
    c = case("roformer", "base", "factorized")
    _, _, directory = reference_checkpoint(c)
    out = flax_class(c).from_pretrained(directory)(jnp.ones((1, 4), dtype="i4"), use_cache=True)
    assert out.past_key_values is None  # config.is_decoder is False


# ---------------------------------------------------------------------------------------------------------------------
# (b) gradients, optax, dropout


def test_grad_and_adam_step():
    c = case("roformer", "masked_lm", "factorized")  # E != H: the projection and the tied decoder get gradients
    model = flax_class(c)(flax_config(c))
    inputs = make_inputs(c, model.config, batch=2, seq=8)
    labels = jnp.asarray(np.where(inputs["labels"] < 0, 0, inputs["labels"]))

    def loss_fn(params):
        logits = model(jnp.asarray(inputs["input_ids"]), attention_mask=jnp.asarray(inputs["attention_mask"]), params=params).logits
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = jax.jit(jax.value_and_grad(loss_fn))(model.params)
    leaves = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(loss))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert sum(float(jnp.abs(g).sum()) > 0 for g in leaves) > 0.9 * len(leaves)

    optimizer = optax.adam(1e-3)
    state = optimizer.init(model.params)
    updates, state = optimizer.update(grads, state, model.params)
    new_params = optax.apply_updates(model.params, updates)
    changed = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), model.params, new_params)
    assert all(jax.tree_util.tree_leaves(changed))
    assert float(jax.jit(loss_fn)(new_params)) < float(loss)


def test_dropout_only_in_training():
    c = case("roformer", "sequence_classification", "factorized")  # hidden/attention dropout 0.1
    model = flax_class(c)(flax_config(c))
    ids = jnp.asarray(make_inputs(c, model.config, batch=2, seq=8)["input_ids"])
    eval_a, eval_b = model(ids).logits, model(ids).logits
    np.testing.assert_array_equal(eval_a, eval_b)
    train_a = model(ids, train=True, dropout_rng=jax.random.PRNGKey(0)).logits
    train_a2 = model(ids, train=True, dropout_rng=jax.random.PRNGKey(0)).logits
    train_b = model(ids, train=True, dropout_rng=jax.random.PRNGKey(1)).logits
    np.testing.assert_array_equal(train_a, train_a2)
    assert not np.allclose(train_a, eval_a) and not np.allclose(train_a, train_b)
    with pytest.raises(ValueError, match="dropout_rng"):
        model(ids, train=True)


# ---------------------------------------------------------------------------------------------------------------------
# (c) jit and pytrees


def test_jit_equals_eager_and_outputs_are_pytrees(reference_checkpoint):
    c = case("albert", "pretraining", "groups")
    _, _, directory = reference_checkpoint(c)
    model = flax_class(c).from_pretrained(directory)
    inputs = {k: jnp.asarray(v) for k, v in make_inputs(c, model.config).items() if k in ("input_ids", "attention_mask", "token_type_ids")}

    def forward(params, **feed):
        return model(**feed, params=params, output_hidden_states=True, output_attentions=True)

    eager = forward(model.params, **inputs)
    jitted = jax.jit(forward)(model.params, **inputs)
    assert type(jitted) is type(eager)
    assert_close(flatten(eager), flatten(jitted), "flax")

    leaves = jax.tree_util.tree_leaves(eager)
    assert len(leaves) == len(flatten(eager))  # None fields hold no leaves
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, eager)
    assert type(doubled) is type(eager) and doubled.hidden_states is not None
    np.testing.assert_allclose(doubled.sop_logits, 2 * eager.sop_logits)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(eager)[0]]
    assert paths[0] == ".prediction_logits"

    as_tuple = model(**inputs, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2  # prediction_logits, sop_logits


def test_jit_equals_eager_relative_positions(reference_checkpoint):
    """The relative-position table is a NumPy constant sliced by the (static) sequence length: one trace per length."""
    c = case("nezha", "pretraining", "clipped")
    config, pt_model, directory = reference_checkpoint(c)
    model = flax_class(c).from_pretrained(directory)
    inputs = make_inputs(c, config)
    feed = {k: jnp.asarray(v) for k, v in inputs.items()}  # the labels too: the loss is compared

    def forward(params, **feed):
        return model(**feed, params=params, output_hidden_states=True, output_attentions=True)

    eager = forward(model.params, **feed)
    jitted = jax.jit(forward)(model.params, **feed)
    assert type(jitted) is type(eager)
    assert_close(flatten(eager), flatten(jitted), "flax")
    assert_close(run_reference(pt_model, inputs, "flax"), flatten(jitted), "flax")
    assert [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(eager)[0]][:3] == [
        ".loss",
        ".prediction_logits",
        ".seq_relationship_logits",
    ]
    # The table is no parameter: nothing under the model but the PyTorch state-dict names.
    from flax.traverse_util import flatten_dict

    assert not any("relative" in ".".join(path) for path in flatten_dict(model.params))


@pytest.mark.parametrize("head", ["base", "pretraining", "multiple_choice"])
def test_input_longer_than_the_relative_table_is_an_error(head):
    c = case("nezha", head, "clipped")
    model = flax_class(c)(flax_config(c))
    limit = model.config.max_position_embeddings
    shape = (1, 2, limit + 1) if head == "multiple_choice" else (1, limit + 1)
    with pytest.raises(ValueError, match=rf"length {limit + 1} exceeds config\.max_position_embeddings \({limit}\)"):
        model(jnp.ones(shape, dtype="i4"))
    with pytest.raises(ValueError, match=rf"length {limit + 1}"):
        jax.jit(lambda ids: model(ids))(jnp.ones(shape, dtype="i4"))
    ok = model(jnp.ones(shape[:-1] + (limit,), dtype="i4"))  # exactly the limit is fine
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(ok))


def test_grad_relative_positions():
    """Gradients through both relative terms (keys and values) reach every parameter and are finite."""
    c = case("nezha", "pretraining", "clipped")
    model = flax_class(c)(flax_config(c))
    inputs = make_inputs(c, model.config, batch=2, seq=12)  # seq > 2 * max_relative_position: clipped distances
    labels = jnp.asarray(np.where(inputs["labels"] < 0, 0, inputs["labels"]))
    feed = {k: jnp.asarray(inputs[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
    next_sentence = jnp.asarray(np.random.default_rng(0).integers(0, 2, size=(2,)))

    def loss_fn(params):
        out = model(**feed, params=params, train=True, dropout_rng=jax.random.PRNGKey(0))
        mlm = optax.softmax_cross_entropy_with_integer_labels(out.prediction_logits, labels).mean()
        nsp = optax.softmax_cross_entropy_with_integer_labels(out.seq_relationship_logits, next_sentence).mean()
        return mlm + nsp

    loss, grads = jax.jit(jax.value_and_grad(loss_fn))(model.params)
    leaves = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(loss))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert all(float(jnp.abs(g).sum()) > 0 for g in leaves)


# ---------------------------------------------------------------------------------------------------------------------
# (d) Flax save_pretrained -> transformers (PyTorch) from_pretrained


@pytest.mark.parametrize(
    "arch,head,variant",
    [
        ("albert", "pretraining", "groups"),
        ("roformer", "masked_lm", "factorized"),
        ("roformer", "causal_lm", "rotary_value"),
        ("nezha", "pretraining", "clipped"),
        ("nezha", "next_sentence", "clipped"),
    ],
)
def test_save_loads_in_transformers(arch, head, variant, tmp_path):
    import transformers

    c = case(arch, head, variant)
    model = flax_class(c)(flax_config(c))
    model.params = perturbed(model.params)
    model.save_pretrained(tmp_path)

    pt_model, info = getattr(transformers, c.class_name("torch")).from_pretrained(
        tmp_path, output_loading_info=True, attn_implementation="eager"
    )
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    pt_model.eval()
    # Without labels: flax_config keeps the variant's num_labels, which transformers' sentence-order loss rejects.
    inputs = {k: v for k, v in make_inputs(c, pt_model.config).items() if k not in LABEL_KEYS}
    reference = run_reference(pt_model, inputs, "flax")
    feed = {k: jnp.asarray(v) for k, v in inputs.items()}
    ours = flatten(model(**feed, output_hidden_states=True, output_attentions=True))
    assert_close(reference, ours, "flax")

    # And back: our own loader reads what we wrote, bit for bit.
    again = flax_class(c).from_pretrained(tmp_path)
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.array_equal(a, b)), model.params, again.params)
    assert all(jax.tree_util.tree_leaves(same))


# ---------------------------------------------------------------------------------------------------------------------
# (e) parameter names


# `make test-all`: every class in every variant but its first (`test_parity.py` saves each class in its first variant
# from every framework and requires exactly the tensors transformers wrote: names, shapes, values, tied weights written
# once; the other variants, tied or untied heads and other flags, are checked here). `make test`: the classes
# `test_parity.py` does not load in this framework (`parity_frameworks`) among those `make test` checks in TensorFlow
# and Flax (`checked_in_turn`: a later variant's further heads, in `make test-all` only), whose weight names only this
# test checks.
LATER_VARIANTS = (
    [c for c in CASES if c.variant != variants(c.arch)[0]]
    if TEST_ALL
    else [c for c in CASES if checked_in_turn(c) and "flax" not in parity_frameworks(c)]
)


@pytest.mark.parametrize("c", LATER_VARIANTS, ids=lambda c: c.id)
def test_param_names_match_pytorch_state_dict(c):
    from specformers.modeling_flax_utils import pytorch_name

    config = reference_config(c)
    pt_model = reference_model(c, config)
    pt_state = pt_model.state_dict()
    # Tied names are the later names of tensors the PyTorch model shares (its storage says so, whatever the config).
    first_owner, tied = {}, set()
    for name, tensor in pt_state.items():
        key = (tensor.data_ptr(), tuple(tensor.shape))
        if key in first_owner:
            tied.add(name)
        else:
            first_owner[key] = name
    # Computed constants: tensors transformers holds frozen that the specformers models compute instead of loading
    # (RoFormer's sinusoidal table); frozen tensors they load (DistilBERT's fixed position table) are parameters.
    import specformers

    loaded = {name for name, _ in getattr(specformers, c.class_name("torch"))(config).named_parameters()}
    frozen = {name for name, p in pt_model.named_parameters() if not p.requires_grad and name not in loaded}
    expected = {k: tuple(v.shape) for k, v in pt_state.items() if k not in tied | frozen}

    model = flax_class(c)(flax_config(c, num_labels=config.num_labels), _do_init=False)
    # So are the buffers of transformers' state dict that the models compute and write on save as constants (ESM's
    # rotary inverse frequencies).
    constants = set(model._constants(True)) | set(model._constants(False))
    frozen |= {name for name, _ in pt_model.named_buffers() if name in pt_state and name in constants}
    expected = {k: v for k, v in expected.items() if k not in frozen}
    shapes = model._param_shapes()
    ours = {pytorch_name(path): tuple(s.shape)[::-1] if path[-1] == "kernel" else tuple(s.shape) for path, s in shapes.items()}
    assert sorted(ours) == sorted(expected)
    assert ours == expected
    head_model = model._is_head_model(shapes)
    assert set(model._constants(head_model)) == frozen


# ---------------------------------------------------------------------------------------------------------------------
# (f) load reports


def test_base_checkpoint_into_head_reports_new_weights(reference_checkpoint, caplog):
    base = case("roformer", "base", "factorized")
    _, pt_base, directory = reference_checkpoint(base)
    head = case("roformer", "sequence_classification", "factorized")
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = flax_class(head).from_pretrained(directory)
    text = caplog.text
    assert "newly initialized" in text
    for name in ("classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"):
        assert name in text
    assert "were not used" not in text  # the rotary table is a known constant
    loaded = model.params["roformer"]["embeddings"]["word_embeddings"]["embedding"]
    np.testing.assert_array_equal(loaded, pt_base.embeddings.word_embeddings.weight.detach().numpy())


def test_head_checkpoint_into_base_reports_unused(reference_checkpoint, caplog):
    mlm = case("roformer", "masked_lm", "factorized")
    _, _, directory = reference_checkpoint(mlm)
    with caplog.at_level(logging.WARNING, logger="specformers"):
        flax_class(case("roformer", "base", "factorized")).from_pretrained(directory)
    assert "were not used" in caplog.text and "cls.predictions.transform.dense.weight" in caplog.text
    assert "newly initialized" not in caplog.text


def test_shape_mismatch_is_an_error(reference_checkpoint):
    c = case("albert", "sequence_classification", "groups")
    _, _, directory = reference_checkpoint(c)
    import specformers

    config = specformers.AlbertConfig.from_pretrained(directory)
    config.num_labels = 5
    with pytest.raises(ValueError, match=r"classifier\.weight: found shape \[3, 32\]"):
        flax_class(c).from_pretrained(directory, config=config)


# ---------------------------------------------------------------------------------------------------------------------
# Documentation


def _documented_args(doc: str) -> list[str]:
    block = doc.split("Args:", 1)[1].split("Returns:", 1)[0]
    indent = re.search(r"^( +)\w+ \(`", block, flags=re.M).group(1)
    return re.findall(rf"^{indent}(\w+) \(`", block, flags=re.M)


@pytest.mark.parametrize("arch", ["albert", "nezha", "roformer"])
def test_docstrings_list_the_signature(arch):
    import specformers
    from harness import project

    for name in next(a for a in project().architectures if a.name == arch).public_classes("flax"):
        cls = getattr(specformers, name)
        params = [p for p in inspect.signature(cls.__call__).parameters if p != "self"]
        assert _documented_args(cls.__call__.__doc__) == params, name
        assert _documented_args(cls.__doc__) == params, name
