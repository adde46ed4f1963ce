"""Shared parity harness: (architecture, head, framework) -> every output field compared with transformers' PyTorch.

The reference is a small random transformers model, saved with `save_pretrained` to a temporary directory; the
generated class of the framework under test loads that directory with `from_pretrained` and runs the same inputs.
Every output field is compared in fp32 (max abs diff <= 1e-5).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ATOL = 1e-5
ROOT = Path(__file__).resolve().parent.parent

# Keys of a spec's `test.variants` entry that shape the test inputs, not the model: `padding_side` ("right", the
# default, or "left": the padding of rows 1 and 2 comes first).
INPUT_OPTIONS = ("padding_side",)

BATCH, SEQ, CHOICES, TARGET = 3, 13, 2, 7

# `make test-all` (SPECFORMERS_TEST_ALL=1) runs every case of every test. `make test` runs a sample of the slowest
# behaviour tests' cases, where TensorFlow and Flax compile loops or trace gradients (seconds a case): every case in
# PyTorch, and in TensorFlow and Flax the cases each test module picks (`sample`, `framework_params`), so that a new
# spec adds seconds, not minutes (`alternating_params`: TensorFlow and Flax in turn). Parity runs every class in PyTorch
# (in TensorFlow and Flax: `parity_frameworks`); configuration tests always run every case.
TEST_ALL = os.environ.get("SPECFORMERS_TEST_ALL") == "1"


def sample(items, key) -> list:
    """`make test`: the first of `items` for each value of `key(item)`; `make test-all`: every item, in order."""
    if TEST_ALL:
        return list(items)
    first: dict = {}
    for item in items:
        first.setdefault(key(item), item)
    return list(first.values())


def in_turn(items, index: int) -> list:
    """`make test`: the one item of `items` at `index` (modulo their number: the tests of a module take `0, 1, 2, ...`,
    so that each item runs in some test); `make test-all`: every item, in order."""
    items = list(items)
    if TEST_ALL or not items:
        return items
    return [items[index % len(items)]]


def turn_params(items, ids, runs, frameworks=("torch", "tf", "flax")) -> list:
    """pytest parameters `(*item, framework)`, the frameworks varying fastest: in `make test-all` every item in every
    framework; in `make test` each item in the frameworks `runs(index, item)` returns (the modules' sampling rules:
    which frameworks take which items in turn). `ids(item)` names an item."""
    import pytest

    out = []
    for index, item in enumerate(items):
        values = item if isinstance(item, tuple) else (item,)
        chosen = frameworks if TEST_ALL else runs(index, item)
        out.extend(pytest.param(*values, fw, id=f"{ids(item)}-{fw}") for fw in frameworks if fw in chosen)
    return out


def alternating_params(items, ids) -> list:
    """pytest parameters `(*item, framework)`: every item in PyTorch; in `make test` the first item in TensorFlow and
    Flax too and each later one in one of the two, the items taking them in turn (`make test-all`: every item in all
    three). `ids(item)` names an item."""
    return turn_params(items, ids, lambda i, _: ("torch", "tf", "flax") if i == 0 else ("torch", ("tf", "flax")[i % 2]))


def framework_params(items, kept, ids, frameworks=("torch", "tf", "flax"), sampled=("tf", "flax")) -> list:
    """pytest parameters `(*item, framework)`: every item in the frameworks not `sampled`; in the `sampled` ones the
    items of `kept` (every item in `make test-all`). `ids(item)` names an item."""
    kept = list(kept)
    return turn_params(
        items, ids, lambda _, item: [fw for fw in frameworks if fw not in sampled or item in kept], frameworks
    )


SEQ2SEQ_HEADS = ("seq2seq", "conditional_generation", "encoder")


@dataclass(frozen=True)
class Case:
    arch: str
    prefix: str
    head: str  # head kind
    suffix: str  # class-name suffix, e.g. "ForMaskedLM"
    variant: str

    @property
    def id(self) -> str:
        return f"{self.arch}-{self.suffix}-{self.variant}"

    def class_name(self, framework: str) -> str:
        head = spec(self.arch).head(self.head)
        name = head.name if head is not None and head.name else self.prefix + self.suffix
        return {"torch": "", "tf": "TF", "flax": "Flax"}[framework] + name


@lru_cache(maxsize=None)
def project():
    import sys

    sys.path.insert(0, str(ROOT))
    from generator.pipeline import load_project

    return load_project()


# Small configurations of each architecture, from its spec's `test.variants` (architecture -> variant -> config
# keyword arguments): several variants per architecture exercise the spec's components, the comments in the spec say
# which.
SMALL_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {a.name: a.test_variants for a in project().architectures}
# Encoder-decoder architectures: tests/test_names_encoder_decoder.py runs each of them.
SEQ2SEQ_ARCHS = [a.name for a in project().architectures if a.seq2seq]
# Decoder-only architectures: the decoder-only test module runs each of them.
DECODER_ONLY_ARCHS = [a.name for a in project().architectures if a.stack == "decoder-only"]



# Architectures resolved from specs outside specs/ (the composition property test's drawn specs), by name.
EXTRA_ARCHITECTURES: dict[str, Any] = {}


def spec(arch: str):
    """The resolved architecture (render model) named `arch`."""
    if arch in EXTRA_ARCHITECTURES:
        return EXTRA_ARCHITECTURES[arch]
    return next(a for a in project().architectures if a.name == arch)


# What a spec composes, without what only names it or sizes it: two specs with the same composition (mT5 is T5's
# components with other config defaults) render the same code from the same template branches, differing only in
# names and defaults.
_NAMING_FIELDS = {"name", "class_prefix", "model_type", "base_model_prefix", "title", "paper", "config", "test"}


def composition(arch: str) -> str:
    """The spec's components as a canonical string: equal for specs that differ only in names, config and tests."""
    import json

    return json.dumps(spec(arch).spec.model_dump(exclude=_NAMING_FIELDS), sort_keys=True, default=str)


def distinct_compositions(archs: list[str]) -> list[str]:
    """The first of `archs` of each composition. Behaviour tests of template code (caches, gradients, dtypes, input
    checks) run these; the parity, checkpoint and generation tests run every spec, whose configs, names and
    defaults they compare with transformers."""
    seen: dict[str, str] = {}
    for arch in archs:
        seen.setdefault(composition(arch), arch)
    return list(seen.values())


def dynamically_scaled(case: Case, config) -> bool:
    """Whether `config` scales the rotary positions dynamically (transformers' `rope_type: dynamic`: the base grows with
    the longest position of a call). A cached key keeps the rotation of the call that computed it, in transformers as
    here, so cached decoding equals transformers' cached decoding, not one pass over the whole sequence."""
    names = spec(case.arch).names
    field = names.rotary_scaling if names is not None else None
    scaling = getattr(config, field, None) if field else None
    return isinstance(scaling, dict) and scaling.get("rope_type", scaling.get("type")) == "dynamic"


def variants(arch: str) -> list[str]:
    """The names of an architecture's small configurations, in the spec's order."""
    return list(SMALL_CONFIGS[arch])


def encoder_attention(arch: str, config) -> str:
    """The encoder self-attention variant ("full", "local", "transient_global") a config selects."""
    attention = spec(arch).attention
    if attention.select is None:
        return attention.variant
    return attention.select.variants[getattr(config, attention.select.field)].variant


def blocked_archs() -> list[str]:
    """Encoder-decoder architectures whose encoder can run blocked (local / transient-global) attention."""
    out = []
    for arch in SEQ2SEQ_ARCHS:
        attention = spec(arch).attention
        chosen = [c.variant for c in attention.select.variants.values()] if attention.select else [attention.variant]
        if set(chosen) - {"full"}:
            out.append(arch)
    return out


def cases() -> list[Case]:
    out = []
    for arch in project().architectures:
        for variant in SMALL_CONFIGS[arch.name]:
            for head in arch.heads:
                out.append(Case(arch.name, arch.prefix, head.kind, head.suffix, variant))
    return out


def parity_frameworks(case: Case) -> tuple:
    """The frameworks `test_parity` compares `case` in. `make test-all`: all three. `make test`: PyTorch always; the
    bare model of a spec's first variant in TensorFlow and Flax too; every other class of the first variant in one of
    the two, the heads taking them in turn; of each later variant (a configuration of the same classes: its flags
    change the body), the bare model in one of the two and the first head in the other, the variants taking them in
    turn, so that each variant runs in all three frameworks. The TensorFlow / Flax weight-name tests check each
    (case, framework) of `checked_in_turn` that this leaves out."""
    if TEST_ALL:
        return ("torch", "tf", "flax")
    arch_variants = variants(case.arch)
    if case.head == "base" and case.variant == arch_variants[0]:
        return ("torch", "tf", "flax")
    if not checked_in_turn(case):
        return ("torch",)
    heads = [h.kind for h in spec(case.arch).heads]
    return ("torch", ("tf", "flax")[(heads.index(case.head) + arch_variants.index(case.variant)) % 2])


def checked_in_turn(case: Case) -> bool:
    """Whether `make test` loads `case`'s TensorFlow and Flax classes (in `test_parity` or, in the framework it leaves
    out, the weight-name tests): every class of a spec's first variant, the bare model and first head of the later
    ones (`make test-all`: every class)."""
    if TEST_ALL or case.variant == variants(case.arch)[0]:
        return True
    return [h.kind for h in spec(case.arch).heads].index(case.head) < 2


def config_kwargs(case: Case, **overrides) -> dict:
    """The small configuration of a case, as keyword arguments of its config class (either library's)."""
    kwargs = {k: v for k, v in SMALL_CONFIGS[case.arch][case.variant].items() if k not in INPUT_OPTIONS}
    if case.head == "causal_lm" and spec(case.arch).stack != "decoder-only":
        kwargs["is_decoder"] = True
    arch = spec(case.arch)
    if case.head == "causal_lm" and arch.seq2seq and arch.decoder.layers in kwargs:
        # The decoder stack alone: transformers sizes its cache by `num_hidden_layers` (the encoder's depth), so the
        # encoder gets the decoder's depth.
        kwargs[arch.attribute_map.get("num_hidden_layers", "num_hidden_layers")] = kwargs[arch.decoder.layers]
    if case.head in ("pretraining", "question_answering"):
        # transformers' sentence-order loss reshapes to 2 labels and its QA head splits num_labels into start/end.
        kwargs["num_labels"] = 2
    kwargs.update(overrides)
    return kwargs


def reference_config(case: Case, **overrides):
    import transformers

    config_cls = getattr(transformers, f"{case.prefix}Config")
    config = config_cls(**config_kwargs(case, **overrides))
    config._attn_implementation = "eager"
    return config


def padding_side(case: Case) -> str:
    """Where the case's test inputs are padded: "right" (the default) or "left" (`padding_side` of its variant)."""
    return SMALL_CONFIGS.get(case.arch, {}).get(case.variant, {}).get("padding_side", "right")


def make_inputs(case: Case, config, seed: int = 0, *, batch: int = BATCH, seq: int = SEQ) -> dict[str, np.ndarray]:
    """Inputs with padding (row 1 padded after 9 tokens, row 2 after 5; before them with `padding_side: left`), padding
    positions holding `config.pad_token_id`, token types and the head's labels."""
    rng = np.random.default_rng(seed)
    if spec(case.arch).seq2seq:
        return make_seq2seq_inputs(case, config, rng, batch, seq)
    shape = (batch, CHOICES, seq) if case.head == "multiple_choice" else (batch, seq)
    input_ids = rng.integers(1, config.vocab_size, size=shape, dtype=np.int64)
    attention_mask = np.ones(shape, dtype=np.int64)
    if batch > 1:
        attention_mask[1, ..., 9:] = 0
    if batch > 2:
        attention_mask[2, ..., 5:] = 0
    if padding_side(case) == "left":
        attention_mask = attention_mask[..., ::-1].copy()
    if config.pad_token_id is not None:
        input_ids[attention_mask == 0] = config.pad_token_id
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask)
    if spec(case.arch).has_token_type:
        inputs["token_type_ids"] = rng.integers(0, config.type_vocab_size, size=shape, dtype=np.int64)
    elif spec(case.arch).token_type_word:
        # Token types that index the word embeddings (GPT-2, GPT-J): any id of the vocabulary.
        inputs["token_type_ids"] = rng.integers(0, config.vocab_size, size=shape, dtype=np.int64)
    task_type = spec(case.arch).task_type
    if task_type is not None and getattr(config, task_type.flag):
        # A further token-type table (`embeddings.task_type`) when its config flag is set: any of its rows.
        inputs[task_type.argument] = rng.integers(0, getattr(config, task_type.size), size=shape, dtype=np.int64)
    add_labels(case, config, rng, inputs, batch, seq)
    return inputs


def target_vocab_size(case: Case, config) -> int:
    """The ids a decoder takes and predicts: with separate encoder and decoder vocabularies (`embeddings.vocabularies`)
    below both sizes (transformers' encoder-decoder gives its decoder a table of the encoder's size, the decoder alone
    one of the decoder's), else below the vocabulary's."""
    vocabularies = spec(case.arch).embeddings.vocabularies
    if vocabularies is None:
        return config.vocab_size
    return min(config.vocab_size, getattr(config, vocabularies.decoder_size))


def separate_vocabularies(case: Case, config) -> bool:
    """Whether the case's configuration gives the encoder and the decoder vocabularies of their own
    (`embeddings.vocabularies`, its flag false): transformers' TensorFlow and Flax ports hold one shared matrix only."""
    vocabularies = spec(case.arch).embeddings.vocabularies
    return vocabularies is not None and not getattr(config, vocabularies.shared)


def add_labels(case: Case, config, rng, inputs: dict, batch: int, seq: int) -> None:
    """The labels of the case's head, for inputs of `(batch, seq)` tokens (of each choice, for multiple choice)."""
    shape = inputs["input_ids"].shape
    n = config.num_labels
    if case.head in ("masked_lm", "pretraining", "causal_lm"):
        labels = rng.integers(0, target_vocab_size(case, config) if case.head == "causal_lm" else config.vocab_size, size=shape, dtype=np.int64)
        labels[rng.random(shape) < 0.3] = -100
        inputs["labels"] = labels
        if case.head == "pretraining":
            inputs[sentence_label_argument(case)] = rng.integers(0, 2, size=(batch,), dtype=np.int64)
    elif case.head == "sequence_classification":
        if config.problem_type == "regression" or n == 1:
            inputs["labels"] = rng.standard_normal((batch, n)).astype(np.float32) if n > 1 else rng.standard_normal((batch,)).astype(np.float32)
        elif config.problem_type == "multi_label_classification":
            inputs["labels"] = (rng.random((batch, n)) > 0.5).astype(np.float32)
        else:
            inputs["labels"] = rng.integers(0, n, size=(batch,), dtype=np.int64)
    elif case.head == "token_classification":
        inputs["labels"] = rng.integers(0, n, size=shape, dtype=np.int64)
    elif case.head == "multiple_choice":
        inputs["labels"] = rng.integers(0, CHOICES, size=(batch,), dtype=np.int64)
    elif case.head == "next_sentence":
        inputs["labels"] = rng.integers(0, 2, size=(batch,), dtype=np.int64)
    elif case.head == "discriminator":
        inputs["labels"] = rng.integers(0, 2, size=shape, dtype=np.int64)  # replaced (1) or original (0), per token
    elif case.head == "question_answering":
        inputs["start_positions"] = rng.integers(0, seq + 3, size=(batch,), dtype=np.int64)
        inputs["end_positions"] = rng.integers(0, seq + 3, size=(batch,), dtype=np.int64)


def sentence_label_argument(case: Case) -> str:
    return spec(case.arch).sentence_head.label_argument


def shift_labels(case: Case, config, labels: np.ndarray) -> np.ndarray:
    """`labels` shifted one position right, as the spec's `decoder.shift` says (after the start token, or after each
    row's last non-pad token), -100 replaced by the pad id."""
    labels = np.where(labels == -100, config.pad_token_id, labels)
    if spec(case.arch).decoder.shift == "last_non_pad":
        last = (labels != config.pad_token_id).sum(axis=1) - 1
        start = labels[np.arange(len(labels)), last][:, None]
    else:
        start = np.full((len(labels), 1), config.decoder_start_token_id)
    return np.concatenate([start, labels[:, :-1]], axis=1).astype(labels.dtype)


def make_seq2seq_inputs(case: Case, config, rng, batch: int, seq: int) -> dict[str, np.ndarray]:
    """Encoder inputs with padding (row 1 after 9 tokens, row 2 mostly padding: 2 tokens) and decoder inputs. Heads that
    decode the input itself (sequence classification, question answering) get no decoder inputs (they shift the
    input ids); sequence classification reads the decoder at the last end-of-sequence token, so every row ends with one
    and has one more earlier on."""
    # The decoder stack alone (`causal_lm`) reads the decoder's vocabulary.
    input_ids = rng.integers(2, target_vocab_size(case, config) if case.head == "causal_lm" else config.vocab_size, size=(batch, seq), dtype=np.int64)
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    if batch > 1:
        attention_mask[1, 9:] = 0
    if batch > 2:
        attention_mask[2, 2:] = 0
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask)
    if case.head == "conditional_generation":
        labels = rng.integers(2, target_vocab_size(case, config), size=(batch, TARGET), dtype=np.int64)
        labels[:, -2:][rng.random((batch, 2)) < 0.5] = -100
        inputs["labels"] = labels
        # The decoder inputs are given explicitly (labels shifted right), so that Flax, which takes no labels, runs the
        # same decoder inputs.
        inputs["decoder_input_ids"] = shift_labels(case, config, labels)
    elif case.head == "seq2seq":
        inputs["decoder_input_ids"] = rng.integers(2, target_vocab_size(case, config), size=(batch, TARGET), dtype=np.int64)
    elif case.head != "encoder":
        if case.head == "sequence_classification":
            # Exactly two end-of-sequence tokens per row (transformers refuses rows with different counts): a random
            # token that happens to be one is replaced.
            input_ids[input_ids == config.eos_token_id] = config.eos_token_id + 1 if config.eos_token_id + 1 < config.vocab_size else 2
            for row in range(batch):
                length = int(attention_mask[row].sum())
                input_ids[row, [length // 3, length - 1]] = config.eos_token_id
        add_labels(case, config, rng, inputs, batch, seq)
    return inputs


LABEL_KEYS = ("labels", "sentence_order_label", "next_sentence_label", "start_positions", "end_positions")


def flatten(output: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Every tensor of a ModelOutput (or nested tuple / Cache) as `{dotted.path: np.ndarray}`."""
    out: dict[str, np.ndarray] = {}
    if output is None:
        return out
    if hasattr(output, "to_legacy_cache"):
        output = output.to_legacy_cache()
    if hasattr(output, "keys") and not isinstance(output, np.ndarray):
        for key in output.keys():
            out.update(flatten(output[key], f"{prefix}{key}."))
        return out
    if isinstance(output, (tuple, list)):
        for i, item in enumerate(output):
            out.update(flatten(item, f"{prefix}{i}."))
        return out
    out[prefix.rstrip(".")] = to_numpy(output)
    return out


def to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


def instantiate_reference(cls, config):
    """`cls(config)`, where the class's `_init_weights` zeroes the bias of every `nn.LayerNorm` and so fails on the
    bias-free LayerNorms its own configuration builds (transformers 4.57.6's StableLM with `qk_layernorm`: its
    checkpoints load, its random initialisation does not): those norms get their weight of ones and no bias, as
    `nn.LayerNorm` initialises them (the values are randomised next in any case)."""
    import torch

    # The class that defines it, which the base model inside a head model inherits too.
    owner = next(k for k in cls.__mro__ if "_init_weights" in vars(k))
    original = owner._init_weights

    def _init_weights(self, module):
        if isinstance(module, torch.nn.LayerNorm) and module.bias is None:
            module.weight.data.fill_(1.0)
            return
        original(self, module)

    owner._init_weights = _init_weights
    try:
        return cls(config)
    finally:
        owner._init_weights = original


def reference_model(case: Case, config, seed: int = 0):
    import torch
    import transformers

    torch.manual_seed(seed)
    model = instantiate_reference(getattr(transformers, case.class_name("torch")), config).eval()
    # Random, non-trivial values everywhere (biases and LayerNorms too), so that a misplaced parameter shows.
    with torch.no_grad():
        output_embeddings = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if output_embeddings is not None and not getattr(config, "tie_word_embeddings", True):
            # An untied LM head gets the scale of the tied one (whose input is scaled by hidden_size**-0.5): with
            # transformers' std-1.0 init the logits reach ~20, where float32 rounding alone approaches 1e-5.
            output_embeddings.weight.normal_(0.0, config.hidden_size**-0.5)
        for name, p in model.named_parameters():
            if name.endswith("classifier.weight") and p.std() > 0.5:
                # A classifier initialised at std 1.0 (T5's token classification) gets that scale too: its logits
                # would otherwise reach ~20 as well.
                p.normal_(0.0, config.hidden_size**-0.5)
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p)) if name.endswith("weight") else p.copy_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            elif p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                # Any other parameter initialised to a constant (the weights of norms of any name: `ln_f`,
                # `input_layernorm`, an RMSNorm's ones, a unit-offset RMSNorm's zeros) varies around it.
                p.add_(0.2 * torch.randn_like(p))
    return model


def run_reference(model, inputs: dict[str, np.ndarray], framework: str = "torch", **kwargs) -> dict[str, np.ndarray]:
    """Every output field of transformers' model on `inputs`, as `framework`'s output class has them."""
    return reference_fields(*reference_outputs(model, inputs, **kwargs), framework)


def reference_outputs(model, inputs: dict[str, np.ndarray], **kwargs) -> tuple[str, dict[str, Any]]:
    """transformers' output (its class name and fields) on `inputs`, every optional output requested."""
    import torch

    feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
    arch = _architecture_of(model.config.model_type) if type(model).__module__.startswith("transformers.") else None
    if arch is not None and arch.task_type is not None and feed.get(arch.task_type.argument) is not None:
        ids = feed[arch.task_type.argument]
        if ids.dim() == 3:
            # transformers' multiple-choice heads flatten the choices of every input but these ids (which its base model
            # then cannot add): transformers gets them flattened, (batch * num_choices, seq), as the other inputs.
            feed[arch.task_type.argument] = ids.reshape(-1, ids.shape[-1])
    if (
        type(model).__module__.startswith("transformers.")
        and getattr(model.config, "sliding_window", None) is not None
        and "past_key_values" in inspect.signature(model.forward).parameters
        and "past_key_values" not in kwargs
        and kwargs.get("use_cache", model.config.use_cache)
    ):
        # With a sliding window transformers' own cache (`DynamicCache(config=...)`) drops the keys no later query can
        # see (it keeps the last `sliding_window - 1`); specformers' cache keeps every key (TensorFlow and Flax fill a
        # preallocated one under XLA) and the window masks the older ones. A cache without the config keeps every key
        # too, and the same mask applies: the outputs are unchanged and the caches compare whole.
        from transformers import DynamicCache

        kwargs["past_key_values"] = DynamicCache()
    with torch.no_grad():
        out = model(**feed, output_hidden_states=True, output_attentions=True, return_dict=True, **kwargs)
    return type(out).__name__, dict(out)


def reference_fields(name: str, out: dict[str, Any], framework: str) -> dict[str, np.ndarray]:
    """The fields of a reference output (`reference_outputs`) that `framework`'s output class has, flattened."""
    catalog = project().outputs
    if framework != "torch" and name in catalog.frameworks:
        # Some of transformers' TF output classes lack a PyTorch field (TFSeq2SeqQuestionAnsweringModelOutput has no
        # cross_attentions): compare the fields the framework's class has.
        keep = {f.name for f in catalog.get(name).fields_for(framework)} | {"loss"}
        out = {k: v for k, v in out.items() if k in keep}
    return flatten(out)


def _architecture_of(model_type: str):
    """The resolved architecture of a config's `model_type` (a drawn spec's too), or None."""
    return next((a for a in [*EXTRA_ARCHITECTURES.values(), *project().architectures] if a.model_type == model_type), None)


def run_generated(framework: str, case: Case, directory: str, inputs: dict[str, np.ndarray], **kwargs) -> dict[str, np.ndarray]:
    import specformers

    cls = getattr(specformers, case.class_name(framework))
    return run_model(framework, cls.from_pretrained(directory), inputs, **kwargs)


def run_model(framework: str, model, inputs: dict[str, np.ndarray], **kwargs) -> dict[str, np.ndarray]:
    """Every output field of a specformers model of `framework` on `inputs` (labels included: `loss` too)."""
    if framework == "torch":
        import torch

        model.eval()
        with torch.no_grad():
            out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, output_hidden_states=True,
                        output_attentions=True, return_dict=True, **kwargs)
    elif framework == "tf":
        import tensorflow as tf

        out = model(**{k: tf.constant(v) for k, v in inputs.items()}, output_hidden_states=True,
                    output_attentions=True, return_dict=True, training=False, **kwargs)
        if out.get("loss") is not None:
            # transformers' TensorFlow shapes: (1,), or one loss per example (batch,) whose mean is PyTorch's loss
            # (tests/test_tf_conventions.py checks the shapes against transformers' TensorFlow classes).
            return {**flatten(out), "loss": np.asarray(np.mean(out["loss"].numpy(), dtype=np.float32))}
    else:
        import jax.numpy as jnp

        feed = {k: jnp.asarray(v) for k, v in inputs.items()}
        out = model(**feed, output_hidden_states=True, output_attentions=True, return_dict=True, **kwargs)
    return flatten(out)


def assert_close(reference: dict[str, np.ndarray], ours: dict[str, np.ndarray], framework: str, atol: float = ATOL) -> float:
    """Same fields, same shapes, max abs diff <= atol on every one. Returns the largest diff seen."""
    expected = set(reference)
    assert set(ours) == expected, f"fields differ: missing {sorted(expected - set(ours))}, extra {sorted(set(ours) - expected)}"
    worst = 0.0
    for key in sorted(expected):
        a, b = reference[key], ours[key]
        assert a.shape == b.shape, f"{key}: shape {b.shape} != reference {a.shape}"
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        assert diff <= atol, f"{key}: max abs diff {diff:.3g} > {atol}"
        worst = max(worst, diff)
    return worst


def pick_eos(tokens: np.ndarray) -> int:
    """An end-of-sequence id for generation tests, from greedy output produced without one (`(batch, steps)`, start
    token excluded): a token that ends some row after its first step but not every row at the same step, so that
    rows finish at different steps and finished rows get padded."""
    tokens = np.asarray(tokens)
    steps = tokens.shape[1]
    for token in dict.fromkeys(tokens[:, 1:].reshape(-1).tolist()):
        first = [int(np.argmax(row == token)) if (row == token).any() else steps for row in tokens]
        if any(1 <= f <= steps - 3 for f in first) and len(set(first)) > 1 and min(first) >= 1:
            return int(token)
    return int(tokens[0, min(3, steps - 1)])
