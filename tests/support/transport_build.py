"""Bytes of STUN messages, Opus RTP and a DTLS hello pair, for the transport and relay analysis tests."""

from __future__ import annotations

import os
import struct

from support.wire_hello_build import client_hello_body, dtls_fragment, dtls_record, ext, server_hello_body, vec
from support.wire_media_build import rtp_payloads

COOKIE = 0x2112A442
T0 = 1_700_000_000.0


def stun_message(msg_type: int, attributes: bytes = b"", cookie: int = COOKIE, tid: bytes | None = None) -> bytes:
    return struct.pack("!HHI", msg_type, len(attributes), cookie) + (tid or os.urandom(12)) + attributes


def attribute(atype: int, value: bytes) -> bytes:
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)


def opus_rtp(count: int, ssrc: int = 0x11223344) -> list[bytes]:
    payloads = rtp_payloads("audio/opus", frames=count)
    return [struct.pack("!BBHII", 0x80, 111, seq, seq * 960, ssrc) + p for seq, p in enumerate(payloads)]


def dtls_hellos() -> tuple[bytes, bytes]:
    offer = ext(14, vec(2, bytes.fromhex("00070001")) + vec(1, b""))
    chosen = ext(14, vec(2, b"\x00\x01") + vec(1, b""))
    ch = client_hello_body(version=0xFEFD, dtls=True, suites=(0xC02B,), extensions=offer)
    sh = server_hello_body(version=0xFEFD, suite=0xC02B, extensions=chosen)
    return (dtls_record(22, dtls_fragment(1, ch, 0, 0, len(ch))),
            dtls_record(22, dtls_fragment(2, sh, 0, 0, len(sh)), seq=0))
