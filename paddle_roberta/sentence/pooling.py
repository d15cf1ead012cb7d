"""The pipeline after the body, in Paddle: pooling, Dense and Normalize as one ``paddle.nn.Layer``.

The same layer runs eagerly (``SentenceEncoder``) and inside the static graph of an inference export (its loops
are over the modules and modes, fixed when it is built). Each step is written to compute what
sentence-transformers' module computes (sentence_transformers/models/Pooling.py, Dense.py, Normalize.py), on
the pooling mask: the attention mask, with the prompt's tokens zeroed where the model excludes them.
"""

from __future__ import annotations

import paddle
import paddle.nn.functional as F

from .modules import Pipeline


class SentenceHead(paddle.nn.Layer):
    def __init__(self, pipeline: Pipeline, dense_weights: list):
        """``dense_weights``: per Dense module, ``{"linear.weight": [in, out] array, "linear.bias": array}``."""
        super().__init__()
        self.steps = []
        self.dense = paddle.nn.LayerList()
        weights = iter(dense_weights)
        for m in pipeline.modules:
            if m["type"] == "Dense":
                layer = paddle.nn.Linear(m["in_features"], m["out_features"], bias_attr=None if m["bias"] else False)
                values = next(weights)
                layer.weight.set_value(values["linear.weight"].astype("float32"))
                if m["bias"]:
                    layer.bias.set_value(values["linear.bias"].astype("float32"))
                self.dense.append(layer)
                self.steps.append(("Dense", len(self.dense) - 1, m["activation"]))
            elif m["type"] == "Pooling":
                self.steps.append(("Pooling", tuple(m["modes"]), None))
            elif m["type"] == "Normalize":
                self.steps.append(("Normalize", None, None))
            # Dropout: the identity at inference, no step
        self.eval()

    def forward(self, hidden, mask):
        """``hidden`` [batch, seq, H] token embeddings, ``mask`` [batch, seq] 0/1 (the tokens pooled)."""
        x = hidden
        for kind, arg, act in self.steps:
            if kind == "Pooling":
                x = pool(hidden, mask, arg)
            elif kind == "Dense":
                x = self.dense[arg](x)
                if act is not None:
                    x = getattr(F, act)(x)
            else:
                x = F.normalize(x, p=2, axis=1)  # x / max(|x|, 1e-12), as torch's F.normalize
        return x


def pool(hidden, mask, modes):
    m = mask.astype(hidden.dtype).unsqueeze(-1)  # [batch, seq, 1]
    out = []
    for mode in modes:
        if mode == "cls":
            out.append(hidden[:, 0])
        elif mode == "max":  # padding set to -1e9 before the max, as sentence-transformers does
            out.append(paddle.where(m == 0, paddle.full_like(hidden, -1e9), hidden).max(axis=1))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            total = (hidden * m).sum(axis=1)
            count = paddle.clip(m.sum(axis=1), min=1e-9)
            out.append(total / count if mode == "mean" else total / paddle.sqrt(count))
        elif mode == "weightedmean":  # position i (from 1) weighs i
            w = m * paddle.arange(1, paddle.shape(hidden)[1] + 1, dtype=hidden.dtype).reshape([1, -1, 1])
            out.append((hidden * w).sum(axis=1) / paddle.clip(w.sum(axis=1), min=1e-9))
        else:  # lasttoken: the last position the mask keeps (position 0, masked to 0, where it keeps none)
            positions = paddle.arange(paddle.shape(mask)[1], dtype="int64").unsqueeze(0)
            last = (positions * mask.astype("int64")).max(axis=1, keepdim=True)  # [batch, 1]
            picked = paddle.take_along_axis(hidden * m, last.unsqueeze(-1), axis=1)  # [batch, 1, H]
            out.append(picked.squeeze(1))
    return out[0] if len(out) == 1 else paddle.concat(out, axis=1)
