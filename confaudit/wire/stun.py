"""STUN / TURN messages (RFC 5389/8489, RFC 8656), TURN ChannelData and STUN-over-TCP framing.

Anything that is not a well-formed STUN header gives None; damaged attribute lists give a record
with ``problems`` filled in.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

from confaudit.wire._records import hex_capped, record_dict, safe_text
from confaudit.wire.names import STUN_ATTRIBUTES, STUN_METHODS, STUN_VENDOR_ATTRIBUTES
from confaudit.wire.stun_tcp import StunTcpFrames, frame_stun_tcp

__all__ = ["MAGIC_COOKIE", "ChannelData", "StunAddress", "StunMessage", "StunTcpFrames", "frame_stun_tcp",
           "parse_channel_data", "parse_stun"]

MAGIC_COOKIE = 0x2112A442
_FINGERPRINT_XOR = 0x5354554E
_HEADER = struct.Struct("!HHI12s")
_ATTRIBUTE_HEADER = struct.Struct("!HH")
_CLASSES = ("request", "indication", "success", "error")
_VENDOR_VALUE_CAP = 64
_TEXT_CAP = 763  # RFC 8489 limit for REALM/SOFTWARE (in bytes)


class StunAddress(NamedTuple):
    """An (ip, port) transport address decoded from a (XOR-)address attribute."""

    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class StunMessage:
    """One STUN/TURN message."""

    msg_type: int
    """The 14-bit message type (method and class bits interleaved)."""
    method: int
    """The 12-bit method number (1 = Binding, 3 = Allocate, ...)."""
    method_name: str | None
    """IANA method name, None when unknown."""
    msg_class: str
    """"request", "indication", "success" or "error"."""
    length: int
    """Header length field (bytes of attributes)."""
    transaction_id: str
    """Transaction id as hex (96 bits, or 128 bits including the cookie field for classic)."""
    classic: bool
    """True for an RFC 3489-style message without the magic cookie (only with allow_classic)."""
    attributes: tuple[tuple[int, str | None, int], ...]
    """Every attribute in order as (type, name or None, value length)."""
    mapped_address: StunAddress | None
    """MAPPED-ADDRESS (0x0001)."""
    xor_mapped_address: StunAddress | None
    """XOR-MAPPED-ADDRESS (0x0020, or 0x8020 of early drafts): the client's public address."""
    xor_relayed_address: StunAddress | None
    """XOR-RELAYED-ADDRESS (0x0016): the relay address a TURN server allocated."""
    xor_peer_address: StunAddress | None
    """First XOR-PEER-ADDRESS (0x0012): the peer a TURN client talks to."""
    realm: str | None
    """REALM text (names the operator, e.g. turner.facebook)."""
    software: str | None
    """SOFTWARE text."""
    username: str | None
    """USERNAME, RAW (ICE ufrag pair or TURN user) — the caller must redact it."""
    nonce_present: bool
    """NONCE attribute present (an authentication challenge/answer)."""
    message_integrity_present: bool
    """MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 present."""
    priority: int | None
    """ICE PRIORITY."""
    ice_controlling: bool
    """ICE-CONTROLLING present."""
    ice_controlled: bool
    """ICE-CONTROLLED present."""
    use_candidate: bool
    """USE-CANDIDATE present (ICE nomination)."""
    error_code: int | None
    """ERROR-CODE number (class*100 + number), e.g. 401."""
    error_reason: str | None
    """ERROR-CODE reason phrase."""
    lifetime: int | None
    """TURN LIFETIME seconds."""
    requested_transport: int | None
    """TURN REQUESTED-TRANSPORT IP protocol number (17 = UDP)."""
    channel_number: int | None
    """TURN CHANNEL-NUMBER."""
    fingerprint_valid: bool | None
    """FINGERPRINT CRC32 check result; None when there is no FINGERPRINT."""
    vendor_attributes: tuple[tuple[int, str | None, str], ...]
    """Non-standard / unknown attributes as (type, vendor name or None, value hex capped at 64 bytes)."""
    problems: tuple[str, ...]
    """Structural problems found while walking the attributes (empty when clean)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


@dataclass(frozen=True, slots=True)
class ChannelData:
    """A TURN ChannelData message (RFC 8656 §12.4)."""

    channel_number: int
    """Channel number 0x4000-0x7FFF."""
    length: int
    """Application data length from the header."""
    payload_offset: int
    """Offset of the application data (always 4)."""
    padding: int
    """Bytes after the data (0-3 padding over TCP; any surplus over UDP)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def _address(value: bytes, xor: bool, tid: bytes) -> StunAddress | None:
    if len(value) < 8:
        return None
    family, port = value[1], int.from_bytes(value[2:4], "big")
    if xor:
        port ^= MAGIC_COOKIE >> 16
    if family == 1:
        raw = int.from_bytes(value[4:8], "big")
        if xor:
            raw ^= MAGIC_COOKIE
        return StunAddress(".".join(map(str, raw.to_bytes(4, "big"))), port)  # IPv4Address's text, faster
    if family == 2 and len(value) >= 20:
        raw = int.from_bytes(value[4:20], "big")
        if xor:
            raw ^= int.from_bytes(MAGIC_COOKIE.to_bytes(4, "big") + tid, "big")
        return StunAddress(str(ipaddress.IPv6Address(raw)), port)
    return None


def _u32(value: bytes) -> int | None:
    return int.from_bytes(value[:4], "big") if len(value) >= 4 else None


def _fingerprint_ok(data: bytes, attr_offset: int, value: bytes) -> bool | None:
    if len(value) != 4:
        return False
    # CRC over the message up to FINGERPRINT, with the length field as if FINGERPRINT ended it
    crc = zlib.crc32((attr_offset + 8 - 20).to_bytes(2, "big"), zlib.crc32(data[:2]))
    return (zlib.crc32(data[4:attr_offset], crc) ^ _FINGERPRINT_XOR) == int.from_bytes(value, "big")


def _method_and_class(msg_type: int) -> tuple[int, str]:
    method = (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
    cls = ((msg_type >> 4) & 0x1) | ((msg_type >> 7) & 0x2)
    return method, _CLASSES[cls]


def parse_stun(data: bytes, allow_classic: bool = False) -> StunMessage | None:
    """Parse one whole STUN message (``len(data)`` must equal 20 + the length field).

    Messages without the magic cookie are accepted only with ``allow_classic=True`` (RFC 3489).
    """
    data = bytes(data)
    if len(data) < 20 or data[0] & 0xC0:
        return None
    msg_type, length, cookie, tid = _HEADER.unpack_from(data)
    if 20 + length != len(data):
        return None
    classic = cookie != MAGIC_COOKIE
    if classic and not allow_classic:
        return None
    problems: list[str] = []
    if length % 4:
        # MS-TURN (Teams) and WhatsApp send unpadded attributes; RFC 8489 forbids it.
        problems.append("length not a multiple of 4 (unpadded vendor variant)")
    method, msg_class = _method_and_class(msg_type)
    full_tid = data[4:20] if classic else tid
    fields = dict(_NO_FIELDS)
    walk, walk_problems = _walk_attributes(data, padded=True)
    if walk_problems:
        unpadded, unpadded_problems = _walk_attributes(data, padded=False)
        if not unpadded_problems:
            # MS-TURN does not pad attribute values to 4 bytes.
            walk, walk_problems = unpadded, ["attributes not padded to 4 bytes (MS-TURN style)"]
    problems.extend(walk_problems)
    attributes: list[tuple[int, str | None, int]] = []
    vendor: list[tuple[int, str | None, str]] = []
    for offset, atype, value in walk:
        name = STUN_ATTRIBUTES.get(atype)
        if name is None:
            vendor_name = STUN_VENDOR_ATTRIBUTES.get(atype)
            vendor.append((atype, vendor_name, hex_capped(value, _VENDOR_VALUE_CAP)))
            name = vendor_name
        attributes.append((atype, name, len(value)))
        if fields["fingerprint_valid"] is not None:
            problems.append(f"attribute 0x{atype:04x} after FINGERPRINT")
        _decode_attribute(atype, value, full_tid, classic, fields, data, offset)
    return StunMessage(
        msg_type=msg_type, method=method, method_name=STUN_METHODS.get(method), msg_class=msg_class,
        length=length, transaction_id=full_tid.hex(), classic=classic, attributes=tuple(attributes),
        vendor_attributes=tuple(vendor), problems=tuple(problems), **fields,
    )


def _walk_attributes(data: bytes, padded: bool) -> tuple[list[tuple[int, int, bytes]], list[str]]:
    """(offset, type, value) of each attribute; stops at the first structural problem."""
    walk: list[tuple[int, int, bytes]] = []
    offset = 20
    size = len(data)
    while offset < size:
        if offset + 4 > size:
            return walk, [f"truncated attribute header at offset {offset}"]
        atype, alen = _ATTRIBUTE_HEADER.unpack_from(data, offset)
        end = offset + 4 + alen
        if end > size:
            return walk, [f"attribute 0x{atype:04x} length {alen} overruns message"]
        walk.append((offset, atype, data[offset + 4 : end]))
        offset = end + (-alen % 4 if padded else 0)
    return walk, []


_NO_FIELDS: dict[str, Any] = {
    "mapped_address": None, "xor_mapped_address": None, "xor_relayed_address": None,
    "xor_peer_address": None, "realm": None, "software": None, "username": None,
    "nonce_present": False, "message_integrity_present": False, "priority": None,
    "ice_controlling": False, "ice_controlled": False, "use_candidate": False,
    "error_code": None, "error_reason": None, "lifetime": None, "requested_transport": None,
    "channel_number": None, "fingerprint_valid": None,
}
_ADDRESS_FIELDS = {0x0001: ("mapped_address", False), 0x0020: ("xor_mapped_address", True),
                   0x8020: ("xor_mapped_address", True), 0x0016: ("xor_relayed_address", True),
                   0x0012: ("xor_peer_address", True)}
_TEXT_FIELDS = {0x0014: "realm", 0x8022: "software", 0x0006: "username"}
_FLAG_FIELDS = {0x0015: "nonce_present", 0x0008: "message_integrity_present", 0x001C: "message_integrity_present",
                0x802A: "ice_controlling", 0x8029: "ice_controlled", 0x0025: "use_candidate"}
_U32_FIELDS = {0x0024: "priority", 0x000D: "lifetime"}


def _decode_attribute(
    atype: int, value: bytes, tid: bytes, classic: bool, fields: dict[str, Any], data: bytes, offset: int
) -> None:
    if atype in _ADDRESS_FIELDS:
        key, xor = _ADDRESS_FIELDS[atype]
        if fields[key] is None and not (xor and classic):  # the first one counts; no XOR without the cookie
            fields[key] = _address(value, xor, tid)
    elif atype in _TEXT_FIELDS:
        fields[_TEXT_FIELDS[atype]] = safe_text(value, _TEXT_CAP)
    elif atype in _FLAG_FIELDS:
        fields[_FLAG_FIELDS[atype]] = True
    elif atype in _U32_FIELDS:
        fields[_U32_FIELDS[atype]] = _u32(value)
    elif atype == 0x0009 and len(value) >= 4:
        fields["error_code"] = (value[2] & 0x07) * 100 + value[3]
        fields["error_reason"] = safe_text(value[4:], _TEXT_CAP)
    elif atype == 0x0019 and value:
        fields["requested_transport"] = value[0]
    elif atype == 0x000C and len(value) >= 2:
        fields["channel_number"] = int.from_bytes(value[:2], "big")
    elif atype == 0x8028:
        fields["fingerprint_valid"] = _fingerprint_ok(data, offset, value)


def parse_channel_data(data: bytes) -> ChannelData | None:
    """TURN ChannelData: channel 0x4000-0x7FFF and a length that fits the datagram."""
    if len(data) < 4:
        return None
    channel, length = int.from_bytes(data[0:2], "big"), int.from_bytes(data[2:4], "big")
    if not 0x4000 <= channel <= 0x7FFF or 4 + length > len(data):
        return None
    return ChannelData(channel_number=channel, length=length, payload_offset=4, padding=len(data) - 4 - length)
