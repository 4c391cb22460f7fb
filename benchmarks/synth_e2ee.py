"""Synthetic but real DTLS-SRTP calls, written as pcap, for tests and the benchmark.

A real OpenSSL DTLS 1.2 handshake (pyOpenSSL, memory BIOs, use_srtp, NSS key-log callback), real
codec frames (PyAV: libvpx VP8/VP9, libx264 H.264, libopus), RFC packetisation and real SRTP/SRTCP
protection (pylibsrtp) with the exporter keys OpenSSL derived. Nothing touches the network.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

CLIENT = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 40002)
OPENSSL_PROFILES = {"SRTP_AES128_CM_SHA1_80": 0x0001, "SRTP_AES128_CM_SHA1_32": 0x0002,
                    "SRTP_AEAD_AES_128_GCM": 0x0007, "SRTP_AEAD_AES_256_GCM": 0x0008}


@dataclass(frozen=True)
class Handshake:
    """A completed in-memory DTLS handshake."""

    datagrams: list[tuple[str, bytes]]
    """("client"|"server", datagram) in flight order."""
    keylog_lines: list[str]
    """NSS key-log lines OpenSSL reported (CLIENT_RANDOM ...)."""
    profile: int
    """Negotiated SRTP profile code."""
    client_key: bytes = field(repr=False)
    """Client write master key || salt (from OpenSSL's exporter)."""
    server_key: bytes = field(repr=False)
    """Server write master key || salt."""


def _certificate():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "confaudit-lab")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert, key


def dtls_handshake(profiles: str = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
                   cipher_list: str | None = None) -> Handshake:
    """Run a DTLS 1.2 handshake between two OpenSSL endpoints in memory."""
    from OpenSSL import SSL, crypto

    cert, key = _certificate()
    lines: list[str] = []

    def context() -> SSL.Context:
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.use_certificate(crypto.X509.from_cryptography(cert))
        ctx.use_privatekey(crypto.PKey.from_cryptography_key(key))
        ctx.set_tlsext_use_srtp(profiles.encode())
        if cipher_list:
            ctx.set_cipher_list(cipher_list.encode())
        ctx.set_keylog_callback(lambda _conn, line: lines.append(line.decode()))
        ctx.set_verify(SSL.VERIFY_NONE, lambda *_: True)
        return ctx

    client, server = SSL.Connection(context()), SSL.Connection(context())
    client.set_connect_state()
    server.set_accept_state()
    datagrams: list[tuple[str, bytes]] = []
    for _ in range(20):
        for conn, peer, who in ((client, server, "client"), (server, client, "server")):
            try:
                conn.do_handshake()
            except SSL.WantReadError:
                pass
            while True:
                try:
                    data = conn.bio_read(65536)
                except SSL.WantReadError:
                    break
                datagrams.append((who, data))
                peer.bio_write(data)
    from confaudit.e2ee.exporter import PROFILES, split_keying_material

    profile = PROFILES[OPENSSL_PROFILES[client.get_selected_srtp_profile().decode()]]
    material = client.export_keying_material(b"EXTRACTOR-dtls_srtp", 2 * (profile.key_length + profile.salt_length))
    client_key, server_key = split_keying_material(profile, material)
    return Handshake(datagrams, sorted(set(lines)), profile.code, client_key, server_key)


def encode_video(codec: str, count: int, width: int = 320, height: int = 240, keyframe_every: int = 0) -> list[bytes]:
    """``count`` encoded frames of a moving pattern (codec: vp8, vp9, h264)."""
    import av
    import numpy as np

    name = {"vp8": "libvpx", "vp9": "libvpx-vp9", "h264": "libx264"}[codec]
    enc = av.CodecContext.create(name, "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = Fraction(1, 30)
    enc.bit_rate = 400_000
    enc.gop_size = keyframe_every or 1000
    if codec == "h264":
        enc.options = {"tune": "zerolatency", "preset": "ultrafast", "bframes": "0", "repeat-headers": "1"}
    elif codec == "vp8":
        enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[bytes] = []
    cols = np.arange(width)[None, :]
    rows = np.arange(height)[:, None]
    for i in range(count):
        img = np.zeros((height, width, 3), np.uint8)
        img[:, :, 0] = (cols * 2 + i * 4) % 256
        img[:, :, 1] = (rows * 2 + i * 2) % 256
        img[:, :, 2] = ((cols // 16 + rows // 16 + i // 5) % 2) * 200
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out.extend(bytes(p) for p in enc.encode(frame))
    out.extend(bytes(p) for p in enc.encode(None))
    return out


def encode_opus(count: int, frequency: float = 440.0) -> list[bytes]:
    """``count`` 20 ms Opus packets of a tone with a slow tremolo."""
    import numpy as np

    t = np.arange(count * 960) / 48000
    tone = np.sin(2 * np.pi * frequency * t) * (0.3 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
    return encode_opus_pcm(tone, bit_rate=48000)[:count]


VOWEL_FORMANTS = (((730, 90), (1090, 110), (2440, 170)), ((270, 60), (2290, 100), (3010, 120)),
                  ((300, 60), (870, 80), (2240, 120)), ((530, 60), (1840, 100), (2480, 120)))
"""Formant (frequency, bandwidth) triples of the vowels /a/, /i/, /u/, /e/ (Peterson & Barney averages)."""


def opus_test_signal(kind: str, seconds: float) -> np.ndarray:
    """Mono 48 kHz test audio, full scale 1.0.

    ``tone`` (440 Hz with tremolo), ``chirp`` (200 Hz -> 4 kHz log sweep every 2 s), ``vowel`` (a
    gliding 100-150 Hz voice through the formants of four vowels, syllable envelope), ``speech``
    (vowels in 1.2 s bursts with 0.8 s of digital silence between them, for DTX), ``silence``.
    """
    import numpy as np

    rate = 48000
    t = np.arange(int(seconds * rate)) / rate
    if kind == "tone":
        return np.sin(2 * np.pi * 440 * t) * (0.3 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
    if kind == "chirp":
        sweep = t % 2.0
        k = np.log(4000 / 200) / 2.0
        return 0.4 * np.sin(2 * np.pi * 200 * (np.exp(k * sweep) - 1) / k)
    if kind == "silence":
        return np.zeros_like(t)
    if kind not in ("vowel", "speech"):
        raise ValueError(f"unknown test signal {kind!r}")
    f0 = 125 + 25 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    vowel_index = (t / 0.3).astype(int) % len(VOWEL_FORMANTS)
    out = np.zeros_like(t)
    for harmonic in range(1, 33):
        freq = harmonic * f0
        gain = np.zeros_like(t)
        for n, formants in enumerate(VOWEL_FORMANTS):
            mask = vowel_index == n
            for centre, width in formants:
                gain[mask] += 1 / np.sqrt((1 - (freq[mask] / centre) ** 2) ** 2 + (freq[mask] * width / centre ** 2) ** 2)
        out += gain / harmonic * np.sin(harmonic * phase)
    out *= 0.45 / np.abs(out).max() * (0.55 + 0.45 * np.sin(2 * np.pi * 2.0 * t) ** 2)
    if kind == "speech":
        out *= (t % 2.0) < 1.2
    return out


def encode_opus_pcm(mono: np.ndarray, *, bit_rate: int, options: dict[str, str] | None = None) -> list[bytes]:
    """20 ms stereo Opus packets (libopus via PyAV) of 48 kHz mono samples; ``options`` are libopus's
    (``application``, ``dtx``, ``fec``, ``frame_duration`` ...)."""
    import av
    import numpy as np

    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "stereo", "s16", bit_rate
    enc.options = dict(options or {})
    pcm = (np.clip(mono, -1, 1) * 32767).astype(np.int16)
    out: list[bytes] = []
    for start in range(0, len(pcm) - 959, 960):
        frame = av.AudioFrame.from_ndarray(np.repeat(pcm[start:start + 960], 2).reshape(1, -1), format="s16",
                                           layout="stereo")
        frame.sample_rate = 48000
        frame.pts = start
        out.extend(bytes(p) for p in enc.encode(frame))
    out.extend(bytes(p) for p in enc.encode(None))
    return out


def packetize(codec: str, frame: bytes, mtu: int = 1100) -> list[bytes]:
    """RTP payloads for one encoded frame (VP8 RFC 7741, VP9 RFC 9628, H.264 RFC 6184, Opus whole)."""
    if codec == "opus":
        return [frame]
    if codec == "vp8":
        chunks = [frame[i:i + mtu] for i in range(0, len(frame), mtu)]
        return [bytes([0x10 if n == 0 else 0x00]) + c for n, c in enumerate(chunks)]
    if codec == "vp9":
        chunks = [frame[i:i + mtu] for i in range(0, len(frame), mtu)]
        return [bytes([(0x08 if n == 0 else 0) | (0x04 if n == len(chunks) - 1 else 0)]) + c
                for n, c in enumerate(chunks)]
    return _packetize_h264(frame, mtu)


def _packetize_h264(access_unit: bytes, mtu: int) -> list[bytes]:
    nals = [n.lstrip(b"\x00") for n in access_unit.split(b"\x00\x00\x01") if n.strip(b"\x00")]
    out: list[bytes] = []
    for nal in nals:
        if len(nal) <= mtu:
            out.append(nal)
            continue
        indicator, nal_type = (nal[0] & 0xE0) | 28, nal[0] & 0x1F
        body = nal[1:]
        chunks = [body[i:i + mtu] for i in range(0, len(body), mtu)]
        for n, c in enumerate(chunks):
            flags = (0x80 if n == 0 else 0) | (0x40 if n == len(chunks) - 1 else 0)
            out.append(bytes([indicator, flags | nal_type]) + c)
    return out


def rtp(pt: int, seq: int, ts: int, ssrc: int, marker: bool, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def rtcp_sender_report(ssrc: int, ts: int, packets: int, octets: int) -> bytes:
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 0, 0, ts & 0xFFFFFFFF, packets, octets)


class PcapWriter:
    """Classic pcap, Ethernet link type, IPv4/UDP frames."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "wb")
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def write(self, ts: float, src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> None:
        import socket

        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         socket.inet_aton(src[0]), socket.inet_aton(dst[0])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        sec = int(ts)
        self._fh.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame)

    def close(self) -> None:
        self._fh.close()


PayloadHook = Callable[[str, int, bytes], bytes]


@dataclass(frozen=True)
class SynthStream:
    """A media stream to synthesise: one sender, one codec."""

    sender: str
    """"client" or "server" (DTLS roles)."""
    codec: str
    """opus, vp8, vp9 or h264."""
    ssrc: int
    """SSRC."""
    payload_type: int
    """RTP payload type."""
    frames: tuple[bytes, ...] | None = None
    """Encoded frames to send in order (20 ms apart for Opus, looped), instead of the built-in pattern."""


def write_call(path: Path, handshake: Handshake, streams: list[SynthStream], *, seconds: float,
               transform: PayloadHook | None = None, duplicate: bool = False, corrupt_every: int = 0,
               media_cycle_seconds: float = 2.0, start: float = 1_700_000_000.0,
               client: tuple[str, int] = CLIENT, server: tuple[str, int] = SERVER,
               media_server: tuple[str, int] | None = None) -> int:
    """Write handshake + SRTP media + SRTCP to ``path``; returns datagrams written.

    Frames are encoded once for ``media_cycle_seconds`` and repeated (a long call stays cheap to make).
    ``corrupt_every`` flips a ciphertext byte in every Nth media packet (auth failures).
    ``media_server`` moves the media to another server address after the handshake (ICE pair change).
    """
    from pylibsrtp import Policy, Session

    from confaudit.e2ee.exporter import PROFILES, libsrtp_profile

    profile = libsrtp_profile(PROFILES[handshake.profile])
    sessions = {}
    for who, key in (("client", handshake.client_key), ("server", handshake.server_key)):
        policy = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
        policy.allow_repeat_tx = True
        sessions[who] = Session(policy)
    ends = {"client": (client, server), "server": (server, client)}
    moved = media_server or server
    media_ends = {"client": (client, moved), "server": (moved, client)}
    writer = PcapWriter(path)
    written = 0

    def emit(ts: float, who: str, data: bytes, media: bool = True) -> None:
        nonlocal written
        src, dst = (media_ends if media else ends)[who]
        for _ in range(2 if duplicate else 1):
            writer.write(ts, src, dst, data)
            written += 1

    try:
        for n, (who, data) in enumerate(handshake.datagrams):
            emit(start + n * 0.001, who, data, media=False)
        events: list[tuple[float, int, SynthStream, int, bytes, bool, int]] = []
        for order, stream in enumerate(streams):
            events.extend(_stream_events(stream, order, seconds, media_cycle_seconds, start + 0.1))
        events.sort(key=lambda e: (e[0], e[1]))
        seqs: dict[int, int] = {}
        counts: dict[int, int] = {}
        for ts, _, stream, rtp_ts, payload, marker, _n in events:
            if transform is not None:
                payload = transform("audio" if stream.codec == "opus" else "video", stream.ssrc, payload)
            seq = seqs.get(stream.ssrc, 1000)
            seqs[stream.ssrc] = seq + 1
            packet = sessions[stream.sender].protect(rtp(stream.payload_type, seq, rtp_ts, stream.ssrc, marker, payload))
            counts[stream.ssrc] = counts.get(stream.ssrc, 0) + 1
            if corrupt_every and counts[stream.ssrc] % corrupt_every == 0:
                packet = packet[:20] + bytes([packet[20] ^ 0xFF]) + packet[21:]
            emit(ts, stream.sender, packet)
            if counts[stream.ssrc] % 100 == 0:
                report = rtcp_sender_report(stream.ssrc, rtp_ts, counts[stream.ssrc], 0)
                emit(ts + 0.0001, stream.sender, sessions[stream.sender].protect_rtcp(report))
    finally:
        writer.close()
    return written


_CYCLE_CACHE: dict[tuple[str, int], list[bytes]] = {}


def _cycle(codec: str, count: int) -> list[bytes]:
    if (codec, count) not in _CYCLE_CACHE:
        frames = encode_opus(count) if codec == "opus" else encode_video(codec, count, keyframe_every=count)
        _CYCLE_CACHE[(codec, count)] = frames
    return _CYCLE_CACHE[(codec, count)]


def _stream_events(stream: SynthStream, order: int, seconds: float, cycle_seconds: float, t0: float):
    audio = stream.codec == "opus"
    interval = 0.02 if audio else 1 / 30
    clock_step = 960 if audio else 3000
    frames = stream.frames or _cycle(stream.codec, max(1, int(round(cycle_seconds / interval))))
    total = int(seconds / interval)
    for i in range(total):
        frame = frames[i % len(frames)]
        payloads = packetize(stream.codec, frame)
        for k, payload in enumerate(payloads):
            yield (t0 + i * interval + k * 1e-5, order, stream, i * clock_step, payload,
                   (not audio) and k == len(payloads) - 1, i)
