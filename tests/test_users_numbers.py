"""PASS means the user's own numbers are right: fine-tunes with added tokens, CLUE's pad id called the PaddleNLP
way, 2019-era configs without model_type, heads read from the tensors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ATOL

from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]
SMALL = {
    "bert": dict(vocab_size=400, hidden_size=24, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
                 max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0),
    "roberta": dict(SEEDS["distilroberta-base"].config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                    intermediate_size=40, vocab_size=700, max_position_embeddings=66),
    "xlm-roberta": dict(SEEDS["xlm-roberta-base"].config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                        intermediate_size=40, vocab_size=282, max_position_embeddings=66),
}
PREFIX = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta"}
VOCAB = {"bert": "wordpiece", "roberta": "bpe", "xlm-roberta": "sentencepiece"}
SMALL_CLUE = dict(SEEDS["clue/roberta_chinese_clue_tiny"].config, num_hidden_layers=2, hidden_size=24,
                  num_attention_heads=4, intermediate_size=40)


def run(*args):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def hf_tokenizer(path, family):
    import transformers

    cls = {"bert": transformers.BertTokenizerFast, "roberta": transformers.RobertaTokenizerFast,
           "xlm-roberta": transformers.XLMRobertaTokenizerFast}[family]
    return cls.from_pretrained(str(path))


def fine_tune_with_added_tokens(src, family, head="ForSequenceClassification"):
    """How people extend a tokenizer: add_tokens + an additional special token, then resize the embeddings."""
    config = dict(SMALL[family], architectures=None)
    model = build_checkpoint(str(src), PREFIX[family] + head, config, vocab=VOCAB[family])
    tok = hf_tokenizer(src, family)
    tok.add_tokens(["<new_tok>", "covid19"])
    tok.add_special_tokens({"additional_special_tokens": ["[ENT]"]})
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    model.save_pretrained(str(src))
    tok.save_pretrained(str(src))
    return model, tok


@pytest.mark.parametrize("family", ["roberta", "xlm-roberta", "bert"])
def test_added_tokens_survive(tmp_path, paddle_quiet, family):
    import paddlenlp.transformers as pt

    src, out = tmp_path / "hf", tmp_path / "paddle"
    _, tok = fine_tune_with_added_tokens(src, family)
    r = run("convert", src, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 added token(s) kept" in r.stdout and "PASS" in r.stdout
    pd_tok = pt.AutoTokenizer.from_pretrained(str(out))
    assert len(pd_tok) == len(tok)
    for text in ["I love <new_tok> and covid19 [ENT] a lot", "<new_tok>covid19", "a<new_tok>b", "x [ENT]y", "[ENT]"]:
        want = tok(text)["input_ids"]
        if family == "xlm-roberta" and " <new_tok>" in text:  # transformers' slow and fast differ here (README)
            import transformers

            want = transformers.XLMRobertaTokenizer.from_pretrained(str(src))(text)["input_ids"]
        assert pd_tok(text)["input_ids"] == want, text
    ids = pd_tok("I love <new_tok> and covid19 [ENT] a lot")["input_ids"]
    assert all(tok.convert_tokens_to_ids(t) in ids for t in ("<new_tok>", "covid19", "[ENT]"))


def test_verify_fails_when_an_added_token_is_lost(tmp_path):
    """The tokenizer written without its added tokens (what earlier versions wrote) must not PASS."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    fine_tune_with_added_tokens(src, "roberta")
    assert run("convert", src, out, "--no-verify").returncode == 0
    (out / "added_tokens.json").unlink()
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        doc = json.loads((out / name).read_text())
        doc.pop("additional_special_tokens")
        (out / name).write_text(json.dumps(doc))
    r = run("verify", src, out)
    assert r.returncode == 1 and "DIFFERS" in r.stdout and "<new_tok>" in r.stdout and "FAIL" in r.stdout


def clue_source(path, head="BertModel", config=SMALL_CLUE):
    """CLUE as published: config says roberta with pad_token_id 1, which is [UNK] in vocab.txt ([PAD] is 0)."""
    model = build_checkpoint(str(path), head, config, vocab="wordpiece", config_json=config)
    vocab = (path / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert vocab[0] == "[PAD]" and vocab[1] == "[UNK]" and config["pad_token_id"] == 1
    return model


def test_clue_pad_is_the_tokenizers_and_paddlenlp_default_call_is_right(tmp_path, paddle_quiet):
    import paddle
    import paddlenlp.transformers as pt
    import torch
    import transformers

    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = clue_source(src)
    r = run("convert", src, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pad_token_id: " in r.stdout and "says 1 ('[UNK]'), the tokenizer pads with 0 ('[PAD]')" in r.stdout
    assert "| no attention_mask: pooler_output |" in r.stdout and "| tokenizer defaults: pooler_output |" in r.stdout
    assert json.loads((out / "config.json").read_text())["pad_token_id"] == 0

    # 鑫: not in the vocab -> [UNK]
    texts = ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "鑫是一个罕见的字。", "好"]
    hf_tok = transformers.BertTokenizerFast.from_pretrained(str(src))
    batch = hf_tok(texts, padding=True, return_tensors="pt")
    assert (batch["input_ids"] == 1).any() and (batch["input_ids"] == 0).any()  # an [UNK] and padding
    with torch.no_grad():
        want = model(**batch).last_hidden_state.numpy()
    real = batch["attention_mask"].numpy().astype(bool)

    paddle_model = pt.AutoModel.from_pretrained(str(out))
    paddle_model.eval()
    pd_tok = pt.AutoTokenizer.from_pretrained(str(out))
    default = pd_tok(texts, padding=True, return_tensors="pd")  # PaddleNLP's everyday call
    bare = pd_tok(texts, padding=True, return_tensors="pd", return_attention_mask=False)
    assert "attention_mask" in default and "attention_mask" not in bare
    with paddle.no_grad():
        for feed in (default, bare):  # with the tokenizer's mask, and with the one PaddleNLP builds from pad_token_id
            got = paddle_model(**feed)[0].numpy()
            assert np.abs(got[real] - want[real]).max() <= ATOL * max(1.0, np.abs(want).max())


def test_roberta_config_pad_that_is_not_the_tokenizers_fails_verify(tmp_path):
    """RoBERTa's positions start after the config's pad id, so it cannot be rewritten: the no-mask call shows it."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "RobertaModel", SMALL["roberta"], vocab="bpe")
    (src / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<unk>"}))
    r = run("convert", src, out)
    assert r.returncode == 1 and "verification failed" in r.stderr and "no attention_mask" in r.stderr
    assert not out.exists()


def old_config(config, family):
    """config.json as transformers 2.x wrote it: no model_type, no architectures."""
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
            "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
            "initializer_range", "layer_norm_eps")
    return {k: config[k] for k in keys if k in config} | ({"pad_token_id": 1} if family != "bert" else {})


@pytest.mark.parametrize("family,head", [("bert", "ForMaskedLM"), ("roberta", "ForSequenceClassification"),
                                         ("xlm-roberta", "Model")])
def test_config_without_model_type(tmp_path, family, head):
    src, out = tmp_path / "hf", tmp_path / "paddle"
    config = dict(SMALL[family], hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                  initializer_range=0.02)
    build_checkpoint(str(src), PREFIX[family] + head, config, vocab=VOCAB[family],
                     config_json=old_config(config, family))
    assert "model_type" not in json.loads((src / "config.json").read_text())
    r = run("convert", src, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"family: {src / 'config.json'} names none; {family} from" in r.stdout and "PASS" in r.stdout
    written = json.loads((out / "config.json").read_text())
    assert written["model_type"] == family
    assert written["architectures"][0].replace("Pretraining", "PreTraining") == PREFIX[family] + head


def test_config_without_model_type_ambiguous_asks_for_family(tmp_path):
    """No tokenizer and a bare RoBERTa-shaped body: RoBERTa or XLM-RoBERTa cannot be told apart."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    config = dict(SMALL["roberta"], hidden_act="gelu")
    build_checkpoint(str(src), "RobertaModel", config, config_json=old_config(config, "roberta"))
    r = run("convert", src, out)
    assert r.returncode == 1 and "cannot tell roberta from xlm-roberta" in r.stderr and "--family" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()
    r = run("convert", src, out, "--family", "roberta")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["architectures"] == ["RobertaModel"]


@pytest.mark.parametrize("head,paddle_class", [("BertForSequenceClassification", "BertForSequenceClassification"),
                                               ("BertForTokenClassification", "BertForTokenClassification"),
                                               ("BertForQuestionAnswering", "BertForQuestionAnswering")])
def test_clue_fine_tune_keeps_its_head(tmp_path, head, paddle_class):
    """CLUE-derived fine-tunes ship with model_type roberta and no architectures: the head comes from the tensors,
    on the BERT tables, and nothing trained is dropped."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    clue_source(src, head, dict(SMALL_CLUE, num_labels=2 if head.endswith("QuestionAnswering") else 3))
    r = run("convert", src, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{paddle_class} chosen from the tensors present" in r.stdout and "PASS" in r.stdout
    assert "dropped" not in r.stdout.split("\n\n")[0].replace("0 dropped", "")
    assert json.loads((out / "config.json").read_text())["architectures"] == [paddle_class]


def test_clue_head_override(tmp_path):
    src = tmp_path / "hf"
    clue_source(src, "BertForSequenceClassification", dict(SMALL_CLUE, num_labels=1))
    r = run("convert", src, tmp_path / "mc", "--head", "BertForMultipleChoice")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((tmp_path / "mc" / "config.json").read_text())["architectures"] == ["BertForMultipleChoice"]
    assert os.path.isdir(tmp_path / "mc") and "chosen from the tensors" not in r.stdout


def fine_tune_in_place(out):
    """Convert -> fine-tune in PaddleNLP -> save_pretrained into the same directory (PaddleNLP writes
    model_state.pdparams beside the tool's model.safetensors, and its own loader keeps reading the safetensors)."""
    import paddle
    import paddlenlp.transformers as pt

    model = pt.AutoModelForSequenceClassification.from_pretrained(str(out))
    with paddle.no_grad():
        for p in model.parameters():
            p.set_value(p + 0.01 * paddle.randn(p.shape, dtype=p.dtype))
    model.save_pretrained(str(out))
    assert (out / "model_state.pdparams").exists() and (out / "model.safetensors").exists()
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_fine_tune_saved_in_place_is_never_read_stale(tmp_path, paddle_quiet):
    from paddle_roberta.errors import ConversionError
    from paddle_roberta.loading import load

    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "RobertaForSequenceClassification", SMALL["roberta"], vocab="bpe")
    assert run("convert", src, out).returncode == 0
    tuned = fine_tune_in_place(out)

    r = run("export", out, tmp_path / "stale")
    assert r.returncode == 1 and not (tmp_path / "stale").exists()
    assert "model.safetensors and model_state.pdparams hold different weights" in r.stderr
    assert "model_state.pdparams is newer" in r.stderr and "--weights FILE" in r.stderr
    r = run("verify", src, out)
    assert r.returncode == 1 and "hold different weights" in r.stderr
    import paddle_roberta

    with pytest.raises(ConversionError, match="hold different weights"):
        paddle_roberta.from_pretrained(out)
    with pytest.raises(ConversionError, match="hold different weights"):
        load(str(out))
    model = paddle_roberta.from_pretrained(out, weights="model_state.pdparams")
    assert all(np.array_equal(v.numpy(), tuned[k]) for k, v in model.state_dict().items())

    r = run("export", out, tmp_path / "tuned", "--weights", out / "model_state.pdparams")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout
    from safetensors.numpy import load_file

    exported = load_file(tmp_path / "tuned" / "model.safetensors")
    np.testing.assert_array_equal(exported["classifier.out_proj.bias"], tuned["classifier.out_proj.bias"])


def test_source_with_two_weight_formats(tmp_path):
    import torch

    src = tmp_path / "hf"
    build_checkpoint(str(src), "BertModel", SMALL["bert"], vocab="wordpiece")
    same = run("convert", src, tmp_path / "same")
    newer = build_checkpoint(str(tmp_path / "other"), "BertModel", SMALL["bert"], seed=7)
    torch.save(build_checkpoint(str(tmp_path / "copy"), "BertModel", SMALL["bert"]).state_dict(),
               src / "pytorch_model.bin")
    r = run("convert", src, tmp_path / "agree")
    assert r.returncode == 0, r.stderr
    assert "weights: read model.safetensors (pytorch_model.bin holds the same tensors)" in r.stdout  # piped, too
    assert same.returncode == 0

    torch.save(newer.state_dict(), src / "pytorch_model.bin")
    r = run("convert", src, tmp_path / "out")
    assert r.returncode == 1 and not (tmp_path / "out").exists()
    assert "model.safetensors and pytorch_model.bin hold different weights" in r.stderr
    assert "pytorch_model.bin is newer" in r.stderr
    r = run("convert", src, tmp_path / "out", "--weights", "pytorch_model.bin")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "weights: read pytorch_model.bin (--weights); model.safetensors ignored" in r.stdout and "PASS" in r.stdout
    from safetensors.numpy import load_file

    got = load_file(tmp_path / "out" / "model.safetensors")["embeddings.word_embeddings.weight"]
    np.testing.assert_array_equal(got, newer.state_dict()["embeddings.word_embeddings.weight"].numpy())


def test_bert_added_token_flags_survive(tmp_path, paddle_quiet):
    """normalized=False on a lower-casing tokenizer: only that exact spelling is the added token."""
    import paddlenlp.transformers as pt
    from tokenizers import AddedToken

    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = build_checkpoint(str(src), "BertForMaskedLM", SMALL["bert"], vocab="wordpiece")
    tok = hf_tokenizer(src, "bert")
    tok.add_tokens([AddedToken("Raw_Tok", normalized=False), "plain_tok"])
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    model.save_pretrained(str(src))
    tok.save_pretrained(str(src))
    r = run("convert", src, out)
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr
    pd_tok = pt.AutoTokenizer.from_pretrained(str(out))
    text = "Raw_Tok raw_tok RAW_TOK plain_tok PLAIN_TOK"
    assert pd_tok(text)["input_ids"] == tok(text)["input_ids"]
    # what verify now sees: the same file with the flag reset (as a plain-string added_tokens.json does) fails it
    (out / "added_tokens.json").write_text(json.dumps({"Raw_Tok": len(tok) - 2, "plain_tok": len(tok) - 1}))
    r = run("verify", src, out)
    assert r.returncode == 1 and "DIFFERS" in r.stdout and "RAW_TOK" in r.stdout


@pytest.mark.parametrize("family", ["roberta", "xlm-roberta"])
def test_added_tokens_come_back_to_hugging_face_as_they_were(tmp_path, family):
    import transformers

    src, out, back = tmp_path / "hf", tmp_path / "paddle", tmp_path / "back"
    _, tok = fine_tune_with_added_tokens(src, family, head="ForMaskedLM")
    assert run("convert", src, out).returncode == 0
    r = run("export", out, back)
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr
    again = transformers.AutoTokenizer.from_pretrained(str(back))
    assert again.additional_special_tokens == tok.additional_special_tokens == ["[ENT]"]
    for text in ["I love <new_tok> and covid19 [ENT] x", "x <new_tok> y", " covid19 ", "Covid19 <NEW_TOK>"]:
        ids = tok(text)["input_ids"]
        assert again(text)["input_ids"] == ids, text
        assert again.decode(ids, skip_special_tokens=True) == tok.decode(ids, skip_special_tokens=True)


def test_verify_weights_by_file_name_and_causal_head_without_is_decoder(tmp_path):
    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "RobertaForMaskedLM", SMALL["roberta"], vocab="bpe")
    config = json.loads((src / "config.json").read_text())
    assert not config.get("is_decoder")
    # the head the summary says the tensors also fit: the source config says nothing of is_decoder
    r = run("convert", src, out, "--head", "RobertaForCausalLM")
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr
    import shutil

    shutil.copyfile(src / "model.safetensors", tmp_path / "keep.safetensors")
    import torch

    model = build_checkpoint(str(tmp_path / "other"), "RobertaForMaskedLM", SMALL["roberta"], seed=3)
    torch.save(model.state_dict(), src / "pytorch_model.bin")
    assert run("verify", src, out).returncode == 1
    r = run("verify", src, out, "--weights", "model.safetensors")  # a bare name, as the error message suggests
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr
