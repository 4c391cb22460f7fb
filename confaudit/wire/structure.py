"""Plaintext-vs-encrypted judgement of one media stream from payload structure across packets.

Plain codec streams repeat structure packet after packet (constant Opus TOC config, valid VP8
descriptors and key-frame start codes, valid H.264 NAL headers, audio-like G.711 samples);
SRTP payload bytes look uniform. Entropy is deliberately not used (research note 02 §B9).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from confaudit.wire._records import record_dict
from confaudit.wire.codecs import g711_plausible, h264_payload, opus_toc, red_unwrap, vp8_descriptor, vp9_descriptor

MIN_PACKETS = 8
_MAX_PACKETS = 2000
_HINTS = {"opus": "opus", "vp8": "vp8", "vp9": "vp9", "h264": "h264", "avc": "h264", "pcma": "pcma",
          "pcmu": "pcmu", "g711": "g711", "red": "red", "rtx": "rtx"}
# Payloads whose bytes carry no codec structure of their own: no verdict either way.
_UNJUDGED = {"ulpfec", "flexfec", "flexfec03", "telephoneevent", "cn"}


@dataclass(frozen=True, slots=True)
class StructureVerdict:
    """Whether a stream's payloads carry plaintext codec structure."""

    plain: bool | None
    """True: codec structure holds across packets; False: it does not / bytes look uniform; None: cannot tell."""
    codec_guess: str | None
    """Codec whose structure matched ("opus", "vp8", "vp9", "h264", "pcma", "pcmu"), None if none did."""
    reasons: tuple[str, ...]
    """Measured facts behind the verdict."""
    packets: int
    """Payloads examined."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return record_dict(self)


Check = tuple[bool | None, str]


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _opus(payloads: list[bytes]) -> Check:
    configs = Counter(t.config for p in payloads if (t := opus_toc(p)))
    top = configs.most_common(1)[0][1] if configs else 0
    share = _share(top, len(payloads))
    note = f"opus: most common TOC config in {share:.0%} of packets ({len(configs)} distinct)"
    if share >= 0.9:
        return True, note + "; only the TOC is checked, an inner E2EE layer leaving it clear is not excluded"
    return (False if share < 0.5 else None), note


def _vp8(payloads: list[bytes]) -> Check:
    infos = [vp8_descriptor(p) for p in payloads]
    reserved = _share(sum(1 for i in infos if i and i.reserved_ok), len(payloads))
    starts = [i for i in infos if i and i.keyframe is not None]
    good = [i for i in starts if (i.keyframe and i.start_code_ok and i.width and i.height)
            or (not i.keyframe and (i.tag_version or 0) <= 3 and i.show_frame)]
    keyframes = sum(1 for i in good if i.keyframe)
    ok = _share(len(good), len(starts))
    note = (f"vp8: reserved bits clear in {reserved:.0%}; {len(good)}/{len(starts)} frame starts valid "
            f"({keyframes} key frames with 9D 01 2A)")
    if reserved >= 0.95 and len(starts) >= 2 and ok >= 0.9:
        return True, note
    if reserved < 0.8 or (len(starts) >= 2 and ok < 0.5):
        return False, note
    return None, note


def _vp9(payloads: list[bytes], require_keyframe: bool = False) -> Check:
    infos = [vp9_descriptor(p) for p in payloads]
    parsed = _share(sum(1 for i in infos if i), len(payloads))
    pairs = [(a, b) for a, b in zip(infos, infos[1:]) if a and b and a.end_frame]
    follow = _share(sum(1 for a, b in pairs if b.begin_frame), len(pairs))
    keys = [i for i in infos if i and i.sync_code_ok is not None]
    sync = _share(sum(1 for i in keys if i.sync_code_ok), len(keys))
    note = f"vp9: descriptors parse in {parsed:.0%}; B follows E in {follow:.0%} of {len(pairs)}; key-frame sync {sync:.0%} of {len(keys)}"
    if parsed >= 0.95 and len(pairs) >= 2 and follow >= 0.9 and (keys or not require_keyframe) and (not keys or sync >= 0.9):
        return True, note
    if parsed < 0.8 or (len(pairs) >= 2 and follow < 0.6) or (len(keys) >= 2 and sync < 0.5):
        return False, note
    return None, note


def _h264(payloads: list[bytes]) -> Check:
    valid = _share(sum(1 for p in payloads if (h := h264_payload(p)) and h.valid), len(payloads))
    note = f"h264: valid NAL headers / STAP-A / FU-A in {valid:.0%}"
    if valid >= 0.95:
        return True, note
    return (False if valid < 0.7 else None), note


def _g711(law: str | None) -> Callable[[list[bytes]], Check]:
    def check(payloads: list[bytes]) -> Check:
        verdicts = [g711_plausible(p, law) for p in payloads]
        judged = [v for v in verdicts if v is not None]
        share = _share(sum(1 for v in judged if v), len(judged))
        note = f"g711{'-' + law if law else ''}: audio-like samples in {share:.0%} of {len(judged)} packets"
        if len(judged) < MIN_PACKETS:
            return None, note
        if share >= 0.8:
            return True, note
        return (False if share <= 0.3 else None), note

    return check


# Order matters without a hint: the most specific structure first. A constant first byte satisfies
# the Opus TOC test and the VP9 B/E test alike, so VP9 needs a key frame unless it was hinted.
_CHECKS: dict[str, Callable[[list[bytes]], Check]] = {
    "vp8": _vp8, "h264": _h264, "pcma": _g711("a"), "pcmu": _g711("u"),
    "vp9": lambda payloads: _vp9(payloads, require_keyframe=True), "opus": _opus,
}


def _first_bytes_uniform(payloads: list[bytes]) -> tuple[bool, str]:
    n = len(payloads)
    distinct = len({p[0] for p in payloads if p})
    expected = 256 * (1 - (255 / 256) ** n)
    uniform = distinct >= 0.8 * expected
    return uniform, f"{distinct} distinct first payload bytes in {n} packets (uniform random would give ~{expected:.0f})"


def judge_stream(payloads: list[bytes], codec_hint: str | None) -> StructureVerdict:
    """See ``confaudit.wire.codecs.stream_structure``."""
    try:
        return _judge([bytes(p) for p in payloads[:_MAX_PACKETS]], codec_hint)
    except Exception as exc:  # noqa: BLE001 - fail closed: undecided
        return StructureVerdict(None, None, (f"structure check failed: {type(exc).__name__}",), len(payloads))


def _judge(payloads: list[bytes], codec_hint: str | None) -> StructureVerdict:
    payloads = [p for p in payloads if p]
    n = len(payloads)
    key = (codec_hint or "").lower().replace(".", "").replace("-", "")
    if key in _UNJUDGED:
        return StructureVerdict(None, None, (f"{codec_hint}: payloads carry no codec structure to judge",), n)
    hint = _HINTS.get(key)
    reasons: list[str] = []
    if hint == "rtx":
        # RFC 4588: a 2-byte original sequence number precedes the original payload.
        payloads, hint = [p[2:] for p in payloads if len(p) > 2], None
        n = len(payloads)
        reasons.append("rtx: judged the original payloads after the 2-byte OSN")
    if hint == "red":
        primaries = [r[1] for p in payloads if (r := red_unwrap(p)) and r[1]]
        reasons.append(f"red: {len(primaries)}/{n} payloads unwrap (RFC 2198)")
        if len(primaries) < 0.9 * n:
            return StructureVerdict(False if n >= MIN_PACKETS else None, None, tuple(reasons), n)
        payloads, hint = primaries, None
    if n < MIN_PACKETS:
        return StructureVerdict(None, None, (f"only {n} payloads; need {MIN_PACKETS}",), n)
    if hint == "g711":
        names = ["pcma", "pcmu"]
    elif hint:
        names = [hint]
    else:
        names = list(_CHECKS)
    results = {name: (_vp9(payloads) if hint == "vp9" else _CHECKS[name](payloads)) for name in names}
    reasons.extend(note for _, note in results.values())
    for name in names:
        if results[name][0] is True:
            return StructureVerdict(True, name, tuple(reasons), n)
    uniform, note = _first_bytes_uniform(payloads)
    reasons.append(note)
    if hint and hint != "g711":
        verdict = results[hint][0]
        return StructureVerdict(verdict if verdict is False or not uniform else False, None, tuple(reasons), n)
    if all(v is False for v, _ in results.values()) or uniform:
        return StructureVerdict(False, None, tuple(reasons), n)
    return StructureVerdict(None, None, tuple(reasons), n)
