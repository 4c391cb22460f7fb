"""Datagrams carried inside other packets, turned into packet chunks of their carrier flow.

Two carriers matter for media:
- TCP with message framing: ICE-TCP and TURN-over-TCP send STUN, DTLS, RTP and RTCP as RFC 4571
  length-prefixed frames, or as bare STUN messages and ChannelData (RFC 8656 §12.5). Each whole
  frame becomes a datagram of the TCP flow and goes through the same classification, sampling
  and RTP accounting as UDP payloads (``TcpFramer``).
- TURN Send/Data indications: the DATA attribute is a datagram relayed to or from a peer, handled
  like what TURN ChannelData carries (``relayed_by_indications``).
A flow is framed only when its first payload segment parses as such framing (a STUN message with
the magic cookie, or an RFC 4571 frame holding STUN, DTLS, RTP or RTCP): length-prefixed chat
protocols never start that way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from confaudit.wire.errors import ParserBugs

FramingMode = Literal["rfc4571", "stun"]
RFC4571: FramingMode = "rfc4571"
"""Two-byte length before every frame (ICE-TCP, RFC 6544)."""
STUN_FRAMING: FramingMode = "stun"
"""STUN messages and 4-byte-padded ChannelData back to back (TURN over TCP, RFC 8656 §12.5)."""
MAX_DECIDE_SEGMENTS = 8
"""Payload segments of a TCP flow tried as a frame start before the flow is declared not framed."""
MAX_PENDING_SEGMENTS = 64
"""Out-of-order segments held per direction before the gap is given up (the bytes counted as lost)."""
_COOKIE = b"\x21\x12\xa4\x42"
HEAD_BYTES = 16


@dataclass(frozen=True, slots=True)
class CarriedChunk:
    """Carried datagrams as a PacketChunk of their carrier flows, with the flow index and direction per row."""

    chunk: Any
    """A PacketChunk whose rows are the carried datagrams (proto 17: classified like UDP payloads)."""
    gidx: Any
    """int64[n]: carrier flow index of each row."""
    forward: Any
    """bool[n]: True when the carrier packet went from the flow's src to its dst."""


def build_carried(input_index: int, rows: list[tuple[int, bool, int, float, bytes]]) -> CarriedChunk:
    """A CarriedChunk from (flow, forward, carrier frame, carrier timestamp, datagram) rows."""
    import numpy as np

    from confaudit.pcap.chunk import PacketChunk

    n = len(rows)
    lengths = np.fromiter((len(r[4]) for r in rows), dtype=np.int64, count=n)
    offsets = np.zeros(n, dtype=np.int64)
    if n:
        offsets[1:] = np.cumsum(lengths)[:-1]
    buf = bytearray(b"".join(r[4] for r in rows))
    buf += bytes(HEAD_BYTES)
    arr = np.frombuffer(bytes(buf), dtype=np.uint8)
    idx = offsets[:, None] + np.arange(HEAD_BYTES)[None, :]
    head = arr[np.minimum(idx, len(arr) - 1)]
    head = np.where(np.arange(HEAD_BYTES)[None, :] < lengths[:, None], head, 0).astype(np.uint8)
    zeros64 = np.zeros(n, dtype=np.uint64)
    chunk = PacketChunk(
        input_index=input_index,
        frame=np.fromiter((r[2] for r in rows), dtype=np.int64, count=n),
        ts=np.fromiter((r[3] for r in rows), dtype=np.float64, count=n),
        wire_len=lengths.copy(), ip_version=np.zeros(n, dtype=np.uint8), proto=np.full(n, 17, dtype=np.uint8),
        src_hi=zeros64, src_lo=zeros64, dst_hi=zeros64, dst_lo=zeros64,
        sport=np.zeros(n, dtype=np.uint16), dport=np.zeros(n, dtype=np.uint16),
        tcp_flags=np.zeros(n, dtype=np.uint8), tcp_seq=np.zeros(n, dtype=np.uint32),
        fragment=np.zeros(n, dtype=bool), payload_off=offsets, payload_len=lengths, head=head, buf=buf)
    return CarriedChunk(chunk, np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
                        np.fromiter((r[1] for r in rows), dtype=bool, count=n))


def _plausible_frame(frame: bytes) -> bool:
    """An RFC 4571 frame holding STUN (cookie, exact length), DTLS (exact record length), RTP or RTCP."""
    if len(frame) < 8:
        return False
    first = frame[0]
    if first < 0x04:
        return frame[4:8] == _COOKIE and len(frame) == 20 + int.from_bytes(frame[2:4], "big")
    if 20 <= first <= 26:
        return len(frame) >= 13 and frame[1] == 0xFE and len(frame) >= 13 + int.from_bytes(frame[11:13], "big")
    return first >> 6 == 2 and len(frame) >= 12


def _plausible_start(frame: bytes) -> bool:
    """The start of a frame that continues in the next segment: a DTLS record header or an RTP header."""
    if len(frame) < 13:
        return False
    return (20 <= frame[0] <= 26 and frame[1] == 0xFE) or (frame[0] >> 6 == 2 and not 192 <= frame[1] <= 223)


def framing_of(segment: bytes, stream_start: bool) -> FramingMode | None:
    """RFC4571 or STUN_FRAMING when a TCP payload segment starts (or is made of) that framing; None otherwise.

    A segment holding the first byte of its direction (its sequence number follows the SYN) may
    end inside a frame (a large DTLS flight); any other segment must split into whole, plausible
    frames exactly -- random TLS or chat bytes do not.
    """
    if len(segment) >= 20 and segment[0] < 0x04 and segment[4:8] == _COOKIE:
        return STUN_FRAMING
    pos = 0
    frames = 0
    while pos + 2 <= len(segment):
        size = int.from_bytes(segment[pos: pos + 2], "big")
        frame = segment[pos + 2: pos + 2 + size]
        if len(frame) < size:  # the frame continues in the next segment
            return RFC4571 if stream_start and frames == 0 and _plausible_start(frame) else None
        if not _plausible_frame(frame):
            return None
        frames += 1
        pos += 2 + size
    return RFC4571 if frames and pos == len(segment) else None


@dataclass
class _Direction:
    """Reassembly state of one direction of a framed TCP flow."""

    next_seq: int | None = None
    buf: bytearray = field(default_factory=bytearray)
    pending: dict[int, tuple[bytes, int, float]] = field(default_factory=dict)
    lost_bytes: int = 0
    stopped: str | None = None


@dataclass
class FramedFlow:
    """A TCP flow whose payload is split into messages."""

    mode: FramingMode
    """RFC4571 or STUN_FRAMING."""
    messages: int = 0
    """Whole messages split out so far."""
    sides: dict[bool, _Direction] = field(default_factory=lambda: {True: _Direction(), False: _Direction()})

    def problems(self) -> list[str]:
        """Why framing stopped or bytes were skipped, per direction."""
        out = []
        for forward, side in sorted(self.sides.items(), reverse=True):
            name = "src->dst" if forward else "dst->src"
            if side.stopped:
                out.append(f"{name}: {side.stopped}")
            if side.lost_bytes:
                out.append(f"{name}: {side.lost_bytes} bytes missing from the capture (a TCP gap): messages in them not analysed")
        return out


class TcpFramer:
    """Finds framed TCP flows and splits their byte streams into messages (bounded memory per flow)."""

    def __init__(self) -> None:
        self.flows: dict[int, FramedFlow] = {}
        self._tries: dict[int, int] = {}
        self._stream_start: dict[tuple[int, bool], int] = {}
        """(flow, direction) -> sequence number of the first data byte, from the SYN (ISN + 1)."""
        self._not_framed: set[int] = set()

    def feed(self, chunk: Any, gidx: Any, forward: Any, bugs: ParserBugs) -> CarriedChunk | None:
        """Messages completed by the TCP segments of ``chunk``, as a CarriedChunk (None when there are none)."""
        import numpy as np

        tcp = chunk.proto == 6
        for row in np.flatnonzero(tcp & ((chunk.tcp_flags & 0x02) != 0)).tolist():
            key = (int(gidx[row]), bool(forward[row]))
            self._stream_start.setdefault(key, (int(chunk.tcp_seq[row]) + 1) % (1 << 32))
        rows = np.flatnonzero(tcp & (chunk.payload_len > 0) & ~chunk.fragment)
        if len(rows) == 0:
            return None
        if self._not_framed:
            rows = rows[~np.isin(gidx[rows], np.fromiter(self._not_framed, dtype=np.int64))]
        out: list[tuple[int, bool, int, float, bytes]] = []
        cols = zip(rows.tolist(), gidx[rows].tolist(), forward[rows].tolist(), chunk.tcp_seq[rows].tolist(),
                   chunk.frame[rows].tolist(), chunk.ts[rows].tolist())
        for row, gid, fwd, seq, frame, ts in cols:
            flow = self.flows.get(gid)
            if flow is None:
                if gid in self._not_framed:
                    continue
                mode = framing_of(chunk.payload(row), self._stream_start.get((gid, fwd)) == seq)
                if mode is None:
                    tries = self._tries.get(gid, 0) + 1
                    self._tries[gid] = tries
                    if tries >= MAX_DECIDE_SEGMENTS:
                        self._not_framed.add(gid)
                    continue
                flow = self.flows[gid] = FramedFlow(mode)
                self._tries.pop(gid, None)
            side = flow.sides[fwd]
            if side.stopped:
                continue
            bugs.call("tcp framing", self._segment, flow, side, gid, fwd, seq, chunk.payload(row), frame, ts, out)
        return build_carried(chunk.input_index, out) if out else None

    def _segment(self, flow: FramedFlow, side: _Direction, gid: int, fwd: bool, seq: int, data: bytes,
                 frame: int, ts: float, out: list[tuple[int, bool, int, float, bytes]]) -> None:
        if side.next_seq is None:
            side.next_seq = seq
        expected = side.next_seq
        rel = ((seq - expected + (1 << 31)) % (1 << 32)) - (1 << 31)
        if rel < 0:  # retransmission or overlap: keep only the new bytes
            data = data[-rel:]
            if not data:
                return
        elif rel > 0:
            side.pending[seq] = (data, frame, ts)
            if len(side.pending) <= MAX_PENDING_SEGMENTS:
                return
            skip = min(side.pending, key=lambda s: (s - expected) % (1 << 32))
            side.lost_bytes += (skip - expected) % (1 << 32) + len(side.buf)
            side.buf.clear()  # a message cut by the gap cannot be completed
            side.next_seq = skip
            data, frame, ts = side.pending.pop(skip)
        self._append(flow, side, gid, fwd, data, frame, ts, out)
        while side.next_seq in side.pending and not side.stopped:
            data, frame, ts = side.pending.pop(side.next_seq)
            self._append(flow, side, gid, fwd, data, frame, ts, out)

    def _append(self, flow: FramedFlow, side: _Direction, gid: int, fwd: bool, data: bytes, frame: int,
                ts: float, out: list[tuple[int, bool, int, float, bytes]]) -> None:
        side.next_seq = ((side.next_seq or 0) + len(data)) % (1 << 32)  # set by _segment before any append
        side.buf += data
        messages, problem = split_messages(side.buf, flow.mode)
        for message in messages:
            out.append((gid, fwd, frame, ts, message))
        flow.messages += len(messages)
        if problem is not None:
            side.stopped = f"framing lost ({problem}); the rest of this direction is not split into messages"
            side.buf.clear()
            side.pending.clear()


def split_messages(buf: bytearray, mode: FramingMode) -> tuple[list[bytes], str | None]:
    """Remove every whole message at the front of ``buf``: (messages, why splitting stopped or None).

    A non-None reason means the stream holds bytes that are no frame of ``mode`` (in STUN framing:
    a message without the magic cookie); the messages before them are still returned.
    """
    from confaudit.wire.stun import frame_stun_tcp

    framed = frame_stun_tcp(bytes(buf), rfc4571=mode == RFC4571)
    messages = list(framed.frames)
    consumed = framed.consumed
    problem = framed.problem if framed.problem and not framed.problem.startswith("truncated") else None
    if mode == STUN_FRAMING:
        for i, message in enumerate(messages):
            if message[0] < 0x40 and message[4:8] != _COOKIE:
                problem = f"a STUN-framed stream holds a message without the magic cookie (first byte 0x{message[0]:02x})"
                messages = messages[:i]
                break
    if problem is None:
        del buf[:consumed]
    return messages, problem


def relayed_by_indications(chunk: Any, classes: Any, gidx: Any, forward: Any, bugs: ParserBugs) -> CarriedChunk | None:
    """What the TURN Send/Data indications of ``chunk`` relay, as a CarriedChunk (None when there are none)."""
    import numpy as np

    from confaudit.analysis import classify
    from confaudit.wire.turn import indication_data

    head = chunk.head
    msg_type = (head[:, 0].astype(np.int64) << 8) | head[:, 1]
    rfc = (classes == classify.TURN) & ((msg_type == 0x0016) | (msg_type == 0x0017))
    ms_turn = (classes == classify.STUN_CLASSIC) & ((msg_type == 0x0004) | (msg_type == 0x0115))
    rows = np.flatnonzero(rfc | ms_turn)
    if len(rows) == 0:
        return None
    out: list[tuple[int, bool, int, float, bytes]] = []
    cols = zip(rows.tolist(), gidx[rows].tolist(), forward[rows].tolist(), chunk.frame[rows].tolist(), chunk.ts[rows].tolist())
    for row, gid, fwd, frame, ts in cols:
        message = chunk.payload(row)
        found = bugs.call("turn", indication_data, message)
        if found is not None and found.length:
            out.append((gid, fwd, frame, ts, message[found.offset: found.offset + found.length]))
    return build_carried(chunk.input_index, out) if out else None
