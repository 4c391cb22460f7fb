"""Media encryption only from positive evidence, end to end through `confaudit analyze` on crafted captures
of real encoder output: plaintext that looks random is never "srtp", SRTP without visible keying is
"srtp" only when its sizes or its SRTCP prove it, audio vs video from the RTP clock and timing."""

from __future__ import annotations

from confaudit.redact import Redactor
import struct

from support.pcap_testbuild import ether, ipv4, pcap, udp
from support.wire_media_rtp import audio_stream, g729_frames, pyav_frames, srtp, video_frames_aiortc, video_stream

A, B = "192.168.5.2", "192.168.5.3"


def analyze(tmp_path, packets: list[tuple[bytes, float]], name: str = "m.pcap") -> dict:
    from confaudit.analysis.packet_side import analyze_captures

    frames = [(arrival + 1_700_000_000.0, ether(ipv4(A, B, 17, udp(40000, 40002, packet)))) for packet, arrival in packets]
    path = tmp_path / name
    path.write_bytes(pcap(sorted(frames)))
    return analyze_captures([path], redactor=Redactor.default())


def only_stream(part: dict) -> dict:
    [stream] = part["media_streams"]
    return stream


def test_plaintext_g729_is_plain_never_srtp(tmp_path):
    """Two 10-byte G.729 frames per packet leave no room for a tag: the old 'uniform first bytes' srtp case."""
    frames = g729_frames(2.0)
    payloads = [frames[i] + frames[i + 1] for i in range(0, len(frames) - 1, 2)]
    stream = only_stream(analyze(tmp_path, audio_stream(payloads, pt=18, step=160, clock=8000)))
    assert stream["codec"] == "G729" and stream["kind"] == "audio" and stream["clock_rate"] == 8000
    assert stream["encryption"] == "plain"
    assert not any("uniform" in r for r in stream["reasons"])


def test_unmodelled_payload_without_keying_is_unknown(tmp_path):
    """Bytes of no modelled codec on a dynamic payload type, no keying: unknown with the reason, never srtp."""
    import random

    rng = random.Random(7)
    payloads = [bytes(rng.randrange(256) for _ in range(27)) for _ in range(80)]
    stream = only_stream(analyze(tmp_path, audio_stream(payloads, pt=109, step=320, clock=16000)))
    assert stream["encryption"] == "unknown"
    assert stream["reasons"][0].startswith("no keying (DTLS-SRTP, SDP), SRTCP trailer or authentication tag was seen")
    assert stream["kind"] == "audio"  # 320-tick steps at a measured 16 kHz, one packet per timestamp


def test_opus_with_a_0x48_toc_is_audio_not_h264(tmp_path):
    payloads = pyav_frames("libopus", 48000, 960, seconds=2.0)
    patched = [b"\x48" + p[1:] for p in payloads]  # TOC config 9 (SILK WB 20 ms): also parses as an H.264 NAL header
    stream = only_stream(analyze(tmp_path, audio_stream(patched, pt=111, step=960, clock=48000)))
    assert stream["kind"] == "audio" and stream["codec"] != "H264" and stream["clock_rate"] == 48000


def test_srtp_proven_by_a_constant_tag_on_pcmu(tmp_path):
    payloads = pyav_frames("pcm_mulaw", 8000, 160, seconds=2.0)
    protected = srtp(audio_stream(payloads, pt=0, step=160, clock=8000), "80")
    stream = only_stream(analyze(tmp_path, protected))
    assert stream["codec"] == "PCMU" and stream["encryption"] == "srtp"
    assert any("constant 10 bytes" in r for r in stream["reasons"])


def test_srtp_opus_without_keying_or_srtcp_is_unknown(tmp_path):
    """Variable-size SRTP audio with nothing else captured: encrypted-looking, but nothing proves SRTP."""
    payloads = pyav_frames("libopus", 48000, 960, seconds=2.0)
    stream = only_stream(analyze(tmp_path, srtp(audio_stream(payloads, pt=111, step=960, clock=48000), "gcm")))
    assert stream["encryption"] == "unknown" and stream["kind"] == "audio"


def test_video_from_the_clock_and_frames_even_under_srtp(tmp_path):
    frames = video_frames_aiortc("video/VP8", count=30)
    plain = only_stream(analyze(tmp_path, video_stream(frames, pt=96), "plain.pcap"))
    assert plain["kind"] == "video" and plain["codec"] == "VP8" and plain["clock_rate"] == 90000
    assert plain["encryption"] == "plain"
    protected = only_stream(analyze(tmp_path, srtp(video_stream(frames, pt=96), "80"), "srtp.pcap"))
    assert protected["kind"] == "video" and protected["clock_rate"] == 90000
    assert protected["encryption"] == "unknown"  # no keying captured: not proven either way


def test_encrypted_rtcp_is_srtcp_and_keys_the_flow(tmp_path):
    payloads = pyav_frames("libopus", 48000, 960, seconds=2.0)
    packets = srtp(audio_stream(payloads, pt=111, step=960, clock=48000), "80")
    # SRTCP: clear header + sender SSRC, encrypted body, E|index counting up, 10-byte tag
    for i in range(4):
        body = bytes(((i * 37 + k) % 251) for k in range(24))
        srtcp = struct.pack("!BBHI", 0x80, 201, 6, 0x1234ABCD) + body + struct.pack("!I", 0x80000000 | (i + 1)) + bytes(10)
        packets.append((srtcp, 100.5 + i))
    part = analyze(tmp_path, packets)
    stream = only_stream(part)
    assert stream["encryption"] == "srtp" and any("SRTCP" in r for r in stream["reasons"])
    [flow] = part["flows"]
    assert flow["labels"].get("srtcp") == 4 and "rtcp" not in flow["labels"]


def test_shared_captures_call_nothing_encrypted_plain_and_nothing_plain_encrypted(shared_captures):
    """Across every real capture: sip.pcap's PCMA is the only plaintext; srtp only with a positive reason."""
    from confaudit.analysis.packet_side import analyze_captures

    positive = ("use_srtp", "DTLS record", "SRTCP", "RTP/SAVP", "authentication tag", "the same SSRC is judged SRTP")
    files = sorted(p for p in [*shared_captures.glob("*.pcap*"), *(shared_captures / "ndpi-devset").glob("*.pcap*")]
                   if not p.name.endswith(".out"))
    plain = []
    for path in files:
        for stream in analyze_captures([path], redactor=Redactor.default())["media_streams"]:
            if stream["encryption"] == "plain":
                plain.append((path.name, stream["codec"]))
            if stream["encryption"] == "srtp":
                assert any(word in r for r in stream["reasons"] for word in positive), (path.name, stream["reasons"])
    assert plain == [("sip.pcap", "PCMA")]
