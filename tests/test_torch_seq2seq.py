"""Behaviour of the generated PyTorch encoder-decoder models beyond output parity: the decoder cache, labels and the
loss, head masks (every encoder-decoder composition), `generate()` (greedy and beam search) against transformers,
training, checkpoints in both directions (base model <-> heads, encoder-only), and the cost of blocked (local /
transient-global) attention."""

import logging

import numpy as np
import pytest
import torch

from harness import (
    ATOL,
    SEQ2SEQ_ARCHS,
    SMALL_CONFIGS,
    assert_close,
    blocked_archs,
    cases,
    distinct_compositions,
    encoder_attention,
    flatten,
    make_inputs,
    pick_eos,
    project,
    reference_config,
    reference_model,
)

CASES = [c for c in cases() if c.arch in SEQ2SEQ_ARCHS]
pytestmark = pytest.mark.skipif(not SEQ2SEQ_ARCHS, reason="no encoder-decoder spec")


def _spec(arch: str):
    return next(a for a in project().architectures if a.name == arch)


def _case(arch: str, head: str, variant: str):
    return next(c for c in CASES if c.arch == arch and c.head == head and c.variant == variant)


def _variants(arch: str) -> list:
    return list(SMALL_CONFIGS[arch])


def _tensors(inputs: dict) -> dict:
    return {k: torch.from_numpy(v) for k, v in inputs.items()}


# The first spec of each composition (the template code a test exercises), with each of its variants.
BEHAVIOUR_ARCHS = distinct_compositions(SEQ2SEQ_ARCHS)
ALL_ARCH_VARIANTS = [(arch, variant) for arch in BEHAVIOUR_ARCHS for variant in _variants(arch)]
# Architectures whose encoder runs blocked (local / transient-global) attention, with each of their variants.
BLOCKED_VARIANTS = [(arch, variant) for arch in blocked_archs() for variant in _variants(arch)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A saved transformers reference model (random, non-trivial weights) per case: (config, reference, directory)."""
    saved = {}

    def get(case, **overrides):
        key = (case, tuple(sorted(overrides.items())))
        if key not in saved:
            config = reference_config(case, **overrides)
            model = reference_model(case, config)
            directory = tmp_path_factory.mktemp(case.id)
            model.save_pretrained(directory)
            saved[key] = (config, model, str(directory))
        return saved[key]

    return get


def _ours(case, directory, **kwargs):
    import specformers

    return getattr(specformers, case.class_name("torch")).from_pretrained(directory, **kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# Decoder cache


# ----------------------------------------------------------------------------------------------------------------------
# Head masks


# Every encoder-decoder composition, names-layout ones too (whose decoder heads and depth may differ from the encoder's).
HEAD_MASK_VARIANTS = ALL_ARCH_VARIANTS


@pytest.mark.parametrize("arch,variant", HEAD_MASK_VARIANTS)
def test_head_masks_match_transformers(arch, variant, checkpoint):
    """Head masks that zero some heads: `head_mask` alone (whether it masks the decoder too, where both stacks are
    equally deep, is the spec's `decoder.copy_head_mask`), and `head_mask`, `decoder_head_mask` and
    `cross_attn_head_mask` together; every output field as transformers' PyTorch class gives it."""
    from harness import run_model, run_reference

    case = next(c for c in cases() if (c.arch, c.head, c.variant) == (arch, "conditional_generation", variant))
    config, reference, directory = checkpoint(case)
    ours = _ours(case, directory)
    inputs = make_inputs(case, config)
    decoder = _spec(arch).spec.decoder
    decoder_layers = getattr(config, decoder.layers) if decoder.layers else config.num_hidden_layers
    decoder_heads = getattr(config, decoder.heads) if decoder.heads else config.num_attention_heads
    rng = np.random.default_rng(7)

    def mask(layers: int, heads: int) -> torch.Tensor:
        values = (rng.random((layers, heads)) < 0.6).astype(np.float32)
        values[:, 0] = 1.0  # every layer keeps a head
        values[:, -1] = 0.0  # and drops one: the mask is never all ones
        return torch.from_numpy(values)

    unmasked = run_model("torch", ours, inputs)
    for masks in (
        {"head_mask": mask(config.num_hidden_layers, config.num_attention_heads)},
        {"head_mask": mask(config.num_hidden_layers, config.num_attention_heads),
         "decoder_head_mask": mask(decoder_layers, decoder_heads), "cross_attn_head_mask": mask(decoder_layers, decoder_heads)},
    ):
        try:
            expected = run_reference(reference, inputs, **masks)
        except NameError as error:
            # Where transformers 4.57.6 copies a lone `head_mask` to the decoder, its deprecation warning names a module
            # constant from inside the class (`__HEAD_MASK_WARNING_MSG`, name-mangled): a NameError before the copy.
            # The reference is given the copy it means to make.
            if "HEAD_MASK_WARNING_MSG" not in str(error):
                raise
            expected = run_reference(reference, inputs, **masks, decoder_head_mask=masks["head_mask"])
        got = run_model("torch", ours, inputs, **masks)
        assert_close(expected, got, "torch")
        changed = "logits" if "decoder_head_mask" in masks else "encoder_last_hidden_state"
        assert not np.allclose(got[changed], unmasked[changed], atol=1e-4), f"the head masks left {changed} unchanged"


# ----------------------------------------------------------------------------------------------------------------------
# Labels, logits and the loss


# The first composition (and the first that shifts after a start token).
FIRST_COMPOSITION = BEHAVIOUR_ARCHS[:1]
START_TOKEN_FIRSTS = [a for a in BEHAVIOUR_ARCHS if _spec(a).decoder.shift == "start_token"][:1]


@pytest.mark.parametrize("arch", START_TOKEN_FIRSTS)
def test_missing_decoder_start_token_is_a_clear_error(arch, checkpoint):
    case = _case(arch, "conditional_generation", _variants(arch)[0])
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    setattr(model.config, _spec(arch).decoder.start_token, None)
    inputs = _tensors(make_inputs(case, config))
    del inputs["decoder_input_ids"]
    with pytest.raises(ValueError, match=_spec(arch).decoder.start_token):
        model(**inputs)


@pytest.mark.parametrize("arch,variant", ALL_ARCH_VARIANTS)
def test_tied_logits_are_rescaled_and_untied_are_not(arch, variant, checkpoint):
    """Tied: the LM head is the decoder's word embeddings, its input scaled by hidden_size ** -0.5 where the spec says
    so (`lm_head.tied_scale`; always in the sublayer layout); untied: a matrix of its own, unscaled. Then the logits
    bias, where the head has one (`lm_head.logits_bias`)."""
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    spec = _spec(arch)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        out = model(**inputs)
        sequence_output = model.get_decoder()(
            input_ids=inputs["decoder_input_ids"],
            encoder_hidden_states=out.encoder_last_hidden_state,
            encoder_attention_mask=inputs["attention_mask"],
        )[0]
    word_embeddings = model.get_decoder().get_input_embeddings()
    head = model.get_output_embeddings()
    if config.tie_word_embeddings:
        assert head.weight is word_embeddings.weight
        scale = config.hidden_size**-0.5 if spec.names is None or spec.lm_head.tied_scale else 1.0
        expected = (sequence_output * scale) @ word_embeddings.weight.T
    else:
        assert head.weight.data_ptr() != word_embeddings.weight.data_ptr()
        expected = sequence_output @ head.weight.T
    if spec.lm_head.logits_bias:
        expected = expected + getattr(model, spec.lm_head.logits_bias)
    assert torch.allclose(out.logits, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("arch", FIRST_COMPOSITION)
def test_return_dict_false_and_reused_encoder_outputs(arch, checkpoint):
    case = _case(arch, "conditional_generation", _variants(arch)[0])
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        as_dict = model(**inputs)
        as_tuple = model(**inputs, return_dict=False)
        reused = model(**{k: v for k, v in inputs.items() if k != "input_ids"}, encoder_outputs=(as_dict.encoder_last_hidden_state,))
    assert len(as_tuple) == len(as_dict.to_tuple())
    assert torch.equal(as_tuple[0], as_dict.loss) and torch.equal(as_tuple[1], as_dict.logits)
    assert torch.equal(reused.logits, as_dict.logits)


# ----------------------------------------------------------------------------------------------------------------------
# generate() against transformers


def _generation_pair(arch, variant, checkpoint):
    case = _case(arch, "conditional_generation", variant)
    # transformers' generate() sizes its cache by the encoder's layer count: keep the decoder as deep.
    spec = _spec(arch)
    num_layers = SMALL_CONFIGS[arch][variant][spec.attribute_map.get("num_hidden_layers", "num_hidden_layers")]
    config, reference, directory = checkpoint(case, **{spec.decoder.layers: num_layers})
    return config, reference, _ours(case, directory), case


def _prompt(case, config):
    inputs = make_inputs(case, config)
    return torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"])


def _common_eos(reference, input_ids, attention_mask) -> int:
    """An end-of-sequence id that the random model actually produces (in row 0 at step 3), so that rows finish at
    different steps and finished rows get padded."""
    greedy = reference.generate(input_ids, attention_mask=attention_mask, max_new_tokens=6, do_sample=False, eos_token_id=None)
    return pick_eos(greedy[:, 1:].numpy())


# The default early-stopping rule, False, with the settings test_names_encoder_decoder.py's beam test does not take
# (a length penalty above 1 with several returned sequences, 3 beams up to a total length), on the first composition
# (the search loop's code is the same for every architecture); that test runs every spec with the rules True and
# "never".
BEAM_CASES = [(arch, _variants(arch)[0], False) for arch in BEHAVIOUR_ARCHS[:1]]


@pytest.mark.parametrize("arch,variant,early_stopping", BEAM_CASES, ids=lambda x: str(x))
def test_beam_search_matches_transformers(arch, variant, early_stopping, checkpoint):
    config, reference, model, case = _generation_pair(arch, variant, checkpoint)
    input_ids, attention_mask = _prompt(case, config)
    eos = _common_eos(reference, input_ids, attention_mask)
    for kwargs in (
        dict(num_beams=4, length_penalty=0.6, max_new_tokens=7, eos_token_id=eos),
        dict(num_beams=4, length_penalty=1.7, max_new_tokens=7, eos_token_id=eos, num_return_sequences=2),
        dict(num_beams=3, max_length=6),
    ):
        expected = reference.generate(input_ids, attention_mask=attention_mask, do_sample=False,
                                      early_stopping=early_stopping, **kwargs)
        got = model.generate(input_ids, attention_mask=attention_mask, early_stopping=early_stopping, **kwargs)
        assert torch.equal(got, expected), (kwargs, got, expected)


@pytest.mark.parametrize("arch", FIRST_COMPOSITION)
def test_generate_infers_the_attention_mask_from_padding(arch, checkpoint):
    config, reference, model, case = _generation_pair(arch, _variants(arch)[0], checkpoint)
    input_ids, attention_mask = _prompt(case, config)
    input_ids = input_ids.masked_fill(attention_mask == 0, config.pad_token_id)
    expected = reference.generate(input_ids, max_new_tokens=5, do_sample=False)
    assert torch.equal(model.generate(input_ids, max_new_tokens=5), expected)
    assert torch.equal(model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=5), expected)


@pytest.mark.parametrize("arch", FIRST_COMPOSITION)
def test_generate_errors_are_clear(arch, checkpoint):
    config, _, model, case = _generation_pair(arch, _variants(arch)[0], checkpoint)
    input_ids, _ = _prompt(case, config)
    with pytest.raises(NotImplementedError, match="do_sample"):
        model.generate(input_ids, do_sample=True)
    with pytest.raises(ValueError, match="num_return_sequences"):
        model.generate(input_ids, num_beams=2, num_return_sequences=3)
    with pytest.raises(ValueError, match="max_length"):
        model.generate(input_ids, max_length=1)
    # generate() reads the start token from the model's generation configuration (built from config.json at load).
    model.generation_config.decoder_start_token_id = None
    model.generation_config.bos_token_id = None
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        model.generate(input_ids)


# ----------------------------------------------------------------------------------------------------------------------
# Training


@pytest.mark.parametrize("arch,variant", ALL_ARCH_VARIANTS)
def test_backward_gives_finite_gradients(arch, variant, checkpoint):
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _ours(case, directory).train()
    inputs = _tensors(make_inputs(case, config))
    del inputs["decoder_input_ids"]
    model(**inputs).loss.backward()
    # Without a whole global block in the input (seq < global_block_size) there is no global token to bias.
    no_globals = make_inputs(case, config)["input_ids"].shape[1] < getattr(config, "global_block_size", 0)
    # (Fixed sinusoid tables are parameters that take no gradient.)
    missing = [
        n for n, p in model.named_parameters() if p.requires_grad and p.grad is None and not (no_globals and "global_relative" in n)
    ]
    assert not missing, f"parameters without gradient: {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"


@pytest.mark.parametrize("arch", BEHAVIOUR_ARCHS)
def test_dropout_active_in_train_mode_only(arch, checkpoint):
    case = _case(arch, "conditional_generation", _variants(arch)[0])
    config, _, directory = checkpoint(case)
    assert getattr(config, _spec(arch).spec.embeddings.dropout) > 0
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        model.train()
        a, b = model(**inputs).logits, model(**inputs).logits
        model.eval()
        c, d = model(**inputs).logits, model(**inputs).logits
    assert not torch.allclose(a, b)
    assert torch.equal(c, d)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("arch,variant", ALL_ARCH_VARIANTS)
def test_half_precision_forward_is_finite(arch, variant, dtype, checkpoint):
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _ours(case, directory, dtype=dtype)
    inputs = _tensors(make_inputs(case, config))
    with torch.no_grad():
        out = model(**inputs)
    assert out.logits.dtype == dtype and torch.isfinite(out.logits).all() and torch.isfinite(out.loss)


# ----------------------------------------------------------------------------------------------------------------------
# Checkpoints


def _warnings(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.mark.parametrize("arch,variant", ALL_ARCH_VARIANTS)
def test_base_checkpoint_into_generation_head(arch, variant, checkpoint, caplog):
    """A base model's checkpoint into the generation head: nothing unused; tied, nothing new; untied, the LM head alone
    is new. A logits bias of the head (`lm_head.logits_bias`), which the base checkpoint lacks, starts at zeros
    without a report, as transformers' `_keys_to_ignore_on_load_missing` has it."""
    config, _, directory = checkpoint(_case(arch, "seq2seq", variant))
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = _ours(_case(arch, "conditional_generation", variant), directory)
    text = _warnings(caplog)
    assert "were not used" not in text
    bias = _spec(arch).lm_head.logits_bias
    if bias:
        assert bias not in text
        assert not getattr(model, bias).any()
    if config.tie_word_embeddings:
        # The LM head is the shared matrix: nothing is new.
        assert "newly initialized" not in text
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    else:
        assert "newly initialized" in text and "'lm_head.weight'" in text and "shared" not in text


@pytest.mark.parametrize("arch,variant", [(arch, variant) for arch, variant in ALL_ARCH_VARIANTS if _spec(arch).head("encoder")])
def test_full_checkpoint_into_encoder_model_ignores_the_decoder(arch, variant, checkpoint, caplog):
    import transformers

    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    encoder_case = _case(arch, "encoder", variant)
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = _ours(encoder_case, directory)
    text = _warnings(caplog)
    assert "decoder." not in text and "newly initialized" not in text
    if config.tie_word_embeddings:
        assert "were not used" not in text
    theirs = getattr(transformers, encoder_case.class_name("torch")).from_pretrained(directory, attn_implementation="eager")
    inputs = {k: v for k, v in _tensors(make_inputs(encoder_case, config)).items()}
    kwargs = dict(output_hidden_states=True, output_attentions=True)
    with torch.no_grad():
        assert_close(flatten(theirs.eval()(**inputs, **kwargs)), flatten(model(**inputs, **kwargs)), "torch")


def _cross_attention_bias_key(arch: str) -> str:
    """The checkpoint name of a bucketed bias table in the first decoder block's cross-attention, from the spec's
    `names` roles."""
    names = _spec(arch).names
    dotted = lambda access: access.replace("[", ".").replace("]", "")  # noqa: E731
    cross_module = dotted(names.decoder_roles["cross_attention.query"]).rsplit(".", 1)[0]
    table = names.decoder_roles["attention.relative_bias"].rsplit(".", 1)[1]
    return f"{names.decoder}.{dotted(names.layers)}.0.{cross_module}.{table}.weight"


# Compositions whose blocks own bucketed bias tables (T5's first block, UMT5's every block): converted checkpoints may
# hold one in the first decoder block's cross-attention too, which transformers drops quietly (each spec lists it in
# `ignore_unexpected`, as transformers' classes list it).
FIRST_LAYER_BIAS_ARCHS = [arch for arch in BEHAVIOUR_ARCHS if _spec(arch).names.layer_bias is not None]


@pytest.mark.parametrize("framework", ["torch", "tf", "flax"])
@pytest.mark.parametrize("arch", FIRST_LAYER_BIAS_ARCHS)
def test_cross_attention_bias_in_a_checkpoint_is_ignored_quietly(arch, framework, checkpoint, tmp_path, caplog):
    import specformers
    from safetensors.torch import load_file, save_file

    case = _case(arch, "conditional_generation", _variants(arch)[0])
    config, _, directory = checkpoint(case)
    state = load_file(f"{directory}/model.safetensors")
    extra = _cross_attention_bias_key(arch)
    state[extra] = torch.zeros(config.relative_attention_num_buckets, config.num_heads)
    save_file(state, f"{tmp_path}/model.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(open(f"{directory}/config.json").read())
    with caplog.at_level(logging.WARNING, logger="specformers"):
        model = getattr(specformers, case.class_name(framework)).from_pretrained(str(tmp_path))
    assert _warnings(caplog) == ""
    if framework == "torch":
        assert extra not in model.state_dict()


@pytest.mark.parametrize("arch", BEHAVIOUR_ARCHS)
def test_save_writes_what_transformers_writes(arch, checkpoint, tmp_path):
    from safetensors.numpy import load_file

    for variant in _variants(arch)[:2]:
        for head in [h for h in ("seq2seq", "conditional_generation", "encoder") if _spec(arch).head(h)]:
            case = _case(arch, head, variant)
            _, _, directory = checkpoint(case)
            out = tmp_path / case.id
            _ours(case, directory).save_pretrained(out)
            assert sorted(load_file(f"{out}/model.safetensors")) == sorted(load_file(f"{directory}/model.safetensors"))


# ----------------------------------------------------------------------------------------------------------------------
# Cost of blocked attention


class _LargestTensor(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the largest number of elements of any tensor an operation returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("arch,variant", BLOCKED_VARIANTS)
def test_blocked_attention_never_builds_a_full_score_matrix(arch, variant):
    """Local attention: the largest intermediate is the blocked scores (heads x seq x 3 * block_len), linear in the
    length. Transient-global attention adds seq x (seq // global_block_size) side scores, never a seq x seq matrix."""
    import specformers

    case = _case(arch, "encoder", variant)
    config = reference_config(case, dropout_rate=0.0)
    ours_config = getattr(specformers, f"{case.prefix}Config")(**config.to_dict())
    model = getattr(specformers, case.class_name("torch"))(ours_config).eval()
    local = _spec(arch).attention.local
    block_len = getattr(config, local.radius) + 1
    transient_global = encoder_attention(arch, config) == "transient_global"
    largest = {}
    for length in (512, 1024):
        input_ids = torch.randint(2, config.vocab_size, (1, length))
        with torch.no_grad(), _LargestTensor() as probe:
            model(input_ids=input_ids, output_attentions=True)
        largest[length] = probe.largest
        padded = -(-length // block_len) * block_len
        num_keys = 3 * block_len + (length // getattr(config, local.global_block_size) if transient_global else 0)
        # The blocked scores, the blocks' keys (local and global), the feed-forward activations
        bound = max(config.num_heads * padded * num_keys, padded // block_len * num_keys * config.num_heads * config.d_kv, length * config.d_ff)
        assert probe.largest <= bound, (length, probe.largest, bound)
        assert probe.largest < config.num_heads * length * length
    if not transient_global:
        assert largest[1024] <= 2.1 * largest[512], largest


@pytest.mark.parametrize("head", ["encoder", "conditional_generation"])
@pytest.mark.parametrize("arch,variant", BLOCKED_VARIANTS)
def test_computing_in_the_smallest_chunks_changes_nothing(arch, variant, head, checkpoint, monkeypatch):
    """Blocked attention runs a chunk of query blocks at a time and the feed-forward sublayer a chunk of tokens at a
    time; with one block and one token per chunk, every output field still equals transformers'."""
    import importlib

    from harness import run_generated, run_reference

    case = _case(arch, head, variant)
    config, reference, directory = checkpoint(case)
    module = importlib.import_module(f"specformers.models.{arch}.modeling_{arch}")
    chunked = {"scores_per_chunk": [], "tokens_per_chunk": []}
    for cls in vars(module).values():
        for attribute, classes in chunked.items():
            if isinstance(cls, type) and attribute in vars(cls):
                classes.append(cls)
                monkeypatch.setattr(cls, attribute, 1)
    assert all(chunked.values()), chunked
    inputs = make_inputs(case, config)
    assert_close(run_reference(reference, inputs), run_generated("torch", case, directory, inputs), "torch")


@pytest.mark.parametrize("arch,variant", [(arch, _variants(arch)[1 if len(_variants(arch)) > 1 else 0]) for arch in BEHAVIOUR_ARCHS])
def test_compile_fullgraph_matches_eager(arch, variant, checkpoint):
    case = _case(arch, "conditional_generation", variant)
    config, _, directory = checkpoint(case)
    model = _ours(case, directory)
    inputs = _tensors(make_inputs(case, config))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    kwargs = dict(output_attentions=True, output_hidden_states=True)
    with torch.no_grad():
        assert_close(flatten(model(**inputs, **kwargs)), flatten(compiled(**inputs, **kwargs)), "torch")
