"""The analysis on every real capture in ../shared/captures, checked against SOURCES.md and tshark."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

from confaudit.redact import Redactor
import pytest

from confaudit.analysis.packet_side import analyze_captures


@lru_cache(maxsize=None)
def _bundle(path: str) -> dict:
    return analyze_captures([Path(path)], redactor=Redactor.default())


@pytest.fixture()
def analyzed(shared_captures: Path):
    return lambda name: _bundle(str(shared_captures / name))


def _flow(bundle: dict, flow_id: str) -> dict:
    return next(f for f in bundle["flows"] if f["id"] == flow_id)


def test_every_packet_is_counted_once(analyzed) -> None:
    expected = {"google_meet.pcapng": 12, "quic-v2.pcapng": 19, "sip.pcap": 112, "skype-conference-call.pcap": 200,
                "stun.pcap": 201, "stun_google_meet.pcapng": 362, "stun_zoom.pcapng": 70, "teams.pcap": 1498,
                "webex.pcap": 1110, "whatsapp_login_call.pcap": 1251, "zoom2.pcap": 342, "zoom_p2p.pcapng": 763}
    for name, packets in expected.items():
        bundle = analyzed(name)
        assert bundle["complete"] is True, name
        assert sum(bundle["protocol_counts"].values()) == packets, name
        assert sum(f["packets"] for f in bundle["flows"]) == packets, name
        for flow in bundle["flows"]:
            assert sum(flow["labels"].values()) == flow["packets"], (name, flow["id"])


def test_meet_dtls_srtp_profiles_cipher_and_hangouts(analyzed) -> None:
    bundle = analyzed("stun_google_meet.pcapng")
    handshakes = [d for d in bundle["dtls"] if d["version"]]
    assert handshakes
    for d in handshakes:
        assert d["version"] == "DTLS 1.2"
        assert d["srtp_profiles_offered"] == ["0x0001", "0x0008", "0x0007"]
        assert d["srtp_profile"] == "0x0008"
        assert d["cipher"] == "0xc02f"
        assert d["certificate_names"] == ["hangouts"]
    counts = bundle["protocol_counts"]
    assert counts["stun"] == 87 and counts["dtls"] == 55
    assert counts["srtp"] == 191 and counts["rtp"] == 0
    assert counts["srtcp"] == 29
    by_pt = Counter()
    for m in bundle["media_streams"]:
        by_pt[m["payload_type"]] += m["packets"]
    assert by_pt == {97: 108, 111: 52, 99: 31}
    assert bundle["media_path"]["topology"] == "server"
    servers = [e for e in bundle["media_path"]["endpoints"] if e["role"] == "server"]
    assert servers and all(e["port"] in (19305, 3478) for e in servers)
    assert any("hangouts" in e["names"] for e in servers)
    keyed = [m for m in bundle["media_streams"] if m["flow"] in {d["flow"] for d in handshakes}]
    assert keyed and all(m["encryption"] == "srtp" for m in keyed)
    assert all(any("use_srtp profile 0x0008" in r for r in m["reasons"]) for m in keyed)
    # f5 (port 3478) carries DTLS application data only: the association moved there from another pair
    assert all(m["encryption"] == "srtp" for m in bundle["media_streams"])


def test_meet_stun_has_ice_attributes_and_google_network_info(analyzed) -> None:
    bundle = analyzed("stun_google_meet.pcapng")
    assert sum(s["messages"] for s in bundle["stun"]) == 87
    methods = Counter()
    for s in bundle["stun"]:
        methods.update(s["methods"])
        for token in s["usernames"]:
            assert token.startswith("[REDACTED stun-username")
    assert methods == {"Binding request": 44, "Binding success": 43}
    vendor = {v["type"] for s in bundle["stun"] for v in s["vendor_attributes"]}
    assert "0xc057" in vendor
    assert any(s["ice_attributes"].get("use_candidate") for s in bundle["stun"])


def test_zoom_webrtc_dtls_offers(analyzed) -> None:
    bundle = analyzed("stun_zoom.pcapng")
    assert bundle["protocol_counts"]["stun"] == 24 and bundle["protocol_counts"]["dtls"] == 46
    for d in bundle["dtls"]:
        assert d["srtp_profiles_offered"] == ["0x0007", "0x0008", "0x0001", "0x0002"]
        assert d["cipher"] == "0xcca8"
        assert d["certificate_names"] == ["*.cloud.zoom.us"]


def test_messenger_turn_relay_in_stun_pcap(analyzed) -> None:
    bundle = analyzed("stun.pcap")
    messenger = [s for s in bundle["stun"] if "turner.facebook" in s["realms"]]
    assert len(messenger) == 1
    flow = _flow(bundle, messenger[0]["flow"])
    assert (flow["dst"], flow["dport"]) == ("31.13.86.54", 40003)
    assert {"Send indication", "Data indication", "Allocate request"} <= set(messenger[0]["methods"])
    # SOURCES.md's 19 ChannelData include frame 200 (channel 0x4001) on another, IPv6 flow
    assert messenger[0]["channel_data_packets"] == 18
    # The relay carried ICE checks and RTCP but no RTP: it is reported, never weighed as media.
    # The only RTP in this mixed trace (6 SRTP packets) goes to a Meet SFU in Google's media network.
    path = bundle["media_path"]
    assert path["topology"] == "server"
    assert path["packets_by_topology"] == {"server": 6}
    assert any("turner.facebook" in r and "carried no media" in r for r in path["reasons"])
    assert not any(e["role"] == "relay" for e in path["endpoints"])
    # ICE-TCP (RFC 4571) and TURN-over-TCP flows are framed; their messages are STUN/TURN
    framed = {f["id"]: f for f in bundle["flows"] if f.get("framing")}
    assert sorted((f["framing"]["mode"], f["protocol"]) for f in framed.values()) == [("rfc4571", "stun"), ("stun", "turn")]
    assert any("turn.l.google.com" in s["realms"] for s in bundle["stun"])
    # 121 over UDP + 31 over TCP (12 ICE-TCP RFC 4571 framed, 19 TURN-over-TCP) + 19 ChannelData
    assert bundle["protocol_counts"]["stun"] + bundle["protocol_counts"]["turn"] == 171
    tcp = [s for s in bundle["stun"] if s.get("transport") == "tcp"]
    assert sum(s["messages"] for s in tcp) == 33


def test_teams_snis_stun_attributes_and_dns(analyzed) -> None:
    bundle = analyzed("teams.pcap")
    snis = Counter(t["sni"] for t in bundle["tls"])
    for name in ("teams.microsoft.com", "config.teams.microsoft.com", "presence.teams.microsoft.com",
                 "chatsvcagg.teams.microsoft.com", "eu-prod.asyncgw.teams.microsoft.com",
                 "trouter2-asse-a.trouter.teams.microsoft.com", "euaz.tr.teams.microsoft.com", "eu-api.asm.skype.com",
                 "login.microsoftonline.com", "substrate.office.com", "api.microsoftstream.com"):
        assert snis[name] >= 1, name
    # SOURCES.md says 10 / 39: its scapy count included frame 1018, a TCP retransmission of frame 1016's
    # ClientHello. tshark agrees with 9 / 38 (tls.handshake.type == 1).
    assert snis["mobile.pipe.aria.microsoft.com"] == 9
    assert snis["gate.hockeyapp.net"] == 2
    assert len(bundle["tls"]) == 38
    software = {v for s in bundle["stun"] for v in s["software"]}
    assert "2.0.1.211" in software
    vendor = {v["type"] for s in bundle["stun"] for v in s["vendor_attributes"]}
    assert {"0x8008", "0x8037", "0x8070"} <= vendor
    assert bundle["protocol_counts"]["dns"] == 45
    # MS-TURN relays on 52.114.250.x carried ICE checks only (Data indications holding STUN); the
    # SRTP went directly to a full ICE agent sending one source: a peer-to-peer 1:1 call.
    path = bundle["media_path"]
    assert path["topology"] == "p2p"
    assert any(r.startswith("f78: media directly to 93.71.110.205:16332, a full ICE agent") for r in path["reasons"])
    assert any("carried no media" in r for r in path["reasons"])
    assert not any(e["address"].startswith("52.114.250.") for e in path["endpoints"])


def test_teams_dns_names_ip_endpoints(analyzed) -> None:
    bundle = analyzed("teams.pcap")
    resolved = {}
    for d in bundle["dns"]:
        for answer in d["answers"]:
            resolved.setdefault(answer, set()).add(d["name"])
    contacted = {f["dst"] for f in bundle["flows"] if f["transport"] == "tcp"}
    named = contacted & set(resolved)
    assert named, "some TCP endpoints must be named by DNS answers in the same capture"
    cname_chains = [d for d in bundle["dns"] if d["cnames"]]
    assert cname_chains


def test_webex_tls10_server_hellos_are_weak(analyzed) -> None:
    bundle = analyzed("webex.pcap")
    versions = Counter((t["version"], t["weak"]) for t in bundle["tls"] if t["server_hello_seen"])
    assert versions == {("TLS 1.0", True): 31, ("TLS 1.2", False): 5}
    assert len(bundle["tls"]) == 49
    snis = Counter(t["sni"] for t in bundle["tls"])
    assert snis["radcom.webex.com"] == 4 and snis["ssl.google-analytics.com"] == 1 and snis["api.crittercism.com"] == 1


def test_whatsapp_stun_vendor_attributes_and_pt120(analyzed) -> None:
    bundle = analyzed("whatsapp_login_call.pcap")
    types = Counter()
    for s in bundle["stun"]:
        types.update(s["message_types"])
    assert set(types) >= {"0x0001", "0x0101", "0x0003", "0x0103"}
    vendor = {v["type"] for s in bundle["stun"] for v in s["vendor_attributes"]}
    assert vendor & {"0x4000", "0x4001", "0x4002"}
    assert bundle["protocol_counts"]["stun"] + bundle["protocol_counts"]["turn"] == 100
    pts = Counter()
    for m in bundle["media_streams"]:
        pts[m["payload_type"]] += m["packets"]
    assert set(pts) == {120} and pts[120] == 629
    assert bundle["protocol_counts"]["rtp"] + bundle["protocol_counts"]["srtp"] == 629
    assert bundle["protocol_counts"]["rtcp"] + bundle["protocol_counts"]["srtcp"] == 58


def test_skype_rtcp_that_tshark_leaves_undissected(analyzed) -> None:
    bundle = analyzed("skype-conference-call.pcap")
    counts = bundle["protocol_counts"]
    assert counts["stun"] == 14
    assert counts["rtcp"] + counts["srtcp"] == 155
    assert counts["rtp"] + counts["srtp"] == 31
    vendor = {v["type"] for s in bundle["stun"] for v in s["vendor_attributes"]}
    assert {"0x8070", "0x8054"} <= vendor


def test_google_meet_web_tls_and_dns_free_quic(analyzed) -> None:
    bundle = analyzed("google_meet.pcapng")
    assert [t["sni"] for t in bundle["tls"]] == ["meet.google.com"]
    assert bundle["tls"][0]["version"] == "TLS 1.3"
    assert bundle["dns"] == [] and bundle["protocol_counts"]["dns"] == 0
    (quic,) = bundle["quic"]
    assert quic["version"] == "0x00000001" and quic["sni"] == "meet.google.com"
    assert bundle["protocol_counts"]["quic"] == 6


def test_quic_v2_short_headers_are_quic_not_stun_or_dtls(analyzed) -> None:
    bundle = analyzed("quic-v2.pcapng")
    (quic,) = bundle["quic"]
    assert quic["version"] == "0x6b3343cf" and quic["known_version"] is True
    assert quic["long_header_packets"] == 3
    counts = bundle["protocol_counts"]
    assert counts["quic"] == 19 and counts["stun"] == 0 and counts["dtls"] == 0
    flow = bundle["flows"][0]
    assert (flow["transport"], flow["dport"] if flow["dport"] == 4443 else flow["sport"]) == ("udp", 4443)


def test_webex_plaintext_http_requests(analyzed) -> None:
    bundle = analyzed("webex.pcap")
    assert [(h["method"], h["host"], h["target"]) for h in bundle["http_plain"]] == [
        ("POST", "cp.pushwoosh.com", "/json/1.3/registerDevice"), ("POST", "cp.pushwoosh.com", "/json/1.3/applicationOpen")]
    assert bundle["protocol_counts"]["sip"] == 22


def test_sip_call_rtp_is_plain_with_sdp_evidence(analyzed) -> None:
    bundle = analyzed("sip.pcap")
    assert bundle["protocol_counts"]["sip"] == 81
    methods = Counter(s["first_line"].split(" ")[0] for s in bundle["sip"])
    assert {"REGISTER", "INVITE", "CANCEL", "ACK", "401", "407", "200"} <= set(methods)
    for s in bundle["sip"]:
        assert s["call_id"] is None or s["call_id"].startswith("[REDACTED sip-call-id")
    (stream,) = bundle["media_streams"]
    assert stream["payload_type"] == 8 and stream["packets"] == 9
    assert stream["codec"].lower() == "pcma" and stream["kind"] == "audio"
    assert stream["encryption"] == "plain"
    assert any("RTP/AVP" in r for r in stream["reasons"])
    assert bundle["protocol_counts"]["rtp"] == 9 and bundle["protocol_counts"]["srtp"] == 0
    assert bundle["protocol_counts"]["rtcp"] == 1
    offers = [m for sdp in bundle["sdp"] for m in sdp["media"]]
    assert offers and all(m["proto"] == "RTP/AVP" and not m["crypto"] for m in offers)


def test_zoom_sfu_relayed_meeting(analyzed) -> None:
    bundle = analyzed("zoom2.pcap")
    assert bundle["protocol_counts"]["zoom"] == 322  # every UDP packet (all on 8801)
    assert {z["mode"] for z in bundle["zoom"]} == {"sfu"}
    audio = [z for z in bundle["zoom"] if z["confirmed"]]
    assert len(audio) == 1 and set(audio[0]["rtp_payload_types"]) <= {"112", "99", "98"}
    assert audio[0]["media_types"].get("audio", 0) > 0
    assert bundle["media_path"]["topology"] == "server"
    assert all(e["port"] == 8801 for e in bundle["media_path"]["endpoints"] if e["role"] == "server")
    assert any("0x05 outer header" in r for r in bundle["media_path"]["reasons"])
    assert [t["sni"] for t in bundle["tls"]] == ["zoomsjccv154mmr.sjc.zoom.us"]


def test_zoom_peer_to_peer_meeting(analyzed) -> None:
    bundle = analyzed("zoom_p2p.pcapng")
    assert {z["mode"] for z in bundle["zoom"]} == {"p2p"}
    media = [z for z in bundle["zoom"] if z["confirmed"]]
    assert len(media) == 1
    assert {"98", "110", "113"} <= set(media[0]["rtp_payload_types"])
    # SOURCES.md: 0x1F 300 + video 203 + 0x15 63 + audio 44 + RTCP 1
    assert bundle["protocol_counts"]["zoom"] == 611
    assert bundle["protocol_counts"]["stun"] == 80  # cookie-less Binding requests on 3478
    assert all(s["classic"] == s["messages"] for s in bundle["stun"])
    assert bundle["media_path"]["topology"] == "p2p"
    assert not any(e["role"] in ("server", "relay") for e in bundle["media_path"]["endpoints"])
    assert bundle["protocol_counts"]["dns"] == 3
