"""Test helper: build (D)TLS ClientHello/ServerHello bodies and records from parts."""

from __future__ import annotations

import struct


def ext(etype: int, value: bytes) -> bytes:
    return struct.pack("!HH", etype, len(value)) + value


def vec(n: int, data: bytes) -> bytes:
    return len(data).to_bytes(n, "big") + data


def sni_ext(host: str) -> bytes:
    name = b"\x00" + vec(2, host.encode())
    return ext(0, vec(2, name))


def alpn_ext(*names: str) -> bytes:
    return ext(16, vec(2, b"".join(vec(1, n.encode()) for n in names)))


def client_hello_body(
    *, version: int = 0x0303, random: bytes = b"\x11" * 32, dtls: bool = False, suites=(0x1301, 0xC02F),
    extensions: bytes = b"", cookie: bytes = b"",
) -> bytes:
    body = version.to_bytes(2, "big") + random + vec(1, b"\x22" * 32)
    if dtls:
        body += vec(1, cookie)
    body += vec(2, b"".join(s.to_bytes(2, "big") for s in suites)) + vec(1, b"\x00")
    return body + vec(2, extensions)


def server_hello_body(*, version: int = 0x0303, suite: int = 0x1301, extensions: bytes = b"") -> bytes:
    return version.to_bytes(2, "big") + b"\x33" * 32 + vec(1, b"") + suite.to_bytes(2, "big") + b"\x00" + vec(2, extensions)


def handshake(msg_type: int, body: bytes) -> bytes:
    """TLS handshake message (4-byte header)."""
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def tls_records(payload: bytes, content_type: int = 22, version: int = 0x0301, size: int = 16384) -> bytes:
    out = b""
    for i in range(0, len(payload), size):
        chunk = payload[i : i + size]
        out += bytes([content_type]) + version.to_bytes(2, "big") + vec(2, chunk)
    return out


def dtls_fragment(msg_type: int, body: bytes, seq: int, offset: int, length: int) -> bytes:
    """DTLS handshake header + one fragment of ``body``."""
    part = body[offset : offset + length]
    return (bytes([msg_type]) + len(body).to_bytes(3, "big") + seq.to_bytes(2, "big")
            + offset.to_bytes(3, "big") + len(part).to_bytes(3, "big") + part)


def dtls_record(content_type: int, fragment: bytes, epoch: int = 0, seq: int = 0, version: int = 0xFEFD) -> bytes:
    return (bytes([content_type]) + version.to_bytes(2, "big") + epoch.to_bytes(2, "big")
            + seq.to_bytes(6, "big") + vec(2, fragment))


def certificate_der(cn: str, sans: tuple[str, ...] = ()) -> bytes:
    """A throwaway self-signed certificate (cryptography, EC P-256)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def certificate_body(*ders: bytes) -> bytes:
    return vec(3, b"".join(vec(3, d) for d in ders))
