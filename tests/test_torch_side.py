"""Verification's torch side in a helper process (parity/torch_side.py): same report as in-process, torch never
imported by the converting process, the helper gone afterwards whatever happened, nothing but JSON and arrays
on the pipe."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY

from paddle_roberta import ConversionError
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.parity import torch_side
from paddle_roberta.parity.verify import verify


@pytest.fixture(scope="module")
def converted(tmp_path_factory, paddle_quiet):
    from paddle_roberta import convert

    tmp = tmp_path_factory.mktemp("torch-side")
    src, out = tmp / "hf", tmp / "pd"
    build_checkpoint(str(src), "RobertaForMaskedLM", dict(TINY["roberta"], vocab_size=700, max_position_embeddings=66),
                     seed=47, vocab="bpe")
    convert(src, out, verify=False)
    return src, out


def test_the_helper_gives_the_in_process_report(converted):
    src, out = converted
    here = verify(str(src), str(out))
    with torch_side.TorchProcess() as helper:
        there = verify(str(src), str(out), torch_side=helper)
    assert here["ok"] and there["ok"]
    assert json.dumps(here.to_json(), sort_keys=True) == json.dumps(there.to_json(), sort_keys=True)


def test_convert_leaves_torch_to_the_helper_and_the_helper_is_reused(converted, tmp_path):
    """A safetensors source converted with verification: the converting process never imports torch or
    transformers, the report is there; the helper is kept for the next conversion of the process, which reuses it
    (the same process, half the time or less: no imports, the model loaded), a failed one ends it, and none outlives
    the process."""
    src, _ = converted
    code = """
import os, sys, json
from paddle_roberta import convert, ConversionError

def children():
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                    found.append(p)
        except OSError:  # gone while listing
            pass
    return found

import time
t = time.perf_counter()
r = convert(sys.argv[1], sys.argv[2])
first_s = time.perf_counter() - t
first = children()
t = time.perf_counter()
again = convert(sys.argv[1], sys.argv[2] + "-again")
second_s = time.perf_counter() - t
second = children()
try:
    convert(sys.argv[1], sys.argv[2] + "-2", head="RobertaForSequenceClassification")
except ConversionError as e:
    failed = str(e)
print(json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "ok": r.verify_report["ok"] and again.verify_report["ok"], "children": first, "second": second,
                  "after": children(), "failed": failed, "first_s": first_s, "second_s": second_s}))
"""
    r = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "out")], capture_output=True, text=True,
                       cwd=Path(torch_side.__file__).resolve().parents[2])  # this checkout's package
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["ok"] and not got["torch"] and not got["transformers"], got
    assert len(got["children"]) == 1 and got["second"] == got["children"] and got["after"] == [], got
    assert got["second_s"] <= 0.5 * got["first_s"], got
    assert "RobertaForSequenceClassification" in got["failed"], got
    helper = int(got["children"][0])
    assert not os.path.exists(f"/proc/{helper}") or "Z" in open(f"/proc/{helper}/stat").read().rsplit(")", 1)[1][:3]


def test_an_error_in_the_helper_comes_back_by_name(tmp_path):
    """Raised as the same type's name and first line as in-process (the gate's "could not run (Type: ...)")."""
    args = dict(src=str(tmp_path / "missing"), hf_class="RobertaModel", use_safetensors=False, is_decoder=False,
                dtype="float32")
    with pytest.raises(Exception) as here:
        torch_side.TorchSide().call("load", **args)
    with torch_side.TorchProcess() as helper:
        with pytest.raises(Exception) as e:
            helper.call("load", **args)
        assert (type(e.value).__name__ == type(here.value).__name__
                and str(tmp_path / "missing") in str(e.value)), repr(e.value)
        assert helper.call("ids", texts=[]) == []  # and it still answers


def test_the_pipe_carries_no_pickle():
    """An object array would need pickle: it is refused when read, never unpickled."""
    message = torch_side._pack({"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        torch_side._unpack(io.BytesIO(message).read)
    back = torch_side._unpack(io.BytesIO(torch_side._pack({"a": [np.arange(3), {"b": np.ones((2, 2), np.float32)}],
                                                           "n": 1})).read)
    assert back["n"] == 1 and back["a"][0].tolist() == [0, 1, 2] and back["a"][1]["b"].dtype == np.float32


def test_convert_without_verification_starts_no_helper(converted, tmp_path, monkeypatch):
    from paddle_roberta import convert

    def refuse():
        raise AssertionError("a helper was started")

    monkeypatch.setattr(torch_side, "TorchProcess", refuse)
    convert(converted[0], tmp_path / "out", verify=False)
    with torch_side.helper() as side:
        assert isinstance(side, torch_side.TorchSide)  # transformers is imported here: no helper
    with pytest.raises(ConversionError, match="already exists"):
        convert(converted[0], tmp_path / "out")
