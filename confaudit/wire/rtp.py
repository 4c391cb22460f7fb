"""RTP headers (RFC 3550, header extensions RFC 8285), RTCP compounds and the SRTCP trailer test.

RTP/RTCP headers stay in clear under SRTP, so these parse SRTP/SRTCP too; telling plain from
encrypted media is done with the SRTCP trailer here and payload structure in ``codecs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import record_dict, safe_text
from confaudit.wire.names import RTCP_PACKET_TYPES, RTP_STATIC_PAYLOAD_TYPES

_MAX_EXT_ELEMENTS = 64
_MAX_RTCP_PACKETS = 64


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """An RTP (or SRTP: the header is clear) packet header."""

    version: int
    """Always 2."""
    padding: bool
    """P bit."""
    extension: bool
    """X bit."""
    csrc_count: int
    """CC field."""
    marker: bool
    """M bit (end of video frame / talk spurt)."""
    pt: int
    """Payload type 0-127."""
    seq: int
    """Sequence number."""
    timestamp: int
    """RTP timestamp."""
    ssrc: int
    """Synchronisation source."""
    csrcs: tuple[int, ...]
    """Contributing sources."""
    extension_profile: int | None
    """0xBEDE (one-byte), 0x100X (two-byte) or another profile; None without extension."""
    extension_elements: tuple[tuple[int, int], ...]
    """RFC 8285 elements as (id, length) (empty for other profiles)."""
    extension_values: tuple[tuple[int, str], ...]
    """RFC 8285 elements as (id, value hex capped at 16 bytes): in clear under SRTP (e.g. audio level, RFC 6464)."""
    cryptex: bool
    """Extension block profile 0xC0DE/0xC2DE: header extensions encrypted (RFC 9335)."""
    payload_offset: int
    """Offset of the payload in the packet."""
    payload_len: int
    """Payload bytes after removing padding (includes any SRTP auth tag)."""
    padding_len: int
    """Padding bytes removed (0 when the padding count was implausible; see problems)."""
    problems: tuple[str, ...]
    """Oddities (bad padding count, malformed extension elements)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


@dataclass(frozen=True, slots=True)
class RtcpPacket:
    """One packet of an RTCP compound."""

    pt: int
    """Packet type 192-223."""
    name: str | None
    """"SR", "RR", "SDES", "BYE", "APP", "RTPFB", "PSFB", "XR", ..."""
    count: int
    """RC / SC / FMT field (5 bits)."""
    length: int
    """Packet length in bytes (header included)."""
    ssrc: int | None
    """Sender SSRC (SR/RR/APP/feedback/XR), first chunk SSRC for SDES, first SSRC for BYE."""
    cnames: tuple[str, ...]
    """SDES CNAME items (SDES only; plain RTCP leaks these)."""
    app_name: str | None
    """APP 4-character name."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


@dataclass(frozen=True, slots=True)
class RtcpCompound:
    """An RTCP compound packet as far as its length fields walk."""

    packets: tuple[RtcpPacket, ...]
    """Packets whose headers validated, in order."""
    sender_ssrc: int | None
    """SSRC of the first packet (the sender)."""
    walked_len: int
    """Bytes covered by the validated packets."""
    trailing_len: int
    """Bytes after them (SRTCP index + auth tag, or encrypted packets)."""
    exact: bool
    """True when the length fields walk exactly to the end (plain RTCP)."""
    cnames: tuple[str, ...]
    """All SDES CNAMEs."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def static_payload_type(pt: int) -> tuple[str, str, int] | None:
    """(encoding, kind "audio"/"video"/"av", clock rate) of an RFC 3551 static payload type."""
    return RTP_STATIC_PAYLOAD_TYPES.get(pt)


def _extension(data: bytes, pos: int) -> tuple[int, list[tuple[int, bytes]], int, list[str]] | None:
    if pos + 4 > len(data):
        return None
    profile = int.from_bytes(data[pos : pos + 2], "big")
    words = int.from_bytes(data[pos + 2 : pos + 4], "big")
    end = pos + 4 + 4 * words
    if end > len(data):
        return None
    body = data[pos + 4 : end]
    elements: list[tuple[int, bytes]] = []
    problems: list[str] = []
    i = 0
    if profile == 0xBEDE:
        while i < len(body) and len(elements) < _MAX_EXT_ELEMENTS:
            ident, length = body[i] >> 4, (body[i] & 0x0F) + 1
            if ident == 0:
                i += 1
                continue
            if ident == 15:
                break
            if i + 1 + length > len(body):
                problems.append("one-byte extension element overruns the block")
                break
            elements.append((ident, body[i + 1 : i + 1 + length]))
            i += 1 + length
    elif profile & 0xFFF0 == 0x1000:
        while i < len(body) and len(elements) < _MAX_EXT_ELEMENTS:
            ident = body[i]
            if ident == 0:
                i += 1
                continue
            if i + 2 > len(body) or i + 2 + body[i + 1] > len(body):
                problems.append("two-byte extension element overruns the block")
                break
            elements.append((ident, body[i + 2 : i + 2 + body[i + 1]]))
            i += 2 + body[i + 1]
    return profile, elements, end, problems


def parse_rtp(data: bytes) -> RtpHeader | None:
    """RTP v2 header; None for non-RTP, truncated headers and RTCP-range second bytes (RFC 5761 §4)."""
    data = bytes(data)
    if len(data) < 12 or data[0] >> 6 != 2 or 192 <= data[1] <= 223:
        return None
    cc = data[0] & 0x0F
    pos = 12 + 4 * cc
    if pos > len(data):
        return None
    csrcs = tuple(int.from_bytes(data[12 + 4 * i : 16 + 4 * i], "big") for i in range(cc))
    problems: list[str] = []
    profile: int | None = None
    elements: list[tuple[int, bytes]] = []
    if data[0] & 0x10:
        ext = _extension(data, pos)
        if ext is None:
            return None
        profile, elements, pos, ext_problems = ext
        problems.extend(ext_problems)
    payload_len = len(data) - pos
    padding_len = 0
    if data[0] & 0x20:
        count = data[-1]
        if 1 <= count <= payload_len:
            padding_len = count
            payload_len -= count
        else:
            problems.append(f"padding count {count} does not fit the payload (SRTP tag or damage)")
    return RtpHeader(
        version=2, padding=bool(data[0] & 0x20), extension=bool(data[0] & 0x10), csrc_count=cc,
        marker=bool(data[1] & 0x80), pt=data[1] & 0x7F, seq=int.from_bytes(data[2:4], "big"),
        timestamp=int.from_bytes(data[4:8], "big"), ssrc=int.from_bytes(data[8:12], "big"), csrcs=csrcs,
        extension_profile=profile, extension_elements=tuple((i, len(v)) for i, v in elements),
        extension_values=tuple((i, v[:16].hex()) for i, v in elements), cryptex=profile in (0xC0DE, 0xC2DE),
        payload_offset=pos, payload_len=payload_len,
        padding_len=padding_len, problems=tuple(problems),
    )


def _sdes_cnames(body: bytes, chunks: int) -> tuple[str, ...] | None:
    """CNAMEs of an SDES body; None when the chunk structure does not validate."""
    names: list[str] = []
    pos = 0
    for _ in range(chunks):
        if pos + 4 > len(body):
            return None
        pos += 4
        while True:
            if pos >= len(body):
                return None
            item = body[pos]
            if item == 0:
                pos += 1
                pos += -pos % 4
                break
            if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                return None
            if item == 1:
                names.append(safe_text(body[pos + 2 : pos + 2 + body[pos + 1]], 255))
            pos += 2 + body[pos + 1]
    return tuple(names)


def parse_rtcp(data: bytes) -> RtcpCompound | None:
    """Walk an RTCP compound; None unless at least the first packet validates."""
    data = bytes(data)
    packets: list[RtcpPacket] = []
    pos = 0
    while pos + 4 <= len(data) and len(packets) < _MAX_RTCP_PACKETS:
        first, pt = data[pos], data[pos + 1]
        length = (int.from_bytes(data[pos + 2 : pos + 4], "big") + 1) * 4
        if first >> 6 != 2 or not 192 <= pt <= 223 or pos + length > len(data):
            break
        if data[pos] & 0x20 and pos + length == len(data) and not 0 < data[pos + length - 1] <= length - 4:
            break  # padding bit on the last packet needs a plausible count
        count = first & 0x1F
        body = data[pos + 4 : pos + length]
        ssrc = int.from_bytes(body[:4], "big") if len(body) >= 4 else None
        if pt in (200, 201) and len(body) < (24 if pt == 200 else 4) + 24 * count:
            break
        cnames: tuple[str, ...] = ()
        if pt == 202:
            cnames = _sdes_cnames(body, count) or ()
        app = safe_text(body[4:8], 4) if pt == 204 and len(body) >= 8 else None
        packets.append(RtcpPacket(pt, RTCP_PACKET_TYPES.get(pt), count, length, ssrc, cnames, app))
        pos += length
    if not packets:
        return None
    return RtcpCompound(
        packets=tuple(packets), sender_ssrc=packets[0].ssrc, walked_len=pos, trailing_len=len(data) - pos,
        exact=pos == len(data), cnames=tuple(n for p in packets for n in p.cnames),
    )


def srtcp_trailer(data: bytes) -> tuple[bool, int, int | None] | None:
    """(E flag, SRTCP index, auth tag length guess) when the datagram is longer than its RTCP implies.

    SRTCP (RFC 3711 §3.4) appends E-bit + 31-bit index, then the auth tag (10 bytes for *_80,
    4 for *_32); AEAD (RFC 7714) puts the 16-byte tag inside and the index last. The guess picks the
    layout whose index looks like a real packet counter (E set, index < 2^24), trying MKIs of
    0, 1, 2 and 4 bytes; the tag guess is None when no layout fits.
    """
    compound = parse_rtcp(data)
    if compound is None or compound.exact or len(data) < 8 + 4:
        return None
    candidates: list[tuple[int | None, int]] = []
    if compound.trailing_len in (14, 8):  # unencrypted SRTCP: index right after the clear compound
        candidates.append((compound.trailing_len - 4, compound.walked_len))
    for mki in (0, 1, 2, 4):  # Skype sends a 1-byte MKI between the index and the tag
        candidates += [(10, len(data) - 14 - mki), (16, len(data) - 4 - mki), (4, len(data) - 8 - mki)]
    for tag_len, pos in candidates:
        if pos < 8:
            continue
        word = int.from_bytes(data[pos : pos + 4], "big")
        if word >> 31 and (word & 0x7FFFFFFF) < (1 << 24) or pos == compound.walked_len:
            return bool(word >> 31), word & 0x7FFFFFFF, tag_len
    word = int.from_bytes(data[len(data) - 14 : len(data) - 10], "big") if len(data) >= 22 else 0
    return bool(word >> 31), word & 0x7FFFFFFF, None
