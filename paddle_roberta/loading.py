"""Load a converted directory into PaddleNLP without random initialisation.

PaddleNLP's plain ``from_pretrained`` builds the model with random weights, then overwrites every one
from the file: for a 1.3 GB model most of its 16 s go to drawing random numbers. Its
``low_cpu_mem_usage=True`` creates the parameters lazily (``paddle.LazyGuard``) and fills them from
the file, but it also skips the model's ``_init_weights``, which for BERT and RoBERTa is where the
LayerNorm epsilons are set from ``layer_norm_eps`` (they are built with Paddle's default 1e-5): a BERT
model (1e-12) then computes other outputs. ``load`` takes PaddleNLP's fast path, sets those epsilons
as ``_init_weights`` would, and checks that every parameter was filled.
"""

from __future__ import annotations

import json
import os

from .errors import ConversionError


def load(out: str, cls=None, dtype: str | None = None, weights: str | None = None):
    """The model of the converted (or PaddleNLP-saved) directory ``out``: ``cls`` a PaddleNLP class or
    its name, default the class its config.json names ("AutoModel" for the bare model). ``dtype`` casts
    on load (float16/bfloat16 directories run on CPU only as float32). ``weights``: which weights file to
    read where ``out`` holds two formats (a fine-tune saved in place); two that disagree are refused
    without it (``weight_files.choose``), since PaddleNLP itself would read the older safetensors."""
    import paddle
    import paddlenlp.transformers as pt

    from .weight_files import PADDLE_FORMATS, choose

    found = choose(out, PADDLE_FORMATS, weights)
    use_safetensors = None if found is None else found[1].startswith("safetensors")

    if cls is None:
        with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
            cls = json.load(f)["architectures"][0]
    if isinstance(cls, str):
        cls = getattr(pt, cls)
    model = cls.from_pretrained(out, low_cpu_mem_usage=True, use_safetensors=use_safetensors, **({"dtype": dtype} if dtype else {}))
    eps = model.config.layer_norm_eps
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.LayerNorm):
            layer._epsilon = eps  # what _init_weights sets (XLM-R builds its LayerNorms with it already)
    for name, param in model.named_parameters():
        if not param._is_initialized():  # a lazy parameter the file did not fill
            raise ConversionError(f"{out}: parameter {name} of {type(model).__name__} is not in the weights file")
    model.eval()
    return model
