"""Column-wise reads of fixed-size windows from a byte buffer (the core of the fast path)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def windows(arr: Any, offs: Any, width: int) -> Any:
    """uint8[n, width]: ``width`` bytes at each offset (offsets clipped into the buffer).

    Callers check lengths themselves; clipping only guarantees no read outside ``arr``.
    """
    import numpy as np

    if len(offs) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    safe = np.clip(offs, 0, max(len(arr) - width, 0))
    if len(arr) < width or not arr.flags.c_contiguous:
        return np.lib.stride_tricks.sliding_window_view(arr, width)[safe]
    # each window is one opaque item of a byte-strided view: a 1-D take copies it whole,
    # several times faster than row-indexing a 2-D sliding_window_view
    items = np.ndarray((len(arr) - width + 1,), dtype=np.dtype((np.void, width)), buffer=arr, strides=(1,))
    return items[safe].view(np.uint8).reshape(len(safe), width)


def take_rows(mat: Any, rows: Any) -> Any:
    """``mat[rows]`` for a uint8 matrix (rows: indices or a boolean mask), each row taken as one item."""
    import numpy as np

    mat = np.ascontiguousarray(mat)
    width = mat.shape[1]
    if width == 0:
        return mat[rows]
    taken = mat.view(np.dtype((np.void, width)))[:, 0][rows]
    return taken.view(np.uint8).reshape(len(taken), width)


def equals_any(values: Any, options: tuple[int, ...]) -> Any:
    """np.isin(values, options) for a handful of options: plain comparisons are much cheaper."""
    import numpy as np

    out = np.zeros(len(values), dtype=bool)
    for option in options:
        out |= values == option
    return out


@lru_cache(maxsize=None)
def _field_dtype(k: int, fmt: str, width: int) -> Any:
    import numpy as np

    return np.dtype({"names": ["f"], "formats": [fmt], "offsets": [k], "itemsize": width})


def field(win: Any, k: int, fmt: str) -> Any:
    """View (no copy) of the ``fmt`` value (e.g. ``">u2"``) at column ``k`` of each window row."""
    import numpy as np

    win = np.ascontiguousarray(win)
    return win.view(_field_dtype(k, fmt, win.shape[1]))[:, 0]["f"]


def be16(win: Any, k: int) -> Any:
    """Big-endian uint16 at column ``k`` of a window matrix, as int64."""
    import numpy as np

    return field(win, k, ">u2").astype(np.int64)

