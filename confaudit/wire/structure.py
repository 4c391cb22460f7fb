"""Plaintext-or-not of a bare list of payloads (no RTP header numbers): the structure half of ``media_kind``.

Kept for callers that hold only payload bytes. It runs the same recognisers as
``confaudit.wire.media_kind.judge_media`` without timing, so checks that need timestamps (Opus
duration against the step, frame boundaries, sizes against the step) are skipped; prefer
``judge_media`` wherever sequence numbers, timestamps and arrival times are at hand. Structure is
positive evidence only: ``plain`` is True or None, never False (research note 02 §B9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import record_dict
from confaudit.wire.codecs import red_unwrap
from confaudit.wire.media_kind import CHECKS, PLAINTEXT_CHANCE, canonical_codec
from confaudit.wire.media_stream import payload_view

MIN_PACKETS = 8
_MAX_PACKETS = 2000
# Payloads whose bytes carry no codec structure of their own: no verdict either way.
_UNJUDGED = {"ulpfec", "flexfec", "telephone-event", "CN"}


@dataclass(frozen=True, slots=True)
class StructureVerdict:
    """Whether a stream's payloads carry plaintext codec structure."""

    plain: bool | None
    """True: a codec's structure holds across packets; None: none does, or too few packets (never False)."""
    codec_guess: str | None
    """Lower-case name of the codec whose structure held ("opus", "vp8", "h264", "pcma", "g729", ...), else None."""
    reasons: tuple[str, ...]
    """Measured facts behind the verdict."""
    packets: int
    """Payloads examined."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


def judge_stream(payloads: list[bytes], codec_hint: str | None = None) -> StructureVerdict:
    """Judge a stream's payloads as plaintext codec data or not (``codec_hint``: the codec the SDP names)."""
    payloads = [bytes(p) for p in payloads[:_MAX_PACKETS] if p]
    hint = canonical_codec(codec_hint)
    reasons: list[str] = []
    if hint in _UNJUDGED:
        return StructureVerdict(None, None, (f"{codec_hint}: payloads carry no codec structure to judge",), len(payloads))
    if hint == "rtx":  # RFC 4588: a 2-byte original sequence number precedes the original payload
        payloads, hint = [p[2:] for p in payloads if len(p) > 2], None
        reasons.append("rtx: judged the original payloads after the 2-byte OSN")
    if hint == "RED":
        primaries = [r[1] for p in payloads if (r := red_unwrap(p)) and r[1]]
        reasons.append(f"RED: {len(primaries)}/{len(payloads)} payloads unwrap (RFC 2198)")
        if len(primaries) < 0.9 * len(payloads):
            return StructureVerdict(None, None, tuple(reasons), len(payloads))
        payloads, hint = primaries, None
    if len(payloads) < MIN_PACKETS:
        return StructureVerdict(None, None, tuple(reasons) + (f"only {len(payloads)} payloads; need {MIN_PACKETS}",),
                                len(payloads))
    view = payload_view(payloads)
    if (codec_hint or "").lower() == "g711":
        names = ["PCMA", "PCMU"]
    elif hint in CHECKS:
        names = [hint]
    else:
        names = list(CHECKS)
    checks = [CHECKS[name](view) for name in names]
    passing = sorted((c for c in checks if c.plaintext and (c.chance or 0) <= PLAINTEXT_CHANCE),
                     key=lambda c: (c.codec == "opus" and hint is None, c.chance or 0.0))
    if passing and passing[0].codec == "opus" and hint is None:
        # Without timestamps Opus is one TOC byte plus framing, which a constant header byte satisfies too:
        # a fallback when no other codec's structure holds.
        reasons.append("opus accepted on its TOC byte and framing alone (no timestamps to check durations against)")
    reasons.extend(c.reasons[0] for c in (passing or checks))
    if not passing:
        reasons.append("no modelled codec structure holds: SRTP-encrypted payloads and unmodelled codecs look the same")
        return StructureVerdict(None, None, tuple(reasons), len(payloads))
    return StructureVerdict(True, passing[0].codec.lower(), tuple(reasons), len(payloads))
