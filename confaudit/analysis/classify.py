"""Per-packet shape classes computed with numpy from the first 16 payload bytes.

A class is only a hint about what a packet LOOKS like (RFC 7983 first-byte ranges, STUN magic
cookie, TLS record header, ...). Labels are decided per flow later (``labels.py``): DNS ids can
look like STUN, QUIC short headers land in the STUN/DTLS ranges, and Zoom's media is outside
RFC 7983 altogether.
"""

from __future__ import annotations

from typing import Any

EMPTY = 0
"""No transport payload (TCP control segments, empty datagrams)."""
STUN = 1
"""STUN Binding (or unknown method) with the RFC 5389 magic cookie."""
TURN = 2
"""STUN-format TURN method (Allocate, Refresh, Send, Data, CreatePermission, ChannelBind)."""
STUN_CLASSIC = 3
"""First byte 0-3 and a length field that fits, but no magic cookie (RFC 3489 style, or not STUN)."""
DTLS = 4
"""DTLS record header: content type 20-26, version major 0xFE (or OpenSSL's pre-standard 0x0100)."""
DTLS13_UNIFIED = 5
"""First byte 0b001CSLEE (DTLS 1.3 unified header); only trusted on a flow with a DTLS handshake."""
CHANNEL_DATA = 6
"""TURN ChannelData: channel 0x4000-0x7FFF and a length that fits the datagram."""
RTP = 7
"""RTP version 2, second byte outside the RTCP packet-type range."""
RTCP = 8
"""RTP version 2 with an RTCP packet type (192-223) in the second byte."""
QUIC_LONG = 9
"""QUIC long header (form and fixed bits set) with a non-zero version, or a Google QUIC public header with a version."""
TLS_RECORD = 10
"""TLS record header (type 20-23, version 3.x)."""
TEXT = 11
"""Starts with printable ASCII letters (SIP, HTTP, other text protocols)."""
OTHER = 12
"""Anything else."""
COUNT = 13

NAMES = ("empty", "stun", "turn", "stun_classic", "dtls", "dtls13_unified", "channel_data", "rtp", "rtcp",
         "quic_long", "tls_record", "text", "other")

_STUN_COOKIE = 0x2112A442


def classify(head: Any, payload_len: Any, proto: Any) -> Any:
    """uint8 class per row from ``head`` (n x 16 uint8), payload lengths and IP protocols."""
    import numpy as np

    from confaudit.pcap.gather import field

    n = len(payload_len)
    out = np.full(n, OTHER, dtype=np.uint8)
    if n == 0:
        return out
    # byte columns stay uint8 (every constant compared with them fits a byte): no int64 copies
    b0 = np.ascontiguousarray(head[:, 0])
    b1 = np.ascontiguousarray(head[:, 1])
    b2 = head[:, 2]
    length16 = field(head, 2, ">u2").astype(np.int64)
    plen = np.asarray(payload_len, dtype=np.int64)
    udp = proto == 17

    letters = ((b0 >= 0x41) & (b0 <= 0x5A)) | ((b0 >= 0x61) & (b0 <= 0x7A))
    printable1 = (b1 >= 0x20) & (b1 < 0x7F)
    out[letters & printable1 & (plen >= 4)] = TEXT

    tls = (b0 >= 20) & (b0 <= 23) & (b1 == 3) & (b2 <= 4) & (proto == 6)
    out[tls] = TLS_RECORD

    version2 = (b0 & 0xC0) == 0x80
    rtcp_pt = (b1 >= 192) & (b1 <= 223)
    out[udp & version2 & ~rtcp_pt & (plen >= 12)] = RTP
    out[udp & version2 & rtcp_pt & (plen >= 8)] = RTCP

    version = field(head, 1, ">u4").astype(np.uint32)
    known = ((version == 0x00000001) | (version == 0x6B3343CF) | (version == 0x709A50C4)
             | ((version & 0xFFFFFF00) == 0xFF000000) | ((version & 0xFFFFFFF0) == 0xFACEB000) | ((version >> 16) == 0x5130))
    # RFC 9287 lets endpoints clear the fixed bit: a known version after the form bit still marks QUIC.
    long_header = (((b0 & 0xC0) == 0xC0) & (version != 0)) | (((b0 & 0x80) == 0x80) & known)
    out[udp & long_header & (plen >= 7)] = QUIC_LONG
    # Google QUIC up to Q043: a client's public header (version flag, 8-byte connection id) names "Q0dd" at bytes 9-12
    digit11, digit12 = (head[:, 11] >= 0x30) & (head[:, 11] <= 0x39), (head[:, 12] >= 0x30) & (head[:, 12] <= 0x39)
    gquic = ((b0 & 0x8B) == 0x09) & (head[:, 9] == 0x51) & (head[:, 10] == 0x30) & digit11 & digit12
    out[udp & gquic & (plen >= 14)] = QUIC_LONG

    channel = udp & (b0 >= 64) & (b0 <= 79) & (length16 + 4 <= plen) & (plen <= length16 + 7)
    out[channel] = CHANNEL_DATA

    dtls = udp & (b0 >= 20) & (b0 <= 26) & ((b1 == 0xFE) | ((b1 == 0x01) & (b2 == 0x00))) & (plen >= 13)
    out[dtls] = DTLS
    unified = udp & ((b0 & 0xE0) == 0x20) & ~dtls & (plen >= 4)
    out[unified] = DTLS13_UNIFIED

    # The cookie is strong evidence on its own: WhatsApp sends lengths that are not multiples of 4.
    # Over TCP a STUN message is a frame inside the byte stream (analysis.carried), never a segment.
    stun_shape = udp & (b0 <= 3) & (length16 + 20 <= plen) & (plen >= 20)
    aligned = (length16 & 3) == 0
    cookie = field(head, 4, ">u4") == _STUN_COOKIE
    method = ((b0.astype(np.uint16) & 0x3E) << 6) | (b1 & 0xE0) >> 1 | (b1 & 0x0F)
    turn_method = (method >= 0x003) & (method <= 0x00A)
    out[stun_shape & aligned & ~cookie] = STUN_CLASSIC
    out[stun_shape & cookie & ~turn_method] = STUN
    out[stun_shape & cookie & turn_method] = TURN

    out[plen <= 0] = EMPTY
    return out


CHANNEL_HEADER = 4
"""Bytes of the TURN ChannelData header (channel number, length) before what it carries."""


def channel_inner(head: Any, payload_len: Any, proto: Any, classes: Any) -> Any:
    """Per row: the class of what a TURN ChannelData message carries, by the same rules; OTHER elsewhere.

    Only 12 bytes of the inner message are in ``head`` (enough for every rule above); its length is
    the ChannelData length field, so padding after it is never counted.
    """
    import numpy as np

    from confaudit.pcap.gather import field

    out = np.full(len(classes), OTHER, dtype=np.uint8)
    rows = np.flatnonzero(classes == CHANNEL_DATA)
    if len(rows) == 0:
        return out
    outer = head[rows]
    inner_head = np.zeros_like(outer)
    inner_head[:, : outer.shape[1] - CHANNEL_HEADER] = outer[:, CHANNEL_HEADER:]
    out[rows] = classify(inner_head, field(outer, 2, ">u2").astype(np.int64), np.asarray(proto)[rows])
    return out
