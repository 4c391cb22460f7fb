"""The per-record Python loops of the record walkers, over native uint32 views of the buffer.

Indexing a ``memoryview.cast("I")`` is much cheaper per record than ``struct.unpack_from``; one
view per byte alignment covers any position. Only usable when the file's byte order is native.
"""

from __future__ import annotations

import sys
from array import array
from typing import Any

from confaudit.pcap.records import MAX_BLOCK_BYTES

NATIVE = "<" if sys.byteorder == "little" else ">"
EPB = 6
"""pcapng Enhanced Packet Block type."""
SHORT_RUN = 16
"""Below this many blocks a run is checked and returned as Python ints: numpy's fixed cost would dominate."""


class NativeWords:
    """Context manager: the buffer as native uint32 words at byte alignments 0-3 (``words[k][i]`` is at 4i+k)."""

    def __init__(self, buf: bytearray) -> None:
        self._buf = buf
        self._views: list[memoryview] = []

    def __enter__(self) -> list[memoryview]:
        with memoryview(self._buf) as whole:
            n = len(whole)
            self._views = [whole[k: k + (n - k) // 4 * 4].cast("I") for k in range(4)]
        return self._views

    def __exit__(self, *exc: Any) -> None:
        for view in self._views:
            view.release()


class Positions:
    """Block positions met by a walk, in order: single ones (Python ints) and whole runs (int64 arrays)."""

    def __init__(self) -> None:
        self._parts: list[Any] = []
        self._singles: list[int] = []
        self._done = 0
        self.append = self._singles.append  # the list's own method: the cheapest call per block

    def __len__(self) -> int:
        return self._done + len(self._singles)

    def extend(self, run: Any) -> None:
        if isinstance(run, list):
            self._singles.extend(run)
        else:
            self._flush()
            self._parts.append(run)
            self._done += len(run)

    def array(self) -> Any:
        """All positions as one int64 array."""
        import numpy as np

        self._flush()
        if len(self._parts) == 1:
            return self._parts[0]
        return np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.int64)

    def _flush(self) -> None:
        if self._singles:
            self._parts.append(int64_array(self._singles))
            self._done += len(self._singles)
            self._singles.clear()  # in place: ``append`` stays bound to this list


def int64_array(values: list[int]) -> Any:
    """np.asarray(values, dtype=np.int64), faster for long lists of Python ints."""
    import numpy as np

    return np.frombuffer(array("q", values), dtype=np.int64)


def pcap_record_offsets(buf: bytearray, start: int, end: int, hdr: int) -> tuple[Any, int]:
    """(int64 offsets of the pcap records from ``start`` that fit before ``end``, where the walk stopped).

    The caplen limit is not checked here (one comparison less per record): the caller checks it
    column-wise and cuts at the first record over it.
    """
    fields: list[int] = []
    append = fields.append
    with NativeWords(buf) as words:
        q = start + 8  # the loop tracks the caplen field (record + 8): one addition less per record
        q_last = end - hdr + 8
        q_end = end + 8
        while q <= q_last:
            nxt = q + hdr + words[q & 3][q >> 2]
            if nxt > q_end:
                break
            append(q)
            q = nxt
    return int64_array(fields) - 8, q - 8


def epb_run(words: list[memoryview], pos: int, end: int) -> tuple[Any, int]:
    """(positions of the consecutive well-formed pcapng EPBs from ``pos``, position after them).

    A well-formed EPB is one the generic block walk would take as is: sane length, fits before
    ``end``, trailing length equal. The loop only follows the lengths; the rest is checked after
    it. Positions come as a list of ints for short runs, else as an int64 array.
    """
    k = pos & 3
    w = words[k]
    m = pos >> 2  # word index of the block in ``w``
    m_end = (end - k) >> 2
    m_last = m_end - 3
    run: list[int] = []
    append = run.append
    while m <= m_last:
        if w[m] != EPB:
            break
        nxt = m + ((w[m + 1] >> 2) or 1)  # "or 1": progress even on a zero length (rejected below)
        if nxt > m_end:
            break
        append(m)
        m = nxt
    if len(run) < SHORT_RUN:
        good = _well_formed_prefix(w, run)
        return [4 * i + k for i in run[:good]], 4 * (run[good] if good < len(run) else m) + k
    return _well_formed_run(w, run, m, k)


def _well_formed_prefix(w: memoryview, run: list[int]) -> int:
    """How many blocks at the start of ``run`` (word indexes) have a sane length and a matching trailer."""
    for i, m in enumerate(run):
        blen = w[m + 1]
        if blen < 12 or blen & 3 or blen > MAX_BLOCK_BYTES or w[m + (blen >> 2) - 1] != blen:
            return i
    return len(run)


def _well_formed_run(w: memoryview, run: list[int], m: int, k: int) -> tuple[Any, int]:
    """:func:`_well_formed_prefix` column-wise, for long runs: (byte positions, position after them)."""
    import numpy as np

    words = np.frombuffer(w, dtype=np.uint32)
    at = int64_array(run)
    blen = words[at + 1].astype(np.int64)
    trailer = words[at + np.maximum(blen >> 2, 1) - 1]
    bad = np.flatnonzero((blen < 12) | ((blen & 3) != 0) | (blen > MAX_BLOCK_BYTES) | (trailer != blen))
    if bad.size:
        at, m = at[: bad[0]], int(at[bad[0]])
    return at * 4 + k, 4 * m + k
