"""Decrypted RTP packets -> codec frames (RFC 2198 RED, RFC 7741 VP8, RFC 9628 VP9, RFC 6184 H.264).

Pure functions over bytes; malformed input gives None or an empty result, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

H264_PROFILES = frozenset({66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
"""profile_idc values of real H.264 profiles (an SPS with anything else is not H.264)."""


@dataclass(frozen=True)
class RtpPacket:
    """A decrypted RTP packet, reduced to what frame assembly needs."""

    seq: int
    """Sequence number."""
    timestamp: int
    """RTP timestamp."""
    marker: bool
    """Marker bit (last packet of a video frame)."""
    payload_type: int
    """Payload type."""
    payload: bytes
    """Payload after header, CSRCs, extension and padding."""


def parse_decrypted_rtp(data: bytes) -> RtpPacket | None:
    """Parse a (decrypted) RTP packet; None if it is not RTP v2 or its lengths do not fit."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    pos = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if pos + 4 > len(data):
            return None
        pos += 4 + 4 * int.from_bytes(data[pos + 2:pos + 4], "big")
    end = len(data)
    if data[0] & 0x20:
        if end == 0 or data[-1] == 0 or data[-1] > end - pos:
            return None
        end -= data[-1]
    if pos > end:
        return None
    return RtpPacket(int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"),
                     bool(data[1] & 0x80), data[1] & 0x7F, data[pos:end])


def red_primary(payload: bytes) -> tuple[int, bytes] | None:
    """RFC 2198: (primary payload type, primary block) or None if the headers do not fit."""
    pos = 0
    redundant = 0
    while True:
        if pos >= len(payload):
            return None
        if payload[pos] & 0x80:
            if pos + 4 > len(payload):
                return None
            redundant += int.from_bytes(payload[pos + 2:pos + 4], "big") & 0x3FF
            pos += 4
        else:
            primary_pt = payload[pos] & 0x7F
            pos += 1
            break
    if pos + redundant > len(payload):
        return None
    return primary_pt, payload[pos + redundant:]


def vp8_frame_part(payload: bytes) -> tuple[bool, bytes] | None:
    """RFC 7741 descriptor: (starts a frame, VP8 bytes) or None."""
    from confaudit.wire.codecs import vp8_descriptor as parse_descriptor

    info = parse_descriptor(payload)
    if info is None:
        return None
    return info.start_of_partition and info.partition_id == 0, payload[info.header_len:]


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) from a VP8 keyframe header (RFC 6386 §9.1), None if not a keyframe."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return int.from_bytes(frame[6:8], "little") & 0x3FFF, int.from_bytes(frame[8:10], "little") & 0x3FFF


def vp9_frame_part(payload: bytes) -> tuple[bool, bool, bytes] | None:
    """RFC 9628 descriptor: (begins frame, ends frame, VP9 bytes) or None."""
    if not payload:
        return None
    b0 = payload[0]
    pos = 1
    if b0 & 0x80:  # I: picture id
        if pos >= len(payload):
            return None
        pos += 2 if payload[pos] & 0x80 else 1
    if b0 & 0x20:  # L: layer indices (+ TL0PICIDX in non-flexible mode)
        pos += 1 if b0 & 0x10 else 2
    if b0 & 0x10 and b0 & 0x40:  # F and P: up to 3 P_DIFF bytes
        for _ in range(3):
            if pos >= len(payload):
                return None
            more = payload[pos] & 0x01
            pos += 1
            if not more:
                break
    if b0 & 0x02:  # V: scalability structure
        if pos >= len(payload):
            return None
        ss = payload[pos]
        pos += 1
        spatial = (ss >> 5) + 1
        if ss & 0x10:
            pos += 4 * spatial
        if ss & 0x08:
            if pos >= len(payload):
                return None
            groups = payload[pos]
            pos += 1
            for _ in range(groups):
                if pos >= len(payload):
                    return None
                pos += 1 + ((payload[pos] >> 2) & 0x03)
    if pos > len(payload):
        return None
    return bool(b0 & 0x08), bool(b0 & 0x04), payload[pos:]


def h264_nal_units(payload: bytes, pending: bytearray | None) -> tuple[list[bytes], bytearray | None]:
    """RFC 6184 packet -> complete NAL units (single, STAP-A, FU-A); ``pending`` carries a FU-A across packets."""
    if not payload:
        return [], pending
    nal_type = payload[0] & 0x1F
    if 1 <= nal_type <= 23:
        return [payload], None
    if nal_type == 24:
        units, pos = [], 1
        while pos + 2 <= len(payload):
            size = int.from_bytes(payload[pos:pos + 2], "big")
            if size == 0 or pos + 2 + size > len(payload):
                break
            units.append(payload[pos + 2:pos + 2 + size])
            pos += 2 + size
        return units, None
    if nal_type == 28 and len(payload) >= 2:
        start, end = payload[1] & 0x80, payload[1] & 0x40
        if start:
            pending = bytearray([(payload[0] & 0xE0) | (payload[1] & 0x1F)])
        if pending is None:
            return [], None
        pending += payload[2:]
        if end:
            return [bytes(pending)], None
        return [], pending
    return [], None


def group_frames(packets: list[RtpPacket]) -> list[list[RtpPacket]]:
    """Packets grouped by RTP timestamp in sequence order; only gap-free groups are returned."""
    by_ts: dict[int, list[RtpPacket]] = {}
    order: list[int] = []
    for pkt in packets:
        if pkt.timestamp not in by_ts:
            by_ts[pkt.timestamp] = []
            order.append(pkt.timestamp)
        by_ts[pkt.timestamp].append(pkt)
    frames = []
    for ts in order:
        group = by_ts[ts]
        base = group[0].seq
        group.sort(key=lambda p: (p.seq - base + 0x8000) & 0xFFFF)
        seqs = [(p.seq - group[0].seq) & 0xFFFF for p in group]
        if seqs == list(range(len(group))) and group[-1].marker:
            frames.append(group)
    return frames


def decodable_chain(packets: list[RtpPacket],
                    frame_of: Callable[[list[RtpPacket]], tuple[bytes, bool] | None]) -> tuple[list[bytes], int]:
    """Frames a decoder can take in order: from a keyframe on, restarting at the next keyframe after a loss.

    ``frame_of(group) -> (frame bytes, is_keyframe) | None``. Returns (frames, keyframes seen).
    """
    units: list[bytes] = []
    keyframes = 0
    synced = False
    previous: list[RtpPacket] | None = None
    for group in group_frames(packets):
        follows = previous is not None and group[0].seq == (previous[-1].seq + 1) & 0xFFFF
        previous = group
        parsed = frame_of(group)
        if parsed is None:
            synced = False
            continue
        frame, is_key = parsed
        keyframes += is_key
        synced = is_key or (synced and follows)
        if synced:
            units.append(frame)
    return units, keyframes


def vp8_frame(group: list[RtpPacket]) -> tuple[bytes, bool] | None:
    maybe = [vp8_frame_part(p.payload) for p in group]
    if any(x is None for x in maybe):
        return None
    parts = cast("list[tuple[bool, bytes]]", maybe)  # no None among them, checked just above
    if not parts[0][0]:
        return None
    frame = b"".join(x[1] for x in parts)
    return frame, vp8_keyframe_size(frame) is not None


def vp9_frame(group: list[RtpPacket]) -> tuple[bytes, bool] | None:
    maybe = [vp9_frame_part(p.payload) for p in group]
    if any(x is None for x in maybe):
        return None
    parts = cast("list[tuple[bool, bool, bytes]]", maybe)  # no None among them, checked just above
    if not parts[0][0]:
        return None
    # With spatial layers (SVC) one timestamp carries several layer frames, each opened by a B bit:
    # decode the base layer only (the layers are not a valid superframe when simply concatenated).
    starts = [i for i, x in enumerate(parts) if x[0]]
    if len(starts) > 1:
        parts = parts[:starts[1]]
    frame = b"".join(x[2] for x in parts)
    # uncompressed header: frame marker 0b10, then a keyframe carries sync code 49 83 42
    return frame, len(frame) > 4 and frame[0] >> 6 == 2 and b"\x49\x83\x42" in frame[1:5]


def h264_frame(group: list[RtpPacket]) -> tuple[bytes, bool] | None:
    nals: list[bytes] = []
    pending = None
    for p in group:
        got, pending = h264_nal_units(p.payload, pending)
        nals.extend(got)
    if not nals or any(n[0] & 0x80 for n in nals):
        return None
    # An IDR access unit starts with an SPS whose profile_idc is a real H.264 profile.
    has_sps = any(n[0] & 0x1F == 7 and len(n) > 3 and n[1] in H264_PROFILES for n in nals)
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals), has_sps
