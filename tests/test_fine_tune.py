"""CLUE-style fine-tunes keep their heads, and fine-tuning in PaddleNLP starts right from a converted directory:
every head from the tensors on every family path, --head on each, the Trainer from each documented start, the
model card's code as written."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ATOL

from paddle_roberta import ConversionError, convert, from_pretrained
from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.parity.check import check

CLI = [sys.executable, "-m", "paddle_roberta"]
SMALL_CLUE = dict(SEEDS["clue/roberta_chinese_clue_tiny"].config, num_hidden_layers=2, hidden_size=24,
                  num_attention_heads=4, intermediate_size=40)
HEADS = ["BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering", "BertForMaskedLM",
         "BertForPreTraining"]
PADDLE = {"BertForPreTraining": "BertForPretraining"}
TEXTS = ["今天天气很好", "我不喜欢这个电影，太长了", "股票上涨了三个百分点", "他在北京工作", "这家餐厅的菜很好吃",
         "明天会下雨吗"]


def clue_fine_tune(path, head, model_type="roberta"):
    """A CLUE-derived fine-tune as the hub has them: no architectures, model_type roberta, bert or none at all."""
    config = dict(SMALL_CLUE, num_labels=2 if head.endswith("QuestionAnswering") else 3)
    written = {k: v for k, v in config.items() if k != "model_type"}
    if model_type is not None:
        written["model_type"] = model_type
    model = build_checkpoint(str(path), head, config, vocab="wordpiece", config_json=written)
    assert "architectures" not in json.loads((path / "config.json").read_text())
    return model


@pytest.mark.parametrize("model_type", ["roberta", "bert", None], ids=["roberta", "bert", "no-model_type"])
@pytest.mark.parametrize("head", HEADS)
def test_clue_style_heads_keep_every_tensor(tmp_path, paddle_quiet, head, model_type):
    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = clue_fine_tune(src, head, model_type)
    result = convert(src, out)  # verified: a failure raises
    assert result.model_class == PADDLE.get(head, head) and result.dropped == [], (result.model_class, result.dropped)
    assert any(f"{result.model_class} chosen from the tensors present" in n for n in result.notes), result.notes
    report = check(str(src), str(out), torch_model=model)
    for d in report.rows:
        assert d.within(ATOL), f"{head} {d.name}: {d.max_abs:.2e}"


def run(*args):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def test_head_override_on_each_class(tmp_path):
    """A CLUE-style pretraining state dict (MLM + NSP, no architectures): --head picks any class the tensors hold;
    a narrower one lists what it leaves out, and the summary says --head chose."""
    src = tmp_path / "hf"
    clue_fine_tune(src, "BertForPreTraining")
    r = run("convert", src, tmp_path / "auto", "--no-verify")
    assert r.returncode == 0 and "class   BertForPretraining" in r.stdout, r.stdout + r.stderr
    assert "BertForPretraining chosen from the tensors present" in r.stdout
    for head, dropped in [("BertForPreTraining", None), ("BertForMaskedLM", "cls.seq_relationship.* (NSP head"),
                          ("BertModel", "cls.predictions.* (MLM head")]:
        out = tmp_path / head
        r = run("convert", src, out, "--head", head, "--no-verify")
        assert r.returncode == 0, r.stdout + r.stderr
        summary = r.stdout
        assert f"class   {PADDLE.get(head, head)}" in summary and "chosen from the tensors" not in summary, summary
        assert "(none)" not in summary
        if dropped:
            assert f"  dropped {dropped}" in summary and "dropped on purpose" in summary, summary
        else:
            assert "dropped" not in summary, summary
    # a head the tensors do not hold is refused, never random-initialised
    r = run("convert", src, tmp_path / "qa", "--head", "BertForQuestionAnswering", "--no-verify")
    assert r.returncode == 1 and "qa_outputs.weight is missing" in r.stderr and not (tmp_path / "qa").exists(), r.stderr


def _train_and_reload(model, out_dir, tmp_path):
    """PaddleNLP's Trainer for a few steps on a tokenized dataset (DataCollatorWithPadding), then save and reload:
    the reloaded model must compute what the trained one does, and training must have moved the weights."""
    import paddlenlp.transformers as pt
    from paddlenlp.data import DataCollatorWithPadding
    from paddlenlp.trainer import Trainer, TrainingArguments

    tok = pt.AutoTokenizer.from_pretrained(str(out_dir))
    train = [dict(tok(t), labels=i % 3) for i, t in enumerate(TEXTS * 2)]
    collate = DataCollatorWithPadding(tok)
    assert "attention_mask" in collate(train[:2])  # the collator passes the mask the tokenizer gives
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    args = TrainingArguments(output_dir=str(tmp_path / "trainer"), max_steps=3, per_device_train_batch_size=4,
                             learning_rate=1e-3, save_strategy="no", report_to=[], disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collate, tokenizer=tok)
    trainer.train()
    assert any(not np.array_equal(before[k], v.numpy()) for k,
               v in model.state_dict().items()), "training moved nothing"
    saved = tmp_path / "tuned"
    trainer.save_model(str(saved))
    model.eval()
    batch = tok(TEXTS[:4], padding=True, return_attention_mask=True, return_tensors="pd")
    reloaded = pt.AutoModelForSequenceClassification.from_pretrained(str(saved))
    reloaded.eval()
    np.testing.assert_array_equal(reloaded(**batch).numpy(), model(**batch).numpy())
    return before


@pytest.mark.parametrize("start", ["paddlenlp", "paddle_roberta", "paddle_roberta-hf-source"])
def test_fine_tuning_starts_from_a_converted_directory(tmp_path, paddle_quiet, start):
    """A converted CLUE body (BertModel) starts a 3-class classifier the ways PaddleNLP users start one: PaddleNLP's
    plain from_pretrained with num_classes, paddle_roberta.from_pretrained on the directory (the fast path, the new
    head initialised as PaddleNLP's _init_weights does), and on the Hugging Face source."""
    import paddlenlp.transformers as pt

    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertModel", SMALL_CLUE, vocab="wordpiece", config_json=SMALL_CLUE)
    convert(src, out, verify=False)
    if start == "paddlenlp":
        model = pt.AutoModelForSequenceClassification.from_pretrained(str(out), num_classes=3)
    else:
        with pytest.warns(UserWarning, match="starts a new head.*classifier.weight, classifier.bias"):
            model = from_pretrained(out if start == "paddle_roberta" else src, cls="BertForSequenceClassification",
                                    num_classes=3)
    assert type(model).__name__ == "BertForSequenceClassification" and model.classifier.weight.shape == [24, 3]
    weight, bias = model.classifier.weight.numpy(), model.classifier.bias.numpy()
    assert 0.5 * 0.02 < weight.std() < 1.5 * 0.02 and not bias.any()  # normal(0, initializer_range), zero bias
    body = pt.BertModel.from_pretrained(str(out))
    np.testing.assert_array_equal(model.bert.embeddings.word_embeddings.weight.numpy(),
                                  body.embeddings.word_embeddings.weight.numpy())  # the body is the file's
    _train_and_reload(model, out, tmp_path)


def test_from_pretrained_keywords(tmp_path, paddle_quiet):
    """Keywords reach PaddleNLP or fail: never ignored."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    clue_fine_tune(src, "BertForSequenceClassification")
    convert(src, out, verify=False)
    with pytest.raises(ConversionError, match="unknown keyword 'num_clases'"):
        from_pretrained(out, num_clases=3)
    with pytest.raises(ConversionError, match="its classifier has 3 classes, the keywords ask for 5: pass "
                                              "ignore_mismatched"):
        from_pretrained(out, num_classes=5)  # PaddleNLP's fast path would load the 3-class head under 5 silently
    with pytest.raises(ConversionError, match="already converted; family apply to a Hugging Face source"):
        from_pretrained(out, family="bert")
    same = from_pretrained(out, num_classes=3)
    assert same.classifier.weight.shape == [24, 3]
    with pytest.warns(UserWarning, match="starts a new head"):
        resized = from_pretrained(out, num_classes=5, ignore_mismatched_sizes=True)
    assert resized.classifier.weight.shape == [24, 5] and resized.config.num_labels == 5
    dropout = from_pretrained(src, hidden_dropout_prob=0.3)  # a Hugging Face source: converted, then the keyword
    assert dropout.config.hidden_dropout_prob == 0.3


def test_model_card_code_runs_as_written(tmp_path):
    """The converted directory's README: its Python blocks run as a user pastes them; on a classifier directory the
    fine-tuning start replaces the classifier (ignore_mismatched_sizes=True, said in the card)."""
    src, out = tmp_path / "hf", tmp_path / "clue-paddle"
    build_checkpoint(str(src), "BertModel", SMALL_CLUE, vocab="wordpiece", config_json=SMALL_CLUE)
    convert(src, out, verify=False)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "return_attention_mask=True" in card and "num_classes=num_classes)" in card
    assert ('paddle_roberta.from_pretrained("clue-paddle", cls="BertForSequenceClassification", '
            'num_classes=num_classes)' in card)
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) == 3, blocks  # use, fine-tuning start, faster loading
    code = blocks[0] + blocks[1] + "assert model.classifier.weight.shape == [24, num_classes]\n" + blocks[2]
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert r.returncode == 0, code + "\n" + r.stderr[-3000:]

    clf = tmp_path / "clf-hf"
    clue_fine_tune(clf, "BertForSequenceClassification")  # 3 classes
    convert(clf, tmp_path / "clf-paddle", verify=False)
    card = (tmp_path / "clf-paddle" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert "ignore_mismatched_sizes=True" in blocks[1] and "BertForSequenceClassification.from_pretrained" in blocks[0]
    code = blocks[0] + "assert model.classifier.weight.shape == [24, 3]\n" + blocks[1]
    code += "assert model.classifier.weight.shape == [24, num_classes]\n"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert r.returncode == 0, code + "\n" + r.stderr[-3000:]


def test_inference_export_against_another_source_is_one_line(tmp_path):
    """A fine-tune exported with --source naming the body it started from (not its original): a one-line error."""
    clf, body = tmp_path / "clf-hf", tmp_path / "body-hf"
    clue_fine_tune(clf, "BertForSequenceClassification")  # 3 classes
    build_checkpoint(str(body), "BertModel", SMALL_CLUE, vocab="wordpiece", config_json=SMALL_CLUE)
    convert(clf, tmp_path / "clf-paddle", verify=False)
    r = run("export", tmp_path / "clf-paddle", tmp_path / "served", "--to", "inference", "--source", body)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--source has 2 labels, this model 3" in r.stderr and not (tmp_path / "served").exists()
