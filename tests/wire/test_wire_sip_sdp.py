"""SIP and SDP parsers: crafted messages, a real aiortc offer, the real SIP capture, fuzz."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from confaudit.wire.sdp import parse_sdp
from confaudit.wire.sip import parse_sip
from support.wire_pcap_util import mutations, udp

SDES_SDP = """v=0
o=alice 2890844526 2890844527 IN IP4 198.51.100.1
s=call
c=IN IP4 198.51.100.1
t=0 0
a=fingerprint:SHA-256 AB:CD:EF
a=ice-ufrag:F7gI
a=ice-pwd:x9cml/YzichV2+XlhiMu8g
m=audio 49170 RTP/SAVP 0 8 111
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 KDR=1
a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host
a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998
a=candidate:3 1 udp 16777215 203.0.113.9 3478 typ relay raddr 192.0.2.3 rport 45664
a=ssrc:12345 cname:user@example
a=ssrc:12345 msid:stream track
a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on
a=rtcp-mux
a=recvonly
a=mid:audio
m=video 0 UDP/TLS/RTP/SAVPF 96
a=rtpmap:96 VP8/90000
a=fingerprint:sha-256 11:22
a=setup:active
garbage line
"""


def test_sdp_fields_with_crlf_and_lf() -> None:
    for text in (SDES_SDP, SDES_SDP.replace("\n", "\r\n"), SDES_SDP.encode()):
        sdp = parse_sdp(text)
        assert sdp.origin == ("alice", "2890844526", "2890844527", "IN", "IP4", "198.51.100.1")
        audio, video = sdp.media
        assert (audio.kind, audio.port, audio.proto) == ("audio", 49170, "RTP/SAVP")
        assert [(p.pt, p.codec, p.clock, p.channels) for p in audio.payload_types] == [
            (0, "PCMU", 8000, None), (8, "PCMA", 8000, None), (111, "opus", 48000, 2)]
        assert audio.payload_types[2].fmtp == "minptime=10;useinbandfec=1"
        assert [(c.tag, c.suite) for c in audio.crypto] == [(1, "AES_CM_128_HMAC_SHA1_80"), (2, "AES_CM_128_HMAC_SHA1_32")]
        assert audio.crypto[0].key_params.startswith("inline:PS1uQCVe") and audio.crypto[1].session_params == "KDR=1"
        assert audio.ice_ufrag == "F7gI" and audio.ice_pwd == "x9cml/YzichV2+XlhiMu8g"
        assert audio.fingerprint == ("sha-256", "AB:CD:EF") and video.fingerprint == ("sha-256", "11:22")
        relay = audio.candidates[2]
        assert (relay.transport, relay.typ, relay.address, relay.port, relay.raddr, relay.rport) == (
            "udp", "relay", "203.0.113.9", 3478, "192.0.2.3", 45664)
        assert audio.ssrcs == ((12345, "user@example", "stream track"),)
        assert audio.extmap == ((1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),)
        assert audio.rtcp_mux and audio.direction == "recvonly" and audio.mid == "audio"
        assert video.port == 0 and video.setup == "active" and video.direction == "sendrecv"
        assert video.connection == "198.51.100.1"
        assert sdp.problems == ("not an SDP line: 'garbage line'",)


def test_real_aiortc_offer() -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection

    async def offer() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio")
        pc.addTransceiver("video")
        await pc.setLocalDescription(await pc.createOffer())
        text = pc.localDescription.sdp
        await pc.close()
        return text

    sdp = parse_sdp(asyncio.run(offer()))
    assert sdp.groups == ("BUNDLE 0 1",) and [m.kind for m in sdp.media] == ["audio", "video"]
    for media in sdp.media:
        assert media.proto == "UDP/TLS/RTP/SAVPF" and media.rtcp_mux and media.setup == "actpass"
        assert media.fingerprint[0] == "sha-256" and media.ice_ufrag and media.ice_pwd
        assert media.candidates and all(c.typ == "host" for c in media.candidates) and media.ssrcs
    assert {p.codec for p in sdp.media[0].payload_types} >= {"opus", "PCMU", "PCMA"}
    assert {p.codec for p in sdp.media[1].payload_types} >= {"VP8", "H264"}


INVITE = (
    "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.example.com\r\n"
    "f: Alice <sip:alice@example.com>;tag=1928301774\r\nt: Bob <sip:bob@example.com>\r\ni: a84b4c76e66710\r\n"
    "CSeq: 314159 INVITE\r\nUser-Agent: TestPhone/1.0\r\n"
    "Proxy-Authorization: Digest username=\"alice\", response=\"6629fae49393a05397450978507c4ef1\"\r\n"
    "c: application/sdp\r\nContent-Length: 13\r\n\r\nv=0\r\ns=call\r\nEXTRA"
)


def test_sip_request_and_response() -> None:
    msg = parse_sip(INVITE.encode())
    assert msg.is_request and msg.method == "INVITE" and msg.request_uri == "sip:bob@example.com"
    assert msg.call_id == "a84b4c76e66710" and msg.from_.startswith("Alice") and msg.to.startswith("Bob")
    assert (msg.cseq, msg.cseq_method, msg.user_agent) == (314159, "INVITE", "TestPhone/1.0")
    assert msg.content_type == "application/sdp" and msg.body == "v=0\r\ns=call\r\n" and msg.complete
    assert msg.authorization_present and "6629fae4" not in str(msg.to_dict())  # credential never kept
    assert msg.to_dict()["from"].startswith("Alice")
    resp = parse_sip(b"SIP/2.0 401 Unauthorized\nWWW-Authenticate: Digest realm=\"x\"\nServer: pbx\nCSeq: 1 REGISTER\n\n")
    assert not resp.is_request and resp.status_code == 401 and resp.reason == "Unauthorized"
    assert resp.method == "REGISTER" and resp.challenge_present and resp.server == "pbx"
    assert not parse_sip(INVITE.encode()[:-20]).complete
    assert parse_sip(b"GET / HTTP/1.1\r\n\r\n") is None and parse_sip(b"\x00\x01") is None


def test_numbers_that_str_isdigit_accepts_but_int_rejects() -> None:
    """Fuzz findings: these raised ValueError and lost the whole SIP message or SDP description."""
    sdp = parse_sdp("v=0\nm=audio 9 RTP/AVP 111\na=rtpmap:111\x1f opus/48000/2\na=ssrc:7\x1f cname:x\n"
                    "a=extmap:3\x1f urn:x\na=rtpmap:\u00b2 bad/1\n")  # str.strip() removes \x1f, int() does not
    media = sdp.media[0]
    assert media.payload_types[0].codec == "opus" and media.ssrcs == ((7, "x", None),) and media.extmap == ((3, "urn:x"),)
    assert not sdp.problems
    for length in ("\u00b2", "9" * 5000):  # latin-1/UTF-8 superscript two; more digits than int() converts
        msg = parse_sip(f"OPTIONS sip:x SIP/2.0\r\nCSeq: {length} OPTIONS\r\nContent-Length: {length}\r\n\r\nbody".encode())
        assert msg is not None and msg.cseq is None and msg.body == "body" and msg.complete


def test_real_sip_capture(shared_captures) -> None:
    msgs = [m for s in udp(shared_captures / "sip.pcap") if (m := parse_sip(s.payload))]
    assert len(msgs) == 81
    kinds = Counter(m.method if m.is_request else m.status_code for m in msgs)
    assert {"REGISTER", "INVITE", "CANCEL", "ACK", 401, 407, 200} <= set(kinds)
    offers = [parse_sdp(m.body) for m in msgs if m.content_type == "application/sdp"]
    assert offers and all(o.media[0].proto == "RTP/AVP" and not o.media[0].crypto for o in offers)
    assert any(p.pt == 8 and p.codec.upper() == "PCMA" for o in offers for p in o.media[0].payload_types)
    webex = [m for s in udp(shared_captures / "webex.pcap") if (m := parse_sip(s.payload))]
    assert len(webex) == 22 and {m.method for m in webex} == {"REGISTER"}


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    for data in mutations([INVITE.encode(), SDES_SDP.encode()], 3000):
        msg = parse_sip(data)
        if msg:
            msg.to_dict()
        parse_sdp(data).to_dict()
        parse_sdp(data.decode("latin-1")).to_dict()
