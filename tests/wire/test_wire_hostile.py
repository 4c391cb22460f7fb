"""Crafted worst cases: the parsers stay bounded in time and answer partially instead of hanging."""

from __future__ import annotations

import struct
import time

import pytest

from confaudit.wire.dns import parse_dns
from confaudit.wire.dtls import dtls_handshake_info
from confaudit.wire.sdp import parse_sdp
from confaudit.wire.sip import parse_sip
from confaudit.wire.structure import judge_stream as stream_structure
from confaudit.wire.stun import frame_stun_tcp, parse_stun
from confaudit.wire.tls import NEED_MORE, parse_tls_client_hello
from confaudit.wire.zoom import score_zoom_payloads


def bounded(fn, *args, seconds: float = 3.0):
    start = time.perf_counter()
    result = fn(*args)
    assert time.perf_counter() - start < seconds, fn.__name__
    return result


@pytest.mark.timeout(60)
def test_hostile_inputs_are_bounded() -> None:
    # DNS: a long backward pointer chain (each name points to the previous one) and a header claiming 4x65535 records.
    body = b"\x01a\x00"
    for i in range(1, 2000):
        body += b"\x01a" + struct.pack("!H", 0xC000 | (12 + (i - 1) * 4 - (1 if i > 1 else 0)))
    msg = bounded(parse_dns, struct.pack("!HHHHHH", 1, 0, 65535, 65535, 65535, 65535) + body)
    assert msg is not None and not msg.complete
    # DTLS: 3000 datagrams each packed with zero-length fragments of distinct messages.
    frag = b"".join(bytes([1]) + (100000).to_bytes(3, "big") + i.to_bytes(2, "big") + b"\0" * 6 for i in range(100))
    record = b"\x16\xfe\xfd" + b"\0" * 8 + len(frag).to_bytes(2, "big") + frag
    info = bounded(dtls_handshake_info, [record] * 3000)
    assert "handshake message limit reached" in info.problems
    # TLS: 600 one-byte handshake records never completing a 16 MiB ClientHello.
    stream = b"\x16\x03\x01\x00\x04\x01\xff\xff\xff" + b"\x16\x03\x01\x00\x01\x00" * 600
    assert bounded(parse_tls_client_hello, stream) is None
    assert bounded(parse_tls_client_hello, b"\x16\x03\x01\x00\x04\x01\x00\x10\x00" + b"\x16\x03\x01\x00\x01\x00" * 10) is NEED_MORE
    # SDP of 2 MiB of candidates; SIP with 100k headers.
    sdp = bounded(parse_sdp, "v=0\nm=audio 1 RTP/AVP 0\n" + "a=candidate:1 1 udp 1 1.2.3.4 5 typ host\n" * 50000)
    assert len(sdp.media[0].candidates) == 512 and sdp.problems
    sip = bounded(parse_sip, b"OPTIONS sip:x SIP/2.0\r\n" + b"X: y\r\n" * 100000 + b"\r\n")
    assert sip is None or len(sip.headers) <= 256
    # STUN: 16k empty attributes; TCP stream of 100k+ tiny ChannelData frames.
    stun = struct.pack("!HHI12s", 1, 65532, 0x2112A442, b"t" * 12) + b"\xc0\x00\x00\x00" * 16383
    assert len(bounded(parse_stun, stun).attributes) == 16383
    frames = bounded(frame_stun_tcp, b"\x40\x00\x00\x00" * 120000)
    assert not frames.complete and frames.problem == "frame limit reached"
    # Media judgements over large packet lists.
    payloads = [bytes([i % 256]) * 1200 for i in range(5000)]
    assert bounded(stream_structure, payloads, None).packets == 2000
    assert bounded(score_zoom_payloads, payloads).packets == 5000
