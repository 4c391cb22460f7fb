"""TLS ClientHello/ServerHello over stream prefixes: crafted, real captures, no-exception fuzz."""

from __future__ import annotations

from collections import Counter

import pytest

from confaudit.wire.tls import NEED_MORE, parse_tls_client_hello, parse_tls_server_hello, tls_version_name
from support.wire_hello_build import (
    alpn_ext, certificate_body, certificate_der, client_hello_body, ext, handshake, server_hello_body, sni_ext,
    tls_records, vec,
)
from support.wire_pcap_util import mutations, tcp, tcp_stream

PQ_KEY_SHARE = ext(51, vec(2, b"\x11\xec" + vec(2, b"\x42" * 1216)))  # X25519MLKEM768-sized share


def big_client_hello() -> bytes:
    exts = (sni_ext("media.vendor.example") + alpn_ext("h2", "http/1.1") + ext(43, vec(1, b"\x03\x04\x03\x03"))
            + PQ_KEY_SHARE + ext(0xFE0D, b"\x00" * 40))
    return handshake(1, client_hello_body(random=bytes(range(32)), extensions=exts))


def test_post_quantum_client_hello_spanning_records_and_segments() -> None:
    msg = big_client_hello()
    stream = tls_records(msg, size=700)  # three records
    for cut in (1, 4, 5, 300, 705, len(stream) - 1):
        assert parse_tls_client_hello(stream[:cut]) is NEED_MORE, cut
    ch = parse_tls_client_hello(stream + b"\x14\x03\x03\x00\x01\x01")
    assert ch is not None and ch is not NEED_MORE and ch.complete
    assert ch.sni == "media.vendor.example" and ch.alpn == ("h2", "http/1.1")
    assert ch.supported_versions == (0x0304, 0x0303) and ch.ech_present
    assert ch.random == bytes(range(32)).hex() and ch.cookie_len is None
    assert ch.cipher_suites == (0x1301, 0xC02F) and 51 in ch.extensions and ch.key_share_groups == (0x11EC,)
    assert ch.to_dict()["post_quantum_key_share"] and ch.to_dict()["key_share_group_names"] == ["X25519MLKEM768"]
    assert ch.to_dict()["cipher_suite_names"] == ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def test_not_tls_and_sslv2_are_none() -> None:
    assert parse_tls_client_hello(b"GET / HTTP/1.1\r\n\r\n") is None
    assert parse_tls_client_hello(b"\x80\x2e\x01\x03\x01\x00\x15") is None  # SSLv2-compatible hello
    assert parse_tls_client_hello(tls_records(handshake(2, b"xx"))) is None  # not a ClientHello
    assert parse_tls_client_hello(b"") is NEED_MORE
    assert parse_tls_server_hello(b"\x17\x03\x03\x00\x10" + b"x" * 16) is None


def test_server_hello_tls12_with_certificate_and_tls13() -> None:
    der = certificate_der("signal.example", ("signal.example", "*.cdn.example"))
    flight = (handshake(2, server_hello_body(version=0x0301, suite=0xC014, extensions=alpn_ext("h2")))
              + handshake(11, certificate_body(der)) + handshake(14, b""))
    sh = parse_tls_server_hello(tls_records(flight, version=0x0301))
    assert sh.version == 0x0301 and sh.version_name == "TLS 1.0" and sh.weak
    assert sh.cipher_suite_name == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" and sh.alpn == "h2"
    assert sh.certificate_names == ("*.cdn.example", "signal.example")
    assert parse_tls_server_hello(tls_records(flight)[:30]) is NEED_MORE
    cut_cert = parse_tls_server_hello(tls_records(flight)[:150])
    assert cut_cert.certificate_names == ()  # ServerHello complete, certificate not yet
    tls13 = handshake(2, server_hello_body(extensions=ext(43, b"\x03\x04") + ext(51, b"\x00\x1d" + vec(2, b"k" * 32))))
    sh13 = parse_tls_server_hello(tls_records(tls13, version=0x0303) + b"\x14\x03\x03\x00\x01\x01")
    assert sh13.version_name == "TLS 1.3" and not sh13.weak and sh13.hello.legacy_version == 0x0303
    assert sh13.hello.key_share_group == 0x001D and sh13.to_dict()["hello"]["key_share_group_name"] == "x25519"
    assert tls_version_name(0x0300) == "SSL 3.0" and tls_version_name(0x7A7A) == "GREASE"


def test_real_client_hellos_and_server_hellos(shared_captures) -> None:
    teams = [parse_tls_client_hello(s.payload) for s in tcp(shared_captures / "teams.pcap")
             if s.payload[:1] == b"\x16" and s.payload[5:6] == b"\x01"]
    assert len(teams) == 39 and all(ch and ch.complete for ch in teams)
    snis = Counter(ch.sni for ch in teams)
    assert snis["mobile.pipe.aria.microsoft.com"] == 10 and snis["gate.hockeyapp.net"] == 2
    webex = [parse_tls_server_hello(s.payload) for s in tcp(shared_captures / "webex.pcap")
             if s.payload[:1] == b"\x16" and s.payload[5:6] == b"\x02"]
    assert Counter(sh.version for sh in webex if sh) == {0x0301: 31, 0x0303: 5}
    assert sum(1 for sh in webex if sh and sh.weak) == 31
    first = next(s for s in tcp(shared_captures / "zoom2.pcap") if s.payload[:1] == b"\x16" and s.payload[5:6] == b"\x02")
    stream = tcp_stream(shared_captures / "zoom2.pcap", first.src, first.sport, first.dst, first.dport)
    assert parse_tls_server_hello(first.payload).certificate_names == ()  # chain continues in later segments
    zoom = parse_tls_server_hello(stream)  # certificate spans several segments
    assert "*.sjc.zoom.us" in zoom.certificate_names and zoom.version_name == "TLS 1.2"
    meet = [parse_tls_client_hello(s.payload) for s in tcp(shared_captures / "google_meet.pcapng")
            if s.payload[:1] == b"\x16"]
    assert [ch.sni for ch in meet if ch] == ["meet.google.com"]
    assert meet[0].to_dict()["key_share_group_names"] == ["GREASE", "x25519"] and meet[0].ech_present


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    der = certificate_der("x.example")
    seeds = [tls_records(big_client_hello(), size=500)[:1500],
             tls_records(handshake(2, server_hello_body()) + handshake(11, certificate_body(der)))]
    for data in mutations(seeds, 3000):
        for result in (parse_tls_client_hello(data), parse_tls_server_hello(data)):
            if result:
                result.to_dict()
