"""Test helper: real codec payloads from aiortc/PyAV encoders, and real SRTP protection via pylibsrtp."""

from __future__ import annotations

import fractions
import struct


def _video_frames(count: int, width: int = 320, height: int = 240):
    import av
    import numpy as np

    for i in range(count):
        img = np.zeros((height, width, 3), np.uint8)
        img[:, :, 0] = (np.arange(width) + i * 5) % 256
        img[60:120, 40 + i : 100 + i] = 200
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        yield frame


def _audio_frames(count: int, rate: int, samples: int, layout: str = "mono"):
    import av
    import numpy as np

    channels = 2 if layout == "stereo" else 1
    for i in range(count):
        t = np.arange(samples) + i * samples
        tone = (np.sin(2 * np.pi * 440 * t / rate) * 6000 + np.sin(2 * np.pi * 97 * t / rate) * 2000).astype(np.int16)
        data = np.repeat(tone, channels).reshape(1, -1).copy()
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, i * samples, fractions.Fraction(1, rate)
        yield frame


def rtp_payloads(mime: str, frames: int = 12) -> list[bytes]:
    """RTP payloads produced by aiortc's own encoder/packetiser for ``mime``."""
    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    if mime.startswith("video/"):
        enc = get_encoder(RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=96))
        source = _video_frames(frames)
    elif mime == "audio/opus":
        enc = get_encoder(RTCRtpCodecParameters(mimeType=mime, clockRate=48000, channels=2, payloadType=111))
        source = _audio_frames(frames, 48000, 960, "stereo")
    else:
        enc = get_encoder(RTCRtpCodecParameters(mimeType=mime, clockRate=8000, payloadType=8))
        source = _audio_frames(frames, 8000, 160)
    out: list[bytes] = []
    for frame in source:
        payloads, _ts = enc.encode(frame)
        out.extend(payloads)
    return out


def vp9_frames(count: int = 10) -> list[bytes]:
    """Raw VP9 frames from libvpx-vp9 (PyAV)."""
    import av

    codec = av.CodecContext.create("libvpx-vp9", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.time_base = fractions.Fraction(1, 90000)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out = [bytes(p) for f in _video_frames(count) for p in codec.encode(f)]
    out += [bytes(p) for p in codec.encode(None)]
    return out


def srtp_protect(payloads: list[bytes], pt: int = 96, key: bytes = bytes(range(30))) -> list[bytes]:
    """Wrap payloads in RTP and protect them with real libsrtp (AES_CM_128_HMAC_SHA1_80)."""
    import pylibsrtp

    policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    session = pylibsrtp.Session(policy)
    out = []
    for seq, payload in enumerate(payloads):
        packet = struct.pack("!BBHII", 0x80, pt, seq, seq * 960, 0x1234ABCD) + payload
        out.append(session.protect(packet))
    return out
