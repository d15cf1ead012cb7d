"""Nothing of the user's is ever deleted: OUT is never SRC, inside it or around it, and --overwrite
replaces only a directory this tool wrote. Every case checks every file of SRC and of OUT's parent."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import TINY

from paddle_roberta.dev.synthetic import build_checkpoint

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
    return subprocess.run(CLI + ["convert", *map(str, args), "--no-verify"], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("out,word", [
    ("models/mlm", "is the source directory"),
    ("models/mlm/sub", "is inside the source directory"),
    ("models", "contains the source directory"),
    (".", "contains the source directory"),
])
def test_out_never_over_inside_or_around_the_source(tree, out, word):
    before = snapshot(tree)
    r = convert(tree / "models" / "mlm", tree / out, "--overwrite")
    assert r.returncode == 2 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert snapshot(tree) == before


def test_out_through_a_symlink_to_the_source_is_refused(tree):
    os.symlink(tree / "models" / "mlm", tree / "link")
    before = snapshot(tree / "models")
    r = convert(tree / "models" / "mlm", tree / "link", "--overwrite")
    assert r.returncode == 2 and "is the source directory" in r.stderr
    assert snapshot(tree / "models") == before


def test_overwrite_replaces_only_what_this_tool_wrote(tree):
    src = tree / "models" / "mlm"
    mine = tree / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    before = snapshot(tree)
    r = convert(src, mine, "--overwrite")
    assert r.returncode == 2 and "not a directory paddle-roberta wrote" in r.stderr
    assert snapshot(tree) == before

    file_out = tree / "file.txt"
    file_out.write_text("x")
    assert convert(src, file_out, "--overwrite").returncode == 2 and file_out.read_text() == "x"

    out = tree / "out"
    assert convert(src, out).returncode == 0
    assert convert(src, out, "--overwrite").returncode == 0  # its own output: replaced
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "conversion.json", "model.safetensors"]
    (tree / "empty").mkdir()
    assert convert(src, tree / "empty", "--overwrite").returncode == 0  # nothing to lose
    assert snapshot(src) == {k[len("models/mlm/"):]: v for k, v in before.items() if k.startswith("models/mlm/")}


def test_overwrite_never_deletes_work_done_inside_out(tree):
    """People fine-tune and save_pretrained into a converted directory, keep checkpoints and results in it,
    git init it: --overwrite refuses, names up to three of them in one line, and every byte stays."""
    src = tree / "models" / "mlm"
    out = tree / "work"
    assert convert(src, out).returncode == 0
    (out / "model_state.pdparams").write_bytes(b"fine-tuned weights")
    (out / "checkpoint-500").mkdir()
    (out / "checkpoint-500" / "model_state.pdparams").write_bytes(b"step 500")
    (out / "eval_results.txt").write_text("accuracy 0.91")
    assert subprocess.run(["git", "init", "-q", str(out)]).returncode == 0
    before = snapshot(tree)
    r = convert(src, out, "--overwrite")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert ".git/, checkpoint-500/, eval_results.txt and 1 more" in r.stderr and "nothing was touched" in r.stderr
    assert snapshot(tree) == before
    assert not [p for p in os.listdir(tree) if ".tmp-" in p or ".old-" in p]


@pytest.mark.parametrize("change", ["edited", "saved over"])
def test_overwrite_refuses_a_listed_file_the_user_changed(tree, change):
    src = tree / "models" / "mlm"
    out = tree / "work"
    assert convert(src, out, "--format", "pdparams").returncode == 0
    if change == "edited":  # same size, other bytes: only the hash tells
        config = (out / "config.json").read_text()
        (out / "config.json").write_text(config.replace('"gelu"', '"relu"'))
        name = "config.json"
    else:  # PaddleNLP's save_pretrained after fine-tuning writes model_state.pdparams again
        (out / "model_state.pdparams").write_bytes(b"fine-tuned")
        name = "model_state.pdparams"
    before = snapshot(tree)
    r = convert(src, out, "--overwrite", "--format", "pdparams")
    assert r.returncode == 2 and f"({name} (changed))" in r.stderr, r.stderr
    assert snapshot(tree) == before


def test_overwrite_of_an_earlier_versions_directory(tree):
    """A marker without the file list (earlier versions): replaced when it holds only names this tool writes,
    refused when it holds anything else, or both weights formats (one of them is someone else's)."""
    src = tree / "models" / "mlm"
    out = tree / "old"
    assert convert(src, out).returncode == 0
    record = json.loads((out / "conversion.json").read_text())
    del record["files"]
    (out / "conversion.json").write_text(json.dumps(record))
    (out / "notes.md").write_text("mine")
    before = snapshot(tree)
    r = convert(src, out, "--overwrite")
    assert r.returncode == 2 and "(notes.md)" in r.stderr and snapshot(tree) == before, r.stderr
    os.remove(out / "notes.md")
    (out / "model_state.pdparams").write_bytes(b"saved by PaddleNLP")
    before = snapshot(tree)
    r = convert(src, out, "--overwrite")
    assert r.returncode == 2 and "model_state.pdparams" in r.stderr and snapshot(tree) == before, r.stderr
    os.remove(out / "model_state.pdparams")
    stamp = os.stat(out / "conversion.json").st_mtime
    os.utime(out / "model.safetensors", (stamp + 5, stamp + 5))  # saved over by a fine-tune seconds later
    before = snapshot(tree)
    r = convert(src, out, "--overwrite")
    assert r.returncode == 2 and "model.safetensors (changed)" in r.stderr and snapshot(tree) == before, r.stderr
    os.utime(out / "model.safetensors", (stamp - 1, stamp - 1))
    assert convert(src, out, "--overwrite").returncode == 0
    assert "files" in json.loads((out / "conversion.json").read_text())


def test_out_changed_while_converting_is_not_replaced(tree, monkeypatch):
    """The check runs again just before the swap: a file saved into OUT meanwhile keeps OUT as it is."""
    import importlib

    from paddle_roberta.errors import ConversionError

    conv = importlib.import_module("paddle_roberta.convert")  # the module (the package's convert is the function)

    src = tree / "models" / "mlm"
    out = tree / "work"
    conv.convert(src, out, verify=False)

    def user_saves(stage, detail):
        if stage == "written":
            (out / "eval_results.txt").write_text("written meanwhile")

    before = {p: (out / p).read_bytes() for p in os.listdir(out) if p != "eval_results.txt"}
    with pytest.raises(ConversionError, match=r"eval_results\.txt.*found just before replacing it"):
        conv.convert(src, out, verify=False, overwrite=True, on_stage=user_saves)
    assert {p: (out / p).read_bytes() for p in os.listdir(out) if p != "eval_results.txt"} == before
    assert not [p for p in os.listdir(tree) if ".tmp-" in p or ".old-" in p]


def test_exports_overwrite_by_the_same_rules(tree):
    src = tree / "models" / "mlm"
    paddle_dir, hf = tree / "paddle", tree / "hf-out"
    assert convert(src, paddle_dir).returncode == 0
    export = [*CLI, "export", str(paddle_dir), str(hf), "--no-verify", "--quiet"]
    assert subprocess.run(export, capture_output=True, timeout=300).returncode == 0
    # its own: replaced
    assert subprocess.run(export + ["--overwrite"], capture_output=True, timeout=300).returncode == 0
    (hf / "pytorch_model.bin").write_bytes(b"trained in torch afterwards")
    before = snapshot(tree)
    r = subprocess.run(export + ["--overwrite"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "(pytorch_model.bin)" in r.stderr and snapshot(tree) == before, r.stderr
