"""IP fragment reassembly: the bounded reassembler itself, then fragmented datagrams made by scapy's
``fragment()``/``fragment6()`` through the reader, the analysis and ``confaudit check``, cross-checked with
tshark (which reassembles by default)."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from support import pcap_testbuild as b
from support.environment import require_binary
from confaudit.analysis.packet_side import analyze_captures
from confaudit.jsonio import dumps_canonical
from confaudit.pcap import reassembly
from confaudit.pcap.reader import CaptureReader
from confaudit.pcap.reassembly import Reassembler
from support.wire_hello_build import client_hello_body, ext, handshake, sni_ext, tls_records, vec

SDES_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAo"
T0 = 1_700_000_000.0


# -- the reassembler -------------------------------------------------------------------------
def pieces(data: bytes, size: int = 16) -> list[tuple[int, bool, bytes]]:
    """(offset, more, bytes) fragments of ``data``."""
    return [(o, o + size < len(data), data[o: o + size]) for o in range(0, len(data), size)]


def feed(r: Reassembler, key, frags, ts: float = T0, version: int = 4):
    done = [r.add(key, version, ts, off, more, data, len(data), 17, len(data) + 34) for off, more, data in frags]
    return [d for d in done if d is not None]


KEY = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 7, 17)
DATA = bytes(range(64))


@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled"])
def test_fragments_in_any_order_make_the_datagram_once(order):
    frags = pieces(DATA)
    if order == "reversed":
        frags.reverse()
    elif order == "shuffled":
        random.Random(3).shuffle(frags)
    r = Reassembler()
    done = feed(r, KEY, frags)
    assert [(d.payload, d.fragments, d.wire_len, d.proto) for d in done] == [(DATA, 4, 64 + 4 * 34, 17)]
    assert r.reassembled == 1 and r.in_flight == 0 and r.given_up == {} and r.conflicting == 0


def test_overlap_keeps_the_first_bytes_and_counts_a_disagreement():
    r = Reassembler()
    assert feed(r, KEY, [(0, True, DATA[:24]), (16, True, b"\xff" * 16)]) == []
    (done,) = feed(r, KEY, [(32, False, DATA[32:])])
    assert done.payload == DATA[:24] + b"\xff" * 8 + DATA[32:]
    assert r.conflicting == 1 and r.copies == 0


def test_exact_copies_are_ignored_also_after_completion():
    r = Reassembler()
    frags = pieces(DATA)
    assert len(feed(r, KEY, frags[:2] + frags[:1] + frags[2:] + frags)) == 1
    r.finish()
    assert r.copies == 5 and r.conflicting == 0 and r.given_up == {}


def test_datagrams_that_never_complete_are_counted_per_fragment():
    r = Reassembler()
    frags = pieces(DATA)
    feed(r, KEY, frags[:1] + frags[2:])  # the second fragment never comes
    feed(r, (6, b"a" * 16, b"b" * 16, 9), frags[:1], version=6)
    r.finish()
    assert r.given_up == {reassembly.INCOMPLETE: 4} and r.reassembled == 0


def test_timeouts_run_on_capture_time():
    r = Reassembler()
    frags = pieces(DATA)
    feed(r, KEY, frags[:2], ts=T0)
    assert feed(r, KEY, frags[2:], ts=T0 + reassembly.IPV4_TIMEOUT_S + 1) == []  # too late: a new datagram
    assert r.given_up == {reassembly.INCOMPLETE: 2}
    key6 = (6, b"a" * 16, b"b" * 16, 9)
    feed(r, key6, frags[:2], ts=T0 + 100, version=6)
    assert len(feed(r, key6, frags[2:], ts=T0 + 100 + reassembly.IPV4_TIMEOUT_S + 1, version=6)) == 1  # IPv6: 60 s
    feed(r, (4, b"x" * 4, b"y" * 4, 1, 17), frags[:1], ts=T0 + 500)
    r.expire()
    assert r.in_flight == 1 and r.given_up == {reassembly.INCOMPLETE: 2 + 2}  # the first datagram's later part


def test_limits_give_up_and_count_every_fragment():
    r = Reassembler()
    many = [(8 * i, True, b"12345678") for i in range(reassembly.MAX_FRAGMENTS + 1)]
    feed(r, KEY, many)
    assert r.given_up == {reassembly.OVER_LIMITS: reassembly.MAX_FRAGMENTS + 1} and r.in_flight == 0
    r = Reassembler()
    for i in range(reassembly.MAX_IN_FLIGHT + 1):
        feed(r, (4, b"a" * 4, b"b" * 4, i, 17), [(0, True, b"12345678")])
    assert r.in_flight == reassembly.MAX_IN_FLIGHT and r.given_up == {reassembly.OVER_LIMITS: 1}
    r = Reassembler()
    for i in range(reassembly.MAX_IN_FLIGHT + 5):  # one second apart: the oldest time out before the limit
        feed(r, (4, b"a" * 4, b"b" * 4, i, 17), [(0, True, b"12345678")], ts=T0 + i)
    window = int(reassembly.IPV4_TIMEOUT_S) + 1
    assert r.in_flight == window and r.given_up == {reassembly.INCOMPLETE: reassembly.MAX_IN_FLIGHT + 5 - window}
    r = Reassembler()
    big = bytes(60_000)
    for i in range(300):  # 300 x 60 kB held > 16 MiB
        feed(r, (4, b"a" * 4, b"b" * 4, i, 17), [(0, True, big)])
    assert r.given_up[reassembly.OVER_LIMITS] == 300 - r.in_flight and r.in_flight * 60_000 <= reassembly.MAX_HELD_BYTES


def test_invalid_and_snapped_fragments():
    r = Reassembler()
    feed(r, KEY, [(0, True, bytes(64)), (65_512, False, bytes(8))])  # ends past 65,515 bytes: "ping of death"
    assert r.given_up == {reassembly.INVALID: 2} and r.in_flight == 0
    r = Reassembler()
    assert r.add(KEY, 4, T0, 0, True, bytes(10), 16, 17, 60) is None  # 10 of 16 bytes captured
    assert r.given_up == {reassembly.INCOMPLETE: 1} and r.in_flight == 0


def test_a_second_end_that_disagrees_is_a_conflict_first_wins():
    r = Reassembler()
    feed(r, KEY, [(32, False, DATA[32:]), (32, False, DATA[32:40]), (48, True, DATA[48:])])
    (done,) = feed(r, KEY, [(0, True, DATA[:16]), (16, True, DATA[16:32])])
    assert done.payload == DATA and r.conflicting == 1


def test_first_wins_agrees_with_a_byte_map_model():
    """Random overlapping fragments, some with other bytes: the datagram is, byte by byte, the first byte
    received at each offset, and every fragment that disagreed with bytes already held is counted once."""
    rng = random.Random(1)
    for trial in range(2000):
        total = rng.randrange(8, 200)
        data = rng.randbytes(total)
        frags = []
        for _ in range(rng.randrange(1, 12)):
            start = rng.randrange(total)
            stop = rng.randrange(start + 1, total + 1)
            frags.append((start, rng.randbytes(stop - start) if rng.random() < 0.2 else data[start:stop]))
        frags.append((0, data))
        r, first, disagreed, done = Reassembler(), {}, 0, None
        for offset, piece in frags:
            clash = False
            for k, byte in enumerate(piece, offset):
                clash |= first.setdefault(k, byte) != byte
            disagreed += clash
            done = r.add(KEY, 4, T0, offset, offset + len(piece) < total, piece, len(piece), 17, 60)
            if done is not None:
                break
        assert done is not None and done.payload == bytes(first[k] for k in range(total)), trial
        assert r.conflicting == disagreed, trial


# -- fragmented datagrams through the reader and the analysis ---------------------------------
def sip_invite() -> bytes:
    sdp = ("v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"
           "a=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + SDES_KEY + "\r\n")
    # a long header pushes the SDP, and its key, into the last fragment
    return ("INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060\r\nCall-ID: 77@host\r\n"
            "Subject: " + "p" * 1400 + "\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n" + sdp).encode()


def rtp(i: int, rng: random.Random) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, i, i * 160, 0xABCDEF01) + rng.randbytes(170)


def big_client_hello() -> bytes:
    key_share = ext(51, vec(2, b"\x11\xec" + vec(2, b"\x42" * 1216)))  # X25519MLKEM768-sized
    return tls_records(handshake(1, client_hello_body(random=bytes(range(32)),
                                                      extensions=sni_ext("media.vendor.example") + key_share)))


def write(path: Path, packets: list) -> Path:
    from scapy.all import wrpcap

    for i, p in enumerate(packets):
        p.time = T0 + i * 0.02
    wrpcap(str(path), packets)
    return path


def sip_call(path: Path, drop_fragment: int | None = None) -> Path:
    """A SIP INVITE over UDP in three IPv4 fragments (its SDP offers an SDES key), then 30 SRTP packets."""
    from scapy.all import IP, UDP, Ether, Raw, fragment

    invite = Ether() / IP(src="10.0.0.9", dst="10.0.0.10", id=0x4242) / UDP(sport=5060, dport=5060) / Raw(sip_invite())
    frags = fragment(invite, fragsize=600)
    assert len(frags) == 3
    if drop_fragment is not None:
        del frags[drop_fragment]
    rng = random.Random(5)
    media = [Ether() / IP(src="10.0.0.10", dst="10.0.0.9") / UDP(sport=6000, dport=4000) / Raw(rtp(i, rng))
             for i in range(30)]
    return write(path, frags + media)


def mixed(path: Path) -> Path:
    """Interleaved: a TLS ClientHello over IPv6 in two fragments (fragment6 at 1,280 bytes), a DNS response in
    four IPv4 fragments arriving in reverse order, a datagram missing its middle fragment, plain packets."""
    from scapy.all import DNS, DNSQR, DNSRR, IP, TCP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw, fragment, fragment6

    hello = (Ether() / IPv6(src="2001:db8::5", dst="2001:db8::443") / IPv6ExtHdrFragment(id=0x1234)
             / TCP(sport=50000, dport=443, flags="PA", seq=1000) / Raw(big_client_hello()))
    answers = [DNSRR(rrname="big.example.org", type="TXT", rdata=f"z{i}" + "w" * 240) for i in range(9)]
    dns = (Ether() / IP(src="9.9.9.9", dst="10.0.0.9", id=0x99) / UDP(sport=53, dport=33333)
           / DNS(id=7, qr=1, qd=DNSQR(qname="big.example.org", qtype="TXT"), an=answers))
    lost = Ether() / IP(src="10.0.0.9", dst="10.0.0.77", id=0x55) / UDP(sport=7000, dport=7001) / Raw(bytes(2000))
    plain = [Ether() / IP(src="10.0.0.9", dst="10.0.0.10") / UDP(sport=9, dport=9) / Raw(b"x" * i) for i in range(1, 5)]
    v6, dns_frags, lost_frags = fragment6(hello, 1280), fragment(dns, fragsize=800)[::-1], fragment(lost, 800)
    assert (len(v6), len(dns_frags), len(lost_frags)) == (2, 4, 3)
    order = [v6[0], plain[0], dns_frags[0], lost_frags[0], dns_frags[1], v6[1], plain[1], dns_frags[2], lost_frags[2],
             plain[2], dns_frags[3], plain[3]]
    return write(path, order)


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("scapy")
    root = tmp_path_factory.mktemp("fragments")
    return {"sip": sip_call(root / "sip.pcap"), "sip-lost": sip_call(root / "sip-lost.pcap", drop_fragment=1),
            "mixed": mixed(root / "mixed.pcap")}


def test_fragmented_sip_invite_shows_its_sdes_key_redacted(captures):
    bundle = analyze_captures([captures["sip"]], redactor=Redactor.default())
    (entry,) = bundle["inputs"]
    assert entry["complete"] and entry["ip_datagrams_reassembled"] == 1 and entry["packets_not_analysed"] == {}
    assert entry["records_read"] == 33 and bundle["complete"]
    (sip,) = bundle["sip"]
    assert sip["first_line"] == "INVITE sip:bob@example.org" and sip["packet"] == {"kind": "packet", "id": "0:3"}
    (sdp,) = bundle["sdp"]
    assert sdp["crypto_present"] and sdp["media"][0]["crypto"][0]["key"].startswith("[REDACTED srtp-key #")
    (stream,) = bundle["media_streams"]
    assert stream["encryption"] == "srtp" and any("a=crypto" in r for r in stream["reasons"])
    assert len(bundle["flows"]) == 2  # the SIP flow and the media: no port-0 flow of later fragments
    assert SDES_KEY not in dumps_canonical(bundle) and SDES_KEY[:16] not in dumps_canonical(bundle)


def test_claims_see_the_sdes_key_of_a_fragmented_invite(captures, tmp_path):
    claims = tmp_path / "claims.yaml"
    source = 'source: {title: "Fixture", url: "https://example.org/claims", date: "2026-01-01"}'
    claims.write_text("vendor: Example SIP\nclaims:\n"
                      f"  - id: sip-e2ee\n    statement: End-to-end encrypted.\n    {source}\n"
                      "    check: end_to_end_encryption\n    severity: high\n"
                      f"  - id: sip-media\n    statement: Encrypted in transit.\n    {source}\n"
                      "    check: media_encryption\n    severity: high\n")
    out = tmp_path / "findings.json"
    proc = subprocess.run([str(Path(sys.executable).with_name("confaudit")), "check", str(captures["sip"]),
                           "--claims", str(claims), "--vendor", "Example SIP", "--json", str(out)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stderr  # the e2ee claim is contradicted at severity high
    findings = {f["claim_id"]: f for f in json.loads(out.read_text())["findings"]}
    e2ee = findings["sip-e2ee"]
    assert e2ee["verdict"] == "contradicted" and "SDES" in json.dumps(e2ee)
    assert {"kind": "packet", "id": "0:3"} in [{k: r[k] for k in ("kind", "id")} for r in e2ee["evidence"]]
    assert findings["sip-media"]["verdict"] == "supported"
    assert SDES_KEY not in out.read_text()


def test_a_lost_fragment_is_counted_and_the_invite_is_not_pretended(captures):
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    bundle = build_evidence([captures["sip-lost"]], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    (entry,) = bundle["inputs"]
    assert not entry["complete"] and not bundle["complete"]
    assert entry["packets_not_analysed"] == {"fragments_incomplete": 2} and entry["ip_datagrams_reassembled"] == 0
    assert any(w.startswith("2 IP fragments belong to datagrams that never completed") for w in entry["warnings"])
    assert bundle["sip"] == [] and bundle["sdp"] == []


def test_mixed_fragments_reassemble_tls_over_ipv6_and_dns(captures):
    bundle = analyze_captures([captures["mixed"]], redactor=Redactor.default())
    (entry,) = bundle["inputs"]
    assert entry["ip_datagrams_reassembled"] == 2 and entry["packets_not_analysed"] == {"fragments_incomplete": 2}
    (tls,) = bundle["tls"]
    assert tls["sni"] == "media.vendor.example" and tls["packets"] == [{"kind": "packet", "id": "0:6"}]
    (dns,) = bundle["dns"]
    assert dns["name"] == "big.example.org" and len(dns["answers"]) == 9 and dns["first_packet"]["id"] == "0:11"


def test_chunk_boundaries_do_not_change_the_result(captures):
    for path in captures.values():
        whole_reader, small_reader = CaptureReader(path), CaptureReader(path, chunk_bytes=1)  # 1: the minimum
        whole, small = list(whole_reader.packets()), list(small_reader.packets())
        slow = [c.packet(i) for c in CaptureReader(path).chunks() for i in range(len(c))]
        assert small == whole == slow and len(small) >= 6
        assert small_reader.report == whole_reader.report
    first, *rest = CaptureReader(captures["mixed"], chunk_bytes=1).chunks()
    assert rest and 11 not in first.frame  # the DNS response completes a chunk after its first fragments


def _tshark_reassembled(path: Path) -> dict[int, tuple[str, str, int, int, int]]:
    """frame -> (src, dst, sport, dport, payload length) of the frames tshark reassembled a datagram in."""
    fields = ["frame.number", "ip.fragment.count", "ipv6.fragment.count", "ip.src", "ipv6.src", "ip.dst",
              "ipv6.dst", "udp.srcport", "tcp.srcport", "udp.dstport", "tcp.dstport", "udp.length", "tcp.len"]
    cmd = [require_binary("tshark"), "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    rows = {}
    for line in subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout.splitlines():
        num, c4, c6, s4, s6, d4, d6, us, ts, ud, td, ulen, tlen = line.split("|")
        if c4 or c6:
            rows[int(num)] = (s4 or s6, d4 or d6, int(us or ts), int(ud or td), int(tlen) if tlen else int(ulen) - 8)
    return rows


def _tshark_fragments_left(path: Path) -> int:
    """Fragments tshark never reassembled (a fragment with no reassembled-in frame and no reassembly of its own)."""
    cmd = [require_binary("tshark"), "-2", "-n", "-r", str(path), "-Y",  # two passes: "reassembled in" is known
           "(ip.flags.mf == 1 or ip.frag_offset > 0 or ipv6.fraghdr.offset > 0 or ipv6.fraghdr.more == 1) and "
           "not ip.reassembled_in and not ipv6.reassembled.in and not ip.fragment.count and not ipv6.fragment.count",
           "-T", "fields", "-e", "frame.number"]
    return len(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout.split())


@pytest.mark.parametrize("name", ["sip", "sip-lost", "mixed"])
def test_reassembly_agrees_with_tshark(captures, name):
    path = captures[name]
    reader = CaptureReader(path)
    packets = {p.frame: p for p in reader.packets()}
    expected = _tshark_reassembled(path)
    got = {n: (packets[n].src, packets[n].dst, packets[n].sport, packets[n].dport, len(packets[n].payload))
           for n in expected if n in packets}
    assert got == expected and reader.report.datagrams_reassembled == len(expected)
    assert dict(reader.report.not_analysed).get("fragments_incomplete", 0) == _tshark_fragments_left(path)


def test_ipv6_fragments_from_the_test_builder_and_an_atomic_fragment(tmp_path):
    l4 = b.udp(7000, 8000, b"0123456789abcdef" * 4)
    frags = [b.ipv6("2001:db8::5", "2001:db8::6", 17, l4[:32], ext=[(44, b"\x00\x01\x00\x00\x00\x07")]),
             b.ipv6("2001:db8::5", "2001:db8::6", 17, l4[32:], ext=[(44, b"\x00\x20\x00\x00\x00\x07")])]
    path = tmp_path / "v6.pcap"
    path.write_bytes(b.pcap([b.ether(f, 0x86DD) for f in reversed(frags)]))
    reader = CaptureReader(path)
    (packet,) = list(reader.packets())
    assert (packet.frame, packet.sport, packet.dport, packet.payload) == (2, 7000, 8000, l4[8:])
    assert reader.report.complete and reader.report.datagrams_reassembled == 1


def test_a_flood_of_fragments_that_never_complete_is_bounded_and_counted(tmp_path):
    import time

    frames = []
    for i in range(100_000):
        packet = bytearray(b.ipv4("10.0.0.1", "10.0.0.2", 17, b"12345678", flags_frag=0x2000 | i % 7))
        packet[4:6] = struct.pack("!H", i & 0xFFFF)
        packet[12] = 10 + (i >> 16)  # another source address once the identification wraps
        frames.append((T0 + i / 1000, b.ether(bytes(packet))))
    path = tmp_path / "flood.pcap"
    path.write_bytes(b.pcap(frames))
    start = time.monotonic()
    reader = CaptureReader(path)
    assert sum(len(c) for c in reader.chunks()) == 0
    assert time.monotonic() - start < 30
    rep = reader.report
    assert rep.records_read == 100_000 and not rep.complete
    assert sum(count for _, count in rep.not_analysed) == 100_000 and len(rep.warnings) <= 2
