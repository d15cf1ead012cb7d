"""Output writers: streaming safetensors (PaddleNLP's native layout) and model_state.pdparams."""

from __future__ import annotations

import json
import pickle

import numpy as np

from .tensors import BFLOAT16

SAFETENSORS_DTYPE = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", BFLOAT16: "BF16"}


class SafetensorsWriter:
    """Writes a safetensors file one tensor at a time, so memory never holds more than one.

    Written by hand because the safetensors library only saves a complete in-memory dict.
    The layout is the format's own: little-endian u64 header length, JSON header (padded with
    spaces to 8 bytes), then each tensor's bytes at its ``data_offsets``, in header order.
    ``metadata={"format": "np"}`` is what PaddleNLP's loader expects of its own files.
    """

    def __init__(self, path: str, specs: list, metadata: dict):
        """``specs``: ``(name, numpy dtype, shape)`` in the order the tensors will be written."""
        header = {"__metadata__": metadata}
        offset = 0
        self._pending = []
        for name, dtype, shape in specs:
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            header[name] = {"dtype": SAFETENSORS_DTYPE[np.dtype(dtype)], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            self._pending.append((name, np.dtype(dtype), tuple(shape)))
            offset += nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-(8 + len(raw)) % 8)
        self._file = open(path, "wb")
        self._file.write(len(raw).to_bytes(8, "little") + raw)
        self._next = 0

    def write(self, name: str, array: np.ndarray):
        want = self._pending[self._next]
        if (name, array.dtype, array.shape) != want:  # a planning bug, never bad input
            raise AssertionError(f"writer expected {want}, got {(name, array.dtype, array.shape)}")
        # the array's own buffer, as bytes (a uint8 view also covers ml_dtypes' bfloat16): no copy
        self._file.write(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
        self._next += 1

    def abort(self):
        self._file.close()

    def close(self):
        self._file.close()
        if self._next != len(self._pending):
            raise AssertionError(f"{len(self._pending) - self._next} tensors planned but not written")


class PdparamsWriter:
    """``model_state.pdparams``: a pickle of {name: ndarray}, which ``paddle.load`` reads.

    A pickle cannot be streamed into a dict, so this holds every converted tensor in memory
    at once (about the size of the output); safetensors output does not.
    """

    def __init__(self, path: str, specs: list, metadata: dict):
        self._path = path
        self._state = {}

    def write(self, name: str, array: np.ndarray):
        self._state[name] = np.ascontiguousarray(array)

    def abort(self):
        self._state = None

    def close(self):
        with open(self._path, "wb") as f:
            pickle.dump(self._state, f, protocol=5)  # 5 writes array buffers in place: no second copy
        self._state = None


WRITERS = {
    "safetensors": ("model.safetensors", SafetensorsWriter),
    "pdparams": ("model_state.pdparams", PdparamsWriter),
}
