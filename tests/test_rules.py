"""The converter's rules: nothing dropped, guessed or initialised silently; inputs in every form."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ATOL, TINY, read_output
from safetensors.numpy import load_file, save_file

from paddle_roberta import ConversionError, convert
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.parity.check import check


def edit_safetensors(src, fn):
    path = os.path.join(src, "model.safetensors")
    tensors = load_file(path)
    fn(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def edit_config(src, **changes):
    path = os.path.join(src, "config.json")
    config = json.load(open(path))
    config.update(changes)
    json.dump(config, open(path, "w"))


@pytest.fixture
def bert_mlm(tmp_path):
    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "BertForMaskedLM", TINY["bert"], seed=1)
    return src, model


def assert_refused(src, out, *words):
    with pytest.raises(ConversionError) as err:
        convert(src, out)
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message
    assert not os.path.exists(out)
    assert not [p for p in os.listdir(os.path.dirname(out)) if p.startswith(".")], "temporary files left behind"
    return message


def test_unknown_tensor_is_an_error(bert_mlm, tmp_path):
    src, _ = bert_mlm
    edit_safetensors(src, lambda t: t.update({"bert.encoder.layer.0.adapter.weight": np.ones((2, 2), np.float32)}))
    assert_refused(src, tmp_path / "out", "bert.encoder.layer.0.adapter.weight", "not used")


def test_missing_tensor_is_an_error(bert_mlm, tmp_path):
    src, _ = bert_mlm
    edit_safetensors(src, lambda t: t.pop("bert.encoder.layer.1.output.dense.bias"))
    assert_refused(src, tmp_path / "out", "bert.encoder.layer.1.output.dense.bias", "missing")


def test_shape_contradicting_config_is_an_error(bert_mlm, tmp_path):
    src, _ = bert_mlm
    edit_config(src, intermediate_size=38)
    assert_refused(src, tmp_path / "out", "intermediate.dense.weight", "[38, 20]", "config.json")


def test_vocab_size_mismatch_is_reported(bert_mlm, tmp_path):
    src, _ = bert_mlm
    edit_config(src, vocab_size=90)  # like a config saying 8021 beside a 21128-row embedding
    assert_refused(src, tmp_path / "out", "vocab_size 90", "word_embeddings.weight", "97 rows")


def test_untied_decoder_is_refused(tmp_path):
    src = tmp_path / "hf"
    build_checkpoint(str(src), "BertForMaskedLM", TINY["bert"], seed=1, fmt="bin")
    state = torch.load(src / "pytorch_model.bin", weights_only=True)
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1.0
    torch.save(state, src / "pytorch_model.bin")
    assert_refused(src, tmp_path / "out", "cls.predictions.decoder.weight", "ties")


def test_nan_weights_are_refused(bert_mlm, tmp_path):
    src, _ = bert_mlm
    def poison(t):
        t["bert.encoder.layer.0.intermediate.dense.weight"][3, 4] = np.nan
    edit_safetensors(src, poison)
    assert_refused(src, tmp_path / "out", "bert.encoder.layer.0.intermediate.dense.weight", "NaN")


def test_causal_bert_has_no_paddle_class(tmp_path):
    src = tmp_path / "hf"
    build_checkpoint(str(src), "BertLMHeadModel", dict(TINY["bert"], is_decoder=True))
    assert_refused(src, tmp_path / "out", "BertLMHeadModel", "PaddleNLP has no BertForCausalLM")


def test_old_layer_norm_gamma_beta_names(bert_mlm, tmp_path, paddle_quiet):
    src, model = bert_mlm
    def rename(t):
        for k in [k for k in t if "LayerNorm" in k]:
            t[k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")] = t.pop(k)
    edit_safetensors(src, rename)
    assert any(k.endswith("gamma") for k in load_file(src / "model.safetensors"))
    convert(src, tmp_path / "out")
    assert all(d.within(ATOL) for d in check(str(src), str(tmp_path / "out"), torch_model=model).rows)


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_sharded_checkpoint(tmp_path, paddle_quiet, fmt):
    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "RobertaForMaskedLM", TINY["roberta"], seed=2, fmt="safetensors")
    for f in os.listdir(src):
        if f.startswith("model"):
            os.remove(src / f)
    model.save_pretrained(src, safe_serialization=fmt == "safetensors", max_shard_size="20KB")
    index = json.load(open(src / ("model.safetensors.index.json" if fmt == "safetensors"
                                  else "pytorch_model.bin.index.json")))
    assert len(set(index["weight_map"].values())) > 2
    convert(src, tmp_path / "out")
    assert all(d.within(ATOL) for d in check(str(src), str(tmp_path / "out"), torch_model=model).rows)


def test_sharded_index_naming_missing_shard(tmp_path):
    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "BertModel", TINY["bert"])
    os.remove(src / "model.safetensors")
    model.save_pretrained(src, max_shard_size="20KB")
    shard = sorted(p for p in os.listdir(src) if p.endswith(".safetensors"))[1]
    os.remove(src / shard)
    assert_refused(src, tmp_path / "out", shard, "index.json")


@pytest.mark.parametrize("src_dtype", [torch.float16, torch.bfloat16])
def test_half_precision_sources_upcast_exactly(tmp_path, paddle_quiet, src_dtype):
    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "BertForSequenceClassification", TINY["bert"], seed=4, fmt="bin")
    model.to(src_dtype).save_pretrained(src)  # safetensors in float16/bfloat16 beside the .bin: safetensors wins
    result = convert(src, tmp_path / "out")
    assert any("written as float32" in n and "--dtype" in n for n in result.notes), result.notes  # said, not silent
    weights = read_output(tmp_path / "out")
    state = model.state_dict()
    for e in result.plan.entries:
        if not e.synthesized:
            want = state[e.srcs[0]].float().numpy()
            np.testing.assert_array_equal(weights[e.dst], want.T if e.transpose else want)
    model.float()  # the half-precision values, computed in float32 on both sides
    assert all(d.within(ATOL) for d in check(str(src), str(tmp_path / "out"), torch_model=model).rows)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("out_format", ["safetensors", "pdparams"])
def test_output_dtype(tmp_path, paddle_quiet, dtype, out_format):
    import paddlenlp.transformers as pt

    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "RobertaForMaskedLM", TINY["roberta"], seed=5)
    result = convert(src, tmp_path / "out", dtype=dtype, format=out_format)  # verified, as float32
    assert result.verify_report["ok"] and result.verify_report["dtype"] == dtype
    weights = read_output(tmp_path / "out")
    state = model.state_dict()
    for e in result.plan.entries:
        if not e.synthesized:  # rounded as torch rounds: to nearest even
            want = state[e.srcs[0]].to(getattr(torch, dtype)).float().numpy()
            np.testing.assert_array_equal(np.asarray(weights[e.dst], np.float32), want.T if e.transpose else want,
                                          err_msg=e.dst)
    assert json.load(open(tmp_path / "out" / "config.json"))["dtype"] == dtype
    loaded = pt.RobertaForMaskedLM.from_pretrained(str(tmp_path / "out"))
    assert str(loaded.lm_head.dense.weight.dtype).endswith(dtype)  # for a GPU
    on_cpu = pt.RobertaForMaskedLM.from_pretrained(str(tmp_path / "out"), dtype="float32")  # as the model card says
    assert str(on_cpu.lm_head.dense.weight.dtype).endswith("float32")


def test_multiple_choice_num_choices(tmp_path, paddle_quiet):
    src, out = tmp_path / "hf", tmp_path / "out"
    model = build_checkpoint(str(src), "BertForMultipleChoice", TINY["bert"], seed=6)
    convert(src, out, num_choices=3)
    assert json.load(open(out / "config.json"))["num_choices"] == 3
    assert all(d.within(ATOL) for d in check(str(src), str(out), torch_model=model).rows)


def tree_digest(path):
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        for f in sorted(files):
            h.update(f.encode())
            h.update(open(os.path.join(root, f), "rb").read())
    return h.hexdigest()


def test_source_untouched_and_no_paddle_import(bert_mlm, tmp_path):
    """Conversion writes nothing beside the source (the incumbent caches there) and, unverified,
    imports neither paddle, paddlenlp nor, for safetensors, torch."""
    src, _ = bert_mlm
    before = tree_digest(src)
    code = (
        "import sys; from paddle_roberta import convert; convert(sys.argv[1], sys.argv[2], verify=False);"
        "bad = [m for m in ('paddle', 'paddlenlp', 'torch', 'transformers') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "out")], check=True)
    assert tree_digest(src) == before
    assert sorted(os.listdir(tmp_path / "out")) == ["README.md", "config.json", "conversion.json", "model.safetensors"]


def test_existing_output_needs_overwrite(bert_mlm, tmp_path):
    src, _ = bert_mlm
    out = tmp_path / "out"
    convert(src, out)
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        convert(src, out)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(ConversionError, match=r"\(keep\.txt\)"):  # not its own: --overwrite refuses too (issue 19)
        convert(src, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    os.remove(out / "keep.txt")
    convert(src, out, overwrite=True)  # its own earlier output, unchanged: replaced
    assert sorted(os.listdir(out)) == ["README.md", "config.json", "conversion.json", "model.safetensors"]


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    src = tmp_path / "hf"
    build_checkpoint(str(src), "BertModel", TINY["bert"], fmt="bin")
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, src / "pytorch_model.bin")
    assert_refused(src, tmp_path / "out", "pytorch_model.bin", "nothing in it was run")
    assert not sentinel.exists()


def test_cli(bert_mlm, tmp_path):
    src, _ = bert_mlm
    cli = [sys.executable, "-m", "paddle_roberta"]
    ok = subprocess.run(cli + ["convert", str(src), str(tmp_path / "out"), "--quiet"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.load(open(tmp_path / "out" / "config.json"))["architectures"] == ["BertForMaskedLM"]
    bad = subprocess.run(cli + ["convert", str(tmp_path / "nope"), str(tmp_path / "out2")], capture_output=True,
                         text=True)
    assert bad.returncode == 2  # refused before any framework import (preflight)
    assert bad.stderr.strip().count("\n") == 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize("out_format", ["safetensors", "pdparams"])
@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_large_tensors_stream_in_blocks(tmp_path, monkeypatch, fmt, out_format):
    """Tensors above files.stream.BLOCK_BYTES go through memory a block of rows at a time (XLM-R's 733 MiB word
    embedding): with a block of 3 rows every tensor here is cut, the tied decoder is compared block by
    block, and the output is still bit-identical; a NaN in a late block and an untied decoder are refused."""
    import importlib

    conv = importlib.import_module("paddle_roberta.files.stream")
    monkeypatch.setattr(conv, "BLOCK_BYTES", 3 * TINY["xlm-roberta"]["hidden_size"] * 4)
    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "XLMRobertaForMaskedLM", TINY["xlm-roberta"], seed=3, fmt=fmt)
    result = convert(src, tmp_path / "out", format=out_format, verify=False)
    source = {k: v.numpy() for k, v in model.state_dict().items()}
    weights = read_output(tmp_path / "out")
    for e in result.plan.entries:
        if not e.synthesized:
            np.testing.assert_array_equal(weights[e.dst], source[e.srcs[0]].T if e.transpose else source[e.srcs[0]])

    word = "roberta.embeddings.word_embeddings.weight"
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["lm_head.decoder.weight"] = state[word].clone()
    state["lm_head.decoder.weight"][-2, 5] += 1e-3  # a late block of the tied pair differs
    torch.save(state, src / "pytorch_model.bin")
    (src / "model.safetensors").unlink(missing_ok=True)
    assert_refused(src, tmp_path / "untied", "lm_head.decoder.weight differs from", "ties them")
    state["lm_head.decoder.weight"] = state[word]
    state[word] = state[word].clone()
    state[word][-1, 0] = float("nan")
    state["lm_head.decoder.weight"] = state[word]
    torch.save(state, src / "pytorch_model.bin")
    assert_refused(src, tmp_path / "nan", word, "NaN or Inf")
