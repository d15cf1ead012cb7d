"""Check a source's tokenizer files before anything is written.

A tokenizer that is present but unusable is an error, never "no tokenizer": each check raises a
one-line ``ConversionError`` naming the file and what is wrong with it. Hand-written because the
libraries that read these files either fail with tracebacks far from the cause (tokenizers,
transformers) or accept them silently and tokenize wrongly (a duplicate WordPiece vocabulary line shifts
every later id; PaddleNLP reads a BPE vocabulary into a dict and never looks at merges it cannot apply).
"""

from __future__ import annotations

import json
import os

from ..errors import ConversionError
from .kind import BYTE_LEVEL_BPE, SENTENCEPIECE, WORDPIECE, tokenizer_kind, vocab_files
from .paddle_files import BERT_SPECIALS, BPE_SPECIALS

JSON_FILES = ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.json")


def check_tokenizer_files(src: str, vocab_size: int) -> None:
    """``vocab_size``: rows of the word embedding; every id a tokenizer can produce must be below it."""
    docs = {name: _json(os.path.join(src, name)) for name in JSON_FILES if os.path.isfile(os.path.join(src, name))}
    config, specials_map = docs.get("tokenizer_config.json", {}), docs.get("special_tokens_map.json", {})
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if name in docs and not isinstance(docs[name], dict):
            raise ConversionError(f"{os.path.join(src, name)}: expected a JSON object, found "
                                  f"{type(docs[name]).__name__}")
    added = _added_ids(src, docs, vocab_size)

    kind = tokenizer_kind(src)
    files = vocab_files(src, kind)
    if files and kind == WORDPIECE:
        vocab = _wordpiece_vocab(files[0], vocab_size)
        _specials_present(files[0], vocab, added, BERT_SPECIALS, config, specials_map)
    elif files and kind == BYTE_LEVEL_BPE:
        vocab = _bpe_vocab(files[0], vocab_size)
        _merges(files[1], vocab)
        _specials_present(files[0], vocab, added, BPE_SPECIALS, config, specials_map)
    elif files and kind == SENTENCEPIECE:
        _sentencepiece(files[0], vocab_size)
    if "tokenizer.json" in docs:
        _tokenizer_json(os.path.join(src, "tokenizer.json"), docs["tokenizer.json"], vocab_size)


def _json(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConversionError(f"{path}: not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
    except ValueError as e:
        raise ConversionError(f"{path}: not valid JSON ({e})") from None


def _no_duplicate_keys(path):
    def hook(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ConversionError(f"{path}: key {key!r} appears twice")
            seen[key] = value
        return seen
    return hook


def _text_lines(path):
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ConversionError(f"{path}: not UTF-8 (byte {e.start})") from None
    lines = text.split("\n")  # as transformers and tokenizers read them: only "\n" ends a line
    return lines[:-1] if lines and lines[-1] == "" else lines


def _wordpiece_vocab(path, vocab_size) -> dict:
    lines = _text_lines(path)
    vocab = {}
    for number, token in enumerate(lines, 1):
        if token in vocab:
            raise ConversionError(f"{path}: token {token!r} on lines {vocab[token] + 1} and {number}: every later id "
                                  f"would shift")
        vocab[token] = number - 1
    if not vocab:
        raise ConversionError(f"{path}: empty")
    if len(vocab) > vocab_size:
        raise ConversionError(f"{path}: {len(vocab)} tokens, but the word embedding has {vocab_size} rows")
    return vocab


def _bpe_vocab(path, vocab_size) -> dict:
    vocab = _json(path)
    if not isinstance(vocab, dict) or not vocab:
        raise ConversionError(f"{path}: expected a non-empty JSON object of token -> id")
    by_id = {}
    for token, i in vocab.items():
        if not isinstance(i, int) or isinstance(i, bool):
            raise ConversionError(f"{path}: token {token!r} has id {i!r}, not an integer")
        if not 0 <= i < vocab_size:
            raise ConversionError(f"{path}: token {token!r} has id {i}, outside the word embedding's {vocab_size} rows")
        if i in by_id:
            raise ConversionError(f"{path}: tokens {by_id[i]!r} and {token!r} share id {i}")
        by_id[i] = token
    return vocab


def _merges(path, vocab):
    for number, line in enumerate(_text_lines(path), 1):
        line = line.rstrip("\r")
        if not line.strip() or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ConversionError(f"{path}: line {number} is not two tokens separated by one space: {line[:60]!r}")
        for token in (parts[0], parts[1], parts[0] + parts[1]):
            if token not in vocab:
                raise ConversionError(f"{path}: line {number} merges into or from {token!r}, which the vocabulary "
                                      f"does not have")


def _added_ids(src, docs, vocab_size) -> dict:
    """Tokens the other files add, token -> id, each id inside the embedding."""
    added = {}
    path = os.path.join(src, "added_tokens.json")
    if "added_tokens.json" in docs:
        table = docs["added_tokens.json"]
        if not isinstance(table, dict):
            raise ConversionError(f"{path}: expected a JSON object of token -> id")
        added.update(table)
    decoder = docs.get("tokenizer_config.json", {}).get("added_tokens_decoder")
    if decoder is not None:
        path = os.path.join(src, "tokenizer_config.json")
        if not isinstance(decoder, dict):
            raise ConversionError(f"{path}: added_tokens_decoder is not an object")
        for i, token in decoder.items():
            if not isinstance(token, dict) or not isinstance(token.get("content"), str) or not str(i).isdigit():
                raise ConversionError(f"{path}: added_tokens_decoder entry {i!r} is not an id -> token object")
            added[token["content"]] = int(i)
    for token, i in added.items():
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < vocab_size:
            raise ConversionError(f"{path}: added token {token!r} has id {i!r}, outside the word embedding's "
                                  f"{vocab_size} rows")
    return added


def _specials_present(path, vocab, added, defaults, config, specials_map):
    for key, default in defaults.items():
        value = config.get(key, specials_map.get(key, default))
        if isinstance(value, dict):
            value = value.get("content")
        if value is None:  # explicitly none: the tokenizer has no such token
            continue
        if not isinstance(value, str):
            raise ConversionError(f"{path}: {key} is {value!r}, not a token")
        if value not in vocab and value not in added:
            raise ConversionError(f"{path}: {key} {value!r} is not in the vocabulary")


def _sentencepiece(path, vocab_size):
    """XLM-R's ids: <s> <pad> </s> <unk> = 0..3, piece i -> i + 1, <mask> = pieces + 1 (fairseq's alignment,
    which transformers and PaddleNLP both hard-code), so pieces + 2 ids must fit the embedding."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor()
    try:
        with open(path, "rb") as f:
            sp.LoadFromSerializedProto(f.read())  # a protobuf parse: no code runs
    except Exception as e:
        raise ConversionError(f"{path}: not a SentencePiece model "
                              f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    if sp.get_piece_size() + 2 > vocab_size:
        raise ConversionError(f"{path}: {sp.get_piece_size()} pieces need {sp.get_piece_size() + 2} ids with XLM-R's "
                              f"<pad> and <mask>, but the word embedding has {vocab_size} rows")


def _tokenizer_json(path, spec, vocab_size):
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        raise ConversionError(f"{path}: not a tokenizers file (no model object)")
    vocab = spec["model"].get("vocab")
    if isinstance(vocab, dict):
        bad = [(t, i) for t,
               i in vocab.items() if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < vocab_size]
        if bad:
            raise ConversionError(f"{path}: token {bad[0][0]!r} has id {bad[0][1]!r}, outside the word embedding's "
                                  f"{vocab_size} rows")
    elif isinstance(vocab, list):  # Unigram keeps a list of [piece, score], the id is the index
        if len(vocab) > vocab_size:
            raise ConversionError(f"{path}: {len(vocab)} pieces, but the word embedding has {vocab_size} rows")
    elif vocab is not None:
        raise ConversionError(f"{path}: model.vocab is neither a table nor a list")
    for token in spec.get("added_tokens") or []:
        i = token.get("id") if isinstance(token, dict) else None
        if not isinstance(i, int) or not 0 <= i < vocab_size:
            raise ConversionError(f"{path}: added token {token!r:.60} has id {i!r}, outside the word embedding's "
                                  f"{vocab_size} rows")
