"""A generator killed at any point leaves every file under generated/ either old or new, and a rerun restores the tree."""

import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_generator import tree_digest

ROOT = Path(__file__).resolve().parent.parent
# Random kill points: 20 in `make test-all` (SPECFORMERS_TEST_ALL=1), 10 in `make test`.
KILLS = 20 if os.environ.get("SPECFORMERS_TEST_ALL") == "1" else 10


# Two architectures (one per module-naming scheme) and the shared catalogs: what makes a write atomic does not depend
# on how many models the tree holds, and each of the 41 generator runs below then takes a fraction of a full run.
ARCHITECTURES = ("albert.yaml", "gpt2.yaml")


def test_killed_generator_leaves_parseable_files(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    for path in (ROOT / "specs").glob("*.yaml"):
        if path.name in ARCHITECTURES or "class_prefix:" not in path.read_text(encoding="utf-8"):
            shutil.copy(path, specs / path.name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "generator", "--specs", str(specs), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    reference = tree_digest(out)
    files = sorted(out.rglob("*.py"))

    def make_stale(mark: str) -> None:
        # Every file gets old content that still parses, so that the run rewrites all of them.
        for path in files:
            path.write_text(path.read_text() + f"# stale {mark}\n")

    # Calibration: when, after its start, does a run replace its first and its last file?
    make_stale("calibration")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = last = None
    while proc.poll() is None:
        replaced = sum(not path.read_text().endswith("# stale calibration\n") for path in files)
        now = time.monotonic() - started
        first = now if replaced and first is None else first
        last = now if replaced else last
        time.sleep(0.005)
    duration = time.monotonic() - started
    assert proc.returncode == 0 and tree_digest(out) == reference
    first, last = first if first is not None else 0.0, last if last is not None else duration

    rng = random.Random(20261121)
    killed_while_writing = 0
    for trial in range(KILLS):
        make_stale(str(trial))
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Mostly while files are being replaced; every fourth kill anywhere in a run (while rendering, or after).
        time.sleep(rng.uniform(0.05, duration) if trial % 4 == 0 else rng.uniform(max(0.0, first - 0.05), last + 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stale = 0
        for path in files:
            text = path.read_text()
            ast.parse(text, filename=str(path))  # never half-written
            stale += text.endswith(f"# stale {trial}\n")
        killed_while_writing += 0 < stale < len(reference)
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        assert tree_digest(out) == reference
        assert not list(out.rglob(".sf-tmp-*")), "a clean run removes temporary files a killed run left"
    print(f"{killed_while_writing} of {KILLS} kills landed while files were being replaced")
