"""Positioned reads of a byte range into a fresh numpy buffer: how every weight reader here takes tensor data.

A memory map would be shorter, but its pages stay in the process's RSS once touched (a 1.3 GB file grows RSS by
1.3 GB); a buffer freed after its tensor is written keeps memory at the size of the largest tensor.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError


def read_range(path: str, start: int, length: int, what: str) -> np.ndarray:
    """``length`` bytes of ``path`` from ``start``, as uint8; ConversionError naming ``what`` if the file ends first."""
    buf = np.empty(length, dtype=np.uint8)
    view, done = memoryview(buf), 0
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        while done < length:  # one read() returns at most ~2 GiB on Linux
            got = f.readinto(view[done:])
            if not got:
                raise ConversionError(f"{path}: {what} runs past the end of the file")
            done += got
    return buf
