"""A source tokenizer's ids: its base vocabulary, the tokens added after it, and the id it pads with.

Read from the files, without transformers: conversion needs only this package's dependencies.
Added tokens come from wherever transformers records them — ``tokenizer.json``'s ``added_tokens``,
``tokenizer_config.json``'s ``added_tokens_decoder`` (transformers >= 4.34), ``added_tokens.json`` (slow
tokenizers) — each with its AddedToken flags; the first of these that names a token wins.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..errors import ConversionError
from .kind import BYTE_LEVEL_BPE, SENTENCEPIECE, TOKENIZER_JSON, WORDPIECE, not_written, tokenizer_kind, vocab_files

# transformers' AddedToken defaults for a token given to ``add_tokens`` as a plain string
ADDED_TOKEN_DEFAULTS = {"lstrip": False, "rstrip": False, "single_word": False, "normalized": True}
ADDED_TOKEN_FIELDS = tuple(ADDED_TOKEN_DEFAULTS)
# XLM-RoBERTa's SentencePiece ids (fairseq's alignment, hard-coded by transformers and PaddleNLP alike):
# these four first, then SentencePiece piece i at i + 1, then <mask>.
FAIRSEQ_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


@dataclass
class AddedTokenSpec:
    id: int
    content: str
    special: bool
    flags: dict = field(default_factory=dict)  # lstrip, rstrip, single_word, normalized

    def as_added_token(self) -> dict:
        """transformers' and PaddleNLP's serialised AddedToken."""
        return {"content": self.content,
                **{f: bool(self.flags.get(f, ADDED_TOKEN_DEFAULTS[f])) for f in ADDED_TOKEN_FIELDS}}


@dataclass
class Vocabulary:
    ids: dict  # token -> id of the base vocabulary
    added: list  # AddedTokenSpec, in id order: tokens with ids past the base vocabulary
    declared: dict  # content -> AddedTokenSpec for every token the files declare (specials inside the vocabulary too)

    @property
    def base_size(self) -> int:
        return max(self.ids.values(), default=-1) + 1

    @property
    def size(self) -> int:
        """Every id the tokenizer can produce: transformers' ``len(tokenizer)``."""
        return max([self.base_size] + [t.id + 1 for t in self.added])

    def id_of(self, token: str) -> int | None:
        if token in self.ids:
            return self.ids[token]
        spec = self.declared.get(token)
        return spec.id if spec is not None else None


def read_vocabulary(src: str, kind: str | None) -> Vocabulary | None:
    """The ids of the tokenizer in ``src`` (None when it has none this tool reads)."""
    ids = _base_ids(src, kind)
    if ids is None:
        return None
    declared = _declared_tokens(src)
    base = max(ids.values(), default=-1) + 1
    added = sorted((t for t in declared.values() if t.id >= base), key=lambda t: t.id)
    return Vocabulary(ids, added, declared)


def _base_ids(src, kind) -> dict | None:
    files = vocab_files(src, kind)
    if files and kind == WORDPIECE:
        with open(files[0], encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        lines = lines[:-1] if lines and lines[-1] == "" else lines
        return {token: i for i, token in enumerate(lines)}
    if files and kind == BYTE_LEVEL_BPE:
        with open(files[0], encoding="utf-8") as f:
            return json.load(f)
    if files and kind == SENTENCEPIECE:
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor()
        with open(files[0], "rb") as f:
            sp.LoadFromSerializedProto(f.read())
        n = sp.get_piece_size()
        ids = {sp.id_to_piece(i): i + 1 for i in range(n) if sp.id_to_piece(i) not in FAIRSEQ_SPECIALS}
        ids.pop(sp.id_to_piece(sp.unk_id()), None)  # SentencePiece's own <unk> is fairseq's 3
        return {**ids, **FAIRSEQ_SPECIALS, "<mask>": n + 1}
    if kind in (WORDPIECE, BYTE_LEVEL_BPE) and os.path.isfile(os.path.join(src, TOKENIZER_JSON)):
        with open(os.path.join(src, TOKENIZER_JSON), encoding="utf-8") as f:
            vocab = (json.load(f).get("model") or {}).get("vocab")
        return dict(vocab) if isinstance(vocab, dict) else None
    return None


def _declared_tokens(src) -> dict:
    declared = {}

    def take(content, i, special, fields):
        if isinstance(content, str) and isinstance(i, int) and not isinstance(i, bool) and content not in declared:
            flags = {f: bool(fields[f]) for f in ADDED_TOKEN_FIELDS if f in fields}
            declared[content] = AddedTokenSpec(i, content, bool(special), flags)

    tokenizer_json = _json(os.path.join(src, "tokenizer.json"))
    for t in tokenizer_json.get("added_tokens") or []:
        if isinstance(t, dict):
            take(t.get("content"), t.get("id"), t.get("special", False), t)
    decoder = _json(os.path.join(src, "tokenizer_config.json")).get("added_tokens_decoder")
    if isinstance(decoder, dict):
        for i, t in decoder.items():
            if isinstance(t, dict) and str(i).isdigit():
                take(t.get("content"), int(i), t.get("special", False), t)
    added_json = _json(os.path.join(src, "added_tokens.json"))
    specials = _special_contents(src)
    for content, i in added_json.items():
        take(content, i, content in specials, {})
    return declared


def _special_contents(src) -> set:
    found = set()
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        doc = _json(os.path.join(src, name))
        for key, value in doc.items():
            values = (value if key == "additional_special_tokens" and isinstance(value, list)
                      else [value] if key.endswith("_token") else [])
            for v in values:
                v = v.get("content") if isinstance(v, dict) else v
                if isinstance(v, str):
                    found.add(v)
    return found


def _json(path) -> dict:
    """A JSON object, {} when the file is absent (the tokenizer checks have already judged its form)."""
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except ValueError as e:
        raise ConversionError(f"{path}: not valid JSON ({e})") from None
    return doc if isinstance(doc, dict) else {}


def check_added_ids(vocab: Vocabulary, src: str, rows: int) -> None:
    """PaddleNLP appends added tokens one after another from the end of the base vocabulary: ids with a gap
    cannot be given back; every id must also have an embedding row."""
    expected = vocab.base_size
    for t in vocab.added:
        if t.id != expected:
            raise ConversionError(f"{src}: added token {t.content!r} has id {t.id}, but PaddleNLP gives the next "
                                  f"added token "
                                  f"id {expected} (added tokens must follow the vocabulary without gaps)")
        expected += 1
    if vocab.size > rows:
        raise ConversionError(f"{src}: the tokenizer has {vocab.size} ids (vocabulary {vocab.base_size} + "
                              f"{len(vocab.added)} "
                              f"added), but the word embedding has {rows} rows")


def tokenizer_pad_id(src: str, plan, config: dict, config_path: str) -> int | None:
    """The pad_token_id to write: the id the source's tokenizer pads with. PaddleNLP builds the attention mask
    from pad_token_id when none is passed, so a config whose pad id is another token's (CLUE's: 1 = [UNK],
    [PAD] = 0) would mask that token and attend to the padding. Checks the added tokens on the way; notes
    on ``plan`` what differs from the source. None when the source has no tokenizer (the config's id stays)."""

    kind = tokenizer_kind(src)
    vocab = read_vocabulary(src, kind)
    said = config.get("pad_token_id", plan.family.pad_token_id)
    if vocab is None:
        return _unwritten_pad(src, kind, plan, said, config_path) if not_written(kind) else None
    rows = plan.dims["V"]
    check_added_ids(vocab, src, rows)
    if vocab.size != rows:
        plan.notes.append(f"tokenizer: {vocab.size} ids ({vocab.base_size} + {len(vocab.added)} added) for {rows} "
                          f"embedding rows: ids {vocab.size}..{rows - 1} are never produced by the tokenizer")
    elif vocab.added:
        plan.notes.append(f"tokenizer: {len(vocab.added)} added token(s) kept with their ids "
                          f"({', '.join(t.content for t in vocab.added[:3])}{', ...' if len(vocab.added) > 3 else ''})")
    content = _pad_content(src, kind)
    pad = vocab.id_of(content) if content else None
    name = next((t for t, i in vocab.ids.items() if i == said), None)
    return _chosen_pad(pad, content, said, name, plan, config_path)


def _unwritten_pad(src, kind, plan, said, config_path) -> int | None:
    """The pad id of a tokenizer this tool does not write (``kind.not_written``), from transformers' own reading of
    it where transformers is installed and loads it; else the config's stays, with a note."""
    try:
        import transformers

        tok = transformers.AutoTokenizer.from_pretrained(src)
        pad, content = tok.pad_token_id, tok.pad_token
        name = tok.convert_ids_to_tokens(said) if isinstance(said, int) and 0 <= said < len(tok) else None
    except Exception:  # not installed, or the tokenizer does not load: nothing to check against
        plan.notes.append(f"pad_token_id: {said} kept from {config_path}, not checked against the tokenizer (not "
                          "written, and transformers cannot read it here): always pass attention_mask")
        return None
    return _chosen_pad(pad, content, said, name, plan, config_path)


def _chosen_pad(pad, content, said, name, plan, config_path) -> int | None:
    """The pad id to write, given the tokenizer's (``pad``, token ``content``) and the config's (``said``, the token
    ``name`` it is)."""
    if pad is None or pad == said:
        return pad
    if plan.family.positions_after_pad:
        # RoBERTa's position ids start after the config's pad id in both frameworks: it cannot change. verify's
        # no-mask call shows what PaddleNLP's default mask then does.
        plan.notes.append(f"pad_token_id: {config_path} says {said}, the tokenizer pads with {pad} ({content!r}); kept "
                          f"{said} (RoBERTa's positions start after it): always pass attention_mask")
        return said
    plan.notes.append(f"pad_token_id: {config_path} says {said}{f' ({name!r})' if name else ''}, the "
                      f"tokenizer pads with "
                      f"{pad} ({content!r}): written as {pad}, the id PaddleNLP masks when no attention_mask is passed")
    return pad


def _pad_content(src, kind) -> str | None:
    default = "[PAD]" if kind == WORDPIECE else "<pad>"
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        doc = _json(os.path.join(src, name))
        if "pad_token" in doc:
            value = doc["pad_token"]
            value = value.get("content") if isinstance(value, dict) else value
            return value if isinstance(value, str) else None
    return default
