"""QUIC packet headers (RFC 8999/9000, v2 RFC 9369) and the SNI/ALPN of a client's Initial.

``quic_client_hello`` decrypts Initial packets (keys derive from public, version-specific salts)
with ``quic_initial`` (``cryptography``; v1, v2 and drafts, checked against the RFC 9001/9369
vectors). The tests cross-check its answers against mitmproxy's own parser on real captures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from confaudit.wire._records import record_dict
from confaudit.wire.names import QUIC_VERSIONS, quic_version_name

__all__ = ["QUIC_VERSIONS", "QuicLongHeader", "QuicHello", "parse_quic_long_header", "is_quic_short_header",
           "quic_client_hello", "quic_version_name"]

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF
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
    """Token length (Initial packets only)."""
    payload_len: int | None
    """Length field (Initial/0-RTT/Handshake)."""
    supported_versions: tuple[int, ...]
    """Versions listed by a version-negotiation packet."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


class QuicHello(NamedTuple):
    """What a client's Initial packets reveal."""

    sni: str | None
    alpn: tuple[str, ...]
    version: int


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    if pos >= len(data):
        return None
    size = 1 << (data[pos] >> 6)
    if pos + size > len(data):
        return None
    value = data[pos] & 0x3F
    for b in data[pos + 1 : pos + size]:
        value = (value << 8) | b
    return value, pos + size


def parse_quic_long_header(data: bytes) -> QuicLongHeader | None:
    """Parse a long header (first bit set); None when it is not one or is truncated."""
    try:
        return _long(bytes(data))
    except Exception:  # noqa: BLE001
        return None


def _long(data: bytes) -> QuicLongHeader | None:
    if len(data) < 7 or not data[0] & 0x80:
        return None
    version = int.from_bytes(data[1:5], "big")
    known = version in (QUIC_V1, QUIC_V2) or version & 0xFFFFFF00 == 0xFF000000
    pos = 5
    dcid_len = data[pos]
    if known and dcid_len > 20:
        return None
    dcid = data[pos + 1 : pos + 1 + dcid_len]
    pos += 1 + dcid_len
    if pos >= len(data) or len(dcid) < dcid_len:
        return None
    scid_len = data[pos]
    if known and scid_len > 20:
        return None
    scid = data[pos + 1 : pos + 1 + scid_len]
    pos += 1 + scid_len
    if len(scid) < scid_len:
        return None
    packet_type: str | None
    token_len = payload_len = None
    versions: tuple[int, ...] = ()
    if version == 0:
        packet_type = "version_negotiation"
        versions = tuple(int.from_bytes(data[i : i + 4], "big") for i in range(pos, len(data) - 3, 4))[:64]
    elif known:
        bits = (data[0] >> 4) & 0x03
        packet_type = (_V2_TYPES if version == QUIC_V2 else _V1_TYPES)[bits]
        if packet_type == "initial":
            token = _varint(data, pos)
            if token is None or token[1] + token[0] > len(data):
                return None
            token_len, pos = token[0], token[1] + token[0]
        if packet_type != "retry":
            length = _varint(data, pos)
            if length is None:
                return None
            payload_len = length[0]
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
    """
    initials: list[bytes] = []
    version = None
    dcid = None
    for datagram in datagrams:
        head = parse_quic_long_header(datagram)
        if head is None or head.packet_type != "initial":
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

