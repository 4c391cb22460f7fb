"""Decryption and inner-payload verdicts on synthetic calls: real DTLS 1.2 keys, real codecs, real SRTP."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from confaudit.e2ee import enrich
from benchmarks.synth_e2ee import SynthStream, dtls_handshake, write_call
from confaudit.lab.e2ee_transform import FrameEncryptor

AV = [SynthStream("client", "opus", 0x1111, 111), SynthStream("server", "vp8", 0x2222, 96)]


@pytest.fixture(scope="module")
def handshake():
    return dtls_handshake()


def _keylog(path: Path, hs) -> Path:
    path.write_text("\n".join(hs.keylog_lines) + "\n")
    return path


def _analyse(capture: Path, keylog: Path | None, bundle: dict | None = None) -> dict:
    bundle = bundle if bundle is not None else {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
    return bundle


def _by_ssrc(bundle: dict) -> dict[int, dict]:
    return {s["ssrc"]: s for s in bundle["e2ee"]["streams"]}


def test_plain_media_is_readable_and_duplicates_are_not_failures(tmp_path: Path, handshake) -> None:
    cap = tmp_path / "plain.pcap"
    write_call(cap, handshake, AV, seconds=3, duplicate=True)
    bundle = _analyse(cap, _keylog(tmp_path / "k.log", handshake))
    streams = _by_ssrc(bundle)
    audio, video = streams[0x1111], streams[0x2222]
    assert audio["inner"] == "codec" and audio["codec"] == "opus" and audio["kind"] == "audio"
    assert video["inner"] == "codec" and video["codec"] == "vp8" and video["kind"] == "video"
    for s in (audio, video):
        assert s["auth_failed"] == 0 and s["replay_rejected"] == 0
        assert s["duplicates"] == s["packets"] // 2 and s["decrypted"] == s["packets"] // 2
    session = bundle["e2ee"]["sessions"][0]
    assert session["keys"] == "found" and session["profile"] == "SRTP_AEAD_AES_128_GCM"
    assert session["profile_source"] == "server_hello"
    assert all(c["decrypted"] and c["auth_failed"] == 0 for c in bundle["e2ee"]["srtcp"])
    assert bundle["e2ee"]["keylogs"][0]["dtls_sessions_matched"] == 1
    assert bundle["e2ee"]["summary"]["conclusion"] == "media_readable_at_transport_end"


def test_inner_encryption_is_recognised(tmp_path: Path, handshake) -> None:
    cap = tmp_path / "e2ee.pcap"
    write_call(cap, handshake, AV, seconds=3, transform=FrameEncryptor())
    bundle = _analyse(cap, _keylog(tmp_path / "k.log", handshake))
    streams = _by_ssrc(bundle)
    assert streams[0x1111]["inner"] == "encrypted" and streams[0x2222]["inner"] == "encrypted"
    assert any("decoder rejects" in r for r in streams[0x2222]["reasons"])
    assert any("jumps as it does for random bytes behind the same TOCs" in r for r in streams[0x1111]["reasons"])
    assert bundle["e2ee"]["summary"]["conclusion"] == "inner_encryption_observed"


@pytest.mark.parametrize("codec", ["vp9", "h264"])
def test_other_video_codecs_decode(tmp_path: Path, handshake, codec: str) -> None:
    cap = tmp_path / f"{codec}.pcap"
    write_call(cap, handshake, [SynthStream("client", codec, 0x3333, 98)], seconds=2)
    stream = _by_ssrc(_analyse(cap, _keylog(tmp_path / "k.log", handshake)))[0x3333]
    assert stream["inner"] == "codec" and stream["codec"] == codec


def test_red_wrapped_video_is_unwrapped(tmp_path: Path, handshake) -> None:
    def red(kind: str, ssrc: int, payload: bytes) -> bytes:
        return bytes([96]) + payload  # RFC 2198 with only the primary block, as Firefox sends video

    cap = tmp_path / "red.pcap"
    write_call(cap, handshake, [SynthStream("server", "vp8", 0x4444, 122)], seconds=2, transform=red)
    stream = _by_ssrc(_analyse(cap, _keylog(tmp_path / "k.log", handshake)))[0x4444]
    assert stream["inner"] == "codec" and stream["codec"] == "vp8"
    assert any("RED (RFC 2198) unwrapped" in r for r in stream["reasons"])


def test_wrong_keys_are_counted_never_guessed(tmp_path: Path, handshake) -> None:
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=2)
    random_hex = handshake.keylog_lines[0].split()[1]
    wrong = tmp_path / "wrong.log"
    wrong.write_text(f"CLIENT_RANDOM {random_hex} {os.urandom(48).hex()}\n")
    bundle = _analyse(cap, wrong)
    for s in bundle["e2ee"]["streams"]:
        assert s["inner"] == "not_observable" and s["decrypted"] == 0
        assert s["auth_failed"] == s["packets"] > 0
        assert any("failed SRTP authentication" in r for r in s["reasons"])
    assert bundle["e2ee"]["summary"]["conclusion"] == "not_observable"


def test_without_keylog_streams_are_not_observable(tmp_path: Path, handshake) -> None:
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    bundle = _analyse(cap, None)
    assert {s["inner"] for s in bundle["e2ee"]["streams"]} == {"not_observable"}
    assert bundle["e2ee"]["sessions"][0]["keys"] == "missing"
    assert all(s["auth_failed"] == 0 for s in bundle["e2ee"]["streams"])


def test_keys_for_one_participant_only(tmp_path: Path) -> None:
    """Two DTLS sessions (auditor <-> SFU, other participant <-> SFU); only the auditor's keys are logged."""
    ours, theirs = dtls_handshake(), dtls_handshake()
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    write_call(a, ours, AV, seconds=2)
    write_call(b, theirs, [SynthStream("client", "opus", 0x5555, 111)], seconds=2,
               client=("127.0.0.1", 41000), server=("127.0.0.1", 41002))
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[a, b], keylogs=[], explicit_keylog=_keylog(tmp_path / "k.log", ours))
    sessions = {s["client"]: s["keys"] for s in bundle["e2ee"]["sessions"]}
    assert sessions == {"127.0.0.1:40000": "found", "127.0.0.1:41000": "missing"}
    streams = _by_ssrc(bundle)
    assert streams[0x1111]["inner"] == "codec" and streams[0x2222]["inner"] == "codec"
    assert streams[0x5555]["inner"] == "not_observable" and streams[0x5555]["auth_failed"] == 0


def test_session_keylog_from_a_directory_is_tried(tmp_path: Path, handshake) -> None:
    """A session's key log (e.g. mitmproxy's sslkeys.log) is read leniently; junk lines only warn."""
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    log = tmp_path / "sslkeys.log"
    log.write_text("junk\n" + "\n".join(handshake.keylog_lines) + "\n")
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[cap], keylogs=[log], explicit_keylog=None)
    assert bundle["e2ee"]["sessions"][0]["keys"] == "found"
    missing = {"warnings": [], "complete": True}
    enrich(missing, captures=[cap], keylogs=[tmp_path / "absent.log"], explicit_keylog=None)
    assert missing["e2ee"]["sessions"][0]["keys"] == "missing" and any("absent.log" in w for w in missing["warnings"])


def test_corrupted_explicit_keylog_raises(tmp_path: Path, handshake) -> None:
    from confaudit.errors import InputError

    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    bad = tmp_path / "bad.log"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(InputError):
        _analyse(cap, bad)


def test_sdes_keys_in_signalling_are_evidence(tmp_path: Path, handshake) -> None:
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    secret = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    bundle = {"warnings": [], "complete": True,
              "websocket": [{"id": "w1", "messages": [{"text": '{"sdp":"v=0\\r\\nm=audio 9 RTP/SAVP 0\\r\\n'
                                                               f'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{secret}\\r\\n"}}'}]}],
              "sdp": [{"id": "s1", "crypto": True}]}
    _analyse(cap, None, bundle)
    sdes = bundle["e2ee"]["sdes"]
    assert {"source": {"kind": "websocket", "id": "w1"}, "suite": "AES_CM_128_HMAC_SHA1_80", "count": 1,
            "keys": "redacted"} in sdes
    assert any(s["source"]["kind"] == "sdp" for s in sdes)
    assert bundle["e2ee"]["summary"]["sdes_keys_in_signalling"] is True
    import json

    assert secret not in json.dumps(bundle["e2ee"])


def test_hostile_captures_never_crash(tmp_path: Path, handshake) -> None:
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    data = cap.read_bytes()
    rng = random.Random(7)
    truncated = tmp_path / "t.pcap"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    bundle = _analyse(truncated, _keylog(tmp_path / "k.log", handshake))
    assert bundle["complete"] is False or bundle["e2ee"]["streams"]
    for n in range(6):
        mutated = bytearray(data)
        for _ in range(200):
            mutated[rng.randrange(24, len(mutated))] = rng.randrange(256)
        path = tmp_path / f"m{n}.pcap"
        path.write_bytes(bytes(mutated))
        out = _analyse(path, _keylog(tmp_path / "k.log", handshake))
        assert "e2ee" in out
        for s in out["e2ee"]["streams"]:
            assert s["decrypted"] + s["auth_failed"] + s["duplicates"] + s["replay_rejected"] <= s["packets"]


def test_decoder_paths_survive_random_bytes() -> None:
    from confaudit.wire.depacketize import RtpPacket
    from confaudit.e2ee.handshake import FlowHandshakes
    from confaudit.e2ee.inner import classify

    rng = random.Random(3)
    flow = FlowHandshakes()
    for _ in range(2000):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
        flow.feed(("1.2.3.4", 5), bytes([22, 0xFE, 0xFD]) + blob)
    packets = [RtpPacket(i, i // 3 * 3000, i % 3 == 2, 96, os.urandom(rng.randrange(1, 300))) for i in range(120)]
    verdict = classify(packets, None, None)
    assert verdict.inner == "undetermined"  # no codec structure: nothing to call encrypted or readable
    assert classify(packets[:2], None, None).inner == "undetermined"


def test_path_comes_from_the_streams_own_flow(tmp_path: Path, handshake) -> None:
    """A stream on a flow whose far end the analysis calls a media server gets path "server"."""
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    flow = {"id": "f7", "transport": "udp", "src": "127.0.0.1", "sport": 40000, "dst": "127.0.0.1", "dport": 40002}
    bundle = {"warnings": [], "complete": True, "flows": [flow],
              "media_streams": [{"id": "m3", "flow": "f7", "ssrc": "0x00002222"}],
              "media_path": {"topology": "p2p", "endpoints": [
                  {"address": "127.0.0.1", "port": 40002, "role": "server", "flows": ["f7"]}]}}
    _analyse(cap, _keylog(tmp_path / "k.log", handshake), bundle)
    streams = _by_ssrc(bundle)
    assert streams[0x2222]["flow"] == "f7" and streams[0x2222]["media_stream"] == "m3"
    assert {s["path"] for s in streams.values()} == {"server"}
    assert bundle["e2ee"]["sessions"][0]["flow"] == "f7"


def test_invented_ssrcs_are_capped_and_mark_the_result_incomplete(tmp_path: Path, handshake) -> None:
    import struct

    from benchmarks.synth_e2ee import CLIENT, SERVER, PcapWriter
    from confaudit.e2ee.scan import MAX_STREAMS

    cap = tmp_path / "flood.pcap"
    writer = PcapWriter(cap)
    for n, (who, data) in enumerate(handshake.datagrams):
        writer.write(1.0 + n / 1000, CLIENT if who == "client" else SERVER, SERVER if who == "client" else CLIENT, data)
    for i in range(MAX_STREAMS + 500):
        writer.write(2.0 + i / 1e5, CLIENT, SERVER, struct.pack("!BBHII", 0x80, 96, i & 0xFFFF, i, i + 1) + b"\x00" * 40)
    writer.close()
    bundle = _analyse(cap, _keylog(tmp_path / "k.log", handshake))
    assert len(bundle["e2ee"]["streams"]) == MAX_STREAMS
    assert bundle["complete"] is False and any("beyond the first" in w for w in bundle["warnings"])
    assert all(s["inner"] == "not_observable" and s["auth_failed"] == 1 for s in bundle["e2ee"]["streams"])


@pytest.mark.parametrize("junk", [
    {"flows": {"f1": 1}, "media_streams": "x", "media_path": "p2p", "sdp": [1, None, "a=crypto:1 X inline:k"]},
    {"flows": [None, {"src": []}], "media_streams": [{"flow": "f1", "ssrc": "zz"}, {"flow": "f1", "ssrc": True}],
     "media_path": {"endpoints": 5}, "http": {"a": 1}, "websocket": [{"x": {"y": ["a=crypto:7 AES inline:z"] * 3}}]},
])
def test_any_bundle_shape_is_survived(tmp_path: Path, handshake, junk: dict) -> None:
    cap = tmp_path / "c.pcap"
    write_call(cap, handshake, AV, seconds=1)
    bundle = {"warnings": [], "complete": True, **junk}
    _analyse(cap, _keylog(tmp_path / "k.log", handshake), bundle)
    assert {s["inner"] for s in bundle["e2ee"]["streams"]} == {"codec"}
    assert not any("analysis stopped" in w for w in bundle["warnings"])


def test_media_after_an_ice_pair_change_is_keyed_by_the_shared_endpoint(tmp_path: Path, handshake) -> None:
    import struct

    from benchmarks.synth_e2ee import PcapWriter

    cap = tmp_path / "moved.pcap"
    write_call(cap, handshake, AV, seconds=2, media_server=("127.0.0.1", 40010))
    # Someone else's SRTP to the same server port, with no handshake of its own in the capture.
    stranger = tmp_path / "stranger.pcap"
    writer = PcapWriter(stranger)
    for i in range(50):
        writer.write(5.0 + i / 50, ("127.0.0.1", 40600), ("127.0.0.1", 40010),
                     struct.pack("!BBHII", 0x80, 111, i, i * 960, 0x9999) + os.urandom(80))
    writer.close()
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[cap, stranger], keylogs=[], explicit_keylog=_keylog(tmp_path / "k.log", handshake))
    streams = _by_ssrc(bundle)
    assert streams[0x1111]["inner"] == "codec" and streams[0x2222]["inner"] == "codec"
    assert any("ICE candidate-pair change" in r for r in streams[0x2222]["reasons"])
    assert 0x9999 not in streams, "a stranger's stream sharing a server port is not reported as failing"


def test_sframe_header_with_counter_is_an_inner_layer() -> None:
    from confaudit.wire.depacketize import RtpPacket
    from confaudit.e2ee.inner import classify

    packets = []
    for frame in range(40):
        header = bytes([0x19]) + (500 + frame).to_bytes(2, "big")  # KID 1, 2-byte counter (RFC 9605 §4.3)
        for part in range(3):
            body = (header if part == 0 else b"") + os.urandom(300)
            packets.append(RtpPacket(frame * 3 + part, frame * 3000, part == 2, 96, body))
    verdict = classify(packets, "video", None)
    assert verdict.inner == "encrypted" and any("SFrame" in r for r in verdict.reasons)
    shuffled = [RtpPacket(p.seq, p.timestamp, p.marker, p.payload_type, os.urandom(len(p.payload))) for p in packets]
    assert classify(shuffled, "video", None).inner == "undetermined"
