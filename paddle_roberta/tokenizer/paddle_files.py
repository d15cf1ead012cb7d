"""Tokenizer files in the form PaddleNLP's ``AutoTokenizer.from_pretrained(out)`` loads.

- WordPiece (CLUE, BERT): PaddleNLP's ``BertTokenizerFast``, which runs the
  ``tokenizers`` library on a ``tokenizer.json`` exactly as transformers' fast tokenizer does
  (PaddleNLP's slow ``BertTokenizer`` differs on some Unicode). The source's ``tokenizer.json`` is
  copied; when it has none (CLUE ships only the vocabulary), one is built with ``tokenizers`` from
  the vocabulary and the source's lower-casing / accent / Chinese settings (BertTokenizer's defaults
  when there is no tokenizer_config.json, as the CLUE model card loads them).
- Byte-level BPE (RoBERTa): PaddleNLP's ``RobertaBPETokenizer``
  (its fast GPT tokenizer drops RoBERTa's ``<s> … </s>`` framing; AutoTokenizer in 3.0.0b4 rejects
  the name ``RobertaTokenizer`` that transformers writes). Its special tokens are written to
  special_tokens_map.json as AddedToken objects with the source's lstrip/rstrip: given plain
  strings, PaddleNLP strips the spaces on both sides of every special token in the text, so
  ``"the <mask> of"`` loses the space before ``of`` (``o``, ``f`` instead of ``Ġof``) and every
  mid-sentence fill-mask query gets other ids than transformers'.
- SentencePiece (XLM-RoBERTa): PaddleNLP's ``XLMRobertaTokenizer``, the
  model file copied, special tokens as for RoBERTa.
"""

from __future__ import annotations

import json
import os
import shutil

from ..errors import ConversionError
from ..files.source import read_json_object
from .kind import (
    BYTE_LEVEL_BPE,
    KINDS,
    MERGES_TXT,
    SENTENCEPIECE,
    SENTENCEPIECE_FILE,
    VOCAB_JSON,
    VOCAB_TXT,
    WORDPIECE,
    find_component,
    not_written,
    tokenizer_kind,
    vocab_files,
)
from .vocab import ADDED_TOKEN_FIELDS, read_vocabulary

# PaddleNLP's tokenizers return no attention_mask unless their model_input_names list it, and its models then
# build the mask from config.pad_token_id. Listing it makes the everyday call ``model(**tokenizer(texts,
# padding=True, return_tensors="pd"))`` pass the mask the tokenizer knows, as transformers' tokenizers do.
MODEL_INPUT_NAMES = {WORDPIECE: ["input_ids", "token_type_ids", "attention_mask"],
                     BYTE_LEVEL_BPE: ["input_ids", "attention_mask"],
                     SENTENCEPIECE: ["input_ids", "attention_mask"]}
BERT_SPECIALS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                 "mask_token": "[MASK]"}
BPE_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}


def write_tokenizer(src: str, out: str, model_max_length: int, token_types: int = 2) -> str | None:
    """Write the tokenizer files into ``out``; returns the PaddleNLP class name, or None if the source has none or
    has a kind no PaddleNLP class expresses (``kind.not_written``: the caller notes why). Every token the source
    adds past its vocabulary is written too (``write_added_tokens``). ``token_types``: the body's token type rows;
    with one (a RoBERTa body with a WordPiece tokenizer), the tokenizer does not return token_type_ids, which a
    second segment would set to a row the model does not have."""
    source_config = read_json_object(os.path.join(src, "tokenizer_config.json"), missing_ok=True)
    specials_map = read_json_object(os.path.join(src, "special_tokens_map.json"), missing_ok=True)
    kind = tokenizer_kind(src)
    if not_written(kind):
        return None
    names = [n for n in MODEL_INPUT_NAMES.get(kind, []) if token_types > 1 or n != "token_type_ids"]
    if vocab_files(src, kind):
        write = {WORDPIECE: _wordpiece, BYTE_LEVEL_BPE: _byte_level_bpe, SENTENCEPIECE: _sentencepiece}[kind]
        return write(src, out, source_config, specials_map, model_max_length, input_names=names)
    if os.path.isfile(os.path.join(src, "tokenizer.json")):
        return _from_tokenizer_json(src, out, source_config, specials_map, model_max_length, names)
    return None


def _from_tokenizer_json(src, out, source_config, specials_map, model_max_length, input_names):
    """A source with only tokenizer.json (many newer repos): derive the vocabulary files PaddleNLP's classes read
    for WordPiece and byte-level BPE, with its normaliser and pre-tokeniser settings. Hand-written: the tokenizers
    library saves a model's files but not its normaliser settings, and PaddleNLP's RobertaBPETokenizer reads only
    the vocabulary and merges files."""
    path = os.path.join(src, "tokenizer.json")
    spec = read_json_object(path)
    model = spec.get("model") if isinstance(spec.get("model"), dict) else {}
    vocab = model.get("vocab")
    kind = model.get("type")
    if not isinstance(vocab, dict) or not all(isinstance(i, int) for i in vocab.values()):
        raise ConversionError(f"{path}: model.vocab is not a token -> id table")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ConversionError(f"{path}: model.vocab ids are not 0..{len(vocab) - 1}, each once")
    if kind == "WordPiece":
        norm = find_component(spec.get("normalizer"), "BertNormalizer") or {}
        settings = {"do_lower_case": norm.get("lowercase", True), "strip_accents": norm.get("strip_accents"),
                    "tokenize_chinese_chars": norm.get("handle_chinese_chars", True)}
        with open(os.path.join(out, VOCAB_TXT), "w", encoding="utf-8") as f:
            f.write("".join(token + "\n" for token, _ in sorted(vocab.items(), key=lambda kv: kv[1])))
        return _wordpiece(src, out, {**settings, **source_config}, specials_map, model_max_length, vocab_written=True,
                          input_names=input_names)
    byte_level = find_component(spec.get("pre_tokenizer"), "ByteLevel")
    if kind == "BPE" and byte_level is not None:
        merges = model.get("merges")
        if not isinstance(merges, list):
            raise ConversionError(f"{path}: model.merges is not a list")
        lines = [m if isinstance(m, str) else " ".join(m) for m in merges]  # "a b" or ["a", "b"] (tokenizers >= 0.20)
        with open(os.path.join(out, VOCAB_JSON), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(out, MERGES_TXT), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "".join(line + "\n" for line in lines))
        settings = {"add_prefix_space": byte_level.get("add_prefix_space", False)}
        return _byte_level_bpe(src, out, {**settings, **source_config}, specials_map, model_max_length,
                               files_written=True,
                              input_names=input_names)
    raise AssertionError(f"{path}: a {kind} tokenizer reached the writer")  # tokenizer_kind/not_written decide first


def _wordpiece(src, out, source_config, specials_map, model_max_length, vocab_written=False, input_names=None):
    lower = source_config.get("do_lower_case", True)
    config = {
        "tokenizer_class": "BertTokenizerFast",
        # PaddleNLP 2.x has no BertTokenizerFast and fails on the name; its AutoTokenizer reads init_class
        # first and takes BertTokenizer, while 3.x still picks BertTokenizerFast from tokenizer_class
        "init_class": "BertTokenizer",
        "do_lower_case": lower,
        "strip_accents": source_config.get("strip_accents"),
        "tokenize_chinese_chars": source_config.get("tokenize_chinese_chars", True),
        "model_max_length": model_max_length,
        # how decode() joins tokens, as transformers does for this source (its default: False); PaddleNLP keeps the
        # setting but its decode() cleans up unless told, so the task pipelines pass it (tasks/fill_mask.py)
        "clean_up_tokenization_spaces": bool(source_config.get("clean_up_tokenization_spaces", False)),
        "model_input_names": input_names or MODEL_INPUT_NAMES[WORDPIECE],
        **_specials(BERT_SPECIALS, source_config, specials_map),
    }
    if not vocab_written:
        shutil.copyfile(os.path.join(src, VOCAB_TXT), os.path.join(out, VOCAB_TXT))
    if os.path.isfile(os.path.join(src, "tokenizer.json")):
        shutil.copyfile(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    else:
        from tokenizers import BertWordPieceTokenizer

        try:
            tok = BertWordPieceTokenizer(
                os.path.join(src, VOCAB_TXT), clean_text=True, handle_chinese_chars=config["tokenize_chinese_chars"],
                strip_accents=config["strip_accents"], lowercase=lower, unk_token=config["unk_token"],
                sep_token=config["sep_token"], cls_token=config["cls_token"], pad_token=config["pad_token"],
                mask_token=config["mask_token"],
            )
        except Exception as e:
            raise ConversionError(f"{os.path.join(src, VOCAB_TXT)}: not a WordPiece vocabulary "
                                  f"({str(e).splitlines()[0][:200]})") from None
        _add_to_tokenizers_library(tok, read_vocabulary(src, WORDPIECE).added, src)
        tok.save(os.path.join(out, "tokenizer.json"))
    _write_configs(out, config)
    write_added_tokens(src, out, WORDPIECE, source_config, specials_map, as_special=False)
    return config["tokenizer_class"]


def _byte_level_bpe(src, out, source_config, specials_map, model_max_length, files_written=False, input_names=None):
    config = {
        "tokenizer_class": "RobertaBPETokenizer",
        "add_prefix_space": source_config.get("add_prefix_space", False),
        "errors": source_config.get("errors", "replace"),
        "model_max_length": model_max_length,
        # how decode() joins tokens, as transformers does for this source (its default: False); PaddleNLP keeps the
        # setting but its decode() cleans up unless told, so the task pipelines pass it (tasks/fill_mask.py)
        "clean_up_tokenization_spaces": bool(source_config.get("clean_up_tokenization_spaces", False)),
        "model_input_names": input_names or MODEL_INPUT_NAMES[BYTE_LEVEL_BPE],
        **_specials(BPE_SPECIALS, source_config, specials_map),
    }
    for name in KINDS[BYTE_LEVEL_BPE].files if not files_written else ():
        shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    _write_configs(out, config, _added_token_settings(src, source_config, specials_map))
    write_added_tokens(src, out, BYTE_LEVEL_BPE, source_config, specials_map, as_special=True)
    return config["tokenizer_class"]


def _sentencepiece(src, out, source_config, specials_map, model_max_length, input_names=None):
    """XLM-RoBERTa: PaddleNLP's XLMRobertaTokenizer is a port of transformers' slow XLMRobertaTokenizer (the
    same SentencePiece model, the same fairseq id alignment: <s> <pad> </s> <unk>, then piece id + 1, <mask>
    last), so the file is copied as is; special tokens as for RoBERTa, AddedTokens with the source's strip flags."""
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": model_max_length,
        # how decode() joins tokens, as transformers does for this source (its default: False); PaddleNLP keeps the
        # setting but its decode() cleans up unless told, so the task pipelines pass it (tasks/fill_mask.py)
        "clean_up_tokenization_spaces": bool(source_config.get("clean_up_tokenization_spaces", False)),
        "model_input_names": input_names or MODEL_INPUT_NAMES[SENTENCEPIECE],
        **_specials(BPE_SPECIALS, source_config, specials_map),
    }
    shutil.copyfile(os.path.join(src, SENTENCEPIECE_FILE), os.path.join(out, SENTENCEPIECE_FILE))
    _write_configs(out, config, _added_token_settings(src, source_config, specials_map))
    write_added_tokens(src, out, SENTENCEPIECE, source_config, specials_map, as_special=True)
    return config["tokenizer_class"]


# transformers' RobertaTokenizer(Fast) and XLMRobertaTokenizer(Fast) defaults: the mask token eats the space before it
# (so
# "is <mask>." predicts " Paris"), every other special token keeps the text around it untouched.
BPE_STRIP = {"mask_token": (True, False)}
# tokenizer_config.json key: the source's added tokens as transformers declared them (id -> AddedToken + special)
SOURCE_ADDED_TOKENS = "source_added_tokens"


def write_added_tokens(src, out, kind, source_config, specials_map, as_special):
    """The tokens the source adds past its vocabulary, where PaddleNLP's ``from_pretrained`` reads them:
    ``added_tokens.json`` (content -> id, appended in id order), and the source's additional special tokens as
    AddedTokens in special_tokens_map.json.

    ``as_special``: PaddleNLP's slow tokenizers (RobertaBPETokenizer, XLMRobertaTokenizer) honour an added
    token's lstrip/rstrip only for special tokens and strip the spaces on both sides of every other one
    (``"love <new> and"`` would lose the ``Ġ`` before ``and``), so there every added token is listed among the
    additional special tokens with its flags: the ids are transformers' (verify checks them); decoding with
    ``skip_special_tokens=True`` then drops these tokens too (docs/differences.md)."""
    vocab = read_vocabulary(src, kind)
    if vocab is None:
        return
    added = vocab.added
    # For WordPiece the tokenizer.json carries the added tokens with their flags; PaddleNLP re-adds the ones in
    # added_tokens.json as plain strings, which would reset a non-default flag (normalized=False on a lower-casing
    # tokenizer would match every spelling), so that file (for PaddleNLP 2.x's slow BertTokenizer) is written
    # only when every flag is what a plain string gets.
    if added and (as_special or all(t.as_added_token() == _as_added_token(t.content, {}, t.special) for t in added)):
        with open(os.path.join(out, "added_tokens.json"), "w", encoding="utf-8") as f:
            json.dump({t.content: t.id for t in added}, f, indent=2, ensure_ascii=False)
    if added:  # as the source declared them, for the way back (export_hf): PaddleNLP keeps unknown keys on save
        _update_json(os.path.join(out, "tokenizer_config.json"), {SOURCE_ADDED_TOKENS: {
            str(t.id): {**t.as_added_token(), "special": t.special} for t in added}})
    extra = []
    for where in (source_config, specials_map):
        for value in where.get("additional_special_tokens") or []:
            content = value.get("content") if isinstance(value, dict) else value
            if isinstance(content, str) and content not in [t["content"] for t in extra]:
                spec = vocab.declared.get(content)
                fields = value if isinstance(value, dict) else (spec.flags if spec else {})
                extra.append(_as_added_token(content, fields, special=True))
    if as_special:
        extra += [t.as_added_token() for t in added if t.content not in [e["content"] for e in extra]]
    if not extra:
        return
    # AddedToken objects in special_tokens_map.json (PaddleNLP builds them from there), names in tokenizer_config.json
    _update_json(os.path.join(out, "special_tokens_map.json"), {"additional_special_tokens": extra})
    _update_json(os.path.join(out, "tokenizer_config.json"),
                 {"additional_special_tokens": [t["content"] for t in extra]})


def _update_json(path, values):
    doc = read_json_object(path)
    doc.update(values)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)


def _as_added_token(content, fields, special) -> dict:
    defaults = {"lstrip": False, "rstrip": False, "single_word": False, "normalized": not special}
    return {"content": content, **{f: bool(fields.get(f, defaults[f])) for f in ADDED_TOKEN_FIELDS}}


def _add_to_tokenizers_library(tok, added, src):
    """Added tokens into a tokenizer.json built here from the WordPiece vocabulary, at the source's ids."""
    from tokenizers import AddedToken

    for t in added:
        token = AddedToken(t.content, **{f: v for f, v in t.as_added_token().items() if f != "content"})
        (tok.add_special_tokens if t.special else tok.add_tokens)([token])
        if tok.token_to_id(t.content) != t.id:
            raise ConversionError(f"{src}: added token {t.content!r} has id {t.id}, but it would get "
                                  f"{tok.token_to_id(t.content)} after the vocabulary")


def _added_token_settings(src, source_config, specials_map) -> dict:
    """content -> AddedToken fields, as the source declares them: tokenizer.json's added_tokens, else
    tokenizer_config.json's added_tokens_decoder, else the AddedToken form of special_tokens_map.json /
    tokenizer_config.json; tokens declared nowhere get transformers' class defaults (``BPE_STRIP``)."""
    declared = {}
    for key in BPE_SPECIALS:
        for where in (specials_map, source_config):
            value = where.get(key)
            if isinstance(value, dict) and isinstance(value.get("content"), str):
                declared.setdefault(value["content"], value)
    decoder = source_config.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        declared.update({t["content"]: t for t in decoder.values()
                         if isinstance(t, dict) and isinstance(t.get("content"), str)})
    tokenizer_json = os.path.join(src, "tokenizer.json")
    if os.path.isfile(tokenizer_json):
        added = read_json_object(tokenizer_json).get("added_tokens")
        if isinstance(added, list):
            declared.update({t["content"]: t for t in added
                             if isinstance(t, dict) and isinstance(t.get("content"), str)})
    return {content: {f: bool(fields[f]) for f in ADDED_TOKEN_FIELDS if f in fields} for content,
            fields in declared.items()}


def _added_token(key, content, declared) -> dict:
    lstrip, rstrip = BPE_STRIP.get(key, (False, False))
    return {"content": content, "lstrip": declared.get("lstrip", lstrip), "rstrip": declared.get("rstrip", rstrip),
            "single_word": declared.get("single_word",
                                        False), "normalized": declared.get("normalized", key != "mask_token")}


def _specials(defaults, source_config, specials_map):
    out = {}
    for key, default in defaults.items():
        value = source_config.get(key, specials_map.get(key, default))
        if isinstance(value, dict):  # transformers' AddedToken form
            value = value.get("content", default)
        out[key] = value
    return out


def _write_configs(out, config, added_tokens=None):
    """tokenizer_config.json, and special_tokens_map.json: plain strings, or with ``added_tokens``
    (content -> AddedToken fields) AddedToken objects, which PaddleNLP builds from this file."""
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    specials = {k: v for k, v in config.items() if k.endswith("_token")}
    if added_tokens is not None:
        specials = {k: _added_token(k, v, added_tokens.get(v, {})) for k, v in specials.items()}
    with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2, ensure_ascii=False)
