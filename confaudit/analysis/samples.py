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

BUDGETS = {
    "first": 16,      # any payload: zoom scoring, SIP/HTTP/QUIC/DNS detection, classic STUN
    "stun": 400,      # STUN/TURN messages (aggregated per flow)
    "dtls": 48,       # DTLS records (handshake, CCS, first application data)
    "quic": 8,        # QUIC long-header datagrams (Initial decryption)
    "dns": 400,       # port 53/5353/5355
    "text": 200,      # SIP and other text protocols over UDP
    "rtcp": 16,       # SRTCP trailer checks
    "tcp": 96,        # first ~16 KB per direction, reassembled by sequence number
    "channel": 16,    # TURN ChannelData (inner protocol)
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

    def add_chunk(self, chunk: Any, classes: Any, gidx: Any, forward: Any, n_flows: int) -> None:
        import numpy as np

        plen = chunk.payload_len
        has_payload = plen > 0
        ports_dns = np.isin(chunk.sport, DNS_PORTS) | np.isin(chunk.dport, DNS_PORTS)
        masks = {
            "first": has_payload,
            "stun": (classes == classify.STUN) | (classes == classify.TURN) | (classes == classify.STUN_CLASSIC),
            "dtls": (classes == classify.DTLS),
            "quic": classes == classify.QUIC_LONG,
            "dns": has_payload & ports_dns,
            "text": (classes == classify.TEXT) & (chunk.proto == 17),
            "rtcp": classes == classify.RTCP,
            "tcp": has_payload & (chunk.proto == 6) & ~chunk.fragment,
            "channel": classes == classify.CHANNEL_DATA,
            "zoom": (chunk.proto == 17) & np.isin(chunk.head[:, 0], ZOOM_FIRST_BYTES) & has_payload,
        }
        for category, mask in masks.items():
            rows = np.nonzero(mask)[0]
            if len(rows) == 0:
                continue
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
                    continue
            flows = gidx[rows]
            order = stable_group_order(flows, n_flows)
            sorted_flows = flows[order]
            starts = np.searchsorted(sorted_flows, sorted_flows, side="left")
            rank = np.empty(len(rows), dtype=np.int64)
            rank[order] = np.arange(len(rows)) - starts
            keep = rows[rank < (BUDGETS[category] - taken[flows])]
            if len(keep) == 0:
                continue
            np.add.at(taken, gidx[keep], 1)
            self._store(chunk, category, keep, gidx, forward)

    def _store(self, chunk: Any, category: str, rows: Any, gidx: Any, forward: Any) -> None:
        for row in rows.tolist():
            flow = int(gidx[row])
            fwd = bool(forward[row])
            limit = FIRST_BYTES if category in ("first", "zoom") else MAX_PAYLOAD
            if category == "tcp":
                used = self.tcp_bytes.get((flow, fwd), 0)
                if used >= TCP_BYTES_PER_DIRECTION:
                    continue
                self.tcp_bytes[(flow, fwd)] = used + int(chunk.payload_len[row])
            size = min(limit, int(chunk.payload_len[row]))
            if not self.take_bytes(size):
                return
            off = int(chunk.payload_off[row])
            payload = bytes(chunk.buf[off: off + size])
            self.samples.setdefault((flow, category), []).append(
                Sample(chunk.input_index, int(chunk.frame[row]), float(chunk.ts[row]), fwd, payload,
                       int(chunk.tcp_seq[row])))
