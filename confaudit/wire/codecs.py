"""Codec payload structure (RFC 6716 Opus TOC, RFC 7741 VP8, RFC 9628 VP9, RFC 6184 H.264, RFC 2198 RED, G.711).

Used to tell plaintext RTP from SRTP across packets (``confaudit.wire.structure.judge_stream``) and, by the E2EE
stage, to test decrypted payloads. Pure functions; never raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from confaudit.wire._records import record_dict
from confaudit.wire.g711 import g711_plausible

__all__ = ["H264Nal", "H264Payload", "OPUS_TINY_PAYLOAD", "OpusToc", "Vp8Info", "Vp9Info", "g711_plausible", "h264_nal",
           "h264_payload", "opus_toc", "red_unwrap", "vp8_descriptor", "vp9_descriptor"]

OPUS_TINY_PAYLOAD = 3
"""Opus payloads of at most this many bytes are DTX and digital-silence frames: the TOC and at most 2 bytes."""

_OPUS_BANDWIDTHS = ("NB", "MB", "WB", "SWB", "FB")
_VP8_START_CODE = b"\x9d\x01\x2a"
_VP9_SYNC_CODE = b"\x49\x83\x42"
_MAX_RED_BLOCKS = 16


class OpusToc(NamedTuple):
    """The Opus TOC byte (RFC 6716 §3.1)."""

    config: int
    mode: str
    bandwidth: str
    frame_ms: float
    stereo: bool
    frame_count_code: int


def opus_toc(payload: bytes) -> OpusToc | None:
    """Decode the first byte of an Opus packet; None for an empty payload."""
    if not payload:
        return None
    toc = payload[0]
    config = toc >> 3
    frame_ms: float  # 2.5 ms CELT frames; the others are whole milliseconds
    if config < 12:
        mode, bandwidth, frame_ms = "SILK", _OPUS_BANDWIDTHS[min(config // 4, 2)], (10, 20, 40, 60)[config % 4]
    elif config < 16:
        mode, bandwidth, frame_ms = "Hybrid", ("SWB", "FB")[(config - 12) // 2], (10, 20)[config % 2]
    else:
        index = (config - 16) // 4
        mode, bandwidth, frame_ms = "CELT", ("NB", "WB", "SWB", "FB")[index], (2.5, 5, 10, 20)[config % 4]
    return OpusToc(config, mode, bandwidth, float(frame_ms), bool(toc & 0x04), toc & 0x03)


@dataclass(frozen=True, slots=True)
class Vp8Info:
    """VP8 RTP payload descriptor (RFC 7741 §4.2) and, at a partition start, the frame header."""

    header_len: int
    """Descriptor length in bytes (1-6)."""
    start_of_partition: bool
    """S bit."""
    partition_id: int
    """PID (0-7)."""
    reserved_ok: bool
    """Reserved bits are zero (always true for real VP8, half the time for random bytes)."""
    keyframe: bool | None
    """Frame tag says key frame (only known at S=1, PID=0)."""
    width: int | None
    """Key frame width (14 bits) when the start code is present."""
    height: int | None
    """Key frame height (14 bits) when the start code is present."""
    start_code_ok: bool | None
    """Key frame carries the 9D 01 2A start code (None when not a key-frame start)."""
    tag_version: int | None
    """Frame tag version field (0-3 valid), at a frame start."""
    show_frame: bool | None
    """Frame tag show_frame bit, at a frame start."""
    picture_id: int | None = None
    """PictureID (7 or 15 bits) when the I bit is set."""
    first_partition_size: int | None = None
    """Frame tag first_part_size (19 bits), at a frame start."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def vp8_descriptor(payload: bytes) -> Vp8Info | None:
    """Parse a VP8 payload descriptor; None when too short to hold one."""
    b = bytes(payload)
    if not b:
        return None
    first = b[0]
    pos = 1
    reserved_ok = not first & 0x40
    picture_id = None
    if first & 0x80:
        if len(b) < 2:
            return None
        ext = b[1]
        reserved_ok = reserved_ok and not ext & 0x0F
        pos = 2
        if ext & 0x80:
            if pos >= len(b) or (b[pos] & 0x80 and pos + 1 >= len(b)):
                return None
            picture_id = ((b[pos] & 0x7F) << 8 | b[pos + 1]) if b[pos] & 0x80 else b[pos]
            pos += 2 if b[pos] & 0x80 else 1
        if ext & 0x40:
            pos += 1
        if ext & 0x30:
            pos += 1
    if pos > len(b):
        return None
    start, pid = bool(first & 0x10), first & 0x07
    keyframe = width = height = start_code_ok = version = show = first_size = None
    frame = b[pos:]
    if start and pid == 0 and len(frame) >= 3:
        keyframe = not frame[0] & 0x01
        first_size = int.from_bytes(frame[:3], "little") >> 5
        version = (frame[0] >> 1) & 0x07
        show = bool(frame[0] & 0x10)
        if keyframe:
            start_code_ok = frame[3:6] == _VP8_START_CODE
            if start_code_ok and len(frame) >= 10:
                width = int.from_bytes(frame[6:8], "little") & 0x3FFF
                height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return Vp8Info(pos, start, pid, reserved_ok, keyframe, width, height, start_code_ok, version, show, picture_id,
                   first_size)


@dataclass(frozen=True, slots=True)
class Vp9Info:
    """VP9 RTP payload descriptor (RFC 9628 §4.2)."""

    header_len: int
    """Descriptor length in bytes."""
    picture_id: int | None
    """Picture ID (7 or 15 bits) when I is set."""
    inter_predicted: bool
    """P bit."""
    flexible: bool
    """F bit."""
    begin_frame: bool
    """B bit."""
    end_frame: bool
    """E bit."""
    scalability_structure: bool
    """V bit (SS data present)."""
    keyframe: bool
    """B set and P clear (start of an intra frame)."""
    sync_code_ok: bool | None
    """Key-frame uncompressed header has frame marker 0b10 and sync code 49 83 42 (None when not a key frame)."""
    width: int | None
    """First spatial layer width from SS data."""
    height: int | None
    """First spatial layer height from SS data."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def vp9_descriptor(payload: bytes) -> Vp9Info | None:
    """Parse a VP9 payload descriptor; None when truncated inside it."""
    b = bytes(payload)
    if not b:
        return None
    first = b[0]
    i_bit, p_bit, l_bit, f_bit = first & 0x80, first & 0x40, first & 0x20, first & 0x10
    b_bit, e_bit, v_bit = first & 0x08, first & 0x04, first & 0x02
    pos = 1
    picture_id = None
    width = height = None
    try:
        if i_bit:
            picture_id = ((b[pos] & 0x7F) << 8 | b[pos + 1]) if b[pos] & 0x80 else b[pos] & 0x7F
            pos += 2 if b[pos] & 0x80 else 1
        if l_bit:
            pos += 1 if f_bit else 2
        if f_bit and p_bit:
            for _ in range(3):
                more = b[pos] & 0x01
                pos += 1
                if not more:
                    break
        if v_bit:
            ss = b[pos]
            pos += 1
            layers = (ss >> 5) + 1
            if ss & 0x10:
                width, height = int.from_bytes(b[pos : pos + 2], "big"), int.from_bytes(b[pos + 2 : pos + 4], "big")
                pos += 4 * layers
            if ss & 0x08:
                groups = b[pos]
                pos += 1
                for _ in range(groups):
                    refs = (b[pos] >> 2) & 0x03
                    pos += 1 + refs
        if pos > len(b):
            return None
    except IndexError:
        return None
    keyframe = bool(b_bit and not p_bit)
    sync = None
    frame = b[pos:]
    if keyframe and len(frame) >= 4:
        profile = ((frame[0] >> 5) & 1) | (((frame[0] >> 4) & 1) << 1)
        if profile == 3:
            bits = int.from_bytes(frame[:5].ljust(5, b"\0"), "big") >> 7  # sync code 1 bit later
            sync = frame[0] >> 6 == 2 and (bits & 0xFFFFFF) == 0x498342
        else:
            sync = frame[0] >> 6 == 2 and frame[1:4] == _VP9_SYNC_CODE
    return Vp9Info(pos, picture_id, bool(p_bit), bool(f_bit), bool(b_bit), bool(e_bit), bool(v_bit), keyframe, sync,
                   width, height)


class H264Nal(NamedTuple):
    """The one-byte NAL unit header of an H.264 RTP payload (RFC 6184 §5.3)."""

    nal_type: int
    """Header type: 1-23 single NAL, 24 STAP-A, 25 STAP-B, 26/27 MTAP, 28 FU-A, 29 FU-B."""
    nri: int
    """nal_ref_idc."""
    forbidden_bit: int
    """Must be 0."""


@dataclass(frozen=True, slots=True)
class H264Payload:
    """H.264 RTP payload details beyond the NAL header."""

    nal: H264Nal
    """The payload's NAL header."""
    inner_types: tuple[int, ...]
    """Types of aggregated NALs (STAP-A) or the fragmented NAL's type (FU-A)."""
    fu_start: bool | None
    """FU-A start bit."""
    fu_end: bool | None
    """FU-A end bit."""
    valid: bool
    """Forbidden bit 0, known type, aggregation lengths walk exactly, inner forbidden bits 0."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def h264_nal(payload: bytes) -> H264Nal | None:
    """(nal_type, nri, forbidden_bit) of an H.264 RTP payload; None when empty."""
    if not payload:
        return None
    head = payload[0]
    return H264Nal(head & 0x1F, (head >> 5) & 0x03, head >> 7)


def h264_payload(payload: bytes) -> H264Payload | None:
    """NAL header plus STAP-A / FU-A structure and an overall validity flag."""
    nal = h264_nal(payload)
    if nal is None:
        return None
    inner: list[int] = []
    fu_start = fu_end = None
    valid = nal.forbidden_bit == 0 and 1 <= nal.nal_type <= 29
    if nal.nal_type == 24:
        pos = 1
        while pos + 2 <= len(payload) and len(inner) < 64:
            size = int.from_bytes(payload[pos : pos + 2], "big")
            if size == 0 or pos + 2 + size > len(payload):
                valid = False
                break
            inner.append(payload[pos + 2] & 0x1F)
            valid = valid and not payload[pos + 2] & 0x80
            pos += 2 + size
        valid = valid and pos == len(payload) and bool(inner)
    elif nal.nal_type == 28:
        if len(payload) < 2:
            valid = False
        else:
            fu = payload[1]
            fu_start, fu_end = bool(fu & 0x80), bool(fu & 0x40)
            inner.append(fu & 0x1F)
            valid = valid and not (fu_start and fu_end) and not fu & 0x20 and 1 <= fu & 0x1F <= 23
    return H264Payload(nal, tuple(inner), fu_start, fu_end, valid)


def red_unwrap(payload: bytes) -> tuple[int, bytes, tuple[tuple[int, int, bytes], ...]] | None:
    """RFC 2198 RED: (primary pt, primary payload, ((pt, timestamp offset, block), ...)); None if lengths do not fit."""
    b = bytes(payload)
    headers: list[tuple[int, int, int]] = []
    pos = 0
    while True:
        if pos >= len(b) or len(headers) > _MAX_RED_BLOCKS:
            return None
        if not b[pos] & 0x80:
            primary_pt = b[pos] & 0x7F
            pos += 1
            break
        if pos + 4 > len(b):
            return None
        word = int.from_bytes(b[pos : pos + 4], "big")
        headers.append(((word >> 24) & 0x7F, (word >> 10) & 0x3FFF, word & 0x3FF))
        pos += 4
    blocks: list[tuple[int, int, bytes]] = []
    for pt, offset, length in headers:
        if pos + length > len(b):
            return None
        blocks.append((pt, offset, b[pos : pos + length]))
        pos += length
    return primary_pt, b[pos:], tuple(blocks)

