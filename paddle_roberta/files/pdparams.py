"""Read ``model_state.pdparams`` (a pickle) without ever running code from the file.

``paddle.load`` and ``pickle.load`` call whatever the pickle names: a ``__reduce__`` payload runs
on load. Hand-written (no library offers a numpy-only unpickler; torch's ``weights_only`` reader
builds torch tensors from torch's own format): this unpickler resolves only the few numpy
functions that rebuild an ndarray — what ``paddle.save`` and PaddleNLP's ``save_pretrained`` write
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``) and what a protocol-5
pickle of arrays writes (``numpy.core.numeric._frombuffer``) — and refuses every other global.
"""

from __future__ import annotations

import pickle

import numpy as np

from ..errors import ConversionError

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


PADDLE_NAME_TABLE = "StructuredToParameterName@@"


class _NumpyOnly(pickle.Unpickler):
    def __init__(self, f, path):
        super().__init__(f)
        self._path = path

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise ConversionError(f"{self._path}: the pickle asks for {module}.{name}; only numpy arrays are read "
                                  f"(nothing in it was run)")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise ConversionError(f"{self._path}: the pickle refers to external objects; only numpy arrays are read")


def read_pdparams(path: str) -> dict:
    """{name: ndarray} from a pdparams file; ConversionError for anything else."""
    try:
        with open(path, "rb") as f:
            state = _NumpyOnly(f, path).load()
    except ConversionError:
        raise
    except Exception as e:  # truncated, not a pickle, ...
        raise ConversionError(f"{path}: not a readable pdparams file ({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(state, dict):
        raise ConversionError(f"{path}: holds a {type(state).__name__}, not a dict of tensors")
    names = state.pop(PADDLE_NAME_TABLE, None)  # paddle.save's structured -> parameter name table: strings only
    if names is not None and not (isinstance(names, dict) and all(isinstance(v, str) for v in names.values())):
        raise ConversionError(f"{path}: entry {PADDLE_NAME_TABLE!r} is not a table of names")
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise ConversionError(f"{path}: entry {name!r} is a {type(value).__name__}, not a named array")
    return state
