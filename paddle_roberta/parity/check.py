"""Parity of a converted directory against its source: load both, run both, compare.

``check(src, out)`` loads the source with transformers (the class matching the conversion:
BertModel for a CLUE checkpoint, as its model card does) and the output with PaddleNLP, by the
class its config.json names and by ``AutoModel``, and returns the differences.
"""

from __future__ import annotations

import json
import os

from ..families.tables import family_and_head, hf_class_for
from . import compare as parity
from .report import build_report


def load_paddle(out: str, auto: bool = False, dtype: str | None = None, weights: str | None = None):
    """The converted model by the class its config.json names (or AutoModel); ``dtype`` casts on load
    (float16/bfloat16 outputs run on CPU only as float32: Paddle has no CPU float16 kernels)."""
    import paddlenlp.transformers as pt

    from ..loading import load

    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        paddle_class = json.load(f)["architectures"][0]
    return load(out, pt.AutoModel if auto else paddle_class, dtype, weights), paddle_class


def check(src: str, out: str, torch_model=None, seed: int = 0, atol: float = 1e-5):
    """The ``Report`` of random ids through both (``torch_model``: the source, loaded already): rows for the class in
    config.json, then "AutoModel hidden_states[i]" rows for ``AutoModel``; ``report["class"]``/``["auto_class"]``."""
    import transformers

    paddle_model, paddle_class = load_paddle(out)
    head = family_and_head(paddle_class)[1]
    if torch_model is None:
        torch_model = getattr(transformers, hf_class_for(paddle_class)).from_pretrained(src)
    cfg = paddle_model.config
    family = cfg.model_type
    inputs = parity.make_batch(family, head, cfg.vocab_size, cfg.max_position_embeddings, cfg.pad_token_id,
                               seed=seed, num_choices=getattr(cfg, "num_choices", None) or 2)
    torch_out = parity.run_torch(torch_model, inputs)
    paddle_out = parity.run_paddle(paddle_model, inputs, causal=parity.needs_causal_mask(family, head))
    diffs = parity.compare(head, torch_out, paddle_out, inputs["attention_mask"])

    # AutoModel builds the bare model: compare its hidden states with the original's (multiple
    # choice inputs are flattened to [batch * choices, seq] as both heads do internally).
    auto_model, _ = load_paddle(out, auto=True)
    flat = {k: v.reshape(-1, v.shape[-1]) for k, v in inputs.items()}
    real = flat["attention_mask"].astype(bool)
    if parity.needs_causal_mask(family, head):
        flat["attention_mask"] = parity.causal_additive_mask(flat["attention_mask"])
    auto_out = parity.run_paddle(auto_model, flat)
    auto_diffs = [parity.diff(f"AutoModel hidden_states[{i}]", a, b, real)
                  for i, (a, b) in enumerate(zip(torch_out["hidden_states"], auto_out["hidden_states"]))]
    auto_class = type(auto_model).__name__
    return build_report(f"{type(torch_model).__name__} (transformers) vs {paddle_class} and AutoModel ({auto_class}, "
                        "PaddleNLP), float32, a padded batch of random ids with attention_mask", atol,
                        diffs + auto_diffs, **{"class": paddle_class, "auto_class": auto_class})
