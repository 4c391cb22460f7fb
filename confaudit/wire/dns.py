"""DNS / mDNS messages (RFC 1035, SVCB/HTTPS RFC 9460) read with dnspython, record by record.

dnspython decodes names (compression, pointer loops, the 255-byte limit) and rdata; this module walks
the sections itself so that a message damaged part-way keeps what came before the damage
(``dns.message.from_wire`` is all or nothing), and renders names and values as JSON-safe text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import hex_capped, record_dict, safe_text
from confaudit.wire.names import DNS_TYPES

_MAX_RECORDS = 256
_TXT_CAP = 256
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_SVC_KEYS = {0: "mandatory", 1: "alpn", 2: "no-default-alpn", 3: "port", 4: "ipv4hint", 5: "ech", 6: "ipv6hint"}
_SHOWN_TYPES = frozenset({1, 2, 5, 12, 15, 16, 28, 64, 65})
"""RR types whose value is rendered; the rdata of other types is skipped unread."""


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


def _name(parser: Any) -> str:
    """The (possibly compressed) name at the parser's position, lower-case, labels as safe text."""
    import dns.name

    return _name_text(dns.name.from_wire_parser(parser))


def _name_text(name: Any) -> str:
    # Labels are <= 63 bytes; a dot inside a label is escaped so the text still splits into the labels.
    return ".".join(safe_text(label).replace(".", "\\.") for label in name.labels if label).lower()


def _svcb(rdata: Any) -> str:
    parts = [str(rdata.priority), _name_text(rdata.target) or "."]
    for key, param in list(rdata.params.items())[:18]:
        name = _SVC_KEYS.get(int(key), f"key{int(key)}")
        if key == 1:
            parts.append(f"alpn={','.join(safe_text(a, 255) for a in param.ids[:16])}")
        elif key == 3:
            parts.append(f"port={param.port}")
        elif key in (4, 6):
            parts.append(f"{name}={','.join(param.addresses[:8])}")
        elif key == 0:
            parts.append(f"{name}={hex_capped(b''.join(k.to_bytes(2, 'big') for k in param.keys), 16)}")
        else:  # ech, no-default-alpn (no value) and unknown keys: the value's bytes
            raw = getattr(param, "ech", None) or getattr(param, "value", None)
            parts.append(f"{name}={hex_capped(raw, 16)}" if raw else name)
    return " ".join(parts)


def _value(rtype: int, rdata: Any) -> str | None:
    if rtype in (1, 28):
        return rdata.address
    if rtype in (2, 5, 12):
        return _name_text(rdata.target)
    if rtype == 15:
        return _name_text(rdata.exchange)
    if rtype == 16:
        chunks: list[str] = []
        for chunk in rdata.strings:
            if sum(map(len, chunks)) >= _TXT_CAP:
                break
            chunks.append(safe_text(chunk, _TXT_CAP))
        return "".join(chunks)[:_TXT_CAP]
    return _svcb(rdata)  # 64 SVCB, 65 HTTPS


def _rdata_value(parser: Any, rtype: int, rdlen: int) -> tuple[str | None, str | None]:
    """(rendered value, problem) of the ``rdlen`` rdata bytes at the parser's position; the parser moves past them."""
    import dns.exception
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    end = parser.current + rdlen
    try:
        if rtype not in _SHOWN_TYPES:
            return None, None
        rdtype = dns.rdatatype.RdataType(rtype)  # a member: every shown type is one
        with parser.restrict_to(rdlen):
            # Class IN whatever the wire says: mDNS sets the top class bit (cache flush, RFC 6762 §10.2).
            return _value(rtype, dns.rdata.from_wire_parser(dns.rdataclass.IN, rdtype, parser)), None
    except dns.exception.DNSException as exc:
        return None, f"undecodable {DNS_TYPES.get(rtype, rtype)} rdata: {_reason(exc)}"
    finally:
        parser.seek(end)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def parse_dns(data: bytes, tcp: bool = False) -> DnsMessage | None:
    """Parse a DNS message (``tcp=True``: 2-byte length prefix first). None when not even a header.

    Sections that break off early give a message with ``complete=False`` and the reason in ``problems``.
    """
    import dns.exception
    import dns.wire

    msg = bytes(data)
    if tcp:
        if len(msg) < 2:
            return None
        msg = msg[2 : 2 + int.from_bytes(msg[:2], "big")]
    if len(msg) < 12:
        return None
    parser = dns.wire.Parser(msg)
    ident, flags, *header_counts = parser.get_struct("!HHHHHH")
    counts = tuple(header_counts)
    questions: list[DnsQuestion] = []
    answers: list[DnsAnswer] = []
    problems: list[str] = []
    try:
        for _ in range(min(counts[0], _MAX_RECORDS)):
            name = _name(parser)
            qtype, _qclass = parser.get_struct("!HH")
            questions.append(DnsQuestion(name, qtype, DNS_TYPES.get(qtype)))
        for section, count in (("answer", counts[1]), ("authority", counts[2]), ("additional", counts[3])):
            for _ in range(min(count, _MAX_RECORDS - len(answers))):
                name = _name(parser)
                rtype, _rclass, ttl, rdlen = parser.get_struct("!HHIH")
                if rdlen > parser.remaining():
                    raise dns.exception.FormError("truncated rdata")
                value, problem = _rdata_value(parser, rtype, rdlen)
                if problem is not None:
                    problems.append(problem)
                if rtype != 41:  # OPT (EDNS) is no record
                    answers.append(DnsAnswer(section, name, rtype, DNS_TYPES.get(rtype), ttl, value))
    except dns.exception.DNSException as exc:
        problems.append(_reason(exc))
    expected = sum(counts)
    seen_all = all(p.startswith("undecodable") for p in problems)
    if expected > _MAX_RECORDS and seen_all:
        problems.append("record limit reached")
    rcode = flags & 0x0F
    return DnsMessage(
        id=ident, response=bool(flags & 0x8000), opcode=(flags >> 11) & 0x0F, rcode=rcode,
        rcode_name=RCODES.get(rcode), questions=tuple(questions), answers=tuple(answers), counts=counts,
        complete=seen_all and expected <= _MAX_RECORDS, problems=tuple(problems),
    )
