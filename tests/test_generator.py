"""The generator itself: bad specs fail clearly and write nothing, --check reports drift, output is deterministic."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def workspace(tmp_path):
    """A copy of specs/ (the shared catalogs, and of the architectures ALBERT and RoFormer, which these tests edit)
    and an output tree generated from it."""
    specs = tmp_path / "specs"
    specs.mkdir()
    for path in SPECS.glob("*.yaml"):
        if path.stem in ("albert", "roformer") or not re.search(r"^class_prefix:", path.read_text(), flags=re.M):
            shutil.copy(path, specs / path.name)
    out = tmp_path / "out"
    assert main(["--specs", str(specs), "--out", str(out)]) == 0
    return specs, out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


# Each case: (spec file, text to replace, replacement, expected "file:line: field: message" parts).
BAD_SPECS = {
    "unknown key": ("albert.yaml", "  layout: names\n  dropout: attention_probs_dropout_prob", "  layout: names\n  dropot: attention_probs_dropout_prob",
                    "attention.dropot", "unknown key 'dropot'; did you mean 'dropout'?"),
    "wrong type": ("albert.yaml", "  token_type: true", "  token_type: [1, 2]", "embeddings.token_type", "write `true` or `false`, or `word`"),
    "missing field": ("roformer.yaml", "  - {kind: base}\n", "  - {path: pooler}\n",
                      "heads.0.kind", "required field 'kind' is missing"),
    "heads not divisible": ("albert.yaml", "name: num_attention_heads, type: int, default: 64",
                            "name: num_attention_heads, type: int, default: 63", "config.fields.5.default",
                            "not a multiple of the default num_attention_heads (63)"),
    "unknown attention variant": ("albert.yaml", "attention:\n  layout: names\n", "attention:\n  variant: sparse\n  layout: names\n", "attention.variant", "write `full`"),
    "unknown position scheme": ("roformer.yaml", "  kind: rotary", "  kind: xpos", "position", "rotary"),
    "head needs component": ("roformer.yaml", "  - {kind: sequence_classification, style: dense_act, activation: {field: hidden_act}",
                             "  - {kind: sequence_classification, style: pooled", "heads.3.kind",
                             "needs the `pooler` component"),
    "unknown config field": ("albert.yaml", "  size: embedding_size", "  size: embeding_size", "embeddings.size",
                             "'embeding_size' is not declared under `config.fields`; did you mean 'embedding_size'?"),
    "default of wrong type": ("albert.yaml", "name: vocab_size, type: int, default: 30000",
                              "name: vocab_size, type: int, default: lots", "config.fields.0",
                              "default 'lots' of 'vocab_size' is not of type int"),
    "bad identifier": ("albert.yaml", "class_prefix: Albert", "class_prefix: Al-bert", "class_prefix",
                       "not a valid Python identifier"),
    "keyword identifier": ("albert.yaml", "  layer_group.layers: albert_layers", "  layer_group.layers: lambda", "names.layer_group.layers",
                           "is a Python keyword"),
    "duplicate key": ("albert.yaml", "model_type: albert\n", "model_type: albert\nmodel_type: bert\n", "model_type",
                      "duplicate key 'model_type'"),
    "malformed yaml": ("roformer.yaml", "heads:\n", "heads: [\n", None, "malformed YAML"),
    "yaml tag": ("albert.yaml", "title: ALBERT", "title: !!python/object:os.system ALBERT", None, "is not allowed"),
    "alias": ("albert.yaml", "norm: {kind: layer_norm, placement: post, eps: layer_norm_eps}", "norm: &n {kind: layer_norm, placement: post, eps: layer_norm_eps}\nnorm2: *n",
              None, "anchors and aliases are not allowed"),
    "unknown output class": ("albert.yaml", "output: AlbertForPreTrainingOutput", "output: AlbertPreTrainOutput",
                             "heads.1.output", "not in the output catalog"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS), ids=str)
def test_bad_spec_fails_clearly_and_writes_nothing(case, workspace, capsys):
    specs, out = workspace
    file, old, new, field, message = BAD_SPECS[case]
    before = tree_digest(out)
    edit(specs / file, old, new)
    capsys.readouterr()
    assert main(["--specs", str(specs), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert file in err and message in err, err
    if field is not None:
        assert f": {field}: " in err, err
    # The line named is the one the problem is on (or the mapping that holds it).
    first_line = new.splitlines()[0].strip()
    expected_line = line_of(specs / file, first_line)
    reported = int(err.split(file + ":", 1)[1].split(":", 1)[0])
    assert abs(reported - expected_line) <= 1, (reported, expected_line, err)
    assert tree_digest(out) == before


def test_empty_and_non_utf8_files(workspace, capsys):
    specs, out = workspace
    before = tree_digest(out)
    (specs / "albert.yaml").write_bytes(b"")
    assert main(["--specs", str(specs), "--out", str(out)]) == 2
    assert "albert.yaml:1: file is empty" in capsys.readouterr().err
    (specs / "albert.yaml").write_bytes(b"name: alb\xffert\n")
    assert main(["--specs", str(specs), "--out", str(out)]) == 2
    assert "albert.yaml:1: file is not valid UTF-8" in capsys.readouterr().err
    assert tree_digest(out) == before


def test_cli_exit_code_and_no_traceback(workspace):
    specs, out = workspace
    edit(specs / "roformer.yaml", "  layout: names\n  cross_module: crossattention", "  layout: namez\n  cross_module: crossattention")
    proc = subprocess.run(
        [sys.executable, "-m", "generator", "--specs", str(specs), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "roformer.yaml:" in proc.stderr and "attention.layout" in proc.stderr


def test_check_reports_drift_with_a_diff(workspace, capsys):
    specs, out = workspace
    assert main(["--specs", str(specs), "--out", str(out), "--check"]) == 0
    target = out / "specformers/models/albert/configuration_albert.py"
    target.write_text(target.read_text().replace("30000", "30001"))
    (out / "specformers/models/albert/extra.py").write_text("# This file was generated by specformers from x.\n")
    before = tree_digest(out)
    capsys.readouterr()
    assert main(["--specs", str(specs), "--out", str(out), "--check"]) == 1
    diff = capsys.readouterr().out
    assert "--- a/generated/specformers/models/albert/configuration_albert.py" in diff
    assert "-        vocab_size: int = 30001," in diff and "+        vocab_size: int = 30000," in diff
    assert "generated/specformers/models/albert/extra.py" in diff
    assert tree_digest(out) == before  # --check writes nothing
    assert main(["--specs", str(specs), "--out", str(out)]) == 0
    assert not (out / "specformers/models/albert/extra.py").exists()  # stale generated file removed
    assert main(["--specs", str(specs), "--out", str(out), "--check"]) == 0


def test_hand_written_file_is_never_deleted(workspace, capsys):
    specs, out = workspace
    mine = out / "specformers/notes.py"
    mine.write_text("print('mine')\n")
    assert main(["--specs", str(specs), "--out", str(out)]) == 2
    assert "generated/specformers/notes.py" in capsys.readouterr().err
    assert mine.read_text() == "print('mine')\n"


def test_removed_spec_removes_its_files(workspace):
    specs, out = workspace
    (specs / "roformer.yaml").unlink()
    assert main(["--specs", str(specs), "--out", str(out)]) == 0
    assert not (out / "specformers/models/roformer").exists()
    assert (out / "specformers/models/albert/modeling_albert.py").exists()


def test_only_limits_to_one_spec(workspace, capsys):
    specs, out = workspace
    target = out / "specformers/models/roformer/configuration_roformer.py"
    target.write_text(target.read_text() + "# drift\n")
    assert main(["--specs", str(specs), "--out", str(out), "--only", "albert", "--check"]) == 0
    assert main(["--specs", str(specs), "--out", str(out), "--only", "roformer", "--check"]) == 1
    assert main(["--specs", str(specs), "--out", str(out), "--only", "xlnet"]) == 2
    assert "no spec named xlnet.yaml" in capsys.readouterr().err


def test_output_is_deterministic(tmp_path):
    """A run with another hash seed, the C locale, another working directory and no formatting cache produces the
    committed tree byte for byte (the committed tree, and `make test`'s `generator --check`, come from runs with random
    hash seeds in the repository under the caller's locale). `make test` keeps the formatting cache: it is keyed by the
    rendered source, so a rendering that differs misses it and comes out different; `make test-all` also formats every
    file afresh (black's own output, a minute)."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT), "LC_ALL": "C", "LANG": "C"}
    if os.environ.get("SPECFORMERS_TEST_ALL") == "1":
        env["SPECFORMERS_NO_CACHE"] = "1"
    subprocess.run([sys.executable, "-m", "generator", "--out", str(out)], cwd=tmp_path, env=env, check=True, capture_output=True)
    committed = {k: v for k, v in tree_digest(ROOT / "generated").items() if not k.startswith("specformers.egg")}
    assert tree_digest(out) == committed


def test_committed_tree_is_in_sync():
    assert main(["--check"]) == 0


def test_generated_code_is_not_keyed_on_an_architecture():
    """No template or generator code names a seeded architecture (as a word: a name may be part of an ordinary one,
    `opt` of `Optional`)."""
    # Every spec's name but BERT's (the generic name of a layout and of conventions many models share).
    names = sorted({p.stem for p in (ROOT / "specs").glob("*.yaml")} - {"arguments", "outputs", "layouts", "bert"})
    assert len(names) >= 20, names
    offenders = []
    for base in (ROOT / "templates", ROOT / "generator"):
        for path in base.rglob("*"):
            if path.is_file() and path.suffix in (".jinja", ".py"):
                text = path.read_text().lower()
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if re.search(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", text)]
    assert not offenders, offenders


def test_readme_lists_what_each_stack_kind_renders():
    """The README's table of stack-kind rules is the table generator/support.py enforces, so it cannot drift."""
    from generator import support

    assert support.markdown_table() in (ROOT / "README.md").read_text(), "run `python -m generator.readme`"


def test_readme_lists_every_spec_field_with_a_description():
    """README's "Every spec field" table is generated from the schema (values, defaults and the comment above each
    field), so a new field shows up there, and one without a comment fails here."""
    from generator import reference

    assert reference.undocumented() == [], "generator/schema.py: write a comment above each of these fields"
    rows, _ = reference.rows()
    assert len(rows) > 100 and all(row.description for row in rows)
    assert reference.markdown_table() in (ROOT / "README.md").read_text(), "run `python -m generator.readme`"


def test_readme_lists_every_shipped_spec():
    """README's "The shipped specs" table (what a newcomer copies from) is generated from the specs: one row per spec
    with its opening comment, so a new spec shows up there and one without an opening comment fails here."""
    from generator import readme

    table = readme.specs_table()
    specs = [p for p in (ROOT / "specs").glob("*.yaml") if p.name not in ("outputs.yaml", "arguments.yaml", "layouts.yaml")]
    rows = table.splitlines()[2:]
    assert len(rows) == len(specs)
    assert all(row.rstrip(" |").rsplit("|", 1)[-1].strip() for row in rows), "every spec opens with a comment saying what it composes"
    assert table in (ROOT / "README.md").read_text(), "run `python -m generator.readme`"
