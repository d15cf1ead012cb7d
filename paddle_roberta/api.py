"""One-line loading for PaddleNLP users: convert once into a cache, then load from it.

    model = paddle_roberta.from_pretrained("clue/roberta_chinese_clue_tiny")
    tokenizer = paddle_roberta.tokenizer("clue/roberta_chinese_clue_tiny")

The cache key is the resolved source's files (names, sizes, modification times) and this
package's version: a changed source converts again, an unchanged one loads straight away.
Cache folder: $PADDLE_ROBERTA_CACHE, else ~/.cache/paddle_roberta.
"""

from __future__ import annotations

import hashlib
import json
import os

from . import __version__
from .convert import convert
from .errors import ConversionError
from .source import resolve


def cache_root() -> str:
    return os.environ.get("PADDLE_ROBERTA_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "paddle_roberta")


def converted_dir(src, **options) -> str:
    """The converted directory for ``src`` in the cache, converting it first if needed."""
    source = resolve(src)
    h = hashlib.sha256(json.dumps([__version__, sorted(options.items())]).encode())
    for name in sorted(os.listdir(source.path)):
        st = os.stat(os.path.join(source.path, name))  # follows the hub cache's symlinks to the blobs
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    out = os.path.join(cache_root(), h.hexdigest()[:24])
    if not os.path.isfile(os.path.join(out, "config.json")):
        try:
            convert(source.path, out, **options)
        except ConversionError:
            if not os.path.isfile(os.path.join(out, "config.json")):  # another process may have won
                raise
    return out


def from_pretrained(src, cls=None, **options):
    """The PaddleNLP model for ``src`` (local directory or hub id): ``cls`` a PaddleNLP class or its
    name, default the class the conversion chose (the checkpoint's head)."""
    import paddlenlp.transformers as pt

    out = converted_dir(src, **options)
    if cls is None:
        with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
            cls = json.load(f)["architectures"][0]
    if isinstance(cls, str):
        cls = getattr(pt, cls)
    return cls.from_pretrained(out)


def tokenizer(src, **options):
    import paddlenlp.transformers as pt

    return pt.AutoTokenizer.from_pretrained(converted_dir(src, **options))
