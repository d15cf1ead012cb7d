"""Tokenizer files transformers' AutoTokenizer loads, written from a PaddleNLP directory's (export to Hugging Face)."""

from __future__ import annotations

import json
import os
import shutil

from ..files.source import read_json_object
from .kind import ADDED_TOKENS, KINDS, SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG, TOKENIZER_JSON, tokenizer_kind, vocab_files
from .paddle_files import SOURCE_ADDED_TOKENS


def write_hf_tokenizer(src, dest) -> str | None:
    """The tokenizer files transformers' AutoTokenizer loads, from the PaddleNLP ones; returns transformers' class
    name, None when ``src`` holds no tokenizer."""
    config = read_json_object(os.path.join(src, TOKENIZER_CONFIG), missing_ok=True)
    specials = read_json_object(os.path.join(src, SPECIAL_TOKENS_MAP), missing_ok=True)
    keep = {k: v for k, v in config.items() if k.endswith("_token") or k in (
        "do_lower_case", "strip_accents", "tokenize_chinese_chars", "add_prefix_space", "errors", "model_max_length")}
    keep = {k: (v.get("content") if isinstance(v, dict) else v) for k, v in keep.items()}
    kind = tokenizer_kind(src)
    files = vocab_files(src, kind)
    if not files:
        return None
    cls = KINDS[kind].hf_class
    for name in [os.path.basename(p) for p in files] + [TOKENIZER_JSON, ADDED_TOKENS]:
        if os.path.isfile(os.path.join(src, name)):
            shutil.copyfile(os.path.join(src, name), os.path.join(dest, name))
    added = config.get(SOURCE_ADDED_TOKENS)
    if isinstance(added, dict):
        # the source's added tokens as transformers declared them: the ones listed as special only for PaddleNLP's
        # slow tokenizers (paddle_files.write_added_tokens) are plain added tokens again
        plain = {t.get("content") for t in added.values() if isinstance(t, dict) and not t.get("special")}
        keep["added_tokens_decoder"] = added
        extra = [t for t in specials.get("additional_special_tokens") or []
                 if (t.get("content") if isinstance(t, dict) else t) not in plain]
        specials.pop("additional_special_tokens", None)
        if extra:
            specials["additional_special_tokens"] = extra
            keep["additional_special_tokens"] = [t.get("content") if isinstance(t, dict) else t for t in extra]
    with open(os.path.join(dest, TOKENIZER_CONFIG), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": cls, **keep}, f, indent=2, ensure_ascii=False)
    # transformers reads the AddedToken form ({"content", "lstrip", ...}) as written for PaddleNLP
    specials = {k: ({f: v[f] for f in ("content", "lstrip", "rstrip", "single_word", "normalized") if f in v}
                    if isinstance(v, dict) else v) for k, v in specials.items()}
    with open(os.path.join(dest, SPECIAL_TOKENS_MAP), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2, ensure_ascii=False)
    return cls
