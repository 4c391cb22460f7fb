"""A real aiortc call on loopback, captured by the sniffer, analysed, and checked against what was sent."""

from __future__ import annotations

from confaudit.redact import Redactor
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from confaudit.live.sniffer import PacketSniffer
from confaudit.lab.call import run_call
from support.environment import require_binary

PROFILE_CODES = {"SRTP_AES128_CM_SHA1_80": "0x0001", "SRTP_AEAD_AES_128_GCM": "0x0007",
                 "SRTP_AEAD_AES_256_GCM": "0x0008"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("labcall")
    capture = out / "call.pcapng"
    keylog = out / "keys.log"
    record = run_call(2.0, keylog_path=keylog, capture_path=capture)
    from confaudit.analysis.packet_side import analyze_captures

    return record, analyze_captures([capture], redactor=Redactor.default()), capture, keylog


@pytest.mark.slow
def test_sniffer_writes_what_was_sent_on_loopback(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    noise = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    noise.bind(("127.0.0.1", 0))
    out = tmp_path / "udp.pcapng"
    sniffer = PacketSniffer("lo", out, port_filter={port})
    sniffer.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(50):
        sender.sendto(b"confaudit-%03d" % i, ("127.0.0.1", port))
        sender.sendto(b"noise", noise.getsockname())
    stats = sniffer.stop()
    for s in (receiver, noise, sender):
        s.close()
    assert stats.packets == 50, stats
    assert stats.dropped_by_filter >= 50
    assert stats.udp_bytes == stats.bytes and stats.udp_bytes_per_second > 0
    from confaudit.pcap.reader import CaptureReader

    reader = CaptureReader(out)
    packets = list(reader.packets())
    assert reader.report.complete
    assert [p.payload for p in packets] == [b"confaudit-%03d" % i for i in range(50)]
    assert all(p.dport == port for p in packets)
    tshark = require_binary("tshark")
    res = subprocess.run([tshark, "-r", str(out), "-T", "fields", "-e", "udp.dstport"], capture_output=True, text=True, timeout=60)
    assert res.stdout.split() == [str(port)] * 50


@pytest.mark.slow
def test_call_streams_are_srtp_media_streams(recorded) -> None:
    record, bundle, _capture, _keylog = recorded
    assert record.capture_packets > 50
    found = {int(m["ssrc"], 16): m for m in bundle["media_streams"]}
    for sent in record.streams:
        assert sent.packets_sent > 5
        stream = found.get(sent.ssrc)
        assert stream is not None, f"{sent} missing from {sorted(found)}"
        # SRTP hides the codec; without the SDP only the sender knows the kind
        assert stream["kind"] in (sent.kind, "unknown")
        assert stream["encryption"] == "srtp", stream["reasons"]
        assert stream["payload_type"] == sent.payload_type
        assert any("use_srtp" in r for r in stream["reasons"])
        # the sniffer sees every packet aiortc sent on loopback (senders stop before counters are read)
        assert stream["packets"] == sent.packets_sent
    assert len(bundle["media_streams"]) == len(record.streams)
    assert bundle["protocol_counts"]["srtp"] == sum(m["packets"] for m in bundle["media_streams"])
    assert bundle["protocol_counts"]["rtp"] == 0


@pytest.mark.slow
def test_call_dtls_handshake_matches_keylog_and_profile(recorded) -> None:
    record, bundle, _capture, keylog = recorded
    (dtls,) = bundle["dtls"]
    assert dtls["version"] == "DTLS 1.2"
    assert {"0x0001", "0x0007", "0x0008"} <= set(dtls["srtp_profiles_offered"])
    assert dtls["srtp_profile"] == PROFILE_CODES[record.peers[0].srtp_profile]
    lines = keylog.read_text().split()
    assert lines[0] == "CLIENT_RANDOM" and record.keylog_lines == 1
    assert lines[1] == dtls["client_random"]
    flow = next(f for f in bundle["flows"] if f["id"] == dtls["flow"])
    assert {(flow["src"], flow["sport"]), (flow["dst"], flow["dport"])} == {record.peers[0].local, record.peers[0].remote}


@pytest.mark.slow
def test_call_stun_and_topology(recorded) -> None:
    record, bundle, _capture, _keylog = recorded
    (stun,) = bundle["stun"]
    assert any(k.startswith("Binding request") for k in stun["methods"])
    assert any(k.startswith("Binding success") for k in stun["methods"])
    assert stun["ice_attributes"].get("priority", 0) > 0
    assert stun["ice_attributes"].get("use_candidate", 0) > 0
    ufrags = [line.split(":", 1)[1] for line in (record.offer_sdp + record.answer_sdp).splitlines()
              if line.startswith("a=ice-ufrag:")]
    for token in stun["usernames"]:
        assert not any(u in token for u in ufrags)
    assert bundle["media_path"]["topology"] == "p2p"
    assert all(e["role"] == "peer" for e in bundle["media_path"]["endpoints"])
    assert bundle["complete"] is True
    assert "ice-pwd" not in repr(record) and record.offer_sdp not in repr(record)
    pwd = next(line.split(":", 1)[1] for line in record.offer_sdp.splitlines() if line.startswith("a=ice-pwd:"))
    assert pwd not in record.redacted_offer(redactor=Redactor.default()) and "a=ice-pwd:" in record.redacted_offer(redactor=Redactor.default())
    _udp, a_addr, a_port, b_addr, b_port = record.five_tuple()
    (flow,) = bundle["flows"]
    assert {(flow["src"], flow["sport"]), (flow["dst"], flow["dport"])} == {(a_addr, a_port), (b_addr, b_port)}
    assert sorted(record.ssrcs("audio") + record.ssrcs("video")) == sorted(int(m["ssrc"], 16) for m in bundle["media_streams"])


@pytest.mark.slow
def test_payload_transform_is_applied_to_every_outgoing_payload(tmp_path: Path) -> None:
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def mark(kind: str, ssrc: int, payload: bytes) -> bytes:
        with lock:
            seen[kind] = seen.get(kind, 0) + 1
        return payload

    record = run_call(1.0, payload_transform=mark, video=False)
    assert set(seen) == {"audio"}
    assert seen["audio"] >= sum(s.packets_sent for s in record.streams) - 4
    assert {s.kind for s in record.streams} == {"audio"}
