"""Bounded per-flow evidence samples: which packets get dissected by the wire parsers.

Each category has a per-flow packet budget, selected vectorised per chunk (rank of a row
within its flow in the chunk < budget left), and all samples share one global byte budget so a
hostile capture with millions of flows cannot exhaust memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.analysis import classify
from confaudit.analysis.flows import stable_group_order
from confaudit.pcap.gather import equals_any

BUDGETS = {
    "first": 16,      # any payload: zoom scoring, SIP/HTTP/QUIC/DNS detection, classic STUN
    "stun": 400,      # STUN/TURN messages (aggregated per flow)
    "dtls": 48,       # DTLS records (handshake, CCS, first application data)
    "quic": 8,        # QUIC long-header datagrams (Initial decryption)
    "dns": 400,       # port 53/5353/5355
    "text": 200,      # SIP and other text protocols over UDP
    "rtcp": 16,       # SRTCP trailer checks
    "tcp": 96,        # first ~16 KB per direction, reassembled by sequence number
    "channel_dtls": 48,  # DTLS inside TURN ChannelData (relayed media's keying)
    "channel_rtcp": 16,  # RTCP inside TURN ChannelData (SRTCP trailer checks)
    "zoom": 64,       # UDP payloads starting like Zoom's SFU (0x05) or inner media headers
}
FIRST_BYTES = 256
TCP_BYTES_PER_DIRECTION = 16 * 1024
MAX_PAYLOAD = 65_535
GLOBAL_BYTE_BUDGET = 96 * 1024 * 1024
DNS_PORTS = (53, 5353, 5355)
ZOOM_FIRST_BYTES = (0x05, 0x0C, 0x0D, 0x0F, 0x10, 0x15, 0x1E, 0x1F, 0x21, 0x22)
"""Zoom's SFU outer header and inner media types (wire.zoom.SFU_MEDIA / INNER_TYPES)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One packet kept for dissection."""

    input_index: int
    """Input file index."""
    frame: int
    """1-based frame number in that file."""
    ts: float
    """Capture timestamp."""
    forward: bool
    """True when sent by the flow's src."""
    payload: bytes
    """Transport payload (possibly truncated for the "first" category)."""
    tcp_seq: int
    """TCP sequence number (0 for UDP)."""


class SampleStore:
    """Per-flow samples by category, with per-flow and global budgets."""

    def __init__(self, byte_budget: int | None = None) -> None:
        self.byte_budget = GLOBAL_BYTE_BUDGET if byte_budget is None else byte_budget
        self.samples: dict[tuple[int, str], list[Sample]] = {}
        self.taken: dict[str, Any] = {}
        self.tcp_bytes: dict[tuple[int, bool], int] = {}
        self.bytes_used = 0
        self.budget_exhausted = False

    def take_bytes(self, n: int) -> bool:
        """Reserve ``n`` bytes of the global budget; False (and flagged) once it is spent."""
        if self.bytes_used + n > self.byte_budget:
            self.budget_exhausted = True
            return False
        self.bytes_used += n
        return True

    def get(self, flow: int, category: str) -> list[Sample]:
        return self.samples.get((flow, category), [])

    def add_relayed(self, carried: Any, classes: Any, n_flows: int) -> None:
        """Sample datagrams a TURN server relays (carried.relayed_by_indications) as keying evidence of their flow."""
        masks = {"channel_dtls": (classes == classify.DTLS) | (classes == classify.DTLS13_UNIFIED),
                 "channel_rtcp": classes == classify.RTCP}
        for category, mask in masks.items():
            keep = self._select(category, mask, carried.gidx, n_flows)
            if len(keep):
                self._store(carried.chunk, category, keep, carried.gidx, carried.forward, skip=0)

    def add_chunk(self, chunk: Any, classes: Any, gidx: Any, forward: Any, n_flows: int, inner: Any = None) -> None:
        """Sample the rows of one chunk; ``inner``: what each TURN ChannelData row carries (classify.channel_inner)."""
        has_payload = chunk.payload_len > 0
        udp = chunk.proto == 17
        masks = {
            "first": has_payload,
            "stun": (classes == classify.STUN) | (classes == classify.TURN) | (classes == classify.STUN_CLASSIC),
            "dtls": classes == classify.DTLS,
            "quic": classes == classify.QUIC_LONG,
            "dns": has_payload & (equals_any(chunk.sport, DNS_PORTS) | equals_any(chunk.dport, DNS_PORTS)),
            "text": (classes == classify.TEXT) & udp,
            "rtcp": classes == classify.RTCP,
            "tcp": has_payload & (chunk.proto == 6) & ~chunk.fragment,
            "channel_dtls": None if inner is None else (inner == classify.DTLS) | (inner == classify.DTLS13_UNIFIED),
            "channel_rtcp": None if inner is None else inner == classify.RTCP,
            "zoom": udp & equals_any(chunk.head[:, 0], ZOOM_FIRST_BYTES) & has_payload,
        }
        for category, mask in masks.items():
            if mask is None:
                continue
            keep = self._select(category, mask, gidx, n_flows)
            if len(keep):
                self._store(chunk, category, keep, gidx, forward)

    def _select(self, category: str, mask: Any, gidx: Any, n_flows: int) -> Any:
        """Rows of ``mask`` within their flow's budget left for ``category`` (and charge them)."""
        import numpy as np

        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return rows
        taken = self.taken.get(category)
        if taken is None or len(taken) < n_flows:
            grown = np.zeros(max(64, n_flows * 2), dtype=np.int64)
            if taken is not None:
                grown[: len(taken)] = taken
            self.taken[category] = taken = grown
        left = BUDGETS[category] - taken[gidx[rows]]
        if not left.all():  # flows that spent their budget keep nothing; ranks are per flow
            rows = rows[left > 0]
            if len(rows) == 0:
                return rows
            left = left[left > 0]
        flows = gidx[rows]
        order = stable_group_order(flows, n_flows)
        sorted_flows = flows[order]
        starts = np.searchsorted(sorted_flows, sorted_flows, side="left")
        rank = np.empty(len(rows), dtype=np.int64)
        rank[order] = np.arange(len(rows)) - starts
        keep = rows[rank < left]
        np.add.at(taken, gidx[keep], 1)
        return keep

    def _store(self, chunk: Any, category: str, rows: Any, gidx: Any, forward: Any, skip: int | None = None) -> None:
        limit = FIRST_BYTES if category in ("first", "zoom") else MAX_PAYLOAD
        if skip is None:  # keep what the relay carries, without the ChannelData header
            skip = classify.CHANNEL_HEADER if category.startswith("channel_") else 0
        # plain Python values up front: indexing numpy scalars row by row costs more than the rest
        cols = zip(gidx[rows].tolist(), forward[rows].tolist(), chunk.payload_len[rows].tolist(),
                   chunk.payload_off[rows].tolist(), chunk.frame[rows].tolist(), chunk.ts[rows].tolist(),
                   chunk.tcp_seq[rows].tolist())
        with memoryview(chunk.buf) as buf:
            for flow, fwd, length, off, frame, ts, seq in cols:
                if category == "tcp":
                    used = self.tcp_bytes.get((flow, fwd), 0)
                    if used >= TCP_BYTES_PER_DIRECTION:
                        continue
                    self.tcp_bytes[(flow, fwd)] = used + length
                off, length = off + skip, length - skip
                size = min(limit, length)
                if not self.take_bytes(size):
                    return
                self.samples.setdefault((flow, category), []).append(
                    Sample(chunk.input_index, frame, ts, fwd, bytes(buf[off: off + size]), seq))
