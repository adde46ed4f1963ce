"""Names-layout stacks (`arch.names`) whose absolute positions a config flag makes fixed sinusoids
(`embeddings.sinusoidal`): each framework initialises the table exactly as transformers' PyTorch class does, and
PyTorch and TensorFlow do not train it (checkpoints hold it either way: the parity tests load it)."""

import numpy as np
import pytest

from harness import SMALL_CONFIGS, project

# Tables a config flag makes sinusoid (encoder and decoder-only stacks). An encoder-decoder's fixed tables (Marian's)
# are left out of transformers' checkpoints: every parity test loads such a checkpoint, so computes them.
SINUSOIDAL = [a for a in project().architectures if a.names is not None and isinstance(a.embeddings.sinusoidal, str)
              and a.stack != "encoder-decoder"]


def _kwargs(arch) -> dict:
    kwargs = {k: v for k, v in next(iter(SMALL_CONFIGS[arch.name].values())).items() if k != "padding_side"}
    return {**kwargs, arch.embeddings.sinusoidal: True}


def _path(arch) -> list:
    return arch.names.position_embeddings.split(".")


@pytest.mark.parametrize("arch", SINUSOIDAL, ids=lambda a: a.name)
def test_fixed_sinusoidal_positions_initialise_as_transformers(arch):
    import torch
    import transformers

    import specformers

    torch.manual_seed(0)
    reference = getattr(transformers, f"{arch.prefix}Model")(getattr(transformers, arch.config_class)(**_kwargs(arch)))
    config = getattr(specformers, arch.config_class)(**_kwargs(arch))
    expected = reference.get_submodule(arch.names.position_embeddings).weight.detach().numpy()

    table = getattr(specformers, f"{arch.prefix}Model")(config).get_submodule(arch.names.position_embeddings).weight
    assert not table.requires_grad
    np.testing.assert_array_equal(table.detach().numpy(), expected)

    tf_model = getattr(specformers, f"TF{arch.prefix}Model")(config)
    tf_model.build_with_dummy_inputs()
    layer = tf_model
    for part in [arch.base_model_prefix] + _path(arch):
        layer = getattr(layer, part)
    assert not layer.trainable
    np.testing.assert_array_equal(np.asarray(layer.embeddings), expected)

    params = getattr(specformers, f"Flax{arch.prefix}Model")(config).params
    for part in _path(arch):
        params = params[part]
    np.testing.assert_array_equal(np.asarray(params["embedding"]), expected)


# Heads whose dropout is the first configuration attribute set (`dropout: {attributes: [...], default: ...}`).
ATTRIBUTE_RATE_HEADS = [
    (a, h) for a in project().architectures if a.names is not None for h in a.heads
    if h.dropout is not None and not isinstance(h.dropout, (str, float))
]


@pytest.mark.parametrize("arch,head", ATTRIBUTE_RATE_HEADS, ids=lambda x: getattr(x, "name", None) or x.kind)
def test_head_dropout_attributes_read_as_transformers(arch, head):
    """The rate is the first attribute set (attributes the configuration need not declare), else the default, in every
    framework and from a transformers configuration too, as transformers' class reads it."""
    import transformers

    import specformers

    kwargs = {k: v for k, v in next(iter(SMALL_CONFIGS[arch.name].values())).items() if k != "padding_side"}
    name = head.class_name(arch.prefix, "torch")
    names = head.dropout.attributes
    # A field whose values the configuration restricts (`choices`) takes its last accepted value.
    accepted = {f.name: f.choices[-1] for f in arch.config_fields if f.choices}

    def dropout(model):  # the head's dropout module: its own, or (`style: dense_act`) its classification head's
        return model.classifier.dropout if head.style == "dense_act" else model.dropout

    for k in range(len(names) + 1):
        # None, then the last attribute alone, then the last two, ...: each time the first one set wins.
        extra = {n: accepted.get(n, 0.2 + 0.05 * i) for i, n in enumerate(names) if i >= len(names) - k}
        expected = dropout(getattr(transformers, name)(getattr(transformers, arch.config_class)(**kwargs, **extra))).p
        config = getattr(specformers, arch.config_class)(**kwargs, **extra)
        assert dropout(getattr(specformers, name)(config)).p == expected, extra
        assert dropout(getattr(specformers, name)(getattr(transformers, arch.config_class)(**kwargs, **extra))).p == expected
        assert dropout(getattr(specformers, "TF" + name)(config)).rate == expected
        flax_model = getattr(specformers, "Flax" + name)(config, _do_init=False)
        assert dropout(flax_model.module.bind({})).rate == expected
