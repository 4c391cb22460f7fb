"""The canary found in decrypted media, and not under an inner E2EE layer (real codecs, real DTLS-SRTP, no network).

The canary files are encoded with libopus and libvpx at WebRTC-like low bitrates (PyAV), sent through real
DTLS 1.2 keys and SRTP (confaudit.e2ee.synth), and analysed with ``confaudit analyze --keylog --canary``.
"""

from __future__ import annotations

from confaudit.redact import Redactor
import json
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from confaudit.canary import write_canary_media
from confaudit.canary.detect_audio import search_audio
from confaudit.canary.spec import make_spec, read_specs
from confaudit.e2ee import enrich
from confaudit.wire.depacketize import RtpPacket
from benchmarks.synth_e2ee import SynthStream, dtls_handshake, encode_opus_pcm, opus_test_signal, write_call
from confaudit.lab.e2ee_transform import FrameEncryptor

SECONDS = 4.0
AUDIO_SSRC, VIDEO_SSRC = 0x1111, 0x2222


def _opus(media, bit_rate: int, start: int) -> tuple[bytes, ...]:
    with wave.open(str(media.audio_wav)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32768.0
    return tuple(encode_opus_pcm(np.roll(pcm, -start), bit_rate=bit_rate, options={"application": "voip"}))


def _vp8(media, frames: int, bit_rate: int) -> tuple[bytes, ...]:
    import av

    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base, enc.bit_rate, enc.gop_size = Fraction(1, 30), bit_rate, 1000
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    raw = media.video_y4m.read_bytes()
    body = raw[raw.index(b"\n") + 1:]
    size = 320 * 240 * 3 // 2
    out: list[bytes] = []
    for i in range(frames):
        planes = body[i * (size + 6) + 6:(i + 1) * (size + 6)]
        frame = av.VideoFrame(320, 240, "yuv420p")
        for n, (a, b) in enumerate(((0, 76800), (76800, 96000), (96000, 115200))):
            frame.planes[n].update(planes[a:b])
        frame.pts = i
        out.extend(bytes(p) for p in enc.encode(frame))
    out.extend(bytes(p) for p in enc.encode(None))
    return tuple(out)


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    media = write_canary_media(tmp_path_factory.mktemp("canary"), "detect-seed", seconds=SECONDS)
    # the call starts 1.37 s into the plan (the fake device loops): found at any alignment
    return media, _opus(media, 16000, 65760), _vp8(media, 90, 120_000)


def _analyse(tmp_path: Path, canary, transform=None, spec_path: Path | None = None) -> dict:
    media, opus, vp8 = canary
    handshake = dtls_handshake()
    capture, keylog = tmp_path / "call.pcap", tmp_path / "keys.log"
    keylog.write_text("\n".join(handshake.keylog_lines) + "\n")
    write_call(capture, handshake, [SynthStream("client", "opus", AUDIO_SSRC, 111, frames=opus),
                                    SynthStream("client", "vp8", VIDEO_SSRC, 96, frames=vp8)],
               seconds=SECONDS, transform=transform)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog,
           canaries=read_specs(spec_path or media.spec_json, []))
    return {s["ssrc"]: s for s in bundle["e2ee"]["streams"]} | {"canaries": bundle["e2ee"]["canaries"]}


def test_canary_found_in_readable_audio_and_video(tmp_path: Path, canary) -> None:
    streams = _analyse(tmp_path, canary)
    audio, video = streams[AUDIO_SSRC], streams[VIDEO_SSRC]
    assert audio["inner"] == "codec" and audio["codec"] == "opus"
    assert audio["canary"]["found"] is True and audio["canary"]["kind"] == "audio"
    figures = audio["canary"]["figures"]
    assert figures["match_share"] >= 0.9 and figures["runner_up_share"] < 0.3 and figures["segments_matched"] >= 15
    assert figures["frequency_correlation"] > 0.95
    assert figures["offset_ms"] == 1360  # 65760 samples = 1370 ms into the plan, to the 20 ms window
    assert video["inner"] == "codec" and video["canary"]["found"] is True and video["canary"]["kind"] == "video"
    vf = video["canary"]["figures"]
    assert vf["frames_matched"] >= 100 and vf["counter_forward"] >= 0.95 * vf["counter_steps"]
    assert vf["counter_first"] == 0 and vf["distinct_counters"] == 90
    assert streams["canaries"][0]["seed"] == "detect-seed" and len(streams["canaries"][0]["sha256"]) == 64
    assert any(r.startswith("canary audio: found") for r in audio["reasons"])


def test_canary_absent_under_inner_e2ee(tmp_path: Path, canary) -> None:
    streams = _analyse(tmp_path, canary, transform=FrameEncryptor())
    for ssrc in (AUDIO_SSRC, VIDEO_SSRC):
        stream = streams[ssrc]
        assert stream["inner"] == "encrypted", stream["reasons"]
        assert stream["canary"]["found"] is False
        if stream["canary"]["kind"] == "audio":
            assert stream["canary"]["figures"]["match_share"] is None or stream["canary"]["figures"]["match_share"] < 0.35
        else:
            assert stream["canary"]["figures"]["frames_matched"] == 0


def test_another_seed_is_not_found_and_readable_media_stays_codec(tmp_path: Path, canary) -> None:
    other = write_canary_media(tmp_path / "other", "another-seed", seconds=SECONDS)
    streams = _analyse(tmp_path, canary, spec_path=other.spec_json)
    for ssrc in (AUDIO_SSRC, VIDEO_SSRC):
        assert streams[ssrc]["inner"] == "codec"  # someone else's readable media: absence of our canary proves nothing
        assert streams[ssrc]["canary"]["found"] is False
    assert streams[VIDEO_SSRC]["canary"]["figures"]["frames_with_sync"] >= 100  # the pattern, but not our seed's bits
    assert streams[VIDEO_SSRC]["canary"]["figures"]["frames_matched"] == 0


def test_speech_is_not_a_canary() -> None:
    spec = make_spec("speech-check", SECONDS)
    frames = encode_opus_pcm(opus_test_signal("speech", 6.0), bit_rate=24000)
    packets = [RtpPacket(i, i * 960, False, 111, f) for i, f in enumerate(frames)]
    result = search_audio(packets, spec)
    assert not result.found and (result.match_share or 0) < 0.3


def test_cli_analyze_canary_option(tmp_path: Path, canary) -> None:
    from typer.testing import CliRunner

    from confaudit.cli import app

    media = canary[0]
    handshake = dtls_handshake()
    capture, keylog = tmp_path / "call.pcap", tmp_path / "keys.log"
    keylog.write_text("\n".join(handshake.keylog_lines) + "\n")
    write_call(capture, handshake, [SynthStream("client", "opus", AUDIO_SSRC, 111, frames=canary[1])], seconds=3.0)
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(app, ["analyze", str(capture), "--keylog", str(keylog), "--canary", str(media.spec_json),
                                      "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    from confaudit.evidence.schema import validate_bundle

    assert validate_bundle(bundle) == []
    [stream] = [s for s in bundle["e2ee"]["streams"] if s["ssrc"] == AUDIO_SSRC]
    assert stream["canary"]["found"] is True and stream["inner"] == "codec"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = CliRunner().invoke(app, ["analyze", str(capture), "--keylog", str(keylog), "--canary", str(bad)])
    assert result.exit_code == 3 and f"{bad}: not a canary spec" in result.output


def test_report_shows_the_canary_column(tmp_path: Path, canary) -> None:
    from confaudit.report.html import render_audit
    from benchmarks.synth_report import synthetic_bundle, synthetic_run

    streams = _analyse(tmp_path, canary)
    bundle = synthetic_bundle(2)
    bundle["e2ee"] = {"keylogs": [], "sessions": [], "srtcp": [], "sdes": [], "summary": {"conclusion": "mixed"},
                      "streams": [streams[AUDIO_SSRC], streams[VIDEO_SSRC] | {"canary": None},
                                  streams[VIDEO_SSRC] | {"id": "e9", "canary": {**streams[VIDEO_SSRC]["canary"],
                                                                                "found": False, "kind": "<video>"}}]}
    html = render_audit(synthetic_run(bundle, claims=2), bundle, redactor=Redactor.default())
    table = html[html.index("End-to-end encryption test"):]
    assert "<th>Canary</th>" in table
    assert "found (audio: 200 of 200 tone windows)" in table
    assert "absent (&lt;video&gt;: 120 of 120 frames)" in table and "<video>:" not in table
    assert table.count("<td>-</td>") == 1  # the stream with no canary searched


def test_canary_found_inside_red(tmp_path: Path, canary) -> None:
    """Audio RED (RFC 2198, as Chromium sends it): the previous frame as a redundant block, then the primary."""
    media, opus, _vp8 = canary
    wrapped = []
    for i, frame in enumerate(opus):
        previous = opus[i - 1] if i else b""
        # redundant block header: F=1, PT, 14-bit timestamp offset (960), 10-bit length; then F=0, PT
        header = bytes([0x80 | 111]) + ((960 << 10) | len(previous)).to_bytes(3, "big") + bytes([111])
        wrapped.append(header + previous + frame)
    handshake = dtls_handshake()
    capture, keylog = tmp_path / "red.pcap", tmp_path / "keys.log"
    keylog.write_text("\n".join(handshake.keylog_lines) + "\n")
    write_call(capture, handshake, [SynthStream("client", "opus", AUDIO_SSRC, 63, frames=tuple(wrapped))], seconds=3.0)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog, canaries=read_specs(media.spec_json, []))
    [stream] = [s for s in bundle["e2ee"]["streams"] if s["ssrc"] == AUDIO_SSRC]
    assert stream["canary"]["found"] is True and stream["inner"] == "codec", stream["reasons"]


def _packets(frames) -> list[RtpPacket]:
    return [RtpPacket(1000 + i, i * 960, False, 111, f) for i, f in enumerate(frames)]


def test_verdict_rules_of_the_known_plaintext_test(canary, tmp_path: Path) -> None:
    """found -> codec whatever the codec test said; absent with media -> encrypted only when the codec test could
    not tell; absent in readable media stays codec; absent in silence decides nothing."""
    from confaudit.e2ee.canary import canary_verdict

    media, opus, _ = canary
    sources = read_specs(media.spec_json, [])
    reasons: list[str] = []
    for before in ("undetermined", "encrypted", "codec"):
        inner, codec, found = canary_verdict(_packets(opus), before, None, None, "audio", None, sources, reasons)
        assert (inner, codec, found["found"]) == ("codec", "opus", True)
    speech = encode_opus_pcm(opus_test_signal("vowel", 4.0), bit_rate=24000)
    assert canary_verdict(_packets(speech), "undetermined", None, None, "audio", None, sources, reasons)[0] == "encrypted"
    assert canary_verdict(_packets(speech), "codec", "opus", None, "audio", None, sources, reasons)[0] == "codec"
    silence = encode_opus_pcm(np.zeros(4 * 48000), bit_rate=24000, options={"application": "voip", "dtx": "1"})
    inner, _, result = canary_verdict(_packets(silence), "undetermined", None, None, "audio", None, sources, reasons)
    assert inner == "undetermined" and result["found"] is False, result
    assert any("not the canary" in r for r in reasons)


def test_session_canary_json_is_read_and_checked(sample_session_copy: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from confaudit.cli import app

    media = write_canary_media(tmp_path / "media", "session-seed", seconds=1.0)
    (sample_session_copy / "canary.json").write_bytes(media.spec_json.read_bytes())
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(app, ["analyze", str(sample_session_copy), "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    [source] = bundle["e2ee"]["canaries"]
    assert source["seed"] == "session-seed" and source["path"].endswith("canary.json")
    assert any("canary.json: not listed in manifest.json" in w for w in bundle["warnings"])  # the runner must list it
    (sample_session_copy / "canary.json").write_text('{"format": "confaudit-canary/1", "seed": "x", "seconds": 99999}')
    result = CliRunner().invoke(app, ["analyze", str(sample_session_copy), "--json", str(tmp_path / "b2.json")])
    assert result.exit_code == 3 and "canary.json: canary spec: \"seconds\"" in result.output
    assert not (tmp_path / "b2.json").exists()


def _encoded(media, codec: str, frames: int, size: tuple[int, int]) -> tuple[bytes, ...]:
    """The canary video scaled to ``size`` (as WebRTC does under load) and encoded with libx264 or libvpx-vp9."""
    import av

    enc = av.CodecContext.create({"h264": "libx264", "vp9": "libvpx-vp9"}[codec], "w")
    enc.width, enc.height, enc.pix_fmt = size[0], size[1], "yuv420p"
    enc.time_base, enc.bit_rate, enc.gop_size = Fraction(1, 30), 100_000, 1000
    enc.options = ({"tune": "zerolatency", "preset": "ultrafast", "bframes": "0", "repeat-headers": "1"}
                   if codec == "h264" else {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"})
    raw = media.video_y4m.read_bytes()
    body = raw[raw.index(b"\n") + 1:]
    size_bytes = 320 * 240 * 3 // 2
    out: list[bytes] = []
    for i in range(frames):
        planes = body[i * (size_bytes + 6) + 6:(i + 1) * (size_bytes + 6)]
        frame = av.VideoFrame(320, 240, "yuv420p")
        for n, (a, b) in enumerate(((0, 76800), (76800, 96000), (96000, 115200))):
            frame.planes[n].update(planes[a:b])
        frame = frame.reformat(width=size[0], height=size[1])
        frame.pts = i
        out.extend(bytes(p) for p in enc.encode(frame))
    out.extend(bytes(p) for p in enc.encode(None))
    return tuple(out)


@pytest.mark.parametrize(("codec", "size"), [("h264", (160, 120)), ("vp9", (640, 480))])
def test_canary_video_found_in_other_codecs_and_sizes(tmp_path: Path, canary, codec: str, size: tuple[int, int]) -> None:
    media = canary[0]
    handshake = dtls_handshake()
    capture, keylog = tmp_path / "v.pcap", tmp_path / "keys.log"
    keylog.write_text("\n".join(handshake.keylog_lines) + "\n")
    write_call(capture, handshake, [SynthStream("client", codec, VIDEO_SSRC, 102, frames=_encoded(media, codec, 60, size))],
               seconds=2.0)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog, canaries=read_specs(media.spec_json, []))
    [stream] = [s for s in bundle["e2ee"]["streams"] if s["ssrc"] == VIDEO_SSRC]
    assert stream["codec"] == codec and stream["canary"]["found"] is True, stream["reasons"]
    assert stream["canary"]["figures"]["frames_matched"] >= 55
