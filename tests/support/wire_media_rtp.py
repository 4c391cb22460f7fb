"""Test helper: real codec frames (PyAV/ffmpeg, libbcg729, libgsm, aiortc), RTP packetisation with
realistic timing, and real SRTP (pylibsrtp) for the media-judgement tests.

Codecs without an encoder on this machine (iLBC, AMR, AMR-WB) are built bit by bit from their
specifications (RFC 3951, RFC 4867 / 3GPP TS 26.101) and checked against ffmpeg's own decoders.
"""

from __future__ import annotations

import ctypes
import fractions
import random
import struct
from collections.abc import Iterable

from confaudit.wire.media_kind import RtpSample
from confaudit.wire.rtp import parse_rtp

SRTP_PROFILES = {"80": ("SRTP_PROFILE_AES128_CM_SHA1_80", 10), "32": ("SRTP_PROFILE_AES128_CM_SHA1_32", 4),
                 "gcm": ("SRTP_PROFILE_AEAD_AES_128_GCM", 16)}
AMR_BITS = (95, 103, 118, 134, 148, 159, 204, 244, 39)
AMR_WB_BITS = (132, 177, 253, 285, 317, 365, 397, 461, 477, 40)


def speech(rate: int, seconds: float, seed: int = 3):
    """Speech-like int16 mono signal: voiced harmonics with a moving pitch, syllable envelope, some noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.25 + 0.75 * np.abs(np.sin(2 * np.pi * 2.5 * t))
    signal = (voiced * envelope * 5000 + rng.normal(0, 300, t.size)).clip(-32000, 32000)
    return signal.astype(np.int16)


def pyav_frames(codec: str, rate: int, samples: int, seconds: float = 1.6, **options: str) -> list[bytes]:
    """Encode speech with a PyAV (ffmpeg) audio encoder; one bytes per encoder packet."""
    import av

    pcm = speech(rate, seconds)
    ctx = av.CodecContext.create(codec, "w")
    ctx.sample_rate, ctx.format, ctx.layout = rate, "s16", "mono"
    ctx.time_base = fractions.Fraction(1, rate)
    if options:
        ctx.options = options
    out: list[bytes] = []
    for i in range(0, len(pcm) - samples + 1, samples):
        frame = av.AudioFrame.from_ndarray(pcm[i : i + samples].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, i, fractions.Fraction(1, rate)
        out.extend(bytes(p) for p in ctx.encode(frame))
    out.extend(bytes(p) for p in ctx.encode(None))
    return out


def g729_frames(seconds: float = 1.6) -> list[bytes]:
    """10-byte G.729A frames from the real bcg729 encoder (Debian libbcg729-0), VAD off."""
    lib = ctypes.CDLL("libbcg729.so.0")
    lib.initBcg729EncoderChannel.restype = ctypes.c_void_p
    lib.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
    lib.bcg729Encoder.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_uint8)]
    lib.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    encoder = lib.initBcg729EncoderChannel(0)
    pcm = speech(8000, seconds)
    out = []
    for i in range(0, len(pcm) - 79, 80):
        samples = (ctypes.c_int16 * 80)(*pcm[i : i + 80].tolist())
        buf, size = ctypes.create_string_buffer(10), ctypes.c_uint8(0)
        lib.bcg729Encoder(encoder, samples, buf, ctypes.byref(size))
        out.append(buf.raw[: size.value])
    lib.closeBcg729EncoderChannel(encoder)
    return out


def gsm_frames(seconds: float = 1.6) -> list[bytes]:
    """33-byte GSM 06.10 frames from the real libgsm encoder (Debian libgsm1)."""
    lib = ctypes.CDLL("libgsm.so.1")
    lib.gsm_create.restype = ctypes.c_void_p
    lib.gsm_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_char_p]
    lib.gsm_destroy.argtypes = [ctypes.c_void_p]
    handle = lib.gsm_create()
    pcm = speech(8000, seconds)
    out = []
    for i in range(0, len(pcm) - 159, 160):
        buf = ctypes.create_string_buffer(33)
        lib.gsm_encode(handle, (ctypes.c_int16 * 160)(*pcm[i : i + 160].tolist()), buf)
        out.append(buf.raw)
    lib.gsm_destroy(handle)
    return out


def _pack(fields: Iterable[tuple[int, int]], total_bits: int) -> bytes:
    value = bits = 0
    for width, field in fields:
        value, bits = (value << width) | (field & ((1 << width) - 1)), bits + width
    return (value << (total_bits - bits)).to_bytes(total_bits // 8, "big")


def ilbc_frame(rng: random.Random, thirty: bool, start: int | None = None, empty: int = 0) -> bytes:
    """One iLBC frame per RFC 3951 §3.8: LSF indices, then the start-state index, ..., empty-frame bit last."""
    nbits, lsf = (400, (6, 7, 7, 6, 7, 7)) if thirty else (304, (6, 7, 7))
    width = 3 if thirty else 2
    start = rng.randint(1, 5 if thirty else 3) if start is None else start
    fields = [(w, rng.getrandbits(w)) for w in lsf] + [(width, start)]
    used = sum(w for w, _ in fields)
    fields += [(nbits - used - 1, rng.getrandbits(nbits - used - 1)), (1, empty)]
    return _pack(fields, nbits)


def amr_payload(rng: random.Random, frame_types: list[int], wideband: bool, octet_aligned: bool, cmr: int = 15) -> bytes:
    """RFC 4867 §4.3/4.4 payload: CMR, ToC (F, FT, Q=1), speech bits (random) in either mode."""
    table = AMR_WB_BITS if wideband else AMR_BITS
    speech_bits = [(table[ft], rng.getrandbits(table[ft])) for ft in frame_types]
    if octet_aligned:
        out = bytes([cmr << 4])
        out += bytes(((i < len(frame_types) - 1) << 7) | ft << 3 | 0x04 for i, ft in enumerate(frame_types))
        for bits, value in speech_bits:
            out += _pack([(bits, value)], (bits + 7) // 8 * 8)
        return out
    fields = [(4, cmr)] + [(6, (i < len(frame_types) - 1) << 5 | ft << 1 | 1) for i, ft in enumerate(frame_types)]
    fields += speech_bits
    total = sum(w for w, _ in fields)
    return _pack(fields, (total + 7) // 8 * 8)


def rtp_packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    """A plain RTP packet."""
    return struct.pack("!BBHII", 0x80, (marker << 7) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def audio_stream(payloads: list[bytes], pt: int, step: int, clock: int, seq0: int = 65500, ts0: int = 4294960000,
                 ssrc: int = 0x1234ABCD, seed: int = 5) -> list[tuple[bytes, float]]:
    """(RTP packet, arrival) per payload: one packet per timestamp, 1-4 ms arrival jitter, marker on the first."""
    rng = random.Random(seed)
    return [(rtp_packet(pt, seq0 + i, ts0 + i * step, ssrc, p, marker=i == 0), 100.0 + i * step / clock + rng.uniform(0, 0.004))
            for i, p in enumerate(payloads)]


def video_stream(frames: list[list[bytes]], pt: int, fps: float = 30.0, seq0: int = 65530,
                 ssrc: int = 0x5EED0001, seed: int = 6) -> list[tuple[bytes, float]]:
    """(RTP packet, arrival) per packet: frames at ``fps`` on a 90 kHz clock, paced packets, marker on each frame's last."""
    rng = random.Random(seed)
    out, seq = [], seq0
    for n, packets in enumerate(frames):
        ts = 3_000_000 + round(n * 90000 / fps)
        for k, payload in enumerate(packets):
            out.append((rtp_packet(pt, seq, ts, ssrc, payload, marker=k == len(packets) - 1),
                        50.0 + n / fps + k * 0.0006 + rng.uniform(0, 0.003)))
            seq += 1
    return out


def srtp(stream: list[tuple[bytes, float]], profile: str = "80") -> list[tuple[bytes, float]]:
    """The same packets protected by real libsrtp with ``profile`` ("80", "32", "gcm")."""
    import pylibsrtp

    name, _ = SRTP_PROFILES[profile]
    key_len = 28 if profile == "gcm" else 30
    policy = pylibsrtp.Policy(key=bytes(range(key_len)), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=getattr(pylibsrtp.Policy, name))
    session = pylibsrtp.Session(policy)
    return [(session.protect(packet), arrival) for packet, arrival in stream]


def samples(stream: list[tuple[bytes, float]], limit: int = 64, payload_limit: int = 24,
            drop: Iterable[int] = (), swap: Iterable[int] = (), duplicate: Iterable[int] = ()) -> list[RtpSample]:
    """RtpSamples as the analysis would take them: loss (``drop``), reordering (``swap`` i<->i+1), duplicates."""
    chosen = [item for i, item in enumerate(stream) if i not in set(drop)]
    for i in swap:
        chosen[i], chosen[i + 1] = chosen[i + 1], chosen[i]
    for i in duplicate:
        chosen.insert(i + 1, chosen[i])
    out = []
    for i, (packet, arrival) in enumerate(chosen[:limit]):
        header = parse_rtp(packet)
        payload = packet[header.payload_offset : header.payload_offset + header.payload_len]
        out.append(RtpSample(header.seq, header.timestamp, header.marker, header.payload_len, arrival,
                             payload[:1200] if i < payload_limit else None))
    return out


def video_frames_aiortc(mime: str, count: int = 24) -> list[list[bytes]]:
    """Per frame, the RTP payloads aiortc's own encoder and packetiser produce (VP8: libvpx, H264: libx264)."""
    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from support.wire_media_build import _video_frames

    encoder = get_encoder(RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=96))
    return [encoder.encode(frame)[0] for frame in _video_frames(count, 640, 480)]


def vp9_frames_rtp(count: int = 24, mtu: int = 1000) -> list[list[bytes]]:
    """libvpx-vp9 frames (PyAV) packetised per RFC 9628: I with 15-bit picture ID, B/E, SS with sizes on key frames."""
    from support.wire_media_build import vp9_frames

    out = []
    for pid, frame in enumerate(vp9_frames(count)):
        key = pid == 0
        chunks = [frame[i : i + mtu] for i in range(0, len(frame), mtu)]
        packets = []
        for n, chunk in enumerate(chunks):
            first = 0x80 | (0 if key else 0x40) | (0x08 if n == 0 else 0) | (0x04 if n == len(chunks) - 1 else 0)
            desc = bytes([first | (0x02 if key and n == 0 else 0)]) + struct.pack("!H", 0x8000 | (pid + 300))
            if key and n == 0:
                desc += bytes([0x10]) + struct.pack("!HH", 320, 240)
            packets.append(desc + chunk)
        out.append(packets)
    return out


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _obus(data: bytes) -> list[bytes]:
    """Split a low-overhead AV1 temporal unit into OBUs, dropping temporal delimiters and clearing obu_has_size_field."""
    from confaudit.wire.av1 import leb128

    out, pos = [], 0
    while pos < len(data):
        head = data[pos]
        ext = 1 if head & 0x04 else 0
        size, body = leb128(data, pos + 1 + ext)
        if (head >> 3) & 0x0F != 2:
            out.append(bytes([head & ~0x02]) + data[pos + 1 : pos + 1 + ext] + data[body : body + size])
        pos = body + size
    return out


def av1_frames_rtp(count: int = 24, mtu: int = 1000) -> list[list[bytes]]:
    """SVT-AV1 temporal units (PyAV) packetised per the AV1 RTP spec: W=0 length-prefixed elements, Z/Y fragments, N."""
    import av

    from support.wire_media_build import _video_frames

    ctx = av.CodecContext.create("libsvtav1", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 320, 240, "yuv420p"
    ctx.time_base, ctx.framerate = fractions.Fraction(1, 30), fractions.Fraction(30, 1)
    ctx.options = {"preset": "12", "svtav1-params": "pred-struct=1:lookahead=0"}
    units = []
    for n, frame in enumerate(_video_frames(count)):
        frame.pts, frame.time_base = n, fractions.Fraction(1, 30)
        units += [bytes(p) for p in ctx.encode(frame)]
    units += [bytes(p) for p in ctx.encode(None)]
    out = []
    for index, unit in enumerate(units):
        packets: list[bytes] = []

        def emit(elements: list[bytes], z: bool = False, y: bool = False) -> None:
            head = (z << 7) | (y << 6) | ((index == 0 and not packets) << 3)
            packets.append(bytes([head]) + b"".join(_leb128(len(e)) + e for e in elements))

        group: list[bytes] = []
        for obu in _obus(unit):
            if sum(len(e) + 3 for e in group) + len(obu) + 3 <= mtu:
                group.append(obu)
                continue
            if group:
                emit(group)
                group = []
            pieces = [obu[i : i + mtu - 4] for i in range(0, len(obu), mtu - 4)]
            if len(pieces) == 1:
                group.append(obu)
                continue
            for k, piece in enumerate(pieces):
                emit([piece], z=k > 0, y=k < len(pieces) - 1)
        if group:
            emit(group)
        out.append(packets)
    return out
