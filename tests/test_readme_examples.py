"""Every ```python block of README.md's "## Using specformers with..." section runs, each as a complete program.

Each block runs in a fresh Python process, in an empty temporary directory, with the repository's `generated/` as
`PYTHONPATH`, offline (`HF_HUB_OFFLINE=1`, an empty `HF_HOME`) and under a time limit. A block whose first line is
`# run with: NAME=value ...` gets those environment variables (shell syntax), for instance
`XLA_FLAGS=--xla_force_host_platform_device_count=8` or `TF_USE_LEGACY_KERAS=1`. A failure names the block's
heading and its line in the README, with the end of its output.
"""

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## Using specformers with"
RUN_WITH = re.compile(r"#\s*run with:\s*(.*)$")
TIMEOUT_S = 300


@dataclass(frozen=True)
class Example:
    heading: str  # the `###` heading above the block (the section's own heading before any)
    line: int  # README line of the opening fence
    code: str

    @property
    def env(self) -> dict:
        """The variables of a first line `# run with: NAME=value ...`."""
        first = self.code.lstrip("\n").split("\n", 1)[0]
        match = RUN_WITH.match(first.strip())
        if not match:
            return {}
        env = {}
        for word in shlex.split(match.group(1)):
            name, sep, value = word.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"README.md:{self.line}: `# run with:` takes NAME=value words, got {word!r}")
            env[name] = value
        return env


def readme_examples(text: str) -> list:
    """The ```python blocks of the section whose heading starts with SECTION, with their `###` headings."""
    examples, heading, in_section, block, start = [], None, False, None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if block is not None:
            if line.strip() == "```":
                examples.append(Example(heading, start, "\n".join(block) + "\n"))
                block = None
            else:
                block.append(line)
            continue
        if line.startswith("## "):
            in_section = line.startswith(SECTION)
            heading = line[3:].strip()
        elif in_section and line.startswith("### "):
            heading = line[4:].strip()
        elif in_section and line.strip() == "```python":
            block, start = [], number
    if block is not None:
        raise ValueError(f"README.md:{start}: the ```python block is never closed")
    return examples


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


def test_section_has_examples():
    assert EXAMPLES, f"README.md has no ```python block under a heading starting with {SECTION!r}"


def test_parser_reads_headings_fences_and_run_with():
    text = (
        "## Other\n```python\nskipped\n```\n"
        f"{SECTION}...\nintro\n### Keras\n```python\n# run with: TF_USE_LEGACY_KERAS=1 XLA_FLAGS='--a --b'\nx = 1\n```\n"
        "### Flax\ntext\n```python\ny = 2\n```\n```bash\nnot python\n```\n## Next\n```python\nskipped\n```\n"
    )
    keras, flax = readme_examples(text)
    assert (keras.heading, keras.line, flax.heading) == ("Keras", 8, "Flax")
    assert keras.env == {"TF_USE_LEGACY_KERAS": "1", "XLA_FLAGS": "--a --b"} and flax.env == {}
    assert flax.code == "y = 2\n"


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{re.sub(r'[^A-Za-z0-9]+', '-', e.heading).strip('-')}-L{e.line}" for e in EXAMPLES]
)
def test_readme_example_runs(example, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(example.code, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "generated"),
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **example.env,
    }
    env.pop("HF_HUB_CACHE", None)  # from HF_HOME, unless the block sets it
    try:
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"README example under '{example.heading}' (README.md:{example.line}) ran past {TIMEOUT_S}s")
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        pytest.fail(
            f"README example under '{example.heading}' (README.md:{example.line}) failed with exit code "
            f"{result.returncode}:\n{output}",
            pytrace=False,
        )
