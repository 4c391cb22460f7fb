"""Kind and codec of a media stream in words: what is known, how it is known, and why the rest is not.

Reads the bundle's ``media_streams[]`` (``kind``, ``codec``, ``clock_rate``, ``payload_type``,
``encryption``, ``kind_reasons``) and whether the capture held any SDP (``sdp[]``). The analysis
decides; this module only says it in sentences a reader without RTP knowledge can follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

DYNAMIC_PAYLOAD_TYPES = range(96, 128)
"""RFC 3551: payload types 96-127 mean nothing without the SDP of the call."""

_CODEC_NAMES = {"opus": "Opus", "PCMU": "G.711 µ-law (PCMU)", "PCMA": "G.711 A-law (PCMA)", "G722": "G.722",
                "G729": "G.729", "G723": "G.723.1", "telephone-event": "DTMF tones (telephone-event)",
                "CN": "comfort noise (CN)", "RED": "redundant audio (RED)", "rtx": "retransmissions (RTX)"}
"""Canonical codec ids whose plain name differs from the id."""

_TIMING_WORDS = (
    ("too few to judge timing", "too few packets were captured to judge its timing"),
    ("timestamp never advances", "its timestamps never advance (padding probes or a single frame)"),
    ("90 kHz clock, but neither", "it has a video clock (90 kHz) but no video frame pattern"),
    ("packets share timestamps unlike audio", "its clock looks like audio, but several packets share one timestamp as video frames do"),
    ("jitter too large", "its packets arrived too irregularly to measure the clock, and show no video frame pattern"),
    ("no clock rate measured", "no clock rate could be measured, and there is no video frame pattern"),
)
"""Last measured fact of an undecided timing (``wire.media_stream.timing_kind``) -> plain words; first match wins."""


@dataclass(frozen=True)
class StreamLabel:
    """What the report says about one stream's kind and codec."""

    kind: str
    """"audio", "video" or "unknown"."""
    codec: str | None
    """Readable codec name ("Opus", "G.711 A-law (PCMA)", "VP8") or None when not known."""
    clock: str | None
    """RTP clock as text ("48 kHz", "90 kHz") when known."""
    basis: str | None
    """How kind and codec are known ("named by the call's SDP", "static payload type 8", "from the RTP timing")."""
    unknown_reason: str | None
    """Why the kind or codec is unknown, as a sentence; None when both are known."""

    @property
    def summary(self) -> str:
        """One line: 'audio, Opus, 48 kHz' / 'video, codec unknown, 90 kHz' / 'unknown'."""
        if self.kind == "unknown" and not self.codec:
            return "unknown"
        parts = [self.kind if self.kind != "unknown" else "kind unknown", self.codec or "codec unknown"]
        return ", ".join(parts + ([self.clock] if self.clock else []))


def _payload_type(stream: Mapping[str, Any]) -> int | None:
    value = stream.get("payload_type")
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 127 else None


def codec_name(codec: Any) -> str | None:
    """A codec id in the words readers know ("opus" -> "Opus"); None for no codec."""
    if not isinstance(codec, str) or not codec.strip():
        return None
    return _CODEC_NAMES.get(codec, codec)


def clock_text(rate: Any) -> str | None:
    """'48 kHz', '8 kHz', '44.1 kHz' for a positive integer rate, else None."""
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        return None
    khz = rate / 1000
    return f"{khz:g} kHz"


def _reasons(stream: Mapping[str, Any]) -> list[str]:
    value = stream.get("kind_reasons")
    return [r for r in value if isinstance(r, str)] if isinstance(value, list) else []


def _basis(stream: Mapping[str, Any], kind: str, codec: str | None, reasons: list[str]) -> str | None:
    first = reasons[0] if reasons else ""
    pt = _payload_type(stream)
    if first.startswith("SDP rtpmap"):
        return f"named by the call's SDP (payload type {pt})"
    if first.startswith("RFC 3551 static payload type"):
        return f"payload type {pt} is fixed to this codec by the RTP standard (RFC 3551)"
    if codec:
        return "recognised from the structure of its unencrypted payload"
    if kind != "unknown":
        return "from the RTP timing, which stays readable under encryption"
    return None


def _codec_gap(stream: Mapping[str, Any], sdp_captured: bool) -> str:
    """Why no codec could be named: the payload type, the SDP and the payload encryption."""
    pt = _payload_type(stream)
    if pt is None:
        where = "the stream has no valid payload type"
    elif pt in DYNAMIC_PAYLOAD_TYPES:
        where = (f"payload type {pt} is dynamic and the SDP in the capture does not describe this stream" if sdp_captured
                 else f"no SDP (the call's set-up) was captured and payload type {pt} is dynamic: only the SDP names it")
    else:
        where = f"payload type {pt} is not one the RTP standard assigns to a codec"
    encryption = str(stream.get("encryption") or "unknown")
    if encryption == "srtp":
        return where + "; the payload is encrypted (SRTP), so it cannot show the codec either"
    return where + "; its payload matches no codec confaudit recognises"


def _timing_gap(reasons: list[str], packets: Any) -> str:
    text = " ".join(reasons)
    for needle, words in _TIMING_WORDS:
        if needle in text:
            return words
    count = f" ({packets} packets)" if isinstance(packets, int) and not isinstance(packets, bool) else ""
    return f"its timing fits neither audio nor video{count}"


def stream_label(stream: Mapping[str, Any], *, sdp_captured: bool) -> StreamLabel:
    """The label of one ``media_streams[]`` record; ``sdp_captured`` says whether the bundle holds any SDP."""
    raw_kind = stream.get("kind")
    kind = raw_kind if isinstance(raw_kind, str) and raw_kind in ("audio", "video") else "unknown"
    codec = codec_name(stream.get("codec"))
    reasons = _reasons(stream)
    gaps = []
    if codec is None:
        gaps.append(_codec_gap(stream, sdp_captured))
    if kind == "unknown":
        gaps.append("audio or video cannot be told: " + _timing_gap(reasons, stream.get("packets")))
    reason = None
    if gaps:
        what = "codec" if kind != "unknown" else ("kind" if codec else "kind and codec")
        reason = f"{what.capitalize()} unknown: " + "; ".join(gaps) + "."
    return StreamLabel(kind=kind, codec=codec, clock=clock_text(stream.get("clock_rate")),
                       basis=_basis(stream, kind, codec, reasons), unknown_reason=reason)
