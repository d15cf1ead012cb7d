"""export --to inference: a static graph for paddle.inference, run through the predictor and compared."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import HEADS, TINY, VOCAB, hf_class

from paddle_roberta import ConversionError, convert
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.export_inference import export_inference
from paddle_roberta.parity import compare as parity
from paddle_roberta.serving import Predictor

CASES = [(f, h) for f in HEADS for h in HEADS[f]]


@pytest.mark.parametrize("family,head", CASES)
def test_every_head_exports_and_agrees_with_torch(tmp_path, paddle_quiet, family, head):
    """Verified at export against the torch original on verify's sentences (tokenized by the helper), then
    loaded again in a fresh predictor, oneDNN on and off, on a batch of another shape: dynamic batch and length.
    The same for the ONNX export (``--to onnx``) run by onnxruntime."""
    import transformers  # noqa: F401  (in this process before paddle, as the CLI imports them)

    src, pd, served = tmp_path / "hf", tmp_path / "paddle", tmp_path / "served"
    config = dict(TINY[family], num_labels=2 if head == "ForQuestionAnswering" else 3, vocab_size=700,
                  max_position_embeddings=66)
    model = build_checkpoint(str(src), hf_class(family, head), config, seed=40, vocab=VOCAB[family])
    convert(src, pd, verify=False)
    result = export_inference(pd, served, source=src)
    report = result.verify_report
    assert report["ok"] and report["reference"].startswith("torch") and len(report["outputs"]) >= 1
    spec = json.loads((served / "inference.json").read_text())
    assert [i["name"] for i in spec["inputs"]] == ["input_ids",
                                                   "attention_mask"] + (["token_type_ids"] if family == "bert" else [])
    assert spec["rank"] == (3 if head == "ForMultipleChoice" else 2)

    inputs = parity.make_batch(family, head, config["vocab_size"], config["max_position_embeddings"],
                               config["pad_token_id"],
                               seed=1, batch=5, seq=23, num_choices=2)
    want = parity.run_torch(model, inputs)
    real = inputs["attention_mask"].reshape(-1, inputs["attention_mask"].shape[-1]).astype(bool)
    # the same graph as ONNX (export --to onnx), verified against torch at export the same way, run by onnxruntime
    onnx_report = export_inference(pd, tmp_path / "onnx", source=src, to="onnx").verify_report
    assert onnx_report["ok"] and onnx_report["text"].startswith("onnxruntime (ONNX opset 17")
    assert json.loads((tmp_path / "onnx" / "inference.json").read_text())["outputs"] == spec["outputs"]
    runs = [Predictor(str(served), mkldnn=True), Predictor(str(served), mkldnn=False),
            Predictor(str(tmp_path / "onnx"))]
    assert runs[2].engine == "onnxruntime"
    for predictor in runs:
        got = predictor.run(inputs)
        for name in spec["outputs"]:
            ref = want["hidden_states"][-1] if name == "last_hidden_state" else want[name]
            d = parity.diff(name, ref, got[name].reshape(ref.shape), real if name in spec["per_token"] else None)
            d.input_scale = parity.diff("h", want["hidden_states"][-1], want["hidden_states"][-1], real).scale
            assert d.within(1e-5), (name, predictor.description, predictor.engine, d)


def test_helper_runs_from_text_and_cli(tmp_path, paddle_quiet):
    src, pd, served = tmp_path / "hf", tmp_path / "paddle", tmp_path / "served"
    config = dict(TINY["bert"], vocab_size=700, max_position_embeddings=66)
    build_checkpoint(str(src), "BertForSequenceClassification", config, seed=41, vocab="wordpiece")
    convert(src, pd, verify=False)
    r = subprocess.run([sys.executable, "-m", "paddle_roberta", "export", str(pd), str(served), "--to", "inference"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "vs dygraph PaddleNLP model" in r.stdout and "PASS" in r.stdout, r.stdout + r.stderr
    predictor = Predictor(str(served))
    out = predictor(["中国的首都是北京。", "Hello world, a longer second text"], ["第二句", "pair"])
    assert out["logits"].shape == (2, 3) and np.isfinite(out["logits"]).all()
    assert "Predictor" in (served / "README.md").read_text() and (served / "tokenizer_config.json").exists()


def test_refusals(tmp_path, paddle_quiet):
    src, pd = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertModel", TINY["bert"])
    convert(src, pd, verify=False)
    with pytest.raises(ConversionError, match="a Hugging Face directory, not a PaddleNLP one"):
        export_inference(src, tmp_path / "a")
    with pytest.raises(ConversionError, match="inside the source"):
        export_inference(pd, pd / "inside")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "f").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        export_inference(pd, tmp_path / "taken")
    with pytest.raises(ConversionError, match="no such directory"):
        export_inference(tmp_path / "missing", tmp_path / "b")
    with pytest.raises(ConversionError, match="missing: no such directory \\(--source"):
        export_inference(pd, tmp_path / "c", source=tmp_path / "missing")
    r = subprocess.run([sys.executable, "-m", "paddle_roberta", "export", str(tmp_path), str(tmp_path / "d"),
                        "--to", "inference"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "config.json" in r.stderr, r.stderr
    assert (tmp_path / "taken" / "f").read_text() == "mine"
    assert not any((tmp_path / n).exists() for n in "abcd") and not list(tmp_path.glob(".*tmp*"))
