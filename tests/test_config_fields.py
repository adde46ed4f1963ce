"""Config fields the models do not render (`unsupported` in a spec, e.g. Llama's `rope_scaling`, or values outside a
field's `choices`): only their default (or choices) constructs a config; any other value raises a ValueError naming the
field, never a model that silently ignores it. Scaled rotary positions (`position.scaling`): the scalings the models
do not render raise, those they render give transformers' inverse frequencies and attention factor in every framework."""

import re

import pytest

from harness import cases, config_kwargs, project, reference_config, spec

UNSUPPORTED = [(a, f) for a in project().architectures for f in a.config_fields if f.unsupported]


def test_some_spec_declares_an_unsupported_field():
    assert UNSUPPORTED


@pytest.mark.parametrize("arch,field", UNSUPPORTED, ids=lambda x: getattr(x, "name", ""))
def test_unsupported_field_raises_unless_default(arch, field):
    import specformers

    config_class = getattr(specformers, arch.config_class)
    config = config_class()
    if field.minimum is not None:
        # Values from the minimum on are accepted, a smaller one refused with the reason.
        assert getattr(config_class(**{field.name: field.minimum}), field.name) == field.minimum
        with pytest.raises(ValueError, match=f"{field.name}=.*is not supported \\(accepted: {field.minimum} or more\\)"):
            config_class(**{field.name: field.minimum - 1})
        return
    if field.default_from:
        # A value the models render only when it equals another field's: null takes that value, which is accepted.
        other = getattr(config, field.default_from)
        assert getattr(config, field.name) == other
        assert getattr(config_class(**{field.name: other}), field.name) == other
        with pytest.raises(ValueError, match=f"{field.name}=.*is not supported"):
            config_class(**{field.name: other + 1})
        return
    # A `list` field's None becomes its default entries (`default_repeat`), or the empty list that is its only
    # rendered value (`choices: []`): its default constructs all the same.
    assert getattr(config, field.name) == field.default or field.default_repeat or getattr(config, field.name) == [] == field.choices
    other = {"rope_type": "linear", "factor": 2.0} if field.type == "dict" else "other"
    if field.type == "list":
        other = [*field.choices[:1], "other"]
    with pytest.raises(ValueError, match=f"{field.name}=.*is not supported"):
        config_class(**{field.name: other})


# Fields of sub-configurations (`type: config`, e.g. MPT's `attn_config`) the models do not render.
SUB_UNSUPPORTED = [
    (a, f, sub) for a in project().architectures for f in a.config_fields if f.type == "config" for sub in f.fields if sub.unsupported
]


def test_some_spec_declares_an_unsupported_sub_field():
    assert SUB_UNSUPPORTED


@pytest.mark.parametrize("arch,field,sub", SUB_UNSUPPORTED, ids=lambda x: getattr(x, "name", ""))
def test_unsupported_sub_field_raises_unless_default(arch, field, sub):
    """Only the accepted values of a sub-configuration's field build a configuration, given as a mapping (as
    config.json holds it) or as the sub-configuration's instance; another raises a ValueError with the reason, and a
    configuration built from transformers' keeps and saves the nested values."""
    import transformers

    import specformers

    config_class = getattr(specformers, arch.config_class)
    sub_class = type(getattr(config_class(), field.name))
    assert sub_class.__name__ == field.config_class
    assert getattr(getattr(config_class(), field.name), sub.name) == sub.default
    for accepted in sub.choices if sub.choices is not None else [sub.minimum]:
        assert getattr(getattr(config_class(**{field.name: {sub.name: accepted}}), field.name), sub.name) == accepted
    other = sub.minimum - 1 if sub.minimum is not None else not sub.default if sub.type == "bool" else "other" if sub.type == "str" else max(sub.choices) + 1
    message = f"{field.name}.{sub.name}=.*is not supported.*{re.escape(sub.unsupported)}"
    with pytest.raises(ValueError, match=message):
        config_class(**{field.name: {sub.name: other}})
    with pytest.raises(ValueError, match=message):
        sub_class(**{sub.name: other})
    # transformers' configuration, as an instance or through its config.json: the values nested alike.
    reference = getattr(transformers, arch.config_class)()
    for source in (getattr(reference, field.name), reference.to_dict()[field.name]):
        ours = config_class(**{field.name: source})
        assert getattr(getattr(ours, field.name), sub.name) == getattr(getattr(reference, field.name), sub.name)
        assert ours.to_dict()[field.name][sub.name] == reference.to_dict()[field.name][sub.name]


# Combinations of values the models do not render (`config.refuse`), each value accepted alone.
REFUSED = [(a, i) for a in project().architectures for i in range(len(a.spec.config.refuse))]


def test_some_spec_refuses_a_combination():
    assert REFUSED


@pytest.mark.parametrize("arch,index", REFUSED, ids=lambda x: getattr(x, "name", str(x)))
def test_refused_combination_raises_and_each_value_alone_is_accepted(arch, index):
    import specformers

    config_class = getattr(specformers, arch.config_class)
    refused = arch.spec.config.refuse[index]
    with pytest.raises(ValueError, match=re.escape(refused.reason)) as raised:
        config_class(**refused.when)
    defaults = {f.name: f.default for f in arch.config_fields}
    for name, value in refused.when.items():
        assert f"{name}={value!r}" in str(raised.value)
        # Alone (the other fields at their defaults): accepted unless those defaults complete the combination.
        if all(defaults[other] == v for other, v in refused.when.items() if other != name):
            with pytest.raises(ValueError, match=re.escape(refused.reason)):
                config_class(**{name: value})
        else:
            assert getattr(config_class(**{name: value}), name) == value


# Architectures whose layers each take an attention kind from a config list (`attention.layer_types`).
LAYER_KINDS = [a for a in project().architectures if a.attention.layer_types]


def test_some_spec_has_layer_kinds():
    assert LAYER_KINDS


def _upstream_layer_kinds(arch) -> bool:
    """Whether transformers' configuration holds the layer-kinds list too (an `upstream: false` list is derived only
    by the generated configuration, from a period transformers' layers read themselves: the parity tests, whose
    variants hold both kinds of layers and inputs longer than the window, check it through the outputs)."""
    return next(f.upstream for f in arch.config.fields if f.name == arch.config.attribute_map.get(arch.attention.layer_types, arch.attention.layer_types))


@pytest.mark.parametrize("case", [c for c in cases() if c.head == "base" and spec(c.arch).attention.layer_types and _upstream_layer_kinds(spec(c.arch).spec)], ids=lambda c: c.id)
def test_layer_kinds_derived_as_transformers_derives_them(case):
    """The list each test variant's configuration derives (with and without sliding layers) is transformers'."""
    import specformers

    field = spec(case.arch).attention.layer_types
    ours = getattr(specformers, spec(case.arch).config_class)(**config_kwargs(case))
    assert getattr(ours, field) == getattr(reference_config(case), field)


@pytest.mark.parametrize("arch", LAYER_KINDS, ids=lambda a: a.name)
def test_layer_kinds_refused_unless_rendered(arch):
    """A list of another length than the layers, or sliding layers without a window, raise (transformers' models
    raise too, at validation or in the forward): never a model that picks a kind for a layer the list lacks."""
    import specformers

    config_class = getattr(specformers, arch.config_class)
    field, window = arch.attention.layer_types, arch.attention.sliding_window
    full, sliding = next(f.choices for f in arch.config_fields if f.name == field)  # the list's two kinds
    layers = config_class().num_hidden_layers
    with pytest.raises(ValueError, match=f"{field} holds {layers - 1} entries.*expected one per layer"):
        config_class(**{field: [full] * (layers - 1)})
    if next("Optional" in f.annotation for f in arch.config_fields if f.name == window):  # a window it may lack
        with pytest.raises(ValueError, match=f"has {sliding} layers but {window} is None"):
            config_class(**{field: [sliding] * layers, window: None})
    # The flag without which the configuration keeps no window (`none_unless`), where there is one.
    keep = {f.none_unless: True for f in arch.config_fields if f.name == window and f.none_unless}
    kinds = [full] * (layers - 1) + [sliding]
    assert getattr(config_class(**{field: kinds, window: 3}, **keep), field) == kinds


# Config fields the spec declares optional (default None, as in transformers) that the models read as sizes.
NEEDED = [(a, name) for a in project().architectures for name in a.fields_models_need]


def test_some_spec_has_a_field_its_models_need():
    assert NEEDED


@pytest.mark.parametrize("arch,field", NEEDED, ids=lambda x: getattr(x, "name", x))
@pytest.mark.parametrize("framework", ["torch", "tf", "flax"])
def test_models_refuse_a_needed_field_left_none(arch, field, framework):
    # The configuration holds None (transformers' does too); a model of any framework refuses it, naming the field,
    # before any layer is built.
    import specformers

    case = next(c for c in cases() if c.arch == arch.name)
    config = getattr(specformers, arch.config_class)(**config_kwargs(case, **{field: None}))
    assert getattr(config, field) is None
    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}[framework]
    name = f"{prefix}{arch.prefix}Model"
    with pytest.raises(ValueError, match=rf"{name} cannot be built from this {arch.config_class}: `{field}` is None"):
        getattr(specformers, name)(config)


# Architectures whose rotary positions transformers' `rope_scaling` scales (`position.scaling`), and the scalings
# the models render: each `rope_type` (the legacy key `type` too), YaRN with an explicit attention factor, with its
# factor from `mscale` / `mscale_all_dim` and with an untruncated ramp, longrope (its divisors filled in per
# architecture: one per rotated pair) below and past the original context, dynamic within and past
# `max_position_embeddings`.
SCALED = [a for a in project().architectures if a.names is not None and a.names.rotary_scaling]
SCALINGS = {
    "default": {"rope_type": "default"},
    "linear": {"type": "linear", "factor": 4.0},
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16},
    "yarn_attention_factor": {"rope_type": "yarn", "factor": 2.0, "attention_factor": 1.5, "beta_fast": 16.0, "beta_slow": 2.0},
    "yarn_mscale": {"type": "yarn", "factor": 8.0, "mscale": 1.0, "mscale_all_dim": 0.5, "truncate": False},
    "longrope_short": {"type": "longrope"},
    "longrope_long": {"type": "longrope"},
    "dynamic_short": {"type": "dynamic", "factor": 2.0},
    "dynamic_long": {"type": "dynamic", "factor": 3.0},
}
ROPE_TYPES = ("default", "linear", "llama3", "yarn", "longrope", "dynamic")
SCALED_CASES = [
    (arch, scaling) for arch in SCALED for scaling, value in SCALINGS.items()
    if value.get("rope_type", value.get("type")) in (arch.names.rotary_scaling_types or ROPE_TYPES)
]


def _longrope(arch, reference, pairs: int) -> dict:
    """A longrope scaling of `pairs` divisors each, with a `factor` unless the configuration holds the original
    context (transformers then derives it, and some configurations accept the three keys only)."""
    value = {"type": "longrope", "short_factor": [1.0 + i / pairs for i in range(pairs)], "long_factor": [2.0 + 3 * i for i in range(pairs)]}
    if arch.names.rotary_original_context is None:
        value["factor"] = 4.0
    return value


def test_some_spec_scales_rotary_positions():
    assert SCALED
    assert any(arch.names.rotary_scaling_types for arch in SCALED)
    assert any(arch.names.rotary_original_context is None for arch, scaling in SCALED_CASES if scaling.startswith("longrope"))


@pytest.mark.parametrize("arch", SCALED, ids=lambda a: a.name)
def test_rotary_scaling_refused_unless_rendered(arch):
    """Unknown types (or those outside the types the architecture's configuration accepts), unknown or missing keys and values that are not numbers raise when the
    configuration is built; the legacy key `type` is kept and copied to `rope_type` (kept as given where the
    architecture checks its few types itself)."""
    import specformers

    config_class = getattr(specformers, arch.config_class)
    field = arch.names.rotary_scaling
    types = arch.names.rotary_scaling_types
    assert getattr(config_class(), field) is None
    longrope = {"type": "longrope", "short_factor": [1.0, 2.0], "long_factor": [3.0, 4.0]}
    if types:
        for rope_type in types:
            value = longrope if rope_type == "longrope" else next(v for v in SCALINGS.values() if v.get("rope_type", v.get("type")) == rope_type)
            assert getattr(config_class(**{field: dict(value)}), field) == value
        refused = [({"type": t, "factor": 2.0}, f"must be one of {', '.join(types)}") for t in ROPE_TYPES if t not in types]
    else:
        assert getattr(config_class(**{field: {"type": "linear", "factor": 2.0}}), field) == {"type": "linear", "factor": 2.0, "rope_type": "linear"}
        assert getattr(config_class(**{field: longrope}), field) == {**longrope, "rope_type": "longrope"}
        refused = [
            ({"rope_type": "ntk", "factor": 2.0}, "must be one of default, linear, llama3, yarn, longrope, dynamic"),
            ({"rope_type": "dynamic"}, "dynamic scaling needs factor"),
            ({"factor": 2.0}, "must be one of"),
            ({"rope_type": "linear", "factor": 2.0, "low_freq_factor": 1.0}, "does not read low_freq_factor"),
            ({"rope_type": "llama3", "factor": 8.0}, "needs low_freq_factor, high_freq_factor, original_max_position_embeddings"),
            ({"rope_type": "yarn", "factor": "4"}, "factor must be a number"),
            ({"rope_type": "longrope", "short_factor": [1.0]}, "needs long_factor"),
            ({"rope_type": "longrope", "short_factor": [1.0], "long_factor": ["2"]}, "long_factor must be a list of numbers"),
            ({"rope_type": "linear", "type": "yarn", "factor": 2.0}, "names two types"),
        ]
    for value, message in refused + [("linear", "must be None or a mapping")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            config_class(**{field: value})


@pytest.mark.parametrize("arch,scaling", SCALED_CASES, ids=lambda x: x if isinstance(x, str) else x.name)
def test_rotary_scaling_tables_are_transformers(arch, scaling):
    """Every framework's inverse frequencies (float32) and attention factor are those transformers' `rope_type`
    computes for the spec's first test variant with the scaling (longrope: for positions up to the original context,
    then for one past it, which transformers computes with `seq_len`)."""
    import importlib

    import numpy as np
    import torch
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    case = next(c for c in cases() if c.arch == arch.name and c.head == "base")
    value = SCALINGS[scaling]
    rope_type = value.get("rope_type", value.get("type"))
    seq_len = None
    if rope_type == "longrope":
        plain = reference_config(case)
        pairs = len(ROPE_INIT_FUNCTIONS["default"](plain, "cpu")[0])
        value = _longrope(arch, plain, pairs)
        context = getattr(plain, "original_max_position_embeddings", None) or plain.max_position_embeddings
        length = context + 1 if scaling == "longrope_long" else context
        seq_len = length if scaling == "longrope_long" else None
    elif scaling == "dynamic_long":
        # Past the context: transformers computes the grown base from the length it is given (`seq_len`).
        length = seq_len = reference_config(case).max_position_embeddings + 5
    else:
        length = 4
    # (Some of transformers' configurations, Cohere's and Granite's, refuse the legacy key `type` alone; those that
    # check their few types themselves take the keys as given.)
    given = dict(value) if arch.names.rotary_scaling_types else {**value, "rope_type": rope_type}
    reference = reference_config(case, **{arch.names.rotary_scaling: given})
    import specformers

    config = getattr(specformers, arch.config_class)(**config_kwargs(case, **{arch.names.rotary_scaling: dict(value)}))
    package = f"specformers.models.{arch.name}"
    positions = np.arange(length)[None, :]
    frameworks = (("torch", f"modeling_{arch.name}", torch.from_numpy(positions)),
                  ("tf", f"modeling_tf_{arch.name}", positions), ("flax", f"modeling_flax_{arch.name}", positions))
    if rope_type == "dynamic" and importlib.import_module(f"{package}.modeling_{arch.name}").rotary_dim(config) <= 2:
        # The base's power dim / (dim - 2): transformers divides by zero; every framework says why instead.
        with pytest.raises(ZeroDivisionError):
            ROPE_INIT_FUNCTIONS[rope_type](reference, "cpu", seq_len=seq_len)
        for framework, module, ids in frameworks:
            with pytest.raises(ValueError, match="needs more than 2 rotated dimensions per head"):
                importlib.import_module(f"{package}.{module}").rotary_inverse_frequencies(config, ids)
        return
    expected, expected_factor = ROPE_INIT_FUNCTIONS[rope_type](reference, "cpu", seq_len=seq_len)
    for framework, module, ids in frameworks:
        inv_freq, factor = importlib.import_module(f"{package}.{module}").rotary_inverse_frequencies(config, ids)
        np.testing.assert_allclose(np.asarray(inv_freq), expected.numpy(), rtol=1e-6, atol=0, err_msg=framework)
        assert factor == expected_factor, framework
