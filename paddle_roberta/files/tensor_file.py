"""What every weights reader offers (``readers.py``, ``torch_zip.py``): names, shapes and dtypes first, data on
demand, a block of rows at a time where the caller asks."""

from __future__ import annotations

import abc

import numpy as np


class TensorFile(abc.ABC):
    """One weight file: ``names()``, ``shape(name)``, ``dtype(name)``, ``read(name, rows=None)`` -> numpy."""

    def __init__(self, path: str):
        self.path = path

    @abc.abstractmethod
    def names(self) -> list: ...

    @abc.abstractmethod
    def shape(self, name) -> tuple: ...

    @abc.abstractmethod
    def dtype(self, name) -> np.dtype: ...

    @abc.abstractmethod
    def read(self, name, rows=None) -> np.ndarray: ...

    def close(self):
        pass
