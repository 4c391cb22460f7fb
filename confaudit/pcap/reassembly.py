"""IPv4 and IPv6 fragment reassembly across the chunks of one capture, bounded in time and memory.

Datagrams are keyed as their receiver keys them: IPv4 by (source, destination, identification,
protocol) (RFC 791), IPv6 by (source, destination, identification) (RFC 8200 §4.5). Timeouts run
on capture time. Where fragments overlap, the bytes that arrived first are kept and a disagreement
is counted (a receiver may have kept the other bytes). Exact copies of fragments, also of a
datagram completed shortly before (a capture that saw each packet twice), are only counted.
Everything that does not end as a whole datagram is counted by reason, never dropped in silence.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable

IPV4_TIMEOUT_S = 30.0
"""Linux's default ``ipfrag_time``."""
IPV6_TIMEOUT_S = 60.0
"""RFC 8200 §4.5: reassembly must be abandoned 60 s after the first-arriving fragment."""
MAX_DATAGRAM_BYTES = {4: 65_535 - 20, 6: 65_535}
"""Largest fragmented part a datagram can have (IPv4: total length minus a minimal header)."""
MAX_FRAGMENTS = 256
"""Fragments held per datagram (1280-byte IPv6 fragments need 52 for the largest datagram)."""
MAX_IN_FLIGHT = 1024
"""Datagrams being reassembled at once; beyond it the oldest is given up."""
MAX_HELD_BYTES = 16 << 20
"""Fragment bytes held at once; beyond it the oldest datagrams are given up."""
MAX_RECENT = 1024
"""Completed datagrams remembered (until their timeout) to recognise copies of their fragments."""

_NO_END = 1 << 62
INCOMPLETE = "fragments_incomplete"
OVER_LIMITS = "fragments_over_limits"
INVALID = "fragments_invalid"


@dataclass(frozen=True, slots=True)
class Datagram:
    """A datagram whose fragments have all arrived."""

    version: int
    """4 or 6."""
    proto: int
    """Protocol of the fragmented part (IPv6: the next header in the offset-0 fragment's fragment header)."""
    payload: bytes
    """The fragmented part, whole: the transport header and its payload (IPv6: maybe extension headers first)."""
    fragments: int
    """Fragments received for it (exact copies included)."""
    wire_len: int
    """Sum of the original lengths of the frames that carried its fragments."""


class _Pending:
    """A datagram still missing fragments."""

    __slots__ = ("version", "first_ts", "data", "spans", "total", "fragments", "wire_len", "proto")

    def __init__(self, version: int, ts: float) -> None:
        self.version = version
        self.first_ts = ts
        self.data = bytearray()
        self.spans: list[tuple[int, int]] = []
        self.total: int | None = None
        self.fragments = 0
        self.wire_len = 0
        self.proto: int | None = None


class Reassembler:
    """Fragments in, whole datagrams out; ``given_up`` counts fragments by reason."""

    def __init__(self) -> None:
        self._pending: OrderedDict[Hashable, _Pending] = OrderedDict()
        self._recent: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._held = 0
        self._latest = float("-inf")
        self.reassembled = 0
        """Datagrams made whole."""
        self.conflicting = 0
        """Fragments that overlap bytes received before with other content (the first bytes were kept)."""
        self.copies = 0
        """Fragments that repeat bytes already received, byte for byte (ignored)."""
        self.given_up: dict[str, int] = {}
        """Reason (:data:`INCOMPLETE`, :data:`OVER_LIMITS`, :data:`INVALID`) -> fragments not analysed."""

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def add(self, key: Hashable, version: int, ts: float, offset: int, more: bool, data: bytes, declared: int,
            proto: int, wire_len: int) -> Datagram | None:
        """One fragment: ``data`` are its captured bytes of the ``declared`` ones at ``offset``.

        ``key`` must hold the version and what the receiver keys on. Returns the datagram it completes.
        """
        self._latest = max(self._latest, ts)
        end = offset + declared
        pending = self._pending.get(key)
        if pending is not None and ts - pending.first_ts > _timeout(version):
            self._give_up(key, INCOMPLETE)
            pending = None
        if len(data) < declared:  # snapped: its datagram can never be rebuilt
            self._count(INCOMPLETE, 1)
            return None
        if pending is None and self._is_copy(key, ts, offset, more, data):
            self.copies += 1
            return None
        if pending is None:
            pending = self._open(key, version, ts)
        pending.fragments += 1
        pending.wire_len += wire_len
        if end > MAX_DATAGRAM_BYTES[version]:
            self._give_up(key, INVALID)
            return None
        if pending.fragments > MAX_FRAGMENTS:
            self._give_up(key, OVER_LIMITS)
            return None
        if not self._fits(pending, end, more):
            self.conflicting += 1
            return None
        if offset == 0 and pending.proto is None:
            pending.proto = proto
        if not self._merge(pending, offset, data) and data:
            self.copies += 1
        if pending.total is None or pending.spans != [(0, pending.total)]:
            self._keep_within_limits(key)
            return None
        return self._complete(key, pending, ts)

    def expire(self) -> None:
        """Give up every datagram older than its timeout at the latest capture time seen."""
        for key in [k for k, p in self._pending.items() if self._latest - p.first_ts > _timeout(p.version)]:
            self._give_up(key, INCOMPLETE)

    def finish(self) -> None:
        """The capture ended: every datagram still missing fragments is given up."""
        for key in list(self._pending):
            self._give_up(key, INCOMPLETE)
        self._recent.clear()

    # -- inside ----------------------------------------------------------------------------
    def _open(self, key: Hashable, version: int, ts: float) -> _Pending:
        if self._pending:  # one timed-out datagram out per new one keeps pace with the arrivals
            oldest_key = next(iter(self._pending))
            oldest = self._pending[oldest_key]
            if self._latest - oldest.first_ts > _timeout(oldest.version):
                self._give_up(oldest_key, INCOMPLETE)
        if len(self._pending) >= MAX_IN_FLIGHT:
            self._give_up(next(iter(self._pending)), OVER_LIMITS)
        pending = self._pending[key] = _Pending(version, ts)
        return pending

    def _fits(self, pending: _Pending, end: int, more: bool) -> bool:
        """Whether the fragment agrees with the datagram's end as known so far (first-wins); sets the end."""
        if more:
            return pending.total is None or end <= pending.total
        if pending.total is not None:
            return end == pending.total
        if pending.spans and pending.spans[-1][1] > end:
            return False
        pending.total = end
        return True

    def _merge(self, pending: _Pending, offset: int, data: bytes) -> bool:
        """Copy the bytes of ``data`` no earlier fragment covered and compare the ones it did; returns whether
        it brought anything new (new bytes, or other bytes than those kept)."""
        end = offset + len(data)
        if end == offset:
            return False
        if len(pending.data) < end:
            self._held += end - len(pending.data)
            pending.data.extend(bytes(end - len(pending.data)))
        spans = pending.spans
        # the spans overlapping or touching [offset, end): spans are sorted, disjoint and never touch
        first = bisect_right(spans, (offset, _NO_END)) - 1
        if first < 0 or spans[first][1] < offset:
            first += 1
        last = first
        pos, conflict, fresh = offset, False, False
        while last < len(spans) and spans[last][0] <= end:
            start, stop = spans[last]
            if start > pos:
                pending.data[pos:start] = data[pos - offset: start - offset]
                fresh = True
            low, upto = max(start, pos), min(stop, end)
            if low < upto:
                conflict |= pending.data[low:upto] != data[low - offset: upto - offset]
            pos = max(pos, upto)
            last += 1
        if pos < end:
            pending.data[pos:end] = data[pos - offset:]
            fresh = True
        self.conflicting += conflict
        joined = (min(offset, spans[first][0]) if last > first else offset,
                  max(end, spans[last - 1][1]) if last > first else end)
        spans[first:last] = [joined]
        return fresh or conflict

    def _complete(self, key: Hashable, pending: _Pending, ts: float) -> Datagram:
        del self._pending[key]
        self._held -= len(pending.data)
        payload = bytes(pending.data)
        self._recent[key] = (ts, payload)
        while len(self._recent) > MAX_RECENT:
            self._recent.popitem(last=False)
        self.reassembled += 1
        return Datagram(pending.version, int(pending.proto or 0), payload, pending.fragments, pending.wire_len)

    def _is_copy(self, key: Hashable, ts: float, offset: int, more: bool, data: bytes) -> bool:
        """Whether the fragment repeats, byte for byte, part of a datagram completed within its timeout."""
        recent = self._recent.get(key)
        if recent is None:
            return False
        done_ts, payload = recent
        if ts - done_ts > _timeout(key[0]):  # type: ignore[index]
            del self._recent[key]
            return False
        end = offset + len(data)
        return end <= len(payload) and (more or end == len(payload)) and payload[offset:end] == data

    def _keep_within_limits(self, key: Hashable) -> None:
        while self._held > MAX_HELD_BYTES and len(self._pending) > 1:
            oldest = next(iter(self._pending))
            self._give_up(oldest if oldest != key else list(self._pending)[1], OVER_LIMITS)

    def _give_up(self, key: Hashable, reason: str) -> None:
        pending = self._pending.pop(key)
        self._held -= len(pending.data)
        self._count(reason, pending.fragments)

    def _count(self, reason: str, fragments: int) -> None:
        if fragments:
            self.given_up[reason] = self.given_up.get(reason, 0) + fragments


def _timeout(version: int) -> float:
    return IPV4_TIMEOUT_S if version == 4 else IPV6_TIMEOUT_S
