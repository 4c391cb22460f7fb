"""Media path from where the media goes: media bytes only, per-side evidence, address classes."""

from __future__ import annotations

from confaudit.redact import Redactor
import struct

from support.pcap_testbuild import ether, ipv4, ipv6, pcap, udp
from support.transport_build import T0, attribute, opus_rtp, stun_message
from support.wire_hello_build import certificate_body, certificate_der, dtls_fragment, dtls_record

CLIENT, PEER, RELAY = "192.168.1.10", "198.51.100.7", "203.0.113.9"


def frame(src: str, sport: int, dst: str, dport: int, payload: bytes, t: float) -> tuple[float, bytes]:
    if ":" in src:
        return t, ether(ipv6(src, dst, 17, udp(sport, dport, payload)), ethertype=0x86DD)
    return t, ether(ipv4(src, dst, 17, udp(sport, dport, payload)))


def binding_request(extra: bytes = b"") -> bytes:
    return stun_message(0x0001, attribute(0x0024, b"\x6e\x00\x1e\xff") + extra)


def analyze(tmp_path, frames):
    from confaudit.analysis.packet_side import analyze_captures

    path = tmp_path / "p.pcap"
    path.write_bytes(pcap(frames))
    return analyze_captures([path], redactor=Redactor.default())


def direct_call(t: float, remote: str = PEER, client_extra: bytes = b"", peer_checks: bool = True) -> list:
    frames = [frame(CLIENT, 50000, remote, 40000, binding_request(client_extra), t),
              frame(remote, 40000, CLIENT, 50000, stun_message(0x0101), t + 0.01)]
    if peer_checks:
        frames.append(frame(remote, 40000, CLIENT, 50000, binding_request(), t + 0.02))
    frames += [frame(CLIENT, 50000, remote, 40000, p, t + 0.03 + 0.02 * i) for i, p in enumerate(opus_rtp(40))]
    return frames


def test_p2p_media_wins_over_turn_allocations_that_carry_none(tmp_path):
    frames = [frame(CLIENT, 50002, RELAY, 3478, stun_message(0x0003), T0),
              frame(RELAY, 3478, CLIENT, 50002, stun_message(0x0103, attribute(0x0016, b"\0\x01\x9c\x40" + bytes(4))), T0 + 0.01)]
    frames += [frame(CLIENT, 50002, RELAY, 3478, stun_message(0x0004), T0 + 0.1 * i) for i in range(2, 30)]  # Refresh
    frames += direct_call(T0 + 1)
    part = analyze(tmp_path, frames)
    path = part["media_path"]
    assert path["topology"] == "p2p"
    assert path["packets_by_topology"] == {"p2p": 40}
    assert any("a full ICE agent" in r for r in path["reasons"])
    assert any("carried no media" in r for r in path["reasons"])
    assert {e["role"] for e in path["endpoints"]} == {"peer"}


def test_zero_media_is_unknown_with_the_reason(tmp_path):
    frames = [frame(CLIENT, 50004, RELAY, 3478, stun_message(0x0003), T0),
              frame(RELAY, 3478, CLIENT, 50004, stun_message(0x0103), T0 + 0.01)]
    path = analyze(tmp_path, frames)["media_path"]
    assert path["topology"] == "unknown" and path["packets_by_topology"] == {}
    assert any("no media packets" in r for r in path["reasons"])


def test_goog_network_info_from_the_client_is_no_server_evidence(tmp_path):
    goog = attribute(0xC057, b"\0\x01\0\x0a")
    part = analyze(tmp_path, direct_call(T0, client_extra=goog))
    path = part["media_path"]
    assert path["topology"] == "p2p", path["reasons"]
    assert not any("0xc057" in r for r in path["reasons"])


def test_vendor_software_from_an_answering_server_is_server_evidence(tmp_path):
    frames = [frame(CLIENT, 50006, PEER, 3478, binding_request(), T0),
              frame(PEER, 3478, CLIENT, 50006, stun_message(0x0101, attribute(0x8022, b"media-gw 1.0")), T0 + 0.01)]
    frames += [frame(CLIENT, 50006, PEER, 3478, p, T0 + 0.02 * (i + 1)) for i, p in enumerate(opus_rtp(30))]
    path = analyze(tmp_path, frames)["media_path"]
    assert path["topology"] == "server"
    assert any("STUN SOFTWARE media-gw 1.0 from that side" in r for r in path["reasons"])
    [server] = [e for e in path["endpoints"] if e["role"] == "server"]
    assert (server["address"], server["port"]) == (PEER, 3478)


def test_public_media_without_any_evidence_stays_unknown(tmp_path):
    part = analyze(tmp_path, direct_call(T0, peer_checks=False))
    path = part["media_path"]
    assert path["topology"] == "unknown"
    assert any("no relay, server or peer evidence" in r for r in path["reasons"])


def test_address_classes_are_not_all_private(tmp_path):
    from confaudit.analysis.addresses import address_class

    assert address_class("192.168.1.1") == "private" and address_class("fd00::1") == "private"
    assert address_class("100.64.0.1") == "cgnat" and address_class("169.254.1.1") == "link-local"
    assert address_class("192.0.2.1") == "documentation" and address_class("198.51.100.1") == "documentation"
    assert address_class("203.0.113.1") == "documentation" and address_class("2001:db8::1") == "documentation"
    assert address_class("127.0.0.1") == "loopback" and address_class("::1") == "loopback"
    assert address_class("8.8.8.8") == "public" and address_class("::ffff:10.0.0.1") == "private"
    part = analyze(tmp_path, direct_call(T0))
    classes = {e["address"]: e["address_class"] for e in part["media_path"]["endpoints"]}
    assert classes == {CLIENT: "private", PEER: "documentation"}


def test_dtls_certificate_names_attach_to_the_endpoint_that_sent_them(tmp_path):
    server_cert = dtls_record(22, dtls_fragment(11, *_cert("sfu.vendor.example")))
    client_cert = dtls_record(22, dtls_fragment(11, *_cert("WebRTC")))
    frames = [frame(CLIENT, 50008, PEER, 10000, client_cert, T0),
              frame(PEER, 10000, CLIENT, 50008, server_cert, T0 + 0.01)]
    frames += [frame(CLIENT, 50008, PEER, 10000, p, T0 + 0.02 * (i + 1)) for i, p in enumerate(opus_rtp(30))]
    part = analyze(tmp_path, frames)
    [dtls] = part["dtls"]
    assert dtls["certificates_from"] == {"src": ["WebRTC"], "dst": ["sfu.vendor.example"]}
    path = part["media_path"]
    by_address = {e["address"]: e for e in path["endpoints"]}
    assert by_address[PEER]["names"] == ["sfu.vendor.example"] and by_address[CLIENT]["names"] == []
    assert path["topology"] == "server" and by_address[PEER]["role"] == "server"


def _cert(cn: str) -> tuple[bytes, int, int, int]:
    body = certificate_body(certificate_der(cn))
    return body, 1, 0, len(body)


def test_a_conference_server_is_a_server_even_when_it_runs_full_ice(shared_captures):
    """skype-conference-call.pcap: the far end checks connectivity like a peer but sends 11 sources."""
    from confaudit.analysis.packet_side import analyze_captures

    path = analyze_captures([shared_captures / "skype-conference-call.pcap"], redactor=Redactor.default())["media_path"]
    assert path["topology"] == "server"
    assert any("a conference server" in r for r in path["reasons"])


def test_meet_sfu_by_network_and_certificate(shared_captures):
    from confaudit.analysis.packet_side import analyze_captures

    path = analyze_captures([shared_captures / "stun_google_meet.pcapng"], redactor=Redactor.default())["media_path"]
    assert path["topology"] == "server" and set(path["packets_by_topology"]) == {"server"}
    servers = [e for e in path["endpoints"] if e["role"] == "server"]
    assert servers and all(e["network"]["vendor"] == "Google Meet" and "hangouts" in e["names"] for e in servers)
    clients = [e for e in path["endpoints"] if e["role"] == "client"]
    assert clients and all("hangouts" not in e["names"] for e in clients)


def test_whatsapp_call_moves_from_relays_to_a_peer(shared_captures):
    from confaudit.analysis.packet_side import analyze_captures

    path = analyze_captures([shared_captures / "whatsapp_login_call.pcap"], redactor=Redactor.default())["media_path"]
    assert path["topology"] == "p2p"
    # the first packets go raw to the relays that allocated for the client on 3478 (31.13.x.48), then to the peer
    assert path["packets_by_topology"] == {"p2p": 607, "relay": 22}
    relays = {(e["address"], e["port"]) for e in path["endpoints"] if e["role"] == "relay"}
    assert relays == {("31.13.93.48", 3478), ("31.13.84.48", 3478)}
    assert any(r.startswith("14 TURN allocation(s)") and "carried no media" in r for r in path["reasons"])
