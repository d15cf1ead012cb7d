"""What a Predictor runs at: oneDNN's shape cache capped (the default) gives the uncapped outputs; bfloat16 where
the CPU has AVX512-BF16 or AMX, verified at its own bar, and refused in one line where it has neither (simulated)."""

import json

import numpy as np
import pytest
from conftest import TINY

from paddle_roberta import ConversionError, convert
from paddle_roberta.cli import main
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.errors import UsageError
from paddle_roberta.export_inference import export_inference
from paddle_roberta.parity.inference import LOW_PRECISION_ATOL, low_precision_diff
from paddle_roberta.serving import Predictor, precision
from paddle_roberta.serving.predictor import CACHE_CAPACITY

HAS_BF16 = bool(precision.cpu_flags()[1] & set(precision.BF16_FLAGS))
NEEDS_BF16 = pytest.mark.skipif(not HAS_BF16, reason=f"this CPU ({precision.cpu_flags()[0]}) has neither "
                                                     "AVX512-BF16 nor AMX-BF16: bfloat16 is refused here")
TEXTS = ["Hello world", "a longer second text, with more words in it than the first", "third", "four and five",
         "the fifth text, <mask> in its middle", "中国的首都是北京。", "emoji 🙂 too"]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory, paddle_quiet):
    """A RoBERTa token classifier (5 labels, 130 positions): its PaddleNLP directory and its float32 export."""
    tmp = tmp_path_factory.mktemp("precision")
    src, pd, served = tmp / "hf", tmp / "paddle", tmp / "served"
    build_checkpoint(str(src), "RobertaForTokenClassification",
                     dict(TINY["roberta"], vocab_size=700, max_position_embeddings=130, num_labels=5), seed=7,
                     vocab="bpe")
    convert(src, pd, verify=False)
    export_inference(pd, served, verify=False)
    return src, pd, served


def no_bf16(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: ("Simulated AVX2-only CPU", {"avx", "avx2", "fma"}))


def test_capped_cache_gives_the_uncapped_outputs(dirs):
    """The default cap (CACHE_CAPACITY shapes) makes oneDNN drop and re-make kernels as shapes come and go; the
    outputs are those of the uncapped predictor on every shape, revisited ones included (tolerance 1e-5 x
    max(1, max|logits|): the same kernels, remade for the same shape)."""
    assert CACHE_CAPACITY >= 1
    capped, uncapped = Predictor(str(dirs[2])), Predictor(str(dirs[2]), cache_capacity=None)
    batches = [TEXTS[:1], TEXTS[:3], [" ".join(["word"] * 90)] * 2, TEXTS, TEXTS[:1], TEXTS[:3], TEXTS[2:4]]
    for batch in batches:
        feed = capped.tokenize(batch)
        want, got = uncapped.run(feed)["logits"], capped.run(feed)["logits"]
        real = feed["attention_mask"].astype(bool)
        np.testing.assert_allclose(got[real], want[real], rtol=0, atol=1e-5 * max(1.0, float(np.abs(want).max())))


def test_bfloat16_refused_where_the_cpu_lacks_it(dirs, tmp_path, monkeypatch, capsys):
    no_bf16(monkeypatch)
    with pytest.raises(UsageError, match=r"AVX512-BF16 or AMX-BF16 .*avx512_bf16 or amx_bf16.*Simulated AVX2-only"):
        Predictor(str(dirs[2]), precision="bfloat16")
    with pytest.raises(ConversionError, match="choose one of float32, bfloat16"):
        Predictor(str(dirs[2]), precision="float16")
    out = tmp_path / "out"
    assert main(["export", str(dirs[1]), str(out), "--to", "inference", "--precision", "bfloat16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Simulated AVX2-only CPU" in err[0] and "use float32" in err[0], err
    assert not out.exists()
    with pytest.raises(UsageError, match="AVX512-BF16"):
        export_inference(dirs[1], out, precision="bfloat16")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_precision_is_for_the_inference_export(dirs, tmp_path, capsys):
    assert main(["export", str(dirs[1]), str(tmp_path / "hf"), "--precision", "bfloat16"]) == 2
    assert "--precision is for --to inference" in capsys.readouterr().err


def test_low_precision_bar_fails_past_its_bar_and_reports_top1():
    """The bar fails a difference past LOW_PRECISION_ATOL x scale (as a wrong weight makes); the top-1 agreement of
    logits is reported (a flip needs float32's lead under twice the difference, which the bar already bounds)."""
    a = np.array([[[4.0, 1.0, 0.0], [2.0, 1.99, 0.0]]])  # [batch 1, 2 tokens, 3 labels]
    real = np.ones((1, 2), bool)
    close = a + np.array([[[0.0, 0.0, 0.0], [-0.02, 0.0, 0.0]]])  # the close call flips
    row = low_precision_diff("logits", a, close, "bfloat16", real)
    assert row.within(1e-5) and row.extra["top1_agreement"] == 0.5 and row.name == "logits (bfloat16), top-1 1/2"
    for lower in ("bfloat16", "int8"):
        bar = LOW_PRECISION_ATOL[lower] * 4.0  # scale 4
        assert low_precision_diff("logits", a, a + 0.9 * bar, lower, real).within(1e-5)
        assert not low_precision_diff("logits", a, a + 1.1 * bar, lower, real).within(1e-5)
        assert not low_precision_diff("last_hidden_state", a, a + 1.1 * bar, lower, real).within(1e-5)


@NEEDS_BF16
def test_bfloat16_export_verified_at_its_own_bar(dirs, tmp_path, capsys):
    """`export --to inference --precision bfloat16`: the float32 graph verified at 1e-5 against torch, its bfloat16
    run against the float32 one at the bfloat16 bar, both in the report; the export then runs in bfloat16 by default,
    and really does (its outputs differ from float32's, within the bar)."""
    out = tmp_path / "bf16"
    code = main(["export", str(dirs[1]), str(out), "--to", "inference", "--precision", "bfloat16",
                 "--source", str(dirs[0])])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "logits (bfloat16), top-1" in text and "bfloat16 rows: the bfloat16 predictor vs the float32" in text
    assert json.loads((out / "inference.json").read_text())["precision"] == "bfloat16"
    low, high = Predictor(str(out)), Predictor(str(out), precision="float32")
    assert (low.precision, high.precision) == ("bfloat16", "float32")
    feed = high.tokenize(TEXTS)
    real = feed["attention_mask"].astype(bool)
    a, b = high.run(feed)["logits"], low.run(feed)["logits"]
    err = float(np.abs(a[real] - b[real]).max())
    assert 0 < err <= LOW_PRECISION_ATOL["bfloat16"] * max(1.0, float(np.abs(a[real]).max())), err


@NEEDS_BF16
def test_bfloat16_export_of_a_sentence_model(tmp_path, paddle_quiet):
    from paddle_roberta.dev.synthetic import build_sentence_transformer

    src, pd, out = tmp_path / "st", tmp_path / "st-paddle", tmp_path / "st-bf16"
    build_sentence_transformer(str(src), "bert", dict(TINY["bert"], vocab_size=300, max_position_embeddings=66),
                               modes=("mean",), normalize=True, seed=3)
    convert(src, pd, verify=False)
    result = export_inference(pd, out, precision="bfloat16")
    assert result.verify_report.ok and result.verify_report["precision"] == "bfloat16"
    assert any(row["name"].startswith("sentence_embedding (bfloat16)") for row in result.verify_report["outputs"])
