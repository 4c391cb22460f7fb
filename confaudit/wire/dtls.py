"""DTLS records (1.0/1.2/1.3, incl. the RFC 9147 unified header) and handshake summary of one flow.

Also OpenSSL's pre-standard DTLS1_BAD_VER (record and hello version 0x0100), still spoken by old
Cisco AnyConnect-era stacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from typing import Any

from confaudit.wire._records import hex_capped, record_dict
from confaudit.wire.hello import (
    CertificateInfo,
    ClientHello,
    ServerHello,
    parse_certificate_body,
    parse_client_hello_body,
    parse_server_hello_body,
)
from confaudit.wire.names import SRTP_NULL_PROFILES, SRTP_PROFILES, tls_version_name

CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data",
                 24: "heartbeat", 25: "tls12_cid", 26: "ack"}
DTLS1_BAD_VER = 0x0100
"""OpenSSL's DTLS 1.0 before RFC 4347 was final (SSL_OP_CISCO_ANYCONNECT)."""
DTLS_VERSIONS = (0xFEFF, 0xFEFD, 0xFEFC, DTLS1_BAD_VER)
_MAX_RECORDS = 256
_MAX_MESSAGE = 1 << 17  # a ClientHello/Certificate bigger than 128 KiB is not plausible
_MAX_MESSAGES = 64


@dataclass(frozen=True, slots=True)
class DtlsRecord:
    """One DTLS record from a datagram."""

    offset: int
    """Offset of the record in the datagram."""
    content_type: int | None
    """Content type 20-26 (None for a unified-header record, whose type is encrypted)."""
    content_type_name: str | None
    """"handshake", "application_data", ..."""
    version: int | None
    """Record version (0xfeff, 0xfefd, 0xfefc, or 0x0100 for DTLS1_BAD_VER); None for unified headers."""
    epoch: int
    """Epoch (for unified headers: only the low 2 bits, see epoch_bits)."""
    sequence_number: int
    """Record sequence number (truncated to 8/16 bits in unified headers)."""
    length: int
    """Fragment length."""
    fragment: bytes
    """The record body (ciphertext after the handshake)."""
    unified: bool
    """True for a DTLS 1.3 unified header (first byte 0b001CSLEE)."""
    epoch_bits: int | None
    """The 2 low epoch bits of a unified header."""
    cid_present: bool
    """Connection ID present (unified C bit or tls12_cid content type)."""
    end: int
    """Offset just after the record in the datagram."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (fragment hex capped at 64 bytes)."""
        out = record_dict(self)
        out["fragment"] = hex_capped(self.fragment)
        return out


@dataclass(frozen=True, slots=True)
class DtlsHandshakeInfo:
    """What the clear-text part of one flow's DTLS handshake shows."""

    client_hello: ClientHello | None
    """Last ClientHello seen (the one answering a HelloVerifyRequest when there was one)."""
    client_hello_count: int
    """Number of ClientHello messages seen."""
    hello_verify_request: bool
    """A HelloVerifyRequest (cookie exchange) was seen."""
    server_hello: ServerHello | None
    """ServerHello, when seen."""
    certificates: tuple[CertificateInfo, ...]
    """Certificates from clear-text Certificate messages (DTLS ≤ 1.2; both sides in WebRTC), chains included."""
    certificate_names: tuple[str, ...]
    """Sorted unique subject CNs and SAN DNS names of the leaf certificate of each Certificate message."""
    version: int | None
    """Negotiated version number (0xfefd, 0xfefc, ...) when it can be told."""
    version_label: str | None
    """"DTLS 1.0", "DTLS 1.2", "DTLS 1.3" or "DTLS 1.0 (pre-RFC 0x0100)"."""
    srtp_profile: int | None
    """SRTP protection profile the server chose."""
    srtp_profile_name: str | None
    """IANA name of that profile."""
    null_profile: bool
    """The chosen SRTP profile has NULL encryption."""
    record_counts: dict[str, int]
    """Records per content type name ("unified" for DTLS 1.3 encrypted records)."""
    unified_records: int
    """Number of unified-header records."""
    problems: tuple[str, ...]
    """Undecodable datagrams, incomplete messages, limits hit."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = record_dict(self)
        out["client_hello"] = self.client_hello.to_dict() if self.client_hello else None
        out["server_hello"] = self.server_hello.to_dict() if self.server_hello else None
        return out


def _unified(data: bytes, offset: int) -> tuple[DtlsRecord | None, int]:
    first = data[offset]
    cid, seq16, has_len = bool(first & 0x10), bool(first & 0x08), bool(first & 0x04)
    if cid:
        # The CID length is negotiated out of band, so the rest of the header cannot be located.
        rest = data[offset + 1 :]
        return DtlsRecord(offset, None, None, None, first & 0x03, 0, len(rest), rest, True, first & 0x03, True, len(data)), len(data)
    pos = offset + 1
    seq_len = 2 if seq16 else 1
    if pos + seq_len > len(data):
        return None, offset
    seq = int.from_bytes(data[pos : pos + seq_len], "big")
    pos += seq_len
    if has_len:
        if pos + 2 > len(data):
            return None, offset
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            return None, offset
    else:
        length = len(data) - pos
    body = data[pos : pos + length]
    return DtlsRecord(offset, None, None, None, first & 0x03, seq, length, body, True, first & 0x03, False, pos + length), pos + length


def parse_dtls_records(data: bytes) -> tuple[DtlsRecord, ...]:
    """All records of one datagram; stops cleanly (returning what was parsed) at the first garbage."""
    data = bytes(data)
    out: list[DtlsRecord] = []
    offset = 0
    while offset < len(data) and len(out) < _MAX_RECORDS:
        first = data[offset]
        if 0x20 <= first <= 0x3F:
            record, offset = _unified(data, offset)
            if record is None:
                break
            out.append(record)
            continue
        if first not in CONTENT_TYPES or offset + 13 > len(data):
            break
        version = int.from_bytes(data[offset + 1 : offset + 3], "big")
        if version not in DTLS_VERSIONS:
            break
        if first == 25:
            # tls12_cid puts a CID of negotiated length before the length field.
            rest = data[offset + 11 :]
            out.append(DtlsRecord(offset, 25, CONTENT_TYPES[25], version, int.from_bytes(data[offset + 3 : offset + 5], "big"),
                                  int.from_bytes(data[offset + 5 : offset + 11], "big"), len(rest), rest, False, None, True, len(data)))
            break
        length = int.from_bytes(data[offset + 11 : offset + 13], "big")
        if offset + 13 + length > len(data):
            break
        out.append(DtlsRecord(
            offset=offset, content_type=first, content_type_name=CONTENT_TYPES[first], version=version,
            epoch=int.from_bytes(data[offset + 3 : offset + 5], "big"),
            sequence_number=int.from_bytes(data[offset + 5 : offset + 11], "big"), length=length,
            fragment=data[offset + 13 : offset + 13 + length], unified=False, epoch_bits=None, cid_present=False,
            end=offset + 13 + length,
        ))
        offset += 13 + length
    return tuple(out)


class _Reassembler:
    """Collects handshake fragments into whole bodies (bounded).

    Messages are keyed by (direction, msg_type, message_seq, length). Without direction both
    peers' messages share one space (WebRTC: both send Certificate seq 1), so a fragment that
    contradicts bytes already seen starts a separate buffer instead of corrupting the first.
    """

    def __init__(self) -> None:
        self.buffers: dict[tuple[Any, ...], tuple[bytearray, bytearray]] = {}
        self.order: list[tuple[Any, ...]] = []
        self.problems: list[str] = []

    def add(self, fragment: bytes, direction: bool | None) -> None:
        pos = 0
        while pos + 12 <= len(fragment):
            msg_type = fragment[pos]
            length = int.from_bytes(fragment[pos + 1 : pos + 4], "big")
            seq = int.from_bytes(fragment[pos + 4 : pos + 6], "big")
            frag_off = int.from_bytes(fragment[pos + 6 : pos + 9], "big")
            frag_len = int.from_bytes(fragment[pos + 9 : pos + 12], "big")
            body = fragment[pos + 12 : pos + 12 + frag_len]
            pos += 12 + frag_len
            if len(body) < frag_len or frag_off + frag_len > length or length > _MAX_MESSAGE:
                self.problems.append(f"bad handshake fragment (type {msg_type})")
                return
            if not self._place(direction, msg_type, seq, length, frag_off, body):
                return

    def _place(self, direction: bool | None, msg_type: int, seq: int, length: int, off: int, body: bytes) -> bool:
        for variant in range(4):
            key = (direction, msg_type, seq, length, variant)
            if key not in self.buffers:
                if len(self.buffers) >= _MAX_MESSAGES:
                    self.problems.append("handshake message limit reached")
                    return False
                self.buffers[key] = (bytearray(length), bytearray(length))
                self.order.append(key)
            data, seen = self.buffers[key]
            end = off + len(body)
            if any(s and data[off + i] != body[i] for i, s in enumerate(seen[off:end])):
                continue  # different message with the same header fields: try the next buffer
            data[off:end] = body
            seen[off:end] = b"\x01" * len(body)
            return True
        self.problems.append(f"conflicting fragments for handshake type {msg_type}")
        return True

    def messages(self) -> Iterable[tuple[int, bytes, bool]]:
        """(msg_type, body, complete) in first-seen order; incomplete bodies keep the prefix seen."""
        for key in self.order:
            data, seen = self.buffers[key]
            prefix = seen.find(0)
            if prefix < 0:
                yield key[1], bytes(data), True
            else:
                yield key[1], bytes(data[:prefix]), False


def dtls_handshake_info(
    datagrams: Iterable[bytes], from_client: Sequence[bool] | None = None
) -> DtlsHandshakeInfo:
    """Summarise the clear-text handshake of one flow (both directions, in capture order).

    ``from_client`` (one flag per datagram) keeps the two peers' message sequences apart; without
    it, conflicting fragments are still kept apart by content.
    """
    reasm = _Reassembler()
    counts: dict[str, int] = {}
    unified = 0
    unified_after_hello = False
    problems: list[str] = []
    for index, datagram in enumerate(datagrams):
        if index >= 10_000:
            problems.append("datagram limit reached")
            break
        records = parse_dtls_records(datagram)
        if not records and datagram:
            problems.append(f"datagram {index} is not DTLS")
        elif records and records[-1].end < len(datagram):
            problems.append(f"datagram {index}: {len(datagram) - records[-1].end} bytes after the last DTLS record")
        for rec in records:
            name = "unified" if rec.unified else (rec.content_type_name or "unknown")
            counts[name] = counts.get(name, 0) + 1
            if rec.unified:
                unified += 1
                unified_after_hello = unified_after_hello or bool(reasm.order)
            elif rec.content_type == 22 and rec.epoch == 0:
                reasm.add(rec.fragment, from_client[index] if from_client and index < len(from_client) else None)
    problems.extend(reasm.problems)
    client: ClientHello | None = None
    server: ServerHello | None = None
    client_count = 0
    hvr = False
    certs: list[CertificateInfo] = []
    leaves: list[CertificateInfo] = []
    for msg_type, body, complete in reasm.messages():
        if msg_type == 1:
            client_count += 1
            parsed = parse_client_hello_body(body, dtls=True)
            client = parsed or client
        elif msg_type == 3:
            hvr = True
        elif msg_type == 2:
            server = parse_server_hello_body(body) or server
        elif msg_type == 11 and complete:
            chain = parse_certificate_body(body)
            certs.extend(chain)
            leaves.extend(chain[:1])
        if not complete:
            problems.append(f"handshake message type {msg_type} incomplete ({len(body)} bytes seen)")
    version = _version(server, unified_after_hello)
    profile = server.use_srtp_profile if server else None
    names = sorted({n for c in leaves for n in ((c.subject_cn,) if c.subject_cn else ()) + c.san_dns})
    return DtlsHandshakeInfo(
        client_hello=client, client_hello_count=client_count, hello_verify_request=hvr, server_hello=server,
        certificates=tuple(certs), certificate_names=tuple(names), version=version,
        version_label=tls_version_name(version) if version else None, srtp_profile=profile,
        srtp_profile_name=SRTP_PROFILES.get(profile) if profile is not None else None,
        null_profile=profile in SRTP_NULL_PROFILES, record_counts=counts, unified_records=unified,
        problems=tuple(problems[:50]),
    )


def _version(server: ServerHello | None, unified_after_hello: bool) -> int | None:
    if server is not None and server.selected_version in DTLS_VERSIONS:
        return server.selected_version
    if unified_after_hello:
        return 0xFEFC
    if server is not None and server.legacy_version in DTLS_VERSIONS:
        return server.legacy_version
    return None
