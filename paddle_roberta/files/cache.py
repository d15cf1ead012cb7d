"""The ``from_pretrained`` cache: one converted directory per source state, options and package version.

A source's state is, for every file in it (``os.stat`` follows the hub cache's symlinks to its blobs):
name, size, modification time, inode, device and status-change time, and a content digest — whole for
files up to ``WHOLE_BYTES``, else the first and last ``EDGE_BYTES`` (a safetensors header and more) and
``SAMPLES`` blocks spread over the file. A copy with ``cp -p``/``touch -r`` keeps size and mtime but not the
inode or ctime; a same-size fine-tune changes every tensor, so the sampled blocks too (the samples also
cover filesystems that report no useful ctime). Measured on a 1.3 GB safetensors file: see docs/cli.md.

Each use touches the entry's directory (its mtime is the last-used stamp); entries unused for
``MAX_AGE_DAYS``, then the least recently used beyond the size cap ($PADDLE_ROBERTA_CACHE_MAX_GB, default
``DEFAULT_MAX_GB``), are removed by the next use. ``paddle-roberta cache list|clear`` shows and empties it.
Cache folder: $PADDLE_ROBERTA_CACHE, else ~/.cache/paddle_roberta.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass

from .output_dir import MARKER, temp_name, written_by_us

WHOLE_BYTES = 1 << 20
EDGE_BYTES = 64 << 10
SAMPLES, SAMPLE_BYTES = 32, 4 << 10
MAX_AGE_DAYS = 30
DEFAULT_MAX_GB = 20.0
KEY_RE = re.compile(r"^[0-9a-f]{24}$")


def cache_root() -> str:
    return os.environ.get("PADDLE_ROBERTA_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "paddle_roberta")


def max_bytes() -> int:
    try:
        return int(float(os.environ.get("PADDLE_ROBERTA_CACHE_MAX_GB", DEFAULT_MAX_GB)) * 2**30)
    except ValueError:
        return int(DEFAULT_MAX_GB * 2**30)


def source_key(source_dir: str, salt) -> str:
    """The cache key of ``source_dir`` in its present state, with ``salt`` (version, options) mixed in."""
    h = hashlib.sha256(json.dumps(salt, sort_keys=True, default=str).encode())
    for name in sorted(os.listdir(source_dir)):
        path = os.path.join(source_dir, name)
        st = os.stat(path)
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_dev}\0{st.st_ctime_ns}\0".encode())
        if os.path.isfile(path):
            h.update(content_sample(path, st.st_size))
    return h.hexdigest()[:24]


def content_sample(path: str, size: int) -> bytes:
    """sha256 of the whole file when small, else of its two ends and ``SAMPLES`` blocks spread evenly between."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= WHOLE_BYTES:
            h.update(f.read())
        else:
            fd = f.fileno()
            h.update(os.pread(fd, EDGE_BYTES, 0))
            step = (size - 2 * EDGE_BYTES) // (SAMPLES + 1)
            for i in range(1, SAMPLES + 1):
                h.update(os.pread(fd, SAMPLE_BYTES, EDGE_BYTES + i * step))
            h.update(os.pread(fd, EDGE_BYTES, size - EDGE_BYTES))
    return h.digest()


@dataclass
class Entry:
    path: str
    size: int
    last_used: float
    source: str
    paddle_class: str


def entries(root: str | None = None) -> list:
    """The cache's entries, least recently used first (only directories this tool wrote under a key's name)."""
    root = root or cache_root()
    found = []
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return found
    for name in names:
        path = os.path.join(root, name)
        if not KEY_RE.match(name) or os.path.islink(path) or not os.path.isdir(path) or not written_by_us(path):
            continue
        try:
            with open(os.path.join(path, MARKER), encoding="utf-8") as f:
                record = json.load(f)
            size = sum(e.stat().st_size for e in os.scandir(path) if e.is_file(follow_symlinks=False))
            found.append(Entry(path, size, os.stat(path).st_mtime, str(record.get("source", "?")),
                               str(record.get("paddle_class", "?"))))
        except (OSError, ValueError, AttributeError):
            continue
    return sorted(found, key=lambda e: e.last_used)


def touch(path: str) -> None:
    """Stamp an entry as used now."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache still serves


def remove(path: str) -> None:
    """Out of sight in one rename (a concurrent user sees the whole entry or none), then deleted."""
    aside = temp_name(path, "old")
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def prune(root: str | None = None, keep: str | None = None, now: float | None = None) -> list:
    """Remove entries unused for ``MAX_AGE_DAYS``, then the least recently used while the cache is over the cap;
    never ``keep`` (the entry just used). Returns the removed entries."""
    now = time.time() if now is None else now
    removed, kept = [], []
    for e in entries(root):
        if e.path != keep and now - e.last_used > MAX_AGE_DAYS * 86400:
            removed.append(e)
        else:
            kept.append(e)
    total, cap = sum(e.size for e in kept), max_bytes()
    for e in list(kept):
        if total <= cap:
            break
        if e.path != keep:
            removed.append(e)
            total -= e.size
    for e in removed:
        try:
            remove(e.path)
        except OSError:
            pass  # another process removed or is using it: the next use tries again
    return removed


def clear(root: str | None = None) -> list:
    gone = entries(root)
    for e in gone:
        remove(e.path)
    return gone
