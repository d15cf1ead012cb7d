"""Which tokenizer a directory holds, decided from its files in one place, and every tokenizer file name.

The kinds PaddleNLP has a class for: WordPiece (BertTokenizer's vocabulary), byte-level BPE (RoBERTa's vocabulary and
merges) and SentencePiece with XLM-RoBERTa's id layout. A directory with only a ``tokenizer.json`` is judged by the
model type inside it. The kinds no PaddleNLP class can give transformers' ids for (``NOT_WRITTEN``: fastBPE,
CamemBERT's SentencePiece layout, Unigram or non-byte-level BPE without their model files) are named too, so that
their weights convert with a note and no tokenizer is ever written wrong. The kind follows the files, whatever the
body: a BERT body with XLM-R's SentencePiece model (multilingual MiniLM, e5) is a SentencePiece tokenizer. Every other
module asks here (``tokenizer_kind``, ``vocab_files``, ``KINDS``, ``not_written``) and names the files through these
constants.
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
FASTBPE_CODES = "bpe.codes"  # fastBPE merges (BERTweet, PhoBERT), beside a vocab.txt of "token count" lines

WORDPIECE = "wordpiece"
BYTE_LEVEL_BPE = "bpe"
SENTENCEPIECE = "sentencepiece"
UNIGRAM_JSON = "unigram"  # a tokenizer.json Unigram without its SentencePiece model file: no PaddleNLP class reads it
FASTBPE = "fastbpe"
CAMEMBERT = "sentencepiece-camembert"  # CamemBERT's ids: <s>NOTUSED <pad> </s>NOTUSED <unk>, then piece id + 4
OTHER_BPE_JSON = "bpe-json"  # a tokenizer.json BPE without byte-level pre-tokenisation (not RoBERTa's)

# Why no PaddleNLP tokenizer can be written for these: the weights convert, with this in a note.
NOT_WRITTEN = {
    FASTBPE: f"fastBPE ({FASTBPE_CODES}): PaddleNLP has no fastBPE tokenizer",
    CAMEMBERT: "CamemBERT's SentencePiece id layout (<s>NOTUSED, offset 4): PaddleNLP's XLMRobertaTokenizer "
               "would give XLM-R's ids, wrong on every token",
    UNIGRAM_JSON: f"a Unigram tokenizer.json without {SENTENCEPIECE_FILE}: PaddleNLP's XLMRobertaTokenizer reads the "
                  "SentencePiece model file",
    OTHER_BPE_JSON: "a BPE tokenizer.json without byte-level pre-tokenisation: PaddleNLP's BPE class is RoBERTa's, "
                    "byte-level",
}


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
    """A kind of ``KINDS`` or ``NOT_WRITTEN``, another tokenizer.json model type (lower case), or None. fastBPE's codes
    decide first (its vocab.txt is not WordPiece's), then CamemBERT's layout, then vocabulary files (any one of a kind's
    files), then the model inside tokenizer.json."""
    def has(name):
        return os.path.isfile(os.path.join(folder, name))

    if has(FASTBPE_CODES):
        return FASTBPE
    if has(SENTENCEPIECE_FILE) and _camembert_layout(folder):
        return CAMEMBERT
    for kind in KINDS.values():
        if any(has(name) for name in kind.files):
            return kind.name
    if has(TOKENIZER_JSON):
        try:
            with open(os.path.join(folder, TOKENIZER_JSON), encoding="utf-8") as f:
                spec = json.load(f)
            model = spec.get("model") or {}
            kind = str(model.get("type", "")).lower()
        except (OSError, ValueError, AttributeError):
            return "unreadable"  # the tokenizer checks name the file and what is wrong
        if kind == "unigram" and "<s>NOTUSED" in json.dumps(spec.get("added_tokens")):
            return CAMEMBERT
        if kind == "bpe" and find_component(spec.get("pre_tokenizer"), "ByteLevel") is None:
            return OTHER_BPE_JSON
        return {"wordpiece": WORDPIECE, "bpe": BYTE_LEVEL_BPE, "unigram": UNIGRAM_JSON}.get(kind, kind or "unknown")
    return None


def not_written(kind: str | None) -> str | None:
    """Why no PaddleNLP tokenizer is written for ``kind`` (None when one is, or when there is no tokenizer)."""
    if kind is None or kind in KINDS or kind == "unreadable":
        return None
    return NOT_WRITTEN.get(kind, f"a {kind} tokenizer.json: PaddleNLP has no class for that model type")


def find_component(component, type_name):
    """The ``type_name`` part of a tokenizers component (normalizer, pre-tokenizer), alone or inside a Sequence."""
    if not isinstance(component, dict):
        return None
    if component.get("type") == type_name:
        return component
    for key in ("normalizers", "pretokenizers"):
        for part in component.get(key) or []:
            if isinstance(part, dict) and part.get("type") == type_name:
                return part
    return None


def _camembert_layout(folder) -> bool:
    """Does the SentencePiece model in ``folder`` use CamemBERT's ids? transformers says so in tokenizer_config's
    tokenizer_class, by the <s>NOTUSED token it declares, or (a repo with only the model file) by config.json's
    model_type, from which its AutoTokenizer picks CamembertTokenizer."""
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            if json.load(f).get("model_type") == "camembert":
                return True
    except (OSError, ValueError, AttributeError):
        pass
    for name in (TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP, ADDED_TOKENS, TOKENIZER_JSON):
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        if "<s>NOTUSED" in text or '"CamembertTokenizer' in text:
            return True
    return False


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
        raise ConversionError(f"{os.path.join(folder, missing)}: missing; a {kind} tokenizer needs "
                              f"{' and '.join(names)}")
    return [os.path.join(folder, n) for n in names]
