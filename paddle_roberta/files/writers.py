"""Output writers: streaming safetensors (PaddleNLP's native layout) and model_state.pdparams."""

from __future__ import annotations

import hashlib
import json
import pickle
import queue
import threading
from contextlib import contextmanager

import numpy as np

from .digests import remember
from .readers import BFLOAT16

SAFETENSORS_DTYPE = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", BFLOAT16: "BF16"}


@contextmanager
def naming(path: str):
    """An OSError from writing an open file (a full disk: ENOSPC, EFBIG) carries no file name: give it ``path``,
    so that the error says which file could not be written."""
    try:
        yield
    except OSError as e:
        if e.filename is None:
            e.filename = path
        raise


class SafetensorsWriter:
    """Writes a safetensors file one tensor at a time, so memory never holds more than one.

    Written by hand because the safetensors library only saves a complete in-memory dict.
    The layout is the format's own: little-endian u64 header length, JSON header (padded with
    spaces to 8 bytes), then each tensor's bytes at its ``data_offsets``, in header order.
    ``metadata={"format": "np"}`` is what PaddleNLP's loader expects of its own files.
    """

    def __init__(self, path: str, specs: list, metadata: dict):
        """``specs``: ``(name, numpy dtype, shape)`` in the order the tensors will be written."""
        # None: no metadata (sentence-transformers' files)
        header = {} if metadata is None else {"__metadata__": metadata}
        offset = 0
        self._pending = []
        for name, dtype, shape in specs:
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            header[name] = {"dtype": SAFETENSORS_DTYPE[np.dtype(dtype)], "shape": list(shape),
                            "data_offsets": [offset, offset + nbytes]}
            self._pending.append((name, np.dtype(dtype), tuple(shape)))
            offset += nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-(8 + len(raw)) % 8)
        self._path = path
        # sha256 for conversion.json, fed as the bytes go out: re-reading the file afterwards would add the reads.
        # Hashing and writing run in a thread of their own (both release the GIL) while this one reads and
        # transposes the next tensor: 1.3 GB safetensors, --no-verify, 3.0 s -> 2.5 s here (2026-12-07). With
        # blocks of 8 MiB or more the two threads trade the GIL a few hundred times per conversion.
        self._sha = hashlib.sha256()
        self._file = open(path, "wb")
        self._queue, self._error = queue.Queue(maxsize=2), None
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        self._out(len(raw).to_bytes(8, "little") + raw)
        self._next = 0
        self._rows = 0  # rows of the current tensor written so far

    def write(self, name: str, array: np.ndarray):
        """The whole tensor, or its next rows (blocks of the first axis, in order, that add up to it)."""
        want_name, want_dtype, want_shape = self._pending[self._next]
        rows = array.shape[0] if array.ndim else 1
        if (name, array.dtype, array.shape[1:]) != (want_name, want_dtype, want_shape[1:]) or \
                self._rows + rows > (want_shape[0] if want_shape else 1) or array.ndim != len(want_shape):
            # a planning bug
            raise AssertionError(f"writer expected {self._pending[self._next]}, got {(name, array.dtype, array.shape)}")
        # the array's own buffer, as bytes (a uint8 view also covers ml_dtypes' bfloat16): no copy
        self._out(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
        self._rows += rows
        if self._rows == (want_shape[0] if want_shape else 1):
            self._next, self._rows = self._next + 1, 0

    def _out(self, data):
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def _drain(self):
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    with naming(self._path):
                        self._file.write(data)
                    self._sha.update(data)
                except BaseException as e:
                    self._error = e

    def _finish(self):
        self._queue.put(None)
        self._thread.join()

    def abort(self):
        self._finish()
        try:
            self._file.close()
        except OSError:
            pass  # the error being handled is the one to report

    def close(self):
        self._finish()
        if self._error is not None:
            raise self._error
        with naming(self._path):
            self._file.close()
        if self._next != len(self._pending):
            raise AssertionError(f"{len(self._pending) - self._next} tensors planned but not written")
        remember(self._path, self._sha.hexdigest())


class PdparamsWriter:
    """``model_state.pdparams``: a pickle of {name: ndarray}, which ``paddle.load`` reads.

    A pickle cannot be streamed into a dict, so this holds every converted tensor in memory
    at once (about the size of the output); safetensors output does not.
    """

    def __init__(self, path: str, specs: list, metadata: dict):
        self._path = path
        self._state = {}
        self._rows = {name: shape[0] if shape else 1 for name, _, shape in specs}
        self._blocks = []

    def write(self, name: str, array: np.ndarray):
        """The whole tensor, or its next rows, as ``SafetensorsWriter.write``."""
        self._blocks.append(np.ascontiguousarray(array))
        if sum(len(b) if b.ndim else 1 for b in self._blocks) == self._rows[name]:
            blocks, self._blocks = self._blocks, []
            self._state[name] = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def abort(self):
        self._state = None

    def close(self):
        with naming(self._path), open(self._path, "wb") as f:
            hashed = _Hashing(f)
            pickle.dump(self._state, hashed, protocol=5)  # 5 writes array buffers in place: no second copy
        self._state = None
        remember(self._path, hashed.sha.hexdigest())


class _Hashing:
    """A file for pickle that also feeds every byte written to sha256 (for conversion.json)."""

    def __init__(self, f):
        self._f, self.sha = f, hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        return self._f.write(data)


WRITERS = {
    "safetensors": ("model.safetensors", SafetensorsWriter),
    "pdparams": ("model_state.pdparams", PdparamsWriter),
}
