"""`paddle-roberta verify`: passes a good conversion, fails a tampered one; convert runs it by default."""

import json
import re
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]
SMALL_CLUE = dict(SEEDS["clue/roberta_chinese_clue_tiny"].config, num_hidden_layers=2, hidden_size=24,
                  num_attention_heads=4, intermediate_size=40)
SMALL_ROBERTA = dict(SEEDS["distilroberta-base"].config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                     intermediate_size=40, vocab_size=700)


def run(*args):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=300)


def test_convert_verifies_and_verify_fails_tampered_weights(tmp_path):
    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertModel", SMALL_CLUE, vocab="wordpiece", config_json=SMALL_CLUE)
    r = run("convert", src, out)
    assert r.returncode == 0, r.stderr
    assert ("tokenizer: BertTokenizerFast vs BertTokenizerFast: 13/13 texts give identical ids "
            "(every special and added token among them); 8021 vs 8021 ids" in r.stdout)
    assert "PASS" in r.stdout and "| hidden_states[2] |" in r.stdout and "| pooler_output |" in r.stdout
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| pooler_output |" in card and "AutoModel.from_pretrained" in card

    good = run("verify", src, out, "--text", "中文和English混合", "--json", tmp_path / "report.json")
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] and len(report["tokenizer"]["texts"]) == 14
    assert all(o["max_abs"] <= 1e-5 for o in report["outputs"])

    weights = load_file(out / "model.safetensors")
    weights["encoder.layers.1.norm2.weight"] = weights["encoder.layers.1.norm2.weight"] * np.float32(1.01)
    save_file(weights, out / "model.safetensors", metadata={"format": "np"})
    bad = run("verify", src, out, "--json", tmp_path / "bad.json")
    assert bad.returncode == 1 and "FAIL" in bad.stdout and "| hidden_states[2] |" in bad.stdout
    report = json.loads((tmp_path / "bad.json").read_text(encoding="utf-8"))
    failed = [o["name"] for o in report["outputs"] if not o["within"]]
    # the tampered layer and what follows it, nothing before, in each of the three calls
    assert failed == [f"{call}{name}" for call in ("", "tokenizer defaults: ", "no attention_mask: ")
                      for name in ("hidden_states[2]", "pooler_output")]


def test_fill_mask_mid_sentence_and_no_verify(tmp_path):
    """Trained-looking RobertaForMaskedLM + a trained byte-level BPE: ids and top 5 agree at every mask,
    masks mid-sentence (built in and from --text); PaddleNLP given plain-string special tokens does not."""
    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "RobertaForMaskedLM", SMALL_ROBERTA, vocab="bpe")
    r = run("convert", src, out)
    assert r.returncode == 0, r.stderr
    assert "RobertaTokenizerFast vs RobertaBPETokenizer: 13/13" in r.stdout and re.search(r"fill-mask top 5: (\d+)/\1 "
                                                                                          r"texts agree", r.stdout)

    texts = ["Where is the <mask> of the <mask> park?", "<mask> <mask> is a walk.", "a <s> b </s> c <mask> of it"]
    r = run("verify", src, out, *[a for t in texts for a in ("--text", t)], "--json", tmp_path / "r.json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert all(row["agree"] for row in report["tokenizer"]["texts"])
    rows = report["fill_mask"]
    assert [row["text"] for row in rows][-3:] == texts and len(rows) == 11  # 6 built in, 2 with every special token
    for row in rows:
        masks = row["text"].count("<mask>")
        assert row["agree"] and len(row["torch"]) == masks and all(len(top) == 5 for top in row["torch"])
    mid = [row for row in rows if not row["text"].startswith("<mask>") and not row["text"].endswith("<mask>.")]
    assert len(mid) >= 6

    # PaddleNLP with plain-string special tokens strips the space after <mask>: verify must fail, not pass
    plain = {k: v["content"] for k, v in json.loads((out / "special_tokens_map.json").read_text()).items()}
    (out / "special_tokens_map.json").write_text(json.dumps(plain))
    r = run("verify", src, out)
    assert r.returncode == 1 and "DIFFERS: 'Paris is the <mask> of France.'" in r.stdout and "FAIL" in r.stdout

    r = run("convert", src, tmp_path / "unchecked", "--no-verify")
    assert r.returncode == 0 and "PASS" not in r.stdout
    assert "Not verified" in (tmp_path / "unchecked" / "README.md").read_text(encoding="utf-8")


def test_list():
    r = run("list")
    assert r.returncode == 0
    assert ("| clue/roberta_chinese_clue_large | bert (CLUE, config says roberta) | BertModel | 24 | 1024 | 16 |"
            in r.stdout)
    assert "| distilroberta-base | roberta | RobertaForMaskedLM | 6 | 768 | 12 | 50265 |" in r.stdout


def make_hub_cache(hf_home, repo_id, files_from):
    """The layout huggingface_hub keeps: models--ORG--NAME/{refs/main, snapshots/HASH/*, blobs/*}."""
    import shutil

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for f in files_from.iterdir():
        blob = repo / "blobs" / f"blob-{f.name}"
        shutil.copyfile(f, blob)
        (snap / f.name).symlink_to(blob)


def test_hub_id_resolves_offline_from_cache(tmp_path):
    import os

    src = tmp_path / "hf"
    build_checkpoint(str(src), "BertModel", SMALL_CLUE, vocab="wordpiece", config_json=SMALL_CLUE)
    make_hub_cache(tmp_path / "hf_home", "clue/roberta_chinese_clue_tiny", src)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1",
           "PADDLE_ROBERTA_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(CLI + ["convert", "clue/roberta_chinese_clue_tiny", str(tmp_path / "out")], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert ("PASS" in r.stdout
            and json.loads((tmp_path / "out" / "config.json").read_text())["architectures"] == ["BertModel"])
    assert (tmp_path / "out" / "README.md").read_text(encoding="utf-8").startswith("# clue/roberta_chinese_clue_tiny "
                                                                                   "for PaddleNLP")

    missing = subprocess.run(CLI + ["convert", "clue/roberta_chinese_pair_tiny", str(tmp_path / "out2")],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert (missing.returncode == 2 and "not in the Hugging Face cache" in missing.stderr
            and "HF_HUB_OFFLINE" in missing.stderr)

    # the one-line API: converts once into the cache, loads, and reuses the conversion
    code = (
        "import os, paddle_roberta as pr;"
        "m = pr.from_pretrained('clue/roberta_chinese_clue_tiny'); t = pr.tokenizer('clue/roberta_chinese_clue_tiny');"
        "print(type(m).__name__, type(t).__name__, len(os.listdir(os.environ['PADDLE_ROBERTA_CACHE'])))"
    )
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[-3:] == ["BertModel", "BertTokenizerFast", "1"]
