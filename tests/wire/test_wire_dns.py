"""DNS parser: crafted messages incl. pointer loops and HTTPS records, real captures, fuzz."""

from __future__ import annotations

import struct

import pytest

from confaudit.wire.dns import parse_dns
from support.wire_pcap_util import mutations, udp


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def rr(name: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def header(ident: int, flags: int, qd: int, an: int, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def test_response_with_compression_cname_a_aaaa_txt_https() -> None:
    q = qname("Meet.Google.com")
    ptr = b"\xc0\x0c"  # points at the question name
    https = (struct.pack("!H", 1) + b"\0" + struct.pack("!HH", 1, 6) + b"\x02h3\x02h2"
             + struct.pack("!HH", 3, 2) + b"\x01\xbb" + struct.pack("!HH", 4, 4) + bytes([142, 250, 1, 1]))
    body = (q + struct.pack("!HH", 1, 1)
            + rr(ptr, 5, qname("edge.example.net"))
            + rr(ptr, 1, bytes([142, 250, 74, 46]))
            + rr(ptr, 28, bytes.fromhex("20014860486400050000000000000001"))
            + rr(ptr, 16, b"\x05hello\x05world")
            + rr(ptr, 65, https))
    msg = parse_dns(header(0xBEEF, 0x8180, 1, 5) + body)
    assert msg is not None and msg.complete and not msg.problems
    assert msg.id == 0xBEEF and msg.response and msg.rcode_name == "NOERROR"
    assert msg.questions[0].name == "meet.google.com" and msg.questions[0].type_name == "A"
    values = [(a.type_name, a.value) for a in msg.answers]
    assert values == [("CNAME", "edge.example.net"), ("A", "142.250.74.46"), ("AAAA", "2001:4860:4864:5::1"),
                      ("TXT", "helloworld"), ("HTTPS", "1 . alpn=h3,h2 port=443 ipv4hint=142.250.1.1")]
    assert msg.answers[0].ttl == 300 and msg.to_dict()["questions"][0]["name"] == "meet.google.com"
    tcp = parse_dns(struct.pack("!H", 12 + len(body)) + header(0xBEEF, 0x8180, 1, 5) + body, tcp=True)
    assert tcp == msg
    # SvcParams out of key order are malformed (RFC 9460 §2.2): the record stays, its value is not shown.
    unordered = https[:3] + https[13:19] + https[3:13] + https[19:]
    odd = parse_dns(header(0xBEEF, 0x8180, 1, 1) + q + struct.pack("!HH", 1, 1) + rr(ptr, 65, unordered))
    assert odd.complete and odd.answers[0].type_name == "HTTPS" and odd.answers[0].value is None
    assert odd.problems == ("undecodable HTTPS rdata: keys not in strictly increasing order",)


def test_edns_opt_with_options_is_skipped_not_read_as_records() -> None:
    q = qname("a.example")
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 8) + struct.pack("!HH", 10, 4) + b"\x01\x02\x03\x04"  # COOKIE option
    body = (q + struct.pack("!HH", 1, 1) + rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 1])) + opt
            + rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 2])))
    msg = parse_dns(header(7, 0x8180, 1, 1, 0, 2) + body)
    assert msg.complete and not msg.problems
    assert [(a.section, a.value) for a in msg.answers] == [("answer", "192.0.2.1"), ("additional", "192.0.2.2")]


def test_pointer_loops_and_truncation_are_reported_not_followed() -> None:
    self_loop = header(1, 0x0100, 1, 0) + b"\xc0\x0c" + b"\0\x01\0\x01"
    msg = parse_dns(self_loop)
    assert msg is not None and not msg.complete and "pointer" in msg.problems[0]
    forward = header(1, 0x0100, 1, 0) + b"\xc0\x0e\xc0\x0c\0\x01\0\x01"
    assert not parse_dns(forward).complete
    truncated = header(2, 0x8180, 1, 3) + qname("a.example") + b"\0\x01\0\x01" + b"\xc0\x0c\0\x01"
    msg = parse_dns(truncated)
    assert msg.questions and not msg.answers and not msg.complete
    assert parse_dns(b"\x00\x01\x02") is None
    huge = header(3, 0x0100, 65535, 65535, 65535, 65535)
    assert parse_dns(huge).complete is False


def test_real_dns_and_mdns(shared_captures) -> None:
    teams = [parse_dns(s.payload) for s in udp(shared_captures / "teams.pcap") if 53 in (s.sport, s.dport)]
    assert len(teams) == 45 and all(m and m.complete for m in teams)
    names = {q.name for m in teams for q in m.questions}
    assert "skypedataprdcolneu04.cloudapp.net" in names
    assert any(a.type_name == "A" and a.value == "52.114.77.33" for m in teams for a in m.answers)
    wa = [parse_dns(s.payload) for s in udp(shared_captures / "whatsapp_login_call.pcap") if 53 in (s.sport, s.dport)]
    assert "e13.whatsapp.net" in {q.name for m in wa for q in m.questions}
    mdns = [parse_dns(s.payload) for s in udp(shared_captures / "zoom_p2p.pcapng") if s.dport == 5353]
    assert mdns and all(m.complete and len(m.questions) == 9 for m in mdns)


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    q = qname("a.b.example")
    seeds = [header(9, 0x8180, 1, 2) + q + b"\0\x01\0\x01" + rr(b"\xc0\x0c", 5, b"\x01x\xc0\x0e") + rr(b"\xc0\x0c", 65, b"\0\x01\0\0\x01\0\x03\x02h3")]
    for data in mutations(seeds, 5000):
        for tcp in (False, True):
            msg = parse_dns(data, tcp=tcp)
            if msg is not None:
                msg.to_dict()
