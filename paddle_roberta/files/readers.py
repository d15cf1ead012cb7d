"""Readers for weight files of either side: names, shapes and dtypes first, data on demand.

``safetensors`` files (transformers' and PaddleNLP's) are validated with the library's ``safe_open`` and read
lazily; PyTorch ``.bin`` zip files through ``torch_zip`` (an unpickler that resolves only tensor records) and
legacy ones through ``torch.load(weights_only=True)``; either refuses any pickle that would build objects other
than tensors and plain containers, so no code from the file runs; PaddleNLP's
``.pdparams`` only through ``pdparams.read_pdparams`` (numpy arrays only). A sharded checkpoint is the files its
``*.index.json`` names (``read_shard_index``), read as one ``Checkpoint``.
"""

from __future__ import annotations

import json
import os
import warnings
from contextlib import ExitStack

import ml_dtypes  # bfloat16 for numpy (PaddleNLP reads BF16 safetensors through it as well)
import numpy as np

from ..errors import ConversionError
from .positioned import read_range
from .tensor_file import TensorFile
from .torch_zip import TorchZipFile, is_torch_zip

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float16": np.dtype(np.float16), "bfloat16": BFLOAT16}


class SafetensorsFile(TensorFile):
    """The safetensors library validates the file (header length, JSON, offsets that neither
    overlap nor run past the end); the data is then read with plain positioned reads (``positioned.py``:
    the library's numpy loader memory-maps the file and has no bfloat16).
    """

    def __init__(self, path: str):
        super().__init__(path)
        from safetensors import safe_open

        try:
            with safe_open(path, framework="np") as f:
                names = list(f.keys())
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(n))
        except Exception as e:  # the library raises its own SafetensorError / OSError kinds
            raise ConversionError(f"{path}: not a valid safetensors file ({_one_line(e)})") from None
        self._data_start = 8 + n
        self._info = {name: header[name] for name in names}

    def names(self):
        return list(self._info)

    def shape(self, name):
        return tuple(self._info[name]["shape"])

    def dtype(self, name):
        dtype = _SAFETENSORS_DTYPES.get(self._info[name]["dtype"])
        if dtype is None:
            raise ConversionError(f"{self.path}: tensor {name} has dtype {self._info[name]['dtype']}, expected a "
                                  f"float tensor")
        return dtype

    def read(self, name, rows=None):
        info = self._info[name]
        dtype = self.dtype(name)
        shape = self.shape(name)
        begin, end = info["data_offsets"]
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ConversionError(f"{self.path}: tensor {name} data does not match its shape {shape}")
        if rows is not None:  # rows [start, stop) of the first axis: a contiguous byte range
            row_bytes = (end - begin) // shape[0]
            begin, end = begin + rows[0] * row_bytes, begin + rows[1] * row_bytes
            shape = (rows[1] - rows[0],) + shape[1:]
        buf = read_range(self.path, self._data_start + begin, end - begin, f"tensor {name}")
        return buf.view(dtype).reshape(shape)


_SAFETENSORS_DTYPES = {"F32": np.dtype(np.float32), "F16": np.dtype(np.float16), "BF16": BFLOAT16,
                       "F64": np.dtype(np.float64), "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
                       "I16": np.dtype(np.int16), "I8": np.dtype(np.int8), "U8": np.dtype(np.uint8),
                       "BOOL": np.dtype(np.bool_)}


class TorchBinFile(TensorFile):
    """The legacy (pre-1.6) ``torch.save`` format, a bare pickle: only torch reads it. Zip checkpoints, what every
    torch since 1.6 writes, go through ``torch_zip.TorchZipFile`` without importing torch."""

    def __init__(self, path: str):
        super().__init__(path)
        try:
            import torch
        except ImportError:
            raise ConversionError(f"{path}: reading pytorch_model.bin needs torch; install it or convert from "
                                  f"safetensors") from None
        try:
            with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ConversionError(f"{path}: refused by torch's weights_only loader ({_unpickler_reason(e)})") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ConversionError(f"{path}: not a state dict of tensors")
        self._state = state

    def names(self):
        return list(self._state)

    def shape(self, name):
        return tuple(self._state[name].shape)

    def dtype(self, name):
        import torch

        t = self._state[name]
        return BFLOAT16 if t.dtype == torch.bfloat16 else torch.empty((), dtype=t.dtype).numpy().dtype

    def read(self, name, rows=None):
        import torch

        t = self._state[name]
        if rows is not None:
            t = t[rows[0] : rows[1]]
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
            return t.contiguous().view(torch.int16).numpy().view(BFLOAT16)
        return t.contiguous().numpy()

    def close(self):
        self._state = None


class PdparamsFile(TensorFile):
    """PaddleNLP's ``model_state.pdparams`` (or one shard of it): a pickle, so read whole, through the numpy-only
    unpickler. Memory holds the file's tensors while it is open (safetensors is the format that streams)."""

    def __init__(self, path: str):
        super().__init__(path)
        from .pdparams import read_pdparams

        self._state = read_pdparams(path)

    def names(self):
        return list(self._state)

    def shape(self, name):
        return tuple(self._state[name].shape)

    def dtype(self, name):
        return self._state[name].dtype

    def read(self, name, rows=None):
        value = self._state[name]
        return value if rows is None else value[rows[0] : rows[1]]

    def close(self):
        self._state = None


def open_tensor_file(path: str) -> TensorFile:
    if path.endswith(".safetensors"):
        return SafetensorsFile(path)
    if path.endswith(".pdparams"):
        return PdparamsFile(path)
    if is_torch_zip(path):
        return TorchZipFile(path)
    return TorchBinFile(path)


class Checkpoint:
    """All weight files of one checkpoint, addressed by tensor name."""

    def __init__(self, paths: list[str]):
        self._stack = ExitStack()
        self._where: dict[str, TensorFile] = {}
        for path in paths:
            f = open_tensor_file(path)
            self._stack.callback(f.close)
            for name in f.names():
                if name in self._where:
                    raise ConversionError(f"{path}: tensor {name} is also in {self._where[name].path}")
                self._where[name] = f

    def names(self):
        return list(self._where)

    def __contains__(self, name):
        return name in self._where

    def shape(self, name):
        return self._where[name].shape(name)

    def file(self, name):
        return self._where[name].path

    def dtype(self, name) -> np.dtype:
        return self._where[name].dtype(name)

    def read(self, name, rows=None) -> np.ndarray:
        """The tensor, or with ``rows=(start, stop)`` only those rows of its first axis (read from disk alone)."""
        arr = self._where[name].read(name, rows)
        if arr.dtype not in FLOAT_DTYPES.values():
            raise ConversionError(f"{self.file(name)}: tensor {name} has dtype {arr.dtype}, expected a float tensor")
        want = self.shape(name) if rows is None else (rows[1] - rows[0],) + self.shape(name)[1:]
        if tuple(arr.shape) != want:
            raise ConversionError(f"{self.file(name)}: tensor {name} data does not match its shape {self.shape(name)}")
        return arr

    def close(self):
        self._stack.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_shard_index(path: str) -> list[str]:
    """The shard files a ``*.index.json`` names, in order, as paths beside the index."""
    try:
        with open(path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        shards = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConversionError(f"{path}: not a shard index with a weight_map ({_one_line(e)})") from None
    folder = os.path.dirname(path)
    paths = []
    for shard in shards:
        full = os.path.join(folder, shard)
        if os.path.basename(shard) != shard or not os.path.isfile(full):
            raise ConversionError(f"{path}: names shard {shard!r}, which is not a file in {folder}")
        paths.append(full)
    return paths


def _unpickler_reason(e: BaseException) -> str:
    # torch's message opens with advice to retry with weights_only=False, which would run the
    # pickle's code: keep only the line that says what was refused.
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        reason = [line for line in lines[1:] if not line.startswith("Check the documentation")]
        if reason:
            return reason[0].replace("WeightsUnpickler error: ", "")[:300]
    return _one_line(e)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
