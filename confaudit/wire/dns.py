"""DNS / mDNS messages (RFC 1035, SVCB/HTTPS RFC 9460), with compression-pointer loop protection."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import hex_capped, record_dict, safe_text
from confaudit.wire.errors import ParseError
from confaudit.wire.names import DNS_TYPES

_MAX_POINTER_JUMPS = 32
_MAX_NAME = 255
_MAX_RECORDS = 256
_TXT_CAP = 256
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_SVC_KEYS = {0: "mandatory", 1: "alpn", 2: "no-default-alpn", 3: "port", 4: "ipv4hint", 5: "ech", 6: "ipv6hint"}
_COUNTS = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    """One question."""

    name: str
    """Query name (lower-case, no trailing dot)."""
    type: int
    """QTYPE number."""
    type_name: str | None
    """QTYPE mnemonic ("A", "HTTPS", ...)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """One resource record from the answer, authority or additional section."""

    section: str
    """"answer", "authority" or "additional"."""
    name: str
    """Owner name."""
    type: int
    """RR type number."""
    type_name: str | None
    """RR type mnemonic."""
    ttl: int
    """TTL in seconds."""
    value: str | None
    """A/AAAA address text, CNAME/PTR/NS/MX target, TXT text (capped), SVCB/HTTPS summary; None otherwise."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


@dataclass(frozen=True, slots=True)
class DnsMessage:
    """A DNS message."""

    id: int
    """Transaction id."""
    response: bool
    """QR bit."""
    opcode: int
    """OPCODE."""
    rcode: int
    """RCODE (low 4 bits)."""
    rcode_name: str | None
    """"NOERROR", "NXDOMAIN", ..."""
    questions: tuple[DnsQuestion, ...]
    """Question section."""
    answers: tuple[DnsAnswer, ...]
    """Answer, authority and additional records (OPT excluded)."""
    counts: tuple[int, int, int, int]
    """Header counts (QD, AN, NS, AR) as sent."""
    complete: bool
    """False when the sections ended before the header counts said."""
    problems: tuple[str, ...]
    """Why parsing stopped early."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def _name(msg: bytes, pos: int) -> tuple[str, int]:
    """Decompress a name starting at ``pos``; returns (name, position after the name in place)."""
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    total = 0
    size = len(msg)
    while True:
        if pos >= size:
            raise ParseError("name runs past the end")
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= size:
                raise ParseError("truncated pointer")
            target = ((length & 0x3F) << 8) | msg[pos + 1]
            if end is None:
                end = pos + 2
            jumps += 1
            if jumps > _MAX_POINTER_JUMPS or target >= pos:  # only backward pointers: no loops
                raise ParseError("compression pointer loop or out of range")
            pos = target
            continue
        if length & 0xC0:
            raise ParseError("reserved label type")
        if length == 0:
            return ".".join(labels).lower(), end if end is not None else pos + 1
        label = msg[pos + 1 : pos + 1 + length]
        if len(label) < length:
            raise ParseError("truncated label")
        total += length + 1
        if total > _MAX_NAME:
            raise ParseError("name longer than 255 bytes")
        labels.append(label.decode("utf-8", "replace").replace(".", "\\."))  # as safe_text; labels are <= 63 bytes
        pos += 1 + length


def _svcb(msg: bytes, start: int, rdata: bytes) -> str:
    priority = int.from_bytes(rdata[:2], "big")
    target, pos = _name(msg, start + 2)
    pos -= start
    parts = [str(priority), target or "."]
    while pos + 4 <= len(rdata) and len(parts) < 20:
        key, length = int.from_bytes(rdata[pos : pos + 2], "big"), int.from_bytes(rdata[pos + 2 : pos + 4], "big")
        value = rdata[pos + 4 : pos + 4 + length]
        name = _SVC_KEYS.get(key, f"key{key}")
        if key == 1:
            alpns, i = [], 0
            while i < len(value) and len(alpns) < 16:
                alpns.append(safe_text(value[i + 1 : i + 1 + value[i]], 255))
                i += 1 + value[i]
            parts.append(f"alpn={','.join(alpns)}")
        elif key == 3 and len(value) == 2:
            parts.append(f"port={int.from_bytes(value, 'big')}")
        elif key == 4:
            ips = [str(ipaddress.IPv4Address(value[i : i + 4])) for i in range(0, len(value) - 3, 4)][:8]
            parts.append(f"ipv4hint={','.join(ips)}")
        elif key == 6:
            ips = [str(ipaddress.IPv6Address(value[i : i + 16])) for i in range(0, len(value) - 15, 16)][:8]
            parts.append(f"ipv6hint={','.join(ips)}")
        else:
            parts.append(name if not value else f"{name}={hex_capped(value, 16)}")
        pos += 4 + length
    return " ".join(parts)


def _rdata_value(msg: bytes, rtype: int, start: int, rdata: bytes) -> str | None:
    if rtype == 1 and len(rdata) == 4:
        return str(ipaddress.IPv4Address(rdata))
    if rtype == 28 and len(rdata) == 16:
        return str(ipaddress.IPv6Address(rdata))
    if rtype in (2, 5, 12):
        return _name(msg, start)[0]
    if rtype == 15 and len(rdata) > 2:
        return _name(msg, start + 2)[0]
    if rtype == 16:
        chunks, i = [], 0
        while i < len(rdata) and sum(map(len, chunks)) < _TXT_CAP:
            chunks.append(safe_text(rdata[i + 1 : i + 1 + rdata[i]], _TXT_CAP))
            i += 1 + rdata[i]
        return "".join(chunks)[:_TXT_CAP]
    if rtype in (64, 65) and len(rdata) >= 3:
        return _svcb(msg, start, rdata)
    return None


def parse_dns(data: bytes, tcp: bool = False) -> DnsMessage | None:
    """Parse a DNS message (``tcp=True``: 2-byte length prefix first). None when not even a header.

    Sections that break off early give a message with ``complete=False`` and the reason in ``problems``.
    """
    msg = bytes(data)
    if tcp:
        if len(msg) < 2:
            return None
        msg = msg[2 : 2 + int.from_bytes(msg[:2], "big")]
    if len(msg) < 12:
        return None
    flags = int.from_bytes(msg[2:4], "big")
    counts = _COUNTS.unpack_from(msg, 4)
    questions: list[DnsQuestion] = []
    answers: list[DnsAnswer] = []
    problems: list[str] = []
    pos = 12
    try:
        for _ in range(min(counts[0], _MAX_RECORDS)):
            name, pos = _name(msg, pos)
            if pos + 4 > len(msg):
                raise ParseError("truncated question")
            qtype = int.from_bytes(msg[pos : pos + 2], "big")
            questions.append(DnsQuestion(name, qtype, DNS_TYPES.get(qtype)))
            pos += 4
        for section, count in (("answer", counts[1]), ("authority", counts[2]), ("additional", counts[3])):
            for _ in range(min(count, _MAX_RECORDS - len(answers))):
                name, pos = _name(msg, pos)
                if pos + 10 > len(msg):
                    raise ParseError("truncated resource record")
                rtype = int.from_bytes(msg[pos : pos + 2], "big")
                ttl = int.from_bytes(msg[pos + 4 : pos + 8], "big")
                rdlen = int.from_bytes(msg[pos + 8 : pos + 10], "big")
                start = pos + 10
                rdata = msg[start : start + rdlen]
                if len(rdata) < rdlen:
                    raise ParseError("truncated rdata")
                pos = start + rdlen
                if rtype == 41:
                    continue
                try:
                    value = _rdata_value(msg, rtype, start, rdata)
                except ParseError as exc:
                    value = None
                    problems.append(f"undecodable {DNS_TYPES.get(rtype, rtype)} rdata: {exc}")
                answers.append(DnsAnswer(section, name, rtype, DNS_TYPES.get(rtype), ttl, value))
    except ParseError as exc:
        problems.append(str(exc))
    expected = counts[0] + counts[1] + counts[2] + counts[3]
    seen_all = not problems or all(p.startswith("undecodable") for p in problems)
    if sum(counts) > _MAX_RECORDS and seen_all:
        problems.append("record limit reached")
    rcode = flags & 0x0F
    return DnsMessage(
        id=int.from_bytes(msg[:2], "big"), response=bool(flags & 0x8000), opcode=(flags >> 11) & 0x0F, rcode=rcode,
        rcode_name=RCODES.get(rcode), questions=tuple(questions), answers=tuple(answers), counts=counts,  # type: ignore[arg-type]
        complete=seen_all and expected <= _MAX_RECORDS, problems=tuple(problems),
    )
