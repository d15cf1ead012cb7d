"""paddle_roberta.from_pretrained's dtype: honoured for converted directories and Hugging Face sources alike;
on CPU a float16/bfloat16 directory loads as float32 by default, with a warning, and runs."""

import json
import warnings

import numpy as np
import pytest
import torch
from conftest import ATOL, TINY

from paddle_roberta import ConversionError, convert, from_pretrained
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.parity import compare as parity

CONFIG = dict(TINY["roberta"], num_labels=3)


def rounded_torch_logits(model, dtype, inputs):
    """The torch original with every weight rounded to ``dtype`` as the conversion rounds them, run in float32:
    what a half directory loaded as float32 must compute (float32 math on the rounded weights)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(getattr(torch, dtype)).float())
    return parity.run_torch(model, inputs)["logits"]


def our_warnings(record):
    return [str(w.message) for w in record if "paddle_roberta" in str(w.filename) or "loaded as" in str(w.message)]


@pytest.fixture(scope="module", params=["float16", "bfloat16"])
def half_dir(request, tmp_path_factory, paddle_quiet):
    """A RoBERTa classifier converted to float16 or bfloat16, and the float32 torch logits on its rounded weights."""
    dtype, tmp = request.param, tmp_path_factory.mktemp(request.param)
    model = build_checkpoint(str(tmp / "hf"), "RobertaForSequenceClassification", CONFIG, seed=8)
    convert(tmp / "hf", tmp / "out", dtype=dtype, verify=False)
    assert json.loads((tmp / "out" / "config.json").read_text())["dtype"] == dtype
    return tmp / "out", dtype, rounded_torch_logits(model, dtype, logits_inputs())


def logits_inputs():
    return parity.make_batch("roberta", "ForSequenceClassification", CONFIG["vocab_size"],
                             CONFIG["max_position_embeddings"],
                             CONFIG["pad_token_id"], seed=7)


def assert_runs_as_float32(model, want):
    """A forward on CPU, compared with the float32 torch model on the same rounded weights at the float32 bar."""
    got = parity.run_paddle(model, logits_inputs())["logits"]
    assert np.abs(got - want).max() <= ATOL, np.abs(got - want).max()
    assert all(str(p.dtype).endswith("float32") for p in model.parameters())


def test_half_directory_loads_as_float32_on_cpu_by_default(half_dir):
    out, dtype, want = half_dir
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = from_pretrained(out)
    assert_runs_as_float32(model, want)
    assert (f"{out}: {dtype} weights loaded as float32 (Paddle has no CPU {dtype} kernels)"
            in " ".join(our_warnings(record)))


def test_half_directory_with_dtype_float32(half_dir):
    out, dtype, want = half_dir
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = from_pretrained(out, dtype="float32")
    assert_runs_as_float32(model, want)
    assert not our_warnings(record), our_warnings(record)


def test_half_directory_with_its_own_dtype_is_kept_with_a_warning(half_dir):
    """For a GPU: an explicit dtype=<half> is honoured on CPU too, with a warning that forwards need a GPU."""
    out, dtype, _ = half_dir
    with pytest.warns(UserWarning, match=f"loaded as {dtype} on CPU, where Paddle has no {dtype} kernels"):
        kept = from_pretrained(out, dtype=dtype)
    assert all(str(p.dtype).endswith(dtype) for p in kept.parameters())


def test_dtype_for_a_hugging_face_source_converts_and_loads_in_it(tmp_path, paddle_quiet, monkeypatch):
    """For a source, dtype is the dtype of the cached conversion and of the model: each dtype its own cache entry."""
    monkeypatch.setenv("PADDLE_ROBERTA_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "RobertaForSequenceClassification", CONFIG, seed=9)
    with pytest.warns(UserWarning, match="loaded as float16 on CPU"):
        half = from_pretrained(src, dtype="float16", verify=False)
    assert all(str(p.dtype).endswith("float16") for p in half.parameters())
    full = from_pretrained(src, verify=False)
    got = parity.run_paddle(full, logits_inputs())["logits"]
    assert np.abs(got - parity.run_torch(model, logits_inputs())["logits"]).max() <= ATOL
    dtypes = sorted(json.loads(p.read_text())["dtype"] for p in (tmp_path / "cache").glob("*/config.json"))
    assert dtypes == ["float16", "float32"]


def test_an_unknown_dtype_is_refused_in_one_line(tmp_path, paddle_quiet):
    src, out = tmp_path / "hf", tmp_path / "out"
    build_checkpoint(str(src), "RobertaForSequenceClassification", CONFIG, seed=10)
    convert(src, out, verify=False)
    with pytest.raises(ConversionError, match=r"^dtype 'int8' is not one of float32, float16, bfloat16 "
                                              r"\(loading .*out\)$"):
        from_pretrained(out, dtype="int8")
