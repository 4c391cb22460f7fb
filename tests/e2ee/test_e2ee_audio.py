"""Opus under an inner E2EE layer that keeps the TOC in clear is never called readable (issue 11, section 7).

Real libopus frames (PyAV), real DTLS 1.2 keys and real SRTP (pylibsrtp) through ``benchmarks.synth_e2ee``;
the inner layers are real AES (cryptography): AES-CTR past the TOC with nothing appended, Jitsi's
AES-GCM frame format (ciphertext and tag, 12-byte IV, IV_LENGTH, key id) and the lab's FrameEncryptor.
"""

from __future__ import annotations

import functools
import os
import random
import struct
from pathlib import Path

import pytest

from confaudit.e2ee import enrich
from benchmarks.synth_e2ee import SynthStream, dtls_handshake, encode_opus_pcm, opus_test_signal, write_call
from confaudit.lab.e2ee_transform import FrameEncryptor

SSRC = 0x1111
SECONDS = 4.0
VOIP = {"application": "voip"}
DTX = {"application": "voip", "dtx": "1"}
# (signal, bit rate, libopus options): CELT, hybrid and SILK modes, DTX on speech with pauses
REAL = [("chirp", 48000, {}), ("vowel", 32000, VOIP), ("speech", 16000, DTX), ("tone", 12000, VOIP)]


@functools.cache
def _frames(kind: str, bit_rate: int, options: tuple[tuple[str, str], ...]) -> tuple[bytes, ...]:
    return tuple(encode_opus_pcm(opus_test_signal(kind, SECONDS), bit_rate=bit_rate, options=dict(options)))


def frames(kind: str, bit_rate: int, options: dict[str, str]) -> tuple[bytes, ...]:
    return _frames(kind, bit_rate, tuple(sorted(options.items())))


@pytest.fixture(scope="module")
def handshake():
    return dtls_handshake()


def _stream(tmp_path: Path, handshake, opus_frames: tuple[bytes, ...], transform=None, payload_type: int = 111) -> dict:
    capture, keylog = tmp_path / "call.pcap", tmp_path / "keys.log"
    keylog.write_text("\n".join(handshake.keylog_lines) + "\n")
    write_call(capture, handshake, [SynthStream("client", "opus", SSRC, payload_type, frames=opus_frames)],
               seconds=len(opus_frames) * 0.02, transform=transform)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
    [stream] = [s for s in bundle["e2ee"]["streams"] if s["ssrc"] == SSRC]
    assert stream["decrypted"] == stream["packets"] > 0
    return stream


class AesCtrPastToc:
    """Keeps the Opus TOC, AES-CTR over the rest, nothing appended (same length as the frame)."""

    def __init__(self) -> None:
        self.key, self.count = os.urandom(16), 0

    def __call__(self, kind: str, ssrc: int, payload: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self.count += 1
        enc = Cipher(algorithms.AES(self.key), modes.CTR(struct.pack("!IIQ", ssrc, self.count, 0))).encryptor()
        return payload[:1] + enc.update(payload[1:]) + enc.finalize()


class JitsiGcm:
    """lib-jitsi-meet's frame format: TOC | AES-GCM(rest) with tag | IV (SSRC, timestamp, send count) | 12 | KID."""

    def __init__(self) -> None:
        self.key, self.count = os.urandom(16), random.Random(1).randrange(0xFFFF)

    def __call__(self, kind: str, ssrc: int, payload: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        iv = struct.pack("!III", ssrc, (self.count * 960) & 0xFFFFFFFF, self.count % 0xFFFF)
        self.count += 1
        return payload[:1] + AESGCM(self.key).encrypt(iv, payload[1:], payload[:1]) + iv + bytes([12, 3])


LAYERS = {"aes-ctr, no trailer": AesCtrPastToc, "jitsi aes-gcm": JitsiGcm, "lab FrameEncryptor": FrameEncryptor}


@pytest.mark.parametrize("kind, bit_rate, options", REAL, ids=[r[0] for r in REAL])
def test_real_opus_audio_is_readable(tmp_path: Path, handshake, kind: str, bit_rate: int, options: dict) -> None:
    stream = _stream(tmp_path, handshake, frames(kind, bit_rate, options))
    assert stream["inner"] == "codec" and stream["codec"] == "opus", stream["reasons"]
    ev = stream["audio_evidence"]
    assert ev["decode_errors"] == 0 and ev["level_steps"] >= 40
    assert ev["level_step_median_db"] <= 2.0 and ev["random_level_step_median_db"] >= 6.0
    if options.get("dtx"):
        assert ev["tiny_packets"] >= 20, "the pauses went out as DTX frames"


def test_silence_with_dtx_is_no_evidence_either_way(tmp_path: Path, handshake) -> None:
    silence = frames("silence", 16000, DTX)
    assert sum(len(f) <= 3 for f in silence) >= 0.8 * len(silence)
    stream = _stream(tmp_path, handshake, silence)
    assert stream["inner"] == "undetermined", stream["reasons"]
    assert stream["audio_evidence"]["level_steps"] == 0


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("kind, bit_rate, options", REAL, ids=[r[0] for r in REAL])
def test_inner_layer_keeping_the_toc_is_ciphertext(tmp_path: Path, handshake, kind: str, bit_rate: int, options: dict,
                                                    layer: str) -> None:
    stream = _stream(tmp_path, handshake, frames(kind, bit_rate, options), LAYERS[layer]())
    assert stream["inner"] == "encrypted", stream["reasons"]
    ev = stream["audio_evidence"]
    assert ev["level_step_median_db"] >= 0.6 * ev["random_level_step_median_db"]
    assert (ev["trailer"] is not None) == (layer != "aes-ctr, no trailer")


@pytest.mark.parametrize("layer", LAYERS)
def test_inner_layer_over_silence_and_dtx_is_never_readable(tmp_path: Path, handshake, layer: str) -> None:
    stream = _stream(tmp_path, handshake, frames("silence", 16000, DTX), LAYERS[layer]())
    assert stream["inner"] != "codec", stream["reasons"]


@pytest.mark.parametrize("toc", [0x08, 0x48, 0x78, 0xB8, 0xF8, 0x0B, 0xFC])
@pytest.mark.parametrize("sizes", [(2, 4), (4, 40), (40, 200)])
def test_random_payloads_behind_a_constant_toc_are_never_readable(tmp_path: Path, handshake, toc: int,
                                                                 sizes: tuple[int, int]) -> None:
    rng = random.Random(toc * 1000 + sizes[0])

    def random_payload(kind: str, ssrc: int, payload: bytes) -> bytes:
        return bytes([toc]) + rng.randbytes(rng.randrange(*sizes) - 1)

    stream = _stream(tmp_path, handshake, frames("tone", 12000, VOIP), random_payload)
    assert stream["inner"] != "codec", stream["reasons"]


def test_opus_toc_that_reads_as_a_red_header_is_judged_as_opus(handshake, tmp_path: Path) -> None:
    """SILK/hybrid TOCs are below 0x80, so they parse as a one-byte RED header: both readings are tried."""
    opus = frames("vowel", 12000, VOIP)
    assert {f[0] for f in opus} == {0x48}  # SILK wideband 20 ms: "RED, primary payload type 72"
    stream = _stream(tmp_path, handshake, opus)
    assert stream["inner"] == "codec"
    assert any(r.startswith("judged as sent, not as RED") for r in stream["reasons"])


def test_short_real_silk_stream_is_not_called_encrypted_through_a_red_reading(handshake, tmp_path: Path) -> None:
    """Read as RED, a real SILK stream loses its TOC and its bytes are refused or decode like ciphertext;
    too short to show real audio as it is (0.6 s), it must stay undetermined."""
    opus = tuple(encode_opus_pcm(opus_test_signal("vowel", 0.6), bit_rate=12000, options=VOIP))
    stream = _stream(tmp_path, handshake, opus)
    assert stream["inner"] == "undetermined", stream["reasons"]
    assert stream["reasons"][0].startswith("judged as sent, not as RED")


class AudioRed:
    """RFC 2198 as WebRTC sends Opus: the previous frame as a redundant block, then the current one."""

    def __init__(self, inner=None) -> None:
        self.inner, self.previous = inner, b""

    def __call__(self, kind: str, ssrc: int, payload: bytes) -> bytes:
        frame = self.inner(kind, ssrc, payload) if self.inner else payload
        previous, self.previous = self.previous, frame
        if not previous:
            return bytes([111]) + frame
        header = struct.pack("!BHB", 0x80 | 111, (960 << 2) | (len(previous) >> 8), len(previous) & 0xFF)
        return header + bytes([111]) + previous + frame


@pytest.mark.parametrize("layer", [None, "jitsi aes-gcm"])
def test_opus_in_audio_red_is_unwrapped(tmp_path: Path, handshake, layer: str | None) -> None:
    """Audio RED (payload type 63 carrying Opus 111 with the previous frame as redundancy) is read as RED."""
    red = AudioRed(LAYERS[layer]() if layer else None)
    stream = _stream(tmp_path, handshake, frames("vowel", 12000, VOIP), red, payload_type=63)
    assert stream["inner"] == ("encrypted" if layer else "codec"), stream["reasons"]
    assert stream["reasons"][0] == "RED (RFC 2198) unwrapped: primary payload type 111"


def test_refused_payloads_without_a_trailer_are_not_called_ciphertext() -> None:
    """Audio RED read as bare Opus: its 0xEF header passes for a TOC and the decoder refuses almost every
    packet, out of range where it does decode. Misread framing, not ciphertext: no trailer, no verdict."""
    from confaudit.e2ee.audio import measure_opus, opus_verdict

    red = AudioRed()
    payloads = [red("audio", SSRC, f) for f in frames("vowel", 12000, VOIP)]
    evidence = measure_opus(payloads)
    assert evidence.decode_errors >= 0.9 * evidence.packets and evidence.toc_config_share > 0.9
    assert evidence.over_full_scale_share >= 0.1
    assert opus_verdict(evidence)[0] == "undetermined"


def test_audio_evidence_object_is_every_field_of_the_measurements() -> None:
    """as_dict spells the bundle's audio_evidence out key by key (typed against the schema): it must stay the
    dataclass, every field and nothing else, as the schema's e2ee_audio_evidence requires."""
    import dataclasses

    from confaudit.e2ee.audio import measure_opus
    from confaudit.evidence.schema import bundle_schema

    evidence = measure_opus(list(frames("vowel", 24000, VOIP)))
    assert evidence.as_dict() == dataclasses.asdict(evidence)
    assert set(evidence.as_dict()) == set(bundle_schema()["$defs"]["e2ee_audio_evidence"]["required"])


def test_counter_trailer_is_found_and_codec_bytes_are_not_one() -> None:
    from confaudit.e2ee.trailer import counter_trailer, describe_trailer

    tone = list(frames("tone", 48000, {}))
    assert len({f[-1] for f in tone}) < 5, "Opus ends steady-tone CELT frames with the same raw bits"
    assert describe_trailer(tone) is None
    gcm = JitsiGcm()
    assert counter_trailer([gcm("audio", SSRC, f) for f in tone]) == (4, 2, 1.0)
    ctr = FrameEncryptor()
    assert counter_trailer([ctr("audio", SSRC, f) for f in tone]) == (4, 0, 1.0)
    assert describe_trailer([f + os.urandom(4) for f in tone]) is None


def test_a_few_vp8_ciphertext_frames_that_decode_by_chance_are_not_readable() -> None:
    """libavcodec accepts Jitsi-style VP8 ciphertext (10/3 clear bytes) about 1 time in 4: a short chain of
    such frames decodes without a single error, and must still not be called readable."""
    import av

    from confaudit.wire.depacketize import RtpPacket
    from confaudit.e2ee.inner import classify, trial_video
    from benchmarks.synth_e2ee import encode_video, packetize

    rng = random.Random(11)
    plain = encode_video("vp8", 9, keyframe_every=100)

    def encrypt(frame: bytes) -> bytes:
        clear = 3 if frame[0] & 0x01 else 10
        return frame[:clear] + rng.randbytes(len(frame) - clear + 16) + rng.randbytes(12) + bytes([12, 0])

    def decodes(chain: list[bytes]) -> bool:
        decoder = av.CodecContext.create("vp8", "r")
        decoder.thread_count = 1
        try:
            return all(decoder.decode(av.Packet(f)) for f in chain)
        except av.error.FFmpegError:
            return False

    chain: list[bytes] = []
    for frame in plain:
        for _ in range(200):  # measured: about 1 try in 4 decodes
            candidate = encrypt(frame)
            if decodes(chain + [candidate]):
                chain.append(candidate)
                break
    assert len(chain) == len(plain)
    packets, seq = [], 0
    for n, frame in enumerate(chain):
        payloads = packetize("vp8", frame)
        for k, payload in enumerate(payloads):
            packets.append(RtpPacket(seq, n * 3000, k == len(payloads) - 1, 96, payload))
            seq += 1
    trial = trial_video("vp8", packets)
    assert trial.units == trial.clean == len(chain) and trial.errors == 0
    assert classify(packets, "video", "vp8").inner != "codec"
