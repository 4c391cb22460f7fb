"""Column-wise reads of fixed-size windows from a byte buffer (the core of the fast path)."""

from __future__ import annotations

from typing import Any


def windows(arr: Any, offs: Any, width: int) -> Any:
    """uint8[n, width]: ``width`` bytes at each offset (offsets clipped into the buffer).

    Callers check lengths themselves; clipping only guarantees no read outside ``arr``.
    """
    import numpy as np

    safe = np.clip(offs, 0, max(len(arr) - width, 0))
    # row-indexing a strided view copies each window in one go: far faster than an index matrix
    return np.lib.stride_tricks.sliding_window_view(arr, width)[safe]


def be16(win: Any, k: int) -> Any:
    """Big-endian uint16 at column ``k`` of a window matrix, as int64."""
    import numpy as np

    return (win[:, k].astype(np.int64) << 8) | win[:, k + 1]


def be32(win: Any, k: int) -> Any:
    """Big-endian uint32 at column ``k`` of a window matrix, as int64."""
    import numpy as np

    return np.ascontiguousarray(win[:, k: k + 4]).view(">u4").reshape(-1).astype(np.int64)


def be64(win: Any, k: int) -> Any:
    """Big-endian uint64 at column ``k`` of a window matrix, as uint64."""
    import numpy as np

    return np.ascontiguousarray(win[:, k: k + 8]).view(">u8").reshape(-1).astype(np.uint64)
