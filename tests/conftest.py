import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
# One compute thread per test process (and the subprocesses tests start): the test models are tiny, and `make test`
# runs one xdist worker per core, so PyTorch's, TensorFlow's and XLA's thread pools would only contend for the same
# cores (a parity and decoding selection run by two workers: 84 s of CPU time with one thread each, 113-117 s with
# the default pools). Set before any framework is imported; a value already in the environment wins.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_variable, "1")
if "xla_cpu_multi_thread_eigen" not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# No persistent JAX compilation cache: eager Flax compiles each primitive once per process and shape (milliseconds
# apiece), and writing every one to a shared cache directory cost more than reading it back saved (a Flax selection
# of the suite: 150 s without, 169 s with one cache shared by the xdist workers).

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
# This checkout's generated package, also in the subprocesses tests start: not the one an editable install of another
# checkout (a git worktree sharing its .venv) would import.
sys.path.insert(0, str(ROOT / "generated"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "generated"), os.environ.get("PYTHONPATH")]))

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def reference_checkpoint(tmp_path_factory):
    """A saved random transformers (PyTorch) reference model per (case, config overrides):
    `get(case, **overrides) -> (config, reference model, directory)`."""
    from harness import reference_config, reference_model

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


_composition_coverage: list[dict] = []


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", ()):
        if name == "composition_coverage" and report.when == "call":
            _composition_coverage.append(value)


def pytest_terminal_summary(terminalreporter):
    """The components and stack kinds the composition property test drew (tests/test_composition.py)."""
    for coverage in _composition_coverage:
        examples = sum(v for k, v in coverage.items() if k.startswith("stack="))
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(coverage.items()))
        terminalreporter.write_line(f"composition coverage ({examples} drawn specs): {counts}")


def pytest_runtest_makereport(item, call):
    """With `SPECFORMERS_TIMINGS=<file>`, each test phase's duration is appended to that file as it ends
    (`seconds<TAB>phase<TAB>node id`): where a run's time goes, readable while it runs (`make test` sets nothing)."""
    path = os.environ.get("SPECFORMERS_TIMINGS")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{call.duration:.3f}\t{call.when}\t{item.nodeid}\n")
