"""`make bench`: generation time, and forward latency of generated models against the reference, as ratios.

Each pair (generated, reference) is measured alternately in one run: warm-up, then rounds of one generated call and
one reference call, so that machine noise hits both alike. Upstream TensorFlow needs legacy Keras (tf-keras), which
changes `tf.keras` for the whole process: it runs in a child process that takes turns with this one over a pipe.

Also measures the peak extra memory of loading each base-sized checkpoint into the PyTorch classes (a fresh process
per load, VmHWM), as a ratio to the checkpoint size; `BENCH_ONLY=load_memory` runs just that part and writes
bench-results-load.json.

Writes bench-results.json (git-ignored) and prints a table.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SHAPES = [(1, 512), (8, 128)]

BASE_CONFIGS = {
    # bert-base-uncased's shape (the config defaults).
    "bert": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    # gpt2 (124M): the config defaults.
    "gpt2": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    "albert": dict(
        vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu_new",
    ),
    "nezha": dict(
        vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=512, max_relative_position=64,
    ),
    "roformer": dict(
        vocab_size=50000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=1536, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    ),
    # facebook/bart-base's shape (the base model decodes input_ids shifted right).
    "bart": dict(
        vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
        decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072,
    ),
    # A Llama of GPT-2's size (the config defaults are Llama-2 7B's, too large for a CPU benchmark): grouped-query
    # attention with 4 key/value heads.
    "llama": dict(
        vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
        num_key_value_heads=4, max_position_embeddings=1024,
    ),
}


@functools.lru_cache(maxsize=None)
def prefix_of(arch: str) -> str:
    from generator.pipeline import load_project

    return next(a.prefix for a in load_project().architectures if a.name == arch)


def bench_generation() -> dict:
    """Whole generation in a fresh process, cold (no caches) and warm (format and template caches filled)."""
    def run(no_cache: bool) -> tuple[float, dict]:
        env = {**os.environ, "SPECFORMERS_NO_CACHE": "1" if no_cache else "0"}
        timings = ROOT / ".cache" / "bench-timings.json"
        timings.parent.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "generator", "--check", "--timings", str(timings)], cwd=ROOT, env=env,
                       check=False, capture_output=True)
        return time.perf_counter() - t0, json.loads(timings.read_text())

    cold = min(run(True)[0] for _ in range(2))
    run(False)
    warm_runs = [run(False) for _ in range(3)]
    warm = min(t for t, _ in warm_runs)
    timings = warm_runs[-1][1]
    cold_timings = run(True)[1]
    per_file = {k: round(v * 1000, 1) for k, v in sorted(cold_timings.items()) if k.endswith(".py")}
    return {
        "cold_s": round(cold, 3), "warm_s": round(warm, 3), "files": len(per_file),
        "stages_cold_s": {k: round(cold_timings[k], 3) for k in ("load+resolve", "render", "format", "total")},
        "stages_warm_s": {k: round(timings[k], 3) for k in ("load+resolve", "render", "format", "total")},
        "per_file_render_ms": per_file,
    }


def alternate(ours, reference, rounds: int = ROUNDS) -> tuple[float, float]:
    """Median seconds of `ours()` and `reference()` measured alternately."""
    for _ in range(2):
        ours()
        reference()
    a, b = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours()
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reference()
        b.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def inputs(batch: int, seq: int, vocab: int):
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(1, vocab, size=(batch, seq), dtype=np.int64)
    return ids, np.ones_like(ids)


def bench_torch(arch: str, checkpoint: str, shape: tuple[int, int]) -> dict:
    import torch
    import transformers

    import specformers

    prefix = prefix_of(arch)
    ours = getattr(specformers, f"{prefix}Model").from_pretrained(checkpoint).eval()
    ref = getattr(transformers, f"{prefix}Model").from_pretrained(checkpoint).eval()
    ids, mask = inputs(*shape, BASE_CONFIGS[arch]["vocab_size"])
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)

    def run(model):
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    t_ours, t_ref = alternate(lambda: run(ours), lambda: run(ref))
    return {"generated_s": t_ours, "reference_s": t_ref, "ratio": t_ours / t_ref}


def upstream_has(arch: str, framework: str) -> bool:
    import transformers

    return hasattr(transformers, {"torch": "", "tf": "TF", "flax": "Flax"}[framework] + prefix_of(arch) + "Model")


def absolute(fn, rounds: int = ROUNDS) -> dict:
    for _ in range(2):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"generated_s": statistics.median(times), "reference_s": None, "ratio": None}


def bench_flax(arch: str, checkpoint: str, shape: tuple[int, int]) -> dict:
    import jax
    import jax.numpy as jnp
    import transformers

    import specformers

    prefix = prefix_of(arch)
    ours = getattr(specformers, f"Flax{prefix}Model").from_pretrained(checkpoint)
    ids, mask = inputs(*shape, BASE_CONFIGS[arch]["vocab_size"])
    ids, mask = jnp.asarray(ids), jnp.asarray(mask)
    ours_fn = jax.jit(lambda p, i, m: ours(i, attention_mask=m, params=p).last_hidden_state)
    if not upstream_has(arch, "flax"):
        return absolute(lambda: ours_fn(ours.params, ids, mask).block_until_ready())
    ref = getattr(transformers, f"Flax{prefix}Model")(getattr(transformers, f"{prefix}Config")(**BASE_CONFIGS[arch]))
    ref_fn = jax.jit(lambda p, i, m: ref(i, attention_mask=m, params=p).last_hidden_state)
    t_ours, t_ref = alternate(
        lambda: ours_fn(ours.params, ids, mask).block_until_ready(),
        lambda: ref_fn(ref.params, ids, mask).block_until_ready(),
    )
    return {"generated_s": t_ours, "reference_s": t_ref, "ratio": t_ours / t_ref}


_TF_CHILD = r"""
import os, sys, time
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import json
import numpy as np
import tensorflow as tf
import transformers
arch, prefix, config, batch, seq = json.loads(sys.argv[1])
model = getattr(transformers, f"TF{prefix}Model")(getattr(transformers, f"{prefix}Config")(**config))
rng = np.random.default_rng(0)
ids = tf.constant(rng.integers(1, config["vocab_size"], size=(batch, seq)), dtype=tf.int32)
mask = tf.ones_like(ids)
fn = tf.function(lambda i, m: model(input_ids=i, attention_mask=m).last_hidden_state, jit_compile=True)
print("ready", flush=True)
for line in sys.stdin:
    t0 = time.perf_counter()
    fn(ids, mask).numpy()
    print(time.perf_counter() - t0, flush=True)
"""


def bench_tf(arch: str, checkpoint: str, shape: tuple[int, int]) -> dict:
    import tensorflow as tf

    import specformers

    prefix = prefix_of(arch)
    ours = getattr(specformers, f"TF{prefix}Model").from_pretrained(checkpoint)
    ids, mask = inputs(*shape, BASE_CONFIGS[arch]["vocab_size"])
    ids, mask = tf.constant(ids, dtype=tf.int32), tf.constant(mask, dtype=tf.int32)
    fn = tf.function(lambda i, m: ours(input_ids=i, attention_mask=m).last_hidden_state, jit_compile=True)
    if not upstream_has(arch, "tf"):
        return absolute(lambda: fn(ids, mask).numpy())
    child = subprocess.Popen(
        [sys.executable, "-c", _TF_CHILD, json.dumps([arch, prefix, BASE_CONFIGS[arch], *shape])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready", "upstream TF child failed to start"

        def reference():
            child.stdin.write("go\n")
            child.stdin.flush()
            return float(child.stdout.readline())

        # The child times its own call (excluding the pipe); ours is timed here the same way.
        for _ in range(2):
            fn(ids, mask).numpy()
            reference()
        a, b = [], []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            fn(ids, mask).numpy()
            a.append(time.perf_counter() - t0)
            b.append(reference())
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    t_ours, t_ref = statistics.median(a), statistics.median(b)
    return {"generated_s": t_ours, "reference_s": t_ref, "ratio": t_ours / t_ref}


# Child-process prelude: `status(field)` reads /proc/self/status; the peak-RSS counter is reset (Linux: writing 5 to
# clear_refs) and `base` is the RSS now, so that VmHWM - base is the peak of what the child does next.
_PEAK_RSS = r"""

def status(field):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
base = status("VmRSS")
"""


_LONG_CHILD = r"""
import json, os, resource, sys, time
import numpy as np
import torch
torch.set_grad_enabled(False)
which, attention, length, checkpoint = json.loads(sys.argv[1])
if which == "generated":
    import specformers
    model = specformers.LongT5EncoderModel.from_pretrained(checkpoint).eval()
else:
    import transformers
    model = transformers.LongT5EncoderModel.from_pretrained(checkpoint).eval()
ids = torch.from_numpy(np.random.default_rng(0).integers(2, 32000, size=(1, length)))
mask = torch.ones_like(ids)
model(input_ids=ids[:, :256], attention_mask=mask[:, :256])  # warm-up on a short input

""" + _PEAK_RSS + r"""t0 = time.perf_counter()
model(input_ids=ids, attention_mask=mask)
elapsed = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({"seconds": elapsed, "peak_extra_mib": (peak - base) / 1024}))
"""

LONG_CONFIG = dict(
    vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=8, num_decoder_layers=2, num_heads=8,
    local_radius=127, global_block_size=16, feed_forward_proj="gated-gelu", decoder_start_token_id=0,
    dropout_rate=0.0,
)


def run_child(script: str, args: list, **env: str) -> dict:
    """Run `script` in a fresh Python process with `args` as JSON in argv[1]; the JSON object it prints last."""
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **env},
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def encoder_macs(length: int, attention: str, config: dict = LONG_CONFIG) -> int:
    """Multiply-accumulates of one LongT5 encoder forward (batch 1): the floor under its time. Projections and the
    feed-forward block are per token; local attention sees 3 blocks of keys per query; transient-global attention
    adds one key per `global_block_size` tokens to every query, which makes it grow faster than the length."""
    d, inner, ff = config["d_model"], config["num_heads"] * config["d_kv"], config["d_ff"]
    gated = config["feed_forward_proj"].startswith("gated-")
    keys = 3 * (config["local_radius"] + 1)
    per_token = 4 * d * inner + (3 if gated else 2) * d * ff + 2 * inner * keys
    macs = length * per_token
    if attention == "transient-global":
        num_globals = length // config["global_block_size"]
        macs += 2 * length * inner * num_globals + 2 * num_globals * d * inner  # side scores + context, global k/v
    return macs * config["num_layers"]


def bench_long_inputs(tmp: str) -> list:
    """Encoder forward time and peak extra memory (RSS high-water mark over the warm model) at 1k, 4k and 16k tokens,
    each measured in a fresh process so that one run's allocations do not hide the next one's."""
    import torch
    import transformers

    rows, ratios = [], []
    for attention in ("local", "transient-global"):
        torch.manual_seed(0)
        config = transformers.LongT5Config(**LONG_CONFIG, encoder_attention_type=attention)
        checkpoint = os.path.join(tmp, f"longt5-{attention}")
        transformers.LongT5EncoderModel(config).save_pretrained(checkpoint)
        for length in (1024, 4096, 16384):
            row = {"attention": attention, "tokens": length}
            for which in ("generated", "reference"):
                row[which] = run_child(_LONG_CHILD, [which, attention, length, checkpoint])
            rows.append(row)
            print(
                f"longt5 {attention:16s} {length:6d} tokens  generated {row['generated']['seconds']:7.2f}s "
                f"{row['generated']['peak_extra_mib']:8.0f} MiB  reference {row['reference']['seconds']:7.2f}s "
                f"{row['reference']['peak_extra_mib']:8.0f} MiB",
                flush=True,
            )
        by_len = {r["tokens"]: r for r in rows if r["attention"] == attention}
        macs = encoder_macs(16384, attention) / encoder_macs(4096, attention)
        print(f"longt5 {attention:16s} 16k/4k multiply-accumulates x{macs:.2f}", flush=True)
        for which in ("generated", "reference"):
            t = by_len[16384][which]["seconds"] / by_len[4096][which]["seconds"]
            m = by_len[16384][which]["peak_extra_mib"] / max(by_len[4096][which]["peak_extra_mib"], 1e-9)
            print(f"longt5 {attention:16s} {which}: 16k/4k time x{t:.2f}, memory x{m:.2f}", flush=True)
            ratios.append({"attention": attention, "which": which, "time_16k_4k": t, "memory_16k_4k": m,
                           "macs_16k_4k": macs})
    return {"rows": rows, "ratios_16k_over_4k": ratios}


def bench_greedy_generation(tmp: str) -> dict:
    """Greedy generation tokens/s (64 new tokens, batch 4, 512 input tokens), generated vs upstream PyTorch."""
    import torch
    import transformers

    import specformers

    torch.manual_seed(0)
    config = transformers.LongT5Config(**{**LONG_CONFIG, "num_decoder_layers": 8}, encoder_attention_type="local")
    checkpoint = os.path.join(tmp, "longt5-generate")
    transformers.LongT5ForConditionalGeneration(config).save_pretrained(checkpoint)
    ours = specformers.LongT5ForConditionalGeneration.from_pretrained(checkpoint).eval()
    ref = transformers.LongT5ForConditionalGeneration.from_pretrained(checkpoint).eval()
    import numpy as np

    ids = torch.from_numpy(np.random.default_rng(0).integers(2, 32000, size=(4, 512)))
    new = 64

    def run(model):
        # No eos: every run produces exactly `new` tokens per row, so both sides do the same work.
        with torch.inference_mode():
            return model.generate(ids, max_new_tokens=new, eos_token_id=None)

    t_ours, t_ref = alternate(lambda: run(ours), lambda: run(ref), rounds=3)
    tokens = ids.shape[0] * new
    result = {"generated_tokens_per_s": tokens / t_ours, "reference_tokens_per_s": tokens / t_ref, "ratio": t_ours / t_ref}
    print(f"longt5 greedy generate: generated {result['generated_tokens_per_s']:.1f} tok/s, "
          f"reference {result['reference_tokens_per_s']:.1f} tok/s", flush=True)
    return result


_LOAD_CHILD = r"""
import json, os, sys

which, class_name, checkpoint = json.loads(sys.argv[1])
import torch  # noqa: F401 - imported before the baseline, like the library under test

if which == "generated":
    import specformers as library
else:
    import transformers as library
cls = getattr(library, class_name)

""" + _PEAK_RSS + r"""model = cls.from_pretrained(checkpoint)
peak = status("VmHWM")
size = sum(os.path.getsize(os.path.join(checkpoint, f)) for f in os.listdir(checkpoint) if f.endswith(".safetensors"))
print(json.dumps({"peak_extra_mib": (peak - base) / 1024, "checkpoint_mib": size / 2**20, "ratio": (peak - base) * 1024 / size}))
"""


def bench_load_memory(tmp: str) -> list:
    """Peak extra memory of `from_pretrained` for the base-sized (12-layer) checkpoints, in a fresh process each
    (VmHWM over the RSS after imports), as a ratio to the checkpoint file size; transformers' own loader alongside."""
    import torch
    import transformers

    rows = []
    for arch, config in BASE_CONFIGS.items():
        if os.environ.get("BENCH_ARCHS") and arch not in os.environ["BENCH_ARCHS"].split(","):
            continue
        prefix = prefix_of(arch)
        checkpoint = os.path.join(tmp, f"{arch}-load")
        if not os.path.isdir(checkpoint):
            torch.manual_seed(0)
            getattr(transformers, f"{prefix}Model")(getattr(transformers, f"{prefix}Config")(**config)).save_pretrained(checkpoint)
        row = {"arch": arch}
        for which in ("generated", "reference"):
            row[which] = run_child(_LOAD_CHILD, [which, f"{prefix}Model", checkpoint], USE_TF="0", USE_FLAX="0")
        rows.append(row)
        print(
            f"{arch:9s} load ({row['generated']['checkpoint_mib']:.0f} MiB checkpoint): generated peak extra "
            f"{row['generated']['peak_extra_mib']:.0f} MiB = {row['generated']['ratio']:.2f}x, reference "
            f"{row['reference']['peak_extra_mib']:.0f} MiB = {row['reference']['ratio']:.2f}x",
            flush=True,
        )
    return rows


def main() -> None:
    import tempfile

    import torch
    import transformers

    if os.environ.get("BENCH_ONLY") == "load_memory":
        # Just the checkpoint-loading memory measurement (BENCH_ONLY=load_memory python -m benchmarks).
        with tempfile.TemporaryDirectory() as tmp:
            rows = bench_load_memory(tmp)
        (ROOT / "bench-results-load.json").write_text(json.dumps({"load_memory": rows}, indent=2) + "\n")
        print("wrote bench-results-load.json")
        return
    results: dict = {"generation": bench_generation(), "forward": []}
    g = results["generation"]
    print(f"generation (fresh process, {g['files']} files): cold {g['cold_s']:.2f}s, warm {g['warm_s']:.2f}s")
    frameworks = os.environ.get("BENCH_FRAMEWORKS", "torch,tf,flax").split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for arch, config in BASE_CONFIGS.items():
            if os.environ.get("BENCH_ARCHS") and arch not in os.environ["BENCH_ARCHS"].split(","):
                continue
            prefix = prefix_of(arch)
            torch.manual_seed(0)
            ref = getattr(transformers, f"{prefix}Model")(getattr(transformers, f"{prefix}Config")(**config))
            checkpoint = os.path.join(tmp, arch)
            ref.save_pretrained(checkpoint)
            del ref
            for shape in SHAPES:
                for framework in frameworks:
                    fn = {"torch": bench_torch, "tf": bench_tf, "flax": bench_flax}[framework]
                    row = {"arch": arch, "framework": framework, "batch": shape[0], "seq": shape[1], **fn(arch, checkpoint, shape)}
                    results["forward"].append(row)
                    ref = "no upstream class" if row["reference_s"] is None else (
                        f"reference {row['reference_s'] * 1000:8.1f} ms  ratio {row['ratio']:.2f}")
                    print(f"{arch:9s} {framework:5s} b{shape[0]} s{shape[1]:<4d} generated "
                          f"{row['generated_s'] * 1000:8.1f} ms  {ref}", flush=True)
        results["load_memory"] = bench_load_memory(tmp)
        if os.environ.get("BENCH_LONG", "1") == "1" and hasattr(__import__("specformers"), "LongT5EncoderModel"):
            results["longt5_long_inputs"] = bench_long_inputs(tmp)
            results["longt5_greedy_generation"] = bench_greedy_generation(tmp)
    (ROOT / "bench-results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("wrote bench-results.json")


if __name__ == "__main__":
    main()
