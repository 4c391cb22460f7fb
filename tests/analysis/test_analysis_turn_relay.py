"""Media relayed by a TURN server inside ChannelData: streams, keying and verdicts from what the relay carries."""

from __future__ import annotations

from confaudit.redact import Redactor
import os
import struct

from support.analysis_pcapkit import udp_frame, write_pcap
from support.transport_build import dtls_hellos
from support.wire_media_build import rtp_payloads, srtp_protect

CLIENT, TURN = "10.1.1.1", "203.0.113.5"


def channel_data(channel: int, message: bytes) -> bytes:
    return struct.pack("!HH", channel, len(message)) + message


def allocate_success() -> bytes:
    return struct.pack("!HHI", 0x0103, 0, 0x2112A442) + os.urandom(12)


def plain_rtp(payloads: list[bytes], ssrc: int, pt: int = 111) -> list[bytes]:
    return [struct.pack("!BBHII", 0x80, pt, seq, seq * 960, ssrc) + p for seq, p in enumerate(payloads)]


def relayed_call(tmp_path):
    """Client port 50000: DTLS-SRTP Opus relayed on channel 0x4000; port 50002: plaintext Opus on channel 0x4001."""
    hello, server_hello = dtls_hellos()
    opus = rtp_payloads("audio/opus", frames=60)
    frames = [udp_frame(CLIENT, 50000, TURN, 3478, allocate_success()),
              udp_frame(TURN, 3478, CLIENT, 50000, allocate_success()),
              udp_frame(CLIENT, 50000, TURN, 3478, channel_data(0x4000, hello)),
              udp_frame(TURN, 3478, CLIENT, 50000, channel_data(0x4000, server_hello))]
    frames += [udp_frame(CLIENT, 50000, TURN, 3478, channel_data(0x4000, p)) for p in srtp_protect(opus, pt=111)]
    frames += [udp_frame(CLIENT, 50002, TURN, 3478, allocate_success()),
               udp_frame(TURN, 3478, CLIENT, 50002, allocate_success())]
    frames += [udp_frame(TURN, 3478, CLIENT, 50002, channel_data(0x4001, p)) for p in plain_rtp(opus, 0x0BADCAFE)]
    path = tmp_path / "relayed.pcap"
    write_pcap(path, frames)
    return path, len(opus)


def test_media_inside_channel_data_becomes_streams_with_verdicts(tmp_path):
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    path, sent = relayed_call(tmp_path)
    bundle = build_evidence([path], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    by_flow = {f["id"]: f for f in bundle["flows"]}
    streams = {s["ssrc"]: s for s in bundle["media_streams"]}
    assert set(streams) == {"0x1234abcd", "0x0badcafe"}

    secure = streams["0x1234abcd"]
    assert secure["turn_channel"] == "0x4000" and secure["packets"] == sent and secure["payload_type"] == 111
    assert secure["encryption"] == "srtp"
    assert "TURN ChannelData (channel 0x4000)" in secure["reasons"][0]
    assert any("use_srtp profile 0x0001" in r for r in secure["reasons"])
    assert by_flow[secure["flow"]]["sport"] == 50000 or by_flow[secure["flow"]]["dport"] == 50000

    plain = streams["0x0badcafe"]
    assert plain["turn_channel"] == "0x4001" and plain["encryption"] == "plain" and plain["kind"] == "audio"
    assert plain["direction"] in ("forward", "backward") and plain["sender"].startswith(TURN)

    relayed_dtls = [d for d in bundle["dtls"] if d.get("turn_channel_data")]
    assert len(relayed_dtls) == 1 and relayed_dtls[0]["srtp_profile"] == "0x0001"
    assert relayed_dtls[0]["srtp_profiles_offered"] == ["0x0007", "0x0001"]
    assert bundle["media_path"]["topology"] == "relay"
    # the packets themselves stay TURN on the wire: ChannelData is what the capture shows
    assert bundle["protocol_counts"]["turn"] >= 2 * sent and bundle["protocol_counts"]["srtp"] == 0


def test_rtcp_and_stun_inside_channel_data_are_not_streams(shared_captures):
    """Messenger's relay in stun.pcap carries ICE checks and RTCP inside ChannelData, not media."""
    from confaudit.analysis.packet_side import analyze_captures

    part = analyze_captures([shared_captures / "stun.pcap"], redactor=Redactor.default())
    assert not any("turn_channel" in s for s in part["media_streams"])
    assert not any(d.get("turn_channel_data") for d in part["dtls"])
