"""transformers' Flax conventions: labels -> `loss` (PyTorch's, under `jax.jit` and `jax.value_and_grad`),
`to_bf16` / `to_fp16` / `to_fp32`, `from_pretrained(..., _do_init=False)`, transformers' positional order,
`generate` inside a user's `jax.jit`, and logical partitioning (every parameter named; a 2x2 mesh trains one step
with the unsharded loss)."""

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from harness import (
    ATOL,
    Case,
    cases,
    config_kwargs,
    make_inputs,
    pick_eos,
    run_reference,
    spec,
)

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import specformers  # noqa: E402

NO_LOSS = ("base", "seq2seq", "encoder")

# Every head of every architecture, in its first test variant.
FIRST_VARIANT_CASES = list({(c.arch, c.head): c for c in reversed(cases())}.values())[::-1]


def _spread(candidates: list) -> list:
    """One case per head kind, and per head kind of the encoder-decoder stacks (their heads are other templates),
    drawn from the architectures in turn so that every architecture appears. (`test_parity.py` compares every head of every architecture's loss, eagerly.)"""
    by_path: dict = {}
    for case in candidates:
        by_path.setdefault((case.head, spec(case.arch).stack == "encoder-decoder"), []).append(case)
    used: dict = {}
    chosen = []
    for options in by_path.values():
        case = min(options, key=lambda c: used.get(c.arch, 0))
        used[case.arch] = used.get(case.arch, 0) + 1
        chosen.append(case)
    return chosen


# `make test`: one head per kind, each traced under `jax.jit(jax.value_and_grad(...))` (what fails there on a value
# that must stay abstract fails while tracing) and compiled and run for one language-model head of each stack kind
# (the first of the most common: conditional generation, else masked LM, else causal LM; each compilation of the
# forward and backward pass costs seconds, up to 20 for ALBERT's pretraining head); `make test-all`
# (SPECFORMERS_TEST_ALL=1): every head of every architecture, each compiled and run.
_LABELLED = [c for c in FIRST_VARIANT_CASES if c.head not in NO_LOSS]
TEST_ALL = os.environ.get("SPECFORMERS_TEST_ALL") == "1"
LOSS_CASES = _LABELLED if TEST_ALL else _spread(_LABELLED)
_LM_HEADS = ("conditional_generation", "masked_lm", "causal_lm")
_COMPILED: dict = {}
for _case in sorted((c for c in LOSS_CASES if c.head in _LM_HEADS), key=lambda c: _LM_HEADS.index(c.head)):
    _COMPILED.setdefault(spec(_case.arch).stack, _case)
COMPILED_LOSS_CASES = set(LOSS_CASES if TEST_ALL else _COMPILED.values())
# One generating head per stack kind: the search loops are the same template code for every architecture of a kind.
GENERATION_CASES = list(
    {spec(c.arch).stack: c for c in reversed(FIRST_VARIANT_CASES) if c.head in ("conditional_generation", "causal_lm")
     and spec(c.arch).stack != "encoder"}.values()
)[::-1]


def _flax_class(case: Case):
    return getattr(specformers, case.class_name("flax"))


def _small_model(case: Case, **overrides):
    config = getattr(specformers, f"{case.prefix}Config")(**config_kwargs(case, **overrides))
    return _flax_class(case)(config)


def _assert_loss_and_grads(case, reference_checkpoint, compiled=True, **overrides):
    """The loss and gradients under `jax.jit(jax.value_and_grad(...))`: PyTorch's loss, finite gradients, not all
    zero. `compiled=False`: only traced (a scalar loss and gradients shaped like the parameters)."""
    config, reference, directory = reference_checkpoint(case, **overrides)
    inputs = make_inputs(case, config)
    if case.head == "conditional_generation":
        inputs.pop("decoder_input_ids")  # the labels shifted right, as PyTorch shifts them

    model, params = _flax_class(case).from_pretrained(directory, _do_init=False)
    feed = {k: jnp.asarray(v) for k, v in inputs.items()}

    def loss_fn(params, feed):
        return model(**feed, params=params).loss

    step = jax.jit(jax.value_and_grad(loss_fn))
    if not compiled:
        loss, grads = jax.eval_shape(step, params, feed)
        assert loss.shape == () and jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
        assert all(g.shape == p.shape for g, p in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(params)))
        return model
    expected = float(run_reference(reference, inputs, "flax")["loss"])
    loss, grads = step(params, feed)
    assert abs(float(loss) - expected) <= ATOL, f"loss {float(loss)} != PyTorch {expected}"
    leaves = jax.tree_util.tree_leaves(grads)
    assert leaves and all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert any(float(jnp.max(jnp.abs(g))) > 0 for g in leaves)
    return model


@pytest.mark.parametrize("case", LOSS_CASES, ids=lambda c: c.id)
def test_labels_loss_under_jit_and_grad(case, reference_checkpoint):
    model = _assert_loss_and_grads(case, reference_checkpoint, compiled=case in COMPILED_LOSS_CASES)
    _assert_logical_axes(model)


def test_do_init_false_returns_model_and_params(reference_checkpoint):
    case = LOSS_CASES[0]
    _, _, directory = reference_checkpoint(case)
    model, params = _flax_class(case).from_pretrained(directory, _do_init=False)
    with pytest.raises(ValueError, match="_do_init=False"):
        model.params
    full = _flax_class(case).from_pretrained(directory)
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(full.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_to_bf16_fp16_fp32():
    model = _small_model(FIRST_VARIANT_CASES[0])
    params = model.params
    half = model.to_bf16(params)
    assert {x.dtype for x in jax.tree_util.tree_leaves(half)} == {jnp.dtype(jnp.bfloat16)}
    assert {x.dtype for x in jax.tree_util.tree_leaves(params)} == {jnp.dtype(jnp.float32)}  # a new tree
    assert {x.dtype for x in jax.tree_util.tree_leaves(model.to_fp16(params))} == {jnp.dtype(jnp.float16)}
    assert {x.dtype for x in jax.tree_util.tree_leaves(model.to_fp32(half))} == {jnp.dtype(jnp.float32)}
    # With a mask, only the masked leaves: here every parameter but the norms' and biases.
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    mask = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(params), [path[-1].key not in ("bias", "scale") for path, _ in flat]
    )
    masked = jax.tree_util.tree_flatten_with_path(model.to_fp16(params, mask))[0]
    for path, value in masked:
        expected = jnp.float32 if path[-1].key in ("bias", "scale") else jnp.float16
        assert value.dtype == expected, path


def _positional(function) -> list[str]:
    return list(inspect.signature(function).parameters)[1:]


def test_positional_order_is_transformers():
    """Every Flax class transformers also has takes transformers' arguments in transformers' order: `__call__` takes
    exactly transformers' arguments up to `params` (a head without cross-attention keeps the encoder states' places),
    every method's leading arguments are transformers' up to the first that specformers lacks, and the shared ones
    keep their order."""
    transformers = pytest.importorskip("transformers")
    compared = 0
    for name in specformers.__all__:
        if not name.startswith("Flax") or name.endswith("PreTrainedModel") or not hasattr(transformers, name):
            continue
        for method in ("__call__", "encode", "decode"):
            if not hasattr(getattr(transformers, name), method) or not hasattr(getattr(specformers, name), method):
                continue
            ours = _positional(getattr(getattr(specformers, name), method))
            theirs = _positional(getattr(getattr(transformers, name), method))
            if method == "__call__":
                upto = theirs.index("params") + 1
                assert ours[:upto] == theirs[:upto], f"{name}: {ours[:upto]} != transformers' {theirs[:upto]}"
            missing = [i for i, arg in enumerate(theirs) if arg not in ours]
            prefix = missing[0] if missing else len(theirs)
            where = f"{name}.{method}"
            assert ours[:prefix] == theirs[:prefix], f"{where}: {ours[:prefix]} != transformers' {theirs[:prefix]}"
            assert [a for a in ours if a in theirs] == [a for a in theirs if a in ours], where
            compared += 1
    assert compared > 30


def test_encoder_state_placeholders_refuse_a_value():
    """A head without cross-attention takes the encoder states only to keep transformers' positional order: a value
    there raises instead of being ignored (as transformers' Flax models ignore it)."""
    transformers = pytest.importorskip("transformers")
    checked = set()
    for case in FIRST_VARIANT_CASES:
        if case.head != "sequence_classification" or spec(case.arch).stack in checked:
            continue
        cls = _flax_class(case)
        if "encoder_hidden_states" not in _positional(cls.__call__) or not hasattr(transformers, cls.__name__):
            continue
        checked.add(spec(case.arch).stack)
        config = getattr(specformers, f"{case.prefix}Config")(**config_kwargs(case))
        model = cls(config, _do_init=False)  # refused before the parameters are needed
        ids = jnp.ones((1, 4), dtype="i4")
        with pytest.raises(ValueError, match="encoder_hidden_states"):
            model(ids, encoder_hidden_states=jnp.zeros((1, 4, config.hidden_size)))
    assert checked == {"encoder"}


@pytest.mark.parametrize("case", GENERATION_CASES, ids=lambda c: c.id)
def test_generate_inside_user_jit(case):
    model = _small_model(case)
    ids = jnp.asarray(np.random.default_rng(0).integers(2, model.config.vocab_size, size=(3, 7)), dtype="i4")
    free = model.generate(ids, max_length=8, eos_token_id=()).sequences
    eos = pick_eos(np.asarray(free)[:, 1:])
    pad = model.config.pad_token_id
    # Beam search on one architecture: its loop is the same template code for all.
    for num_beams in (1, 2) if case == GENERATION_CASES[0] else (1,):
        eager = np.asarray(model.generate(ids, max_length=8, num_beams=num_beams, eos_token_id=eos).sequences)
        jitted = jax.jit(
            lambda params, ids: model.generate(ids, params=params, max_length=8, num_beams=num_beams, eos_token_id=eos)
        )(model.params, ids).sequences
        jitted = np.asarray(jitted)
        assert jitted.shape == (3, 8)
        np.testing.assert_array_equal(jitted[:, : eager.shape[1]], eager)
        fill = pad if num_beams == 1 else (pad or eos)
        assert (jitted[:, eager.shape[1] :] == fill).all()


def _assert_logical_axes(model):
    """Every parameter is boxed with one logical name per dimension (no name twice), and `logical_axes()` is shaped
    like the parameter tree."""
    import flax.linen as nn

    boxed = jax.eval_shape(lambda rng: model._init_boxed(rng, model.input_shape), model.key)
    leaves = jax.tree_util.tree_leaves(boxed, is_leaf=lambda x: isinstance(x, nn.LogicallyPartitioned))
    for leaf in leaves:
        assert isinstance(leaf, nn.LogicallyPartitioned), leaf
        assert len(leaf.names) == leaf.value.ndim and all(leaf.names), leaf
        assert len(set(leaf.names)) == len(leaf.names), leaf
    specs = model.logical_axes()
    shapes = jax.eval_shape(lambda rng: model.init_weights(rng, model.input_shape), model.key)
    assert jax.tree_util.tree_structure(
        specs, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec)
    ) == jax.tree_util.tree_structure(shapes)


_SHARDED_STEP = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import specformers
    from specformers.modeling_flax_utils import LOGICAL_AXIS_RULES

    mesh = Mesh(np.array(jax.devices()[:4]).reshape(2, 2), ("data", "model"))
    rng = np.random.default_rng(0)
    for name, config, head in [
        ("Bert", specformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                        intermediate_size=32, max_position_embeddings=32), "FlaxBertForMaskedLM"),
        ("T5", specformers.T5Config(vocab_size=64, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_heads=4,
                                    decoder_start_token_id=0), "FlaxT5ForConditionalGeneration"),
    ]:
        model = getattr(specformers, head)(config)
        ids = jnp.asarray(rng.integers(1, 64, size=(4, 8)), dtype="i4")
        labels = jnp.asarray(np.where(rng.random((4, 8)) < 0.3, -100, rng.integers(1, 64, size=(4, 8))), dtype="i4")

        def train_step(params, ids, labels):
            loss, grads = jax.value_and_grad(lambda p: model(ids, params=p, labels=labels).loss)(params)
            params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
            return loss, model(ids, params=params, labels=labels).loss, params

        plain = jax.jit(train_step)(model.params, ids, labels)
        shardings = model.param_shardings(mesh, LOGICAL_AXIS_RULES)
        params = jax.device_put(model.params, shardings)
        batch = NamedSharding(mesh, P("data"))
        sharded = jax.jit(train_step)(params, jax.device_put(ids, batch), jax.device_put(labels, batch))
        split = [s.spec for s in jax.tree_util.tree_leaves(shardings) if "model" in tuple(s.spec)]
        assert split, "no parameter is split over the model axis"
        assert any(len(p.sharding.device_set) == 4 for p in jax.tree_util.tree_leaves(sharded[2]))
        for a, b in zip(plain[:2], sharded[:2]):
            assert abs(float(a) - float(b)) <= 1e-5, (name, float(a), float(b))
        for a, b in zip(jax.tree_util.tree_leaves(plain[2]), jax.tree_util.tree_leaves(sharded[2])):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
        print(name, float(plain[0]), float(sharded[0]), float(plain[1]), float(sharded[1]), len(split))
    print("ok")
    """
)


def test_sharded_train_step_on_2x2_mesh(tmp_path):
    """Data + tensor parallelism by the logical rules on 4 virtual CPU devices (a child process: the device count
    must be set before jax is imported) trains one step with the unsharded loss."""
    script = tmp_path / "sharded_step.py"
    script.write_text(_SHARDED_STEP)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok"), result.stdout


# The classification head of each architecture with a further token-type table (`embeddings.task_type`), in its first
# variant that sets the table's flag.
TYPE_TABLE_CASES = list({
    c.arch: c for c in reversed(cases())
    if c.head == "sequence_classification" and spec(c.arch).task_type is not None
    and config_kwargs(c).get(spec(c.arch).task_type.flag)
}.values())


@pytest.mark.parametrize("case", TYPE_TABLE_CASES, ids=lambda c: c.id)
def test_further_token_types_as_the_other_ids(case, reference_checkpoint):
    """The table's ids come right after `token_type_ids` (before `params`, as the other ids), positionally too; under
    `jax.jit(jax.value_and_grad(...))` with them the loss is PyTorch's and the table gets a gradient."""
    task = spec(case.arch).task_type
    cls = _flax_class(case)
    names = _positional(cls.__call__)
    assert names.index(task.argument) == names.index("token_type_ids") + 1 < names.index("params")
    _assert_loss_and_grads(case, reference_checkpoint)
    config, _, directory = reference_checkpoint(case)
    model = cls.from_pretrained(directory)
    inputs = {k: jnp.asarray(v) for k, v in make_inputs(case, config).items() if k in names[: names.index("params")]}
    keyword = model(**inputs).logits
    positional = model(*[inputs.get(n) for n in names[: names.index(task.argument) + 1]]).logits
    np.testing.assert_array_equal(np.asarray(positional), np.asarray(keyword))

    def table_grad(params):
        feed = dict(inputs, labels=jnp.asarray(make_inputs(case, config)["labels"]))
        grads = jax.grad(lambda p: model(**feed, params=p).loss)(params)
        tree = grads[spec(case.arch).spec.base_model_prefix]
        # The table's container: the word embeddings'.
        for part in spec(case.arch).word_embeddings_path.split(".")[:-1]:
            tree = tree[part]
        return tree[task.path]["embedding"]

    grad = jax.jit(table_grad)(model.params)
    assert float(jnp.max(jnp.abs(grad))) > 0
