"""Inner-payload test: does the decrypted RTP payload decode with the real codec (PyAV)?

Structure checks alone are fooled (an E2EE receiver that cannot decode keeps requesting
keyframes, so clear keyframe headers abound while the rest is ciphertext; Opus is high-entropy
either way), so every candidate codec actually decodes the stream:
- video: clean decodes at plausible dimensions across at least MIN_VIDEO_CODEC_FRAMES frames ->
  readable; decoder errors on most frames while the clear bytes kept by E2EE schemes still parse ->
  inner encryption;
- audio (``e2ee.audio``): Opus decodes any bytes behind a valid TOC, so readability needs positive
  evidence that the decoded signal is real audio (a continuous level contour, unlike random bytes
  behind the same TOCs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from confaudit.e2ee.audio import AudioEvidence
from confaudit.wire.depacketize import (RtpPacket, decodable_chain, group_frames, h264_frame, red_primary, vp8_frame,
                                        vp9_frame)

if TYPE_CHECKING:
    from confaudit.e2ee.enums import Verdict

MIN_VIDEO_FRAMES = 3
# Behind Jitsi-style clear bytes (10 of a keyframe, 3 of a delta frame) libavcodec's VP8 decoder accepts
# ciphertext without error about 1 time in 4 (measured: 49 of 200 keyframes): a handful of clean frames
# is chance, ten in a row with no error is not (0.25^10, about 1e-6).
MIN_VIDEO_CODEC_FRAMES = 10
MIN_SFRAME_FRAMES = 20
MAX_DIMENSION = 8192
CLEAN_RATIO = 0.8
CLEAN_ERRORS = 0.05  # a valid bitstream decodes; gap-free frames of a readable stream almost never fail
ERROR_RATIO = 0.3  # ciphertext past the clear header makes libvpx/ffmpeg reject most frames (not all)
CHAIN_SHARE = 0.5  # clear structure must hold across the stream, not in a few lucky frames
NOT_DECODED = ("pcmu", "pcma", "g711", "g722", "av1")


@dataclass(frozen=True)
class CodecTrial:
    """Result of decoding one stream's sample with one codec."""

    codec: str
    """Candidate codec name (opus, vp8, vp9, h264)."""
    units: int
    """Frames (video) or packets (audio) fed to the decoder."""
    clean: int
    """Units decoded without error (and, for video, at plausible dimensions)."""
    errors: int
    """Units the decoder rejected."""
    structure: int
    """Units whose clear-text codec structure parsed (keyframe header, NAL header)."""
    detail: str
    """Human-readable measurement for the reasons list."""


@dataclass(frozen=True)
class InnerVerdict:
    """Classification of one stream's inner payload."""

    inner: Verdict
    """codec | encrypted | undetermined."""
    codec: str | None
    """The codec that decoded (or whose clear structure was found)."""
    reasons: tuple[str, ...]
    """Why, with the measured numbers."""
    audio_evidence: AudioEvidence | None = None
    """The Opus measurements, when the stream was tried as Opus."""


def unwrap_red(packets: list[RtpPacket]) -> tuple[list[RtpPacket], str | None]:
    """If the stream is RFC 2198 RED (consistent primary PT), return the primary blocks."""
    if not packets:
        return packets, None
    unwrapped = [red_primary(p.payload) for p in packets]
    primaries = [u[0] for u in unwrapped if u is not None]
    if len(primaries) < 0.9 * len(packets):
        return packets, None
    main_pt = max(set(primaries), key=primaries.count)
    if primaries.count(main_pt) < 0.9 * len(packets) or main_pt == packets[0].payload_type:
        return packets, None
    out = [RtpPacket(p.seq, p.timestamp, p.marker, u[0], u[1]) for p, u in zip(packets, unwrapped)
           if u is not None and u[0] == main_pt]
    return out, f"RED (RFC 2198) unwrapped: primary payload type {main_pt}"


def _decoder(name: str):
    import av

    ctx = av.CodecContext.create(name, "r")
    ctx.thread_count = 1  # no frame-threading delay: one packet in, its frame out
    return ctx


def _decode_video(codec: str, units: list[bytes]) -> tuple[int, int, set[tuple[int, int]]]:
    import av

    dec = _decoder(codec)
    clean = errors = 0
    dims: set[tuple[int, int]] = set()
    for data in units:
        try:
            frames = dec.decode(av.Packet(data))
        except (av.error.FFmpegError, ValueError):
            errors += 1
            continue
        for frame in frames:
            if 16 <= frame.width <= MAX_DIMENSION and 16 <= frame.height <= MAX_DIMENSION:
                clean += 1
                dims.add((frame.width, frame.height))
            else:
                errors += 1
    return clean, errors, dims


def trial_video(codec: str, packets: list[RtpPacket]) -> CodecTrial:
    frame_of = {"vp8": vp8_frame, "vp9": vp9_frame, "h264": h264_frame}[codec]
    units, structure = decodable_chain(packets, frame_of)
    if not units:
        return CodecTrial(codec, 0, 0, 0, structure, f"{codec}: no complete frame from a keyframe on")
    if len(units) < CHAIN_SHARE * len(group_frames(packets)):
        structure = 0  # most frames never formed a decodable chain: the "keyframes" were chance
    clean, errors, dims = _decode_video(codec, units)
    size = ", ".join(f"{w}x{h}" for w, h in sorted(dims)) or "none"
    return CodecTrial(codec, len(units), clean, errors, structure,
                      f"{codec}: {clean} of {len(units)} frames decoded, {errors} decoder errors, dimensions {size}, "
                      f"{structure} keyframe headers in clear")


def frame_starts(packets: list[RtpPacket]) -> list[RtpPacket]:
    """The first packet of each RTP timestamp (where a per-frame header such as SFrame's sits)."""
    seen: set[int] = set()
    out = []
    for p in packets:
        if p.timestamp not in seen:
            seen.add(p.timestamp)
            out.append(p)
    return out


def sframe_counter_runs(packets: list[RtpPacket]) -> int:
    """Consecutive frames whose RFC 9605 SFrame header counter increases by one."""
    counters = []
    for p in frame_starts(packets):
        if not p.payload:
            continue
        cfg = p.payload[0]
        pos = 1
        kid_len = ((cfg >> 4) & 0x07) + 1 if cfg & 0x80 else 0
        pos += kid_len
        ctr_len = (cfg & 0x07) + 1 if cfg & 0x08 else 0
        if not ctr_len or pos + ctr_len > len(p.payload):
            counters.append(cfg & 0x07)
            continue
        counters.append(int.from_bytes(p.payload[pos:pos + ctr_len], "big"))
    return sum(1 for a, b in zip(counters, counters[1:]) if b == a + 1)


def classify(packets: list[RtpPacket], kind: str | None, codec_hint: str | None) -> InnerVerdict:
    """Classify a stream's decrypted packets (in capture order).

    A one-byte RED header (F=0, then the primary payload type) is indistinguishable from an Opus TOC
    below 0x80 (SILK and hybrid modes; WebRTC's usual 0x78 reads as "primary payload type 120"). The
    RED reading is kept when what decodes inside it confirms it: a video codec, or Opus in a stream
    whose packets mostly carry redundant blocks (as audio RED does). Otherwise the stream is judged as it is: stripping a real
    TOC leaves bytes that decode like ciphertext, a false "encrypted".
    """
    unwrapped, red_note = unwrap_red(packets)
    if red_note is None:
        return _classify(packets, kind, codec_hint, [])
    as_red = _classify(unwrapped, kind, codec_hint, [red_note])
    redundant = sum(1 for p in packets if p.payload and p.payload[0] & 0x80) >= 0.5 * len(packets)
    if as_red.inner != "undetermined" and (as_red.codec != "opus" or redundant):
        return as_red
    why = (f"{red_note} gives {as_red.inner}" + (f" {as_red.codec}" if as_red.codec else "")
           + ("" if redundant else ", but most packets carry no redundant block: the one-byte header may be an "
              "Opus TOC"))
    return _classify(packets, kind, codec_hint, [f"judged as sent, not as RED ({why})"])


def _classify(packets: list[RtpPacket], kind: str | None, codec_hint: str | None, reasons: list[str]) -> InnerVerdict:
    empty = sum(1 for p in packets if not p.payload)
    if packets and empty >= 0.9 * len(packets):
        return InnerVerdict("undetermined", None, (*reasons, f"{empty} of {len(packets)} packets carry no payload "
                                                   "(padding-only bandwidth probes): no media to test"))
    if len(packets) < MIN_VIDEO_FRAMES:
        return InnerVerdict("undetermined", None, (*reasons, f"only {len(packets)} decrypted packets"))
    candidates = _candidates(packets, kind, codec_hint)
    if not candidates:
        return InnerVerdict("undetermined", None, (*reasons, f"codec {codec_hint} is not decoded here"))
    trials = [trial_video(c, packets) for c in candidates if c != "opus"]
    reasons.extend(t.detail for t in trials)
    for t in trials:
        if t.units >= MIN_VIDEO_CODEC_FRAMES and t.clean >= CLEAN_RATIO * t.units and t.errors <= CLEAN_ERRORS * t.units:
            return InnerVerdict("codec", t.codec, (*reasons, "video decodes cleanly at plausible dimensions: readable media"))
    audio = None
    if "opus" in candidates:
        from confaudit.e2ee.audio import measure_opus, opus_verdict, summary

        audio = measure_opus([p.payload for p in packets])
        reasons.append(summary(audio))
        inner, why = opus_verdict(audio)
        if inner != "undetermined":
            return InnerVerdict(inner, "opus", (*reasons, why), audio)
        reasons.append(why)
    for t in trials:
        if t.units >= MIN_VIDEO_FRAMES and t.structure and t.errors >= max(MIN_VIDEO_FRAMES, ERROR_RATIO * t.units):
            return InnerVerdict("encrypted", t.codec, (*reasons, f"{t.codec} headers in clear but the decoder rejects "
                                                       "the frames: inner encryption past the clear bytes"), audio)
    runs = sframe_counter_runs(packets)
    frames = len(frame_starts(packets))
    if frames >= MIN_SFRAME_FRAMES and runs >= 0.8 * (frames - 1):
        return InnerVerdict("encrypted", None, (*reasons, f"SFrame (RFC 9605) header with a counter increasing by one "
                                                f"in {runs} consecutive packets, no codec decodes"), audio)
    return InnerVerdict("undetermined", None, (*reasons, "no codec decoded the payload and no encryption framing was "
                                               "recognised"), audio)


def _candidates(packets: list[RtpPacket], kind: str | None, codec_hint: str | None) -> list[str]:
    hint = (codec_hint or "").lower()
    for name in ("opus", "vp8", "vp9", "h264"):
        if name in hint.replace(".", "").replace("avc", "h264"):
            return [name]
    if any(name in hint for name in NOT_DECODED):
        return []  # trying Opus on G.711 samples would judge the wrong codec
    if kind == "audio":
        return ["opus"]
    if kind == "video":
        return ["vp8", "vp9", "h264"]
    timestamps = {p.timestamp for p in packets}
    if len(timestamps) < 0.8 * len(packets):  # several packets per timestamp: video frames
        return ["vp8", "vp9", "h264"]
    # Video first: a clean video decode is strong evidence, while Opus decodes almost any bytes.
    if _audio_clock(packets):
        return ["vp8", "vp9", "h264", "opus"]
    return ["vp8", "vp9", "h264"]


def _audio_clock(packets: list[RtpPacket]) -> bool:
    """RTP timestamps advancing in multiples of 2.5 ms at 48 kHz (120 ticks), as Opus packets do."""
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in zip(packets, packets[1:])]
    steps = [s for s in steps if 0 < s < 0x7FFFFFFF]
    return bool(steps) and sum(1 for s in steps if s % 120 == 0 and s <= 5760) >= 0.9 * len(steps)
