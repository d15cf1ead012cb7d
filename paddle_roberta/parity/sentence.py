"""Sentence embeddings compared: sentence-transformers' ``encode`` on the source against ``SentenceEncoder`` on the
conversion, on the same texts (Chinese, English, mixed, empty and longer than ``max_seq_length``), once per prompt.

Two bars, both judged: every embedding within ``verify``'s bar (``atol`` x max(1, max |embedding|)), and every
pairwise cosine similarity — the number retrieval ranks by — within ``COSINE_ATOL`` of sentence-transformers'. Where
float32 itself is less precise than that on these texts, the cosine bar is met when Paddle's cosines are no further
from sentence-transformers' float64 computation (the same model in double precision) than twice its own float32
ones are. Measured: a RoBERTa model with mean_sqrt_len pooling embeds "" as a vector of norm 2.3 beside norms of
43; the per-element float32 noise of both frameworks (~4e-6, the hidden states' scale) is then 1.8e-6 of that
vector, and its cosines moved by 7.5e-7 (torch float32 vs float64), 9.9e-7 (Paddle vs float64) and 1.7e-6 (Paddle
vs torch float32: the two errors add). A wrong pooling mode, weight or prompt is off by 1e-3 or more.
"""

from __future__ import annotations

import numpy as np

from ..sentence.encoder import prompt_for
from . import compare as parity
from .report import Diff

COSINE_ATOL = 1e-6
LONG = ("自然语言处理是人工智能的一个重要方向，它研究人与计算机之间用自然语言进行有效通信的各种理论和方法。" * 3
        + " Natural language processing studies how computers understand and generate human language. " * 3)
SENTENCE_TEXTS = ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "The capital of France is Paris.",
                  "It is a sunny day, let's go for a walk in the park!", "北京 is the capital of 中国.",
                  "  Leading and trailing spaces  ", "", "A", LONG, LONG[::-1]]


def sentence_rows(side, src, encoder, user_texts=(), dtype="float32") -> tuple:
    """([Diff] for the report, what was compared) for the reference ``side`` (on ``src``) and ``encoder``."""
    texts = SENTENCE_TEXTS + list(user_texts)
    prompts = {None: prompt_for(encoder.pipeline)}  # the model's default prompt, if any
    for name, text in encoder.pipeline.prompts.items():
        if text not in prompts.values():
            prompts[name] = text
    rows = []
    for name in prompts:
        limit = {"max_seq_length": encoder.pipeline.max_seq_length} if encoder.pipeline.source_max_seq_length else {}
        want = np.asarray(side.call("sentence_encode", src=src, texts=texts, prompt_name=name, dtype=dtype, **limit))
        exact = np.asarray(side.call("sentence_encode", src=src, texts=texts, prompt_name=name, dtype=dtype,
                                     precision="float64", **limit))
        got = encoder.encode(texts, prompt_name=name, batch_size=4)  # several batches, sorted by length
        default = encoder.pipeline.default_prompt_name if prompts[None] else None
        label = "sentence_embedding" + (f" (prompt {name!r})" if name
                                        else f" (default prompt {default!r})" if default else "")
        rows.append(parity.diff(label, want, got, None))
        ok, worst, vs_exact, own = cosines_agree(want, exact, got)
        judged = f"bar {COSINE_ATOL:g}" if worst <= COSINE_ATOL else \
            f"vs float64 {vs_exact:.1e}, bar 2 x torch's own {own:.1e}"
        rows.append(Diff(f"pairwise cosine{label.removeprefix('sentence_embedding')}, {judged}", worst, worst,
                         (len(texts), len(texts)), verdict=ok,
                         extra={"vs_float64": vs_exact, "reference_float32_error": own}))
    info = {"texts": len(texts), "prompts": [n for n in prompts if n], "pipeline": encoder.pipeline.summary(),
            "max_seq_length": encoder.pipeline.max_seq_length if encoder.pipeline.source_max_seq_length else None}
    return rows, info


def sentence_note(info: dict, compared: str) -> str:
    """The report line that says what ``sentence_rows`` compared (``compared``: which engines)."""
    prompts = f", and with each other prompt ({', '.join(info['prompts'])})" if info["prompts"] else ""
    if info.get("max_seq_length"):
        prompts += f"; sentence-transformers run with max_seq_length {info['max_seq_length']}, the model's positions"
    return (f"sentence embeddings: {info['pipeline']}; {compared} on {info['texts']} texts (Chinese, English, mixed, "
            f"empty, past max_seq_length){prompts}; pairwise cosines within {COSINE_ATOL:g} (or, where float32 is less "
            "precise, no further from the reference in float64 than twice its own float32)")


def cosines_agree(want, exact, got) -> tuple:
    """(within the bar, worst |cos(got) - cos(want)|, worst |cos(got) - cos(exact)|, worst |cos(want) - cos(exact)|):
    ``want`` the reference's float32 embeddings, ``exact`` its float64 ones, ``got`` the ones judged."""
    c_want, c_exact, c_got = cosines(want), cosines(exact), cosines(got)
    worst = float(np.abs(c_got - c_want).max())
    vs_exact = float(np.abs(c_got - c_exact).max())
    own = float(np.abs(c_want - c_exact).max())
    return worst <= COSINE_ATOL or vs_exact <= 2 * own, worst, vs_exact, own


def reference_embeddings(model, texts, precision="float32", **kwargs):
    """sentence-transformers' ``encode`` of ``texts`` (batch 4) by ``model``, in float32 as users run it, or the same
    model in float64 (cast there and back: float32 -> float64 -> float32 is exact)."""
    if precision == "float32":
        vectors = model.encode(texts, batch_size=4, convert_to_numpy=True, show_progress_bar=False, **kwargs)
        return vectors.astype(np.float32)
    model.double()
    try:
        vectors = model.encode(texts, batch_size=4, convert_to_tensor=True, show_progress_bar=False, **kwargs)
        return vectors.double().cpu().numpy()
    finally:
        model.float()


def cosines(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x @ x.T
