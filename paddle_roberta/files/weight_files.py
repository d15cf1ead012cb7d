"""Which weights file of a directory is read, so that weights are never read stale.

A directory can hold weights in two formats: a Hugging Face source with ``model.safetensors`` and an older or newer
``pytorch_model.bin``; a converted directory where PaddleNLP's ``save_pretrained`` (its default: pdparams) wrote
``model_state.pdparams`` beside this tool's ``model.safetensors`` after a fine-tune in place — and PaddleNLP's own
loader then keeps reading the safetensors. When two formats are present they are compared tensor by tensor: equal,
the preferred one is read (and the choice is said); different, the directory is refused with the files, which is
newer and how to pick one (``--weights FILE``).
"""

from __future__ import annotations

import datetime
import fnmatch
import os

import numpy as np

from ..errors import ConversionError
from .readers import Checkpoint, read_shard_index

# Each format as (single file, shard index), in the order transformers / PaddleNLP prefer them.
HF_FORMATS = (("model.safetensors", "model.safetensors.index.json", "safetensors"),
              ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch .bin"))
PADDLE_FORMATS = (("model.safetensors", "model.safetensors.index.json", "safetensors"),
                  ("model_state.pdparams", "model_state.pdparams.index.json", "pdparams"))
# Buffers some files carry and others not: no weight (the converter drops them too).
BUFFERS = ("*embeddings.position_ids", "*embeddings.token_type_ids")


def in_folder(folder: str, paths) -> str | None:
    """The one of ``paths`` (``--weights`` given once per directory) that names a file of ``folder``: a bare file
    name that ``folder`` holds, or a path inside it. None when none does."""
    for p in paths:
        if os.path.dirname(p) == "" and os.path.isfile(os.path.join(folder, p)):
            return os.path.join(folder, p)
        if os.path.dirname(os.path.abspath(p)) == os.path.abspath(folder):
            return p
    return None


def present_formats(folder: str, formats) -> list:
    """[(path of the file or index, kind)] for each format found in ``folder``."""
    found = []
    for single, index, kind in formats:
        for name, suffix in ((single, ""), (index, " (sharded)")):
            if os.path.isfile(os.path.join(folder, name)):
                found.append((os.path.join(folder, name), kind + suffix))
                break
    return found


def named(folder: str, formats, weights: str) -> tuple:
    """``(path, kind)`` of the weights file ``weights`` names (a path, or a file name in ``folder``); a one-line
    ConversionError naming the files ``folder`` has when it is none of them (decided before any framework loads)."""
    found = present_formats(folder, formats)
    path = weights if os.path.isabs(weights) or os.path.dirname(weights) else os.path.join(folder, weights)
    match = [f for f in found if os.path.samefile(f[0], path)] if os.path.exists(path) else []
    if not match:
        names = ", ".join(os.path.basename(f[0]) for f in found) or "none"
        raise ConversionError(f"{weights}: not a weights file of {folder} (it has: {names}); pass one of those to "
                              "--weights, or leave --weights out")
    return match[0]


def choose(folder: str, formats, weights=None, notes=None) -> tuple:
    """``(path, kind)`` of the weights to read in ``folder``: ``weights`` when given (a path or a file name in
    ``folder``), else the only format present, else the preferred one after checking that the others hold the same
    tensors. None when there is none. Notes what was chosen on ``notes`` when there was a choice."""
    found = present_formats(folder, formats)
    if weights is not None:
        match = named(folder, formats, weights)
        if notes is not None and len(found) > 1:
            notes.append(f"weights: read {os.path.basename(match[0])} (--weights); "
                         f"{', '.join(os.path.basename(f[0]) for f in found if f[0] != match[0])} ignored")
        return match
    if len(found) <= 1:
        return found[0] if found else None
    first = found[0]
    for other in found[1:]:
        difference = differs(first[0], other[0])
        if difference == "unreadable":
            if notes is not None:
                notes.append(f"weights: read {os.path.basename(first[0])}; {os.path.basename(other[0])} not compared "
                             "(reading it needs torch)")
            continue
        if difference:
            newer = max((first, other), key=lambda f: os.path.getmtime(f[0]))
            when = datetime.datetime.fromtimestamp(os.path.getmtime(newer[0])).strftime("%Y-%m-%d %H:%M")
            raise ConversionError(
                f"{folder}: {os.path.basename(first[0])} and {os.path.basename(other[0])} hold different weights "
                f"({difference}; {os.path.basename(newer[0])} is newer, {when}): pass --weights FILE (weights= in "
                f"Python) to pick one, or "
                "move the other aside")
        if notes is not None:
            notes.append(f"weights: read {os.path.basename(first[0])} ({os.path.basename(other[0])} holds the "
                         f"same tensors)")
    return first


def differs(path_a: str, path_b: str) -> str:
    """"" when the two files hold the same tensors (buffers and tied copies aside), else the first difference
    ("unreadable" when one of them cannot be read here). One tensor of each in memory at a time."""
    try:
        a, b = _open(path_a), _open(path_b)
    except _Unreadable:
        return "unreadable"
    try:
        keep = lambda names: {n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in BUFFERS)}  # noqa: E731
        names_a, names_b = keep(a.names()), keep(b.names())
        common = sorted(names_a & names_b)
        for name in common:
            if not _same(a.read(name), b.read(name)):
                return f"first difference: tensor {name}"
        for only, side, other in ((names_a - names_b, a, path_b), (names_b - names_a, b, path_a)):
            for name in sorted(only):
                if _tied_copy(side, name, common):
                    continue
                return f"tensor {name} is not in {os.path.basename(other)}"
        return ""
    finally:
        a.close()
        b.close()


def _same(x, y) -> bool:
    """Equal values; a file saved in half precision beside a float32 one agrees when the float32 values round
    to its values (transformers' ``.to(float16)`` and this converter round the same way, to nearest even)."""
    if x.shape != y.shape:
        return False
    if x.dtype != y.dtype and x.dtype.itemsize != y.dtype.itemsize:
        wide, narrow = (x, y) if x.dtype.itemsize > y.dtype.itemsize else (y, x)
        return np.array_equal(wide.astype(narrow.dtype), narrow)
    return np.array_equal(x.astype(np.float32, copy=False), y.astype(np.float32, copy=False))


def _tied_copy(side, name, common) -> bool:
    """Is ``name`` equal to a tensor both files hold (transformers' safetensors stores tied weights once)?"""
    value = side.read(name)
    return any(side.shape(n) == value.shape and np.array_equal(side.read(n), value) for n in common)


class _Unreadable(Exception):
    pass


def _open(path):
    files = read_shard_index(path) if path.endswith(".index.json") else [path]
    try:
        return Checkpoint(files)
    except ConversionError as e:
        if "needs torch" in str(e):
            raise _Unreadable() from None
        raise
