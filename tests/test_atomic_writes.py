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


def test_killed_generator_leaves_parseable_files(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "generator", "--specs", str(specs), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    reference = tree_digest(out)
    rng = random.Random(20261121)
    killed_while_writing = 0
    for trial in range(20):
        # Make every file stale (old content that still parses), so that the run rewrites all of them.
        for path in out.rglob("*.py"):
            path.write_text(path.read_text() + f"# stale {trial}\n")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stale = 0
        for path in out.rglob("*.py"):
            text = path.read_text()
            ast.parse(text, filename=str(path))  # never half-written
            stale += text.endswith(f"# stale {trial}\n")
        killed_while_writing += 0 < stale < len(reference)
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        assert tree_digest(out) == reference
        assert not list(out.rglob(".sf-tmp-*")), "a clean run removes temporary files a killed run left"
    print(f"{killed_while_writing} of 20 kills landed while files were being replaced")
