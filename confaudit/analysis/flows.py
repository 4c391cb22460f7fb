"""Vectorised per-flow accounting over PacketChunks.

A flow is (IP protocol, unordered pair of (address, port)); its ``src`` is the side that sent the
first packet seen. Per chunk, rows are grouped with numpy and only the distinct flows of the
chunk are touched in Python, so the cost grows with flows, not packets.
"""

from __future__ import annotations

from typing import Any

from confaudit.analysis import classify


class _Grow:
    """A numpy array whose first axis grows by doubling."""

    def __init__(self, shape_tail: tuple[int, ...], dtype: Any, fill: Any = 0) -> None:
        import numpy as np

        self.fill = fill
        self.data = np.full((64, *shape_tail), fill, dtype=dtype)

    def ensure(self, n: int) -> None:
        import numpy as np

        if n <= len(self.data):
            return
        size = len(self.data)
        while size < n:
            size *= 2
        grown = np.full((size, *self.data.shape[1:]), self.fill, dtype=self.data.dtype)
        grown[: len(self.data)] = self.data
        self.data = grown


def unique_first_inverse(values: Any) -> tuple[Any, Any]:
    """np.unique(values, return_index=True, return_inverse=True)[1:] for a 1-D array, without its stable argsort.

    Sorting the values (not their indices) and a binary search per row is several times faster
    when rows are many and distinct values few (a chunk's flows); the result is the same.
    """
    import numpy as np

    ordered = np.sort(values)
    distinct = np.empty(len(ordered), dtype=bool)
    distinct[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=distinct[1:])
    uniq = ordered[distinct]
    inverse = np.searchsorted(uniq, values)
    first_row = np.full(len(uniq), len(values), dtype=np.int64)
    np.minimum.at(first_row, inverse, np.arange(len(values), dtype=np.int64))
    return first_row, inverse


def unique_rows(keys: Any) -> tuple[Any, Any, Any]:
    """np.unique(keys, axis=0) with first index and inverse, via a 64-bit row hash (verified exactly)."""
    import numpy as np

    mixed = np.zeros(len(keys), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in range(keys.shape[1]):
            mixed = (mixed ^ keys[:, col]) * np.uint64(0x100000001B3) + np.uint64(0x9E3779B97F4A7C15)
            mixed ^= mixed >> np.uint64(29)
    first_row, inverse = unique_first_inverse(mixed)
    if np.array_equal(keys[first_row[inverse]], keys):
        return keys[first_row], first_row, inverse
    uniq, first_row, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)  # hash collision
    return uniq, first_row, inverse.reshape(-1)


def stable_group_order(ids: Any, n_ids: int) -> Any:
    """np.argsort(ids, kind="stable") for ids in [0, n_ids): a radix sort when the ids fit 16 bits."""
    import numpy as np

    if n_ids <= 0x7FFF:
        ids = ids.astype(np.int16)
    return np.argsort(ids, kind="stable")


class FlowTable:
    """Accumulates flows across chunks and inputs (merge by 5-tuple)."""

    def __init__(self) -> None:
        import numpy as np

        self.index: dict[tuple[int, ...], int] = {}
        self.keys: list[tuple[int, ...]] = []
        """Canonical key (proto, a_hi, a_lo, a_port, b_hi, b_lo, b_port) per flow."""
        self.first_sender_is_b: list[bool] = []
        self.first_packet: list[tuple[int, int]] = []
        self.first_ts = _Grow((), np.float64, np.inf)
        self.last_ts = _Grow((), np.float64, -np.inf)
        self.packets = _Grow((2,), np.int64)
        """Packets per direction: [:, 0] from src, [:, 1] from dst."""
        self.bytes = _Grow((2,), np.int64)
        self.payload_bytes = _Grow((2,), np.int64)
        self.classes = _Grow((classify.COUNT,), np.int64)
        self.framed_classes = _Grow((classify.COUNT,), np.int64)
        """Per flow: messages split out of a framed TCP stream (analysis.carried), by class."""

    def __len__(self) -> int:
        return len(self.keys)

    def add_chunk(self, chunk: Any, classes: Any) -> tuple[Any, Any]:
        """Account a chunk; returns (flow index per row, True where the row goes src->dst)."""
        import numpy as np

        n = len(chunk)
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        # rows are grouped by their directed key; only the few distinct keys are put in canonical order
        ports = (chunk.proto.astype(np.uint64) << np.uint64(32)) | (chunk.sport.astype(np.uint64) << np.uint64(16)) \
            | chunk.dport.astype(np.uint64)
        keys = np.stack([ports, chunk.src_hi, chunk.src_lo, chunk.dst_hi, chunk.dst_lo], axis=1, dtype=np.uint64,
                        casting="unsafe")
        uniq, first_row, inverse = unique_rows(keys)
        gid, forward = self._register(uniq.tolist(), first_row, chunk)
        total = len(self.keys)
        for arr in (self.first_ts, self.last_ts, self.packets, self.bytes, self.payload_bytes, self.classes,
                    self.framed_classes):
            arr.ensure(total)
        # per directed key, then added to its flow: (flow, direction) and directed key are one-to-one
        k = len(uniq)
        direction = (~forward).astype(np.int64)
        ts = chunk.ts.astype(np.float64)
        first_ts = np.full(k, np.inf)
        last_ts = np.full(k, -np.inf)
        np.minimum.at(first_ts, inverse, ts)
        np.maximum.at(last_ts, inverse, ts)
        np.minimum.at(self.first_ts.data, gid, first_ts)
        np.maximum.at(self.last_ts.data, gid, last_ts)
        np.add.at(self.packets.data, (gid, direction), np.bincount(inverse, minlength=k))
        np.add.at(self.bytes.data, (gid, direction),
                  np.bincount(inverse, weights=chunk.wire_len, minlength=k).astype(np.int64))
        np.add.at(self.payload_bytes.data, (gid, direction),
                  np.bincount(inverse, weights=chunk.payload_len, minlength=k).astype(np.int64))
        per_class = np.bincount(inverse * classify.COUNT + classes.astype(np.int64), minlength=k * classify.COUNT)
        np.add.at(self.classes.data, gid, per_class.reshape(k, classify.COUNT))
        return gid[inverse], forward[inverse]

    def add_framed(self, gidx: Any, classes: Any) -> None:
        """Count the classes of messages split out of framed TCP flows (their own labels come from these)."""
        import numpy as np

        self.framed_classes.ensure(len(self.keys))
        np.add.at(self.framed_classes.data, (gidx, classes.astype(np.int64)), 1)

    def _register(self, uniq: list[list[int]], first_row: Any, chunk: Any) -> tuple[Any, Any]:
        """Flow index and direction of each distinct directed key; new flows get ids in first-seen order."""
        import numpy as np

        gids = np.empty(len(uniq), dtype=np.int64)
        forward = np.empty(len(uniq), dtype=bool)
        for u in np.argsort(first_row, kind="stable").tolist():
            ports, s_hi, s_lo, d_hi, d_lo = uniq[u]
            proto, sp, dp = ports >> 32, (ports >> 16) & 0xFFFF, ports & 0xFFFF
            swap = (s_hi, s_lo, sp) > (d_hi, d_lo, dp)
            key = (proto, d_hi, d_lo, dp, s_hi, s_lo, sp) if swap else (proto, s_hi, s_lo, sp, d_hi, d_lo, dp)
            gid = self.index.get(key)
            if gid is None:
                gid = len(self.keys)
                self.index[key] = gid
                self.keys.append(key)
                self.first_sender_is_b.append(swap)
                self.first_packet.append((chunk.input_index, int(chunk.frame[first_row[u]])))
            gids[u] = gid
            forward[u] = swap == self.first_sender_is_b[gid]
        return gids, forward

    def endpoints(self, gid: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """((hi, lo, port) of src, (hi, lo, port) of dst) for flow ``gid``."""
        key = self.keys[gid]
        a, b = (key[1], key[2], key[3]), (key[4], key[5], key[6])
        return (b, a) if self.first_sender_is_b[gid] else (a, b)
