"""Checkpoint tensors a model has no place for are refused, never dropped behind a warning: the error names them
(grouped by layer index) and the config flag involved; `ignore_unexpected_keys=True` drops them with a warning; known
benign extras (buffers of the reference) load silently; another task's head stays a warning, as in transformers."""

import ast
import logging
import os
import re

import numpy as np
import pytest

from harness import (
    SEQ2SEQ_ARCHS,
    assert_close,
    cases,
    config_kwargs,
    make_inputs,
    project,
    reference_config,
    reference_model,
    run_model,
    run_reference,
    spec,
)

FRAMEWORKS = ("torch", "tf", "flax")
NEZHA = next(c for c in cases() if c.arch == "nezha" and c.head == "base")
# What transformers' NEZHA decoder adds to each of the 2 layers of the small config: 10 tensors.
CROSS = [
    f"encoder.layer.{i}.crossattention.{name}"
    for i in range(2)
    for name in (
        "self.query.weight", "self.query.bias", "self.key.weight", "self.key.bias", "self.value.weight",
        "self.value.bias", "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias",
    )
]


def _cls(case, framework):
    import specformers

    return getattr(specformers, case.class_name(framework))


@pytest.fixture(scope="module")
def decoder_checkpoint(tmp_path_factory):
    """transformers' NezhaModel as a decoder with cross-attention, saved by its save_pretrained."""
    config = reference_config(NEZHA, is_decoder=True, add_cross_attention=True)
    model = reference_model(NEZHA, config)
    directory = tmp_path_factory.mktemp("nezha-decoder")
    model.save_pretrained(directory)
    return config, model, str(directory)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_weights_without_a_place_are_refused(framework, decoder_checkpoint):
    """The decoder's cross-attention weights into a model built without add_cross_attention: refused, grouped by layer
    index, naming the flag that gives them a place."""
    _, _, directory = decoder_checkpoint
    cls = _cls(NEZHA, framework)
    with pytest.raises(ValueError) as error:
        cls.from_pretrained(directory, add_cross_attention=False)
    from specformers.checkpoint import UnexpectedKeysError

    assert isinstance(error.value, UnexpectedKeysError)
    message = str(error.value)
    assert f"the checkpoint holds 20 tensor(s) that {cls.__name__} has no place for" in message
    assert "- encoder.layer.{0,1}.crossattention.self.query.weight\n" in message
    assert "- encoder.layer.{0,1}.crossattention.output.LayerNorm.bias\n" in message
    assert "encoder.layer.0.crossattention" not in message  # grouped, not listed one by one
    assert "20 of them exist only when add_cross_attention=True: set it in config.json or pass add_cross_attention=True" in message
    assert "does not implement" not in message
    assert "ignore_unexpected_keys=True" in message


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_flag_the_architecture_does_not_implement_is_named(framework, reference_checkpoint, tmp_path):
    """ALBERT has no cross-attention: a checkpoint whose config.json sets add_cross_attention=True and holds such
    weights is refused with the flag named as one this architecture does not implement."""
    import json

    albert = next(c for c in cases() if c.arch == "albert" and c.head == "base")
    _, _, directory = reference_checkpoint(albert)
    extra = {name: np.zeros((4,), np.float32) for name in ("encoder.crossattention.query.bias", "encoder.crossattention.key.bias")}
    target = _add_tensors(directory, tmp_path / "albert", extra)
    with open(os.path.join(target, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(target, "config.json"), "w") as f:
        json.dump({**config, "is_decoder": True, "add_cross_attention": True}, f)
    cls = _cls(albert, framework)
    with pytest.raises(ValueError) as error:
        cls.from_pretrained(target)
    message = str(error.value)
    assert "- encoder.crossattention.key.bias\n" in message
    assert f"config.json sets add_cross_attention=True, which specformers' {cls.__name__} does not implement" in message


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_ignore_unexpected_keys_drops_them_with_a_warning(framework, decoder_checkpoint, caplog):
    _, decoder, directory = decoder_checkpoint
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model, info = _cls(NEZHA, framework).from_pretrained(
            directory, ignore_unexpected_keys=True, output_loading_info=True, is_decoder=False, add_cross_attention=False
        )
    assert info["unexpected_keys"] == sorted(CROSS)
    assert info["missing_keys"] == [] and info["mismatched_keys"] == []
    assert "were dropped (ignore_unexpected_keys=True)" in caplog.text
    assert "- encoder.layer.{0,1}.crossattention.self.query.weight" in caplog.text
    # Everything else loaded: the outputs are those of transformers' encoder holding the decoder's other weights.
    config = reference_config(NEZHA)
    reference = reference_model(NEZHA, config)
    result = reference.load_state_dict(decoder.state_dict(), strict=False)
    assert sorted(result.unexpected_keys) == sorted(CROSS) and not result.missing_keys
    inputs = {k: v for k, v in make_inputs(NEZHA, config).items() if k != "labels"}
    theirs, ours = run_reference(reference, inputs, framework), run_model(framework, model, inputs)
    assert_close({"last_hidden_state": theirs["last_hidden_state"]}, {"last_hidden_state": ours["last_hidden_state"]}, framework)


def _add_tensors(directory, target, extra):
    """A copy of the safetensors checkpoint in `directory` at `target`, with the `extra` tensors added."""
    import shutil

    from safetensors.numpy import load_file, save_file

    os.makedirs(target, exist_ok=True)
    shutil.copy(os.path.join(directory, "config.json"), os.path.join(target, "config.json"))
    tensors = load_file(os.path.join(directory, "model.safetensors"))
    save_file({**tensors, **extra}, os.path.join(target, "model.safetensors"), metadata={"format": "pt"})
    return target


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_benign_extras_load_silently(framework, reference_checkpoint, tmp_path, caplog):
    """Buffers of transformers' models that older checkpoints hold: ALBERT's default `position_ids`, NEZHA's
    relative-position table (under upstream's name, which is not specformers'), the `version` of BART's stacks, a
    spec's `ignore_unexpected` entries."""
    albert = next(c for c in cases() if c.arch == "albert" and c.head == "masked_lm")
    _, _, albert_dir = reference_checkpoint(albert)
    albert_dir = _add_tensors(albert_dir, tmp_path / "albert", {"albert.embeddings.position_ids": np.arange(64)[None]})
    nezha = next(c for c in cases() if c.arch == "nezha" and c.head == "masked_lm")
    _, _, nezha_dir = reference_checkpoint(nezha)
    table = np.zeros((64, 64, 8), np.float32)
    extra = {f"nezha.encoder.layer.{i}.attention.self.relative_positions_encoding.positions_encoding": table for i in range(2)}
    nezha_dir = _add_tensors(nezha_dir, tmp_path / "nezha", extra)
    checkpoints = [(albert, albert_dir), (nezha, nezha_dir)]
    # The version numbers of fairseq's stacks, which converted checkpoints of names-layout encoder-decoders hold.
    seq2seq = next((a for a in project().architectures if a.name in SEQ2SEQ_ARCHS), None)
    if seq2seq is not None:
        case = next(c for c in cases() if c.arch == seq2seq.name and c.head == "conditional_generation")
        _, _, directory = reference_checkpoint(case)
        prefix = seq2seq.base_model_prefix
        versions = {f"{prefix}.{stack}.version": np.array([3.0], np.float32) for stack in (seq2seq.names.encoder, seq2seq.names.decoder)}
        checkpoints.append((case, _add_tensors(directory, tmp_path / seq2seq.name, versions)))
    # A spec's own `ignore_unexpected` entries (of a literal pattern: the name it matches) in the bare model of the first
    # names-layout encoder-decoder that lists some (LongT5: the relative bias some checkpoints hold in the decoder's
    # first cross-attention).
    listing = next((a for a in project().architectures if a.name in SEQ2SEQ_ARCHS and a.spec.ignore_unexpected), None)
    if listing is not None:
        case = next(c for c in cases() if c.arch == listing.name and c.head == "seq2seq")
        _, _, directory = reference_checkpoint(case)
        names = [re.sub(r"\\(.)", r"\1", e.pattern.strip("^$")) for e in listing.spec.ignore_unexpected]
        extra = {name: np.zeros((4, 2), np.float32) for name in names}
        checkpoints.append((case, _add_tensors(directory, tmp_path / listing.name, extra)))
    for case, directory in checkpoints:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="specformers"):
            _, info = _cls(case, framework).from_pretrained(directory, output_loading_info=True)
        assert info["unexpected_keys"] == [] and info["missing_keys"] == []
        assert caplog.text == ""


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_head_of_another_task_is_unused_with_a_warning(framework, reference_checkpoint, caplog):
    """A pretraining checkpoint into a masked-LM model: the sentence head is another task's (transformers warns)."""
    pretraining = next(c for c in cases() if c.arch == "nezha" and c.head == "pretraining")
    masked_lm = next(c for c in cases() if c.arch == "nezha" and c.head == "masked_lm")
    _, _, directory = reference_checkpoint(pretraining)
    with caplog.at_level(logging.WARNING, logger="specformers"):
        _, info = _cls(masked_lm, framework).from_pretrained(directory, output_loading_info=True)
    assert info["unexpected_keys"] == ["cls.seq_relationship.bias", "cls.seq_relationship.weight"]
    assert "were not used" in caplog.text and "expected when the checkpoint was trained on another task" in caplog.text


def _checkpoint_names(directory: str) -> list:
    from safetensors import safe_open

    with safe_open(os.path.join(directory, "model.safetensors"), "np") as f:
        return list(f.keys())


# The first encoder-decoder whose generation head holds the base model's modules itself (`inline_base`: no prefix on
# its names) beside heads that hold them under the base-model prefix (not the bare models, which are the base model).
BASE_KINDS = ("base", "seq2seq", "encoder")
INLINE = next(
    (
        a for a in project().architectures
        if any(h.inline_base for h in a.heads) and any(not h.inline_base and h.kind not in BASE_KINDS for h in a.heads)
    ),
    None,
)


@pytest.mark.skipif(INLINE is None, reason="no spec with a head holding the base model itself")
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_another_heads_weights_stay_foreign_across_the_prefix(framework, reference_checkpoint, caplog):
    """A generation checkpoint with an untied LM head (its names without the base-model prefix) into a classification
    head (the base model under the prefix): the base model's weights take the prefix and load, the LM head stays
    another task's, unused with a warning, as transformers reports it (never read as a weight of the base model)."""
    import transformers

    generation = next(c for c in cases() if c.arch == INLINE.name and c.head == "conditional_generation")
    heads = [h.kind for h in INLINE.heads if not h.inline_base and h.kind not in BASE_KINDS]
    _, reference, directory = reference_checkpoint(generation, tie_word_embeddings=False)
    base_modules = {name for name, _ in reference.named_children()} - {INLINE.lm_head.path}
    for kind in heads:
        case = next(c for c in cases() if c.arch == INLINE.name and c.head == kind and c.variant == generation.variant)
        upstream = getattr(transformers, case.class_name("torch"))
        _, expected = upstream.from_pretrained(directory, output_loading_info=True, tie_word_embeddings=False)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="specformers"):
            _, info = _cls(case, framework).from_pretrained(directory, output_loading_info=True, tie_word_embeddings=False)
        # The LM head (outside the base model's modules) is reported unused; whatever ours reports, transformers does
        # too (its encoder-only heads also list the decoder's weights, which ours drop quietly as its encoder model).
        foreign = sorted(k for k in _checkpoint_names(directory) if k.split(".", 1)[0] not in base_modules)
        assert foreign and set(foreign) <= set(info["unexpected_keys"]) <= set(expected["unexpected_keys"]), (kind, info, expected)
        assert sorted(info["missing_keys"]) == sorted(expected["missing_keys"]), (kind, info, expected)
        assert "were not used" in caplog.text


# The bare model of each architecture with a further token-type table, in its first variant that sets the table's flag.
TYPE_TABLE_CASES = list({
    c.arch: c for c in reversed(cases())
    if c.head == "base" and spec(c.arch).task_type is not None and config_kwargs(c).get(spec(c.arch).task_type.flag)
}.values())


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", TYPE_TABLE_CASES, ids=lambda c: c.id)
def test_type_table_without_its_flag_is_refused(case, framework, reference_checkpoint):
    """transformers' checkpoint with the further token-type table into a model built without its flag: refused,
    naming the flag."""
    task = spec(case.arch).task_type
    _, _, directory = reference_checkpoint(case)
    with pytest.raises(ValueError) as error:
        _cls(case, framework).from_pretrained(directory, **{task.flag: False})
    message = str(error.value)
    container = spec(case.arch).word_embeddings_path.rsplit(".", 1)[0]  # the word embeddings' container
    assert f"- {container}.{task.path}.weight\n" in message
    assert f"1 of them exist only when {task.flag}=True: set it in config.json or pass {task.flag}=True" in message


@pytest.mark.parametrize("arch", [a for a in project().architectures if not a.seq2seq], ids=lambda a: a.name)
def test_config_flag_that_gives_keys_a_place_is_named(arch):
    """The `{flag: patterns}` table of every public class, in every framework: the layers' `<cross_module>` weights of
    every spec with cross-attention need `add_cross_attention`; a spec without has no such entry. A further
    token-type table (`embeddings.task_type`) needs its flag, and so do q/k norms built only under a flag and the final
    norm of a stack whose norm placement a flag chooses."""
    import specformers

    task = arch.task_type
    # Flags of other components whose modules exist only when set: the norms of the queries and keys.
    qk_flag = arch.names.qk_norm if arch.names is not None and isinstance(arch.names.qk_norm, str) else None
    # The final norm of a stack whose norm placement a flag chooses (`norm.pre_when`): pre-norm only.
    pre_flag = arch.spec.norm.pre_when if arch.names is not None else None
    flags = ([qk_flag] if qk_flag else []) + ([pre_flag] if pre_flag else []) + ([task.flag] if task is not None else [])
    for framework in FRAMEWORKS:
        for name in arch.public_classes(framework):
            table = getattr(specformers, name)._keys_needing_config_flag
            if task is not None:
                container = arch.word_embeddings_path.rsplit(".", 1)[0]  # the word embeddings' container
                embeddings = f"{container}.{task.path}"
                (pattern,) = table[task.flag]
                assert re.search(pattern, f"{embeddings}.weight") and re.search(pattern, f"{arch.spec.base_model_prefix}.{embeddings}.weight"), name
                assert not re.search(pattern, f"{container}.token_type_embeddings.weight"), name
            if arch.cross_attention is None:
                # (Names-layout stacks have no `encoder` component, and no cross-attention.)
                assert "add_cross_attention" not in table, name
                assert list(table) == flags, name
                if pre_flag:
                    (pattern,) = table[pre_flag]
                    assert re.search(pattern, f"{arch.spec.base_model_prefix}.{arch.names.final_norm}.weight"), name
                    assert not re.search(pattern, f"{arch.names.layers}.0.{arch.names.roles['ffn.norm']}.weight"), name
                if qk_flag:
                    q_norm = arch.names.roles["attention.q_norm"]
                    assert any(re.search(pattern, f"{arch.names.layers}.3.{q_norm}.weight") for pattern in table[qk_flag]), name
                continue
            assert list(table) == ["add_cross_attention"] + flags, name
            pattern = table["add_cross_attention"][0]
            # A names-layout encoder's blocks: the `cross_attention.*` roles' paths inside each layer.
            layer, roles = arch.names.layers, arch.names.roles
            cross = (f"{layer}.0.{roles['cross_attention.query']}.weight", f"{layer}.11.{roles['cross_attention.output']}.bias")
            own = f"{layer}.0.{roles['attention.query']}.weight"
            for key in cross:
                assert re.search(pattern, key) and re.search(pattern, f"{arch.spec.base_model_prefix}.{key}"), (name, key)
            assert not re.search(pattern, own), name


def test_unexpected_keys_message_and_grouping():
    from specformers.checkpoint import group_keys, split_unexpected, unexpected_keys_message

    class Config:
        add_cross_attention = False
        is_decoder = True

    keys = [f"encoder.layer.{i}.crossattention.self.query.weight" for i in range(24)] + ["encoder.extra.weight"]
    message = unexpected_keys_message("M", keys, "ckpt", Config(), "config.json", {"add_cross_attention": (r"crossattention",), "other": ("nothing",)})
    assert ":\n- encoder.extra.weight\n- encoder.layer.{0-23}.crossattention.self.query.weight\n" in message
    assert "holds 25 tensor(s)" in message
    assert "24 of them exist only when add_cross_attention=True" in message
    assert "other" not in message  # a flag none of the keys needs is not mentioned
    Config.add_cross_attention = True
    unknown = unexpected_keys_message("M", keys, "ckpt", Config(), "config.json", {})
    assert "config.json sets add_cross_attention=True, which specformers' M does not implement" in unknown

    # A line stands for exactly the names it replaces.
    assert group_keys(["a.0.b.1", "a.1.b.1", "a.2.b.1", "a.0.b.0"]) == ["a.0.b.0", "a.{0-2}.b.1"]
    assert group_keys(["x.0.y", "x.1.y", "x.3.y", "z"]) == ["x.{0,1,3}.y", "z"]

    # Inside the base model (under the prefix, or a top-level module of a bare model): own; elsewhere: another head.
    assert split_unexpected(["m.encoder.new", "cls.other"], ["m.encoder.w", "head.w"], "m") == (["m.encoder.new"], ["cls.other"])
    assert split_unexpected(["encoder.new", "cls.other"], ["encoder.w", "pooler.w"], "m") == (["encoder.new"], ["cls.other"])


def test_generated_classes_carry_the_flag_table():
    """A spec component conditional on a flag reaches every framework's model base class as `_keys_needing_config_flag`."""
    import dataclasses

    from generator.pipeline import format_source, load_project
    from generator.render import make_environment, plan, render

    project = load_project(only="nezha")
    project.architectures = [
        dataclasses.replace(arch, keys_needing_config_flag={"add_cross_attention": (r"\.crossattention\.",)})
        for arch in project.architectures
    ]
    env = make_environment()
    sources = [
        format_source(render(env, job), job.path)
        for job in plan(project, only="nezha")
        if re.search(r"modeling(_tf|_flax)?_nezha\.py$", str(job.path))
    ]
    assert len(sources) == 3
    for source in sources:
        tables = [
            ast.literal_eval(node.value)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_keys_needing_config_flag"]
        ]
        assert tables == [{"add_cross_attention": (r"\.crossattention\.",)}]
