"""DTLS hellos of one flow -> the sessions whose SRTP keys a key log can unlock.

Only what keying needs: client/server randoms, the cipher suite, the version and the use_srtp
profiles. A ClientHello may be fragmented across records and datagrams (Firefox): the random is
taken from the fragment at offset 0, the extensions from the reassembled message when complete.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confaudit.e2ee.enums import DtlsVersion

# ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 §4.1.3).
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
MAX_HELLO_BYTES = 1 << 16


@dataclass
class DtlsSession:
    """One DTLS handshake seen on a flow (mutable while the flow is being read)."""

    client: tuple[str, int]
    """(address, port) of the DTLS client (sender of the ClientHello)."""
    client_random: bytes
    """ClientHello.random (32 bytes)."""
    server_random: bytes | None = None
    """ServerHello.random, when seen."""
    cipher_suite: int | None = None
    """ServerHello cipher suite."""
    version: DtlsVersion | None = None
    """"DTLS 1.0", "DTLS 1.2" or "DTLS 1.3" (from ServerHello / supported_versions); None until a ServerHello shows it
    (key derivation then follows DTLS 1.2's, as it did when 1.2 was assumed)."""
    profiles_offered: list[int] = field(default_factory=list)
    """use_srtp profiles in the ClientHello."""
    profile: int | None = None
    """use_srtp profile chosen in the ServerHello (hidden in EncryptedExtensions for DTLS 1.3)."""


@dataclass
class _Fragments:
    length: int
    data: bytearray
    have: set[int] = field(default_factory=set)

    def add(self, offset: int, chunk: bytes) -> bytes | None:
        if offset + len(chunk) > self.length:
            return None
        self.data[offset:offset + len(chunk)] = chunk
        self.have.update(range(offset, offset + len(chunk)))
        return bytes(self.data) if len(self.have) == self.length else None


def _u16(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 2], "big")


def _extensions(body: bytes, pos: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    if pos + 2 > len(body):
        return out
    end = min(len(body), pos + 2 + _u16(body, pos))
    pos += 2
    while pos + 4 <= end:
        ext_type, ext_len = _u16(body, pos), _u16(body, pos + 2)
        out[ext_type] = body[pos + 4:pos + 4 + ext_len]
        pos += 4 + ext_len
    return out


def _srtp_profiles(ext: bytes) -> list[int]:
    if len(ext) < 2:
        return []
    n = min(_u16(ext, 0), len(ext) - 2)
    return [_u16(ext, 2 + i) for i in range(0, n - 1, 2)]


def _client_hello_extensions(body: bytes) -> dict[int, bytes]:
    pos = 2 + 32
    if pos >= len(body):
        return {}
    pos += 1 + body[pos]  # session id
    if pos >= len(body):
        return {}
    pos += 1 + body[pos]  # cookie (DTLS only)
    if pos + 2 > len(body):
        return {}
    pos += 2 + _u16(body, pos)  # cipher suites
    if pos >= len(body):
        return {}
    pos += 1 + body[pos]  # compression methods
    return _extensions(body, pos)


class FlowHandshakes:
    """Feeds the datagrams of one (bidirectional) UDP flow; collects its DTLS sessions."""

    def __init__(self) -> None:
        self.sessions: list[DtlsSession] = []
        self._client_hello: dict[tuple[tuple[str, int], int], _Fragments] = {}

    def feed(self, sender: tuple[str, int], datagram: bytes) -> None:
        pos = 0
        while pos + 13 <= len(datagram):
            content_type = datagram[pos]
            if not 20 <= content_type <= 25 or datagram[pos + 1] != 0xFE:
                return  # DTLS 1.3 unified headers and garbage end the plaintext part
            epoch = _u16(datagram, pos + 3)
            length = _u16(datagram, pos + 11)
            record = datagram[pos + 13:pos + 13 + length]
            pos += 13 + length
            if content_type == 22 and epoch == 0:
                self._handshake_record(sender, record)

    def _handshake_record(self, sender: tuple[str, int], record: bytes) -> None:
        pos = 0
        while pos + 12 <= len(record):
            msg_type = record[pos]
            total = int.from_bytes(record[pos + 1:pos + 4], "big")
            message_seq = _u16(record, pos + 4)
            offset = int.from_bytes(record[pos + 6:pos + 9], "big")
            frag_len = int.from_bytes(record[pos + 9:pos + 12], "big")
            fragment = record[pos + 12:pos + 12 + frag_len]
            pos += 12 + frag_len
            if msg_type == 1:
                self._client_hello_fragment(sender, message_seq, total, offset, fragment)
            elif msg_type == 2 and offset == 0:
                self._server_hello(sender, fragment)

    def _client_hello_fragment(self, sender: tuple[str, int], message_seq: int, total: int,
                               offset: int, fragment: bytes) -> None:
        if offset == 0 and len(fragment) >= 34:
            random = fragment[2:34]
            if not any(s.client_random == random and s.client == sender for s in self.sessions):
                self.sessions.append(DtlsSession(client=sender, client_random=random))
        if total > MAX_HELLO_BYTES:
            return
        slot = self._client_hello.setdefault((sender, message_seq), _Fragments(total, bytearray(total)))
        body = slot.add(offset, fragment) if slot.length == total else None
        if body is None:
            return
        session = next((s for s in reversed(self.sessions) if s.client_random == body[2:34]), None)
        if session is not None:
            extensions = _client_hello_extensions(body)
            session.profiles_offered = _srtp_profiles(extensions.get(14, b""))

    def _server_hello(self, sender: tuple[str, int], body: bytes) -> None:
        if len(body) < 35 or body[2:34] == HRR_RANDOM:
            return
        session = next((s for s in reversed(self.sessions) if s.client != sender), None)
        if session is None or session.server_random is not None:
            return
        session.server_random = body[2:34]
        pos = 34
        pos += 1 + body[pos]
        if pos + 3 > len(body):
            return
        session.cipher_suite = _u16(body, pos)
        extensions = _extensions(body, pos + 3)
        legacy = _u16(body, 0)
        selected = _u16(extensions[43], 0) if len(extensions.get(43, b"")) >= 2 else None
        if selected == 0xFEFC:
            session.version = "DTLS 1.3"
        elif legacy == 0xFEFF:
            session.version = "DTLS 1.0"
        elif legacy == 0xFEFD:
            session.version = "DTLS 1.2"
        chosen = _srtp_profiles(extensions.get(14, b""))
        if chosen:
            session.profile = chosen[0]
