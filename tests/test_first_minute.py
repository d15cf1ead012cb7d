"""What a user meets first: refusals decided before any framework is imported (one line, exit 2, about as fast as
--version), messages that say what to do, a Ctrl-C in Python that leaves the process able to try again, and
conversions from a thread pool."""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import TINY

from paddle_roberta import ConversionError, SentenceEncoder, convert, export_inference, from_pretrained
from paddle_roberta.dev.synthetic import build_checkpoint

CLI = [sys.executable, "-m", "paddle_roberta"]
FRAMEWORKS = ("paddle", "paddlenlp", "torch", "transformers")


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """A BERT classifier, its conversion, a sentence-transformers copy whose Pooling folder was not copied, and a bare
    body's conversion."""
    root = tmp_path_factory.mktemp("first")
    build_checkpoint(str(root / "hf"), "BertForSequenceClassification", TINY["bert"], seed=2, vocab="wordpiece")
    convert(root / "hf", root / "pd")
    build_checkpoint(str(root / "st"), "BertModel", TINY["bert"], seed=3, vocab="wordpiece")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (root / "st" / "modules.json").write_text(json.dumps(modules))
    build_checkpoint(str(root / "body"), "BertModel", TINY["bert"], seed=4, vocab="wordpiece")
    convert(root / "body", root / "body-pd", verify=False)
    export_inference(root / "pd", root / "served", verify=False)
    (root / "other").mkdir()  # another model's config: a vocabulary of another size
    (root / "notours").mkdir()  # a folder of the user's: never replaced
    (root / "notours" / "notes.txt").write_text("mine")
    config = json.loads((root / "hf" / "config.json").read_text())
    (root / "other" / "config.json").write_text(json.dumps(dict(config, vocab_size=config["vocab_size"] + 7)))
    return root


def timed(args, cwd):
    """(seconds, completed process) of one whole command, with the modules it imported (-X importtime)."""
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "paddle_roberta", *args], capture_output=True,
                       text=True, timeout=120, cwd=cwd)
    return time.perf_counter() - start, r


REFUSALS = [  # (arguments, words of the one line)
    (["convert", "./typo", "o"], ["typo: no such directory", "hub id"]),
    (["convert", "no-such-org/typo", "o"], ["no-such-org/typo: not a local directory, not in the Hugging Face cache"]),
    (["convert", "hf", "hf"], ["is the source directory"]),
    (["convert", "hf", "pd"], ["already exists", "--overwrite"]),
    (["convert", "pd", "o"], ["a PaddleNLP directory", "converted already", "paddle-roberta export pd DEST"]),
    (["convert", "st", "o"], ["module 1_Pooling (Pooling) is missing", "--head BertModel"]),
    (["export", "hf", "o"], ["a Hugging Face directory", "paddle-roberta convert hf OUT"]),
    (["export", "pd", "o", "--to", "inference", "--source", "pd"], ["a PaddleNLP directory", "leave --source out"]),
    (["export", "pd", "pd"], ["is the source directory"]),
    (["verify", "pd", "hf"], ["a PaddleNLP directory", "Hugging Face directory first"]),
    (["export", "served", "o", "--to", "inference"], ["a Paddle Inference export", "export from the PaddleNLP"]),
    (["convert", "served", "o"], ["a Paddle Inference export", "give the Hugging Face original"]),
    (["verify", "hf", "served"], ["a Paddle Inference export", "its README holds the report"]),
    (["verify", "other", "pd"], ["not the model pd was converted from: its vocab_size"]),
    (["export", "pd", "o", "--to", "inference", "--source", "other"], ["not the model pd", "leave --source out"]),
    (["convert", "hf", "o", "--bogus"], ["unrecognized arguments: --bogus"]),
    (["convert", "hf", "o", "--formt", "pdparams"], ["unrecognized arguments: --formt", "did you mean --format?"]),
    (["convert", "hf"], ["required: out", "paddle-roberta convert --help"]),
    (["convert", "hf", "o", "--weights", "nope.bin"], ["nope.bin: not a weights file of hf", "leave --weights out"]),
    (["export", "pd", "o", "--weights", "nope.pdparams"], ["nope.pdparams: not a weights file of pd"]),
    (["convert", "hf", "o", "--head", "BertForFoo"], ["--head BertForFoo: not a class this tool converts"]),
    (["convert", "hf", "notours"], ["notours: already exists, and paddle-roberta did not write it: pick another OUT"]),
    (["export", "pd", "o", "--to", "onnx", "--precision", "bfloat16"], ["an ONNX export runs in float32"]),
    (["export", "pd", "o", "--to", "inference", "--quantize", "int8"], ["--quantize int8 is for --to onnx"]),
    (["export", "pd", "o", "--to", "onnnx"], ["invalid choice: 'onnnx'"]),
]


def test_refusals_are_one_line_before_any_framework_and_as_fast_as_version(dirs):
    version = [timed(["--version"], dirs)[0] for _ in range(3)]
    for args, words in REFUSALS:
        times, runs = zip(*(timed(args, dirs) for _ in range(3)))
        r = runs[0]
        lines = [line for line in r.stderr.splitlines() if not line.startswith("import time:")]
        assert r.returncode == 2, (args, r.stderr[-500:])
        error = lines[-1]
        assert error.startswith("paddle-roberta") and ": error: " in error, (args, lines)
        assert "Traceback" not in r.stderr, (args, lines)
        assert len(lines) == 1, (args, lines)
        assert all(w in error for w in words), (args, error)
        imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                    if line.startswith("import time:")}
        assert not imported & set(FRAMEWORKS), (args, imported & set(FRAMEWORKS))
        ratio = statistics.median(times) / statistics.median(version)
        assert statistics.median(times) <= 1.0 or ratio <= 1.5, (args, times, version)
    assert not (dirs / "o").exists()


def test_messages_say_what_to_do(dirs, tmp_path):
    # a sentence-transformers directory that was not converted, given to SentenceEncoder
    with pytest.raises(ConversionError, match=r"not converted yet: SentenceEncoder\.from_pretrained"):
        SentenceEncoder(dirs / "st")
    # a label count for a model without labels: say which class to ask for
    with pytest.raises(ConversionError, match=r'no labels, and num_classes was given: pass cls="BertForSequenceCl'):
        from_pretrained(dirs / "body-pd", num_classes=2)
    # a --head the checkpoint does not hold: which one it does
    with pytest.raises(ConversionError, match="its tensors hold BertForSequenceClassification: pass --head Bert"):
        convert(dirs / "hf", tmp_path / "mlm", head="BertForMaskedLM", verify=False)
    # --head converts the body of a sentence-transformers model whose modules are not all there
    r = subprocess.run(CLI + ["convert", str(dirs / "st"), str(tmp_path / "body"), "--head", "BertModel"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "the transformer body alone converted" in r.stdout
    assert not (tmp_path / "body" / "sentence_encoder.json").exists()


def test_export_against_the_source_after_fine_tuning_says_to_leave_it_out(dirs, tmp_path):
    """A fine-tune saved over the converted weights no longer computes what --source does: the failure says why."""
    from safetensors.numpy import load_file, save_file

    tuned = tmp_path / "tuned"
    subprocess.run(["cp", "-r", str(dirs / "pd"), str(tuned)], check=True)
    weights = load_file(str(tuned / "model.safetensors"))
    rng = np.random.default_rng(0)
    weights = {k: (v + rng.normal(0, 0.05, v.shape).astype(v.dtype)) if "classifier" in k else v
               for k, v in weights.items()}
    save_file(weights, str(tuned / "model.safetensors"), metadata={"format": "np"})
    with pytest.raises(ConversionError, match="fine-tuned after its conversion.*leave --source out"):
        export_inference(tuned, tmp_path / "served", source=dirs / "hf")
    assert not (tmp_path / "served").exists()
    assert export_inference(tuned, tmp_path / "served").verify_report.ok  # as the message says


INTERRUPT = """
import os, signal, sys, threading


class InsidePaddle:  # the deterministic case: the signal lands while paddle's C++ core is being imported
    def find_spec(self, name, path=None, target=None):
        if name == "paddle.base.core":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)


if sys.argv[3] == "paddle-import":
    sys.meta_path.insert(0, InsidePaddle())
else:
    threading.Timer(float(sys.argv[3]), lambda: os.kill(os.getpid(), signal.SIGINT)).start()
from paddle_roberta import convert
first = "completed"
try:
    convert(sys.argv[1], sys.argv[2] + "-1")
except KeyboardInterrupt:
    first = "interrupted"
r = convert(sys.argv[1], sys.argv[2] + "-2")
print(first, r.verify_report.ok)
"""


@pytest.mark.parametrize("delay", ["paddle-import", 0.5, 1.0, 2.5, 4.0])
def test_ctrl_c_in_the_first_python_call_leaves_the_process_able_to_retry(dirs, tmp_path, delay):
    """Wherever the interrupt lands (the frameworks' imports included: a half-imported paddle cannot be imported
    again), the retry in the same process converts and verifies, and the interrupted call left nothing."""
    r = subprocess.run([sys.executable, "-c", INTERRUPT, str(dirs / "hf"), str(tmp_path / "o"), str(delay)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    first, ok = r.stdout.split()[-2:]
    assert ok == "True", r.stdout
    assert sorted(os.listdir(tmp_path)) == (["o-1", "o-2"] if first == "completed" else ["o-2"])


THREADS = """
import sys, threading
import torch  # noqa: F401 -- imported first, as a training script or a web app has it
from paddle_roberta import convert
ok = []
for batch in range(2):  # the second batch's threads start after the first's have ended
    threads = [threading.Thread(target=lambda i: ok.append(convert(sys.argv[1], f"{sys.argv[2]}-{batch}{i}")
                                                         .verify_report.ok), args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
print(ok)
"""


def test_conversions_from_worker_threads_with_torch_imported(dirs, tmp_path):
    """paddle imported first on a worker thread, and threads started after those ended (a segfault before: paddle's
    thread-local tracer was unset there)."""
    r = subprocess.run([sys.executable, "-c", THREADS, str(dirs / "hf"), str(tmp_path / "o")], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.strip().splitlines()[-1] == "[True, True, True, True]", r.stdout
