"""Sentence embeddings compared: sentence-transformers' ``encode`` on the source against ``SentenceEncoder`` on the
conversion, on the same texts (Chinese, English, mixed, empty and longer than ``max_seq_length``), once per prompt.

Two bars, both judged: every embedding within ``verify``'s bar (``atol`` x max(1, max |embedding|)), and every
pairwise cosine similarity within ``COSINE_ATOL`` of sentence-transformers' — the number retrieval ranks by — or,
where float32 itself is noisier on these texts, within twice sentence-transformers' own disagreement with itself
when only the batch size changes (measured on each run: batch 4 vs batch 1). On all-MiniLM-L6-v2's shape that
self-disagreement reached 6e-7 over 300 sentences, and Paddle's 8.4e-7 on the same ones (bench/bench_sentence.py):
1e-6 sits at float32's floor there. A wrong pooling mode, weight or prompt is off by 1e-3 or more.
"""

from __future__ import annotations

import numpy as np

from ..sentence.encoder import prompt_for
from . import compare as parity

COSINE_ATOL = 1e-6
LONG = ("自然语言处理是人工智能的一个重要方向，它研究人与计算机之间用自然语言进行有效通信的各种理论和方法。" * 3
        + " Natural language processing studies how computers understand and generate human language. " * 3)
SENTENCE_TEXTS = ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "The capital of France is Paris.",
                  "It is a sunny day, let's go for a walk in the park!", "北京 is the capital of 中国.",
                  "  Leading and trailing spaces  ", "", "A", LONG, LONG[::-1]]


def sentence_rows(side, src, encoder, atol, user_texts=(), dtype="float32") -> tuple:
    """(report rows, as ``verify``'s outputs; what was compared) for the source ``src`` and ``encoder``."""
    texts = SENTENCE_TEXTS + list(user_texts)
    prompts = {None: prompt_for(encoder.pipeline)}  # the model's default prompt, if any
    for name, text in encoder.pipeline.prompts.items():
        if text not in prompts.values():
            prompts[name] = text
    rows = []
    for name in prompts:
        want = np.asarray(side.call("sentence_encode", src=src, texts=texts, prompt_name=name, dtype=dtype, batch_size=4))
        again = np.asarray(side.call("sentence_encode", src=src, texts=texts, prompt_name=name, dtype=dtype, batch_size=1))
        bar, floor = cosine_bar(want, again)
        got = encoder.encode(texts, prompt_name=name, batch_size=4)  # several batches, sorted by length
        label = "sentence_embedding" + (f" (prompt {name!r})" if name else "")
        d = parity.diff(label, want, got, None)
        rows.append({"name": d.name, "shape": list(d.shape), "max_abs": d.max_abs, "max_rel": d.max_rel,
                     "within": d.within(atol), "padded_max_abs": None, "padded_differs": False})
        cos_want, cos_got = cosines(want), cosines(got)
        worst = float(np.abs(cos_want - cos_got).max())
        bar_text = f"{bar:.1e}" if bar > COSINE_ATOL else f"{COSINE_ATOL:g}"
        rows.append({"name": f"pairwise cosine{' (prompt ' + repr(name) + ')' if name else ''}, bar {bar_text}",
                     "shape": list(cos_want.shape), "max_abs": worst, "max_rel": worst, "within": worst <= bar,
                     "padded_max_abs": None, "padded_differs": False, "bar": bar, "reference_noise": floor})
    info = {"texts": len(texts), "prompts": [n for n in prompts if n], "pipeline": encoder.pipeline.summary()}
    return rows, info


def cosine_bar(want, again) -> tuple:
    """(bar, the reference's own noise): ``want`` and ``again`` are the reference's embeddings of the same texts at two
    batch sizes; the bar is ``COSINE_ATOL``, or twice their worst pairwise cosine difference where that is larger."""
    floor = float(np.abs(cosines(want) - cosines(again)).max())
    return max(COSINE_ATOL, 2 * floor), floor


def cosines(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x @ x.T
