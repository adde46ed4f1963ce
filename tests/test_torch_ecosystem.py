"""The generated PyTorch models in the tools users plug transformers models into: the model methods those tools call
(embedding resizing, head pruning, gradient checkpointing, ...) checked against transformers on the same weights,
transformers' Trainer (checkpoints, resuming, mixed precision), accelerate, pipelines and peft."""

import os

import numpy as np
import pytest
import torch

from harness import ATOL, SMALL_CONFIGS, Case, config_kwargs, project, reference_config, reference_model

ENCODER_ARCHS = [a.name for a in project().architectures if a.stack == "encoder"]
SEQ2SEQ_ARCHS = [a.name for a in project().architectures if a.seq2seq]
DECODER_ONLY_ARCHS = [a.name for a in project().architectures if a.stack == "decoder-only"]
GENERATING_ARCHS = SEQ2SEQ_ARCHS + DECODER_ONLY_ARCHS


def _arch(name: str):
    return next(a for a in project().architectures if a.name == name)


def _case(arch: str, kind: str) -> Case:
    spec = _arch(arch)
    head = next(h for h in spec.heads if h.kind == kind)
    return Case(arch, spec.prefix, kind, head.suffix, next(iter(SMALL_CONFIGS[arch])))


def _lm_kind(arch: str) -> str:
    """The language-modeling head of an architecture (conditional generation, masked LM or causal LM)."""
    kinds = [h.kind for h in _arch(arch).heads]
    return next(k for k in ("conditional_generation", "masked_lm", "causal_lm") if k in kinds)


def _pair(arch: str, kind: str, **overrides):
    """transformers' model of a case with random weights and the specformers model holding the same weights (built
    from transformers' config object, loaded with `load_state_dict`)."""
    import specformers

    case = _case(arch, kind)
    theirs = reference_model(case, reference_config(case, **overrides))
    ours = getattr(specformers, case.class_name("torch"))(theirs.config)
    ours.load_state_dict(theirs.state_dict())
    return case, ours.eval(), theirs


def _ids(config, seed: int = 0, batch: int = 2, seq: int = 7) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, config.vocab_size, (batch, seq)))


def _lm_inputs(case, config, ids):
    if _arch(case.arch).seq2seq:
        return {"input_ids": ids, "decoder_input_ids": ids[:, :5]}
    return {"input_ids": ids}


# ----------------------------------------------------------------------------------------------------------------------
# Model methods and attributes


@pytest.mark.parametrize("arch", ENCODER_ARCHS + GENERATING_ARCHS)
def test_resize_token_embeddings_matches_transformers(arch):
    kind = _lm_kind(arch)
    case, ours, theirs = _pair(arch, kind)
    old_vocab = theirs.config.vocab_size
    old_rows = ours.get_input_embeddings().weight.detach().clone()
    for size in (old_vocab + 5, old_vocab - 3):
        ours.resize_token_embeddings(size)
        # transformers' new rows draw noise from the global RNG: seeded, the draw does not depend on what ran before.
        torch.manual_seed(0)
        theirs.resize_token_embeddings(size)
        head = getattr(theirs, "lm_head", None)
        separate_bias = getattr(head, "bias", None)
        bias_free_decoder = getattr(head, "decoder", None) is not None and head.decoder.bias is None
        if bias_free_decoder and isinstance(separate_bias, torch.nn.Parameter) and separate_bias.shape[0] != size:
            # An upstream bug: transformers 4.57.6's EsmForMaskedLM resizes its bias-free decoder but not the LM head's
            # separate `bias`, and its forward then fails ("The size of tensor a (104) must match the size of tensor
            # b (99)"). The reference's bias is resized here as transformers resizes a decoder's (kept entries, the
            # new ones at 0, as its `_init_weights` initialises that bias) to compare the rest.
            resized_bias = torch.zeros(size, dtype=separate_bias.dtype)
            resized_bias[:min(size, separate_bias.shape[0])] = separate_bias.detach()[:size]
            head.bias = torch.nn.Parameter(resized_bias)
        assert ours.config.vocab_size == size and ours.get_input_embeddings().num_embeddings == size
        kept = min(size, old_vocab)
        torch.testing.assert_close(ours.get_input_embeddings().weight[:kept], old_rows[:kept], rtol=0, atol=0)
        output = ours.get_output_embeddings()
        assert output.out_features == size
        if getattr(ours.config, "tie_word_embeddings", True):
            assert output.weight is ours.get_input_embeddings().weight
        # Tokens of the kept vocabulary (transformers' new rows are random, near the mean).
        ids = torch.from_numpy(np.random.default_rng(0).integers(0, kept, (2, 9)))
        with torch.no_grad():
            mine = ours(**_lm_inputs(case, ours.config, ids)).logits
            reference = theirs(**_lm_inputs(case, theirs.config, ids)).logits
        assert mine.shape == reference.shape and mine.shape[-1] == size
        np.testing.assert_allclose(mine[..., :kept].numpy(), reference[..., :kept].numpy(), atol=ATOL, rtol=0)
        if size > old_vocab:
            # New rows start at the mean of the old ones; the new bias entries and their logits follow transformers'.
            mean = old_rows.float().mean(0)
            new_rows = ours.get_input_embeddings().weight[old_vocab:].detach()
            torch.testing.assert_close(new_rows, mean.expand_as(new_rows), rtol=0, atol=1e-7)
            # transformers' rows are that mean plus noise of covariance 1e-9 times the old rows' covariance (its
            # documented rule): each entry within 6 standard deviations of that noise of the mean (the bound scales
            # with the old rows' spread, whatever their initialisation).
            noise_std = (1e-9 * ((old_rows.float() - mean) ** 2).mean(0)).sqrt()
            deviation = (theirs.get_input_embeddings().weight[old_vocab:].detach().float() - mean).abs()
            assert (deviation <= 6 * noise_std + 1e-7).all(), (deviation / noise_std).max()
            if output.bias is not None:
                # (A reference decoder without a bias adds the LM head's separate `bias`, resized above.)
                reference_bias = theirs.get_output_embeddings().bias
                reference_bias = theirs.lm_head.bias if reference_bias is None else reference_bias
                torch.testing.assert_close(output.bias, reference_bias, rtol=0, atol=1e-7)
            np.testing.assert_allclose(mine.numpy(), reference.numpy(), atol=1e-3, rtol=0)
    # The resized model saves and loads back.
    ours.save_pretrained(tmp := __import__("tempfile").mkdtemp())
    again = type(ours).from_pretrained(tmp)
    assert again.config.vocab_size == old_vocab - 3


# Variants whose encoder and decoder own their vocabularies (`embeddings.vocabularies`, its config flag false).
SEPARATE_VOCABULARIES = [
    (a.name, variant, a.spec.embeddings.vocabularies)
    for a in project().architectures
    if a.spec.embeddings.vocabularies is not None
    for variant, values in SMALL_CONFIGS[a.name].items()
    if values.get(a.spec.embeddings.vocabularies.shared) is False
]


@pytest.mark.parametrize("arch,variant,vocabularies", SEPARATE_VOCABULARIES)
def test_separate_vocabularies_resize_like_transformers(arch, variant, vocabularies):
    """Separate encoder and decoder vocabularies: the accessors return each stack's table, `resize_token_embeddings`
    resizes the encoder's only and `resize_decoder_token_embeddings` the decoder's (its table, the LM head, the
    logits bias), every parameter and buffer of transformers' shape, the logits of the kept tokens transformers'.
    With shared vocabularies (the first variant) the decoder's accessors refuse."""
    import dataclasses

    import specformers

    first = _case(arch, "conditional_generation")
    case = dataclasses.replace(first, variant=variant)
    theirs = reference_model(case, reference_config(case))
    cls = getattr(specformers, case.class_name("torch"))
    ours = cls(theirs.config)
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    base, their_base = ours.base_model, theirs.base_model
    assert getattr(base, _arch(arch).names.shared) is None
    assert ours.get_input_embeddings() is ours.get_encoder().get_input_embeddings()
    assert base.get_decoder_input_embeddings() is ours.get_decoder().get_input_embeddings()
    size = lambda config: getattr(config, vocabularies.decoder_size)  # noqa: E731
    vocab, decoder_vocab = theirs.config.vocab_size, size(theirs.config)

    def agree(kept_source: int, kept_target: int) -> None:
        assert ours.config.vocab_size == theirs.config.vocab_size and size(ours.config) == size(theirs.config)
        mine, reference = ours.state_dict(), theirs.state_dict()
        assert {k: tuple(v.shape) for k, v in mine.items()} == {k: tuple(v.shape) for k, v in reference.items() if k in mine}
        rng = np.random.default_rng(1)
        ids = torch.from_numpy(rng.integers(0, kept_source, (2, 9)))
        decoder_ids = torch.from_numpy(rng.integers(0, kept_target, (2, 5)))
        with torch.no_grad():
            got = ours(input_ids=ids, decoder_input_ids=decoder_ids).logits
            expected = theirs(input_ids=ids, decoder_input_ids=decoder_ids).logits
        assert got.shape == expected.shape
        np.testing.assert_allclose(got[..., :kept_target].numpy(), expected[..., :kept_target].numpy(), atol=ATOL, rtol=0)

    for new_size in (vocab + 5, vocab - 3):
        ours.resize_token_embeddings(new_size)
        theirs.resize_token_embeddings(new_size)
        assert ours.get_input_embeddings().num_embeddings == new_size
        agree(min(new_size, vocab), decoder_vocab)
    for new_size in (decoder_vocab + 4, decoder_vocab - 2):
        ours.resize_decoder_token_embeddings(new_size)
        theirs.resize_decoder_token_embeddings(new_size)
        assert base.get_decoder_input_embeddings().num_embeddings == new_size
        agree(vocab - 3, min(new_size, decoder_vocab))
    # (A resized model does not load back, in transformers neither: the encoder-decoder builds the decoder's table
    # with `vocab_size` rows, which both resizes leave behind.)
    shared = cls(reference_config(first))
    for call in (lambda: shared.base_model.get_decoder_input_embeddings(), lambda: shared.resize_decoder_token_embeddings(7)):
        with pytest.raises(ValueError, match=vocabularies.shared):
            call()


@pytest.mark.parametrize("arch", ENCODER_ARCHS + GENERATING_ARCHS)
def test_embedding_accessors_and_attributes(arch):
    import specformers

    kind = _lm_kind(arch)
    case, ours, theirs = _pair(arch, kind)
    base = getattr(specformers, f"{case.prefix}Model")(ours.config)
    # transformers counts a fixed sinusoidal table (RoFormer's, requires_grad False) that is a buffer here; other fixed
    # tables are parameters without gradients in both (Marian's, PEGASUS's).
    assert ours.num_parameters(only_trainable=True) == theirs.num_parameters(only_trainable=True)
    assert ours.num_parameters(exclude_embeddings=True) == theirs.num_parameters(exclude_embeddings=True)
    ours.get_input_embeddings().weight.requires_grad_(False)
    theirs.get_input_embeddings().weight.requires_grad_(False)
    assert ours.num_parameters(only_trainable=True) == theirs.num_parameters(only_trainable=True)
    for model in (ours, base):
        table = torch.nn.Embedding(ours.config.vocab_size, model.get_input_embeddings().embedding_dim)
        model.set_input_embeddings(table)
        assert model.get_input_embeddings() is table
    assert ours.main_input_name == theirs.main_input_name == "input_ids"
    assert ours.supports_gradient_checkpointing and ours._no_split_modules
    assert type(ours).can_generate() == (arch in GENERATING_ARCHS)
    if arch in GENERATING_ARCHS:
        for field in ("decoder_start_token_id", "eos_token_id", "pad_token_id", "max_length", "num_beams"):
            assert getattr(ours.generation_config, field) == getattr(theirs.generation_config, field), field
    else:
        assert ours.generation_config is None
    assert ours.name_or_path == ""
    ours.save_pretrained(tmp := __import__("tempfile").mkdtemp())
    assert type(ours).from_pretrained(tmp).name_or_path == tmp


def test_position_embeddings_accessors_match_transformers():
    """`get_position_embeddings` / `resize_position_embeddings` exist exactly where transformers' class has them, and
    behave as transformers': learned rows kept when growing (the model then reads longer inputs) and dropped from the
    end when shrinking, `config.max_position_embeddings` following; a fixed sinusoid table is recomputed at the new
    length (transformers' own resize fails on one: compared with transformers' table of that length)."""
    import transformers

    import specformers

    compared = 0
    for arch in ENCODER_ARCHS + SEQ2SEQ_ARCHS + DECODER_ONLY_ARCHS:
        for head in _arch(arch).heads:
            name = head.class_name(_arch(arch).prefix, "torch")
            for method in ("get_position_embeddings", "resize_position_embeddings"):
                # (transformers' PreTrainedModel defines both, raising NotImplementedError: its models override them.)
                theirs = getattr(getattr(transformers, name), method) is not getattr(transformers.PreTrainedModel, method)
                assert hasattr(getattr(specformers, name), method) == theirs, (name, method)
        if not hasattr(getattr(specformers, f"{_arch(arch).prefix}Model"), "resize_position_embeddings"):
            continue
        compared += 1
        if _arch(arch).seq2seq:
            _compare_resized_stack_tables(arch)
            continue
        case, ours, theirs = _pair(arch, "sequence_classification")
        old = ours.config.max_position_embeddings
        np.testing.assert_array_equal(
            ours.get_position_embeddings().weight.detach().numpy(), theirs.get_position_embeddings().weight.detach().numpy()
        )
        for size in (old + 3, 5):
            ours.resize_position_embeddings(size)
            theirs.resize_position_embeddings(size)
            assert ours.config.max_position_embeddings == theirs.config.max_position_embeddings == size
            mine, reference = ours.get_position_embeddings().weight, theirs.get_position_embeddings().weight
            assert mine.shape == reference.shape == (size, ours.config.hidden_size)
            kept = min(size, old)
            np.testing.assert_array_equal(mine[:kept].detach().numpy(), reference[:kept].detach().numpy())
            with torch.no_grad():
                mine[kept:] = reference[kept:]  # the new rows are random in both
            for module in theirs.modules():
                # transformers' resize leaves its `position_ids` buffer at the old length: the reference would read no
                # longer inputs than before.
                if isinstance(getattr(module, "position_ids", None), torch.Tensor):
                    module.position_ids = torch.arange(size)[None]
            ids = _ids(ours.config, seq=size)
            np.testing.assert_allclose(_logits(ours, ids), _logits(theirs, ids), atol=ATOL, rtol=0)
            old = size
        sinusoidal = _arch(arch).embeddings.sinusoidal
        if sinusoidal:
            case, ours, _ = _pair(arch, "sequence_classification", **{sinusoidal: True})
            ours.resize_position_embeddings(ours.config.max_position_embeddings + 4)
            fresh = reference_model(case, reference_config(case, **{sinusoidal: True, "max_position_embeddings": ours.config.max_position_embeddings}))
            np.testing.assert_array_equal(
                ours.get_position_embeddings().weight.detach().numpy(), fresh.get_position_embeddings().weight.detach().numpy()
            )
            assert not ours.get_position_embeddings().weight.requires_grad
    assert compared


def _compare_resized_stack_tables(arch: str) -> None:
    """An encoder-decoder's accessors: the encoder's and the decoder's fixed tables (the decoder's alone on the causal
    LM), recomputed at a longer and a shorter length as transformers recomputes them, with its outputs."""
    for head in _arch(arch).heads:
        case, ours, theirs = _pair(arch, head.kind)
        for size in (ours.config.max_position_embeddings + 3, 9):
            ours.resize_position_embeddings(size)
            theirs.resize_position_embeddings(size)
            assert ours.config.max_position_embeddings == theirs.config.max_position_embeddings == size
            mine, reference = ours.get_position_embeddings(), theirs.get_position_embeddings()
            pairs = zip(mine, reference) if isinstance(reference, tuple) else [(mine, reference)]
            assert isinstance(mine, tuple) == isinstance(reference, tuple), head.kind
            for table, expected in pairs:
                assert table.weight.shape == (size, ours.config.hidden_size) and not table.weight.requires_grad
                np.testing.assert_array_equal(table.weight.detach().numpy(), expected.weight.detach().numpy())
            ids = _ids(ours.config, seq=size)
            feed = {"input_ids": ids} if head.kind == "causal_lm" else {"input_ids": ids, "decoder_input_ids": ids}
            with torch.no_grad():
                got, expected = ours(**feed), theirs(**feed)
            for name in ("logits", "last_hidden_state"):
                if name in expected:
                    np.testing.assert_allclose(got[name].numpy(), expected[name].numpy(), atol=ATOL, rtol=0)


def _prune_kind(arch: str) -> str:
    """The head whose pruning is compared: a sequence classifier of an encoder stack, the encoder-only model of an
    encoder-decoder (transformers prunes nothing else there), the causal LM of a decoder-only stack."""
    spec = _arch(arch)
    if spec.seq2seq:
        # The encoder-only model where the spec has one, else the generation head (which transformers cannot prune).
        return "encoder" if spec.head("encoder") else "conditional_generation"
    return "causal_lm" if spec.stack == "decoder-only" else "sequence_classification"


def _logits(model, ids):
    with torch.no_grad():
        out = model(ids)
    return (out.logits if hasattr(out, "logits") else out.last_hidden_state).numpy()


@pytest.mark.parametrize("arch", ENCODER_ARCHS + SEQ2SEQ_ARCHS + DECODER_ONLY_ARCHS)
def test_prune_heads_matches_transformers(arch, tmp_path):
    """Pruned heads give transformers' pruned model's outputs (separate, fused and Conv1D projections; T5 blocks,
    whose shared relative bias keeps every head); where transformers' model cannot prune, specformers' says why."""
    case, ours, theirs = _pair(arch, _prune_kind(arch))
    heads = {0: [0, 2], 1: [1]}
    try:
        theirs.prune_heads(heads)
        # A pruned model that no longer runs (a bias the stack shares keeps every head) cannot prune either.
        _logits(theirs, _ids(theirs.config))
    except (AttributeError, NotImplementedError, RuntimeError):
        before = {n: p.clone() for n, p in ours.state_dict().items()}
        with pytest.raises(NotImplementedError, match="does not support pruning attention heads: .*transformers"):
            ours.prune_heads(heads)
        assert all(torch.equal(before[n], p) for n, p in ours.state_dict().items())
        return
    ours.prune_heads(heads)
    # Pruning again adds to what was pruned (transformers skips the heads already gone too).
    ours.prune_heads({0: [0, 1]})
    theirs.prune_heads({0: [0, 1]})
    ids = _ids(ours.config)
    reference = _logits(theirs, ids)
    np.testing.assert_allclose(_logits(ours, ids), reference, atol=ATOL, rtol=0)
    assert ours.num_parameters() == theirs.num_parameters(only_trainable=True)
    # The pruned shapes survive a checkpoint (config.pruned_heads prunes the new model before loading).
    ours.save_pretrained(tmp_path)
    again = type(ours).from_pretrained(tmp_path)
    np.testing.assert_allclose(_logits(again, ids), reference, atol=ATOL, rtol=0)


@pytest.mark.parametrize("arch", SEQ2SEQ_ARCHS)
def test_prune_heads_is_refused_where_transformers_cannot(arch):
    """Encoder-decoder models but the encoder-only one cannot prune in transformers: specformers' say so, never prune
    partly or silently ignore the request."""
    case, ours, theirs = _pair(arch, _lm_kind(arch))
    with pytest.raises(AttributeError):
        theirs.prune_heads({0: [0]})
    before = {n: p.clone() for n, p in ours.state_dict().items()}
    with pytest.raises(NotImplementedError, match="does not support pruning attention heads: .*transformers"):
        ours.prune_heads({0: [0]})
    assert all(torch.equal(before[n], p) for n, p in ours.state_dict().items())


# One architecture of each layer layout: post-norm layers, layers shared across steps, T5 blocks (relative bias shared
# by every block), blocked local attention, every decoder-only stack, and the first names-layout architecture with a
# masked LM head not listed already.
LAYOUT_ARCHS = ["bert", "albert", "t5", "longt5"]
NAMES_MLM_ARCHS = [a.name for a in project().architectures if a.names is not None and a.head("masked_lm") and a.name not in LAYOUT_ARCHS][:1]


@pytest.mark.parametrize("arch", LAYOUT_ARCHS + DECODER_ONLY_ARCHS + NAMES_MLM_ARCHS)
def test_gradient_checkpointing_keeps_loss_and_gradients(arch):
    kind = _lm_kind(arch)
    case, ours, _ = _pair(arch, kind)
    ours.train()  # dropout on: checkpointing must replay the same masks
    ids = _ids(ours.config)
    inputs = _lm_inputs(case, ours.config, ids)
    inputs["labels"] = inputs.get("decoder_input_ids", ids)

    def run():
        ours.zero_grad()
        torch.manual_seed(0)
        loss = ours(**inputs).loss
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in ours.named_parameters() if p.grad is not None}

    plain_loss, plain_grads = run()
    ours.gradient_checkpointing_enable()
    assert ours.is_gradient_checkpointing
    loss, grads = run()
    torch.testing.assert_close(loss, plain_loss, rtol=0, atol=0)
    assert grads.keys() == plain_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], plain_grads[name], rtol=1e-5, atol=1e-6, msg=lambda m: f"{name}: {m}")
    with pytest.raises(ValueError, match="use_reentrant=True is not supported"):
        ours.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    ours.gradient_checkpointing_disable()
    assert not ours.is_gradient_checkpointing


def test_output_rebuilt_from_its_dict():
    """accelerate's mixed-precision wrapper returns `type(out)(dict(out))`: the same output, field by field."""
    _, ours, _ = _pair("bert", "masked_lm")
    ids = _ids(ours.config)
    out = ours(ids, labels=ids)
    again = type(out)(dict(out))
    assert list(again.keys()) == ["loss", "logits"] and again.loss is out.loss and again.logits is out.logits


def test_transformers_config_accepted_and_others_refused():
    import specformers
    import transformers

    config = transformers.AlbertConfig(**config_kwargs(_case("albert", "base")))
    model = specformers.AlbertModel(config)
    assert isinstance(model.config, specformers.AlbertConfig)
    assert model.config.hidden_size == config.hidden_size and model.config.embedding_size == config.embedding_size
    with pytest.raises(TypeError, match="expects a AlbertConfig .*model_type 'albert'.*got .*BertConfig with model_type 'bert'"):
        specformers.AlbertModel(transformers.BertConfig())
    with pytest.raises(TypeError, match="expects a AlbertConfig"):
        specformers.AlbertModel({"hidden_size": 8})


# ----------------------------------------------------------------------------------------------------------------------
# transformers' Trainer, accelerate


class _Rows(torch.utils.data.Dataset):
    """A tiny dataset of model inputs (dicts of tensors)."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def _training_rows(case, config, n: int = 8):
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(n):
        ids = torch.from_numpy(rng.integers(0, config.vocab_size, 8))
        if case.head == "sequence_classification":
            rows.append({"input_ids": ids, "labels": torch.tensor(int(rng.integers(0, config.num_labels)))})
        elif _arch(case.arch).seq2seq:
            rows.append({"input_ids": ids, "labels": torch.from_numpy(rng.integers(0, config.vocab_size, 5))})
        else:
            rows.append({"input_ids": ids, "labels": ids.clone()})
    return _Rows(rows)


# Tied models (the LM decoder shares the word embeddings: an encoder's, and an encoder-decoder's in bf16 only, to keep
# the runtime down) and an untied classifier, in fp32 and bf16.
TRAINER_RUNS = [
    ("roformer", "causal_lm", False),
    ("roformer", "causal_lm", True),
    ("longt5", "conditional_generation", True),
    ("bert", "sequence_classification", False),
    ("bert", "sequence_classification", True),
]


@pytest.mark.parametrize("arch,kind,bf16", TRAINER_RUNS, ids=lambda v: {False: "fp32", True: "bf16"}.get(v, v))
def test_trainer_checkpoints_resumes_and_saves(arch, kind, bf16, tmp_path):
    import specformers
    import transformers

    case = _case(arch, kind)
    config = getattr(specformers, f"{case.prefix}Config")(**config_kwargs(case))
    model = getattr(specformers, case.class_name("torch"))(config)
    data = _training_rows(case, config)
    args = dict(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        per_device_train_batch_size=4,
        max_steps=2,
        save_steps=1,
        logging_steps=1,
        report_to=[],
        bf16=bf16,
        gradient_checkpointing=True,
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=model,
        args=transformers.TrainingArguments(**args),
        train_dataset=data,
        callbacks=[specformers.SaveConfigCallback()],
    )
    trainer.train()
    assert model.is_gradient_checkpointing
    checkpoint = tmp_path / "out" / "checkpoint-1"
    assert (checkpoint / "config.json").is_file() and (checkpoint / "model.safetensors").is_file()
    # The step checkpoint loads with from_pretrained and holds the weights of step 1.
    loaded = type(model).from_pretrained(checkpoint)
    assert loaded.num_parameters() == model.num_parameters()
    # Resuming from it runs the last step again and ends with the same weights (no missing-key warning: the tied
    # aliases left out of the checkpoint are re-tied).
    resumed = getattr(specformers, case.class_name("torch"))(config)
    trainer = transformers.Trainer(model=resumed, args=transformers.TrainingArguments(**args), train_dataset=data)
    trainer.train(resume_from_checkpoint=str(checkpoint))
    for (name, p), q in zip(model.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)
    if resumed.get_output_embeddings() is not None and config.tie_word_embeddings:
        assert resumed.get_output_embeddings().weight is resumed.get_input_embeddings().weight
    # save_model writes the weights; save_pretrained (the same file, and config.json) makes the directory loadable.
    final = tmp_path / "final"
    trainer.save_model(str(final))
    resumed.save_pretrained(final)
    again = type(model).from_pretrained(final)
    for (name, p), q in zip(resumed.state_dict().items(), again.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)


def test_accelerate_bf16_training_steps():
    import accelerate
    import specformers

    case = _case("bert", "masked_lm")
    config = specformers.BertConfig(**config_kwargs(case))
    model = specformers.BertForMaskedLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(_training_rows(case, config), batch_size=4)
    accelerator = accelerate.Accelerator(mixed_precision="bf16", cpu=True)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    before = model.get_input_embeddings().weight.detach().clone()
    for batch in loader:
        out = model(**batch)
        assert type(out).__name__ == "MaskedLMOutput" and out.logits.dtype == torch.float32
        accelerator.backward(out.loss)
        optimizer.step()
        optimizer.zero_grad()
    assert torch.isfinite(out.loss)
    assert not torch.equal(before, model.get_input_embeddings().weight)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    accelerator.save_state(tmp := __import__("tempfile").mkdtemp())
    assert os.path.isfile(os.path.join(tmp, "model.safetensors"))


# ----------------------------------------------------------------------------------------------------------------------
# pipelines, peft


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A BERT WordPiece tokenizer over a small vocabulary (the special tokens, then "w0", "w1", ...), built offline."""
    import transformers

    vocab_size = config_kwargs(_case("bert", "base"))["vocab_size"]
    path = tmp_path_factory.mktemp("tokenizer") / "vocab.txt"
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    path.write_text("\n".join(special + [f"w{i}" for i in range(vocab_size - len(special))]) + "\n")
    return transformers.BertTokenizerFast(str(path))


PIPELINES = [
    ("fill-mask", "masked_lm", "w1 w2 [MASK] w4 w5", {}),
    ("text-classification", "sequence_classification", ["w1 w2 w3", "w7 w8"], {"top_k": None}),
    ("token-classification", "token_classification", "w1 w2 w3 w9 w10", {}),
    ("question-answering", "question_answering", None, {}),
    ("feature-extraction", "base", "w1 w2 w3", {}),
]


@pytest.mark.parametrize("task,kind,inputs,kwargs", PIPELINES, ids=[p[0] for p in PIPELINES])
def test_pipeline_matches_transformers(task, kind, inputs, kwargs, tokenizer):
    import transformers

    _, ours, theirs = _pair("bert", kind, **({"num_labels": 3} if kind == "token_classification" else {}))
    if kind == "token_classification":
        # Every token gets a label other than "O" in the pipeline's default (no aggregation) output.
        ours.config.id2label = theirs.config.id2label = {0: "B-X", 1: "I-X", 2: "B-Y"}
    if task == "feature-extraction":
        # This pipeline reads `outputs[0]` after turning every output class but transformers' own into a plain dict:
        # a specformers model serves it with tuple outputs.
        ours.config.return_dict = False
    results = []
    for model in (ours, theirs):
        pipe = transformers.pipeline(task, model=model, tokenizer=tokenizer, device="cpu")
        if task == "question-answering":
            results.append(pipe(question="w3 w4", context="w1 w2 w3 w4 w5 w6 w7 w8"))
        else:
            results.append(pipe(inputs, **kwargs))
    mine, reference = results

    def flat(x):
        if isinstance(x, dict):
            return {k: flat(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [flat(v) for v in x]
        return np.asarray(x, dtype=np.float64) if isinstance(x, (float, np.floating)) else x

    def compare(a, b):
        assert type(a) is type(b) or (np.isscalar(a) and np.isscalar(b)), (a, b)
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for k in a:
                compare(a[k], b[k])
        elif isinstance(a, list):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                compare(x, y)
        elif isinstance(a, (float, np.floating)):
            np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)
        else:
            assert a == b

    assert results[0]
    compare(mine, reference)


def test_peft_lora_trains_a_sequence_classifier():
    import peft

    _, ours, _ = _pair("bert", "sequence_classification")
    attention = ours.base_model.encoder.layer[0].attention.self
    model = peft.get_peft_model(ours, peft.LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
    assert isinstance(attention.query, peft.tuners.lora.LoraLayer)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "classifier" in n for n in trainable)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    ids = _ids(ours.config, batch=4)
    loss = model(input_ids=ids, labels=torch.tensor([0, 1, 1, 0])).loss
    loss.backward()
    optimizer.step()
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters() if "lora_B" in n)
    assert all(torch.equal(frozen[n], p) for n, p in model.named_parameters() if n in frozen)
