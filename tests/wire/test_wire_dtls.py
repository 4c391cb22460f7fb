"""DTLS records and handshake summary: crafted flows, real WebRTC captures, no-exception fuzz."""

from __future__ import annotations

from collections import defaultdict

import pytest

from confaudit.wire.dtls import dtls_handshake_info, parse_dtls_records
from confaudit.wire.tls import is_weak_version
from support.wire_hello_build import (
    alpn_ext, certificate_body, certificate_der, client_hello_body, dtls_fragment, dtls_record, ext,
    server_hello_body, vec,
)
from support.wire_pcap_util import mutations, udp

USE_SRTP = ext(14, vec(2, bytes.fromhex("0007000800010005")) + vec(1, b""))
SV_13 = ext(43, vec(1, bytes.fromhex("fefcfefd")))


def test_fragmented_client_hello_reassembled_across_datagrams() -> None:
    body = client_hello_body(version=0xFEFD, random=bytes(range(32)), dtls=True, cookie=b"c" * 20,
                             extensions=USE_SRTP + alpn_ext("webrtc") + SV_13 + ext(21, b"\0" * 300))
    first = dtls_record(22, dtls_fragment(1, body, seq=1, offset=0, length=200))
    second = dtls_record(22, dtls_fragment(1, body, seq=1, offset=200, length=len(body) - 200), seq=1)
    info = dtls_handshake_info([second, first])  # out of order on purpose
    ch = info.client_hello
    assert ch is not None and ch.complete
    assert ch.random == bytes(range(32)).hex() and ch.cookie_len == 20
    assert ch.use_srtp_profiles == (7, 8, 1, 5) and ch.use_srtp_mki == ""
    assert ch.alpn == ("webrtc",) and ch.supported_versions == (0xFEFC, 0xFEFD)
    assert not info.problems
    only_first = dtls_handshake_info([first])
    assert only_first.client_hello.random == bytes(range(32)).hex()  # random comes from offset 0
    assert not only_first.client_hello.complete and only_first.problems


def test_dtls12_server_flight_with_certificate_and_null_profile() -> None:
    sh = server_hello_body(version=0xFEFD, suite=0xC02B, extensions=ext(14, vec(2, b"\x00\x05") + vec(1, b"")))
    cert = certificate_body(certificate_der("media.example", ("sfu.example", "*.example")))
    flight = dtls_record(22, dtls_fragment(2, sh, 0, 0, len(sh)) + dtls_fragment(11, cert, 1, 0, len(cert)))
    hvr = dtls_record(22, dtls_fragment(3, b"\xfe\xff" + vec(1, b"k" * 16), 0, 0, 19))
    info = dtls_handshake_info([hvr, flight, dtls_record(20, b"\x01"), dtls_record(23, b"x" * 40, epoch=1)])
    assert info.hello_verify_request and info.version_label == "DTLS 1.2"
    assert info.server_hello.cipher_suite_name == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    assert info.srtp_profile == 5 and info.srtp_profile_name == "SRTP_NULL_HMAC_SHA1_80" and info.null_profile
    assert info.certificate_names == ("*.example", "media.example", "sfu.example")
    assert info.record_counts == {"handshake": 2, "change_cipher_spec": 1, "application_data": 1}
    assert info.to_dict()["server_hello"]["version_name"] == "DTLS 1.2"


def test_both_peers_certificates_with_same_header_fields_stay_apart() -> None:
    ders = [certificate_der("client-webrtc")]
    while len(ders) < 2:
        candidate = certificate_der("server-webrtc")
        if len(candidate) == len(ders[0]):
            ders.append(candidate)
    bodies = [certificate_body(d) for d in ders]
    datagrams = [dtls_record(22, dtls_fragment(11, b, 1, 0, len(b))) for b in bodies]
    info = dtls_handshake_info(datagrams)
    assert info.certificate_names == ("client-webrtc", "server-webrtc")
    with_direction = dtls_handshake_info(datagrams, from_client=[True, False])
    assert with_direction.certificate_names == ("client-webrtc", "server-webrtc")


def test_dtls13_selected_version_and_unified_header() -> None:
    sh = server_hello_body(version=0xFEFD, suite=0x1301, extensions=ext(43, b"\xfe\xfc"))
    unified = bytes([0b00101110]) + b"\x12\x34" + vec(2, b"e" * 30)  # S=1, L=1, epoch bits 2
    recs = parse_dtls_records(unified + bytes([0b00100011, 0x07]) + b"tail")
    assert [(r.unified, r.epoch_bits, r.sequence_number, r.length) for r in recs] == [
        (True, 2, 0x1234, 30), (True, 3, 7, 4)]
    info = dtls_handshake_info([dtls_record(22, dtls_fragment(2, sh, 0, 0, len(sh))), unified])
    assert info.version_label == "DTLS 1.3" and info.unified_records == 1
    ch = client_hello_body(version=0xFEFD, dtls=True, extensions=SV_13)
    by_records = dtls_handshake_info([dtls_record(22, dtls_fragment(1, ch, 0, 0, len(ch))), unified])
    assert by_records.version_label == "DTLS 1.3"  # unified records after the hello


def test_records_stop_cleanly_on_garbage() -> None:
    good = dtls_record(23, b"abc", epoch=1)
    recs = parse_dtls_records(good + b"\x17\xfe\xfd\x00")  # truncated second header
    assert len(recs) == 1 and recs[0].fragment == b"abc" and recs[0].version == 0xFEFD and recs[0].end == 16
    assert "4 bytes after the last DTLS record" in dtls_handshake_info([good + b"\x17\xfe\xfd\x00"]).problems[0]
    assert parse_dtls_records(b"\x16\x03\x01\x00\x05hello") == ()  # TLS, not DTLS
    assert parse_dtls_records(b"") == ()


def openssl_bad_ver_client_hello() -> bytes:
    """The first flight of a real OpenSSL client speaking DTLS1_BAD_VER (AnyConnect's pre-RFC DTLS)."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.set_min_proto_version(0x0100)
    ctx.set_max_proto_version(0x0100)
    ctx.set_cipher_list(b"ALL:@SECLEVEL=0")
    conn = SSL.Connection(ctx)
    conn.set_connect_state()
    with pytest.raises(SSL.WantReadError):
        conn.do_handshake()
    return conn.bio_read(65536)


def test_pre_rfc_dtls_0x0100_records_and_version_label() -> None:
    hello = openssl_bad_ver_client_hello()
    records = parse_dtls_records(hello)
    assert [(r.content_type_name, r.version) for r in records] == [("handshake", 0x0100)] and records[0].end == len(hello)
    # OpenSSL's server side no longer speaks 0x0100, so the server flight is crafted with the same layout.
    hvr = dtls_record(22, dtls_fragment(3, b"\x01\x00" + vec(1, b"k" * 20), 0, 0, 23), version=0x0100)
    sh = server_hello_body(version=0x0100, suite=0x002F)
    flight = dtls_record(22, dtls_fragment(2, sh, 1, 0, len(sh)), version=0x0100) + dtls_record(20, b"\x01", version=0x0100)
    info = dtls_handshake_info([hello, hvr, flight], from_client=[True, False, False])
    assert info.client_hello.legacy_version == 0x0100 and info.client_hello.complete and info.hello_verify_request
    assert info.to_dict()["client_hello"]["legacy_version_name"] == "DTLS 1.0 (pre-RFC 0x0100)"
    assert info.version == 0x0100 and info.version_label == "DTLS 1.0 (pre-RFC 0x0100)"
    assert info.server_hello.cipher_suite_name == "TLS_RSA_WITH_AES_128_CBC_SHA" and not info.problems
    assert info.record_counts == {"handshake": 3, "change_cipher_spec": 1}
    assert is_weak_version(0x0100)
    assert parse_dtls_records(b"\x16\x01\x01" + bytes(10)) == ()  # 0x0101 is no DTLS version


def _dtls_flows(path):
    flows = defaultdict(list)
    for s in udp(path):
        if parse_dtls_records(s.payload):
            flows[frozenset([(s.src, s.sport), (s.dst, s.dport)])].append(s.payload)
    return [dtls_handshake_info(d) for d in flows.values()]


def test_real_google_meet_and_zoom_dtls(shared_captures) -> None:
    meet = [i for i in _dtls_flows(shared_captures / "stun_google_meet.pcapng") if i.client_hello]
    assert meet and all(i.version_label == "DTLS 1.2" for i in meet)
    for info in meet:
        assert info.client_hello.use_srtp_profiles == (0x0001, 0x0008, 0x0007)
        assert info.srtp_profile == 0x0008 and info.server_hello.cipher_suite == 0xC02F
        # Chrome's self-signed "WebRTC" client certificate and Google's "hangouts" server certificate
        # share handshake type and message_seq; both survive reassembly.
        assert info.certificate_names == ("WebRTC", "hangouts")
    zoom = [i for i in _dtls_flows(shared_captures / "stun_zoom.pcapng") if i.client_hello]
    assert zoom and all(i.server_hello.cipher_suite == 0xCCA8 for i in zoom)
    assert all(i.client_hello.use_srtp_profiles == (7, 8, 1, 2) for i in zoom)
    assert all("*.cloud.zoom.us" in i.certificate_names for i in zoom)
    assert not any("DigiCert" in n for i in zoom for n in i.certificate_names)  # CA names stay in .certificates
    assert all(any(c.issuer_cn == "DigiCert TLS RSA SHA256 2020 CA1" for c in i.certificates) for i in zoom)
    mixed = _dtls_flows(shared_captures / "stun.pcap")
    assert any(i.client_hello and i.client_hello.alpn == ("webrtc", "c-webrtc") for i in mixed)
    assert any(i.problems for i in mixed)  # nDPI's damaged ClientHello (frame 196) is reported, not hidden


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    ch = client_hello_body(version=0xFEFD, dtls=True, extensions=USE_SRTP + alpn_ext("webrtc"))
    sh = server_hello_body(version=0xFEFD, extensions=ext(14, vec(2, b"\x00\x01") + vec(1, b"")))
    seeds = [dtls_record(22, dtls_fragment(1, ch, 0, 0, len(ch))), dtls_record(22, dtls_fragment(2, sh, 0, 0, len(sh))),
             bytes([0b00101100]) + b"\x00\x01\x00\x03abc"]
    cases = mutations(seeds, 3000)
    for data in cases:
        for rec in parse_dtls_records(data):
            rec.to_dict()
    for i in range(0, len(cases), 3):
        dtls_handshake_info(cases[i : i + 3]).to_dict()
