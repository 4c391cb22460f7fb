"""Reassemble the first bytes of one TCP direction from sampled segments, by sequence number."""

from __future__ import annotations

from collections.abc import Iterable

from confaudit.analysis.sampling import TCP_BYTES_PER_DIRECTION, Sample


def reassemble(segments: Iterable[Sample], limit: int = TCP_BYTES_PER_DIRECTION) -> bytes:
    """Contiguous bytes from the lowest sequence number seen (mod 2**32), stopping at the first hole.

    Retransmissions and overlaps are resolved in favour of the bytes already placed.
    """
    segs = [s for s in segments if s.payload]
    if not segs:
        return b""
    base = segs[0].tcp_seq
    # Relative offsets in a window around the first segment (handles wrap-around).
    placed = sorted((((s.tcp_seq - base + (1 << 31)) % (1 << 32)) - (1 << 31), s.payload) for s in segs)
    start = placed[0][0]
    out = bytearray()
    for offset, data in placed:
        rel = offset - start
        if rel > len(out):
            break
        if rel + len(data) > len(out):
            out += data[len(out) - rel:]
        if len(out) >= limit:
            break
    return bytes(out[:limit])
