"""sha256 of the files this tool writes, for conversion.json's list (what ``--overwrite`` checks).

Remembered by (path, inode, size, mtime, ctime): a writer that hashed its file while writing it hands the
digest over (``remember``), and the checks before converting and just before the swap read a large
weights file once, not twice.
"""

from __future__ import annotations

import hashlib
import os

_DIGESTS: dict = {}


def _key(path: str, st) -> tuple:
    return (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_sha256(path: str, st=None) -> str:
    st = st or os.stat(path)
    key = _key(path, st)
    if key not in _DIGESTS:
        with open(path, "rb") as f:
            _DIGESTS[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _DIGESTS[key]


def remember(path: str, hexdigest: str) -> None:
    """``path``, just closed, has this sha256 (computed while it was written)."""
    _DIGESTS[_key(path, os.stat(path))] = hexdigest
