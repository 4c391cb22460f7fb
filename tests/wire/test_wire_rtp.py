"""RTP/RTCP/SRTCP: crafted packets, real captures (plain SIP RTP vs WebRTC SRTP), fuzz."""

from __future__ import annotations

import struct
from collections import Counter

import pytest

from confaudit.wire.rtp import parse_rtcp, parse_rtp, srtcp_trailer, static_payload_type
from support.wire_pcap_util import mutations, udp


def rtp(pt=111, seq=7, ts=1000, ssrc=0xDEADBEEF, csrcs=(), ext=b"", payload=b"\xfc" + b"o" * 40, pad=0, marker=False):
    first = 0x80 | (0x20 if pad else 0) | (0x10 if ext else 0) | len(csrcs)
    out = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    out += b"".join(struct.pack("!I", c) for c in csrcs) + ext + payload
    return out + (b"\0" * (pad - 1) + bytes([pad]) if pad else b"")


def sr(ssrc=0x1111, reports=0):
    body = struct.pack("!I", ssrc) + b"\0" * 20 + b"\x22" * 24 * reports
    return struct.pack("!BBH", 0x80 | reports, 200, len(body) // 4) + body


def sdes(ssrc, cname: bytes):
    chunk = struct.pack("!I", ssrc) + b"\x01" + bytes([len(cname)]) + cname + b"\0"
    chunk += b"\0" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def test_rtp_header_extensions_csrcs_padding() -> None:
    one_byte = b"\xbe\xde\x00\x02" + bytes([0x10, 0xAA, 0x32, 1, 2, 3, 0, 0])  # id1 len1, id3 len3, padding
    hdr = parse_rtp(rtp(csrcs=(1, 2), ext=one_byte, pad=4, marker=True))
    assert hdr is not None and hdr.marker and hdr.pt == 111 and hdr.seq == 7 and hdr.ssrc == 0xDEADBEEF
    assert hdr.csrcs == (1, 2) and hdr.extension_profile == 0xBEDE
    assert hdr.extension_elements == ((1, 1), (3, 3)) and not hdr.cryptex
    assert hdr.extension_values == ((1, "aa"), (3, "010203"))
    assert hdr.payload_offset == 12 + 8 + 12 and hdr.payload_len == 41 and hdr.padding_len == 4
    two_byte = b"\x10\x00\x00\x02" + bytes([5, 3, 9, 9, 9, 0, 0, 0])
    hdr = parse_rtp(rtp(ext=two_byte))
    assert hdr.extension_profile == 0x1000 and hdr.extension_elements == ((5, 3),)
    assert hdr.extension_values == ((5, "090909"),)
    encrypted_ext = parse_rtp(rtp(ext=b"\xc0\xde\x00\x01\x8a\x17\x3c\x01"))
    assert encrypted_ext.cryptex and encrypted_ext.extension_elements == ()
    bad = bytearray(rtp(payload=b"abc\x40"))
    bad[0] |= 0x20
    assert parse_rtp(bytes(bad)).problems and parse_rtp(bytes(bad)).payload_len == 4
    assert parse_rtp(b"\x80\xc8" + b"\0" * 10) is None  # RTCP SR range (RFC 5761)
    assert parse_rtp(b"\x40" + b"\0" * 11) is None and parse_rtp(rtp(ext=b"\xbe\xde\x00\x20")) is None
    assert static_payload_type(8) == ("PCMA", "audio", 8000) and static_payload_type(34)[1] == "video"
    assert static_payload_type(111) is None


def test_rtcp_compound_and_srtcp_trailer() -> None:
    plain = sr(0x1234, reports=1) + sdes(0x1234, b"user@host")
    compound = parse_rtcp(plain)
    assert compound.exact and compound.sender_ssrc == 0x1234 and compound.cnames == ("user@host",)
    assert [p.name for p in compound.packets] == ["SR", "SDES"] and compound.packets[0].count == 1
    assert srtcp_trailer(plain) is None
    hmac = plain + struct.pack("!I", 0x80000005) + b"T" * 10
    assert srtcp_trailer(hmac) == (True, 5, 10)
    encrypted_aead = sr(0x99)[:8] + b"\x9a" * 40 + b"G" * 16 + struct.pack("!I", 0x80000102)
    assert srtcp_trailer(encrypted_aead) == (True, 0x102, 16)
    unencrypted_32 = plain + struct.pack("!I", 0x00000003) + b"t" * 4
    assert srtcp_trailer(unencrypted_32) == (False, 3, 4)
    assert parse_rtcp(b"\x80\xc9\x00\x05" + b"\0" * 4) is None  # length overruns
    assert parse_rtcp(b"\x80\x60\x00\x00") is None


def test_real_plain_sip_rtp_vs_srtp(shared_captures) -> None:
    sip = [s.payload for s in udp(shared_captures / "sip.pcap") if s.payload[0] & 0xC0 == 0x80]
    headers = [h for p in sip if (h := parse_rtp(p))]
    assert Counter(h.pt for h in headers) == {8: 9}
    rtcp = [c for p in sip if (c := parse_rtcp(p))]
    assert len(rtcp) == 1 and rtcp[0].exact and rtcp[0].cnames  # plain RTCP leaks the CNAME
    assert srtcp_trailer(next(p for p in sip if parse_rtcp(p))) is None
    meet = [s.payload for s in udp(shared_captures / "stun_google_meet.pcapng") if s.payload[0] & 0xC0 == 0x80]
    assert Counter(h.pt for p in meet if (h := parse_rtp(p))) == {97: 108, 111: 52, 99: 31}
    opus = [h for p in meet if (h := parse_rtp(p)) and h.pt == 111]
    # SRTP leaves RFC 8285 header extensions in clear (no Cryptex): every Opus packet shows its elements.
    assert all(h.extension_profile == 0xBEDE and not h.cryptex and h.extension_values for h in opus)
    meet_rtcp = [p for p in meet if parse_rtcp(p)]
    assert Counter(parse_rtcp(p).packets[0].pt for p in meet_rtcp) == {201: 9, 207: 8, 205: 6, 204: 4, 200: 2}
    assert {srtcp_trailer(p)[2] for p in meet_rtcp} == {16}  # AEAD GCM, as the DTLS profile 0x0008 says
    skype = [s.payload for s in udp(shared_captures / "skype-conference-call.pcap") if parse_rtcp(s.payload)]
    assert len(skype) == 155 and all(srtcp_trailer(p) and srtcp_trailer(p)[0] for p in skype)
    wa = [s.payload for s in udp(shared_captures / "whatsapp_login_call.pcap") if s.payload[0] & 0xC0 == 0x80]
    assert sum(1 for p in wa if (h := parse_rtp(p)) and h.pt == 120) == 629
    assert sum(1 for p in wa if parse_rtcp(p)) == 58


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    seeds = [rtp(ext=b"\xbe\xde\x00\x01\x10\xaa\x00\x00", pad=3), sr(1, 1) + sdes(1, b"x") + b"\x80\0\0\x01" + b"t" * 10]
    for data in mutations(seeds, 5000):
        for result in (parse_rtp(data), parse_rtcp(data)):
            if result is not None:
                result.to_dict()
        srtcp_trailer(data)
