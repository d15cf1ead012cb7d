"""Every fenced code block of README.md and of the pages beside it (``DOCS``, in the order the README once held them)
runs as written, doctest-style, in that order.

`sh` blocks run with bash, `python` blocks with this Python, each in its own process, all in one working
directory that holds what the README's names refer to, built here at small shapes (no download):
`path/to/hf-model`, `path/to/sentence-model` (a sentence-transformers model), the hub id
`clue/roberta_chinese_clue_tiny` in an offline Hugging Face cache,
`roberta_chinese_clue_tiny/` at that seed's exact shape, `served/` (an `export --to inference`), and
`.venv` and `convert/` linked to the project's. A block that cannot run here (output samples, `make`
targets that take minutes, a synopsis with placeholders) carries `<!-- not run: REASON -->` on the line
before it; any other block must run and exit 0."""

import difflib
import os
import re
import shutil
import subprocess
import sys

import pytest

from paddle_roberta.dev.seeds import SEEDS
from paddle_roberta.dev.synthetic import build_checkpoint, build_sentence_transformer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\s*$")
SAMPLE = re.compile(r"<!-- sample: (.+?) -->\s*$")  # an output sample: test_sample_output runs its command
RUNNERS = {"sh": ["bash", "-e", "-c"], "python": [sys.executable, "-c"]}


DOCS = ["README.md", "docs/cli.md", "docs/serving.md", "docs/sentence-transformers.md", "docs/architecture.md",
        "docs/support.md", "docs/parity.md", "bench/README.md", "docs/safety.md", "docs/differences.md",
        "docs/pipelines.md"]


def blocks():
    found = []
    for doc in DOCS:
        text = open(os.path.join(ROOT, doc), encoding="utf-8").read()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = NOT_RUN.search(before) or SAMPLE.search(before)
            found.append(pytest.param(m.group(1), m.group(2), skip and skip.group(1),
                                      id=f"{doc}-line-{line}-{m.group(1) or 'text'}"))
    return found


def samples():
    found = []
    for doc in DOCS:
        text = open(os.path.join(ROOT, doc), encoding="utf-8").read()
        for m in FENCE.finditer(text):
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            if SAMPLE.search(before):
                found.append(pytest.param(m.group(2), id=f"{doc}-line-{text.count(chr(10), 0, m.start()) + 1}"))
    return found


def test_every_page_is_collected():
    """A page in docs/ that DOCS does not list would have its blocks silently untested."""
    listed = {d for d in DOCS if d.startswith("docs/")}
    assert {f"docs/{f}" for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md")} == listed


SMALL_CLUE = dict(SEEDS["clue/roberta_chinese_clue_tiny"].config, num_hidden_layers=2, hidden_size=24,
                  num_attention_heads=4, intermediate_size=40)


def hub_cache(hf_home, repo_id, files_from):
    """huggingface_hub's layout: models--ORG--NAME/{refs/main, snapshots/REV/* -> blobs/*}."""
    revision = "0" * 40
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "blobs").mkdir()
    for f in files_from.iterdir():
        shutil.copyfile(f, repo / "blobs" / f.name)
        (repo / "snapshots" / revision / f.name).symlink_to(repo / "blobs" / f.name)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    ws = tmp_path_factory.mktemp("readme")
    os.symlink(sys.prefix, ws / ".venv")
    os.symlink(os.path.join(ROOT, "convert"), ws / "convert")
    build_checkpoint(str(ws / "path" / "to" / "hf-model"), "BertModel", SMALL_CLUE, vocab="wordpiece",
                     config_json=SMALL_CLUE)
    hub_cache(ws / "hf_home", "clue/roberta_chinese_clue_tiny", ws / "path" / "to" / "hf-model")
    build_sentence_transformer(str(ws / "path" / "to" / "sentence-model"), "bert", SMALL_CLUE, modes=("mean",),
                               normalize=True, prompts={"query": "query: "}, max_seq_length=64)
    seed = SEEDS["clue/roberta_chinese_clue_tiny"]
    build_checkpoint(str(ws / "roberta_chinese_clue_tiny"), seed.hf_class, seed.config, vocab=seed.vocab,
                     config_json=seed.config)
    clf = dict(SMALL_CLUE, architectures=["BertForSequenceClassification"], num_labels=3)
    build_checkpoint(str(ws / "clf-hf"), "BertForSequenceClassification", clf, vocab="wordpiece", config_json=clf)
    ner = dict(SMALL_CLUE, architectures=["BertForTokenClassification"], num_labels=5,
               id2label={"0": "O", "1": "B-PER", "2": "I-PER", "3": "B-LOC", "4": "I-LOC"})
    build_checkpoint(str(ws / "ner-hf"), "BertForTokenClassification", ner, vocab="wordpiece", config_json=ner)
    qa = dict(SMALL_CLUE, architectures=["BertForQuestionAnswering"], num_labels=2)
    build_checkpoint(str(ws / "qa-hf"), "BertForQuestionAnswering", qa, vocab="wordpiece", config_json=qa)
    cli = [sys.executable, "-m", "paddle_roberta"]
    for args in (["convert", "clf-hf", "clf-paddle", "--no-verify"],
                 ["export", "clf-paddle", "served", "--to", "inference"],
                 ["convert", "ner-hf", "ner-paddle", "--no-verify"], ["convert", "qa-hf", "qa-paddle", "--no-verify"]):
        r = subprocess.run(cli + args, cwd=ws, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    return ws


@pytest.mark.parametrize("lang,code,not_run", blocks())
def test_readme_block(workdir, lang, code, not_run):
    if not_run:
        pytest.skip(not_run)
    assert lang in RUNNERS, (f"a ```{lang} block that does not run: make it sh or python, "
                             f"or mark it <!-- not run: why -->")
    env = {**os.environ, "HF_HOME": str(workdir / "hf_home"), "HF_HUB_OFFLINE": "1",
           "PADDLE_ROBERTA_CACHE": str(workdir / "cache")}
    r = subprocess.run(RUNNERS[lang] + [code], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{code}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"


def shape_of(line: str, dirs) -> str:
    """A line of output with what differs from run to run made equal: the working directory, every number (figures,
    sizes, counts, dates) and the ids in synthetic vocabularies' token names."""
    for d in dirs:
        line = line.replace(str(d), "DIR")
    return re.sub(r"\d+(\.\d+)?(e[+-]\d+)?", "N", line.replace("/home/me/work", "DIR")).rstrip()


def build_distil(ws):
    config = dict(SEEDS["distilroberta-base"].config)
    build_checkpoint(str(ws / "distilroberta-base-random"), "RobertaForMaskedLM", config, vocab="bpe")


def build_tuned(ws):
    """A RoBERTa classifier fine-tuned in Paddle would be saved with save_pretrained: a converted one, saved again."""
    import paddlenlp.transformers as pt

    config = dict(SEEDS["distilroberta-base"].config, num_hidden_layers=2, hidden_size=20, num_attention_heads=4,
                  intermediate_size=37, vocab_size=700, num_labels=3, max_position_embeddings=66)
    build_checkpoint(str(ws / "tuned-hf"), "RobertaForSequenceClassification", config, vocab="bpe")
    subprocess.run([sys.executable, "-m", "paddle_roberta", "convert", str(ws / "tuned-hf"), str(ws / "tuned-pd"),
                    "--no-verify", "--quiet"], check=True, timeout=600)
    pt.AutoModelForSequenceClassification.from_pretrained(str(ws / "tuned-pd")).save_pretrained(str(ws / "tuned"))
    pt.AutoTokenizer.from_pretrained(str(ws / "tuned-pd")).save_pretrained(str(ws / "tuned"))


INPUTS = {"distilroberta-base-random/": build_distil, "tuned": build_tuned}  # what a sample reads beyond the workdir's


@pytest.mark.parametrize("sample", samples())
def test_sample_output(workdir, tmp_path, paddle_quiet, sample):
    """An output sample in the docs is what the tool prints for its command: run here on the same kind of model, line
    for line, numbers and paths aside (``shape_of``). The command's OUT is left out of the working directory."""
    command, *expected = sample.rstrip("\n").split("\n")
    assert command.startswith("$ paddle-roberta "), command
    args = command.split()[2:]
    out = args[2].rstrip("/")
    for name in os.listdir(workdir):
        if name != out:
            (tmp_path / name).symlink_to(workdir / name)
    for name, build in INPUTS.items():
        if name in args:
            build(tmp_path)
    env = {**os.environ, "HF_HOME": str(workdir / "hf_home"), "HF_HUB_OFFLINE": "1",
           "PADDLE_ROBERTA_CACHE": str(workdir / "cache")}
    r = subprocess.run([sys.executable, "-m", "paddle_roberta", *args], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    got = [shape_of(line, [tmp_path, workdir]) for line in r.stdout.rstrip("\n").split("\n")]
    want = [shape_of(line, []) for line in expected]
    assert got == want, "\n".join(difflib.unified_diff(want, got, "docs", "printed", lineterm=""))
