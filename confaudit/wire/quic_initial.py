"""Decrypt a QUIC client's Initial packets with the public, version-specific keys (RFC 9001 §5,
RFC 9369 §3.3) and read its TLS ClientHello.

Versions: v1, v2, drafts 23-32, and Google's Q050 (same scheme as draft-23, its own salt; its
Initials carry a gQUIC CHLO, read by ``gquic``). Pure functions of the datagrams.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NamedTuple

from confaudit.wire.errors import ParseError
from confaudit.wire.hello import ClientHello, parse_client_hello_body

_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_V2_SALT = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_DRAFT29_SALT = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
_DRAFT23_SALT = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
_Q050_SALT = bytes.fromhex("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45")  # chromium quiche, quic_crypto_utils.cc
_V2 = 0x6B3343CF
Q050 = 0x51303530
_MAX_DATAGRAMS = 16
_MAX_CRYPTO = 1 << 16


class InitialKeys(NamedTuple):
    """Client Initial packet protection keys."""

    key: bytes
    iv: bytes
    hp: bytes


class InitialPacket(NamedTuple):
    """A client Initial packet opened with its public keys."""

    version: int
    dcid: bytes
    plaintext: bytes


def _salt_and_prefix(version: int) -> tuple[bytes, str] | None:
    if version == 1:
        return _V1_SALT, "quic"
    if version == _V2:
        return _V2_SALT, "quicv2"
    if version == Q050:
        return _Q050_SALT, "quic"
    if version & 0xFFFFFF00 == 0xFF000000:
        draft = version & 0xFF
        if 29 <= draft <= 32:
            return _DRAFT29_SALT, "quic"
        if 23 <= draft <= 28:
            return _DRAFT23_SALT, "quic"
    return None


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def client_initial_keys(version: int, dcid: bytes) -> InitialKeys | None:
    """Keys protecting the client's Initial packets for ``version`` and the client-chosen DCID."""
    chosen = _salt_and_prefix(version)
    if chosen is None:
        return None
    salt, prefix = chosen
    initial = hmac.new(salt, dcid, hashlib.sha256).digest()
    client = _expand_label(initial, "client in", 32)
    return InitialKeys(_expand_label(client, f"{prefix} key", 16), _expand_label(client, f"{prefix} iv", 12),
                       _expand_label(client, f"{prefix} hp", 16))


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the QUIC variable-length integer at ``pos`` (RFC 9000 §16)."""
    if pos >= len(data):
        raise ParseError("varint past the end")
    size = 1 << (data[pos] >> 6)
    if pos + size > len(data):
        raise ParseError("truncated varint")
    return int.from_bytes(data[pos : pos + size], "big") & ((1 << (8 * size - 2)) - 1), pos + size


def _cid(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos >= len(data):
        raise ParseError("connection id length past the end")
    end = pos + 1 + data[pos]
    if end > len(data):
        raise ParseError("truncated connection id")
    return data[pos + 1 : end], end


def decrypt_initial(datagram: bytes) -> InitialPacket | None:
    """The client Initial packet at the start of ``datagram``, opened; None when it is not one we can open.

    Raises ParseError when the long header claims more bytes than the datagram holds.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    datagram = bytes(datagram)
    if len(datagram) < 7 or not datagram[0] & 0x80:
        return None
    version = int.from_bytes(datagram[1:5], "big")
    initial_bits = 1 if version == _V2 else 0
    if (datagram[0] >> 4) & 0x03 != initial_bits:
        return None
    dcid, pos = _cid(datagram, 5)
    keys = client_initial_keys(version, dcid)
    if keys is None:
        return None
    _scid, pos = _cid(datagram, pos)
    token_len, pos = read_varint(datagram, pos)
    pos += token_len
    length, pn_offset = read_varint(datagram, pos)
    end = pn_offset + length
    if end > len(datagram) or pn_offset + 20 > end:
        raise ParseError("Initial packet length past the end of the datagram")
    sample = datagram[pn_offset + 4 : pn_offset + 20]
    mask = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor().update(sample)
    first = datagram[0] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    pn_bytes = bytes(b ^ m for b, m in zip(datagram[pn_offset : pn_offset + pn_len], mask[1 : 1 + pn_len]))
    header = bytes([first]) + datagram[1:pn_offset] + pn_bytes
    nonce = bytes(a ^ b for a, b in zip(keys.iv, int.from_bytes(pn_bytes, "big").to_bytes(12, "big")))
    try:
        plain = AESGCM(keys.key).decrypt(nonce, datagram[pn_offset + pn_len : end], header)
    except InvalidTag:
        return None  # not the client's Initial for this DCID (a server Initial, a damaged or foreign packet)
    return InitialPacket(version, dcid, plain)


def _crypto_frames(plain: bytes) -> list[tuple[int, bytes]]:
    """CRYPTO frame (offset, data) pairs; stops at the first frame type an Initial should not carry."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(plain) and len(out) < 256:
        ftype = plain[pos]
        pos += 1
        if ftype in (0x00, 0x01):
            continue
        if ftype in (0x02, 0x03):
            _largest, pos = read_varint(plain, pos)
            _delay, pos = read_varint(plain, pos)
            count, pos = read_varint(plain, pos)
            _first, pos = read_varint(plain, pos)
            for _ in range(min(count, 256) * 2 + (3 if ftype == 0x03 else 0)):
                _, pos = read_varint(plain, pos)
        elif ftype == 0x06:
            offset, pos = read_varint(plain, pos)
            size, pos = read_varint(plain, pos)
            if pos + size > len(plain):
                raise ParseError("CRYPTO frame longer than the packet")
            out.append((offset, plain[pos : pos + size]))
            pos += size
        else:
            break
    return out


def decrypt_client_hello(datagrams: list[bytes]) -> tuple[int, ClientHello] | None:
    """(version, ClientHello) from a client's Initial datagrams in order; None when undecidable.

    Malformed datagrams are skipped (they cannot hold the hello).
    """
    buffer = bytearray()
    pieces: dict[int, bytes] = {}
    dcid = None
    for datagram in datagrams[:_MAX_DATAGRAMS]:
        try:
            found = decrypt_initial(datagram)
            frames = _crypto_frames(found.plaintext) if found is not None else []
        except ParseError:
            continue
        if found is None or (dcid is not None and found.dcid != dcid):
            continue
        dcid = found.dcid
        for offset, data in frames:
            if offset + len(data) <= _MAX_CRYPTO:
                pieces[offset] = data
        while len(buffer) in pieces:
            buffer += pieces.pop(len(buffer))
        if len(buffer) >= 4 and buffer[0] == 1:
            length = int.from_bytes(buffer[1:4], "big")
            if len(buffer) >= 4 + length:
                hello = parse_client_hello_body(bytes(buffer[4 : 4 + length]), dtls=False)
                return (found.version, hello) if hello is not None else None
    return None
