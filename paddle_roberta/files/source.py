"""Resolve a source: a local Hugging Face model directory -> its config and weight files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..errors import ConversionError
from .hub import looks_like_repo_id, resolve_repo_id
from .readers import read_shard_index
from .weight_files import HF_FORMATS, choose


@dataclass
class Source:
    path: str
    config: dict
    weight_files: list
    weight_format: str
    notes: list = field(default_factory=list)  # which weights file was read, when there was a choice
    weights_path: str = ""  # the file (or shard index) read


def resolve(src, weights=None) -> Source:
    """``src``: a local Hugging Face model directory, or a hub id (``clue/roberta_chinese_clue_tiny``).
    ``weights``: the weights file to read when the directory has several formats (``weight_files.choose``)."""
    path = os.fspath(src)
    if not os.path.exists(path) and looks_like_repo_id(path):
        path = resolve_repo_id(path)
    if not os.path.exists(path):
        raise ConversionError(f"{path}: no such directory")
    if not os.path.isdir(path):
        raise ConversionError(f"{path}: not a directory (give the model directory that holds config.json)")
    config = read_config(os.path.join(path, "config.json"))
    notes = []
    found = choose(path, HF_FORMATS, weights, notes)
    if found is None:
        looked = ", ".join(name for single, index, _ in HF_FORMATS for name in (single, index))
        raise ConversionError(f"{path}: no weights found (looked for {looked})")
    full, kind = found
    files = read_shard_index(full) if full.endswith(".index.json") else [full]
    return Source(path, config, files, kind, notes, full)


def read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: missing; a Hugging Face model directory has a config.json")
    return read_json_object(path)


def read_json_object(path: str, missing_ok: bool = False) -> dict:
    """A JSON object from ``path`` ({} when it is absent and ``missing_ok``), or a ConversionError."""
    if missing_ok and not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConversionError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ConversionError(f"{path}: expected a JSON object, found {type(config).__name__}")
    return config
