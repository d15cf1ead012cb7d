"""export --to onnx beyond the head × family grid (tests/test_inference.py runs that one for ONNX too): a
sentence-transformers model with its pooling in the graph, a model fine-tuned in Paddle, the task pipelines and
threads on the ONNX export, and the refusals (a module not installed, bfloat16, a graph paddle2onnx cannot convert,
SimpleServer), each in one line with nothing written."""

import json
import threading
import types

import numpy as np
import pytest
from conftest import TINY

from paddle_roberta import ConversionError, convert, pipeline
from paddle_roberta.cli import main
from paddle_roberta.dev.synthetic import build_checkpoint, build_sentence_transformer
from paddle_roberta.export_inference import export_inference
from paddle_roberta.inference import onnx as onnx_stage
from paddle_roberta.serving import Predictor

TEXTS = ["中国的首都是北京。", "It is a sunny day, let's go for a walk in the park!", "short", "emoji 🙂 and 李白",
         "a much longer text " * 6]


def within(got, want, atol=1e-5):
    """|got - want| <= atol x max(1, max|want|): float32 kernels of two engines differ by rounding only."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    err, bar = float(np.abs(got - want).max()), atol * max(1.0, float(np.abs(want).max()))
    assert err <= bar, (err, bar)
    return err


@pytest.fixture(scope="module")
def ner(tmp_path_factory, paddle_quiet):
    """A RoBERTa token classifier (byte-level BPE, 5 labels): its source, PaddleNLP directory and ONNX export."""
    tmp = tmp_path_factory.mktemp("onnx")
    src, pd, out = tmp / "hf", tmp / "paddle", tmp / "onnx"
    config = dict(TINY["roberta"], vocab_size=700, max_position_embeddings=130, num_labels=5,
                  id2label={i: label for i, label in enumerate(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])})
    build_checkpoint(str(src), "RobertaForTokenClassification", config, seed=8, vocab="bpe")
    convert(src, pd, verify=False)
    export_inference(pd, out, source=src, to="onnx")
    return src, pd, out


def test_sentence_model_keeps_its_pooling_in_the_onnx_graph(tmp_path, paddle_quiet):
    """Mean pooling, a Dense and Normalize inside the ONNX graph: verified at export against sentence-transformers'
    encode of the original, and ``Predictor.encode`` on it gives SentenceTransformer.encode's vectors."""
    from sentence_transformers import SentenceTransformer

    src, pd, out = tmp_path / "st", tmp_path / "st-paddle", tmp_path / "st-onnx"
    build_sentence_transformer(str(src), "bert", dict(TINY["bert"], vocab_size=300, max_position_embeddings=66),
                               modes=("mean",), dense=[(12, "Tanh")], normalize=True, seed=5)
    convert(src, pd, verify=False)
    report = export_inference(pd, out, source=src, to="onnx").verify_report
    assert report.ok and "sentence-transformers on the torch original" in report["text"], report["text"]
    spec = json.loads((out / "inference.json").read_text())
    assert spec["outputs"] == ["sentence_embedding"] and spec["engine"] == "onnxruntime"
    assert not (out / "auto_static").exists() and (out / "model.onnx").is_file()
    got = Predictor(str(out)).encode(TEXTS)
    want = SentenceTransformer(str(src), device="cpu").encode(TEXTS)
    assert got.shape == (len(TEXTS), 12)
    within(got, want)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_a_model_fine_tuned_in_paddle_exports_to_onnx(tmp_path, paddle_quiet):
    """Fine-tuned in Paddle (3 AdamW steps), saved in place of the conversion: the ONNX export is verified against
    the fine-tuned dygraph model, and onnxruntime gives its logits, not the converted ones."""
    import paddle
    import paddlenlp.transformers as pt

    src, pd = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertForSequenceClassification", dict(TINY["bert"], vocab_size=700,
                                                                     max_position_embeddings=66), seed=9,
                     vocab="wordpiece")
    convert(src, pd, verify=False)
    tok = pt.AutoTokenizer.from_pretrained(str(pd))
    model = pt.AutoModelForSequenceClassification.from_pretrained(str(pd))
    batch = tok(TEXTS, padding=True, return_attention_mask=True, return_tensors="pd")
    model.eval()
    before = model(**batch).numpy()
    model.train()
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-2, parameters=model.parameters())
    for _ in range(3):
        loss = paddle.nn.functional.cross_entropy(model(**batch), paddle.to_tensor([0, 1, 2, 0, 1]))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    model.eval()
    model.save_pretrained(str(pd))  # in place, as users do
    tuned = model(**batch).numpy()
    assert np.abs(tuned - before).max() > 1e-2
    # save_pretrained wrote model_state.pdparams beside the converted model.safetensors: the fine-tune is picked
    result = export_inference(pd, tmp_path / "onnx", to="onnx", weights=str(pd / "model_state.pdparams"))
    assert result.verify_report.ok and "vs dygraph PaddleNLP model" in result.verify_report["text"]
    got = Predictor(str(tmp_path / "onnx"))(TEXTS)["logits"]
    within(got, tuned)


def test_pipelines_answer_the_same_on_the_onnx_export(ner):
    """token-classification on the ONNX export: the same entities, words and offsets as on the PaddleNLP directory,
    scores within 1e-5 (the engines' float32 rounding)."""
    for strategy in ("none", "simple", "max"):
        want = pipeline("token-classification", str(ner[1]), aggregation_strategy=strategy)(TEXTS)
        got = pipeline("token-classification", str(ner[2]), aggregation_strategy=strategy)(TEXTS)
        for g_text, w_text in zip(got, want):
            assert [{k: v for k, v in e.items() if k != "score"} for e in g_text] == \
                   [{k: v for k, v in e.items() if k != "score"} for e in w_text]
            for g, w in zip(g_text, w_text):
                assert abs(g["score"] - w["score"]) <= 1e-5


def test_one_onnx_predictor_shared_by_four_threads(ner):
    predictor = Predictor(str(ner[2]))
    batches = [TEXTS[:1], TEXTS[1:3], TEXTS[2:5], TEXTS]
    want = [predictor(b)["logits"] for b in batches]
    got, errors, start = [[] for _ in batches], [], threading.Barrier(4)

    def serve(i):
        try:
            start.wait()
            for _ in range(20):
                got[i].append(predictor(batches[i])["logits"])
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(np.array_equal(g, want[i]) for i in range(4) for g in got[i]) and all(len(g) == 20 for g in got)


def test_refusals_in_one_line_with_nothing_written(ner, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(onnx_stage, "MODULES", ("paddle2onnx", "paddle2onnx_not_installed_here"))
    assert main(["export", str(ner[1]), str(out), "--to", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs paddle2onnx_not_installed_here" in err[0] and "'.[onnx]'" in err[0], err
    monkeypatch.undo()
    assert main(["export", str(ner[1]), str(out), "--to", "onnx", "--precision", "bfloat16"]) == 2
    assert "an ONNX export runs in float32" in capsys.readouterr().err
    with pytest.raises(ConversionError, match="an export for the onnxruntime engine, not paddle"):
        Predictor(str(ner[2]), engine="paddle")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_graph_paddle2onnx_cannot_convert_is_one_line(ner, tmp_path, monkeypatch):
    import paddle2onnx

    def fails(*args, **kwargs):
        print("[ERROR] Oops, there are some operators not supported yet, including pd_op.made_up,")  # as it logs
        raise NameError("name 'onnx_model_str' is not defined")  # what paddle2onnx 2.1.0 raises after logging

    monkeypatch.setattr(paddle2onnx, "export", fails)
    with pytest.raises(ConversionError) as e:
        export_inference(ner[1], tmp_path / "out", to="onnx")
    assert "paddle2onnx could not convert RobertaForTokenClassification" in str(e.value)
    assert "pd_op.made_up" in str(e.value) and "\n" not in str(e.value)
    assert sorted(tmp_path.iterdir()) == []


def test_simple_server_says_to_export_for_paddle_inference(ner, capsys):
    """At start-up, PaddleNLP's command line prints any exception as a long traceback: one line and exit 1."""
    from paddle_roberta.serving import simple_server

    server_side = types.SimpleNamespace(_model_path=str(ner[2]), _num_threads=1)
    with pytest.raises(SystemExit) as e:
        simple_server._create_predictor(server_side)
    assert e.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "an ONNX export; SimpleServer serves Paddle Inference models" in err[0], err


def test_feature_extraction_on_a_sentence_export_says_what_to_use(tmp_path, paddle_quiet):
    src, pd, out = tmp_path / "st", tmp_path / "st-paddle", tmp_path / "st-onnx"
    build_sentence_transformer(str(src), "bert", dict(TINY["bert"], vocab_size=300, max_position_embeddings=66),
                               modes=("mean",), seed=6)
    convert(src, pd, verify=False)
    export_inference(pd, out, to="onnx", verify=False)
    with pytest.raises(ValueError, match=r"sentence-transformers model's export: .*\.encode\(texts\)"):
        pipeline("feature-extraction", str(out))
    assert pipeline("feature-extraction", str(pd))("hello")[0][0]  # the converted directory's body still answers


def test_int8_quantised_export_verified_at_its_own_bar(ner, tmp_path, capsys):
    """`--quantize int8`: the float32 ONNX model verified against torch at 1e-5, the int8 one (onnxruntime's dynamic
    quantisation) against it at the int8 bar, both in the report; Predictor runs int8 by default, float32 on asking,
    and the int8 outputs really differ (quantised) within that bar. --quantize elsewhere is refused."""
    from paddle_roberta.parity.inference import LOW_PRECISION_ATOL

    out = tmp_path / "int8"
    assert main(["export", str(ner[1]), str(out), "--to", "onnx", "--quantize", "int8", "--source", str(ner[0])]) == 0
    text = capsys.readouterr().out
    assert "logits (int8), top-1" in text and "int8 rows: the int8 predictor vs the float32 one" in text, text
    spec = json.loads((out / "inference.json").read_text())
    assert (spec["model_file"], spec["float32_model_file"], spec["precision"]) == ("model.int8.onnx", "model.onnx",
                                                                                    "int8")
    assert "Exported with `--quantize int8`" in (out / "README.md").read_text()
    low, high = Predictor(str(out)), Predictor(str(out), precision="float32")
    assert (low.precision, high.precision) == ("int8", "float32")
    feed = high.tokenize(TEXTS)
    real = feed["attention_mask"].astype(bool)
    a, b = high.run(feed)["logits"][real], low.run(feed)["logits"][real]
    within(a, Predictor(str(ner[2])).run(feed)["logits"][real])  # the float32 model is the plain export's
    err = float(np.abs(a - b).max())
    assert 1e-4 < err <= LOW_PRECISION_ATOL["int8"] * max(1.0, float(np.abs(a).max())), err
    assert main(["export", str(ner[1]), str(tmp_path / "x"), "--to", "inference", "--quantize", "int8"]) == 2
    assert "--quantize int8 is for --to onnx" in capsys.readouterr().err
    with pytest.raises(ConversionError, match="no int8 model here: export with --to onnx --quantize int8"):
        Predictor(str(ner[2]), precision="int8")
    assert not (tmp_path / "x").exists()
