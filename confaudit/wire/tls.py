"""TLS ClientHello / ServerHello from the first reassembled bytes of ONE TCP direction.

A ClientHello with a post-quantum key share is larger than one segment and may span several
records, so the functions concatenate handshake records and answer ``NEED_MORE`` when the stream
stops before the message does, and None when the bytes are not TLS (SSLv2-compatible hellos too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import record_dict
from confaudit.wire.hello import (
    CertificateInfo,
    ClientHello,
    ServerHello,
    parse_certificate_body,
    parse_client_hello_body,
    parse_server_hello_body,
)
from confaudit.wire.names import WEAK_TLS_VERSIONS, tls_version_name

__all__ = ["NEED_MORE", "TlsServerHello", "parse_tls_client_hello", "parse_tls_server_hello", "tls_version_name",
           "is_weak_version"]

_MAX_HANDSHAKE = 1 << 17  # 128 KiB of handshake bytes is far beyond any real hello + certificate chain
_MAX_RECORDS = 512


class _NeedMore:
    """Sentinel: the bytes so far are a TLS prefix; feed more of the stream."""

    _instance: "_NeedMore | None" = None

    def __new__(cls) -> "_NeedMore":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_MORE"

    def __bool__(self) -> bool:
        return False


NEED_MORE = _NeedMore()


def is_weak_version(version: int | None) -> bool:
    """SSL 2/3, TLS 1.0, TLS 1.1 (and DTLS 1.0) are deprecated (RFC 8996)."""
    return version in WEAK_TLS_VERSIONS


@dataclass(frozen=True, slots=True)
class TlsServerHello:
    """The server's first flight as far as it is in the clear."""

    hello: ServerHello
    """The ServerHello fields (legacy_version, cipher suite, extensions, ALPN, ...)."""
    version: int
    """Negotiated version (supported_versions when present, else legacy_version)."""
    version_name: str | None
    """"TLS 1.2", "TLS 1.3", ..."""
    weak: bool
    """True for SSL 3.0 / TLS 1.0 / TLS 1.1."""
    cipher_suite: int | None
    """Chosen cipher suite."""
    cipher_suite_name: str | None
    """Its IANA name."""
    alpn: str | None
    """ALPN protocol chosen."""
    certificates: tuple[CertificateInfo, ...]
    """Certificates when the Certificate message is in the clear (TLS ≤ 1.2) and complete."""
    certificate_names: tuple[str, ...]
    """Sorted unique subject CN and SAN DNS names of the leaf (server) certificate."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = record_dict(self)
        out["hello"] = self.hello.to_dict()
        return out


def _handshake_bytes(stream: bytes) -> tuple[bytes, bool] | None:
    """Concatenated handshake-record payloads from the start, and whether the stream ended mid-record.

    None when the stream does not start like TLS.
    """
    out = bytearray()
    pos = 0
    for _ in range(_MAX_RECORDS):
        if pos >= len(stream) or len(out) >= _MAX_HANDSHAKE:
            return bytes(out), False
        if pos + 5 > len(stream):
            return bytes(out), True
        ctype, major, length = stream[pos], stream[pos + 1], int.from_bytes(stream[pos + 3 : pos + 5], "big")
        if major != 3 or stream[pos + 2] > 4 or length > 18432:
            return None if pos == 0 else (bytes(out), False)
        if ctype != 22:
            if pos == 0:
                return None
            return bytes(out), False
        out += stream[pos + 5 : pos + 5 + length]
        if pos + 5 + length > len(stream):
            return bytes(out), True
        pos += 5 + length
    return bytes(out), False


def _messages(handshake: bytes) -> list[tuple[int, bytes, bool]]:
    """(type, body, complete) of consecutive handshake messages."""
    out: list[tuple[int, bytes, bool]] = []
    pos = 0
    while pos + 4 <= len(handshake) and len(out) < 32:
        msg_type, length = handshake[pos], int.from_bytes(handshake[pos + 1 : pos + 4], "big")
        body = handshake[pos + 4 : pos + 4 + length]
        out.append((msg_type, body, len(body) == length))
        if len(body) < length:
            break
        pos += 4 + length
    return out


def parse_tls_client_hello(stream: bytes) -> ClientHello | _NeedMore | None:
    """ClientHello from the client→server stream start; NEED_MORE if cut short; None if not TLS."""
    data = bytes(stream)
    if not data:
        return NEED_MORE
    if data[0] & 0x80:
        return None  # SSLv2-compatible hello (or not TLS at all)
    found = _handshake_bytes(data)
    if found is None:
        return None
    handshake, _cut = found
    if len(handshake) < 4:
        return NEED_MORE if len(data) < 5 or _cut or not handshake else None
    if handshake[0] != 1:
        return None
    length = int.from_bytes(handshake[1:4], "big")
    if length > _MAX_HANDSHAKE:
        return None
    if len(handshake) < 4 + length:
        return NEED_MORE
    return parse_client_hello_body(handshake[4 : 4 + length], dtls=False)


def parse_tls_server_hello(stream: bytes) -> TlsServerHello | _NeedMore | None:
    """ServerHello (+ clear-text Certificate names) from the server→client stream start."""
    data = bytes(stream)
    if not data:
        return NEED_MORE
    if data[0] & 0x80:
        return None
    found = _handshake_bytes(data)
    if found is None:
        return None
    handshake, _cut = found
    messages = _messages(handshake)
    if not messages or not messages[0][2]:
        if len(handshake) >= 4 and handshake[0] != 2:
            return None
        return NEED_MORE
    msg_type, body, _ = messages[0]
    if msg_type != 2:
        return None
    hello = parse_server_hello_body(body)
    if hello is None:
        return None
    certs: tuple[CertificateInfo, ...] = ()
    for mtype, mbody, complete in messages[1:]:
        if mtype == 11 and complete and hello.version < 0x0304:
            certs = parse_certificate_body(mbody)
            break
    names = sorted({n for c in certs[:1] for n in ((c.subject_cn,) if c.subject_cn else ()) + c.san_dns})
    return TlsServerHello(
        hello=hello, version=hello.version, version_name=tls_version_name(hello.version),
        weak=is_weak_version(hello.version), cipher_suite=hello.cipher_suite,
        cipher_suite_name=hello.cipher_suite_name, alpn=hello.alpn, certificates=certs,
        certificate_names=tuple(names),
    )
