"""Sentence embeddings (issue 22): encode throughput of sentence-transformers on torch, paddle_roberta's
SentenceEncoder (dygraph Paddle) and the inference export (Paddle Inference through ``Predictor.encode``).

    make bench-sentence     # or: .venv/bin/python bench/bench_sentence.py [--sentences 1000]

The model: all-MiniLM-L6-v2's shape (BERT, 6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522,
max_seq_length 256), mean pooling then Normalize, trained-looking weights (``dev.synthetic``), built with
sentence-transformers. Workload: --sentences mixed-length sentences (Chinese, English and mixed, 1 to 120 words or
characters, a fixed seed), ``encode(batch_size=32)`` as users call it (each engine sorts by length and batches).
Each engine runs in its own process with 2 threads: a warm-up pass over the first 128 sentences, then the whole
list, timed. The embeddings are compared with sentence-transformers' (max abs diff, worst pairwise cosine
difference); sentence-transformers again with batch_size 1 shows float32's own noise on the same sentences.
Prints markdown; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_load import cpu_model  # noqa: E402

PY = sys.executable
THREADS = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "GLOG_minloglevel": "2"}
MINILM = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
              max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)
ENGINES = ["sentence-transformers (torch)", "SentenceEncoder (Paddle dygraph)", "inference export (Paddle Inference)",
           "sentence-transformers (torch), batch_size 1"]  # the last: torch's own float32 noise, for scale

RUN = r"""
import json, sys, time
import numpy as np
engine, path, texts_file, out = sys.argv[1:5]
batch = 1 if engine.endswith("batch_size 1") else 32
texts = json.load(open(texts_file, encoding="utf-8"))
if engine.startswith("sentence-transformers"):
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(2)
    model = SentenceTransformer(path, device="cpu")
    encode = lambda t: model.encode(t, batch_size=batch, show_progress_bar=False)
elif engine.startswith("SentenceEncoder"):
    import paddle
    paddle.set_device("cpu")
    from paddle_roberta import SentenceEncoder
    model = SentenceEncoder(path)
    encode = lambda t: model.encode(t, batch_size=batch, show_progress_bar=False)
else:
    from paddle_roberta.serving import Predictor
    model = Predictor(path, threads=2)
    encode = lambda t: model.encode(t, batch_size=batch, show_progress_bar=False)
encode(texts[:128])
start = time.perf_counter()
vectors = encode(texts)
seconds = time.perf_counter() - start
np.save(out, vectors)
print(json.dumps({"seconds": seconds}))
"""


def sentences(n: int, seed: int = 0) -> list:
    rng = random.Random(seed)
    english = ("the capital of France is Paris and it is a sunny day so we go for a walk in the park while natural "
               "language processing is an important field of artificial intelligence").split()
    chinese = "中国的首都是北京今天天气很好我们去公园散步吧自然语言处理是人工智能的一个重要方向"
    out = []
    for i in range(n):
        k = rng.choice([3, 8, 15, 30, 60, 120])
        length = rng.randint(1, k)
        kind = i % 3
        if kind == 0:
            out.append(" ".join(rng.choice(english) for _ in range(length)))
        elif kind == 1:
            out.append("".join(rng.choice(chinese) for _ in range(length)))
        else:
            out.append(" ".join(rng.choice(english) if rng.random() < 0.5 else rng.choice(chinese) * 2
                                for _ in range(length)))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=1000)
    args = parser.parse_args()
    import numpy as np

    from paddle_roberta import convert, export_inference
    from paddle_roberta.dev.synthetic import build_sentence_transformer
    from paddle_roberta.parity.sentence import cosines

    tmp = tempfile.mkdtemp(prefix="bench-sentence-")
    st, out, served = (os.path.join(tmp, n) for n in ("st", "paddle", "served"))
    build_sentence_transformer(st, "bert", MINILM, modes=("mean",), normalize=True, max_seq_length=256)
    convert(st, out, verify=False)
    export_inference(out, served, verify=False)
    texts_file = os.path.join(tmp, "texts.json")
    texts = sentences(args.sentences)
    with open(texts_file, "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    results, vectors = {}, {}
    for engine, path in zip(ENGINES, (st, out, served, st)):
        npy = os.path.join(tmp, f"{len(results)}.npy")
        r = subprocess.run([PY, "-c", RUN, engine, path, texts_file, npy], capture_output=True, text=True,
                           env=dict(os.environ, **THREADS))
        if r.returncode != 0:
            raise SystemExit(f"{engine} failed:\n{r.stderr[-3000:]}")
        results[engine] = json.loads(r.stdout.strip().splitlines()[-1])
        vectors[engine] = np.load(npy)
    want = vectors[ENGINES[0]]
    base = args.sentences / results[ENGINES[0]]["seconds"]
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"2 threads per engine, {args.sentences} sentences, all-MiniLM-L6-v2 shape, batch_size 32\n")
    print("| engine | seconds | sentences/s | vs sentence-transformers | max abs diff | worst pairwise cosine diff |")
    print("|---|---|---|---|---|---|")
    for engine in ENGINES:
        rate = args.sentences / results[engine]["seconds"]
        diff = float(np.abs(vectors[engine] - want).max())
        cos = float(np.abs(cosines(vectors[engine]) - cosines(want)).max())
        print(f"| {engine} | {results[engine]['seconds']:.2f} | {rate:.1f} | {rate / base:.2f}x | {diff:.1e} | "
              f"{cos:.1e} |")


if __name__ == "__main__":
    main()
