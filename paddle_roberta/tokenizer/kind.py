"""Which tokenizer a directory holds, decided from its files in one place, and every tokenizer file name.

The kinds PaddleNLP has a class for: WordPiece (BertTokenizer's vocabulary), byte-level BPE (RoBERTa's vocabulary and
merges) and SentencePiece (XLM-RoBERTa's model file). A directory with only a ``tokenizer.json`` is judged by the
model type inside it. Every other module asks here (``tokenizer_kind``, ``vocab_files``, ``KINDS``) and names the
files through these constants.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import ConversionError

VOCAB_TXT = "vocab.txt"
VOCAB_JSON = "vocab.json"
MERGES_TXT = "merges.txt"
SENTENCEPIECE_FILE = "sentencepiece.bpe.model"  # XLM-RoBERTa's file name, in transformers and PaddleNLP
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ADDED_TOKENS = "added_tokens.json"
# Every file a tokenizer may be spread over, in the source and in the output.
TOKENIZER_FILES = (VOCAB_TXT, VOCAB_JSON, MERGES_TXT, SENTENCEPIECE_FILE, TOKENIZER_JSON, TOKENIZER_CONFIG,
                   SPECIAL_TOKENS_MAP, ADDED_TOKENS)

WORDPIECE = "wordpiece"
BYTE_LEVEL_BPE = "bpe"
SENTENCEPIECE = "sentencepiece"
UNIGRAM_JSON = "unigram"  # a tokenizer.json Unigram without its SentencePiece model file: no PaddleNLP class reads it


@dataclass(frozen=True)
class Kind:
    name: str
    files: tuple  # the vocabulary files that make a directory this kind (all of them are needed)
    hf_class: str  # transformers' slow class (its fast twin is hf_class + "Fast")
    family: str  # the family whose checkpoints ship this kind (evidence when config.json names none)


KINDS = {
    WORDPIECE: Kind(WORDPIECE, (VOCAB_TXT,), "BertTokenizer", "bert"),
    BYTE_LEVEL_BPE: Kind(BYTE_LEVEL_BPE, (VOCAB_JSON, MERGES_TXT), "RobertaTokenizer", "roberta"),
    SENTENCEPIECE: Kind(SENTENCEPIECE, (SENTENCEPIECE_FILE,), "XLMRobertaTokenizer", "xlm-roberta"),
}


def tokenizer_kind(folder: str) -> str | None:
    """WORDPIECE, BYTE_LEVEL_BPE, SENTENCEPIECE, UNIGRAM_JSON, another tokenizer.json model type (lower case), or None.
    Vocabulary files decide first (any one of a kind's files), then the model inside tokenizer.json."""
    for kind in KINDS.values():
        if any(os.path.isfile(os.path.join(folder, name)) for name in kind.files):
            return kind.name
    if os.path.isfile(os.path.join(folder, TOKENIZER_JSON)):
        try:
            with open(os.path.join(folder, TOKENIZER_JSON), encoding="utf-8") as f:
                model = json.load(f).get("model") or {}
        except (OSError, ValueError, AttributeError):
            return "unreadable"  # the tokenizer checks name the file and what is wrong
        kind = str(model.get("type", "")).lower()
        return {"wordpiece": WORDPIECE, "bpe": BYTE_LEVEL_BPE, "unigram": UNIGRAM_JSON}.get(kind, kind or "unknown")
    return None


def vocab_files(folder: str, kind: str | None) -> list | None:
    """Paths of ``kind``'s vocabulary files in ``folder`` (the first is the one that lists the tokens); None when it
    holds none of them (a tokenizer.json alone); a one-line error when only some are there."""
    if kind not in KINDS:
        return None
    names = KINDS[kind].files
    present = [n for n in names if os.path.isfile(os.path.join(folder, n))]
    if not present:
        return None
    if len(present) < len(names):
        missing = next(n for n in names if n not in present)
        raise ConversionError(f"{os.path.join(folder, missing)}: missing; a {kind} tokenizer needs {' and '.join(names)}")
    return [os.path.join(folder, n) for n in names]
