"""One-line loading for PaddleNLP users: convert once into a cache, then load from it.

    model = paddle_roberta.from_pretrained("clue/roberta_chinese_clue_tiny")
    tokenizer = paddle_roberta.tokenizer("clue/roberta_chinese_clue_tiny")

The cache key is the resolved source's files (names, sizes, times, inodes, sampled contents: cache.py),
the options and this package's version: a changed source converts again, an unchanged one loads
straight away. Cache folder: $PADDLE_ROBERTA_CACHE, else ~/.cache/paddle_roberta.
"""

from __future__ import annotations

import json
import os

from . import __version__
from .cache import cache_root, prune, source_key, touch
from .convert import convert
from .errors import ConversionError
from .source import resolve


def converted_dir(src, **options) -> str:
    """The converted directory for ``src`` in the cache, converting it first if needed; stamps it as used and
    removes entries unused for 30 days or beyond the size cap (cache.py)."""
    source = resolve(src)
    out = os.path.join(cache_root(), source_key(source.path, [__version__, sorted(options.items())]))
    if not os.path.isfile(os.path.join(out, "config.json")):
        try:
            convert(os.path.abspath(source.path), out, **options)
        except ConversionError:
            if not os.path.isfile(os.path.join(out, "config.json")):  # another process may have won
                raise
    touch(out)
    prune(keep=out)
    return out


def from_pretrained(src, cls=None, **options):
    """The PaddleNLP model for ``src`` (a Hugging Face directory or hub id, converted into the cache first,
    or a directory this tool converted, loaded as is): ``cls`` a PaddleNLP class or its name, default the
    class the conversion chose (the checkpoint's head). Loaded with no random initialisation (``loading``)."""
    from .loading import load

    out = os.fspath(src) if is_converted(src) else converted_dir(src, **options)
    return load(out, cls)


def is_converted(path) -> bool:
    """A PaddleNLP directory this tool wrote (its config.json records the conversion)."""
    try:
        with open(os.path.join(os.fspath(path), "config.json"), encoding="utf-8") as f:
            return isinstance(json.load(f).get("paddle_roberta"), dict)
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def tokenizer(src, **options):
    import paddlenlp.transformers as pt

    return pt.AutoTokenizer.from_pretrained(os.fspath(src) if is_converted(src) else converted_dir(src, **options))
