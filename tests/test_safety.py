"""Bad checkpoints: a clear one-line error, nothing half-written, no code run."""

import json
import os
import struct
import subprocess
import sys
import threading

import pytest
import torch
from conftest import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddle_roberta import ConversionError, Result, convert
from paddle_roberta.dev.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    src = tmp_path_factory.mktemp("good") / "hf"
    build_checkpoint(str(src), "BertForMaskedLM", TINY["bert"], seed=1)
    return src


def copy_of(good, tmp_path):
    import shutil

    dst = tmp_path / "hf"
    shutil.copytree(good, dst)
    return dst


def refuse(src, out, *words, code=1):
    """The CLI exits 1 (2: decided from the arguments and config.json before any import) with one line on stderr
    naming what is wrong, no traceback, and no OUT."""
    r = subprocess.run(CLI + ["convert", str(src), str(out), "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == code, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not os.path.exists(out)
    leftovers = [p for p in os.listdir(os.path.dirname(out)) if p.startswith("." + os.path.basename(out))]
    assert not leftovers, leftovers
    return lines[0]


def rewrite_header(path, fn):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    fn(header)
    new = json.dumps(header).encode()
    new += b" " * (-(len(new)) % 8)
    open(path, "wb").write(struct.pack("<Q", len(new)) + new + raw[8 + n :])


def test_truncated_safetensors(good, tmp_path):
    src = copy_of(good, tmp_path)
    path = src / "model.safetensors"
    os.truncate(path, os.path.getsize(path) // 2)
    refuse(src, tmp_path / "out", "model.safetensors", "not a valid safetensors file")


def test_header_length_larger_than_file(good, tmp_path):
    src = copy_of(good, tmp_path)
    path = src / "model.safetensors"
    raw = open(path, "rb").read()
    open(path, "wb").write(struct.pack("<Q", len(raw) * 2) + raw[8:])
    refuse(src, tmp_path / "out", "model.safetensors", "not a valid safetensors file")


def test_header_not_utf8_json(good, tmp_path):
    src = copy_of(good, tmp_path)
    path = src / "model.safetensors"
    raw = bytearray(open(path, "rb").read())
    raw[9:13] = b"\xff\xfe\xfd\xfc"
    open(path, "wb").write(bytes(raw))
    refuse(src, tmp_path / "out", "model.safetensors", "not a valid safetensors file")


@pytest.mark.parametrize("kind", ["overlapping", "out_of_range"])
def test_bad_data_offsets(good, tmp_path, kind):
    src = copy_of(good, tmp_path)

    def corrupt(header):
        names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
        if kind == "overlapping":
            a, b = header[names[1]]["data_offsets"]
            header[names[1]]["data_offsets"] = [a - 4, b - 4]
        else:
            a, b = header[names[-1]]["data_offsets"]
            header[names[-1]]["data_offsets"] = [a, b + 4096]

    rewrite_header(src / "model.safetensors", corrupt)
    refuse(src, tmp_path / "out", "model.safetensors")


def test_shape_contradicting_config(good, tmp_path):
    src = copy_of(good, tmp_path)
    config = json.loads((src / "config.json").read_text())
    config["intermediate_size"] = 36
    (src / "config.json").write_text(json.dumps(config))
    refuse(src, tmp_path / "out", "intermediate.dense.weight", "config.json")


@pytest.mark.parametrize(
    "config_text,words",
    [
        (None, ["config.json", "missing"]),
        ("{not json", ["config.json", "not valid JSON"]),
        ('["a list"]', ["config.json", "JSON object"]),
        (json.dumps({"model_type": "gpt2"}), ["config.json", "gpt2"]),
        (json.dumps({"architectures": ["XLNetModel"], "model_type": "bert"}), ["config.json", "XLNetModel"]),
    ],
)
def test_bad_config(good, tmp_path, config_text, words):
    src = copy_of(good, tmp_path)
    if config_text is None:
        os.remove(src / "config.json")
    else:
        (src / "config.json").write_text(config_text)
    refuse(src, tmp_path / "out", *words, code=2 if config_text in (None, "{not json", '["a list"]') else 1)


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    refuse(tmp_path / "empty", tmp_path / "out", "config.json", code=2)


def test_source_does_not_exist(tmp_path):
    refuse(tmp_path / "nope", tmp_path / "out", "nope", "no such directory", code=2)


def test_no_weights(good, tmp_path):
    src = copy_of(good, tmp_path)
    os.remove(src / "model.safetensors")
    refuse(src, tmp_path / "out", "no weights found")


def test_garbage_bin(good, tmp_path):
    src = copy_of(good, tmp_path)
    os.remove(src / "model.safetensors")
    (src / "pytorch_model.bin").write_bytes(b"\x80\x04 definitely not a checkpoint")
    refuse(src, tmp_path / "out", "pytorch_model.bin")


@pytest.mark.parametrize("zip_format", [True, False])
def test_pickle_payload_never_runs(good, tmp_path, zip_format):
    src = copy_of(good, tmp_path)
    os.remove(src / "model.safetensors")
    sentinel = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    state = {"bert.embeddings.word_embeddings.weight": torch.zeros(97, 20), "evil": Payload()}
    torch.save(state, src / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
    refuse(src, tmp_path / "out", "pytorch_model.bin", "system")  # names what it refused, runs nothing
    assert not sentinel.exists()


def test_nan_and_inf_refused(good, tmp_path):
    import numpy as np
    from safetensors.numpy import load_file, save_file

    for bad in (np.nan, np.inf):
        src = copy_of(good, tmp_path / str(bad))
        tensors = load_file(src / "model.safetensors")
        tensors["bert.encoder.layer.0.output.dense.bias"][0] = bad
        save_file(tensors, src / "model.safetensors")
        refuse(src, tmp_path / str(bad) / "out", "bert.encoder.layer.0.output.dense.bias", "NaN or Inf")


def test_output_that_cannot_be_written(good, tmp_path):
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "out"
    r = subprocess.run(CLI + ["convert", str(good), str(out)], capture_output=True, text=True)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and str(out) in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = subprocess.run(CLI + ["--debug", "convert", str(tmp_path / "nope"), str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr and "paddle_roberta.errors.UsageError" in r.stderr


def test_overwrite_replaces_only_on_success(good, tmp_path):
    out = tmp_path / "out"
    convert(good, out)
    before = (out / "model.safetensors").read_bytes()
    refuse(tmp_path / "nope", out.parent / "other", "nope", code=2)  # unrelated failure leaves out alone
    with pytest.raises(ConversionError):
        convert(tmp_path / "nope", out, overwrite=True)
    assert (out / "model.safetensors").read_bytes() == before


def test_concurrent_conversions(good, tmp_path):
    results = {}

    def run(key, out):
        try:
            results[key] = convert(good, out)
        except ConversionError as e:
            results[key] = e

    # different OUTs: both succeed
    threads = [threading.Thread(target=run, args=(i, tmp_path / f"out{i}")) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(isinstance(results[i], Result) for i in range(2))

    # the same OUT, several times over: exactly one wins each round, the rest fail cleanly, OUT is whole
    for round_ in range(3):
        results.clear()
        out = tmp_path / f"same{round_}"
        threads = [threading.Thread(target=run, args=(i, out)) for i in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        wins = [r for r in results.values() if isinstance(r, Result)]
        assert len(wins) == 1, results
        assert all("already exists" in str(r) for r in results.values() if not isinstance(r, Result))
        assert sorted(os.listdir(out)) == ["README.md", "config.json", "conversion.json", "model.safetensors"]
        assert not [p for p in os.listdir(tmp_path) if p.startswith(f".same{round_}")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_bytes_give_success_or_our_error(good, tmp_path_factory, data):
    """Flip bytes of the safetensors file (header and data) or config.json: convert either succeeds
    or raises ConversionError — no other exception, no hang."""
    import shutil

    work = tmp_path_factory.mktemp("fuzz")
    src = work / "hf"
    shutil.copytree(good, src)
    name = data.draw(st.sampled_from(["model.safetensors", "config.json"]))
    raw = bytearray((src / name).read_bytes())
    limit = min(len(raw), 4096) if name == "model.safetensors" else len(raw)  # mostly the header
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, limit - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    (src / name).write_bytes(bytes(raw))
    try:
        convert(src, work / "out")
    except ConversionError as e:
        assert "\n" not in str(e)
        assert not (work / "out").exists()
