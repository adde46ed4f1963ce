"""Config fields the models do not render (`unsupported` in a spec, e.g. Llama's `rope_scaling`, or values outside a
field's `choices`): only their default (or choices) constructs a config; any other value raises a ValueError naming the
field, never a model that silently ignores it."""

import pytest

from harness import project

UNSUPPORTED = [(a, f) for a in project().architectures for f in a.config_fields if f.unsupported]


def test_some_spec_declares_an_unsupported_field():
    assert UNSUPPORTED


@pytest.mark.parametrize("arch,field", UNSUPPORTED, ids=lambda x: getattr(x, "name", ""))
def test_unsupported_field_raises_unless_default(arch, field):
    import specformers

    config_class = getattr(specformers, arch.config_class)
    config = config_class()
    if field.default_from:
        # A value the models render only when it equals another field's: null takes that value, which is accepted.
        other = getattr(config, field.default_from)
        assert getattr(config, field.name) == other
        assert getattr(config_class(**{field.name: other}), field.name) == other
        with pytest.raises(ValueError, match=f"{field.name}=.*is not supported"):
            config_class(**{field.name: other + 1})
        return
    # A `list` field's None becomes its default entries (`default_repeat`): its default constructs all the same.
    assert getattr(config, field.name) == field.default or field.default_repeat
    other = {"rope_type": "linear", "factor": 2.0} if field.type == "dict" else "other"
    if field.type == "list":
        other = [field.choices[0], "other"]
    with pytest.raises(ValueError, match=f"{field.name}=.*is not supported"):
        config_class(**{field.name: other})
