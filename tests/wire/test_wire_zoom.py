"""Zoom media encapsulation: crafted SFU/P2P packets, counts from the real captures, fuzz."""

from __future__ import annotations

import struct
from collections import Counter, defaultdict

import pytest

from confaudit.wire.zoom import parse_zoom_media, score_zoom_payloads
from support.wire_pcap_util import mutations, udp

RTP_AUDIO = struct.pack("!BBHII", 0x80, 112, 1, 960, 0xABCD) + b"\x11" * 40


def sfu(direction: int, inner: bytes) -> bytes:
    return bytes([0x05, 0x10, 0x01, 0, 0, 0, 0, direction]) + inner


def test_crafted_sfu_and_p2p_packets() -> None:
    audio_inner = b"\x0f" + b"\x00" * 18 + RTP_AUDIO
    pkt = parse_zoom_media(sfu(0x00, audio_inner))
    assert pkt.mode == "sfu" and pkt.direction == "c2s" and pkt.inner_type_name == "audio"
    assert pkt.rtp_offset == 27 and pkt.rtp.pt == 112 and pkt.rtp.ssrc == 0xABCD
    assert parse_zoom_media(sfu(0x04, audio_inner)).direction == "s2c"
    video_inner = b"\x10" + b"\x00" * 19 + b"\x02" + b"\x00" * 3 + RTP_AUDIO.replace(b"\x80\x70", b"\x80\x62", 1)
    p2p = parse_zoom_media(video_inner)
    assert p2p.mode == "p2p" and p2p.direction is None and p2p.inner_type_name == "video"
    assert p2p.rtp_offset == 24 and p2p.rtp.pt == 98
    rtcp_inner = b"\x22" + b"\x00" * 15 + struct.pack("!BBHI", 0x80, 200, 6, 7) + b"\x00" * 20
    assert parse_zoom_media(sfu(0x04, rtcp_inner)).rtcp.sender_ssrc == 7
    share = parse_zoom_media(sfu(0x04, b"\x0d" + b"\x00" * 6 + b"\x1e" + b"\x00" * 19 + RTP_AUDIO))
    assert share.inner_type_name == "screen_share" and share.rtp_offset == 35 and share.rtp.ssrc == 0xABCD
    other = parse_zoom_media(sfu(0x04, b"\x0d" + b"\x00" * 26 + RTP_AUDIO))
    assert other.inner_type_name == "zoom_0x0d" and other.rtp is None  # 0x0D without 0x1E is not media
    assert parse_zoom_media(b"\x05\x00\x00\x00\x00\x00\x00\x09" + audio_inner) is None  # byte 7 not a direction
    assert parse_zoom_media(b"\x80\x60" + b"\0" * 30) is None
    assert parse_zoom_media(b"\x01\x01\x00\x00\x21\x12\xa4\x42" + b"\0" * 12) is None  # STUN success, not Zoom 0x01
    assert parse_zoom_media(b"\x0f\x00").rtp is None


def _flows(path):
    flows = defaultdict(list)
    for s in udp(path):
        flows[frozenset([(s.src, s.sport), (s.dst, s.dport)])].append(s.payload)
    return list(flows.values())


def test_real_zoom_sfu_capture(shared_captures) -> None:
    payloads = [s.payload for s in udp(shared_captures / "zoom2.pcap")]
    outer = [parse_zoom_media(p) for p in payloads if p[0] == 0x05 and len(p) >= 40]
    assert len(outer) == 231 and all(z and z.mode == "sfu" for z in outer)
    assert Counter(z.direction for z in outer) == {"c2s": 71, "s2c": 160}
    audio = [z for z in outer if z.inner_type == 0x0F]
    assert len(audio) == 139 and all(z.rtp is not None and z.rtp_offset == 27 for z in audio)
    assert Counter(z.rtp.pt for z in audio) == {112: 80, 99: 58, 98: 1}
    assert sum(1 for z in outer if z.inner_type == 0x22 and z.rtcp is not None) == 7
    scores = [score_zoom_payloads(f) for f in _flows(shared_captures / "zoom2.pcap")]
    assert [s.mode for s in scores if s.is_zoom] == ["sfu"]


def test_real_zoom_p2p_capture_and_non_zoom(shared_captures) -> None:
    packets = [z for s in udp(shared_captures / "zoom_p2p.pcapng") if (z := parse_zoom_media(s.payload))]
    video = [z for z in packets if z.inner_type == 0x10]
    assert len(video) == 203 and all(z.rtp for z in video)
    assert Counter(z.rtp.pt for z in video) == {98: 170, 110: 33}
    audio = [z for z in packets if z.inner_type == 0x0F]
    assert len(audio) == 44 and {z.rtp.pt for z in audio} == {113}
    assert not any(z.mode == "sfu" for z in packets)
    scores = [score_zoom_payloads(f) for f in _flows(shared_captures / "zoom_p2p.pcapng")]
    assert [s.mode for s in scores if s.is_zoom] == ["p2p"]
    for other in ("stun_google_meet.pcapng", "whatsapp_login_call.pcap", "stun_zoom.pcapng", "skype-conference-call.pcap"):
        assert not any(score_zoom_payloads(f).is_zoom for f in _flows(shared_captures / other)), other


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    seeds = [sfu(0, b"\x0f" + b"\x00" * 18 + RTP_AUDIO), b"\x10" + b"\x00" * 19 + b"\x02\x00\x00\x00" + RTP_AUDIO,
             sfu(4, b"\x22" + b"\x00" * 15 + struct.pack("!BBHI", 0x80, 200, 6, 7) + b"\x00" * 20)]
    cases = mutations(seeds, 5000)
    for data in cases:
        pkt = parse_zoom_media(data)
        if pkt:
            pkt.to_dict()
    score_zoom_payloads(cases).to_dict()
