"""Audio media judgement on real encoder output (ffmpeg via PyAV, libbcg729, libgsm), spec-built frames
checked against ffmpeg's decoders (iLBC, AMR), and the same streams after real SRTP (pylibsrtp)."""

from __future__ import annotations

import functools
import io
import random

import pytest

from confaudit.wire.media_kind import RtpSample, judge_media
from confaudit.wire.structure import judge_stream as stream_structure
from support.wire_media_rtp import (SRTP_PROFILES, AMR_BITS, amr_payload, audio_stream, g729_frames, gsm_frames, ilbc_frame,
                            pyav_frames, samples, srtp)


@functools.cache
def _frames(codec: str) -> tuple[bytes, ...]:
    if codec == "G729":
        frames = g729_frames()
        return tuple(frames[i] + frames[i + 1] for i in range(0, len(frames) - 1, 2))  # 20 ms: two 10-byte frames
    if codec == "GSM":
        return tuple(gsm_frames())
    name, rate, samples_per_packet = {"PCMU": ("pcm_mulaw", 8000, 160), "PCMA": ("pcm_alaw", 8000, 160),
                                      "G722": ("g722", 16000, 320), "G723": ("g723_1", 8000, 240)}[codec]
    return tuple(pyav_frames(name, rate, samples_per_packet))


# codec, static payload type, timestamp step, bytes per packet
STATIC = [("PCMU", 0, 160, 160), ("PCMA", 8, 160, 160), ("G722", 9, 160, 160), ("G729", 18, 160, 20),
          ("GSM", 3, 160, 33), ("G723", 4, 240, 24)]


@pytest.mark.parametrize(("codec", "pt", "step", "size"), STATIC)
def test_static_payload_types_plain_and_exact_fit(codec: str, pt: int, step: int, size: int) -> None:
    frames = _frames(codec)
    assert {len(f) for f in frames} == {size}
    judged = judge_media(samples(audio_stream(list(frames), pt, step, 8000)), pt)
    assert (judged.codec, judged.kind, judged.clock_rate, judged.plaintext) == (codec, "audio", 8000, True), judged
    assert judged.auth_tag_bytes is None and judged.plaintext_chance < 1e-6
    # G.723.1: 24 bytes are a 6.3k frame, or a 5.3k frame plus a 4-byte tag; the sizes alone say so
    expected = "so would a smaller frame type with a 4-byte tag" if codec == "G723" else "no room for an SRTP authentication tag"
    assert any(expected in r for r in judged.codec_reasons), judged.codec_reasons


@pytest.mark.parametrize(("codec", "pt", "step", "size"), STATIC)
@pytest.mark.parametrize("profile", sorted(SRTP_PROFILES))
def test_static_payload_types_under_srtp(codec: str, pt: int, step: int, size: int, profile: str) -> None:
    stream = srtp(audio_stream(list(_frames(codec)), pt, step, 8000), profile)
    judged = judge_media(samples(stream), pt)
    assert (judged.codec, judged.kind, judged.clock_rate, judged.plaintext) == (codec, "audio", 8000, None), judged
    tag = SRTP_PROFILES[profile][1]
    if codec == "G723" and tag == 4:
        # 24-byte 6.3k frames + 4 = 20-byte 5.3k frames + 8 (AEAD *_8): the sizes cannot tell, and say so
        assert judged.auth_tag_bytes is None and any("4 or 8 bytes" in r for r in judged.codec_reasons)
    else:
        assert judged.auth_tag_bytes == tag, judged.codec_reasons
    assert not any("uniform" in r or "random" in r.split("(")[0] for r in judged.codec_reasons)


def test_plain_g729_two_frames_per_packet_is_never_called_encrypted() -> None:
    """The issue's case: plaintext G.729, PT 18, 160-tick steps, 20 bytes: no room for a tag, parity holds."""
    stream = audio_stream(list(_frames("G729")), 18, 160, 8000)
    judged = judge_media(samples(stream), 18)
    assert judged.codec == "G729" and judged.plaintext is True and judged.auth_tag_bytes is None
    assert any("no room for an SRTP authentication tag" in r for r in judged.codec_reasons)
    assert any("parity bit P0" in r and "48/48" in r for r in judged.codec_reasons), judged.codec_reasons
    dynamic = judge_media(samples(audio_stream(list(_frames("G729")), 97, 160, 8000)), 97)
    assert (dynamic.codec, dynamic.kind, dynamic.plaintext) == ("G729", "audio", True), dynamic.codec_reasons


def test_g729_parity_is_what_random_frames_fail() -> None:
    frames = list(_frames("G729"))
    flipped = [bytes(b ^ 0x20 if i % 10 == 3 else b for i, b in enumerate(f)) for f in frames]  # bit 26 = P0
    judged = judge_media(samples(audio_stream(flipped, 18, 160, 8000)), 18)
    assert judged.plaintext is None and any("parity bit P0 matches pitch delay P1 in 0/" in r for r in judged.codec_reasons)


def test_opus_0x48_at_960_ticks_is_audio_opus_not_h264() -> None:
    """Real libopus SILK wideband 20 ms packets start with 0x48, which also parses as an H.264 PPS NAL header."""
    frames = pyav_frames("libopus", 16000, 320, application="voip", b="12000")
    assert {f[0] for f in frames} == {0x48}
    judged = judge_media(samples(audio_stream(frames, 111, 960, 48000)), 111)
    assert (judged.codec, judged.kind, judged.clock_rate, judged.plaintext) == ("opus", "audio", 48000, True)
    assert any("960 in 100%" in r for r in judged.kind_reasons)
    legacy = stream_structure(frames, None)
    assert legacy.plain is True and legacy.codec_guess == "opus"
    encrypted = judge_media(samples(srtp(audio_stream(frames, 111, 960, 48000), "gcm")), 111)
    assert (encrypted.kind, encrypted.clock_rate, encrypted.plaintext, encrypted.codec) == ("audio", 48000, None, None)


@pytest.mark.parametrize("profile", sorted(SRTP_PROFILES))
def test_real_opus_plain_and_srtp(profile: str) -> None:
    frames = pyav_frames("libopus", 48000, 960)
    plain = judge_media(samples(audio_stream(frames, 111, 960, 48000)), 111, "opus", 48000)
    assert (plain.codec, plain.kind, plain.clock_rate, plain.plaintext) == ("opus", "audio", 48000, True)
    encrypted = judge_media(samples(srtp(audio_stream(frames, 111, 960, 48000), profile)), 111)
    assert (encrypted.kind, encrypted.clock_rate, encrypted.plaintext, encrypted.auth_tag_bytes) == ("audio", 48000, None, None)


def test_opus_duration_must_match_the_timestamp_step() -> None:
    frames = pyav_frames("libopus", 48000, 960)
    wrong = judge_media(samples(audio_stream(frames, 111, 1920, 48000)), 111)  # 20 ms packets stepped by 40 ms
    assert wrong.plaintext is None and wrong.codec != "opus" and wrong.kind == "audio"
    wrong = judge_media(samples(audio_stream(frames, 111, 1920, 48000)), 111, "opus", 48000)
    assert wrong.plaintext is None and any("equals the timestamp step (48 kHz) in 0/" in r for r in wrong.codec_reasons)
    slow = judge_media(samples(audio_stream(frames, 111, 480, 24000)), 111, "opus")  # 24 kHz is not Opus RTP
    assert slow.plaintext is None and any("always uses 48000" in r for r in slow.codec_reasons)


def _decode(fmt: str, data: bytes) -> list:
    import av

    with av.open(io.BytesIO(data), format=fmt) as container:
        return [frame.to_ndarray() for packet in container.demux() for frame in packet.decode()]


@pytest.mark.parametrize("thirty", [False, True])
def test_ilbc_frames_as_ffmpeg_reads_them(thirty: bool) -> None:
    """Spec-built iLBC frames: ffmpeg decodes ours and conceals (silence) the ones with a bad start or empty bit."""
    rng = random.Random(2)
    header = b"#!iLBC30\n" if thirty else b"#!iLBC20\n"
    good = [ilbc_frame(rng, thirty) for _ in range(40)]
    assert all(abs(out).max() > 0 for out in _decode("ilbc", header + good[0]))
    assert all(abs(out).max() == 0 for out in _decode("ilbc", header + ilbc_frame(rng, thirty, start=0)))
    assert all(abs(out).max() == 0 for out in _decode("ilbc", header + ilbc_frame(rng, thirty, empty=1)))
    step = 240 if thirty else 160
    judged = judge_media(samples(audio_stream(good, 97, step, 8000)), 97, "iLBC", 8000)
    assert (judged.codec, judged.kind, judged.plaintext, judged.auth_tag_bytes) == ("iLBC", "audio", True, None)
    unknown = judge_media(samples(audio_stream(good, 97, step, 8000)), 97)
    assert (unknown.codec, unknown.plaintext) == ("iLBC", True), unknown.codec_reasons
    broken = [ilbc_frame(rng, thirty, start=0) for _ in range(40)]
    assert judge_media(samples(audio_stream(broken, 97, step, 8000)), 97, "iLBC", 8000).plaintext is None
    encrypted = judge_media(samples(srtp(audio_stream(good, 97, step, 8000), "80")), 97, "iLBC", 8000)
    assert encrypted.plaintext is None and encrypted.auth_tag_bytes == 10


@pytest.mark.parametrize("octet_aligned", [True, False])
@pytest.mark.parametrize("wideband", [False, True])
def test_amr_payloads(octet_aligned: bool, wideband: bool) -> None:
    rng = random.Random(4)
    modes = [[2], [7], [2, 2], [8 if not wideband else 9]]
    payloads = [amr_payload(rng, modes[i % 2], wideband, octet_aligned) for i in range(60)]
    clock, step = (16000, 320) if wideband else (8000, 160)
    judged = judge_media(samples(audio_stream(payloads, 98, step, clock)), 98)
    assert (judged.codec, judged.kind, judged.clock_rate, judged.plaintext) == (
        "AMR-WB" if wideband else "AMR", "audio", clock, True), judged.codec_reasons
    encrypted = judge_media(samples(srtp(audio_stream(payloads, 98, step, clock), "32")), 98)
    assert (encrypted.kind, encrypted.clock_rate, encrypted.plaintext) == ("audio", clock, None)
    if octet_aligned:  # the ToC's two padding bits must be zero (RFC 4867 §4.4.2)
        padded = [p[:1] + bytes([p[1] | 0x01]) + p[2:] for p in payloads]
        assert judge_media(samples(audio_stream(padded, 98, step, clock)), 98).plaintext is None


def test_amr_frame_sizes_agree_with_ffmpeg() -> None:
    """Our AMR-NB frame sizes, written as an RFC 4867 §5 storage file, decode frame by frame in ffmpeg."""
    rng = random.Random(9)
    frames = b""
    for ft in range(8):
        payload = amr_payload(rng, [ft], False, True)
        frames += bytes([ft << 3 | 0x04]) + payload[2:]
    assert len(_decode("amr", b"#!AMR\n" + frames)) == 8
    assert len(AMR_BITS) == 9


def test_g722_encoder_never_emits_lower_band_codes_0_to_3() -> None:
    data = b"".join(_frames("G722"))
    assert not any(b & 0x3F < 4 for b in data)


def test_random_payloads_with_audio_timing_are_never_plaintext() -> None:
    rng = random.Random(11)
    for trial in range(60):
        size = rng.choice([10, 17, 20, 33, 38, 60, 160, 170, 320])
        step = rng.choice([80, 160, 240, 320, 960])
        payloads = [rng.randbytes(size) for _ in range(40)]
        judged = judge_media(samples(audio_stream(payloads, rng.choice([0, 8, 18, 3, 9, 96, 111]), step, 8000)), 96)
        assert judged.plaintext is None, (trial, judged.codec_reasons)


def test_g711_smoothness_rejects_random_payloads() -> None:
    from confaudit.wire.g711 import g711_smoothness

    rng = random.Random(12)
    scores = [g711_smoothness(rng.randbytes(160), law) for _ in range(5000) for law in "au"]
    assert min(scores) > 0.75


def test_loss_reordering_and_duplicates_keep_the_judgement() -> None:
    stream = audio_stream(list(_frames("PCMA")), 8, 160, 8000)
    judged = judge_media(samples(stream, drop=[3, 9, 10], swap=[5, 20], duplicate=[7, 30]), 8)
    assert (judged.codec, judged.kind, judged.plaintext, judged.auth_tag_bytes) == ("PCMA", "audio", True, None)
    encrypted = judge_media(samples(srtp(stream, "80"), drop=[2], swap=[11], duplicate=[4]), 8)
    assert (encrypted.plaintext, encrypted.auth_tag_bytes) == (None, 10)


def test_telephone_events_and_red() -> None:
    import struct

    from support.wire_media_rtp import rtp_packet

    events = []
    for digit in range(4):
        for d in range(10):
            block = struct.pack("!BBH", digit, 10 | (0x80 if d == 9 else 0), 160 * (d + 1))
            events.append(rtp_packet(101, 700 + len(events), 10_000 + digit * 8000, 0x42, block, marker=d == 0))
    stream = [(packet, 10.0 + i * 0.02) for i, packet in enumerate(events)]
    judged = judge_media(samples(stream), 101, "telephone-event", 8000)
    assert (judged.codec, judged.kind, judged.plaintext) == ("telephone-event", "audio", True), judged.codec_reasons
    frames = pyav_frames("libopus", 48000, 960)
    red = [bytes([111]) + f for f in frames]  # RFC 2198 primary-only blocks, as Chrome sends between losses
    judged = judge_media(samples(audio_stream(red, 63, 960, 48000)), 63, "red", 48000)
    assert (judged.codec, judged.kind, judged.plaintext) == ("RED", "audio", True)
    assert any(r.startswith("opus:") for r in judged.codec_reasons)


def test_malformed_samples_raise_parse_error_only() -> None:
    from confaudit.wire.errors import ParseError

    with pytest.raises(ParseError):
        judge_media([RtpSample("x", 0, False, 10, 0.0, b"")], 0)  # type: ignore[arg-type]
    assert judge_media([], 0).kind == "audio" and judge_media([], 96).kind == "unknown"


def test_srtp_opus_that_paused_while_muted_is_still_audio_at_48k() -> None:
    """A sender that honours mute stops its RTP (Chromium after replaceTrack(null)) and resumes on unmute with the
    next sequence number and a timestamp that did not advance over the pause: the clock is measured between pauses."""
    frames = pyav_frames("libopus", 48000, 960, seconds=4.0)
    stream = srtp(audio_stream(frames, 111, 960, 48000), "gcm")
    paused = [(packet, arrival + (4.5 if i >= 100 else 0.0)) for i, (packet, arrival) in enumerate(stream)]
    # sampled as the packet analysis samples (rtpstreams: the first 48 packets, then one in 16)
    taken = [paused[i] for i in range(len(paused)) if i < 48 or (i - 48) % 16 == 0]
    judged = judge_media(samples(taken, limit=96), 111)
    assert (judged.kind, judged.clock_rate) == ("audio", 48000), judged.kind_reasons
    assert any("in 2 runs between sending pauses" in r for r in judged.kind_reasons), judged.kind_reasons
    uninterrupted = judge_media(samples([stream[i] for i in range(len(stream)) if i < 48 or (i - 48) % 16 == 0], limit=96), 111)
    assert (uninterrupted.kind, uninterrupted.clock_rate) == ("audio", 48000)
    assert not any("pauses" in r for r in uninterrupted.kind_reasons)
