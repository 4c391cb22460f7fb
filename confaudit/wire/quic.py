"""QUIC packet headers (RFC 8999/9000, v2 RFC 9369, Google Q046/Q05x) and the SNI of a client's first packets.

``quic_client_hello`` decrypts Initial packets (keys derive from public, version-specific salts)
with ``quic_initial`` (aioquic's Initial protection; v1, v2 and drafts, checked against the RFC 9001/9369
vectors). The tests cross-check its answers against mitmproxy's own parser on real captures.
Google QUIC (Q035-Q050) carries its hello as a tag/value CHLO instead of TLS: ``gquic``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from confaudit.wire._records import record_dict
from confaudit.wire.errors import ParseError
from confaudit.wire.names import QUIC_VERSIONS, is_gquic_version, quic_version_name
from confaudit.wire.quic_initial import read_varint

__all__ = ["QUIC_VERSIONS", "QuicLongHeader", "QuicHello", "parse_quic_long_header", "is_quic_short_header",
           "quic_client_hello", "gquic_client_hello", "quic_version_name"]

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF
Q046 = 0x51303436
_V1_TYPES = ("initial", "0rtt", "handshake", "retry")
_V2_TYPES = ("retry", "initial", "0rtt", "handshake")  # RFC 9369 §3.2 reassigns the type bits
_MAX_HELLO_DATAGRAMS = 16


@dataclass(frozen=True, slots=True)
class QuicLongHeader:
    """The clear part of a QUIC long-header packet."""

    version: int
    """Version field (0 = version negotiation)."""
    version_name: str
    """"QUIC v1", "QUIC v2", "draft-29", "Google Q050", ..."""
    packet_type: str | None
    """"initial", "0rtt", "handshake", "retry", "version_negotiation"; None for versions whose type bits we do not know."""
    fixed_bit: bool
    """The fixed bit (0x40); may be greased to 0 (RFC 9287)."""
    dcid: str
    """Destination connection id (hex)."""
    scid: str
    """Source connection id (hex)."""
    token_len: int | None
    """Token length (Initial packets only; None for Q046, which has no token)."""
    payload_len: int | None
    """Length field (Initial/0-RTT/Handshake; None for Q046, which has none)."""
    supported_versions: tuple[int, ...]
    """Versions listed by a version-negotiation packet."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


class QuicHello(NamedTuple):
    """What a client's first packets reveal."""

    sni: str | None
    alpn: tuple[str, ...]
    version: int
    user_agent: str | None = None
    """gQUIC only: the UAID tag of the CHLO (IETF QUIC puts no user agent in the hello)."""


def _layout(version: int) -> str | None:
    """"ietf" for v1/v2/drafts and Google's Q05x/T05x, "q046" for Q046's 4-bit CID lengths, None if unknown."""
    if version in (QUIC_V1, QUIC_V2) or version & 0xFFFFFF00 == 0xFF000000:
        return "ietf"
    if version & 0xFFFFFF00 in (0x51303500, 0x54303500) and 0x30 <= version & 0xFF <= 0x39:
        return "ietf"
    return "q046" if version == Q046 else None


def parse_quic_long_header(data: bytes) -> QuicLongHeader | None:
    """Parse a long header (first bit set); None when it is not one or is truncated."""
    try:
        return _long(bytes(data))
    except ParseError:
        return None


def _cid(data: bytes, pos: int, length: int) -> bytes:
    cid = data[pos : pos + length]
    if len(cid) < length:
        raise ParseError("truncated connection id")
    return cid


def _long(data: bytes) -> QuicLongHeader | None:
    if len(data) < 7 or not data[0] & 0x80:
        return None
    version = int.from_bytes(data[1:5], "big")
    layout = _layout(version)
    pos = 5
    if layout == "q046":
        dcid_len, scid_len = data[5] >> 4, data[5] & 0x0F
        dcid_len, scid_len = dcid_len + 3 if dcid_len else 0, scid_len + 3 if scid_len else 0
        dcid = _cid(data, 6, dcid_len)
        scid = _cid(data, 6 + dcid_len, scid_len)
        pos = 6 + dcid_len + scid_len
    else:
        dcid_len = data[pos]
        if layout and dcid_len > 20:
            return None
        dcid = _cid(data, pos + 1, dcid_len)
        pos += 1 + dcid_len
        if pos >= len(data):
            raise ParseError("truncated before the source connection id")
        scid_len = data[pos]
        if layout and scid_len > 20:
            return None
        scid = _cid(data, pos + 1, scid_len)
        pos += 1 + scid_len
    packet_type: str | None
    token_len = payload_len = None
    versions: tuple[int, ...] = ()
    if version == 0:
        packet_type = "version_negotiation"
        versions = tuple(int.from_bytes(data[i : i + 4], "big") for i in range(pos, len(data) - 3, 4))[:64]
    elif layout:
        bits = (data[0] >> 4) & 0x03
        packet_type = (_V2_TYPES if version == QUIC_V2 else _V1_TYPES)[bits]
        if layout == "ietf" and packet_type == "initial":
            token_len, pos = read_varint(data, pos)
            pos += token_len
            if pos > len(data):
                raise ParseError("token past the end")
        if layout == "ietf" and packet_type != "retry":
            payload_len, pos = read_varint(data, pos)
    else:
        packet_type = None
    return QuicLongHeader(version, quic_version_name(version), packet_type, bool(data[0] & 0x40), dcid.hex(),
                          scid.hex(), token_len, payload_len, versions)


def is_quic_short_header(data: bytes, dcid: bytes | None = None) -> bool:
    """A 1-RTT short-header packet: first bit 0 and, without a known DCID, the fixed bit set.

    With ``dcid`` (learned from the handshake) the DCID must follow the first byte; the fixed bit
    may then be greased to 0 as in quic-v2.pcapng.
    """
    if len(data) < 1 + 16 + 1 or data[0] & 0x80:
        return False
    if dcid is not None:
        return bytes(data[1 : 1 + len(dcid)]) == bytes(dcid) and len(data) >= 1 + len(dcid) + 17
    return bool(data[0] & 0x40)


def quic_client_hello(datagrams: list[bytes]) -> QuicHello | None:
    """SNI, ALPN and version from a client's first Initial datagram(s); None if undecidable.

    Pass the client→server datagrams of one connection in order; non-Initial ones are skipped.
    Google QUIC connections (a Q0xx version first) are read by ``gquic_client_hello``.
    """
    from confaudit.wire.gquic import parse_gquic_public_header

    initials: list[bytes] = []
    version = None
    dcid = None
    for datagram in datagrams:
        head = parse_quic_long_header(datagram)
        if head is None:
            try:
                public = parse_gquic_public_header(datagram)
            except ParseError:
                public = None
            if public is not None and dcid is None:
                return gquic_client_hello(datagrams)
            continue
        if dcid is None and is_gquic_version(head.version):
            return gquic_client_hello(datagrams)
        if head.packet_type != "initial":
            continue
        if dcid is None:
            dcid, version = head.dcid, head.version
        elif head.dcid != dcid:
            continue
        initials.append(bytes(datagram))
        if len(initials) >= _MAX_HELLO_DATAGRAMS:
            break
    if not initials or version is None:
        return None
    from confaudit.wire.quic_initial import decrypt_client_hello

    found = decrypt_client_hello(initials)
    if found is None:
        return None
    return QuicHello(found[1].sni, found[1].alpn, found[0])


def gquic_client_hello(datagrams: list[bytes]) -> QuicHello | None:
    """SNI, user agent and version from a Google QUIC client's CHLO (Q035-Q046 in clear, Q050 decrypted).

    Pass the client→server datagrams of one connection in order; None when no CHLO can be read.
    gQUIC negotiates no ALPN, so ``alpn`` is empty.
    """
    from confaudit.wire.gquic import client_hello_message

    found = client_hello_message(datagrams)
    if found is None:
        return None
    version, message = found
    return QuicHello(message.sni, (), version, message.user_agent)
