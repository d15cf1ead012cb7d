"""A full disk names the file being written (OUT/..., as the user knows it), never the source of a copy or the
temporary sibling; one line, non-zero exit, nothing left behind."""

import errno
import os
import resource
import subprocess
import sys

import pytest

from paddle_roberta import ConversionError, convert
from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    src = tmp_path_factory.mktemp("full") / "roberta-clf"
    config = dict(SEEDS["distilroberta-base"].config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                  intermediate_size=40, vocab_size=700, num_labels=3)
    build_checkpoint(str(src), "RobertaForSequenceClassification", config, vocab="bpe")
    return src


def nothing_left(parent):
    assert sorted(os.listdir(parent)) == [], os.listdir(parent)


def test_copy_onto_a_full_disk_names_the_destination(hf, tmp_path, monkeypatch):
    """shutil.copyfile reports ENOSPC with the source as the file name (the issue's 'roberta-clf/vocab.json: No
    space left on device'): the error must say which output could not be written."""
    real = os.sendfile

    def full(out_fd, in_fd, offset, count):
        if os.readlink(f"/proc/self/fd/{out_fd}").endswith(os.sep + "vocab.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", full)
    out = tmp_path / "out" / "clf"
    with pytest.raises(ConversionError) as e:
        convert(hf, out, verify=False)
    assert str(e.value) == f"writing {out}/vocab.json: No space left on device"
    nothing_left(tmp_path / "out")


def test_write_past_the_file_size_limit_names_the_file(hf, tmp_path):
    """A real failed write(2), which Python reports without a file name: RLIMIT_FSIZE makes the kernel refuse
    (EFBIG) every byte past 20 kB of any file this process writes, here the weights."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "clf"
    r = subprocess.run(CLI + ["convert", str(hf), str(out), "--no-verify"], capture_output=True, text=True,
                       preexec_fn=limit, timeout=300)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"paddle-roberta: error: writing {out}/model.safetensors: File too large"], r.stderr
    nothing_left(tmp_path / "out")
