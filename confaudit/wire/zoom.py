"""Zoom's native media encapsulation (Princeton IMC 2022, research note 02 §B7).

Server-relayed (SFU) packets carry an 8-byte outer header (byte 0 = 0x05, byte 7 = 0x00 client to
server / 0x04 server to client) before the inner Zoom header; peer-to-peer packets start with the
inner header. The inner type byte says what follows and the RTP header sits at a fixed offset.
Whether a flow IS Zoom is decided per flow (``score_zoom_payloads``), never from one packet.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from confaudit.wire._records import record_dict
from confaudit.wire.rtp import RtcpCompound, RtpHeader, parse_rtcp, parse_rtp

SFU_MEDIA = 0x05
_DIRECTIONS = {0x00: "c2s", 0x04: "s2c"}
# Names and RTP offsets follow Princeton's zoom-analysis (IMC 2022) and its Wireshark dissector:
# 0x0D is screen share only when inner byte 7 is 0x1E; 0x01 carries RTP at 26; 0x21-0x23 RTCP at 16.
INNER_TYPES = {0x01: "zoom_0x01", 0x0C: "zoom_0x0c", 0x0D: "zoom_0x0d", 0x0F: "audio", 0x10: "video",
               0x15: "zoom_0x15", 0x1E: "screen_share", 0x1F: "zoom_0x1f", 0x20: "zoom_0x20", 0x21: "rtcp",
               0x22: "rtcp", 0x23: "rtcp"}
_RTCP_TYPES = (0x21, 0x22, 0x23)
_RTCP_OFFSET = 16
_STUN_COOKIE = b"\x21\x12\xa4\x42"


ZoomMode = Literal["sfu", "p2p"]
"""Server-relayed (outer 0x05 header) or peer-to-peer (inner header first)."""


@dataclass(frozen=True, slots=True)
class ZoomPacket:
    """One Zoom media-path packet."""

    mode: ZoomMode
    """"sfu" (outer 0x05 header: server-relayed) or "p2p" (inner header at offset 0)."""
    direction: str | None
    """"c2s" / "s2c" from outer byte 7 (SFU only)."""
    inner_offset: int
    """Offset of the inner Zoom header (8 for SFU, 0 for P2P)."""
    inner_type: int
    """Inner type byte."""
    inner_type_name: str
    """"audio", "video", "screen_share", "rtcp" or "zoom_0x.." for types without a documented meaning."""
    rtp_offset: int | None
    """Absolute offset of the embedded RTP/RTCP header when the type has one."""
    rtp: RtpHeader | None
    """Embedded RTP header (audio/video/screen share) when it parses at the documented offset."""
    rtcp: RtcpCompound | None
    """Embedded RTCP (inner types 0x21-0x23) when it parses."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


@dataclass(frozen=True, slots=True)
class ZoomFlowScore:
    """How much of one flow's payloads fit Zoom's media format."""

    packets: int
    """Payloads examined."""
    zoom_packets: int
    """Payloads with a Zoom outer or known inner header."""
    media_packets: int
    """Payloads whose embedded RTP/RTCP parsed at the documented offset."""
    mode: ZoomMode | None
    """"sfu" or "p2p" by majority of media packets, None when there are none."""
    is_zoom: bool
    """At least 5 media packets and at least half of all payloads in Zoom format."""
    inner_types: dict[str, int]
    """Count per inner type name."""
    payload_types: dict[int, int]
    """Count per embedded RTP payload type."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def _type_name(inner: bytes) -> str:
    if inner[0] == 0x0D and len(inner) > 7 and inner[7] == 0x1E:
        return "screen_share"
    return INNER_TYPES[inner[0]]


def _rtp_offset(inner: bytes, inner_type: int) -> int | None:
    if inner_type == 0x01:
        return 26
    if inner_type == 0x0F:
        return 19
    if inner_type == 0x10:
        return 24 if len(inner) > 20 and inner[20] == 0x02 else 20
    if inner_type == 0x0D and len(inner) > 7 and inner[7] == 0x1E:
        return 27
    if inner_type == 0x1E:
        return 20
    if inner_type in _RTCP_TYPES:
        return _RTCP_OFFSET
    return None


def parse_zoom_media(data: bytes) -> ZoomPacket | None:
    """Parse one UDP payload as Zoom media; None when neither header form fits."""
    data = bytes(data)
    mode: ZoomMode
    if len(data) >= 9 and data[0] == SFU_MEDIA and data[7] in _DIRECTIONS:
        mode, base, direction = "sfu", 8, _DIRECTIONS[data[7]]
    elif data and data[0] in INNER_TYPES and data[4:8] != _STUN_COOKIE:
        # Type 0x01 shares its first byte with STUN success responses: the cookie tells them apart.
        mode, base, direction = "p2p", 0, None
    else:
        return None
    inner = data[base:]
    if not inner or inner[0] not in INNER_TYPES:
        return None if mode == "p2p" else ZoomPacket(mode, direction, base, inner[0] if inner else -1,
                                                         f"zoom_0x{inner[0]:02x}" if inner else "empty", None, None, None)
    inner_type = inner[0]
    rel = _rtp_offset(inner, inner_type)
    rtp = rtcp = None
    if rel is not None and rel < len(inner):
        if inner_type in _RTCP_TYPES:
            rtcp = parse_rtcp(inner[rel:])
        else:
            rtp = parse_rtp(inner[rel:])
    return ZoomPacket(mode, direction, base, inner_type, _type_name(inner),
                      base + rel if rel is not None else None, rtp, rtcp)


def score_zoom_payloads(payloads: list[bytes]) -> ZoomFlowScore:
    """Score one flow's UDP payloads against Zoom's media format (bounded to 5000 payloads)."""
    sample = payloads[:5000]
    parsed = [parse_zoom_media(p) for p in sample]
    zoom = [z for z in parsed if z is not None]
    media = [z for z in zoom if z.rtp is not None or z.rtcp is not None]
    modes = Counter(z.mode for z in media)
    pts = Counter(z.rtp.pt for z in media if z.rtp is not None)
    return ZoomFlowScore(
        packets=len(sample), zoom_packets=len(zoom), media_packets=len(media),
        mode=modes.most_common(1)[0][0] if modes else None,
        is_zoom=len(media) >= 5 and len(zoom) * 2 >= max(len(sample), 1),
        inner_types=dict(Counter(z.inner_type_name for z in zoom)), payload_types=dict(pts),
    )
