"""Decrypt a QUIC client's Initial packets with the public, version-specific keys (RFC 9001 §5,
RFC 9369 §3.3) and read its TLS ClientHello.

Fallback for ``quic.quic_client_hello`` when mitmproxy's internal parser is unavailable or the
version is a draft aioquic no longer speaks. Pure function of the datagrams; never raises.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NamedTuple

from confaudit.wire.hello import ClientHello, parse_client_hello_body

_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_V2_SALT = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_DRAFT29_SALT = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
_DRAFT23_SALT = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
_V2 = 0x6B3343CF
_MAX_DATAGRAMS = 16
_MAX_CRYPTO = 1 << 16


class InitialKeys(NamedTuple):
    """Client Initial packet protection keys."""

    key: bytes
    iv: bytes
    hp: bytes


def _salt_and_prefix(version: int) -> tuple[bytes, str] | None:
    if version == 1:
        return _V1_SALT, "quic"
    if version == _V2:
        return _V2_SALT, "quicv2"
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


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    size = 1 << (data[pos] >> 6)
    if pos + size > len(data):
        raise ValueError("truncated varint")
    value = data[pos] & 0x3F
    for b in data[pos + 1 : pos + size]:
        value = (value << 8) | b
    return value, pos + size


def _decrypt_initial(datagram: bytes) -> tuple[int, bytes, bytes] | None:
    """(version, dcid, plaintext frames) of the Initial packet at the start of ``datagram``."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(datagram) < 7 or not datagram[0] & 0x80:
        return None
    version = int.from_bytes(datagram[1:5], "big")
    initial_bits = 1 if version == _V2 else 0
    if (datagram[0] >> 4) & 0x03 != initial_bits:
        return None
    pos = 5
    dcid = datagram[pos + 1 : pos + 1 + datagram[pos]]
    pos += 1 + datagram[pos]
    pos += 1 + datagram[pos]
    token_len, pos = _varint(datagram, pos)
    pos += token_len
    length, pn_offset = _varint(datagram, pos)
    end = pn_offset + length
    keys = client_initial_keys(version, dcid)
    if keys is None or end > len(datagram) or pn_offset + 20 > len(datagram):
        return None
    sample = datagram[pn_offset + 4 : pn_offset + 20]
    mask = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor().update(sample)
    first = datagram[0] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    pn_bytes = bytes(b ^ m for b, m in zip(datagram[pn_offset : pn_offset + pn_len], mask[1 : 1 + pn_len]))
    header = bytes([first]) + datagram[1:pn_offset] + pn_bytes
    nonce = bytes(a ^ b for a, b in zip(keys.iv, int.from_bytes(pn_bytes, "big").to_bytes(12, "big")))
    plain = AESGCM(keys.key).decrypt(nonce, datagram[pn_offset + pn_len : end], header)
    return version, dcid, plain


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
            _largest, pos = _varint(plain, pos)
            _delay, pos = _varint(plain, pos)
            count, pos = _varint(plain, pos)
            _first, pos = _varint(plain, pos)
            for _ in range(min(count, 256) * 2 + (3 if ftype == 0x03 else 0)):
                _, pos = _varint(plain, pos)
        elif ftype == 0x06:
            offset, pos = _varint(plain, pos)
            size, pos = _varint(plain, pos)
            out.append((offset, plain[pos : pos + size]))
            pos += size
        else:
            break
    return out


def decrypt_client_hello(datagrams: list[bytes]) -> tuple[int, ClientHello] | None:
    """(version, ClientHello) from a client's Initial datagrams in order; None when undecidable."""
    try:
        buffer = bytearray()
        pieces: dict[int, bytes] = {}
        version = dcid = None
        for datagram in datagrams[:_MAX_DATAGRAMS]:
            try:
                found = _decrypt_initial(bytes(datagram))
            except Exception:  # noqa: BLE001 - not an Initial we can open: skip it
                continue
            if found is None or (dcid is not None and found[1] != dcid):
                continue
            version, dcid = found[0], found[1]
            for offset, data in _crypto_frames(found[2]):
                if offset + len(data) <= _MAX_CRYPTO:
                    pieces[offset] = data
            while len(buffer) in pieces:
                buffer += pieces.pop(len(buffer))
            if len(buffer) >= 4 and buffer[0] == 1:
                length = int.from_bytes(buffer[1:4], "big")
                if len(buffer) >= 4 + length:
                    hello = parse_client_hello_body(bytes(buffer[4 : 4 + length]), dtls=False)
                    return (version, hello) if hello is not None else None
        return None
    except Exception:  # noqa: BLE001
        return None
