"""The command line as a user meets it: modes, signals, one-line errors, the small options."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import TINY

from paddle_roberta import __version__
from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]


def run(*args, **kw):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)


def one_line_error(r, *words, code=1):
    """One line naming ``words``; exit 1, or 2 for arguments refused before any framework is imported."""
    assert r.returncode == code, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def roberta(tmp_path_factory):
    """A small RoBERTa MLM with a trained BPE, and its conversion."""
    root = tmp_path_factory.mktemp("roberta")
    config = dict(SEEDS["distilroberta-base"].config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                  intermediate_size=40, vocab_size=700)
    build_checkpoint(str(root / "hf"), "RobertaForMaskedLM", config, vocab="bpe")
    assert run("convert", root / "hf", root / "out").returncode == 0
    return root


def test_output_modes_follow_umask(roberta):
    mode = stat.S_IMODE(os.stat(roberta / "out").st_mode)
    assert mode == 0o777 & ~0o022 or mode == 0o777 & ~os.umask(os.umask(0)), oct(mode)  # not mkdtemp's 0700
    r = subprocess.run(CLI + ["convert", str(roberta / "hf"), str(roberta / "out077"), "--no-verify"],
                       preexec_fn=lambda: os.umask(0o077), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(roberta / "out077").st_mode) == 0o700
    r = subprocess.run(CLI + ["convert", str(roberta / "hf"), str(roberta / "out002"), "--no-verify"],
                       preexec_fn=lambda: os.umask(0o002), capture_output=True, text=True, timeout=120)
    assert stat.S_IMODE(os.stat(roberta / "out002").st_mode) == 0o775
    assert stat.S_IMODE(os.stat(roberta / "out002" / "config.json").st_mode) == 0o664


def test_model_card_names_the_final_directory(roberta):
    card = (roberta / "out" / "README.md").read_text(encoding="utf-8")
    assert 'AutoModel.from_pretrained("out")' in card and ".tmp-" not in card and card.startswith("# hf for PaddleNLP")


def test_sigterm_leaves_nothing_behind(tmp_path):
    seed = SEEDS["clue/roberta_chinese_3L768_clue_tiny"]
    build_checkpoint(str(tmp_path / "hf"), seed.hf_class, seed.config, config_json=seed.config)
    proc = subprocess.Popen(CLI + ["convert", str(tmp_path / "hf"), str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not [p for p in os.listdir(tmp_path) if p.startswith(".out.tmp-")]:
        time.sleep(0.01)
    assert proc.poll() is None, "finished before the signal: the test needs a slower conversion"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert sorted(os.listdir(tmp_path)) == ["hf"]


def test_verify_errors_are_one_line(roberta, tmp_path):
    one_line_error(run("verify", roberta / "hf", roberta / "hf"), "a Hugging Face directory, not a PaddleNLP one",
                   code=2)
    # refused before the work, not after: with a torch that cannot be imported, the error is still the JSON path's
    fake = tmp_path / "fake"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("raise ImportError('torch was imported: the work had started')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake)] + [p for p in sys.path if p]))
    one_line_error(run("verify", roberta / "hf", roberta / "out", "--json", tmp_path / "missing" / "x.json", env=env),
                   "missing/x.json", "does not exist", code=2)
    r = run("verify", roberta / "hf", roberta / "out", "--atol", "-1")
    assert r.returncode == 2 and "positive" in r.stderr


def test_text_takes_several_and_half_precision_verifies(roberta, tmp_path):
    r = run("verify", roberta / "hf", roberta / "out", "--text", "one <mask> here", "two words", "--json",
            tmp_path / "r.json")
    assert r.returncode == 0, r.stdout + r.stderr
    texts = [row["text"] for row in json.loads((tmp_path / "r.json").read_text())["tokenizer"]["texts"]]
    assert texts[-2:] == ["one <mask> here", "two words"]
    r = run("convert", roberta / "hf", tmp_path / "half", "--dtype", "float16")
    assert r.returncode == 0, r.stderr
    assert "weights stored in float16, both sides run in float32" in r.stdout and "PASS" in r.stdout
    assert 'dtype="float32"' in (tmp_path / "half" / "README.md").read_text(encoding="utf-8")
    assert run("verify", roberta / "hf", tmp_path / "half").returncode == 0


def test_version_list_json_and_fixed_head_sizes(tmp_path):
    r = run("--version")
    assert r.returncode == 0 and __version__ in r.stdout
    seeds = json.loads(run("list", "--json").stdout)
    assert {s["name"] for s in seeds} == set(SEEDS) and all("config" in s for s in seeds)

    config = dict(TINY["bert"], num_labels=3)
    build_checkpoint(str(tmp_path / "qa"), "BertForQuestionAnswering", config)
    one_line_error(run("convert", tmp_path / "qa", tmp_path / "out"), "qa_outputs.weight", "exactly 2 outputs")

    build_checkpoint(str(tmp_path / "bert"), "BertModel", TINY["bert"])
    r = run("convert", tmp_path / "bert", tmp_path / "forced", "--family", "roberta", "--no-verify")
    assert r.returncode == 0 and "family: forced to roberta (--family) although" in r.stdout


def test_failed_verification_shows_its_table(roberta, tmp_path):
    r = run("convert", roberta / "hf", tmp_path / "out", "--atol", "1e-12")  # a bar float32 cannot meet
    assert r.returncode == 1 and not (tmp_path / "out").exists()
    first, *rest = r.stderr.strip().splitlines()
    assert "verification failed (hidden_states[0], hidden_states[1]" in first and "nothing written" in first
    assert "| hidden_states[1] |" in "\n".join(rest) and rest[-1] == "FAIL"


def test_quiet_libraries_and_sharded_sources(tmp_path):
    """No stray output: no blank lines from training a BPE, no transformers progress bar for shards."""
    code = ("import sys; from paddle_roberta.dev.synthetic import write_byte_level_bpe; "
            "write_byte_level_bpe(sys.argv[1], 700)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == "", repr(r.stdout)

    model = build_checkpoint(str(tmp_path / "hf"), "BertModel", TINY["bert"])
    model.save_pretrained(str(tmp_path / "hf"), max_shard_size="20KB")
    assert (tmp_path / "hf" / "model.safetensors.index.json").exists()
    r = run("convert", tmp_path / "hf", tmp_path / "out")
    assert r.returncode == 0 and "PASS" in r.stdout, r.stderr
    assert "Loading checkpoint shards" not in r.stdout + r.stderr


def test_stage_lines_on_a_terminal(roberta, tmp_path):
    """On a terminal, a line per stage while it works; piped (the other tests), only the summary."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(CLI + ["convert", str(roberta / "hf"), str(tmp_path / "out")], stdout=subprocess.PIPE,
                            stderr=slave, text=True)
    os.close(slave)
    proc.wait(timeout=300)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0
    for stage in ("paddle-roberta: reading", "paddle-roberta: converting", "paddle-roberta: verifying"):
        assert stage in text, text
