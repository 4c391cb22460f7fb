"""Codec, audio vs video, clock rate and plaintext-or-not of one RTP stream, from structure, sizes and timing.

``judge_media`` weighs, in this order: the SDP rtpmap, the RFC 3551 static payload type, payload
structure that random (encrypted) bytes fail, and the RTP timing that stays in clear under SRTP
(clock measured against arrival time, packets per timestamp, markers, steps, sizes). Structure is
only ever positive evidence: payloads that carry no modelled codec give ``plaintext=None``, never
False, because SRTP and a codec confaudit does not model look the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from confaudit.wire._records import record_dict
from confaudit.wire.audio_frames import check_g711, check_g722, check_g723, check_g729, check_gsm, check_ilbc
from confaudit.wire.audio_packets import check_amr, check_cn, check_opus, check_telephone_event
from confaudit.wire.av1 import check_av1
from confaudit.wire.codecs import red_unwrap
from confaudit.wire.errors import ParseError
from confaudit.wire.media_stream import (AUDIO_CLOCKS, CodecCheck, Packet, StreamView, build_view, payload_view,
                                         timing_kind)
from confaudit.wire.names import RTP_STATIC_PAYLOAD_TYPES
from confaudit.wire.video_frames import check_h264, check_vp8, check_vp9

PLAINTEXT_CHANCE = 1e-6
"""Largest probability of random payloads passing a structure test that still counts as plaintext."""

CHECKS: dict[str, Callable[[StreamView], CodecCheck]] = {
    "PCMU": lambda v: check_g711(v, "u"), "PCMA": lambda v: check_g711(v, "a"), "G722": check_g722,
    "G729": check_g729, "GSM": check_gsm, "GSM-EFR": lambda v: check_gsm(v, efr=True), "iLBC": check_ilbc,
    "G723": check_g723, "AMR": lambda v: check_amr(v, wideband=False), "AMR-WB": lambda v: check_amr(v, wideband=True),
    "opus": check_opus, "telephone-event": check_telephone_event, "CN": check_cn,
    "VP8": check_vp8, "VP9": check_vp9, "H264": check_h264, "AV1": check_av1,
}
"""Canonical codec name -> recogniser."""

_ALIASES = {"g729a": "G729", "gsmefr": "GSM-EFR", "amrwb": "AMR-WB", "h2641": "H264", "avc": "H264", "av1x": "AV1",
            "telephoneevent": "telephone-event", "flexfec03": "flexfec", "g7231": "G723", "mpeg4generic": "MPEG4-GENERIC"}
_AUDIO = {"PCMU", "PCMA", "G722", "G729", "GSM", "GSM-EFR", "iLBC", "G723", "AMR", "AMR-WB", "opus", "telephone-event",
          "CN", "DVI4", "LPC", "L16", "QCELP", "G728", "MPA", "ISAC", "SPEEX", "SILK", "G726-32", "EVS", "MPEG4-GENERIC"}
_VIDEO = {"VP8", "VP9", "H264", "H265", "AV1", "H261", "H263", "H263-1998", "H263-2000", "JPEG", "MPV", "CelB", "nv"}
_NO_STRUCTURE = {"ulpfec", "flexfec", "rtx", "RED"}


@dataclass(frozen=True, slots=True)
class RtpSample:
    """One sampled RTP packet of a stream (arrival order)."""

    seq: int
    """Sequence number (16 bits)."""
    timestamp: int
    """RTP timestamp (32 bits)."""
    marker: bool
    """M bit."""
    payload_len: int
    """RTP payload bytes after header/CSRCs/extension, padding removed (includes any SRTP tag)."""
    arrival: float
    """Capture time, seconds."""
    payload: bytes | None = None
    """The payload bytes (first <=1200), or None when only the numbers were sampled."""


@dataclass(frozen=True, slots=True)
class MediaJudgement:
    """What one RTP stream carries, with the measured facts behind each part."""

    codec: str | None
    """Canonical name ("PCMU", "G729", "opus", "VP8", "H264", "AV1", "telephone-event", "RED", ...) or None."""
    kind: str
    """"audio", "video" or "unknown"."""
    clock_rate: int | None
    """Hz: SDP or static payload type when given, else the codec's, else measured and snapped to a standard rate."""
    plaintext: bool | None
    """True: the payloads carry the codec's plaintext structure; None: cannot tell (never False)."""
    auth_tag_bytes: int | None
    """Bytes beyond the exact constant-bitrate frame size that only an SRTP authentication tag explains."""
    kind_reasons: tuple[str, ...]
    """Measured facts behind kind and clock."""
    codec_reasons: tuple[str, ...]
    """Measured facts behind codec, plaintext and auth tag."""
    packets: int
    """Samples examined (after dropping duplicates)."""
    plaintext_chance: float | None = None
    """Probability that random payloads pass the structure test behind ``plaintext=True``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def canonical_codec(name: str | None) -> str | None:
    """SDP encoding name -> canonical codec name ("pcma" -> "PCMA", "H264" -> "H264", "telephone-event" ...)."""
    if not name:
        return None
    key = name.strip().lower().replace("-", "").replace("_", "").replace(".", "")
    for canonical in (*CHECKS, *_AUDIO, *_VIDEO, *_NO_STRUCTURE):
        if canonical.lower().replace("-", "").replace(".", "") == key:
            return canonical
    return _ALIASES.get(key, name.strip())


def codec_kind(codec: str | None) -> str:
    """"audio", "video" or "unknown" for a canonical codec name."""
    return "audio" if codec in _AUDIO else "video" if codec in _VIDEO else "unknown"


def _declared(payload_type: int, sdp_codec: str | None, sdp_clock: int | None) -> tuple[str | None, int | None, str | None]:
    """(codec, clock, reason) from the SDP rtpmap, else the static payload-type table."""
    if sdp_codec:
        codec = canonical_codec(sdp_codec)
        return codec, sdp_clock, f"SDP rtpmap: payload type {payload_type} = {sdp_codec}/{sdp_clock or '?'}"
    static = RTP_STATIC_PAYLOAD_TYPES.get(payload_type)
    if static is not None:
        return static[0], static[2], f"RFC 3551 static payload type {payload_type} = {static[0]}/{static[2]}"
    return None, None, None


def _unwrapped(view: StreamView, codec: str) -> tuple[StreamView, str]:
    """The inner payloads of RED (RFC 2198 primary block) or RTX (RFC 4588, after the 2-byte OSN)."""
    packets: list[Packet] = []
    walked = 0
    for p in view.packets:
        inner = None
        if p.payload is not None:
            if codec == "RED":
                red = red_unwrap(p.payload)
                inner = red[1] if red else None
            else:
                inner = p.payload[2:] if len(p.payload) > 2 else None
            walked += inner is not None
        packets.append(Packet(p.seq, p.ts, p.marker, len(inner) if inner is not None else p.length, p.arrival, inner))
    what = "RFC 2198 block headers walk" if codec == "RED" else "an original sequence number precedes"
    note = f"{codec}: {what} in {walked}/{len(view.payloads)} payloads; judged the inner payloads"
    if codec == "rtx":  # retransmissions arrive out of the original timing: structure only
        return payload_view([p.payload for p in packets if p.payload]), note
    return replace(view, packets=tuple(packets)), note


def _best(checks: list[CodecCheck]) -> tuple[CodecCheck | None, list[CodecCheck]]:
    """The passing check random bytes are least likely to pass, and every passing check."""
    passing = sorted((c for c in checks if c.plaintext and (c.chance or 0) <= PLAINTEXT_CHANCE),
                     key=lambda c: c.chance or 0.0)
    return (passing[0] if passing else None), passing


def _structure(view: StreamView, declared: str | None, timing: str) -> tuple[CodecCheck | None, CodecCheck | None,
                                                                            str | None, list[str]]:
    """(passing check, check whose reasons and tag stand for the stream, codec, reasons) from payload structure.

    A declared codec is tested alone; otherwise every codec of the kind the timing shows (all when
    the timing is open) and the one random bytes are least likely to imitate wins.
    """
    reasons: list[str] = []
    if declared in ("RED", "rtx"):
        view, note = _unwrapped(view, declared)
        reasons.append(note)
    if declared in CHECKS:
        checks = [CHECKS[declared](view)]
    elif declared is not None and declared not in ("RED", "rtx"):
        reasons.append(f"{declared}: no payload structure model for this codec, so no plaintext evidence")
        return None, None, declared, reasons
    else:
        wanted = {"audio", "video"} if timing == "unknown" else {timing}
        checks = [check(view) for name, check in CHECKS.items() if codec_kind(name) in wanted]
    best, passing = _best(checks)
    chosen = best or (checks[0] if declared in CHECKS else None)
    if chosen is not None:
        reasons.extend(chosen.reasons)
    if best is None:
        reasons.append(f"no modelled codec structure holds (tested {', '.join(c.codec for c in checks)}): "
                       "SRTP-encrypted payloads and unmodelled codecs look the same, so this says neither")
        return None, chosen, declared, reasons
    others = [c for c in passing[1:] if c.codec != best.codec]
    reasons.extend(f"{c.codec} structure holds as well ({c.reasons[0]})" for c in others)
    if declared is None and any(c.kind == best.kind for c in others):
        return best, chosen, None, reasons  # plaintext for sure, but which codec is open
    return best, chosen, declared or best.codec, reasons


def judge_media(samples: Sequence[RtpSample], payload_type: int, sdp_codec: str | None = None,
                sdp_clock: int | None = None) -> MediaJudgement:
    """Judge one (flow, SSRC, payload type) stream from its sampled packets; raises only ParseError."""
    try:
        view = build_view(samples)
        payload_type = int(payload_type) & 0x7F
    except (TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"malformed RTP sample: {type(exc).__name__}: {exc}") from None
    declared, clock, declared_note = _declared(payload_type, sdp_codec, sdp_clock)
    timing, kind_reasons = timing_kind(view)
    best, chosen, codec, codec_reasons = _structure(view, declared, timing)
    if codec_kind(declared) != "unknown":
        kind = codec_kind(declared)
    else:
        kind = best.kind if best is not None else timing
    if declared_note:
        kind_reasons.insert(0, declared_note)
        if timing not in ("unknown", kind) and kind != "unknown":
            kind_reasons.append(f"the timing alone would say {timing}")
    clock_rate = clock or (chosen.clock if chosen is not None else None) or _measured(view, kind)
    if view.clock and clock_rate and view.clock != clock_rate:
        kind_reasons.append(f"measured clock {view.clock} Hz differs from {clock_rate} Hz")
    return MediaJudgement(
        codec=codec, kind=kind, clock_rate=clock_rate, plaintext=True if best is not None else None,
        auth_tag_bytes=chosen.auth_tag if chosen is not None else None, kind_reasons=tuple(kind_reasons),
        codec_reasons=tuple(codec_reasons), packets=len(view.packets),
        plaintext_chance=best.chance if best is not None else None)


def _measured(view: StreamView, kind: str) -> int | None:
    """The snapped measured clock, when it agrees with the kind."""
    if view.clock is None:
        return None
    if kind == "video":
        return view.clock if view.clock == 90000 else None
    if kind == "audio":
        return view.clock if view.clock in AUDIO_CLOCKS else None
    return view.clock
