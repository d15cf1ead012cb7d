"""Read a PyTorch zip checkpoint (``pytorch_model.bin`` as ``torch.save`` writes it since 1.6) without torch.

Hand-written, because no library reads this format but torch itself (safetensors' own converter loads it with
torch), and importing torch costs a converting process 1.7 s and ~250 MiB before the first byte is read.
The format: a zip whose ``<archive>/data.pkl`` is a pickle of the state dict, in which each tensor is a call to
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`` and each storage a persistent id
``("storage", torch.FloatStorage, key, location, numel)`` whose bytes are the zip entry ``<archive>/data/<key>``
(stored, not compressed).

The unpickler resolves only those names, to functions of this module that record where the data is; every
other global is refused, so nothing in the file runs (the same rule as torch's ``weights_only`` loader and
``pdparams.read_pdparams``). Tensor bytes are then read with positioned reads, tensor by tensor, like
safetensors files: memory stays near the largest tensor, where ``torch.load(mmap=True)`` keeps every touched
page of the file in the process's RSS.
"""

from __future__ import annotations

import codecs
import collections
import pickle
import struct
import zipfile
from dataclasses import dataclass

import ml_dtypes  # bfloat16 for numpy, as readers.py
import numpy as np

from ..errors import ConversionError
from .positioned import read_range
from .tensor_file import TensorFile

# torch's storage classes as the pickle names them -> numpy dtypes (bfloat16 via ml_dtypes, as for safetensors)
STORAGES = {
    "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16", "DoubleStorage": "float64",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool",
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class Storage:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """Where a tensor's elements are: ``storage`` from element ``offset`` on, with ``shape`` and ``stride``."""

    storage: Storage
    offset: int
    shape: tuple
    stride: tuple

    @property
    def contiguous(self) -> bool:
        expected, step = [], 1
        for dim in reversed(self.shape):
            expected.append(step)
            step *= dim
        return all(n == 1 or s == e for n, s, e in zip(self.shape, self.stride, reversed(expected)))


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    # _rebuild_tensor_v2 adds requires_grad, backward hooks and metadata: none of them is data
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    return TensorRef(storage, int(offset), tuple(int(n) for n in size), tuple(int(n) for n in stride))


def _rebuild_parameter(data, *_rest):
    return data


def _rebuild_from_type(func, _new_type, args, _state):
    return func(*args)


def _latin1(text, encoding="latin1"):
    # protocol-2 pickles spell bytes as _codecs.encode(text, "latin1"); nothing else is encoded
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError("_codecs.encode other than latin1")
    return codecs.encode(text, "latin1")


_TENSOR_TYPE = object()  # stands for torch.Tensor / torch.nn.Parameter, only ever passed to _rebuild_from_type
ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Tensor"): _TENSOR_TYPE,
    ("torch.nn.parameter", "Parameter"): _TENSOR_TYPE,
    ("_codecs", "encode"): _latin1,
    **{("torch", name): _StorageType(np.dtype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype))
       for name, dtype in STORAGES.items()},
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, path):
        super().__init__(f)
        self._path = path

    def find_class(self, module, name):
        found = ALLOWED.get((module, name))
        if found is None:
            raise ConversionError(f"{self._path}: the pickle asks for {module}.{name}; only tensors are read "
                                  f"(nothing in it was run)")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise ConversionError(f"{self._path}: the pickle refers to an object other than a tensor's storage")
        return Storage(str(pid[2]), pid[1].dtype, int(pid[4]))


def is_torch_zip(path: str) -> bool:
    """A zip with a ``data.pkl`` one folder down: what torch.save writes (the legacy format is a bare pickle)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(name.count("/") == 1 and name.endswith("/data.pkl") for name in z.namelist())


class TorchZipFile(TensorFile):
    """``names()``, ``shape(name)``, ``dtype(name)``, ``read(name, rows=None)`` over a torch zip checkpoint."""

    def __init__(self, path: str):
        super().__init__(path)
        try:
            with zipfile.ZipFile(path) as z:
                pickles = [n for n in z.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
                archive = pickles[0][: -len("data.pkl")]
                big_endian = archive + "byteorder" in z.namelist() and z.read(archive + "byteorder") == b"big"
                with z.open(pickles[0]) as f:
                    state = _Unpickler(f, path).load()
                self._entries = {info.filename[len(archive) + len("data/"):]: info for info in z.infolist()
                                 if info.filename.startswith(archive + "data/")}
        except ConversionError:
            raise
        except Exception as e:  # a truncated zip, a pickle that is not a state dict's, ...
            raise ConversionError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
                                  f"{str(e)[:120]})") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, TensorRef) for v in state.values()):
            raise ConversionError(f"{path}: not a state dict of tensors")
        self._big_endian = big_endian
        self._state = {str(k): v for k, v in state.items()}
        self._starts: dict = {}

    def names(self):
        return list(self._state)

    def shape(self, name):
        return self._state[name].shape

    def dtype(self, name):
        return self._state[name].storage.dtype

    def read(self, name, rows=None) -> np.ndarray:
        ref = self._state[name]
        dtype = self.dtype(name)
        item = dtype.itemsize
        if ref.contiguous:
            first, count = ref.offset, int(np.prod(ref.shape, dtype=np.int64))
            shape = ref.shape
            if rows is not None:  # rows [start, stop) of the first axis: a contiguous byte range
                per_row = count // ref.shape[0] if ref.shape[0] else 0
                first, count = first + rows[0] * per_row, (rows[1] - rows[0]) * per_row
                shape = (rows[1] - rows[0],) + ref.shape[1:]
            data = self._elements(name, ref.storage, first, count).view(dtype).reshape(shape)
        else:  # a view into a larger storage (a transposed or sliced tensor saved as is): read it all, then copy
            whole = self._elements(name, ref.storage, 0, ref.storage.numel).view(dtype)
            data = np.lib.stride_tricks.as_strided(whole[ref.offset:], ref.shape, [s * item for s in ref.stride])
            data = np.array(data if rows is None else data[rows[0] : rows[1]])
        if self._big_endian:
            data = data.view(dtype.newbyteorder(">")).astype(dtype)
        return data

    def _elements(self, name, storage: Storage, first: int, count: int) -> np.ndarray:
        if first < 0 or count < 0 or first + count > storage.numel:
            raise ConversionError(f"{self.path}: tensor {name} runs past its storage")
        item = storage.dtype.itemsize
        return read_range(self.path, self._data_start(name, storage) + first * item, count * item, f"tensor {name}")

    def _data_start(self, name, storage: Storage) -> int:
        """Where storage ``key``'s bytes begin in the file: after the entry's local header (read here, because its
        extra field can differ in length from the central directory's)."""
        key = storage.key
        if key not in self._starts:
            info = self._entries.get(key)
            if info is None:
                raise ConversionError(f"{self.path}: tensor {name}'s storage data/{key} is not in the archive")
            if info.compress_type != zipfile.ZIP_STORED:
                raise ConversionError(f"{self.path}: storage data/{key} is compressed; torch.save never does that")
            if info.file_size < storage.numel * storage.dtype.itemsize:
                raise ConversionError(f"{self.path}: storage data/{key} is shorter than tensor {name} needs")
            with open(self.path, "rb") as f:
                f.seek(info.header_offset)
                header = f.read(30)
            if header[:4] != b"PK\x03\x04":
                raise ConversionError(f"{self.path}: storage data/{key} has no local header")
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            self._starts[key] = info.header_offset + 30 + name_len + extra_len
        return self._starts[key]

    def close(self):
        self._state = {}
