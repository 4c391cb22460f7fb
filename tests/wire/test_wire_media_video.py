"""Video media judgement on real encoder output (aiortc's libvpx/libx264 packetisers, libvpx-vp9, SVT-AV1)
packetised per RFC 7741 / 6184 / 9628 / the AV1 RTP spec, plain and after real SRTP."""

from __future__ import annotations

import functools
import random
import time

import pytest

from confaudit.wire.av1 import av1_payload, leb128
from confaudit.wire.media_kind import RtpSample, judge_media
from support.wire_media_rtp import (av1_frames_rtp, audio_stream, samples, srtp, video_frames_aiortc, video_stream,
                            vp9_frames_rtp)


@functools.cache
def _frames(codec: str) -> tuple[tuple[bytes, ...], ...]:
    frames = {"VP8": lambda: video_frames_aiortc("video/VP8"), "H264": lambda: video_frames_aiortc("video/H264"),
              "VP9": vp9_frames_rtp, "AV1": av1_frames_rtp}[codec]()
    return tuple(tuple(f) for f in frames)


CODECS = ["VP8", "H264", "VP9", "AV1"]


@pytest.mark.parametrize("codec", CODECS)
def test_plain_video_from_structure_and_timing(codec: str) -> None:
    frames = [list(f) for f in _frames(codec)]
    judged = judge_media(samples(video_stream(frames, 100)), 100)
    assert (judged.codec, judged.kind, judged.clock_rate, judged.plaintext) == (codec, "video", 90000, True), judged
    assert judged.auth_tag_bytes is None and judged.plaintext_chance < 1e-6
    assert any("fits 90000 Hz" in r for r in judged.kind_reasons)
    declared = judge_media(samples(video_stream(frames, 100)), 100, codec.lower(), 90000)
    assert (declared.codec, declared.plaintext) == (codec, True)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("profile", ["80", "32", "gcm"])
def test_srtp_video_keeps_kind_and_clock_never_plaintext(codec: str, profile: str) -> None:
    stream = srtp(video_stream([list(f) for f in _frames(codec)], 100), profile)
    judged = judge_media(samples(stream), 100)
    assert (judged.kind, judged.clock_rate, judged.plaintext, judged.codec) == ("video", 90000, None, None), judged
    declared = judge_media(samples(stream), 100, codec, 90000)
    assert (declared.codec, declared.kind, declared.plaintext) == (codec, "video", None)


@pytest.mark.parametrize("codec", CODECS)
def test_loss_reordering_duplicates(codec: str) -> None:
    stream = video_stream([list(f) for f in _frames(codec)], 100)
    picked = samples(stream, drop=[4, 9], swap=[12], duplicate=[2, 15])
    judged = judge_media(picked, 100)
    assert (judged.codec, judged.kind, judged.plaintext) == (codec, "video", True), judged.codec_reasons
    assert judged.packets == len(picked) - 2  # the two duplicates dropped


def test_video_timing_alone_without_a_clock() -> None:
    """Frames split over packets with the marker on each last one are video even when arrival times are useless."""
    stream = [(packet, 0.0) for packet, _ in srtp(video_stream([list(f) for f in _frames("VP8")], 100))]
    judged = judge_media(samples(stream), 100)
    assert judged.kind == "video" and judged.clock_rate is None and judged.plaintext is None
    assert any("marker on each frame's last packet" in r for r in judged.kind_reasons)


def test_h264_needs_slices_not_just_a_parsable_first_byte() -> None:
    """Single packets of parameter sets only (0x48 = PPS) are not an H.264 stream, whatever the timing."""
    rng = random.Random(3)
    frames = [[bytes([0x48]) + rng.randbytes(rng.randrange(20, 60))] for _ in range(30)]
    judged = judge_media(samples(video_stream(frames, 100)), 100)
    assert judged.codec != "H264" and judged.plaintext is None
    real = [list(f) for f in _frames("H264")]
    mostly_bare = real[:3] + frames[:21]  # a few real access units, then frames without any slice (24 sampled)
    judged = judge_media(samples(video_stream(mostly_bare, 100)), 100, "H264", 90000)
    assert judged.plaintext is None and any("15 complete frames without a slice" in r for r in judged.codec_reasons)


def test_fu_a_runs_must_be_consistent() -> None:
    frames = [list(f) for f in _frames("H264")]
    # a continuation fragment naming another NAL type than its run's start (5 <-> 1): each packet alone stays valid
    broken = [[p[:1] + bytes([p[1] ^ 0x04]) + p[2:] if p[0] & 0x1F == 28 and not p[1] & 0x80 else p for p in f]
              for f in frames]
    judged = judge_media(samples(video_stream(broken, 100)), 100, "H264", 90000)
    assert judged.plaintext is None and any("FU-A runs consistent" in r for r in judged.codec_reasons)


def test_vp8_picture_ids_must_count_up() -> None:
    rng = random.Random(5)
    frames = [[p[:2] + (0x8000 | rng.randrange(1 << 15)).to_bytes(2, "big") + p[4:] for p in f] for f in _frames("VP8")]
    assert all(p[0] & 0x80 and p[1] & 0x80 and p[2] & 0x80 for f in _frames("VP8") for p in f)  # X, I, 15-bit M
    judged = judge_media(samples(video_stream(frames, 100)), 100, "VP8", 90000)
    assert judged.plaintext is None and any("picture IDs consistent in 0/" in r or "picture IDs consistent in 1/" in r
                                            for r in judged.codec_reasons), judged.codec_reasons


def test_av1_fragments_chain_y_to_z() -> None:
    frames = av1_frames_rtp(mtu=200)
    assert any(p[0] & 0x40 for f in frames for p in f)
    plain = judge_media(samples(video_stream(frames, 100)), 100, "AV1", 90000)
    assert plain.plaintext is True
    unchained = [[bytes([p[0] & ~0x40]) + p[1:] for p in f] for f in frames]  # Y cleared: a Z packet follows nothing
    judged = judge_media(samples(video_stream(unchained, 100)), 100, "AV1", 90000)
    assert judged.plaintext is None and any("Y then Z agree" in r for r in judged.codec_reasons)


def test_av1_payload_walk() -> None:
    assert leb128(b"\x80\x01", 0) == (128, 2) and leb128(b"\x80", 0) is None
    first = av1_payload(_frames("AV1")[0][0])
    assert first.new_sequence and first.valid and first.obu_types[0] == 1
    assert av1_payload(b"\x10\x80") is not None and not av1_payload(b"\x10\x80").valid  # forbidden bit
    assert not av1_payload(b"\x00\x05\x30\x00").valid  # length past the end
    assert av1_payload(b"") is None


def test_random_payloads_with_video_timing_are_never_plaintext() -> None:
    rng = random.Random(8)
    for trial in range(30):
        frames = [[rng.randbytes(rng.randrange(30, 1200)) for _ in range(rng.randrange(1, 4))] for _ in range(25)]
        judged = judge_media(samples(video_stream(frames, 100)), 100)
        assert judged.plaintext is None and judged.kind == "video", (trial, judged.codec_reasons)


def test_hostile_samples_never_raise_and_stay_bounded() -> None:
    rng = random.Random(1)
    seeds = [p for f in _frames("VP8")[:3] for p in f] + [p for f in _frames("AV1")[:3] for p in f]
    for trial in range(200):
        batch = []
        for i in range(rng.randrange(0, 40)):
            payload = bytearray(rng.choice(seeds)[: rng.randrange(0, 60)]) if rng.random() < 0.7 else bytearray(rng.randbytes(rng.randrange(0, 90)))
            for _ in range(rng.randrange(0, 4)):
                if payload:
                    payload[rng.randrange(len(payload))] = rng.randrange(256)
            batch.append(RtpSample(rng.randrange(65536) if rng.random() < 0.2 else 1000 + i, rng.randrange(1 << 32),
                                   rng.random() < 0.5, rng.randrange(0, 1500), rng.choice([0.0, i * 0.01, -5.0, float("nan")]),
                                   bytes(payload) if rng.random() < 0.8 else None))
        judge_media(batch, rng.randrange(128), rng.choice([None, "opus", "VP8", "H264", "red", "rtx", "AV1", "x"]),
                    rng.choice([None, 8000, 90000])).to_dict()
    many = [RtpSample(i, i * 3000, i % 3 == 0, 1200, i * 0.01, bytes([0x90, 0x80]) + bytes(1198)) for i in range(5000)]
    started = time.perf_counter()
    judge_media(many, 96)
    assert time.perf_counter() - started < 10
    wide = judge_media(audio_stream_samples(), 0)
    assert wide.kind == "audio"


def audio_stream_samples() -> list[RtpSample]:
    return samples(audio_stream([bytes(160)] * 40, 0, 160, 8000))
