"""Every transport media actually uses: TCP framing, TURN indications, GTP-U; and what only looks like STUN."""

from __future__ import annotations

from confaudit.redact import Redactor
import os
import struct

import pytest
from support.pcap_testbuild import ether, ipv4, pcap, tcp, udp
from support.transport_build import COOKIE, T0, attribute, opus_rtp, stun_message
from support.wire_media_build import rtp_payloads, srtp_protect

CLIENT, PEER, RELAY = "10.0.0.2", "198.51.100.7", "203.0.113.9"
class TcpFlow:
    """Both directions of one TCP connection, with a real SYN so stream starts are known."""

    def __init__(self, a: tuple[str, int], b: tuple[str, int]) -> None:
        self.a, self.b = a, b
        self.seq = {True: 1000, False: 50000}
        self.frames: list[tuple[float, bytes]] = []
        self.t = T0

    def syn(self) -> "TcpFlow":
        self._send(True, b"", flags=0x02)
        self._send(False, b"", flags=0x12)
        self.seq = {True: 1001, False: 50001}
        return self

    def _send(self, forward: bool, data: bytes, flags: int = 0x18, seq: int | None = None, dt: float = 0.02) -> None:
        (src, sport), (dst, dport) = (self.a, self.b) if forward else (self.b, self.a)
        self.t += dt
        self.frames.append((self.t, ether(ipv4(src, dst, 6, tcp(sport, dport, data, seq=self.seq[forward] if seq is None
                                                                else seq, flags=flags)))))

    def send(self, forward: bool, data: bytes, dt: float = 0.02) -> int:
        seq = self.seq[forward]
        self._send(forward, data, dt=dt)
        self.seq[forward] = (seq + len(data)) % (1 << 32)
        return seq


def analyze(tmp_path, frames, name="t.pcap"):
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    path = tmp_path / name
    path.write_bytes(pcap(frames))
    bundle = build_evidence([path], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    assert sum(bundle["protocol_counts"].values()) == sum(f["packets"] for f in bundle["flows"])
    return bundle


def framed(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def test_rtp_over_ice_tcp_becomes_a_media_stream(tmp_path):
    flow = TcpFlow((CLIENT, 50000), (PEER, 443)).syn()
    check = stun_message(0x0001, attribute(0x0024, b"\x6e\x00\x1e\xff") + attribute(0x0025, b""))
    flow.send(True, framed(check))
    flow.send(False, framed(stun_message(0x0101)))
    packets = opus_rtp(50)
    # coalesced (two frames in one segment), split across segments, and a retransmission
    flow.send(True, framed(packets[0]) + framed(packets[1]))
    data = framed(packets[2])
    flow.send(True, data[:7])
    flow.send(True, data[7:])
    start = flow.send(True, framed(packets[3]))
    flow._send(True, framed(packets[3]), seq=start)
    for p in packets[4:]:
        flow.send(True, framed(p))
    bundle = analyze(tmp_path, flow.frames)
    tcp_flow = next(f for f in bundle["flows"] if f["transport"] == "tcp")
    assert tcp_flow["framing"]["mode"] == "rfc4571" and tcp_flow["framing"]["problems"] == []
    assert tcp_flow["framing"]["messages"] == 52
    assert tcp_flow["framing"]["labels"]["stun"] == 2
    [stream] = bundle["media_streams"]
    assert stream["flow"] == tcp_flow["id"] and stream["packets"] == 50 and stream["sequence"]["duplicates"] == 0
    assert stream["ssrc"] == "0x11223344" and stream["payload_type"] == 111
    assert stream["encryption"] != "srtp"  # plaintext Opus: never called encrypted
    assert [s for s in bundle["stun"] if s["flow"] == tcp_flow["id"]][0]["transport"] == "tcp"
    assert tcp_flow["protocol"] in ("rtp", "srtp")


def test_srtp_over_tcp_keyed_by_framed_dtls(tmp_path):
    from support.transport_build import dtls_hellos

    hello, server_hello = dtls_hellos()
    flow = TcpFlow((CLIENT, 50010), (PEER, 443)).syn()
    flow.send(True, framed(hello))
    flow.send(False, framed(server_hello))
    for p in srtp_protect(rtp_payloads("audio/opus", frames=40), pt=111):
        flow.send(True, framed(p))
    bundle = analyze(tmp_path, flow.frames)
    [stream] = bundle["media_streams"]
    assert stream["encryption"] == "srtp"
    assert any("use_srtp profile 0x0001" in r for r in stream["reasons"])
    assert bundle["dtls"][0]["srtp_profile"] == "0x0001"


def test_turn_over_tcp_channel_data_is_relayed_media(tmp_path):
    flow = TcpFlow((CLIENT, 50020), (RELAY, 3478)).syn()
    flow.send(True, stun_message(0x0003, attribute(0x0019, b"\x11\0\0\0")))
    flow.send(False, stun_message(0x0103))
    for p in opus_rtp(30):
        flow.send(True, struct.pack("!HH", 0x4000, len(p)) + p + b"\0" * (-len(p) % 4))
    bundle = analyze(tmp_path, flow.frames)
    [stream] = bundle["media_streams"]
    assert stream["relay"] == "channel_data" and stream["turn_channel"] == "0x4000" and stream["packets"] == 30
    tcp_flow = next(f for f in bundle["flows"] if f["transport"] == "tcp")
    assert tcp_flow["framing"]["mode"] == "stun" and tcp_flow["protocol"] == "turn"
    assert bundle["media_path"]["topology"] == "relay"


def test_media_inside_turn_send_and_data_indications(tmp_path):
    peer = attribute(0x0012, b"\0\x01" + struct.pack("!H", 40000 ^ 0x2112) + bytes(4))
    frames = [(T0, ether(ipv4(CLIENT, RELAY, 17, udp(50030, 3478, stun_message(0x0003))))),
              (T0 + 0.01, ether(ipv4(RELAY, CLIENT, 17, udp(3478, 50030, stun_message(0x0103)))))]
    for i, p in enumerate(opus_rtp(40, ssrc=0xAABBCCDD)):
        frames.append((T0 + 0.02 * (i + 1), ether(ipv4(CLIENT, RELAY, 17, udp(50030, 3478, stun_message(
            0x0016, peer + attribute(0x0013, p)))))))
    for i, p in enumerate(opus_rtp(40, ssrc=0x01020304)):
        frames.append((T0 + 0.02 * (i + 1) + 0.005, ether(ipv4(RELAY, CLIENT, 17, udp(3478, 50030, stun_message(
            0x0017, peer + attribute(0x0013, p)))))))
    bundle = analyze(tmp_path, frames)
    streams = {s["ssrc"]: s for s in bundle["media_streams"]}
    assert set(streams) == {"0xaabbccdd", "0x01020304"}
    assert all(s["relay"] == "indication" and s["packets"] == 40 for s in streams.values())
    assert "Send/Data indications" in streams["0xaabbccdd"]["reasons"][0]
    assert bundle["media_path"]["topology"] == "relay"
    assert bundle["protocol_counts"]["turn"] == 82


def test_length_prefixed_chat_on_5222_is_not_stun(tmp_path):
    """WhatsApp's 'ED' handshake and length-prefixed frames, KakaoTalk-like 2-byte lengths: no STUN, no framing."""
    flow = TcpFlow((CLIENT, 50040), (PEER, 5222)).syn()
    flow.send(True, b"ED\x00\x01" + b"\x00\x00\x24" + os.urandom(36))
    flow.send(False, b"\x00\x01\x2c" + os.urandom(300))
    for _ in range(20):
        body = b"\x00" + os.urandom(40)  # first byte < 4 after a 2-byte length: looks like framed classic STUN
        flow.send(True, struct.pack("!H", len(body) + 20) + body)
    bundle = analyze(tmp_path, flow.frames)
    tcp_flow = next(f for f in bundle["flows"] if f["transport"] == "tcp")
    assert "framing" not in tcp_flow and tcp_flow["protocol"] == "other"
    assert bundle["stun"] == [] and bundle["protocol_counts"]["stun"] == 0


def test_tls_wins_over_a_segment_that_looks_framed(tmp_path, shared_captures):
    """teams.pcap: server segments captured out of order start with RTP-looking bytes; the flows stay TLS."""
    from confaudit.analysis.packet_side import analyze_captures

    part = analyze_captures([shared_captures / "teams.pcap"], redactor=Redactor.default())
    assert not any(f.get("framing") for f in part["flows"])
    assert len(part["tls"]) == 38


def test_ice_tcp_and_turn_tcp_in_a_real_capture(shared_captures):
    from confaudit.analysis.packet_side import analyze_captures

    part = analyze_captures([shared_captures / "stun.pcap"], redactor=Redactor.default())
    modes = {f["framing"]["mode"]: f for f in part["flows"] if f.get("framing")}
    assert modes["rfc4571"]["framing"]["labels"] == {"stun": 12}  # 12 ICE-TCP binding checks (frames 3-14)
    assert modes["stun"]["framing"]["labels"]["turn"] >= 19  # Allocate .. Send indications over TCP


def gtpu(inner_ip: bytes, teid: int = 0x1234) -> bytes:
    return struct.pack("!BBHI", 0x30, 0xFF, len(inner_ip), teid) + inner_ip


def test_gtpu_is_unwrapped_to_the_users_flows(tmp_path):
    frames = []
    for i, p in enumerate(opus_rtp(20)):
        inner = ipv4("100.64.1.2", PEER, 17, udp(40000, 50000, p))
        frames.append((T0 + 0.02 * i, ether(ipv4("10.200.0.1", "10.200.0.2", 17, udp(2152, 2152, gtpu(inner))))))
    bundle = analyze(tmp_path, frames)
    [flow] = bundle["flows"]
    assert (flow["src"], flow["sport"], flow["dst"], flow["dport"]) == ("100.64.1.2", 40000, PEER, 50000)
    [stream] = bundle["media_streams"]
    assert stream["packets"] == 20


def test_classic_stun_is_labelled_consistently_on_any_port(tmp_path):
    tid = os.urandom(16)
    request = struct.pack("!HH", 0x0001, 8) + tid + attribute(0x0003, b"\0\0\0\0")
    response = struct.pack("!HH", 0x0101, 12) + tid + attribute(0x0001, b"\0\x01\x9c\x40" + bytes([198, 51, 100, 7]))
    frames = [(T0, ether(ipv4(CLIENT, PEER, 17, udp(41000, 9999, request)))),
              (T0 + 0.01, ether(ipv4(PEER, CLIENT, 17, udp(9999, 41000, response))))]
    # a datagram that only looks like a cookie-less STUN header (first byte < 4, length fits)
    junk = struct.pack("!HH", 0x0001, 8) + os.urandom(16) + b"\x77\x77\x00\x04" + os.urandom(4)
    frames += [(T0 + 0.1 + i, ether(ipv4(CLIENT, PEER, 17, udp(41002, 9998, junk)))) for i in range(3)]
    bundle = analyze(tmp_path, frames)
    flows = {f["sport"]: f for f in bundle["flows"]}
    assert flows[41000]["protocol"] == "stun" and flows[41000]["labels"] == {"stun": 2}
    [entry] = bundle["stun"]
    assert entry["flow"] == flows[41000]["id"] and entry["classic"] == 2
    assert flows[41002]["protocol"] == "other"
    assert bundle["protocol_counts"]["stun"] == 2


def test_dtls_pre_standard_version_is_dtls(tmp_path):
    record = bytes([22, 0x01, 0x00]) + bytes(8) + struct.pack("!H", 12) + bytes([1]) + bytes(11)
    frames = [(T0 + i, ether(ipv4(CLIENT, PEER, 17, udp(43000, 443, record)))) for i in range(3)]
    bundle = analyze(tmp_path, frames)
    assert bundle["flows"][0]["protocol"] == "dtls"


@pytest.mark.parametrize("name", ["snapchat_call_v1.pcapng", "quic-28.pcap", "youtube_quic.pcap"])
def test_quic_flows_carry_no_rtp_streams(shared_captures, name):
    from confaudit.analysis.packet_side import analyze_captures

    folder = shared_captures / "ndpi-devset"
    part = analyze_captures([folder / name], redactor=Redactor.default())
    quic_flows = {f["id"] for f in part["flows"] if f["protocol"] == "quic"}
    assert quic_flows
    assert not [s for s in part["media_streams"] if s["flow"] in quic_flows]
