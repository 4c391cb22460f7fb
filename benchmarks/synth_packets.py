"""Byte builders for the rare, structured packets of the synthetic call (STUN, DTLS, TLS, DNS, QUIC).

Each returns the transport payload; framing (Ethernet/IP/UDP/TCP) is added by :mod:`synth_call`.
"""

from __future__ import annotations

import random
import struct
import zlib

STUN_COOKIE = 0x2112A442


def _attr(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def stun_request(rng: random.Random, username: bytes, controlling: bool) -> bytes:
    attrs = (_attr(0x0006, username) + _attr(0x0024, struct.pack("!I", 0x6E7F1EFF))
             + _attr(0x802A if controlling else 0x8029, rng.randbytes(8)) + _attr(0x0025, b""))
    return _stun_finish(0x0001, rng.randbytes(12), attrs, rng)


def stun_response(rng: random.Random, txid: bytes, ip: bytes, port: int) -> bytes:
    xport = port ^ (STUN_COOKIE >> 16)
    xaddr = bytes(a ^ b for a, b in zip(ip, struct.pack("!I", STUN_COOKIE)))
    return _stun_finish(0x0101, txid, _attr(0x0020, struct.pack("!BBH", 0, 1, xport) + xaddr), rng)


def _stun_finish(mtype: int, txid: bytes, attrs: bytes, rng: random.Random) -> bytes:
    attrs += _attr(0x0008, rng.randbytes(20))  # MESSAGE-INTEGRITY (HMAC-SHA1 sized)
    head = struct.pack("!HHI", mtype, len(attrs) + 8, STUN_COOKIE) + txid
    crc = (zlib.crc32(head + attrs) ^ 0x5354554E) & 0xFFFFFFFF
    return head + attrs + _attr(0x8028, struct.pack("!I", crc))


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _dtls_record(ctype: int, epoch: int, seq: int, body: bytes) -> bytes:
    return struct.pack("!BHH", ctype, 0xFEFD, epoch) + seq.to_bytes(6, "big") + struct.pack("!H", len(body)) + body


def _dtls_handshake(msg_type: int, msg_seq: int, body: bytes) -> bytes:
    n = len(body).to_bytes(3, "big")
    return struct.pack("!B", msg_type) + n + struct.pack("!H", msg_seq) + b"\0\0\0" + n + body


def dtls_flights(rng: random.Random) -> list[tuple[bool, bytes]]:
    """(from_client, datagram) of a DTLS 1.2 handshake negotiating use_srtp."""
    use_srtp = _ext(14, struct.pack("!HHHB", 4, 0x0007, 0x0001, 0))
    exts = use_srtp + _ext(10, struct.pack("!HHH", 4, 29, 23)) + _ext(11, b"\x01\x00") + _ext(23, b"")
    hello = (struct.pack("!H", 0xFEFD) + rng.randbytes(32) + b"\x00" + b"\x00"
             + struct.pack("!HHH", 4, 0xC02B, 0xC02F) + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    srv_exts = _ext(14, struct.pack("!HHB", 2, 0x0007, 0)) + _ext(23, b"")
    server_hello = (struct.pack("!H", 0xFEFD) + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
                    + struct.pack("!HB", 0xC02B, 0) + struct.pack("!H", len(srv_exts)) + srv_exts)
    cert = self_signed_certificate()
    certs = (len(cert) + 3).to_bytes(3, "big") + len(cert).to_bytes(3, "big") + cert
    return [
        (True, _dtls_record(22, 0, 0, _dtls_handshake(1, 0, hello))),
        (False, _dtls_record(22, 0, 0, _dtls_handshake(2, 0, server_hello))
         + _dtls_record(22, 0, 1, _dtls_handshake(11, 1, certs))
         + _dtls_record(22, 0, 2, _dtls_handshake(12, 2, b"\x03\x00\x17\x41\x04" + rng.randbytes(64)
                                                + b"\x04\x03\x00\x46" + rng.randbytes(70)))
         + _dtls_record(22, 0, 3, _dtls_handshake(13, 3, b"\x01\x40\x00\x02\x04\x03\x00\x00"))
         + _dtls_record(22, 0, 4, _dtls_handshake(14, 4, b""))),
        (True, _dtls_record(22, 0, 1, _dtls_handshake(11, 1, certs))
         + _dtls_record(22, 0, 2, _dtls_handshake(16, 2, b"\x41" + rng.randbytes(65)))
         + _dtls_record(22, 0, 3, _dtls_handshake(15, 3, b"\x04\x03\x00\x48" + rng.randbytes(72)))
         + _dtls_record(20, 0, 4, b"\x01") + _dtls_record(22, 1, 0, rng.randbytes(40))),
        (False, _dtls_record(20, 0, 5, b"\x01") + _dtls_record(22, 1, 0, rng.randbytes(40))),
    ]


def self_signed_certificate() -> bytes:
    """A real DER certificate (EC P-256, self-signed, CN=WebRTC) as browsers use for DTLS-SRTP."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WebRTC")])
    start = datetime.datetime(2025, 11, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def tls_client_hello(rng: random.Random, sni: str) -> bytes:
    name = sni.encode()
    exts = (_ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
            + _ext(43, b"\x04\x03\x04\x03\x03") + _ext(16, b"\x00\x0c\x02h2\x08http/1.1")
            + _ext(10, b"\x00\x04\x00\x1d\x00\x17") + _ext(13, b"\x00\x04\x04\x03\x08\x04")
            + _ext(51, struct.pack("!HHH", 36, 29, 32) + rng.randbytes(32)))
    exts += _ext(21, bytes(max(0, 512 - len(exts) - 80)))
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
            + struct.pack("!HHHH", 6, 0x1301, 0x1302, 0x1303) + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(hs)) + hs


def tls_server_flight(rng: random.Random) -> bytes:
    body = b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + b"\x13\x01\x00" + b"\x00\x2e" + \
        _ext(43, b"\x03\x04") + _ext(51, struct.pack("!HH", 29, 32) + rng.randbytes(32))
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return (struct.pack("!BHH", 22, 0x0303, len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"
            + struct.pack("!BHH", 23, 0x0303, 1100) + rng.randbytes(1100))


def _dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(txid: int, name: str, qtype: int) -> bytes:
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + _dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_answer(rng: random.Random, txid: int, name: str, qtype: int) -> bytes:
    question = _dns_name(name) + struct.pack("!HH", qtype, 1)
    rdata = rng.randbytes(4 if qtype == 1 else 16)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(rdata)) + rdata
    return struct.pack("!HHHHHH", txid, 0x8180, 1, 1, 0, 0) + question + answer


def quic_long(rng: random.Random, packet_type: int, dcid: bytes, scid: bytes, size: int) -> bytes:
    head = bytes([0xC0 | (packet_type << 4) | 0x03]) + struct.pack("!I", 1)
    head += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    if packet_type == 0:
        head += b"\x00"  # empty token
    rest = size - len(head) - 2
    return head + struct.pack("!H", 0x4000 | rest) + rng.randbytes(rest)


def arp_request(rng: random.Random) -> bytes:
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + rng.randbytes(6) + bytes([192, 168, 1, 23]) + bytes(6) + bytes([192, 168, 1, 1])
