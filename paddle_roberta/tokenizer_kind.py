"""Which tokenizer a Hugging Face directory holds, decided from its files in one place.

The kinds PaddleNLP has a class for: WordPiece (``vocab.txt``, BertTokenizer), byte-level BPE (``vocab.json`` +
``merges.txt``, RoBERTa's) and SentencePiece (``sentencepiece.bpe.model``, XLM-RoBERTa's). A directory with only a
``tokenizer.json`` is judged by the model type inside it.
"""

from __future__ import annotations

import json
import os

WORDPIECE = "wordpiece"
BYTE_LEVEL_BPE = "bpe"
SENTENCEPIECE = "sentencepiece"
UNIGRAM_JSON = "unigram"  # a tokenizer.json Unigram without its SentencePiece model file: no PaddleNLP class reads it

SENTENCEPIECE_FILE = "sentencepiece.bpe.model"  # XLM-RoBERTa's file name, in transformers and PaddleNLP
# Every file a tokenizer may be spread over, in the source and in the output.
TOKENIZER_FILES = ("vocab.txt", "vocab.json", "merges.txt", SENTENCEPIECE_FILE, "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json")

# The family whose checkpoints ship each kind (evidence when config.json names none).
FAMILY_OF_KIND = {WORDPIECE: "bert", BYTE_LEVEL_BPE: "roberta", SENTENCEPIECE: "xlm-roberta"}


def tokenizer_kind(folder: str) -> str | None:
    """WORDPIECE, BYTE_LEVEL_BPE, SENTENCEPIECE, UNIGRAM_JSON, another tokenizer.json model type (lower case), or None."""
    def has(name):
        return os.path.isfile(os.path.join(folder, name))

    if has("vocab.txt"):
        return WORDPIECE
    if has("vocab.json") or has("merges.txt"):
        return BYTE_LEVEL_BPE
    if has(SENTENCEPIECE_FILE):
        return SENTENCEPIECE
    if has("tokenizer.json"):
        try:
            with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
                model = json.load(f).get("model") or {}
        except (OSError, ValueError, AttributeError):
            return "unreadable"  # the tokenizer checks name the file and what is wrong
        kind = str(model.get("type", "")).lower()
        return {"wordpiece": WORDPIECE, "bpe": BYTE_LEVEL_BPE, "unigram": UNIGRAM_JSON}.get(kind, kind or "unknown")
    return None
