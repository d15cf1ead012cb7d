"""The stable-PaddleNLP check (tests/stable/) can fail: run here under PaddleNLP 3.0.0b4 on a few cases, it
passes, then fails on a tampered weight, a missing tensor and a wrong tokenizer. `make test` runs it for real
under PaddleNLP 2.8.1, 2.7.2, 2.6.1 and 2.6.0, one .venv-stable-VERSION each."""

import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

STABLE = os.path.join(os.path.dirname(__file__), "stable")
sys.path.insert(0, STABLE)

import make_cases  # noqa: E402


def run_check(root):
    r = subprocess.run([sys.executable, os.path.join(STABLE, "check_stable.py"), str(root), "--json",
                        str(root / "r.json")],
                       capture_output=True, text=True, timeout=600)
    return r.returncode, {f"{row['case']} {row['format']}": row["status"]
                          for row in json.loads((root / "r.json").read_text())["rows"]}


def test_stable_check_passes_and_can_fail(tmp_path, paddle_quiet):
    root = tmp_path / "cases"
    root.mkdir()
    make_cases.build(str(root), only={("bert", "ForMaskedLM"), ("roberta", "ForCausalLM"), ("xlm-roberta", "Model")})
    code, status = run_check(root)
    assert code == 0 and set(status.values()) == {"ok"} and len(status) == 6, status  # XLM-R exists in 3.0.0b4

    st = root / "bert-ForMaskedLM" / "paddle-safetensors" / "model.safetensors"
    weights = load_file(st)
    weights["bert.encoder.layers.1.norm1.weight"] = weights["bert.encoder.layers.1.norm1.weight"] * np.float32(1.01)
    save_file(weights, st, metadata={"format": "np"})
    code, status = run_check(root)
    assert code == 1 and status["bert BertForMaskedLM safetensors"] == "FAIL", status

    del weights["bert.encoder.layers.1.norm1.weight"]  # PaddleNLP initialises what the file lacks
    save_file(weights, st, metadata={"format": "np"})
    code, status = run_check(root)
    assert code == 1 and "is not the file's value" in status["bert BertForMaskedLM safetensors"], status

    tok = root / "roberta-ForCausalLM" / "paddle-pdparams" / "special_tokens_map.json"
    specials = json.loads(tok.read_text())
    tok.write_text(json.dumps({k: v["content"] for k, v in specials.items()}))  # plain strings: <mask> eats spaces
    code, status = run_check(root)
    assert (status["roberta RobertaForCausalLM pdparams"] == "FAIL"
            and status["roberta RobertaForCausalLM safetensors"] == "ok")
