"""An export served by PaddleNLP's SimpleServer (`paddlenlp server app:app`) with the app.py its README gives:
real HTTP on 127.0.0.1, answers checked against the torch original."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests
from conftest import TINY

from paddle_roberta import convert
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.export_inference import export_inference

TEXTS = ["Hello world", "a longer second text, with more words in it than the first", "third", "four and five",
         "the fifth text", "sixth text here", "seven", ""]
LONG = " ".join(["word", "another"] * 60)  # past the model's 64 positions: truncated


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app_py(served):
    """The server file the export's README shows, as written there."""
    readme = (served / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(import os\nfrom paddlenlp import SimpleServer\n.*?)```", readme, re.S)
    assert block, "the README has no SimpleServer app.py"
    return block.group(1)


class Server:
    def __init__(self, served, workdir):
        (workdir / "app.py").write_text(_app_py(served), encoding="utf-8")
        self.port = _free_port()
        route = re.search(r'app.register\("([^"]+)"', _app_py(served)).group(1)
        self.url = f"http://127.0.0.1:{self.port}/{route}"
        env = dict(os.environ, MODEL_DIR=str(served), OMP_NUM_THREADS="2")
        paddlenlp = os.path.join(os.path.dirname(sys.executable), "paddlenlp")
        self.log = open(workdir / "server.log", "w")
        self.proc = subprocess.Popen([paddlenlp, "server", "app:app", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--app_dir", str(workdir)], cwd=workdir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            assert self.proc.poll() is None, (workdir / "server.log").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the server did not start in 180 s")

    def post(self, body, **kwargs):
        return requests.post(self.url, data=body if isinstance(body, str) else json.dumps(body), timeout=120,
                             headers={"Content-Type": "application/json"}, **kwargs)

    def close(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def _torch_outputs(src, texts, pairs=None, max_length=64):
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(src)
    config = transformers.AutoConfig.from_pretrained(src)
    model = getattr(transformers, config.architectures[0]).from_pretrained(src).eval()
    enc = tok(texts, pairs, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc)
    return enc, out


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, paddle_quiet):
    tmp = tmp_path_factory.mktemp("simple-server")
    src, pd, served = tmp / "hf", tmp / "paddle", tmp / "served"
    build_checkpoint(str(src), "RobertaForSequenceClassification",
                     dict(TINY["roberta"], vocab_size=700, max_position_embeddings=66),
                     seed=45, vocab="bpe")
    convert(src, pd)
    export_inference(pd, served, source=src)
    server = Server(served, tmp)
    yield src, served, server
    server.close()


def _want(src, texts, max_length=64, **options):
    """What transformers' own pipeline answers on the torch original (the route's answer must be the same)."""
    import transformers

    pipe = transformers.pipeline("text-classification", model=str(src), device="cpu")
    return pipe(texts, truncation=True, max_length=max_length, **options)


def _same(result, want):
    assert [a["label"] for a in result] == [w["label"] for w in want], (result, want)
    np.testing.assert_allclose([a["score"] for a in result], [w["score"] for w in want], rtol=0, atol=1e-5)


def _check(result, src, texts):
    _same(result, _want(src, texts))


def test_single_batched_empty_and_over_long_texts_get_torch_labels(classifier):
    src, _, server = classifier
    r = server.post({"data": {"text": "Hello world"}})
    assert r.status_code == 200, r.text
    _check(r.json()["result"], src, ["Hello world"])
    texts = TEXTS + [LONG]
    r = server.post({"data": {"text": texts}, "parameters": {"batch_size": 3}})
    assert r.status_code == 200, r.text
    _check(r.json()["result"], src, texts)
    r = server.post({"data": {"text": TEXTS[:3]}, "parameters": {"max_seq_len": 5}})
    assert r.status_code == 200, r.text
    _same(r.json()["result"], _want(src, TEXTS[:3], max_length=5))
    r = server.post({"data": {"text": TEXTS[:3]}, "parameters": {"top_k": None, "function_to_apply": "sigmoid"}})
    assert r.status_code == 200, r.text
    for got, want in zip(r.json()["result"], _want(src, TEXTS[:3], top_k=None, function_to_apply="sigmoid")):
        _same(got, want)


def test_eight_concurrent_clients_with_mixed_lengths(classifier):
    """8 client threads, 6 requests each, every one a different mix of lengths (1 to 7 texts, up to past the
    positions): each answer is the torch original's labels for its own texts."""
    src, _, server = classifier
    pool = TEXTS + [LONG, " ".join(TEXTS), "x " * 30]
    requests_of = [[[pool[(c * 7 + k * 3 + j) % len(pool)] for j in range(1 + (c + k) % 7)] for k in range(6)]
                   for c in range(8)]
    answers, errors = {}, []

    def client(c):
        try:
            for k, texts in enumerate(requests_of[c]):
                r = server.post({"data": {"text": texts}})
                answers[c, k] = (r.status_code, r.json())
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append((c, repr(e)))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(answers) == 48
    every = sorted({t for texts in (t for c in requests_of for t in c) for t in texts})
    want = dict(zip(every, _want(src, every)))
    for (c, k), (status, body) in answers.items():
        assert status == 200, body
        _same(body["result"], [want[t] for t in requests_of[c][k]])


@pytest.mark.parametrize("body,message", [
    ({"data": {}}, "data.text is missing"),
    ({"data": {"text": 5}}, "data.text must be a string or a list of strings"),
    ({"data": {"text": ["ok", None]}}, "every item must be a string"),
    ({"data": {"text": []}}, "empty list"),
    ({"data": {"text": ["a", "b"], "text_pair": ["c"]}}, "they go in pairs"),
    ({"data": {"text": "a"}, "parameters": {"batch_size": 0}}, "parameters.batch_size must be a positive integer"),
    ({"data": {"text": "a"}, "parameters": {"max_seq_len": "long"}},
     "parameters.max_seq_len must be a positive integer"),
    ('{"data": {"text": ', None),  # not JSON
    ({"text": "a"}, None),  # no "data"
    ({"data": ["a"]}, "data must be an object"),
    ({"data": {"text": ["a long enough text"]}, "parameters": {"max_seq_len": 2}}, "max_seq_len must be at least 3"),
    ({"data": {"text": ["a"], "text_pair": ["b"]}, "parameters": {"max_seq_len": 5}}, "max_seq_len must be at least 6"),
    ({"data": {"text": "a"}, "parameters": {"top_k": 0}}, "parameters.top_k must be a positive integer"),
    ({"data": {"text": "a"}, "parameters": {"function_to_apply": "relu"}},
     "parameters.function_to_apply must be one of"),
    ({"data": {"text": "a"}, "parameters": {"topk": 2}}, "parameters.topk is not one of top_k, function_to_apply"),
])
def test_a_bad_request_gets_a_4xx_with_a_message_and_the_server_lives(classifier, body, message):
    src, _, server = classifier
    r = server.post(body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if message:
        assert message in r.json()["detail"], r.text
    ok = server.post({"data": {"text": "Hello world"}})
    assert ok.status_code == 200, ok.text
    _check(ok.json()["result"], src, ["Hello world"])


@pytest.mark.parametrize("hf_class", ["BertModel", "BertForTokenClassification", "BertForQuestionAnswering",
                                      "BertForMaskedLM"])
def test_other_heads_are_served_with_their_post_handler(tmp_path, paddle_quiet, hf_class):
    """The bare model gives embeddings; token classification entities, QA a span of the context, fill-mask the
    tokens for each mask, each as transformers' pipeline gives them on the torch original."""
    src, pd, served = tmp_path / "hf", tmp_path / "paddle", tmp_path / "served"
    labels = 2 if hf_class.endswith("QuestionAnswering") else 3  # start and end
    build_checkpoint(str(src), hf_class,
                     dict(TINY["bert"], vocab_size=700, max_position_embeddings=66, num_labels=labels),
                     seed=46, vocab="wordpiece")
    convert(src, pd)
    export_inference(pd, served, source=src)
    server = Server(served, tmp_path)
    try:
        texts, pairs = TEXTS[:3], None
        if hf_class == "BertForMaskedLM":
            texts = ["北京是[MASK]国的首都", "the [MASK] of the world", "two [MASK] masks [MASK]"]
        if hf_class.endswith("QuestionAnswering"):
            # an [UNK] in the context may start or end the answer; a literal [SEP] in a question is still the question
            texts = ["Which city?", "what [SEP] city is it", "首都是哪里？"]
            pairs = ["the context of the first", "another context here, longer than that", "中国的首都是北京。"]
            for bad, message in (({"text": texts}, "data.text_pair is missing"),
                                 ({"text": texts, "text_pair": pairs, "__p": {"max_answer_len": "x"}},
                                  "max_answer_len must be a positive integer")):
                params = bad.pop("__p", {})
                r = server.post({"data": bad, "parameters": params})
                assert r.status_code == 422 and message in r.json()["detail"], r.text
        r = server.post({"data": {"text": texts, **({"text_pair": pairs} if pairs else {})}})
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        enc, out = _torch_outputs(str(src), texts, pairs)
        real = enc["attention_mask"].numpy().astype(bool)
        if hf_class == "BertModel":
            hidden = out.last_hidden_state.numpy()
            mean = [hidden[i][real[i]].mean(0) for i in range(len(texts))]
            np.testing.assert_allclose(result["mean_last_hidden_state"], mean, rtol=0, atol=1e-5)
            np.testing.assert_allclose(result["pooler_output"], out.pooler_output.numpy(), rtol=0, atol=1e-5)
        else:  # a task route answers what transformers' pipeline answers on the torch original
            import transformers

            task = {"BertForTokenClassification": "token-classification", "BertForMaskedLM": "fill-mask"}.get(
                hf_class, "question-answering")
            pipe = transformers.pipeline(task, model=str(src), device="cpu")
            if task == "fill-mask":
                want = pipe(texts)
                for got, expected in zip(result, want, strict=True):  # a list per mask where a text has two
                    flat = lambda x: x if isinstance(x[0], dict) else [d for row in x for d in row]  # noqa: E731
                    assert [{k: v for k, v in g.items() if k != "score"} for g in flat(got)] == \
                        [{k: v for k, v in e.items() if k != "score"} for e in flat(expected)]
                    np.testing.assert_allclose([g["score"] for g in flat(got)], [e["score"] for e in flat(expected)],
                                               rtol=0, atol=1e-5)
                return
            if pairs is None:
                want = pipe(texts, aggregation_strategy="simple")
                r = server.post({"data": {"text": texts}, "parameters": {"aggregation_strategy": "simple"}})
                result = r.json()["result"]
            else:
                want = pipe(question=texts, context=pairs)
            assert len(result) == len(want)
            for got, expected in zip(result, want):
                got, expected = (got, expected) if isinstance(got, list) else ([got], [expected])
                assert [{k: v for k, v in g.items() if k != "score"} for g in got] == \
                    [{k: v for k, v in e.items() if k != "score"} for e in expected], (got, expected)
                np.testing.assert_allclose([g["score"] for g in got], [float(e["score"]) for e in expected],
                                           rtol=0, atol=1e-5)
    finally:
        server.close()
