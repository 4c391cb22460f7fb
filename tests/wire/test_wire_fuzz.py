"""Fuzz every public wire parser: seeded random bytes and mutations of valid messages.

A call must return normally or raise ParseError; anything else fails with the parser's name, the
exception and the input hex (``wire_fuzzkit``). Seeds come from the builders here (real encoders,
aioquic, OpenSSL, cryptography) and, in a second test, from the real public captures. Post-
authentication parsers (frames inside a decrypted QUIC Initial or a hash-checked gQUIC packet) are
fuzzed directly, since a mutated packet no longer authenticates. Bounded: CONFAUDIT_FUZZ_COUNT
inputs per parser, CONFAUDIT_FUZZ_SECONDS per test (defaults keep both tests near 20 s).
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path

import pytest

from support import wire_fuzzkit as fz
from confaudit.wire import codecs, dns, dtls, gquic, hello, http, names, quic, quic_initial, rtp, sdp, sip, structure, stun, tls, zoom
from support.wire_hello_build import (
    alpn_ext, certificate_body, certificate_der, client_hello_body, dtls_fragment, dtls_record, ext, handshake,
    server_hello_body, sni_ext, tls_records, vec,
)

COUNT = int(os.environ.get("CONFAUDIT_FUZZ_COUNT", "2000"))
SECONDS = float(os.environ.get("CONFAUDIT_FUZZ_SECONDS", "12"))
HINTS = (None, "opus", "vp8", "vp9", "h264", "pcma", "pcmu", "g711", "red", "rtx", "cn")


def _stun_seeds() -> list[bytes]:
    tid = bytes(range(12))

    def attr(atype: int, value: bytes) -> bytes:
        return struct.pack("!HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)

    def message(msg_type: int, attrs: bytes) -> bytes:
        return struct.pack("!HHI12s", msg_type, len(attrs), stun.MAGIC_COOKIE, tid) + attrs

    v4 = struct.pack("!BBHI", 0, 1, 0x1234, 0x01020304)
    v6 = struct.pack("!BBH", 0, 2, 0x1234) + bytes(range(16))
    return [
        message(0x0001, attr(0x0006, b"ufrag:peer") + attr(0x0024, b"\0\0\0\x01") + attr(0x802A, bytes(8))
                + attr(0x0025, b"") + attr(0x0008, bytes(20)) + attr(0x8028, bytes(4))),
        message(0x0101, attr(0x0020, v4) + attr(0x8022, b"server 1.0") + attr(0x0016, v6) + attr(0x0012, v4)
                + attr(0x0001, v4) + attr(0x8020, v4)),
        message(0x0113, attr(0x0009, b"\0\0\x04\x01Unauthorized") + attr(0x0014, b"turner.example")
                + attr(0x0015, b"nonce") + attr(0xC057, b"\0\x01\0\x02") + attr(0x8055, b"\x01")),
        message(0x0003, attr(0x0019, b"\x11\0\0\0") + attr(0x000D, b"\0\0\x02\x58") + attr(0x000C, b"\x40\x00\0\0")),
        message(0x0001, struct.pack("!HH", 0x0006, 3) + b"abc" + struct.pack("!HH", 0x8022, 1) + b"x"),  # MS-TURN unpadded
        b"\x40\x01\x00\x08" + bytes(8),
    ]


def _dns_seeds() -> list[bytes]:
    def qname(name: str) -> bytes:
        return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"

    def rr(rtype: int, rdata: bytes) -> bytes:
        return b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata

    https = (b"\0\x01\0" + struct.pack("!HH", 1, 6) + b"\x02h3\x02h2" + struct.pack("!HH", 4, 4) + bytes([1, 2, 3, 4])
             + struct.pack("!HH", 3, 2) + b"\x01\xbb" + struct.pack("!HH", 6, 16) + bytes(16) + struct.pack("!HH", 5, 2) + b"ec")
    answers = [rr(5, qname("cdn.example.net")), rr(1, bytes([192, 0, 2, 1])), rr(28, bytes(16)), rr(16, b"\x05hello\x03txt"),
               rr(15, b"\0\x0a\xc0\x0c"), rr(65, https), rr(12, b"\xc0\x0c"), rr(41, b"")]
    response = struct.pack("!HHHHHH", 7, 0x8180, 1, len(answers), 0, 0) + qname("meet.example.com") + b"\0\x01\0\x01"
    response += b"".join(answers)
    query = struct.pack("!HHHHHH", 8, 0x0100, 1, 0, 0, 1) + qname("_x._udp.local") + b"\0\x21\0\x01" + b"\0\0\x29\x10\0" + bytes(6)
    return [response, query, len(response).to_bytes(2, "big") + response]


def _dtls_seeds() -> list[bytes]:
    srtp = ext(14, vec(2, bytes.fromhex("000700080001")) + vec(1, b""))
    ch = client_hello_body(version=0xFEFD, dtls=True, cookie=b"c" * 16, extensions=srtp + alpn_ext("webrtc")
                           + ext(43, vec(1, b"\xfe\xfc\xfe\xfd")) + ext(51, vec(2, b"\0\x1d" + vec(2, bytes(32)))))
    sh = server_hello_body(version=0xFEFD, suite=0xC02B, extensions=ext(14, vec(2, b"\x00\x05") + vec(1, b"")))
    cert = certificate_body(_certificate())
    bad_ver_sh = server_hello_body(version=0x0100, suite=0x002F)
    return [
        dtls_record(22, dtls_fragment(1, ch, 0, 0, len(ch))),
        dtls_record(22, dtls_fragment(1, ch, 1, 0, 90)) + dtls_record(22, dtls_fragment(1, ch, 1, 90, len(ch) - 90), seq=1),
        dtls_record(22, dtls_fragment(2, sh, 0, 0, len(sh)) + dtls_fragment(11, cert, 1, 0, len(cert))),
        dtls_record(22, dtls_fragment(3, b"\xfe\xff" + vec(1, b"k" * 16), 0, 0, 19)),
        dtls_record(20, b"\x01") + dtls_record(23, b"x" * 40, epoch=1),
        bytes([0b00101110]) + b"\x12\x34" + vec(2, b"e" * 30) + bytes([0b00111100, 7]) + b"cid",
        dtls_record(25, b"cid-and-more", epoch=1),
        dtls_record(22, dtls_fragment(2, bad_ver_sh, 0, 0, len(bad_ver_sh)), version=0x0100),
    ]


@functools.lru_cache(maxsize=1)
def _certificate() -> bytes:
    return certificate_der("media.example", ("sfu.example", "*.example"))


def _hello_bodies() -> tuple[list[bytes], list[bytes]]:
    exts = (sni_ext("meet.example.com") + alpn_ext("h2", "http/1.1") + ext(43, vec(1, b"\x03\x04\x03\x03"))
            + ext(10, vec(2, b"\x11\xec\x00\x1d")) + ext(51, vec(2, b"\x11\xec" + vec(2, bytes(64))))
            + ext(0xFE0D, b"\0" * 8) + ext(21, bytes(20)))
    clients = [client_hello_body(extensions=exts), client_hello_body(version=0xFEFD, dtls=True, cookie=b"k" * 8, extensions=exts)]
    servers = [server_hello_body(extensions=ext(43, b"\x03\x04") + ext(51, b"\x00\x1d" + vec(2, bytes(32)))),
               server_hello_body(version=0x0303, suite=0xC02F, extensions=alpn_ext("h2") + ext(14, vec(2, b"\0\x01") + vec(1, b"")))]
    return clients, servers


def _tls_seeds() -> tuple[list[bytes], list[bytes]]:
    clients, servers = _hello_bodies()
    cert = certificate_body(_certificate())
    client_streams = [tls_records(handshake(1, clients[0])), tls_records(handshake(1, clients[0]), size=100)]
    server_streams = [tls_records(handshake(2, servers[1]) + handshake(11, cert) + handshake(14, b"")),
                      tls_records(handshake(2, servers[0])) + b"\x17\x03\x03\x00\x05hello"]
    return client_streams, server_streams


SDP = (b"v=0\r\no=- 1 2 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
       b"a=fingerprint:sha-256 AB:CD\r\na=ice-ufrag:F7gI\r\na=ice-pwd:x9cmlYzichV2XlhiMu8g\r\n"
       b"m=audio 49170 UDP/TLS/RTP/SAVPF 111 0 8\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n"
       b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
       b"a=candidate:1 1 udp 2130706431 10.0.1.1 8998 typ host\r\n"
       b"a=candidate:2 1 udp 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998\r\n"
       b"a=ssrc:12345 cname:user@example\r\na=ssrc:12345 msid:stream track\r\n"
       b"a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=rtcp-mux\r\na=recvonly\r\na=mid:0\r\n"
       b"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=setup:active\r\n")
SIP = (b"INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK\r\nf: <sip:alice@example.org>\r\n"
       b"t: <sip:bob@example.org>\r\ni: abc@10.0.0.1\r\nCSeq: 1 INVITE\r\nAuthorization: Digest x\r\n"
       b" folded=1\r\nUser-Agent: phone/1.0\r\nc: application/sdp\r\nl: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP)
SIP_OK = b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nServer: pbx\r\nWWW-Authenticate: Digest\r\nContent-Length: 0\r\n\r\n"
HTTP = [b"GET /chat?token=abc HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"POST / HTTP/1.0\nHost: b\nX: y\n\nbody"]


def _rtp_seeds() -> list[bytes]:
    head = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 111, 7, 960, 0xDEADBEEF) + struct.pack("!II", 1, 2)
    one_byte = b"\xbe\xde\x00\x02" + bytes([0x10, 0xAA, 0x32, 1, 2, 3, 0, 0])
    two_byte = b"\x10\x00\x00\x02" + bytes([5, 3, 9, 9, 9, 0, 0, 0])
    body = struct.pack("!I", 0x1111) + bytes(20) + b"\x22" * 24
    sr = struct.pack("!BBH", 0x81, 200, len(body) // 4) + body
    chunk = struct.pack("!I", 0x1111) + b"\x01\x09user@host\0" + b"\0\0"
    sdes = struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk
    app = struct.pack("!BBHI", 0x80, 204, 2, 5) + b"NAME"
    return [head + one_byte + b"payload" + b"\0\0\x03", struct.pack("!BBHII", 0x90, 96, 1, 2, 3) + two_byte + b"x" * 20,
            struct.pack("!BBHII", 0x90, 96, 1, 2, 3) + b"\xc0\xde\x00\x01\x8a\x17\x3c\x01" + b"enc",
            sr + sdes + app, sr + sdes + b"\x80\x00\x00\x05" + bytes(10), sr + bytes(4) + b"\x80\x00\x00\x01" + bytes(16)]


def _zoom_seeds(rtp_seeds: list[bytes]) -> list[bytes]:
    media = rtp_seeds[0]
    rtcp = rtp_seeds[3]
    return [bytes([0x05, 0x10, 0x01, 0, 0, 0, 0, 0x00]) + b"\x0f" + bytes(18) + media,
            b"\x10" + bytes(19) + b"\x02" + bytes(3) + media,
            bytes([0x05, 0x10, 0x01, 0, 0, 0, 0, 0x04]) + b"\x22" + bytes(15) + rtcp,
            bytes([0x05, 0x10, 0x01, 0, 0, 0, 0, 0x04]) + b"\x0d" + bytes(6) + b"\x1e" + bytes(19) + media,
            b"\x01" + bytes(25) + media]


def _chlo(entries: list[tuple[bytes, bytes]], tag: bytes = b"CHLO") -> bytes:
    table, values, end = b"", b"", 0
    for name, value in entries:
        end += len(value)
        table += name + end.to_bytes(4, "little")
        values += value
    return tag + len(entries).to_bytes(2, "little") + b"\0\0" + table + values


CHLO = _chlo([(b"PAD\0", b"-" * 40), (b"SNI\0", b"www.example.com"), (b"VER\0", b"Q046"), (b"UAID", b"Chrome/80 Linux")])


def _quic_seeds() -> list[bytes]:
    from support.quic_initials import aioquic_initials

    q046 = bytes([0xC3]) + b"Q046" + b"\x50" + bytes(range(8)) + b"\0\0\0\x01" + bytes(12) + b"\xa0\x01" + len(CHLO).to_bytes(2, "big") + CHLO
    q050 = bytes([0xC3]) + b"Q050" + b"\x08" + bytes(range(8)) + b"\0\0" + b"\x44\x00" + bytes(40)
    public = b"\x0d" + bytes(range(8)) + b"Q043" + b"\x01" + bytes(12) + b"\xa0\x01" + len(CHLO).to_bytes(2, "big") + CHLO
    vn = b"\x80\x00\x00\x00\x00\x01\xaa\x01\xbb" + (1).to_bytes(4, "big") + (0x6B3343CF).to_bytes(4, "big")
    return aioquic_initials(1) + aioquic_initials(0x6B3343CF)[:1] + [q046, q050, public, vn]


def _crypto_plaintexts() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(IETF Initial plaintext, gQUIC STREAM frames, Q050 CRYPTO frames) seeds."""
    from support.quic_initials import aioquic_initials

    ietf = [p.plaintext for d in aioquic_initials(1) if (p := quic_initial.decrypt_initial(d)) is not None]
    ietf.append(b"\x02\x01\x00\x01\x00" + b"\x03\x01\x00\x01\x00\x00\x00\x00" + b"\x06\x00\x05hello" + b"\x01\x00\x00")
    stream = [b"\xa0\x01" + len(CHLO).to_bytes(2, "big") + CHLO + bytes(30), b"\x07\xbc\x01\x00\x00\x00" + CHLO[:30]]
    crypto = [b"\x08\x00\x44\x00" + CHLO + bytes(20), b"\x00\x00\x07\x08\x40\x20\x10" + CHLO[:16]]
    return ietf, stream, crypto


def _codec_seeds() -> dict[str, list[bytes]]:
    from support.wire_media_build import rtp_payloads, vp9_frames

    vp9 = []
    for pid, frame in enumerate(vp9_frames(3)):
        vp9.append(bytes([0x8C | (0 if pid else 0x02), 0x80, pid]) + (b"\x10\x01\x40\x00\xf0" if pid == 0 else b"") + frame[:600])
    opus = rtp_payloads("audio/opus", 4)
    return {"opus": opus, "vp8": rtp_payloads("video/VP8", 3), "h264": rtp_payloads("video/H264", 3), "vp9": vp9,
            "pcma": rtp_payloads("audio/PCMA", 2),
            "red": [bytes([0x80 | 111]) + struct.pack("!I", (960 << 10) | len(opus[0]))[1:] + bytes([111]) + opus[0] + opus[1]]}


def _version_int(data: bytes, size: int) -> int:
    return int.from_bytes(data[:size].ljust(size, b"\0"), "big")


def targets(seeds: dict[str, list[bytes]]) -> list[fz.Target]:
    """Every public wire entry point (and the post-authentication frame parsers) with its seeds."""
    s = seeds
    media = s["opus"] + s["vp8"] + s["h264"] + s["vp9"] + s["pcma"] + s["red"]
    return [
        fz.Target("parse_stun", stun.parse_stun, s["stun"]),
        fz.Target("parse_stun(allow_classic=True)", lambda d: stun.parse_stun(d, allow_classic=True), s["stun"]),
        fz.Target("parse_channel_data", stun.parse_channel_data, s["stun"]),
        fz.Target("frame_stun_tcp", stun.frame_stun_tcp, [b"".join(s["stun"])]),
        fz.Target("frame_stun_tcp(rfc4571=True)", lambda d: stun.frame_stun_tcp(d, rfc4571=True),
                  [b"".join(len(m).to_bytes(2, "big") + m for m in s["stun"])]),
        fz.Target("parse_dns", dns.parse_dns, s["dns"]),
        fz.Target("parse_dns(tcp=True)", lambda d: dns.parse_dns(d, tcp=True), s["dns"]),
        fz.Target("parse_dtls_records", dtls.parse_dtls_records, s["dtls"]),
        fz.Target("dtls_handshake_info", dtls.dtls_handshake_info, s["dtls"], many=True),
        fz.Target("dtls_handshake_info(from_client)", lambda ds: dtls.dtls_handshake_info(ds, [i % 2 == 0 for i in range(len(ds))]),
                  s["dtls"], many=True),
        fz.Target("parse_client_hello_body(dtls=False)", lambda d: hello.parse_client_hello_body(d, dtls=False), s["client_hello"]),
        fz.Target("parse_client_hello_body(dtls=True)", lambda d: hello.parse_client_hello_body(d, dtls=True), s["client_hello"]),
        fz.Target("parse_server_hello_body", hello.parse_server_hello_body, s["server_hello"]),
        fz.Target("parse_certificate_body", hello.parse_certificate_body, s["certificate"]),
        fz.Target("certificate_names", hello.certificate_names, s["der"]),
        fz.Target("parse_tls_client_hello", tls.parse_tls_client_hello, s["tls_client"]),
        fz.Target("parse_tls_server_hello", tls.parse_tls_server_hello, s["tls_server"]),
        fz.Target("parse_http_request_head", http.parse_http_request_head, s["http"]),
        fz.Target("HttpHead.content_length", lambda d: (h := http.parse_http_request_head(d)) and h.content_length, s["http"]),
        fz.Target("parse_http_response_head", http.parse_http_response_head, s["http"]),
        fz.Target("parse_sip", sip.parse_sip, s["sip"]),
        fz.Target("parse_sdp(bytes)", sdp.parse_sdp, s["sdp"]),
        fz.Target("parse_sdp(str)", lambda d: sdp.parse_sdp(d.decode("utf-8", "replace")), s["sdp"]),
        fz.Target("parse_rtp", rtp.parse_rtp, s["rtp"]),
        fz.Target("parse_rtcp", rtp.parse_rtcp, s["rtp"]),
        fz.Target("srtcp_trailer", rtp.srtcp_trailer, s["rtp"]),
        fz.Target("parse_zoom_media", zoom.parse_zoom_media, s["zoom"]),
        fz.Target("score_zoom_payloads", zoom.score_zoom_payloads, s["zoom"], many=True),
        fz.Target("parse_quic_long_header", quic.parse_quic_long_header, s["quic"]),
        fz.Target("is_quic_short_header", lambda d: quic.is_quic_short_header(d, d[1:9] or None), s["quic"]),
        fz.Target("quic_client_hello", quic.quic_client_hello, s["quic"], many=True),
        fz.Target("gquic_client_hello", quic.gquic_client_hello, s["quic"], many=True),
        fz.Target("decrypt_client_hello", quic_initial.decrypt_client_hello, s["quic"], many=True),
        fz.Target("decrypt_initial", quic_initial.decrypt_initial, s["quic"]),
        fz.Target("quic_initial._crypto_frames", quic_initial._crypto_frames, s["ietf_plain"]),
        fz.Target("parse_gquic_public_header", gquic.parse_gquic_public_header, s["quic"]),
        fz.Target("gquic.hello_frames", gquic.hello_frames, s["quic"]),
        fz.Target("parse_gquic_message", gquic.parse_gquic_message, s["gquic_message"]),
        fz.Target("gquic._stream_frames", lambda d: gquic._stream_frames(d, d[:1] > b"\x7f"), s["gquic_stream"]),
        fz.Target("gquic._crypto_frames", gquic._crypto_frames, s["gquic_crypto"]),
        fz.Target("quic_version_name", lambda d: names.quic_version_name(_version_int(d, 4)), s["quic"]),
        fz.Target("tls_version_name", lambda d: names.tls_version_name(_version_int(d, 2)), s["dtls"]),
        fz.Target("opus_toc", codecs.opus_toc, s["opus"]),
        fz.Target("vp8_descriptor", codecs.vp8_descriptor, s["vp8"]),
        fz.Target("vp9_descriptor", codecs.vp9_descriptor, s["vp9"]),
        fz.Target("h264_payload", codecs.h264_payload, s["h264"]),
        fz.Target("red_unwrap", codecs.red_unwrap, s["red"]),
        fz.Target("g711_plausible", lambda d: codecs.g711_plausible(d, (None, "a", "u")[len(d) % 3]), s["pcma"]),
        fz.Target("stream_structure", lambda ps: structure.judge_stream(ps * 3, HINTS[len(ps[0]) % len(HINTS)] if ps else None),
                  media, many=True),
    ]


@functools.lru_cache(maxsize=1)
def builder_seeds() -> dict[str, list[bytes]]:
    clients, servers = _hello_bodies()
    tls_clients, tls_servers = _tls_seeds()
    ietf_plain, gquic_stream, gquic_crypto = _crypto_plaintexts()
    rtp_seeds = _rtp_seeds()
    return {
        "stun": _stun_seeds(), "dns": _dns_seeds(), "dtls": _dtls_seeds(), "client_hello": clients, "server_hello": servers,
        "certificate": [certificate_body(_certificate(), _certificate())], "der": [_certificate()],
        "tls_client": tls_clients, "tls_server": tls_servers, "http": HTTP, "sip": [SIP, SIP_OK], "sdp": [SDP],
        "rtp": rtp_seeds, "zoom": _zoom_seeds(rtp_seeds), "quic": _quic_seeds(), "ietf_plain": ietf_plain,
        "gquic_message": [CHLO, _chlo([(b"STK\0", b"token"), (b"CRT\xff", b"\x01" * 20)], b"REJ\0")],
        "gquic_stream": gquic_stream, "gquic_crypto": gquic_crypto, **_codec_seeds(),
    }


def assert_clean(report: fz.Report, count: int) -> None:
    assert not report.failures, "parser bugs (only ParseError may escape):\n" + report.summary()
    starved = {name: n for name, n in report.runs.items() if n < min(count, 30)}
    assert not starved, f"targets that ran too few inputs in the time budget: {starved}"


@pytest.mark.timeout(120)
def test_every_parser_on_mutated_builder_messages() -> None:
    report = fz.run(targets(builder_seeds()), COUNT, SECONDS)
    assert_clean(report, COUNT)


def _capture_seeds(shared: Path) -> dict[str, list[bytes]]:
    from support.wire_pcap_util import transport_payloads

    files = [shared / n for n in ("stun.pcap", "stun_google_meet.pcapng", "stun_zoom.pcapng", "google_meet.pcapng",
                                  "quic-v2.pcapng", "sip.pcap", "zoom2.pcap", "teams.pcap", "whatsapp_login_call.pcap")]
    files += [shared / "ndpi-devset" / n for n in ("quic046.pcap", "quic_q50.pcap", "youtube_quic.pcap",
                                                   "gquic_only_from_server.pcap", "dtls_session_id_and_coockie_both.pcap")]
    pools: dict[str, list[bytes]] = {}
    seeds = builder_seeds()

    def keep(pool: str, data: bytes, limit: int = 40) -> None:
        bucket = pools.setdefault(pool, [])
        if len(bucket) < limit and data not in bucket:
            bucket.append(data)

    for path in files:
        for seg in transport_payloads(path)[:3000]:
            data = seg.payload
            if stun.parse_stun(data, allow_classic=True):
                keep("stun", data)
            if dtls.parse_dtls_records(data):
                keep("dtls", data)
            if rtp.parse_rtp(data):
                keep("rtp", data)
            if rtp.parse_rtcp(data):
                keep("rtp", data)
            if {53, 5353} & {seg.sport, seg.dport} and dns.parse_dns(data):
                keep("dns", data)
            if quic.parse_quic_long_header(data) or gquic.parse_gquic_public_header(data):
                keep("quic", data)
                if (plain := quic_initial.decrypt_initial(data)) is not None:
                    keep("ietf_plain" if plain.version != quic_initial.Q050 else "gquic_crypto", plain.plaintext)
            if zoom.parse_zoom_media(data):
                keep("zoom", data)
            if tls.parse_tls_client_hello(data):
                keep("tls_client", data)
            if tls.parse_tls_server_hello(data):
                keep("tls_server", data)
            if sip.parse_sip(data):
                keep("sip", data)
    # Fall back to the builders' seeds for what these captures do not hold (bodies, codecs, gQUIC frames).
    return {name: pools.get(name) or seeds[name] for name in seeds}


@pytest.mark.timeout(180)
def test_every_parser_on_mutated_real_capture_payloads(shared_captures) -> None:
    seeds = _capture_seeds(shared_captures)
    assert len(seeds["quic"]) >= 10 and len(seeds["stun"]) >= 20 and seeds["gquic_crypto"]  # real seeds were found
    report = fz.run(targets(seeds), COUNT, SECONDS, seed="confaudit-wire-captures")
    assert_clean(report, COUNT)


@pytest.mark.parametrize(("module", "helper", "target"), [
    (dns, "_name", "parse_dns"), (stun, "_walk_attributes", "parse_stun"), (hello, "_extensions", "parse_tls_client_hello"),
    (quic, "_long", "parse_quic_long_header"), (rtp, "_sdes_cnames", "parse_rtcp"), (gquic, "message_length", "parse_gquic_message"),
    (dtls, "_unified", "parse_dtls_records"), (sdp, "_candidate", "parse_sdp(bytes)"),
])
def test_the_fuzz_check_fails_on_a_parser_bug(monkeypatch: pytest.MonkeyPatch, module, helper: str, target: str) -> None:
    """A helper made to raise IndexError (a bug, not malformed input) must surface as a fuzz failure naming the parser."""
    chosen = [t for t in targets(builder_seeds()) if t.name == target]
    assert fz.run(chosen, 200, 10.0).failures == []  # the unpatched parser passes

    def broken(*_args, **_kwargs):
        raise IndexError("deliberate bug")

    monkeypatch.setattr(module, helper, broken)
    report = fz.run(chosen, 200, 10.0)
    assert report.failures, f"{target} swallowed an IndexError from {helper}"
    failure = report.failures[0]
    assert failure.target == target and failure.error == "IndexError: deliberate bug"
    assert f"{target}: IndexError: deliberate bug on input " in str(failure) and failure.data
