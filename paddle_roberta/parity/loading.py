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
import warnings

from ..errors import ConversionError


def load(out: str, cls=None, dtype: str | None = None, weights: str | None = None):
    """The model of the converted (or PaddleNLP-saved) directory ``out``: ``cls`` a PaddleNLP class or
    its name, default the class its config.json names ("AutoModel" for the bare model). ``dtype`` casts
    on load; by default the model keeps the dtype config.json records, except that on CPU a float16 or
    bfloat16 directory loads as float32, with a warning: Paddle has no CPU kernels for them, and the first
    forward would fail deep inside Paddle. An explicit half ``dtype`` on CPU is kept, with a warning.
    ``weights``: which weights file to read where ``out`` holds two formats (a fine-tune saved in place); two
    that disagree are refused without it (``weight_files.choose``), since PaddleNLP itself would read the
    older safetensors."""
    import paddle
    import paddlenlp.transformers as pt

    from ..files.weight_files import PADDLE_FORMATS, choose

    found = choose(out, PADDLE_FORMATS, weights)
    use_safetensors = None if found is None else found[1].startswith("safetensors")
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if cls is None:
        cls = config["architectures"][0]
    if isinstance(cls, str):
        cls = getattr(pt, cls)
    dtype = _load_dtype(out, config.get("dtype") or "float32", dtype, on_cpu=paddle.get_device() == "cpu")
    model = cls.from_pretrained(out, low_cpu_mem_usage=True, dtype=dtype, use_safetensors=use_safetensors)
    eps = model.config.layer_norm_eps
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.LayerNorm):
            layer._epsilon = eps  # what _init_weights sets (XLM-R builds its LayerNorms with it already)
    for name, param in model.named_parameters():
        if not param._is_initialized():  # a lazy parameter the file did not fill
            raise ConversionError(f"{out}: parameter {name} of {type(model).__name__} is not in the weights file")
    model.eval()
    return model


HALF = ("float16", "bfloat16")


def _load_dtype(out: str, stored: str, asked: str | None, on_cpu: bool) -> str:
    if asked is not None and asked not in ("float32",) + HALF:
        raise ConversionError(f"dtype {asked!r} is not one of float32, float16, bfloat16 (loading {out})")
    if asked is None and on_cpu and stored in HALF:
        warnings.warn(f"{out}: {stored} weights loaded as float32 (Paddle has no CPU {stored} kernels); "
                      f"pass dtype=\"{stored}\" to keep them", stacklevel=4)
        return "float32"
    if asked in HALF and on_cpu:
        warnings.warn(f"{out}: loaded as {asked} on CPU, where Paddle has no {asked} kernels: a forward will fail; "
                      "load with dtype=\"float32\" to run it here", stacklevel=4)
    return asked or stored
