"""What a record walker hands to the vectorised extraction: one batch of packet records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_RECORD_BYTES = 256 * 1024
"""Largest captured length accepted for one packet (libpcap's maximum snap length)."""
MAX_BLOCK_BYTES = 16 << 20
"""Largest pcapng block accepted; a longer length field is treated as corruption."""
MAX_DEGENERATE_RUN = 100_000
"""Consecutive empty records (or non-packet blocks) tolerated before the file is judged hostile."""


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Packet records of one buffer, as parallel numpy columns (offsets into that buffer)."""

    data_off: Any
    """int64[n]: offset of the frame's first captured byte in the buffer."""
    caplen: Any
    """int64[n]: captured bytes of the frame."""
    wire_len: Any
    """int64[n]: original length of the frame on the wire."""
    ts: Any
    """float64[n]: timestamp in seconds since the epoch."""
    linktype: Any
    """int64[n]: link-layer type of the frame's interface."""
    usable: Any
    """bool[n]: False for records that were found but cannot be analysed (counted as skipped)."""


@dataclass(frozen=True, slots=True)
class WalkResult:
    """Outcome of walking the records held in one buffer."""

    batch: RecordBatch | None
    """The complete packet records found (None when there were none)."""
    consumed: int
    """Offset in the buffer just after the last complete record or block walked."""
    need: int
    """When > 0: the next record is this many bytes long from ``consumed`` and did not fit."""
    stop: str | None
    """Set when the rest of the stream cannot be parsed: a one-line reason, reading ends."""
    warnings: tuple[str, ...] = ()
    """Non-fatal problems met in this buffer."""


def degenerate_run_end(is_empty: Any, carried_run: int) -> tuple[int, int]:
    """Find where a run of empty records grows past :data:`MAX_DEGENERATE_RUN`.

    ``carried_run`` is the empty run the previous batch ended with. Returns (index at which to cut
    this batch, or -1; length of the empty run this batch ends with).
    """
    import numpy as np

    n = len(is_empty)
    if n and carried_run <= MAX_DEGENERATE_RUN and not is_empty.any():  # the usual case, no run at all
        return -1, 0
    bounds = np.concatenate(([-1 - carried_run], np.flatnonzero(~is_empty), [n])).astype(np.int64)
    too_long = np.flatnonzero(np.diff(bounds) - 1 > MAX_DEGENERATE_RUN)
    if too_long.size:
        return max(int(bounds[too_long[0]]) + MAX_DEGENERATE_RUN + 1, 0), 0
    return -1, int(n - 1 - bounds[-2])
