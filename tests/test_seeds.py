"""Each seed model at its exact architecture (random weights: hub weights cannot be fetched here)."""

import json
import re
import shutil

import pytest
from conftest import ATOL

from paddle_roberta import convert
from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.parity.check import check

# The peak memory of `paddle-roberta ARGS` (none: the imports alone) in its own process: VmHWM of the new
# address space, since ru_maxrss of a child of this large test process counts the parent's pages from before exec.
PEAK = """
import sys
from paddle_roberta.cli import main
import paddle_roberta.convert, paddle_roberta.export_hf
code = main(sys.argv[1:]) if len(sys.argv) > 1 else 0
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) // 1024)
sys.exit(code)
"""


def peak_mib(args) -> int:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", PEAK] + args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1])


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_architecture(tmp_path, paddle_quiet, name):
    seed = SEEDS[name]
    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = build_checkpoint(str(src), seed.hf_class, seed.config, vocab=seed.vocab, config_json=seed.config)
    if name.startswith("clue/"):
        # what the hub ships: says roberta, names no class; a WordPiece vocab.txt of the config's size
        written = json.loads((src / "config.json").read_text())
        assert written["model_type"] == "roberta" and "architectures" not in written
        assert len((src / "vocab.txt").read_text().splitlines()) == seed.config["vocab_size"]

    size = sum(f.stat().st_size for f in src.iterdir() if f.suffix in (".safetensors", ".bin"))
    if size > 2**30:  # the streaming bound of the benchmark (issue 4), at this exact shape
        base = peak_mib([])
        above = peak_mib(["convert", str(src), str(tmp_path / "streamed"), "--no-verify", "--quiet"]) - base
        assert above <= 0.25 * size / 2**20, (f"{name}: {above} MiB above baseline for a "
                                              f"{size / 2**20:.0f} MiB checkpoint")
        # and back: export streams through the same path, within the same bound
        back = peak_mib(["export", str(tmp_path / "streamed"), str(tmp_path / "back"), "--no-verify", "--quiet"]) - base
        assert back <= 0.25 * size / 2**20, (f"{name}: export {back} MiB above baseline for a "
                                             f"{size / 2**20:.0f} MiB checkpoint")
        print(f"{name}: {size / 2**20:.0f} MiB checkpoint; peak above imports: convert {above} MiB, export {back} MiB")
        shutil.rmtree(tmp_path / "back")

    result = convert(src, out)
    assert result.plan.paddle_class == seed.paddle_class
    config = json.loads((out / "config.json").read_text())
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings", "type_vocab_size", "layer_norm_eps"):
        assert config[key] == seed.config[key], key
    # CLUE's config says pad 1, which is [UNK] in its vocab.txt: the id the tokenizer pads with is written
    assert config["pad_token_id"] == (0 if name.startswith("clue/") else seed.config["pad_token_id"])
    assert config["model_type"] == ("bert" if name.startswith("clue/") else seed.config["model_type"])
    for key in ("bos_token_id", "eos_token_id"):
        if key in seed.config:
            assert config[key] == seed.config[key]

    report = check(str(src), str(out), torch_model=model)
    for d in report.rows:
        assert d.within(ATOL), f"{name} {d.name}: max abs diff {d.max_abs:.2e} (output scale {d.scale:.1f})"


def test_clue_as_roberta_would_be_wrong(tmp_path, paddle_quiet):
    """Why the detection matters: forced to RoBERTa, a CLUE checkpoint's outputs are far off."""
    seed = SEEDS["clue/roberta_chinese_clue_tiny"]
    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = build_checkpoint(str(src), seed.hf_class, seed.config, vocab=seed.vocab, config_json=seed.config)
    # verify compares with transformers' RobertaModel, which reads the config the same wrong way and agrees;
    # the model card's BertModel, what the checkpoint was trained as, does not
    convert(src, out, family="roberta", verify=False)  # verify fails too: [UNK] is RoBERTa's pad id 1 here
    report = check(str(src), str(out), torch_model=model)
    assert max(d.max_abs for d in report.rows) > 1e-2


def test_convert_scripts_check_the_shapes(tmp_path):
    import os
    import subprocess
    import sys

    seed = SEEDS["clue/roberta_chinese_3L312_clue_tiny"]
    src = tmp_path / "hf"
    build_checkpoint(str(src), seed.hf_class, seed.config, vocab=seed.vocab, config_json=seed.config)
    scripts = os.path.join(os.path.dirname(__file__), "..", "convert")
    ok = subprocess.run([sys.executable, os.path.join(scripts, "roberta_chinese_3L312_clue_tiny.py"), str(src),
                         str(tmp_path / "a")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "PASS" in ok.stdout  # the scripts verify, as every door does
    assert json.loads((tmp_path / "a" / "config.json").read_text())["num_hidden_layers"] == 3
    wrong = subprocess.run([sys.executable, os.path.join(scripts, "roberta_chinese_clue_tiny.py"), str(src),
                            str(tmp_path / "b")],
                           capture_output=True, text=True)
    assert wrong.returncode == 1 and "num_hidden_layers 3 (expected 4)" in wrong.stderr
    assert not (tmp_path / "b").exists()


def test_clue_style_from_bin_to_pdparams(tmp_path, paddle_quiet):
    """The CLUE row of the support table in the other formats: .bin in, pdparams out."""
    config = dict(SEEDS["clue/roberta_chinese_clue_tiny"].config, num_hidden_layers=2, hidden_size=24,
                  num_attention_heads=4, intermediate_size=40)
    src, out = tmp_path / "hf", tmp_path / "paddle"
    model = build_checkpoint(str(src), "BertModel", config, vocab="wordpiece", config_json=config, fmt="bin")
    result = convert(src, out, format="pdparams")
    assert result.plan.paddle_class == "BertModel" and (out / "model_state.pdparams").exists()
    report = check(str(src), str(out), torch_model=model)
    assert all(d.within(ATOL) for d in report.rows)


BERT_BASE_CHINESE = dict(vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
                         pad_token_id=0, model_type="bert", architectures=["BertForMaskedLM"])


def test_pretraining_state_dict_under_masked_lm(tmp_path):
    """bert-base-chinese as the hub has it: BertForPreTraining tensors (with the NSP head) in an old .bin
    with LayerNorm gamma/beta names, config.json saying BertForMaskedLM. Converts to BertForMaskedLM,
    dropping and listing the NSP head; --head BertForPreTraining keeps it; unknown tensors stay errors."""
    import subprocess
    import sys

    import torch

    src = tmp_path / "hf"
    model = build_checkpoint(str(src), "BertForPreTraining", BERT_BASE_CHINESE, vocab="wordpiece", fmt="bin",
                             config_json=BERT_BASE_CHINESE)
    state = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
             for k, v in model.state_dict().items()}
    assert "cls.seq_relationship.weight" in state and any(k.endswith("LayerNorm.gamma") for k in state)
    torch.save(state, src / "pytorch_model.bin")

    cli = [sys.executable, "-m", "paddle_roberta", "convert"]
    r = subprocess.run(cli + [str(src), str(tmp_path / "mlm")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "dropped cls.seq_relationship.* (NSP head, not part of BertForMaskedLM)" in r.stdout
    assert "PASS" in r.stdout and re.search(r"fill-mask top 5: (\d+)/\1 texts agree", r.stdout)
    assert json.loads((tmp_path / "mlm" / "config.json").read_text())["architectures"] == ["BertForMaskedLM"]

    r = subprocess.run(cli + [str(src), str(tmp_path / "pre"), "--head", "BertForPreTraining"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "\n  dropped " not in r.stdout and "| seq_relationship_logits |" in r.stdout and "PASS" in r.stdout
    assert json.loads((tmp_path / "pre" / "config.json").read_text())["architectures"] == ["BertForPretraining"]

    r = subprocess.run(cli + [str(src), str(tmp_path / "qa"), "--head", "BertForQuestionAnswering"],
                       capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 1 and "qa_outputs.weight is missing" in r.stderr and not (tmp_path / "qa").exists()


SCRIPTS = __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "convert")


def test_seed_script_converts_a_fine_tune_of_its_seed(tmp_path):
    """A distilroberta-base fine-tuned for classification is a distilroberta-base: its script converts it (verified);
    another shape is refused in one line that points to `paddle-roberta convert`."""
    import os
    import subprocess
    import sys

    seed = SEEDS["distilroberta-base"]
    config = dict(seed.config, architectures=["RobertaForSequenceClassification"], num_labels=3)
    src = tmp_path / "distil-clf"
    build_checkpoint(str(src), "RobertaForSequenceClassification", config, vocab="bpe")
    script = os.path.join(SCRIPTS, "distilroberta_base.py")
    r = subprocess.run([sys.executable, script, str(src), str(tmp_path / "out")], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr
    assert "RobertaForSequenceClassification, 6 layers, hidden 768" in r.stdout and "PASS" in r.stdout
    assert (json.loads((tmp_path / "out" / "config.json").read_text())["architectures"]
            == ["RobertaForSequenceClassification"])

    small = tmp_path / "small-clf"
    build_checkpoint(str(small), "RobertaForSequenceClassification",
                     dict(config, num_hidden_layers=2, hidden_size=24, num_attention_heads=4,
                          intermediate_size=40), vocab="bpe")
    r = subprocess.run([sys.executable, script, str(small), str(tmp_path / "out2")], capture_output=True, text=True,
                       timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "not distilroberta-base or a fine-tune of it: num_hidden_layers 2 (expected 6)" in lines[0]
    assert f"`paddle-roberta convert {small} {tmp_path / 'out2'}`" in lines[0]
    assert not (tmp_path / "out2").exists()


def test_seed_script_with_another_python_says_which_to_use(tmp_path):
    """The README's old `python convert/...` with a Python that lacks the package ended in a traceback."""
    import os
    import subprocess
    import sys

    script = os.path.join(SCRIPTS, "xlm_roberta_base.py")
    # -S: no site-packages, so neither this package nor its dependencies, as with the system python
    r = subprocess.run([sys.executable, "-S", script, "src", "out"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "No module named 'paddle_roberta'" in r.stderr
    assert ".venv/bin/python" in r.stderr


def test_clue_tiny_with_a_2019_config(tmp_path):
    """clue_tiny's exact shape with config.json as transformers 2.x wrote it: no model_type, no architectures.
    The family comes from the evidence (vocab.txt, two token types) and the result verifies."""
    seed = SEEDS["clue/roberta_chinese_clue_tiny"]
    old = {k: v for k, v in seed.config.items() if k != "model_type"}
    src, out = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertModel", seed.config, vocab=seed.vocab, config_json=old)
    result = convert(src, out)
    assert result.plan.paddle_class == "BertModel" and result.verify_report["ok"]
    assert any(n.startswith("family: ") and "names none; bert from" in n for n in result.plan.notes)
