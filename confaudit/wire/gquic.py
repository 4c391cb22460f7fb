"""Google QUIC (gQUIC): the client's CHLO with SNI and user agent (UAID), in clear or nearly so.

- Q034-Q043: "public header" (first bit 0). The first client packets are null-encrypted: frames in
  clear behind a 12-byte FNV-1a-128 hash of header + payload (+ "Client"/"Server" after Q035),
  which is checked, so only genuine unencrypted packets are read.
- Q046: IETF-style long header (4-bit connection id lengths), same null encryption.
- Q050: Initial packets protected like IETF draft-23 with Q050's own salt (``quic_initial``);
  the CHLO travels in CRYPTO frames (type 0x08).

The handshake message is a tag/value map (CHLO, REJ, SHLO: tag, uint16 count, then
(tag, uint32 end offset) pairs and the values; little-endian). Verified on nDPI's Q035, Q046 and
Q050 captures; Q039-Q043 differ from Q035 only in big-endian frame fields. T05x (TLS inside) and
versions before Q034 are recognised by name only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from confaudit.wire._records import hex_capped, record_dict, safe_text
from confaudit.wire.errors import ParseError
from confaudit.wire.names import is_gquic_version, quic_version_name
from confaudit.wire.quic_initial import decrypt_initial, read_varint

Q046 = 0x51303436
Q050 = 0x51303530
_HASH_LEN = 12
_FNV_OFFSET = 144066263297769815596495629667062367629
_FNV_PRIME = 309485009821345068724781371
_MASK128 = (1 << 128) - 1
_MAX_ENTRIES = 128  # chromium's kMaxEntries for a handshake message
_MAX_STREAM = 1 << 16
_MAX_DATAGRAMS = 16
_MAX_MESSAGES = 8
_MESSAGE_TAG = re.compile(rb"[A-Z0-9]{3}[A-Z0-9\x00]")


def _number(version: int) -> int:
    return int((version & 0xFFFFFF).to_bytes(3, "big"))


@dataclass(frozen=True, slots=True)
class GquicMessage:
    """One gQUIC crypto handshake message (CHLO, REJ, SHLO, ...)."""

    tag: str
    """Message tag without trailing NULs ("CHLO", "REJ", "SHLO")."""
    entries: tuple[tuple[str, bytes], ...]
    """(tag, value) pairs in order; tags like "SNI", "UAID", "VER", non-ASCII bytes as \\x escapes."""
    length: int
    """Bytes the message spans."""

    def value(self, tag: str) -> bytes | None:
        """Value of the first entry with ``tag``, None when absent."""
        return next((v for t, v in self.entries if t == tag), None)

    @property
    def sni(self) -> str | None:
        """Server name (SNI tag) as text, capped."""
        raw = self.value("SNI")
        return safe_text(raw, 255) if raw else None

    @property
    def user_agent(self) -> str | None:
        """User agent (UAID tag) as text, capped."""
        raw = self.value("UAID")
        return safe_text(raw, 512) if raw else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: tag and entries with values as hex capped at 64 bytes."""
        return {"tag": self.tag, "length": self.length, "entries": [[t, hex_capped(v)] for t, v in self.entries]}


def _tag_text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("ascii", "backslashreplace")


def message_length(data: bytes) -> int | None:
    """Total length of the handshake message starting ``data``; None while its tag table is incomplete.

    Raises ParseError when the bytes are not a handshake message (bad tag, count or offsets).
    """
    if len(data) < 8:
        return None
    if not _MESSAGE_TAG.fullmatch(data[:4]):
        raise ParseError("not a gQUIC handshake message tag")
    count = int.from_bytes(data[4:6], "little")
    if count > _MAX_ENTRIES:
        raise ParseError(f"handshake message with {count} entries")
    table_end = 8 + 8 * count
    if len(data) < table_end:
        return None
    return table_end + (int.from_bytes(data[table_end - 4 : table_end], "little") if count else 0)


def parse_gquic_message(data: bytes) -> GquicMessage:
    """The handshake message at the start of ``data``; ParseError when it is not one or is cut short."""
    data = bytes(data)
    total = message_length(data)
    if total is None or total > len(data):
        raise ParseError("handshake message cut short")
    count = int.from_bytes(data[4:6], "little")
    values_at = 8 + 8 * count
    entries: list[tuple[str, bytes]] = []
    start = 0
    for i in range(count):
        entry = data[8 + 8 * i : 16 + 8 * i]
        end = int.from_bytes(entry[4:8], "little")
        if end < start:
            raise ParseError("handshake message value offsets go backwards")
        entries.append((_tag_text(entry[:4]), data[values_at + start : values_at + end]))
        start = end
    return GquicMessage(_tag_text(data[:4]), tuple(entries), total)


def _fnv1a_128(data: bytes, state: int = _FNV_OFFSET) -> int:
    for byte in data:
        state = ((state ^ byte) * _FNV_PRIME) & _MASK128
    return state


def _null_hash(value: int) -> bytes:
    # chromium's null encrypter: the low 96 bits, low 64-bit word first, little-endian
    return (value & ((1 << 64) - 1)).to_bytes(8, "little") + ((value >> 64) & 0xFFFFFFFF).to_bytes(4, "little")


def _null_decrypt(packet: bytes, header_len: int) -> bytes | None:
    """The payload after the hash when it checks (with any perspective label); None otherwise."""
    if header_len + _HASH_LEN > len(packet):
        return None
    expected = packet[header_len : header_len + _HASH_LEN]
    plain = packet[header_len + _HASH_LEN :]
    state = _fnv1a_128(plain, _fnv1a_128(packet[:header_len]))
    for label in (b"", b"Client", b"Server"):
        if _null_hash(_fnv1a_128(label, state)) == expected:
            return plain
    return None


@dataclass(frozen=True, slots=True)
class GquicPublicHeader:
    """The public header of a gQUIC packet up to Q043 (first bit 0)."""

    version: int
    """Version field (the client's first packets carry it)."""
    version_name: str
    """"Google Q043", ..."""
    connection_id: str
    """8-byte connection id as hex."""
    packet_number: int
    """Packet number (1-6 bytes; little-endian before Q039)."""
    header_len: int
    """Bytes of the public header (the null-encryption hash follows)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def parse_gquic_public_header(data: bytes) -> GquicPublicHeader | None:
    """A client's gQUIC public header naming a version Q034-Q043; None for anything else.

    Without the version flag a public header is indistinguishable from random bytes, so only
    headers with an 8-byte connection id and a gQUIC version are recognised (a client does not
    send the server's diversification nonce). Raises ParseError when the packet number is cut off.
    """
    data = bytes(data)
    if len(data) < 14 or data[0] & 0x82 or not data[0] & 0x01 or not data[0] & 0x08:
        return None
    version = int.from_bytes(data[9:13], "big")
    if not is_gquic_version(version) or not 34 <= _number(version) <= 43 or version >> 24 != 0x51:
        return None
    pn_len = (1, 2, 4, 6)[(data[0] >> 4) & 0x03]
    if 13 + pn_len > len(data):
        raise ParseError("truncated gQUIC packet number")
    order: Literal["big", "little"] = "big" if _number(version) >= 39 else "little"
    packet_number = int.from_bytes(data[13 : 13 + pn_len], order)
    return GquicPublicHeader(version, quic_version_name(version), data[1:9].hex(), packet_number, 13 + pn_len)


def _q046_header_len(data: bytes) -> int | None:
    if len(data) < 6 or data[0] & 0xC0 != 0xC0:
        return None
    dcil, scil = data[5] >> 4, data[5] & 0x0F
    return 6 + (dcil + 3 if dcil else 0) + (scil + 3 if scil else 0) + (data[0] & 0x03) + 1


def _stream_frames(plain: bytes, big_endian: bool) -> list[tuple[int, bytes]]:
    """(offset, data) of crypto-stream (id 1) STREAM frames; stops at the first frame a hello packet does not hold."""
    order: Literal["big", "little"] = "big" if big_endian else "little"
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(plain) and len(out) < 64:
        ftype = plain[pos]
        if ftype == 0x07:  # PING
            pos += 1
            continue
        if not ftype & 0x80:
            break  # PADDING (runs to the end), ACK, STOP_WAITING, ...: no more hello bytes
        sid_len = (ftype & 0x03) + 1
        off_len = (ftype >> 2) & 0x07
        off_len = off_len + 1 if off_len else 0
        head = pos + 1 + sid_len + off_len
        if head + (2 if ftype & 0x20 else 0) > len(plain):
            raise ParseError("truncated gQUIC STREAM frame header")
        stream_id = int.from_bytes(plain[pos + 1 : pos + 1 + sid_len], order)
        offset = int.from_bytes(plain[pos + 1 + sid_len : head], order)
        if ftype & 0x20:
            size, head = int.from_bytes(plain[head : head + 2], order), head + 2
        else:
            size = len(plain) - head
        if head + size > len(plain):
            raise ParseError("gQUIC STREAM frame longer than the packet")
        if stream_id == 1:
            out.append((offset, plain[head : head + size]))
        pos = head + size
    return out


def _crypto_frames(plain: bytes) -> list[tuple[int, bytes]]:
    """(offset, data) of Q050 CRYPTO frames (type 0x08, varint offset and length); stops at other frames."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(plain) and len(out) < 64:
        ftype = plain[pos]
        if ftype in (0x00, 0x07):  # PADDING byte, PING
            pos += 1
            continue
        if ftype != 0x08:
            break
        offset, pos = read_varint(plain, pos + 1)
        size, pos = read_varint(plain, pos)
        if pos + size > len(plain):
            raise ParseError("Q050 CRYPTO frame longer than the packet")
        out.append((offset, plain[pos : pos + size]))
        pos += size
    return out


def hello_frames(datagram: bytes) -> tuple[int, list[tuple[int, bytes]]] | None:
    """(version, crypto-stream pieces) of one client datagram whose hello bytes can be read; None otherwise.

    Raises ParseError when an authenticated packet holds malformed frames.
    """
    datagram = bytes(datagram)
    if not datagram:
        return None
    if datagram[0] & 0x80:
        if len(datagram) < 6:
            return None
        version = int.from_bytes(datagram[1:5], "big")
        if version == Q046:
            header_len = _q046_header_len(datagram)
            plain = _null_decrypt(datagram, header_len) if header_len is not None else None
            return (version, _stream_frames(plain, True)) if plain is not None else None
        if version == Q050:
            packet = decrypt_initial(datagram)
            return (version, _crypto_frames(packet.plaintext)) if packet is not None else None
        return None
    header = parse_gquic_public_header(datagram)
    plain = _null_decrypt(datagram, header.header_len) if header is not None else None
    if header is None or plain is None:
        return None
    return header.version, _stream_frames(plain, _number(header.version) >= 39)


def client_hello_message(datagrams: list[bytes]) -> tuple[int, GquicMessage] | None:
    """(version, first CHLO) from a gQUIC client's datagrams in order; None when none can be read.

    Datagrams that are not readable hello packets (encrypted, damaged, another connection's
    version) are skipped; the crypto stream is reassembled by offset.
    """
    stream = bytearray()
    pieces: dict[int, bytes] = {}
    version: int | None = None
    for datagram in datagrams[:_MAX_DATAGRAMS]:
        try:
            found = hello_frames(datagram)
        except ParseError:
            continue
        if found is None or (version is not None and found[0] != version):
            continue
        version = found[0]
        for offset, data in found[1]:
            if offset + len(data) <= _MAX_STREAM:
                pieces.setdefault(offset, data)
        while len(stream) in pieces:
            stream += pieces.pop(len(stream))
        message = _first_chlo(bytes(stream))
        if message is not None:
            return version, message
    return None


def _first_chlo(stream: bytes) -> GquicMessage | None:
    """The first CHLO among the first few messages of the crypto stream (a client opens with it)."""
    pos = 0
    for _ in range(_MAX_MESSAGES):
        if pos >= len(stream):
            return None
        try:
            total = message_length(stream[pos:])
            if total is None or pos + total > len(stream):
                return None  # wait for more of the stream
            message = parse_gquic_message(stream[pos:])
        except ParseError:
            return None
        if message.tag == "CHLO":
            return message
        pos += message.length
    return None
