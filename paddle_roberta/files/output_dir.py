"""Where a conversion may write: never over, inside or around its source, and replace only its own outputs.

Every output directory carries ``MARKER``, a small JSON file saying what wrote it, from what, and which
files (each with its size and sha256). ``--overwrite`` replaces a directory only when everything in it is
one of those files, unchanged since it was written (or it is empty). Anything else — a fine-tuned
``model_state.pdparams`` saved over ours, a ``checkpoint-500/``, ``eval_results.txt``, ``.git/`` — is
named in a one-line refusal before a byte is written. Directories of earlier versions, whose marker has
no file list (or that only have the old model card), may hold only names this tool writes.

The result is built in a hidden sibling, ``.OUT.tmp-PID-RANDOM``, and renamed into place when complete;
siblings whose owning process is gone (SIGKILL, out of memory, power loss) are removed by the next run
into the same parent, with a note on stderr.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
from contextlib import contextmanager

from .._version import __version__
from ..errors import ConversionError
from ..signals import deferred
from ..tokenizer.kind import TOKENIZER_FILES
from .digests import file_sha256

MARKER = "conversion.json"
OLD_CARD_MARK = "by paddle-roberta on "  # model cards written before the marker existed

# Every name a version of this tool has written into an output directory (convert, export --to huggingface,
# export --to inference): what a directory of an earlier version, whose marker lists no files, may hold.
KNOWN_NAMES = frozenset({
    MARKER, "README.md", "config.json", "model.safetensors", "model_state.pdparams", *TOKENIZER_FILES,
    "model.json", "model.pdmodel", "model.pdiparams", "model.pdiparams.info", "inference.json",
})
WEIGHT_NAMES = ("model.safetensors", "model_state.pdparams")  # one per directory: a second one is someone else's
# An earlier version wrote every file before its marker, then its model card: a file newer than the marker (by more
# than a file system's timestamp granularity) is the user's, and so is a model card written long after it.
LEGACY_SLACK_S = {"README.md": 60}
TIMESTAMP_SLACK_S = 1.0
SHOWN = 3  # names in a refusal


def check_output(out: str, source_path: str, overwrite: bool) -> None:
    o, s = os.path.realpath(out), os.path.realpath(source_path)
    if o == s:
        raise ConversionError(f"{out}: is the source directory; the source is never written to")
    if _within(o, s):
        raise ConversionError(f"{out}: is inside the source directory {source_path}; the source is never written to")
    if _within(s, o):
        raise ConversionError(f"{out}: contains the source directory {source_path}; replacing it would "
                              f"delete the source")
    if not os.path.lexists(out):
        return
    if not overwrite:
        # --overwrite replaces only what this tool wrote: where it would refuse too, say so now, not one retry later
        # (whether the files changed since is left to --overwrite: that check reads them all)
        if os.path.islink(out) or not os.path.isdir(out) or (os.listdir(out) and not written_by_us(out)):
            raise ConversionError(f"{out}: already exists, and paddle-roberta did not write it: pick another OUT")
        raise ConversionError(f"{out}: already exists (pass --overwrite to replace it)")
    _check_replaceable(out)


def _check_replaceable(out: str) -> None:
    if os.path.islink(out) or not os.path.isdir(out):
        raise ConversionError(f"{out}: is not a directory paddle-roberta wrote; --overwrite replaces only those")
    if not os.listdir(out):
        return
    if not written_by_us(out):
        raise ConversionError(f"{out}: is not a directory paddle-roberta wrote (no {MARKER}); --overwrite "
                              f"replaces only those")
    kept = not_ours(out)
    if kept:
        shown = ", ".join(kept[:SHOWN]) + (f" and {len(kept) - SHOWN} more" if len(kept) > SHOWN else "")
        raise ConversionError(f"{out}: not replaced: it holds what paddle-roberta did not write or what "
                              f"changed since it "
                              f"wrote it ({shown}); --overwrite replaces only its own unchanged files, and nothing was "
                              "touched (move those, or pick another OUT)")


def not_ours(out: str) -> list:
    """What in ``out`` this tool did not write, or that changed since it wrote it: names (folders with a
    trailing /, changed files with "(changed)"), sorted; empty when replacing ``out`` loses nothing."""
    record = _read_marker(out) or {}
    listed = record.get("files")
    legacy = not isinstance(listed, dict)
    stamp = _legacy_stamp(out) if legacy else None
    found = []
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        name = entry.name
        if not legacy and entry.is_dir(follow_symlinks=False) and not entry.is_symlink():
            inner = _not_listed(entry.path, name + "/", listed)  # a folder this tool wrote (auto_static/)
            found += [name + "/"] if inner is None else inner
        elif entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            found.append(name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
        elif name == MARKER:
            continue
        elif legacy:
            if name not in KNOWN_NAMES:
                found.append(name)
            elif stamp is not None and entry.stat().st_mtime > stamp + LEGACY_SLACK_S.get(name, TIMESTAMP_SLACK_S):
                found.append(f"{name} (changed)")
        elif name not in listed:
            found.append(name)
        elif not _unchanged(entry.path, listed[name]):
            found.append(f"{name} (changed)")
    if legacy and all(os.path.isfile(os.path.join(out, w)) for w in WEIGHT_NAMES):
        newer = max(WEIGHT_NAMES, key=lambda w: os.stat(os.path.join(out, w)).st_mtime)
        if newer not in found and f"{newer} (changed)" not in found:
            found.append(f"{newer} (a second weights file)")
    return found


def _not_listed(folder: str, prefix: str, listed: dict):
    """In a sub-folder of an output directory: what the marker does not list or what changed (names relative to
    the output directory), or None when no file in it is listed (the whole folder is someone else's)."""
    found, ours = [], 0
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        rel = prefix + entry.name
        if entry.is_dir(follow_symlinks=False) and not entry.is_symlink():
            inner = _not_listed(entry.path, rel + "/", listed)
            found += [rel + "/"] if inner is None else inner
            ours += inner is not None
        elif entry.is_symlink() or not entry.is_file(follow_symlinks=False) or rel not in listed:
            found.append(rel)
        else:
            ours += 1
            if not _unchanged(entry.path, listed[rel]):
                found.append(f"{rel} (changed)")
    return found if ours else None


def _read_marker(path: str):
    try:
        with open(os.path.join(path, MARKER), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("converted_by") == "paddle-roberta" else None


def _legacy_stamp(out: str):
    """When an earlier version finished writing ``out``: its marker's (or old model card's) mtime."""
    for name in (MARKER, "README.md"):
        try:
            return os.stat(os.path.join(out, name)).st_mtime
        except OSError:
            pass
    return None


def _unchanged(path: str, want) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return isinstance(want, dict) and st.st_size == want.get("size") and file_sha256(path, st) == want.get("sha256")


TEMP_RE = re.compile(r"^\.(?P<out>.+)\.(?:tmp|old)-(?P<pid>\d+)-(?P<host>[0-9a-f]{4})[0-9a-f]{8}$")


def _host_tag() -> str:
    """4 hex digits for this machine and PID namespace: a pid is only meaningful there (another container or
    NFS client sharing the folder has its own pids, and its live run must not look dead)."""
    import hashlib
    import socket

    try:
        ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        ns = ""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    return hashlib.sha256(f"{socket.gethostname()}\0{boot}\0{ns}".encode()).hexdigest()[:4]


def temp_name(out: str, kind: str) -> str:
    """A hidden sibling of ``out`` that names its owner: ``.OUT.tmp-PID-TAGRANDOM`` (or ``.old-``), TAG the
    machine and PID namespace the PID belongs to (``_host_tag``)."""
    return os.path.join(os.path.dirname(out),
                        f".{os.path.basename(out)}.{kind}-{os.getpid()}-{_host_tag()}{secrets.token_hex(4)}")


def remove_dead_siblings(parent: str) -> list:
    """Remove the temporary siblings in ``parent`` whose owning process is gone; a note on stderr for each."""
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        m = TEMP_RE.match(name)
        if not m or m["host"] != _host_tag() or _alive(int(m["pid"])):  # another machine's pid cannot be checked
            continue
        path = os.path.join(parent, name)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            removed.append(path)
            print(f"paddle-roberta: note: removed {path}, left by an earlier run (pid {m['pid']}) that ended "
                  "before it could clean up", file=sys.stderr)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process's own (another thread's conversion)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


@contextmanager
def building(out: str, overwrite: bool):
    """Yields a fresh hidden directory beside ``out`` to build the result in. On normal exit it gets
    the usual mode (umask) and is renamed into place; on any exception, a signal included, it is removed.

    The name is chosen before the directory is made, inside the cleanup: a signal between making it
    and entering the cleanup would otherwise leave it behind (``mkdtemp`` returns too late)."""
    remove_dead_siblings(os.path.dirname(out) or ".")
    tmp = temp_name(out, "tmp")
    try:
        try:
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            os.mkdir(tmp, 0o700)  # private while incomplete
        except OSError as e:
            raise ConversionError(f"creating {out}: {e.strerror}") from None
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        _move_into_place(tmp, out, overwrite)
    except OSError as e:
        _remove(tmp)
        raise ConversionError(describe_os_error(e, tmp, out)) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    with deferred():  # a signal now would cut the cleanup short: it is handled right after
        shutil.rmtree(tmp, ignore_errors=True)


def describe_os_error(e: OSError, tmp: str, out: str) -> str:
    """One line naming the operation and the path that failed, as the user knows it (OUT/..., not the
    temporary sibling, and not the source of a copy whose destination was full)."""
    def shown(path):
        path = os.fspath(path)
        return out + path[len(tmp):] if path == tmp or path.startswith(tmp + os.sep) else path

    why = e.strerror or str(e)
    for name in (e.filename2, e.filename):  # shutil.copyfile names the source first, the destination second
        if name is not None and (os.fspath(name) == tmp or os.fspath(name).startswith(tmp + os.sep)):
            return f"writing {shown(name)}: {why}"
    if e.filename is not None:
        return f"reading {e.filename}: {why}"
    return f"writing {out}: {why}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _move_into_place(tmp: str, out: str, overwrite: bool):
    if not os.path.exists(out):
        try:
            with deferred():
                os.rename(tmp, out)
            return
        except OSError:
            if not os.path.exists(out):
                raise ConversionError(f"renaming the finished output to {out}: {sys.exc_info()[1].strerror}") from None
    if not overwrite:
        raise ConversionError(f"{out}: already exists (pass --overwrite to replace it)")
    try:
        _check_replaceable(out)  # again: it may have changed while converting
    except ConversionError as e:
        raise ConversionError(f"{e} (found just before replacing it)") from None
    old = temp_name(out, "old")
    with deferred():  # no signal between the two renames: OUT is always the old or the new directory
        os.mkdir(old, 0o700)
        os.rename(out, os.path.join(old, "out"))
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)


def written_by_us(path: str) -> bool:
    if _read_marker(path) is not None:
        return True
    try:
        with open(os.path.join(path, "README.md"), encoding="utf-8") as f:
            return OLD_CARD_MARK in f.read(2000)
    except (OSError, ValueError):
        return False


def write_marker(tmp: str, source: str, paddle_class: str) -> None:
    """``MARKER``, written last: every other file in ``tmp`` (and its sub-folders, as ``folder/name``) with its
    size and sha256, which ``--overwrite`` checks before it replaces the directory."""
    files = {}
    for folder, dirs, names in os.walk(tmp):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, tmp).replace(os.sep, "/")  # auto_static/inference.json
            if rel != MARKER and not os.path.islink(path):
                st = os.stat(path)
                files[rel] = {"size": st.st_size, "sha256": file_sha256(path, st)}
    record = {"converted_by": "paddle-roberta", "version": __version__, "source": source, "paddle_class": paddle_class,
              "files": files}
    write_json(os.path.join(tmp, MARKER), record)


def write_json(path: str, value) -> None:
    """``value`` as indented UTF-8 JSON; an OSError names ``path`` (a full disk reports no file name)."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2, ensure_ascii=False)
    except OSError as e:
        if e.filename is None:
            e.filename = path
        raise


def _within(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)
