import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    # One JAX compilation cache for the whole run, shared by the xdist workers (spawned after this runs, they inherit
    # the variable) and the subprocesses tests start: eager Flax compiles every primitive at every new shape, and the
    # workers meet the same tiny models. Every compilation is cached, however fast. The directory is this run's own
    # (nothing carries over between runs) and is removed when the process that made it exits.
    import atexit
    import shutil
    import tempfile

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="specformers-jax-cache-")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

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
