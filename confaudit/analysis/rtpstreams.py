"""RTP-shaped packets grouped into (flow, SSRC, payload type) streams with numpy.

Sequence and timestamp sanity is computed vectorised inside each chunk and carried across
chunks by the last sequence number/timestamp of each stream. Spurious "streams" (random UDP
bytes that happen to start with 0b10) are bounded per flow and filtered out at the end by
their sequence behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from confaudit.analysis.flows import unique_rows

MAX_STREAMS_PER_FLOW = 64
SAMPLES_PER_STREAM = 12
SAMPLE_BYTES = 1200


@dataclass(slots=True)
class StreamAcc:
    """Running totals of one (flow, ssrc, payload type) group (mutable accumulator)."""

    flow: int
    ssrc: int
    payload_type: int
    packets: int = 0
    bytes: int = 0
    forward: int = 0
    backward: int = 0
    first_ts: float = float("inf")
    last_ts: float = float("-inf")
    first_packet: tuple[int, int] = (0, 0)
    last_seq: int = -1
    last_rtp_ts: int = -1
    last_ext: int = 0
    max_ext: int = 0
    gaps: int = 0
    lost: int = 0
    reordered: int = 0
    duplicates: int = 0
    seq_jumps: int = 0
    ts_backwards: int = 0
    markers: int = 0
    samples: list[bytes] = field(default_factory=list)


class StreamTable:
    """All RTP-shaped groups of an analysis."""

    def __init__(self) -> None:
        self.streams: dict[tuple[int, int, int], StreamAcc] = {}
        self.per_flow: dict[int, int] = {}
        self.untracked: dict[int, int] = {}
        """Per flow: RTP-shaped packets not tracked because the flow hit MAX_STREAMS_PER_FLOW."""

    def add_rows(self, chunk: Any, rows: Any, gidx: Any, forward: Any,
                 take_sample: Callable[[int], bool]) -> None:
        """Account the RTP-shaped ``rows`` of ``chunk`` (flow index per row in ``gidx``)."""
        import numpy as np

        if len(rows) == 0:
            return
        head = chunk.head[rows]
        ssrc = (head[:, 8].astype(np.int64) << 24) | (head[:, 9].astype(np.int64) << 16) | \
            (head[:, 10].astype(np.int64) << 8) | head[:, 11].astype(np.int64)
        pt = (head[:, 1] & 0x7F).astype(np.int64)
        marker = (head[:, 1] >> 7).astype(np.int64)
        seq = (head[:, 2].astype(np.int64) << 8) | head[:, 3].astype(np.int64)
        rtp_ts = (head[:, 4].astype(np.int64) << 24) | (head[:, 5].astype(np.int64) << 16) | \
            (head[:, 6].astype(np.int64) << 8) | head[:, 7].astype(np.int64)
        flows = gidx[rows]
        keys = np.stack([flows, ssrc, pt], axis=1)
        uniq, first, inverse = unique_rows(keys.astype(np.uint64))
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
        fwd = forward[rows]
        lengths = chunk.payload_len[rows].astype(np.int64)
        ts = chunk.ts[rows]
        for u in np.argsort(first, kind="stable").tolist():
            flow, s, p = (int(v) for v in uniq[u])
            members = order[bounds[u]: bounds[u + 1]]
            acc = self._stream(flow, s, p, chunk.input_index, int(chunk.frame[rows[members[0]]]))
            if acc is None:
                self.untracked[flow] = self.untracked.get(flow, 0) + len(members)
                continue
            self._update(acc, members, seq, rtp_ts, marker, fwd, lengths, ts)
            for m in members[: max(0, SAMPLES_PER_STREAM - len(acc.samples))].tolist():
                row = int(rows[m])
                if not take_sample(min(SAMPLE_BYTES, int(chunk.payload_len[row]))):
                    break
                acc.samples.append(chunk.payload(row)[:SAMPLE_BYTES])

    def _stream(self, flow: int, ssrc: int, pt: int, input_index: int, frame: int) -> StreamAcc | None:
        key = (flow, ssrc, pt)
        acc = self.streams.get(key)
        if acc is None:
            if self.per_flow.get(flow, 0) >= MAX_STREAMS_PER_FLOW:
                return None
            self.per_flow[flow] = self.per_flow.get(flow, 0) + 1
            acc = StreamAcc(flow=flow, ssrc=ssrc, payload_type=pt, first_packet=(input_index, frame))
            self.streams[key] = acc
        return acc

    @staticmethod
    def _update(acc: StreamAcc, members: Any, seq: Any, rtp_ts: Any, marker: Any, fwd: Any,
                lengths: Any, ts: Any) -> None:
        import numpy as np

        s = seq[members]
        t = rtp_ts[members]
        if acc.last_seq >= 0:
            s = np.concatenate([[acc.last_seq], s])
            t = np.concatenate([[acc.last_rtp_ts], t])
        d = np.diff(s) % 65536
        acc.duplicates += int(np.count_nonzero(d == 0))
        small = (d > 1) & (d < 3000)
        acc.gaps += int(np.count_nonzero(small))
        # RFC 3550 A.3: lost = extended highest seq - first seq + 1 - received (swaps do not count).
        ext = acc.last_ext + np.cumsum(np.where(d >= 32768, d - 65536, d))
        if len(ext):
            acc.max_ext = max(acc.max_ext, int(ext.max()))
            acc.last_ext = int(ext[-1])
        acc.seq_jumps += int(np.count_nonzero((d >= 3000) & (d < 32768)))
        acc.reordered += int(np.count_nonzero(d >= 32768))
        acc.ts_backwards += int(np.count_nonzero((np.diff(t) % (1 << 32)) >= (1 << 31)))
        acc.last_seq = int(seq[members[-1]])
        acc.last_rtp_ts = int(rtp_ts[members[-1]])
        acc.packets += len(members)
        acc.lost = max(0, acc.max_ext + 1 - (acc.packets - acc.duplicates))
        acc.bytes += int(lengths[members].sum())
        nf = int(np.count_nonzero(fwd[members]))
        acc.forward += nf
        acc.backward += len(members) - nf
        acc.markers += int(marker[members].sum())
        acc.first_ts = min(acc.first_ts, float(ts[members].min()))
        acc.last_ts = max(acc.last_ts, float(ts[members].max()))


def plausible_stream(acc: StreamAcc) -> bool:
    """True when the group behaves like a real RTP stream (enough packets, mostly consecutive seq).

    Exact repeats of a sequence number are not disorder: loopback and span-port captures hold every
    datagram twice, and random bytes almost never repeat an SSRC, let alone a sequence number.
    """
    distinct = acc.packets - acc.duplicates
    if distinct < 3:
        return False
    transitions = max(1, distinct - 1)
    disorder = acc.seq_jumps + acc.reordered
    return disorder <= transitions * 0.25
