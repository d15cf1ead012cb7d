"""The text side of the task pipelines: transformers' own fast tokenizer, built from the files beside the model.

transformers' ``pipeline`` tokenizes with the fast tokenizer (the ``tokenizers`` library): its ids, character
offsets, special-token mask, word boundaries and ``decode`` are what its answers are made of. PaddleNLP's slow
RoBERTa and XLM-R tokenizers give the same ids (tests/test_tokenizers.py) but other offsets (per byte-level
character, and none for SentencePiece) and another ``decode``; so the pipelines load transformers' fast class for
the directory's tokenizer kind (``tokenizer.kind``) from the files the conversion wrote, which reproduces the
source's tokenizer (ids, offsets and decode compared in tests/test_tasks.py). transformers is imported for its
tokenizers only: no torch.
"""

from __future__ import annotations

from ..errors import ConversionError
from ..tokenizer.kind import KINDS, tokenizer_kind


def fast_tokenizer(path: str):
    kind = tokenizer_kind(path)
    if kind not in KINDS:
        raise ConversionError(f"{path}: no tokenizer files this tool writes (found kind {kind}); the pipelines need "
                              "the tokenizer the conversion wrote beside the model")
    import transformers
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()  # "the tokenizer class you load … is 'RobertaBPETokenizer'": PaddleNLP's name
    try:
        return getattr(transformers, KINDS[kind].hf_class + "Fast").from_pretrained(path)
    finally:
        logging.set_verbosity(level)
