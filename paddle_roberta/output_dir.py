"""Where a conversion may write: never over, inside or around its source, and replace only its own outputs.

Every output directory carries ``MARKER``, a small JSON file saying what wrote it and from what;
``--overwrite`` replaces a directory only when it holds that marker (or the model card of a version
of this tool that predates it), or is empty. Anything else — a user's folder, a checkpoint, a parent
of the source — is refused before a byte is written.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager

from . import __version__
from .errors import ConversionError

MARKER = "conversion.json"
OLD_CARD_MARK = "by paddle-roberta on "  # model cards written before the marker existed


def check_output(out: str, source_path: str, overwrite: bool) -> None:
    o, s = os.path.realpath(out), os.path.realpath(source_path)
    if o == s:
        raise ConversionError(f"{out}: is the source directory; the source is never written to")
    if _within(o, s):
        raise ConversionError(f"{out}: is inside the source directory {source_path}; the source is never written to")
    if _within(s, o):
        raise ConversionError(f"{out}: contains the source directory {source_path}; replacing it would delete the source")
    if not os.path.lexists(out):
        return
    if not overwrite:
        raise ConversionError(f"{out}: already exists (pass --overwrite to replace it)")
    if os.path.islink(out) or not os.path.isdir(out):
        raise ConversionError(f"{out}: is not a directory paddle-roberta wrote; --overwrite replaces only those")
    if os.listdir(out) and not written_by_us(out):
        raise ConversionError(f"{out}: is not a directory paddle-roberta wrote (no {MARKER}); --overwrite replaces only those")


@contextmanager
def building(out: str, overwrite: bool):
    """Yields a fresh hidden directory beside ``out`` to build the result in. On normal exit it gets
    the usual mode (umask) and is renamed into place; on any exception, a signal included, it is removed.

    The name is chosen before the directory is made, inside the cleanup: a signal between making it
    and entering the cleanup would otherwise leave it behind (``mkdtemp`` returns too late)."""
    tmp = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.tmp-{secrets.token_hex(6)}")
    try:
        try:
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            os.mkdir(tmp, 0o700)  # private while incomplete
        except OSError as e:
            raise ConversionError(f"{out}: cannot write here ({e.strerror})") from None
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        _move_into_place(tmp, out, overwrite)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConversionError(f"{e.filename or out}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _move_into_place(tmp: str, out: str, overwrite: bool):
    if not os.path.exists(out):
        try:
            os.rename(tmp, out)
            return
        except OSError:
            if not os.path.exists(out):
                raise
    if not overwrite:
        raise ConversionError(f"{out}: already exists (pass --overwrite to replace it)")
    if os.path.islink(out) or not os.path.isdir(out) or (os.listdir(out) and not written_by_us(out)):
        raise ConversionError(f"{out}: appeared while converting and is not a directory paddle-roberta wrote")
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old-", dir=os.path.dirname(out))
    os.rename(out, os.path.join(old, "out"))
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def written_by_us(path: str) -> bool:
    try:
        with open(os.path.join(path, MARKER), encoding="utf-8") as f:
            return json.load(f).get("converted_by") == "paddle-roberta"
    except (OSError, ValueError, AttributeError):
        pass
    try:
        with open(os.path.join(path, "README.md"), encoding="utf-8") as f:
            return OLD_CARD_MARK in f.read(2000)
    except (OSError, ValueError):
        return False


def write_marker(tmp: str, source: str, paddle_class: str) -> None:
    record = {"converted_by": "paddle-roberta", "version": __version__, "source": source, "paddle_class": paddle_class}
    with open(os.path.join(tmp, MARKER), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, ensure_ascii=False)


def _within(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)
