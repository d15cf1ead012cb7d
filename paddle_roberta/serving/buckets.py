"""Length buckets: every batch is padded to one of a few sequence lengths before it reaches Paddle Inference.

oneDNN keeps its prepared kernels (and weight copies) per input shape, so a predictor that sees every
sequence length grows with each new one and pays a slow first call at each (issue 21: a distilroberta-base
classifier went from 1.37 to 3.26 GB over 42 lengths). Padded to multiples of ``step`` (the attention mask
0 on the padding, input ids the model's pad id so that position ids computed from them stay right), a
512-position model sees at most 16 lengths; the outputs at the real tokens are those of the unpadded batch
(tests/test_serving.py), and per-token outputs are cut back to the batch's own length.
"""

from __future__ import annotations

import numpy as np

DEFAULT_STEP = 32


def bucket_lengths(max_length: int, step: int = DEFAULT_STEP) -> tuple:
    """The lengths a batch may be padded to: the multiples of ``step`` below ``max_length``, then ``max_length``."""
    if step < 1:
        raise ValueError(f"bucket step must be a positive number of tokens, not {step}")
    return tuple(range(step, max_length, step)) + (max_length,)


def bucket_for(length: int, buckets) -> int:
    """The shortest bucket that holds ``length`` tokens; ``length`` itself past the last one (the model refuses it)."""
    return next((b for b in buckets if b >= length), length)


def pad_feed(feed: dict, length: int, pad_token_id: int) -> dict:
    """``feed`` (input name -> array, sequence on the last axis) padded on the right to ``length``: input ids
    with ``pad_token_id``, everything else (attention mask, token types) with 0."""
    out = {}
    for name, value in feed.items():
        value = np.asarray(value)
        extra = length - value.shape[-1]
        if extra <= 0:
            out[name] = value
            continue
        fill = pad_token_id if name == "input_ids" else 0
        widths = [(0, 0)] * (value.ndim - 1) + [(0, extra)]
        out[name] = np.pad(value, widths, constant_values=fill)
    return out
