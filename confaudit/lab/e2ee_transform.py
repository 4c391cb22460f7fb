"""A Jitsi/Google-style inner media encryption for the lab, applied per outgoing RTP payload.

What stays in clear mirrors what those E2EE schemes leave readable so that an SFU can still route:
the RTP payload descriptor (VP8, RFC 7741), then 10 bytes of a VP8 keyframe (frame tag + start code
+ dimensions), 3 bytes of other VP8 frames (frame tag), 1 byte of Opus (the TOC). Everything after
is encrypted with AES-CTR under a key the SFU does not have, and a 4-byte counter is appended.
Jitsi uses AES-GCM; its 28-byte expansion would overflow aiortc's fixed SRTP packet budget, and
for the inner-payload test only "ciphertext past the clear bytes" matters.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from confaudit.wire.depacketize import vp8_frame_part

VP8_KEYFRAME_CLEAR = 10
VP8_DELTA_CLEAR = 3
OPUS_CLEAR = 1


@dataclass
class FrameEncryptor:
    """Callable ``(kind, ssrc, payload) -> payload`` for ``run_call(payload_transform=...)``."""

    key: bytes = field(default_factory=lambda: os.urandom(16), repr=False)
    """AES-128 key shared by the participants only."""
    counters: dict[int, int] = field(default_factory=dict)
    """Per-SSRC counter, part of the CTR nonce."""
    encrypted: int = 0
    """Payloads encrypted so far."""

    def __call__(self, kind: str, ssrc: int, payload: bytes) -> bytes:
        header_len, clear = clear_prefix(kind, payload)
        counter = self.counters.get(ssrc, 0)
        self.counters[ssrc] = counter + 1
        keep = header_len + clear
        self.encrypted += 1
        return payload[:keep] + self._ctr(ssrc, counter, payload[keep:]) + struct.pack("!I", counter)

    def _ctr(self, ssrc: int, counter: int, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        nonce = struct.pack("!IIQ", ssrc & 0xFFFFFFFF, counter & 0xFFFFFFFF, 0)
        enc = Cipher(algorithms.AES(self.key), modes.CTR(nonce)).encryptor()
        return enc.update(data) + enc.finalize()


def clear_prefix(kind: str, payload: bytes) -> tuple[int, int]:
    """(payload-descriptor length, codec bytes left in clear) for one RTP payload."""
    if kind == "audio":
        return 0, min(OPUS_CLEAR, len(payload))
    parsed = vp8_frame_part(payload)
    if parsed is None:
        return 0, 0
    starts_frame, body = parsed
    header_len = len(payload) - len(body)
    if not starts_frame or not body:
        return header_len, 0
    clear = VP8_DELTA_CLEAR if body[0] & 0x01 else VP8_KEYFRAME_CLEAR
    return header_len, min(clear, len(body))
