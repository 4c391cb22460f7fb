"""Codec payload structure: real encoder output (aiortc, libvpx-vp9) vs the same media after real libsrtp."""

from __future__ import annotations

import struct

import pytest

from confaudit.wire.codecs import (
    g711_plausible, h264_nal, h264_payload, opus_toc, red_unwrap, vp8_descriptor, vp9_descriptor,
)
from confaudit.wire.rtp import parse_rtp
from confaudit.wire.structure import judge_stream as stream_structure
from support.wire_media_build import rtp_payloads, srtp_protect, vp9_frames
from support.wire_pcap_util import mutations, udp


def srtp_payloads(payloads: list[bytes]) -> list[bytes]:
    out = []
    for packet in srtp_protect(payloads):
        hdr = parse_rtp(packet)
        out.append(packet[hdr.payload_offset :])
    return out


def vp9_packetise(frames: list[bytes], mtu: int = 900) -> list[bytes]:
    """RFC 9628 non-flexible descriptors: I (15-bit picture id), B/E, V with SS on the key frame."""
    out = []
    for pid, frame in enumerate(frames):
        key = pid == 0
        chunks = [frame[i : i + mtu] for i in range(0, len(frame), mtu)]
        for n, chunk in enumerate(chunks):
            first = 0x80 | (0 if key else 0x40) | (0x08 if n == 0 else 0) | (0x04 if n == len(chunks) - 1 else 0)
            desc = bytes([first | (0x02 if key and n == 0 else 0)]) + struct.pack("!H", 0x8000 | pid)
            if key and n == 0:
                desc += bytes([0x10]) + struct.pack("!HH", 320, 240)  # N_S=0, Y=1, G=0
            out.append(desc + chunk)
    return out


def test_opus_toc_and_real_opus_stream() -> None:
    toc = opus_toc(b"\x78\x01")
    assert toc.config == 15 and toc.mode == "Hybrid" and toc.bandwidth == "FB" and toc.frame_ms == 20.0
    assert not toc.stereo and opus_toc(b"\xfc").mode == "CELT" and opus_toc(b"") is None
    assert opus_toc(b"\x18").bandwidth == "NB" and opus_toc(b"\x18").frame_ms == 60.0 and opus_toc(b"\x0b").frame_count_code == 3
    plain = rtp_payloads("audio/opus", 16)
    verdict = stream_structure(plain, "opus")
    assert verdict.plain is True and verdict.codec_guess == "opus"
    encrypted = stream_structure(srtp_payloads(plain), "opus")
    assert encrypted.plain is None, encrypted.reasons  # never False: SRTP and unmodelled codecs look alike


def test_vp8_descriptor_and_real_vp8_stream() -> None:
    plain = rtp_payloads("video/VP8", 12)
    info = vp8_descriptor(plain[0])
    assert info.start_of_partition and info.partition_id == 0 and info.keyframe
    assert info.start_code_ok and (info.width, info.height) == (320, 240) and info.reserved_ok
    verdict = stream_structure(plain, None)
    assert verdict.plain is True and verdict.codec_guess == "vp8"
    assert stream_structure(srtp_payloads(plain) * 2, "vp8").plain is None
    assert vp8_descriptor(b"\x90") is None and vp8_descriptor(b"") is None
    assert vp8_descriptor(b"\x50\x00\x00\x00").reserved_ok is False


def test_h264_nal_types_and_real_h264_stream() -> None:
    assert h264_nal(b"\x65\x88") == (5, 3, 0)
    stap = h264_payload(b"\x78" + b"\x00\x02\x67\x42" + b"\x00\x02\x68\xce")
    assert stap.valid and stap.inner_types == (7, 8)
    assert not h264_payload(b"\x78\x00\x09\x67").valid  # STAP-A length overruns
    fu = h264_payload(b"\x7c\x85rest")
    assert fu.valid and fu.fu_start and not fu.fu_end and fu.inner_types == (5,)
    assert not h264_payload(b"\xe5").valid  # forbidden bit
    plain = rtp_payloads("video/H264", 10)
    verdict = stream_structure(plain, "h264")
    assert verdict.plain is True and verdict.codec_guess == "h264"
    assert stream_structure(srtp_payloads(plain) * 2, "h264").plain is None


def test_vp9_descriptor_and_real_vp9_stream() -> None:
    packets = vp9_packetise(vp9_frames(10))
    first = vp9_descriptor(packets[0])
    assert first.keyframe and first.sync_code_ok and first.scalability_structure
    assert (first.width, first.height) == (320, 240) and first.picture_id == 0
    assert vp9_descriptor(packets[-1]).inter_predicted and vp9_descriptor(packets[-1]).end_frame
    verdict = stream_structure(packets, "vp9")
    assert verdict.plain is True and verdict.codec_guess == "vp9"
    assert stream_structure(packets, None).plain is True
    assert stream_structure(srtp_payloads(packets) * 3, "vp9").plain is None
    assert vp9_descriptor(b"\x80") is None


def test_red_and_g711() -> None:
    red = bytes([0x80 | 111]) + struct.pack("!I", (960 << 10) | 3)[1:] + bytes([111]) + b"old" + b"new-primary"
    assert red_unwrap(red) == (111, b"new-primary", ((111, 960, b"old"),))
    assert red_unwrap(b"\xef\x00\x0f\xff") is None and red_unwrap(b"") is None
    pcma = rtp_payloads("audio/PCMA", 12)
    assert all(g711_plausible(p, "a") for p in pcma)
    assert stream_structure(pcma, "pcma").plain is True
    assert not any(g711_plausible(p) for p in srtp_payloads(pcma))
    assert g711_plausible(b"\xd5" * 10) is None
    primaries = stream_structure([bytes([0x80 | 111]) + b"\x00\x00\x00" + bytes([111]) + p for p in rtp_payloads("audio/opus", 10)], "red")
    assert primaries.plain is True and primaries.codec_guess == "opus"


def test_real_plain_g711_and_real_srtp(shared_captures) -> None:
    def streams(name):
        out: dict[tuple[int, int], list[bytes]] = {}
        for s in udp(shared_captures / name):
            if (h := parse_rtp(s.payload)) is not None:
                out.setdefault((h.ssrc, h.pt), []).append(s.payload[h.payload_offset : h.payload_offset + h.payload_len])
        return out

    sip = streams("sip.pcap")
    (payloads,) = sip.values()
    verdict = stream_structure(payloads, None)
    assert verdict.plain is True and verdict.codec_guess == "pcma"
    meet = streams("stun_google_meet.pcapng")
    for (ssrc, pt), payloads in meet.items():
        if len(payloads) >= 8:
            hint = {111: "opus", 97: "vp8"}.get(pt)
            assert stream_structure(payloads, hint).plain is None, (ssrc, pt)
    for payloads in streams("whatsapp_login_call.pcap").values():
        if len(payloads) >= 8:
            assert stream_structure(payloads, None).plain is None


def test_rtx_and_fec_hints() -> None:
    plain = rtp_payloads("video/VP8", 12)
    rtx = stream_structure([seq.to_bytes(2, "big") + p for seq, p in enumerate(plain, 1000)], "rtx")
    assert rtx.plain is True and rtx.codec_guess == "vp8"
    assert stream_structure(plain, "ulpfec").plain is None


def test_too_few_packets_is_undecided() -> None:
    assert stream_structure([b"\x78abc"] * 3, "opus").plain is None
    assert stream_structure([], None).plain is None


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    seeds = [b"\x90\x80\x80\x01\x10\x02\x00\x9d\x01\x2a\x40\x01\xf0\x00", b"\x8a\x80\x01\x10\x01\x40\x00\xf0" + b"\x82\x49\x83\x42",
             b"\x78\x00\x02\x67\x42", b"\xef\x00\x0f\x03\x6fabcz"]
    cases = mutations(seeds, 4000)
    for data in cases:
        opus_toc(data), vp8_descriptor(data), vp9_descriptor(data), h264_nal(data), h264_payload(data)
        red_unwrap(data), g711_plausible(data)
    for i in range(0, len(cases), 40):
        for hint in (None, "opus", "vp8", "vp9", "h264", "g711", "red"):
            stream_structure(cases[i : i + 40], hint).to_dict()
