"""RTP-shaped packets grouped into (flow, SSRC, payload type) streams with numpy.

Sequence and timestamp sanity is computed vectorised inside each chunk and carried across
chunks by the last sequence number/timestamp of each stream. Spurious "streams" (random UDP
bytes that happen to start with 0b10) are bounded per flow and filtered out at the end by
their sequence behaviour.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any, Literal

from confaudit.analysis.flows import stable_group_order, unique_first_inverse, unique_rows
from confaudit.pcap.gather import field as header_field, take_rows

RelayKind = Literal["channel_data", "indication"]
"""How a TURN server relayed a stream: inside ChannelData, or inside Send/Data indications."""

MAX_STREAMS_PER_FLOW = 64
SAMPLES_PER_STREAM = 24
"""Packets per stream whose bytes (up to SAMPLE_BYTES) are kept for codec-structure checks."""
SAMPLE_BYTES = 1200
TIMING_HEAD = 48
"""Consecutive packets at a stream's start whose header numbers are kept (steps, frames, markers)."""
TIMING_STRIDE = 16
"""After them, one packet in this many is kept, so the clock is measured over the stream's span."""
TIMING_PER_STREAM = 96
"""At most this many timing samples per stream."""
TIMING_BYTES = 64
_STEP_KINDS = (1, 2, 3000, 32768)


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
    same_timestamp: int = 0
    """Packets whose RTP timestamp equals the previous packet's (in capture order): several packets per frame."""
    min_len: int = 1 << 30
    """Smallest RTP packet length seen (bytes, header included)."""
    max_len: int = 0
    """Largest RTP packet length seen."""
    samples: list[builtins.bytes] = field(default_factory=list)
    """The first SAMPLES_PER_STREAM packets (RTP header included, up to SAMPLE_BYTES each)."""
    timing: list[tuple[builtins.bytes, int, float]] = field(default_factory=list)
    """Sampled packets as (first TIMING_BYTES bytes, packet length, capture time): the first TIMING_HEAD, then one in
    TIMING_STRIDE, up to TIMING_PER_STREAM (a long key frame cannot fill the sample)."""
    turn_channel: int | None = None
    """TURN channel number when the stream was seen inside ChannelData (relayed media)."""
    relay: RelayKind | None = None
    """How a TURN server relayed the stream: "channel_data", "indication", or None (not relayed)."""
    phase_counts: dict[int, list[int]] = field(default_factory=dict)
    """Phase window index -> [packets, bytes] counted packet by packet (only when the analysis was given the
    session's phase marker times; packets before the first marker are not in any window)."""


class StreamTable:
    """All RTP-shaped groups of an analysis."""

    def __init__(self, phase_starts: Sequence[float] | None = None) -> None:
        self.phase_starts = sorted(phase_starts) if phase_starts is not None else None
        """Sorted phase marker times: window i covers [start_i, start_i+1), as telemetry.phases.PhaseIndex.at; None:
        no phases known, so no per-phase counts (a muted phase's audio rate is then only an estimate)."""
        self.streams: dict[tuple[int, int, int], StreamAcc] = {}
        self.per_flow: dict[int, int] = {}
        self.untracked: dict[int, int] = {}
        """Per flow: RTP-shaped packets not tracked because the flow hit MAX_STREAMS_PER_FLOW."""

    def add_rows(self, chunk: Any, rows: Any, gidx: Any, forward: Any,
                 take_sample: Callable[[int], bool], inner_offset: int = 0, relay: RelayKind | None = None) -> None:
        """Account the RTP-shaped ``rows`` of ``chunk`` (flow index per row in ``gidx``).

        ``inner_offset`` > 0: the RTP packet starts that many bytes into the payload (inside TURN
        ChannelData, whose channel number is then kept on the stream). ``relay`` names how a TURN
        server carried the rows ("channel_data", "indication"), None for the flow's own packets.
        """
        import numpy as np

        if len(rows) == 0:
            return
        outer = take_rows(chunk.head, rows)
        head = outer[:, inner_offset:]
        ssrc = header_field(head, 8, ">u4").astype(np.int64)
        pt = (head[:, 1] & 0x7F).astype(np.int64)
        marker = (head[:, 1] >> 7).astype(np.int64)
        seq = header_field(head, 2, ">u2").astype(np.int64)
        rtp_ts = header_field(head, 4, ">u4").astype(np.int64)
        uniq, first, inverse = _stream_keys(gidx[rows], ssrc, pt)
        order = stable_group_order(inverse, len(uniq))
        bounds = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=len(uniq)))))
        accs: list[StreamAcc | None] = [None] * len(uniq)
        uniq_keys = uniq.tolist()
        group_start = bounds.tolist()
        first_frame = chunk.frame[rows[first]].tolist()  # a group's first row is its first member
        for u in np.argsort(first, kind="stable").tolist():
            flow, s, p = uniq_keys[u]
            acc = self._stream(flow, s, p, chunk.input_index, first_frame[u])
            if acc is None:
                self.untracked[flow] = self.untracked.get(flow, 0) + group_start[u + 1] - group_start[u]
                continue
            if inner_offset and acc.turn_channel is None:
                acc.turn_channel = int(outer[first[u], 0]) << 8 | int(outer[first[u], 1])
            if relay is not None and acc.relay is None:
                acc.relay = relay
            accs[u] = acc
            members = group_start[u + 1] - group_start[u]
            for k in _timing_positions(acc.packets, members, len(acc.timing)):
                row = int(rows[order[group_start[u] + k]])
                length = int(chunk.payload_len[row]) - inner_offset
                full = len(acc.samples) < SAMPLES_PER_STREAM
                if not take_sample(min(SAMPLE_BYTES if full else TIMING_BYTES, length)):
                    break
                packet = chunk.payload(row)[inner_offset: inner_offset + (SAMPLE_BYTES if full else TIMING_BYTES)]
                if full:
                    acc.samples.append(packet)
                if len(acc.timing) < TIMING_PER_STREAM:
                    acc.timing.append((packet[:TIMING_BYTES], length, float(chunk.ts[row])))
        lengths = chunk.payload_len[rows].astype(np.int64) - inner_offset
        self._update_all(accs, order, bounds, seq, rtp_ts, marker, forward[rows], lengths, chunk.ts[rows])
        if self.phase_starts is not None:
            _count_phases(accs, inverse, lengths, chunk.ts[rows], self.phase_starts)

    @staticmethod
    def _update_all(accs: list[StreamAcc | None], order: Any, bounds: Any, seq: Any, rtp_ts: Any,
                    marker: Any, fwd: Any, lengths: Any, ts: Any) -> None:
        """Fold every group of the chunk into its accumulator at once (groups are contiguous in ``order``)."""
        import numpy as np

        starts = bounds[:-1]
        counts = np.diff(bounds)
        n_groups = len(accs)
        last_seq = np.array([a.last_seq if a is not None else -1 for a in accs], dtype=np.int64)
        last_rtp = np.array([a.last_rtp_ts if a is not None else -1 for a in accs], dtype=np.int64)
        last_ext = np.array([a.last_ext if a is not None else 0 for a in accs], dtype=np.int64)
        group = np.repeat(np.arange(n_groups), counts)
        s = seq[order]
        t = rtp_ts[order]
        prev_s = np.empty_like(s)
        prev_t = np.empty_like(t)
        prev_s[1:] = s[:-1]
        prev_t[1:] = t[:-1]
        prev_s[starts] = last_seq
        prev_t[starts] = last_rtp
        valid = np.ones(len(s), dtype=bool)
        valid[starts] = last_seq >= 0
        d = (s - prev_s) % 65536
        step = np.where(valid, np.where(d >= 32768, d - 65536, d), 0)
        cum = np.cumsum(step)
        before = np.concatenate([[0], cum])[starts]
        ext = last_ext[group] + cum - before[group]
        has_ext = np.add.reduceat(valid.astype(np.int64), starts) > 0
        max_ext = np.maximum.reduceat(np.where(valid, ext, np.iinfo(np.int64).min), starts)
        ends = bounds[1:] - 1

        # sequence steps by kind: 0 duplicate, 1 next, 2 gap (< 3000), 3 jump, 4 reordered (backwards)
        step_kind = np.searchsorted(_STEP_KINDS, d, side="right")
        per_kind = np.bincount(group[valid] * 5 + step_kind[valid], minlength=5 * n_groups).reshape(n_groups, 5)
        dups, gaps, jumps, reordered = per_kind[:, 0], per_kind[:, 2], per_kind[:, 3], per_kind[:, 4]
        backwards = np.bincount(group[valid & (((t - prev_t) % (1 << 32)) >= (1 << 31))], minlength=n_groups)
        same_ts = np.bincount(group[valid & (t == prev_t) & (step_kind != 0)], minlength=n_groups)
        sorted_len = lengths[order]
        nbytes = np.add.reduceat(sorted_len, starts)
        len_min = np.minimum.reduceat(sorted_len, starts)
        len_max = np.maximum.reduceat(sorted_len, starts)
        nfwd = np.add.reduceat(fwd[order].astype(np.int64), starts)
        markers = np.add.reduceat(marker[order], starts)
        ts_sorted = ts[order]
        ts_min = np.minimum.reduceat(ts_sorted, starts)
        ts_max = np.maximum.reduceat(ts_sorted, starts)
        cols = zip(accs, counts.tolist(), dups.tolist(), gaps.tolist(), jumps.tolist(), reordered.tolist(),
                   backwards.tolist(), has_ext.tolist(), max_ext.tolist(), ext[ends].tolist(), s[ends].tolist(),
                   t[ends].tolist(), nbytes.tolist(), nfwd.tolist(), markers.tolist(), ts_min.tolist(),
                   ts_max.tolist(), same_ts.tolist(), len_min.tolist(), len_max.tolist())
        for (acc, n, dup, gap, jump, reord, back, has, mx, ext_end, s_end, t_end, nb, nf, mk, tmin,
             tmax, same, lmin, lmax) in cols:
            if acc is None:
                continue
            acc.duplicates += dup
            acc.gaps += gap
            if has:
                acc.max_ext = max(acc.max_ext, mx)
                acc.last_ext = ext_end
            acc.seq_jumps += jump
            acc.reordered += reord
            acc.ts_backwards += back
            acc.last_seq = s_end
            acc.last_rtp_ts = t_end
            acc.packets += n
            acc.lost = max(0, acc.max_ext + 1 - (acc.packets - acc.duplicates))
            acc.bytes += nb
            acc.forward += nf
            acc.backward += n - nf
            acc.markers += mk
            acc.same_timestamp += same
            acc.min_len = min(acc.min_len, lmin)
            acc.max_len = max(acc.max_len, lmax)
            acc.first_ts = min(acc.first_ts, tmin)
            acc.last_ts = max(acc.last_ts, tmax)

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


def _count_phases(accs: list[StreamAcc | None], group: Any, lengths: Any, ts: Any, starts: list[float]) -> None:
    """Add each row's packet and bytes to its stream's phase window (``group``: the row's index into ``accs``)."""
    import numpy as np

    window = np.searchsorted(np.asarray(starts, dtype=np.float64), ts, side="right") - 1
    inside = window >= 0
    if not inside.any():
        return
    width = len(starts)
    key = group[inside].astype(np.int64) * width + window[inside]
    keys, slot = np.unique(key, return_inverse=True)
    packets = np.bincount(slot, minlength=len(keys)).tolist()
    nbytes = np.bincount(slot, weights=lengths[inside], minlength=len(keys)).astype(np.int64).tolist()
    for k, n, b in zip(keys.tolist(), packets, nbytes):
        acc = accs[k // width]
        if acc is not None:
            slot_counts = acc.phase_counts.setdefault(k % width, [0, 0])
            slot_counts[0] += n
            slot_counts[1] += b


def _timing_positions(before: int, members: int, have: int) -> list[int]:
    """Positions (0-based within this chunk's members of a stream) to sample, given ``before`` packets already seen."""
    head = list(range(max(0, min(members, TIMING_HEAD - before))))
    first = max(len(head), (-(before + len(head))) % TIMING_STRIDE + len(head))
    spread = list(range(first, members, TIMING_STRIDE))
    return (head + spread)[: max(0, TIMING_PER_STREAM - have)]


def _stream_keys(flows: Any, ssrc: Any, pt: Any) -> tuple[Any, Any, Any]:
    """Distinct (flow, ssrc, payload type) rows, with the first row and the inverse (as unique_rows)."""
    import numpy as np

    if flows.max() < (1 << 25):  # one uint64 holds all three: no row hash needed
        key = (flows.astype(np.uint64) << np.uint64(39)) | (ssrc.astype(np.uint64) << np.uint64(7)) | pt.astype(np.uint64)
        first, inverse = unique_first_inverse(key)
        uniq = key[first]
        return np.stack([uniq >> np.uint64(39), (uniq >> np.uint64(7)) & np.uint64(0xFFFF_FFFF), uniq & np.uint64(0x7F)],
                        axis=1), first, inverse
    return unique_rows(np.stack([flows, ssrc, pt], axis=1).astype(np.uint64))


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
