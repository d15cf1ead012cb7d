"""One-line loading for PaddleNLP users: convert once into a cache, then load from it.

    model = paddle_roberta.from_pretrained("clue/roberta_chinese_clue_tiny")
    tokenizer = paddle_roberta.tokenizer("clue/roberta_chinese_clue_tiny")
    classify = paddle_roberta.pipeline("text-classification", "some/hub-classifier")

The cache key is the resolved source's files (names, sizes, times, inodes, sampled contents: cache.py),
the options and this package's version: a changed source converts again, an unchanged one loads
straight away. Cache folder: $PADDLE_ROBERTA_CACHE, else ~/.cache/paddle_roberta.
"""

from __future__ import annotations

import json
import os

from ._version import __version__
from .convert import convert
from .errors import ConversionError
from .files.cache import cache_root, prune, source_key, touch
from .files.source import resolve
from .preflight import directory_kind
from .sentence import encoder
from .serving.predictor import INFERENCE_JSON
from .tokenizer.kind import TOKENIZER_CONFIG, not_written, tokenizer_kind


def converted_dir(src, **options) -> str:
    """The converted directory for ``src`` in the cache, converting it first if needed; stamps it as used and
    removes entries unused for 30 days or beyond the size cap (cache.py)."""
    source = resolve(src, options.get("weights"))
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


# Keywords of the conversion a Hugging Face source goes through (``convert``); every other keyword is the model's.
CONVERT_OPTIONS = ("format", "num_choices", "family", "head", "verify", "atol")


def from_pretrained(src, cls=None, dtype=None, weights=None, **kwargs):
    """The PaddleNLP model for ``src`` (a Hugging Face directory or hub id, converted into the cache first,
    or a directory this tool converted, loaded as is): ``cls`` a PaddleNLP class or its name, default the
    class the conversion chose (the checkpoint's head). Loaded with no random initialisation (``loading``).

    ``dtype`` ("float32", "float16", "bfloat16") is the dtype of the model returned. For a Hugging Face
    source it is also the dtype the cache holds it in (each dtype its own cache entry; default float32).
    For a converted directory it casts on load; by default the directory's own dtype, but float32 on CPU
    for a float16/bfloat16 directory (with a warning: Paddle has no CPU kernels for them).

    ``weights``: the weights file to read where the directory holds two formats that differ (a source with
    safetensors and .bin; a fine-tune saved in place beside the converted safetensors): without it such a
    directory is refused (``files.weight_files``).

    Other keywords: ``convert``'s options (``CONVERT_OPTIONS``, for a Hugging Face source), else the model's, as
    PaddleNLP's ``from_pretrained`` takes them: config settings such as ``num_classes``/``num_labels`` (a new
    head for fine-tuning is initialised as PaddleNLP initialises it) and ``ignore_mismatched_sizes``. Any other
    keyword is an error."""
    from .loading import load

    options = {k: kwargs.pop(k) for k in CONVERT_OPTIONS if k in kwargs}
    if is_converted(src):
        if options:
            raise ConversionError(f"{src}: already converted; {', '.join(options)} apply to a Hugging Face source")
        return load(os.fspath(src), cls, dtype, weights, **kwargs)
    options.update({"dtype": dtype} if dtype else {}, **({"weights": weights} if weights else {}))
    out = converted_dir(src, **options)
    try:
        return load(out, cls, dtype, **kwargs)
    except ConversionError as e:  # name what the user gave, not only the cache entry
        raise ConversionError(str(e).replace(out, f"{os.fspath(src)} (converted into {out})", 1), e.details) from None


def is_converted(path) -> bool:
    """A PaddleNLP directory this tool wrote (its config.json records the conversion)."""
    try:
        with open(os.path.join(os.fspath(path), "config.json"), encoding="utf-8") as f:
            return isinstance(json.load(f).get("paddle_roberta"), dict)
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def tokenizer(src, **options):
    """PaddleNLP's tokenizer for ``src`` (converted into the cache first, as ``from_pretrained``); a one-line error
    where the conversion wrote none (a tokenizer kind no PaddleNLP class expresses, or none in the source)."""
    import paddlenlp.transformers as pt

    out = os.fspath(src) if is_converted(src) else converted_dir(src, **options)
    if not os.path.isfile(os.path.join(out, TOKENIZER_CONFIG)):
        with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
            origin = (json.load(f).get("paddle_roberta") or {}).get("source") or os.fspath(src)
        why = not_written(tokenizer_kind(origin)) if os.path.isdir(origin) else None
        raise ConversionError(f"{os.fspath(src)}: no PaddleNLP tokenizer was written"
                              + (f" ({why}); tokenize with transformers' AutoTokenizer" if why
                                 else " (none in the source)"))
    return pt.AutoTokenizer.from_pretrained(out)


def pipeline(task: str, model, **options):
    """``tasks.pipeline.pipeline`` (answers as ``transformers.pipeline`` gives them) on ``model``: a converted
    directory, a Paddle Inference export, or a Hugging Face directory or hub id, converted into the cache first (as
    ``from_pretrained``)."""
    from .tasks.pipeline import pipeline as task_pipeline

    path = os.fspath(model)
    exported = os.path.isfile(os.path.join(path, INFERENCE_JSON))
    if not exported and not is_converted(path) and not _paddle_saved(path):
        path = converted_dir(path)
    return task_pipeline(task, path, **options)


def _paddle_saved(path) -> bool:
    """A PaddleNLP directory this tool did not write (a fine-tune saved with save_pretrained)."""
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            return directory_kind(path, json.load(f)) == "paddle"
    except (OSError, ValueError):
        return False


class SentenceEncoder(encoder.SentenceEncoder):
    """``sentence.encoder.SentenceEncoder`` (a converted sentence-transformers directory), with the one-liner that
    converts a sentence-transformers directory or hub id into the cache first."""

    @classmethod
    def from_pretrained(cls, src, dtype=None, **options):
        """The encoder for ``src``: a directory ``convert`` wrote, or a sentence-transformers directory or hub id
        (converted into the cache first, as ``from_pretrained``; ``options``: convert's)."""
        if is_converted(src):
            return cls(src, dtype)
        return cls(converted_dir(src, **options, **({"dtype": dtype} if dtype else {})))
