"""The known-plaintext test: the canary our own fake devices played, looked for in decrypted media.

Found -> the media is readable wherever the transport ends (``codec``), whatever the structural
tests said. Not found in a stream that carries media (audible Opus, video frames from keyframes)
whose codec test was undetermined -> ``encrypted``: the auditor knows what was sent and it is not
there. A stream that decodes to readable media without the canary (another participant's camera)
stays ``codec``: absence of our canary says nothing about someone else's media.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confaudit.canary.detect import CanaryResult
    from confaudit.canary.spec import SpecSource
    from confaudit.e2ee.audio import AudioEvidence
    from confaudit.e2ee.enums import Verdict
    from confaudit.evidence_model import E2eeCanary


def _codecs(codec: str | None, codec_hint: str | None, kind: str | None) -> list[str]:
    for name in (codec, codec_hint):
        low = (name or "").lower().replace("avc", "h264")
        for known in ("opus", "vp8", "vp9", "h264"):
            if known in low.replace(".", ""):
                return [known]
    if kind == "audio":
        return ["opus"]
    if kind == "video":
        return ["vp8", "vp9", "h264"]
    return []


def search(packets: list[Any], codec: str | None, codec_hint: str | None, kind: str | None,
           audio: AudioEvidence | None, canaries: Sequence[SpecSource]) -> CanaryResult | None:
    """The best result over the canaries and candidate codecs: a find first, else the one with the most media."""
    from confaudit.canary.detect import search_stream
    from confaudit.e2ee.inner import unwrap_red

    audible = audio is not None and audio.audible_frames >= 50

    def best(variant: list[Any]) -> CanaryResult | None:
        results = [r for c in _codecs(codec, codec_hint, kind) for source in canaries
                   if (r := search_stream(variant, c, source.spec, audible=audible)) is not None]
        return max(results, key=lambda r: (r.found, r.media_carried, r.figures.get("frames_decoded", 0),
                                           r.figures.get("tonal_windows", 0))) if results else None

    as_sent = best(packets)
    unwrapped, red = unwrap_red(packets)
    if red is not None and not (as_sent and as_sent.found):
        # RFC 2198 RED (Chromium's audio RED, Firefox's RED video): the canary is in the primary blocks. Only a find
        # counts from this reading: an Opus TOC below 0x80 reads as a RED header too, and stripping it yields noise.
        as_red = best(unwrapped)
        if as_red is not None and as_red.found:
            return as_red
    return as_sent


def canary_verdict(packets: list[Any], inner: Verdict, codec: str | None, codec_hint: str | None, kind: str | None,
                   audio: AudioEvidence | None, canaries: Sequence[SpecSource],
                   reasons: list[str]) -> tuple[Verdict, str | None, E2eeCanary | None]:
    """(inner, codec, the stream's ``canary`` object) after the canary search; appends to ``reasons``."""
    result = search(packets, codec, codec_hint, kind, audio, canaries)
    if result is None:
        return inner, codec, None
    reasons.append(result.summary)
    if result.found:
        if inner != "codec":
            reasons.append(f"the canary's {result.kind} is in the decrypted media although the codec test said {inner}: "
                           "readable where the transport ends")
        else:
            reasons.append(f"the canary's {result.kind} is in the decrypted media: readable where the transport ends")
        return "codec", result.codec, result.as_dict()
    if inner == "undetermined" and result.media_carried:
        reasons.append(f"the stream carries {result.kind} but not the canary the auditor's devices played: "
                       "inner encryption (valid for the auditor's own sending streams; others' readable media decodes "
                       "as codec)")
        return "encrypted", codec, result.as_dict()
    if inner == "encrypted":
        reasons.append("no canary after SRTP decryption either: consistent with inner encryption")
    return inner, codec, result.as_dict()
