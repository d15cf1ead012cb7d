"""Bad tokenizer files: a one-line error naming the file before anything is written, never a broken OUT
or a silent "no tokenizer"; texts longer than the model: cut to its positions and said so."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddle_roberta import ConversionError, convert
from paddle_roberta.dev.synthetic import build_checkpoint, wordpiece_tokens

CLI = [sys.executable, "-m", "paddle_roberta"]
BERT = dict(vocab_size=300, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
            max_position_embeddings=64, type_vocab_size=2, pad_token_id=0)
ROBERTA = dict(vocab_size=700, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
               max_position_embeddings=40, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    build_checkpoint(str(root / "bert"), "BertForMaskedLM", BERT, vocab="wordpiece")
    build_checkpoint(str(root / "bpe"), "RobertaForMaskedLM", ROBERTA, vocab="bpe")
    for kind in ("bert", "bpe"):  # every file a hub repo has: vocab, tokenizer.json, configs
        shutil.copytree(root / kind, root / f"{kind}-full")
    import transformers

    transformers.RobertaTokenizerFast.from_pretrained(str(root / "bpe-full")).save_pretrained(str(root / "bpe-full"))
    transformers.BertTokenizerFast.from_pretrained(str(root / "bert-full")).save_pretrained(str(root / "bert-full"))
    return root


def copy(sources, kind, tmp_path):
    shutil.copytree(sources / kind, tmp_path / "src")
    return tmp_path / "src"


def refused(src, tmp_path, *words):
    with pytest.raises(ConversionError) as err:
        convert(src, tmp_path / "out")
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message
    assert not (tmp_path / "out").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".out")]


def test_truncated_vocab_json(sources, tmp_path):
    src = copy(sources, "bpe", tmp_path)
    raw = (src / "vocab.json").read_bytes()
    (src / "vocab.json").write_bytes(raw[: len(raw) // 2])
    refused(src, tmp_path, "vocab.json", "not valid JSON")


def test_merges_not_utf8(sources, tmp_path):
    src = copy(sources, "bpe", tmp_path)
    (src / "merges.txt").write_bytes((src / "merges.txt").read_bytes() + b"\xff\xfe a\n")
    refused(src, tmp_path, "merges.txt", "not UTF-8")


@pytest.mark.parametrize("text", ['{"hello": 1}', "[1, 2, 3]"])
def test_tokenizer_json_that_is_not_a_tokenizer(sources, tmp_path, text):
    src = copy(sources, "bpe", tmp_path)
    (src / "tokenizer.json").write_text(text)
    refused(src, tmp_path, "tokenizer.json")


def test_special_token_missing_from_vocab_txt(sources, tmp_path):
    src = copy(sources, "bert", tmp_path)
    lines = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    (src / "vocab.txt").write_text("\n".join("[MASKED]" if t == "[MASK]" else t for t in lines), encoding="utf-8")
    refused(src, tmp_path, "vocab.txt", "mask_token '[MASK]' is not in the vocabulary")


def test_duplicate_line_in_vocab_txt(sources, tmp_path):
    src = copy(sources, "bert", tmp_path)
    lines = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    lines[10] = lines[9]
    (src / "vocab.txt").write_text("\n".join(lines), encoding="utf-8")
    refused(src, tmp_path, "vocab.txt", "lines 10 and 11")


def test_vocab_txt_larger_than_embedding(sources, tmp_path):
    src = copy(sources, "bert", tmp_path)
    (src / "vocab.txt").write_text("\n".join(wordpiece_tokens(301)) + "\n", encoding="utf-8")
    refused(src, tmp_path, "vocab.txt", "301 tokens", "300 rows")


@pytest.mark.parametrize("change,words", [
    (lambda v: v.update({"<unused5>": 700}), ["id 700", "700 rows"]),
    (lambda v: v.update({"<unused5>": 3}), ["share id 3"]),
    (lambda v: v.update({"<unused5>": "five"}), ["not an integer"]),
])
def test_bad_ids_in_vocab_json(sources, tmp_path, change, words):
    src = copy(sources, "bpe", tmp_path)
    vocab = json.loads((src / "vocab.json").read_text(encoding="utf-8"))
    change(vocab)
    (src / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    refused(src, tmp_path, "vocab.json", *words)


def test_duplicate_key_in_vocab_json(sources, tmp_path):
    src = copy(sources, "bpe", tmp_path)
    text = (src / "vocab.json").read_text(encoding="utf-8")
    (src / "vocab.json").write_text('{"<s>": 0, ' + text[1:], encoding="utf-8")
    refused(src, tmp_path, "vocab.json", "'<s>' appears twice")


def test_merge_of_unknown_tokens(sources, tmp_path):
    src = copy(sources, "bpe", tmp_path)
    with open(src / "merges.txt", "a", encoding="utf-8") as f:
        f.write("qqq zzz\n")
    refused(src, tmp_path, "merges.txt", "'qqq'")


def test_added_token_past_the_embedding(sources, tmp_path):
    src = copy(sources, "bpe", tmp_path)
    (src / "added_tokens.json").write_text(json.dumps({"<new>": 700}))
    refused(src, tmp_path, "added_tokens.json", "'<new>'", "700 rows")


def test_long_texts_are_cut_to_the_positions(sources, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run(CLI + ["convert", str(sources / "bpe"), str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # 40 positions: the built-in sentences fit, as cut
    long_text = " ".join(["word"] * 700)
    r = subprocess.run(CLI + ["verify", str(sources / "bpe"), str(out), "--text", long_text], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "cut to the model's 38 positions: 'word word" in r.stdout


TOKENIZER_FILES = {"bpe": ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json"],
                   "bert": ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_tokenizer_bytes_give_a_working_tokenizer_or_our_error(sources, tmp_path_factory, data):
    """Flip bytes of any tokenizer file: convert (verify on) ends in success — so the PaddleNLP tokenizer in
    OUT loads and agrees with transformers' on every verify text — or in ConversionError, nothing else."""
    import paddlenlp.transformers as pt

    kind = data.draw(st.sampled_from(["bpe", "bert"]))
    work = tmp_path_factory.mktemp("fuzz")
    src = work / "src"
    shutil.copytree(sources / f"{kind}-full", src)
    name = data.draw(st.sampled_from([n for n in TOKENIZER_FILES[kind] if (src / n).exists()]))
    raw = bytearray((src / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    (src / name).write_bytes(bytes(raw))
    try:
        result = convert(src, work / "out")
    except ConversionError as e:
        assert "\n" not in str(e)
        assert not (work / "out").exists()
        return
    assert pt.AutoTokenizer.from_pretrained(result) is not None
