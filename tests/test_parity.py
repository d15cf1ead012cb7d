"""Every family × head × source format × output format: convert, load, compare with torch."""

import numpy as np
import pytest

from conftest import ATOL, HEADS, TINY, assert_loaded_equals_file, hf_class, read_output
from paddle_roberta import parity
from paddle_roberta.check import check
from paddle_roberta.convert import convert_with_report
from paddle_roberta.synthetic import build_checkpoint

CASES = [(f, h) for f in ("bert", "roberta") for h in HEADS[f]]


@pytest.mark.parametrize("out_format", ["safetensors", "pdparams"])
@pytest.mark.parametrize("src_format", ["safetensors", "bin"])
@pytest.mark.parametrize("family,head", CASES)
def test_convert_load_and_match_torch(tmp_path, paddle_quiet, family, head, src_format, out_format):
    import paddlenlp.transformers as pt

    src, out = tmp_path / "hf", tmp_path / "paddle"
    config = dict(TINY[family], num_labels=2) if head == "ForQuestionAnswering" else TINY[family]  # start, end
    torch_model = build_checkpoint(str(src), hf_class(family, head), config, seed=7, fmt=src_format)
    result = convert_with_report(src, out, format=out_format)

    # Weights: every converted tensor equals its torch source exactly (transposed where the
    # table says); the only others are the zero pooler written when the source has none.
    source = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    weights = read_output(out)
    assert set(weights) == {e.dst for e in result.plan.entries}
    for e in result.plan.entries:
        if e.synthesized:
            assert e.dst.endswith(("pooler.dense.weight", "pooler.dense.bias")) and not weights[e.dst].any()
            assert not any(k.endswith("pooler.dense.weight") for k in source)
            continue
        want = source[e.srcs[0]].T if e.transpose else source[e.srcs[0]]
        np.testing.assert_array_equal(weights[e.dst], want, err_msg=e.dst)

    # Loads by its class and by AutoModel, with no flag, every parameter from the file.
    report = check(str(src), str(out), torch_model=torch_model)
    assert report["class"] == result.plan.paddle_class
    paddle_model = getattr(pt, report["class"]).from_pretrained(str(out))
    assert_loaded_equals_file(paddle_model, weights)
    auto = pt.AutoModel.from_pretrained(str(out))
    assert type(auto).__name__ == ("BertModel" if family == "bert" else "RobertaModel")
    assert_loaded_equals_file(auto, weights, prefix="" if head == "Model" else family + ".")

    # Outputs: every hidden state, the pooler (bare model), every head output.
    names = [d.name for d in report["diffs"]]
    assert len([n for n in names if n.startswith("hidden_states")]) == TINY[family]["num_hidden_layers"] + 1
    assert set(parity.HEAD_OUTPUTS[head]) <= set(names)
    for d in report["diffs"] + report["auto_diffs"]:
        assert d.within(ATOL), f"{d.name}: max abs diff {d.max_abs:.2e} (output scale {d.scale:.1f})"


def test_bert_pooler_feeds_classifier(tmp_path, paddle_quiet):
    """The incumbent drops the pooler of non-bare checkpoints; here a changed pooler changes the logits."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = build_checkpoint(str(src), "BertForSequenceClassification", TINY["bert"], seed=3)
    convert_with_report(src, out)
    weights = read_output(out)
    np.testing.assert_array_equal(weights["bert.pooler.dense.weight"], model.bert.pooler.dense.weight.detach().numpy().T)
    assert check(str(src), str(out), torch_model=model)["diffs"][-1].within(ATOL)
