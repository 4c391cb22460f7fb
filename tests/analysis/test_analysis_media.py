"""The SRTP-vs-plaintext verdict and the per-flow labels as pure functions."""

from __future__ import annotations

from confaudit.redact import Redactor
from confaudit.analysis import classify as C
from confaudit.analysis.labels import FlowFacts, flow_protocol, packet_labels
from confaudit.analysis.media import FlowKeying, encryption_verdict


def _judgement(plaintext=None, auth_tag=None, codec=None):
    from confaudit.wire.media_kind import MediaJudgement

    return MediaJudgement(codec=codec, kind="audio", clock_rate=8000, plaintext=plaintext, auth_tag_bytes=auth_tag,
                          kind_reasons=("timing",), codec_reasons=("structure facts",), packets=20)


def _srtcp(encrypted=True, plain=0, proven=3):
    from confaudit.wire.srtcp import SrtcpEvidence

    return SrtcpEvidence(proven if encrypted is not None else 0, plain, encrypted,
                         "index + 10-byte authentication tag" if encrypted is not None else None, "srtcp facts")


def test_dtls_srtp_keying_is_srtp() -> None:
    verdict, reasons = encryption_verdict(FlowKeying(dtls_profile="0x0007", dtls_offered=("0x0007",)), _judgement(), None)
    assert verdict == "srtp" and any("0x0007" in r for r in reasons)


def test_random_looking_payloads_alone_are_never_srtp() -> None:
    """No keying, no tag, no SRTCP: a payload that is no modelled codec stays unknown (plaintext G.729 was 'srtp')."""
    verdict, reasons = encryption_verdict(FlowKeying(), _judgement(plaintext=None), None)
    assert verdict == "unknown"
    assert reasons[0].startswith("no keying (DTLS-SRTP, SDP), SRTCP trailer or authentication tag was seen")
    assert "no codec confaudit recognises in clear" in reasons[0]


def test_sdp_rtp_avp_with_codec_structure_is_plain() -> None:
    verdict, reasons = encryption_verdict(FlowKeying(sdp_secure=False, srtcp=_srtcp(None, plain=2)),
                                          _judgement(plaintext=True, codec="PCMA"), None)
    assert verdict == "plain" and any("RTP/AVP" in r for r in reasons)
    assert any("always authenticate their RTCP" in r for r in reasons)


def test_keyed_but_readable_media_is_contradictory_not_srtp() -> None:
    verdict, reasons = encryption_verdict(FlowKeying(dtls_profile="0x0001"), _judgement(plaintext=True, codec="VP8"), None)
    assert verdict == "unknown" and reasons[-1] == "evidence is contradictory"


def test_null_cipher_profile_with_readable_payloads_is_plain() -> None:
    verdict, reasons = encryption_verdict(FlowKeying(dtls_profile="0x0005", dtls_null=True),
                                          _judgement(plaintext=True, codec="PCMU"), None)
    assert verdict == "plain" and "NULL-cipher" in reasons[0]


def test_each_positive_srtp_signal_is_enough() -> None:
    assert encryption_verdict(FlowKeying(sdp_secure=True), None, None)[0] == "srtp"
    assert encryption_verdict(FlowKeying(srtcp=_srtcp(True)), None, None)[0] == "srtp"
    assert encryption_verdict(FlowKeying(), _judgement(auth_tag=10, codec="PCMU"), None)[0] == "srtp"
    assert encryption_verdict(FlowKeying(dtls_records_only=4), None, None)[0] == "srtp"
    assert encryption_verdict(FlowKeying(), None, "the same SSRC is judged SRTP on flow f1")[0] == "srtp"
    # authenticated-only SRTCP (E bit clear) says nothing about the media payload's encryption
    assert encryption_verdict(FlowKeying(srtcp=_srtcp(False)), None, None)[0] == "unknown"


def _counts(**by_class: int) -> list[int]:
    counts = [0] * C.COUNT
    for name, n in by_class.items():
        counts[C.NAMES.index(name)] = n
    return counts


def test_dns_flow_is_dns_whatever_the_first_bytes() -> None:
    labels = packet_labels(_counts(stun_classic=3, other=5, rtp=2), FlowFacts("udp", (5353, 53), dns=True))
    assert labels == {"dns": 10}


def test_quic_flow_short_headers_are_quic() -> None:
    labels = packet_labels(_counts(quic_long=3, stun_classic=4, dtls13_unified=6, rtp=6), FlowFacts("udp", (4443, 50000), quic=True))
    assert labels == {"quic": 19}


def test_rtp_shapes_without_a_plausible_stream_are_other() -> None:
    labels = packet_labels(_counts(rtp=7, other=2), FlowFacts("udp", (1000, 2000)))
    assert labels == {"other": 9}
    assert flow_protocol({"tcp": 10, "tls": 3}) == "tls"
    assert flow_protocol({"tcp": 3}) == "tcp"


def test_tcp_flow_labels_payload_by_flow_and_control_as_tcp() -> None:
    labels = packet_labels(_counts(empty=5, tls_record=3, other=4, text=1), FlowFacts("tcp", (5000, 443), tls=True))
    assert labels == {"tcp": 5, "tls": 8}


def test_weak_cipher_names() -> None:
    from confaudit.analysis.dissect_text import weak_cipher_name

    for bad in ("TLS_RSA_WITH_RC4_128_MD5", "TLS_RSA_WITH_NULL_SHA", "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
                "TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_DES_CBC_SHA"):
        assert weak_cipher_name(bad), bad
    for good in ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                 "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", None):
        assert not weak_cipher_name(good), good


def test_a_tie_goes_to_the_recognised_protocol() -> None:
    """teams.pcap: a STUN Binding success and one unparsed reply on a 2-packet flow is a STUN flow."""
    assert flow_protocol({"other": 1, "stun": 1}) == "stun"
    assert flow_protocol({"other": 2, "stun": 1}) == "other"


def test_mdns_announcements_without_questions_are_dns(tmp_path) -> None:
    import struct

    from support.pcap_testbuild import ether, ipv4, pcap, udp

    from confaudit.analysis.packet_side import analyze_captures

    name = b"\x07printer\x05local\x00"
    answer = name + struct.pack("!HHIH", 1, 0x8001, 120, 4) + bytes([192, 168, 1, 9])
    message = struct.pack("!HHHHHH", 0, 0x8400, 0, 1, 0, 0) + answer
    path = tmp_path / "mdns.pcap"
    path.write_bytes(pcap([(1_700_000_000.0 + i, ether(ipv4("192.168.1.9", "224.0.0.251", 17, udp(5353, 5353, message))))
                           for i in range(3)]))
    part = analyze_captures([path], redactor=Redactor.default())
    assert part["flows"][0]["protocol"] == "dns"
    assert part["dns"][0]["name"] == "printer.local" and part["dns"][0]["answers"] == ["192.168.1.9"]
