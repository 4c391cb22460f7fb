"""judge_media on the RTP streams of real public captures (nDPI's regression traces, see ../shared/captures/SOURCES.md).

Streams are extracted here with scapy (independent of confaudit's capture reader), per
(5-tuple, SSRC, PT), sampled as the analysis will: the numbers of the first 64 packets and the
payload bytes of the first 24.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path

from confaudit.wire.media_kind import RtpSample, judge_media
from confaudit.wire.rtp import parse_rtp


@functools.lru_cache(maxsize=8)
def rtp_streams(path: Path) -> dict[tuple, list[RtpSample]]:
    """(src, sport, dst, dport, ssrc, pt) -> samples, for UDP datagrams that parse as RTP."""
    from scapy.config import conf
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import RawPcapReader

    out: dict[tuple, list[RtpSample]] = defaultdict(list)
    with RawPcapReader(str(path)) as reader:
        for raw, meta in reader:
            cls = conf.l2types.get(getattr(meta, "linktype", None) or reader.linktype)
            packet = cls(raw)
            udp, ip = packet.getlayer(UDP), packet.getlayer(IP) or packet.getlayer(IPv6)
            if udp is None or ip is None:
                continue
            data = bytes(udp.payload)
            header = parse_rtp(data)
            if header is None:
                continue
            if hasattr(meta, "sec"):
                arrival = meta.sec + meta.usec / 1e6
            else:
                arrival = (meta.tshigh << 32 | meta.tslow) / meta.tsresol
            key = (ip.src, udp.sport, ip.dst, udp.dport, header.ssrc, header.pt)
            payload = data[header.payload_offset : header.payload_offset + header.payload_len]
            n = len(out[key])
            if n < 64:
                out[key].append(RtpSample(header.seq, header.timestamp, header.marker, header.payload_len, arrival,
                                          payload if n < 24 else None))
    return dict(out)


def judged(shared_captures: Path, name: str, min_packets: int = 8) -> dict[tuple, object]:
    return {key: judge_media(s, key[5]) for key, s in rtp_streams(shared_captures / name).items() if len(s) >= min_packets}


def test_sip_plain_pcma(shared_captures: Path) -> None:
    (result,) = judged(shared_captures, "sip.pcap").values()
    assert (result.codec, result.kind, result.clock_rate, result.plaintext, result.auth_tag_bytes) == (
        "PCMA", "audio", 8000, True, None)
    assert any("no room for an SRTP authentication tag" in r for r in result.codec_reasons)
    # 9 packets over 0.16 s with bursty arrival: the measured clock is honestly left open
    assert any("jitter too large" in r for r in result.kind_reasons)


def test_meet_srtp_audio_and_padding_probes(shared_captures: Path) -> None:
    results = judged(shared_captures, "stun_google_meet.pcapng")
    opus = [r for k, r in results.items() if k[5] == 111]
    assert len(opus) == 3 and all((r.kind, r.clock_rate, r.plaintext) == ("audio", 48000, None) for r in opus)
    probes = [r for k, r in results.items() if k[4] == 0]  # SSRC 0, timestamp 0: bandwidth probes
    assert len(probes) == 2 and all(r.kind == "unknown" and r.plaintext is None for r in probes)
    assert all(any("never advances" in x for x in r.kind_reasons) for r in probes)


def test_whatsapp_skype_teams_srtp_audio_at_16khz(shared_captures: Path) -> None:
    for name, pt in (("whatsapp_login_call.pcap", 120), ("skype-conference-call.pcap", 104), ("teams.pcap", 104)):
        results = judged(shared_captures, name)
        assert results, name
        for key, result in results.items():
            assert key[5] == pt
            assert (result.kind, result.clock_rate, result.plaintext) == ("audio", 16000, None), (name, key)
            assert not any("uniform" in r for r in result.codec_reasons)


def test_snapchat_srtp_video(shared_captures: Path) -> None:
    results = judged(shared_captures, "ndpi-devset/snapchat_call_v1.pcapng")
    video = [r for k, r in results.items() if k[5] == 101]
    assert len(video) == 1 and (video[0].kind, video[0].clock_rate, video[0].plaintext) == ("video", 90000, None)
    assert any("fits 90000 Hz" in r for r in video[0].kind_reasons)


def test_nothing_encrypted_in_any_capture_is_called_plaintext(shared_captures: Path) -> None:
    names = [p.relative_to(shared_captures).as_posix() for p in sorted(shared_captures.rglob("*.pcap*"))
             if not p.name.endswith(".out")]
    plaintext = []
    for name in names:
        for key, result in judged(shared_captures, name, min_packets=4).items():
            if result.plaintext:
                plaintext.append((name, key[4], key[5], result.codec))
    assert plaintext == [("sip.pcap", 0x3796CB71, 8, "PCMA")]
