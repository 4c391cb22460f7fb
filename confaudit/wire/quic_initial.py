"""Decrypt a QUIC client's Initial packets with the public, version-specific keys (RFC 9001 §5,
RFC 9369 §3.3) and read its TLS ClientHello.

Key derivation, header protection and AEAD are aioquic's (``CryptoPair``/``CryptoContext``). aioquic
knows the Initial salts of v1 and v2 only; for drafts 23-32 and Google's Q050 (same scheme as
draft-23, its own salt; its Initials carry a gQUIC CHLO, read by ``gquic``) the salt is ours and the
client secret is handed to aioquic's context. Pure functions of the datagrams.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from confaudit.wire.errors import ParseError
from confaudit.wire.hello import ClientHello, parse_client_hello_body

# Initial salts aioquic lacks (it has v1's and v2's): the drafts' (their RFC drafts, appendix A) and Q050's.
_DRAFT29_SALT = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
_DRAFT23_SALT = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
_Q050_SALT = bytes.fromhex("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45")  # chromium quiche, quic_crypto_utils.cc
_V2 = 0x6B3343CF
Q050 = 0x51303530
_MAX_DATAGRAMS = 16
_MAX_CRYPTO = 1 << 16


class InitialPacket(NamedTuple):
    """A client Initial packet opened with its public keys."""

    version: int
    dcid: bytes
    plaintext: bytes


def _older_salt(version: int) -> bytes | None:
    """The Initial salt of a pre-RFC version (drafts 23-32, Q050); None for any other version."""
    if version == Q050:
        return _Q050_SALT
    if version & 0xFFFFFF00 == 0xFF000000:
        draft = version & 0xFF
        if 29 <= draft <= 32:
            return _DRAFT29_SALT
        if 23 <= draft <= 28:
            return _DRAFT23_SALT
    return None


def client_initial_context(version: int, dcid: bytes) -> Any | None:
    """aioquic ``CryptoContext`` that opens the client's Initial packets of ``version`` for the client-chosen DCID.

    None for versions without Initial protection we know (Q046 and older gQUIC, unknown versions).
    """
    from aioquic.quic.crypto import INITIAL_CIPHER_SUITE, CryptoContext, CryptoPair
    from aioquic.tls import cipher_suite_hash, hkdf_expand_label, hkdf_extract

    if version in (1, _V2):
        pair = CryptoPair()
        pair.setup_initial(dcid, is_client=False, version=version)  # the server side receives the client's packets
        return pair.recv
    salt = _older_salt(version)
    if salt is None:
        return None
    algorithm = cipher_suite_hash(INITIAL_CIPHER_SUITE)
    secret = hkdf_expand_label(algorithm, hkdf_extract(algorithm, salt, dcid), b"client in", b"", algorithm.digest_size)
    context = CryptoContext()
    context.setup(cipher_suite=INITIAL_CIPHER_SUITE, secret=secret, version=version)  # "quic key/iv/hp" labels, as v1
    return context


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
    from aioquic.quic.crypto import CryptoError

    datagram = bytes(datagram)
    if len(datagram) < 7 or not datagram[0] & 0x80:
        return None
    version = int.from_bytes(datagram[1:5], "big")
    initial_bits = 1 if version == _V2 else 0
    if (datagram[0] >> 4) & 0x03 != initial_bits:
        return None
    dcid, pos = _cid(datagram, 5)
    context = client_initial_context(version, dcid)
    if context is None:
        return None
    _scid, pos = _cid(datagram, pos)
    token_len, pos = read_varint(datagram, pos)
    pos += token_len
    length, pn_offset = read_varint(datagram, pos)
    end = pn_offset + length
    if end > len(datagram) or pn_offset + 20 > end:  # 20: the longest packet number and the 16-byte sample
        raise ParseError("Initial packet length past the end of the datagram")
    try:
        # Expected packet number 0: the truncated number is then taken as sent, as a client's first Initials are.
        _header, plain, _number, _key_update = context.decrypt_packet(datagram[:end], pn_offset, 0)
    except CryptoError:
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
