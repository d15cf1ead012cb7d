"""Lazy readers for Hugging Face weight files: names, shapes and dtypes first, data on demand.

``safetensors`` files are opened with the library's ``safe_open`` (memory-mapped); PyTorch
``.bin`` files only through ``torch.load(weights_only=True)``, which refuses any pickle that
would build objects other than tensors and plain containers, so no code from the file runs.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from contextlib import ExitStack

import ml_dtypes  # bfloat16 for numpy (PaddleNLP reads BF16 safetensors through it as well)
import numpy as np

from .errors import ConversionError

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float16": np.dtype(np.float16), "bfloat16": BFLOAT16}


class TensorFile:
    """One weight file: ``names()``, ``shape(name)``, ``dtype(name)``, ``read(name)`` -> numpy."""

    def __init__(self, path: str):
        self.path = path

    def close(self):
        pass


class SafetensorsFile(TensorFile):
    def __init__(self, path: str):
        super().__init__(path)
        from safetensors import safe_open

        try:
            self._file = safe_open(path, framework="np")
            self._names = list(self._file.keys())
            self._slices = {n: self._file.get_slice(n) for n in self._names}
        except Exception as e:  # the library raises its own SafetensorError / OSError kinds
            raise ConversionError(f"{path}: not a valid safetensors file ({_one_line(e)})") from None

    def names(self):
        return self._names

    def shape(self, name):
        return tuple(self._slices[name].get_shape())

    def dtype(self, name):
        return _SAFETENSORS_DTYPES.get(self._slices[name].get_dtype(), self._slices[name].get_dtype())

    def read(self, name):
        try:
            if self._slices[name].get_dtype() == "BF16":
                return self._read_bfloat16(name)
            return self._file.get_tensor(name)
        except ConversionError:
            raise
        except Exception as e:
            raise ConversionError(f"{self.path}: tensor {name} cannot be read ({_one_line(e)})") from None

    def _read_bfloat16(self, name):
        # safetensors' numpy loader has no bfloat16; the library has validated the header, so
        # map the tensor's bytes ourselves (8-byte length, JSON header, data) and view them.
        with open(self.path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            begin, end = json.loads(f.read(n))[name]["data_offsets"]
        data = np.memmap(self.path, dtype=np.uint8, mode="r", offset=8 + n + begin, shape=(end - begin,))
        return data.view(BFLOAT16).reshape(self.shape(name))


_SAFETENSORS_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


class TorchBinFile(TensorFile):
    def __init__(self, path: str):
        super().__init__(path)
        try:
            import torch
        except ImportError:
            raise ConversionError(f"{path}: reading pytorch_model.bin needs torch; install it or convert from safetensors") from None
        # mmap keeps memory flat for zip checkpoints; the legacy (pre-1.6) format cannot be mapped.
        mmap = zipfile.is_zipfile(path)
        try:
            with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
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
        return str(self._state[name].dtype).replace("torch.", "")

    def read(self, name):
        import torch

        t = self._state[name]
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
            return t.contiguous().view(torch.int16).numpy().view(BFLOAT16)
        return t.contiguous().numpy()

    def close(self):
        self._state = None


class Checkpoint:
    """All weight files of one checkpoint, addressed by tensor name."""

    def __init__(self, paths: list[str]):
        self._stack = ExitStack()
        self._where: dict[str, TensorFile] = {}
        for path in paths:
            f = SafetensorsFile(path) if path.endswith(".safetensors") else TorchBinFile(path)
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

    def dtype(self, name):
        return self._where[name].dtype(name)

    def file(self, name):
        return self._where[name].path

    def read(self, name) -> np.ndarray:
        arr = self._where[name].read(name)
        if arr.dtype not in FLOAT_DTYPES.values():
            raise ConversionError(f"{self.file(name)}: tensor {name} has dtype {arr.dtype}, expected a float tensor")
        if tuple(arr.shape) != self.shape(name):
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
