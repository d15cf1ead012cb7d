"""Nothing of the user's is ever deleted: OUT is never SRC, inside it or around it, and --overwrite
replaces only a directory this tool wrote. Every case checks every file of SRC and of OUT's parent."""

import hashlib
import os
import subprocess
import sys

import pytest

from conftest import TINY
from paddle_roberta.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]


def snapshot(root):
    """path -> sha256 of every file under root (byte for byte)."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


@pytest.fixture
def tree(tmp_path):
    """parent/models/mlm (a checkpoint) beside parent/models/notes.txt (the user's own file)."""
    models = tmp_path / "parent" / "models"
    build_checkpoint(str(models / "mlm"), "BertForMaskedLM", TINY["bert"], seed=2)
    (models / "notes.txt").write_text("mine")
    return tmp_path / "parent"


def convert(*args):
    return subprocess.run(CLI + ["convert", *map(str, args), "--no-verify"], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("out,word", [
    ("models/mlm", "is the source directory"),
    ("models/mlm/sub", "is inside the source directory"),
    ("models", "contains the source directory"),
    (".", "contains the source directory"),
])
def test_out_never_over_inside_or_around_the_source(tree, out, word):
    before = snapshot(tree)
    r = convert(tree / "models" / "mlm", tree / out, "--overwrite")
    assert r.returncode == 1 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert snapshot(tree) == before


def test_out_through_a_symlink_to_the_source_is_refused(tree):
    os.symlink(tree / "models" / "mlm", tree / "link")
    before = snapshot(tree / "models")
    r = convert(tree / "models" / "mlm", tree / "link", "--overwrite")
    assert r.returncode == 1 and "is the source directory" in r.stderr
    assert snapshot(tree / "models") == before


def test_overwrite_replaces_only_what_this_tool_wrote(tree):
    src = tree / "models" / "mlm"
    mine = tree / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    before = snapshot(tree)
    r = convert(src, mine, "--overwrite")
    assert r.returncode == 1 and "not a directory paddle-roberta wrote" in r.stderr
    assert snapshot(tree) == before

    file_out = tree / "file.txt"
    file_out.write_text("x")
    assert convert(src, file_out, "--overwrite").returncode == 1 and file_out.read_text() == "x"

    out = tree / "out"
    assert convert(src, out).returncode == 0
    assert convert(src, out, "--overwrite").returncode == 0  # its own output: replaced
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "conversion.json", "model.safetensors"]
    (tree / "empty").mkdir()
    assert convert(src, tree / "empty", "--overwrite").returncode == 0  # nothing to lose
    assert snapshot(src) == {k[len("models/mlm/"):]: v for k, v in before.items() if k.startswith("models/mlm/")}
