"""Constant-bitrate telephony codecs: frame structure, and payload size against the timestamp step.

A constant-bitrate frame has one size per duration (RFC 3551 §4.5), so the payload length of a
packet follows from its timestamp step: G.711 and G.722 one byte per 8 kHz tick, G.729 10 bytes
per 80 ticks, GSM 33 per 160, iLBC 38 per 160 or 50 per 240, G.723.1 24 or 20 per 240. A constant
excess of 4, 8, 10 or 16 bytes is an SRTP authentication tag (HMAC-SHA1-32, AEAD *_8, HMAC-SHA1-80,
AEAD GCM); an exact fit leaves no room for one. The bit-level checks use fields random bytes fail:
G.729's parity bit over the pitch delay (ITU-T G.729 §3.7.2), GSM's 0xD signature nibble (RFC
3551 §4.5.8), iLBC's start-state index and empty-frame bit (RFC 3951 §3.8), G.723.1's frame-type
bits, G.722's unused lower-band code words 0-3 (ITU-T G.722 Table 6) and G.711 sample smoothness.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from confaudit.wire.g711 import g711_smoothness
from confaudit.wire.media_stream import CodecCheck, StreamView, binomial_tail, chance_text

TAG_SIZES = (4, 8, 10, 16)
MIN_FRAMES = 12
_G722_UNUSED = bytes(b for b in range(256) if b & 0x3F < 4)
_G723_SIZES = {0: 24, 1: 20, 2: 4, 3: 1}


def _bits(frame: bytes, start: int, width: int) -> int:
    """``width`` bits of ``frame`` from bit ``start`` (MSB first)."""
    value = int.from_bytes(frame, "big") >> (8 * len(frame) - start - width)
    return value & ((1 << width) - 1)


def size_fit(view: StreamView, sizes: Callable[[int], tuple[tuple[int, ...], tuple[int, ...]]],
             name: str) -> tuple[int | None, int, str]:
    """(auth tag bytes or None, frame bytes per packet or 0, reason) from payload sizes vs the dominant step.

    ``sizes(step)`` gives the plaintext payload sizes for that step: the frame types a whole stream
    may use (tags are measured against these) and occasional extras (silence descriptors).
    """
    step = view.dominant_step
    mains, extras = sizes(step) if step else ((), ())
    if not mains or view.dominant_share < 0.6:
        return None, 0, f"{name}: no steady timestamp step to size frames against"
    plain = set(mains) | set(extras)
    lengths = [p.length for p in view.packets]
    exact = sum(1 for n in lengths if n in plain)
    what = f"{name}: timestamp step {step} means {'/'.join(map(str, (*mains, *extras)))} payload bytes"
    if exact >= 0.9 * len(lengths):
        tagged = sorted({t for n in lengths if n in mains for t in TAG_SIZES if n - t in mains})
        if tagged:
            return None, mains[0], what + (f"; {exact}/{len(lengths)} packets fit, but so would a smaller frame type "
                                           f"with a {tagged[0]}-byte tag")
        return None, mains[0], what + f"; {exact}/{len(lengths)} packets are exactly that: no room for an SRTP authentication tag"
    readings = Counter(tuple(sorted({n - m for m in mains if n - m in TAG_SIZES})) for n in lengths if n not in plain)
    if readings:
        tags, count = readings.most_common(1)[0]
        if count >= 0.9 * len(lengths) and len(tags) == 1:
            return tags[0], mains[0], (what + f"; {count}/{len(lengths)} packets carry exactly {tags[0]} bytes more: "
                                       "an SRTP authentication tag (the excess is constant, the frames are not)")
        if count >= 0.9 * len(lengths) and tags:
            return None, mains[0], what + (f"; {count}/{len(lengths)} packets fit a tag of {' or '.join(map(str, tags))} "
                                           "bytes after one frame type or another: the sizes cannot tell which")
    common = Counter(lengths).most_common(2)
    return None, mains[0], what + f"; sizes seen {', '.join(f'{n} B x{c}' for n, c in common)} do not fit"


MAX_FRAMES = 256
"""Frames a frame-level test reads at most: far more than a 1e-6 decision needs, and a 1200-byte video
payload read as 10-byte G.729 frames would otherwise cost thousands (and a binomial tail over them)."""


def _frames(view: StreamView, frame_bytes: int, frame_ticks: int) -> list[bytes]:
    """Whole frames at the start of each sampled payload (count from the step, else from the length), at most MAX_FRAMES."""
    step = view.dominant_step
    out: list[bytes] = []
    for payload in view.payloads:
        count = step // frame_ticks if step and step % frame_ticks == 0 else len(payload) // frame_bytes
        count = min(count, len(payload) // frame_bytes, MAX_FRAMES - len(out))
        out.extend(payload[i * frame_bytes : (i + 1) * frame_bytes] for i in range(count))
        if len(out) >= MAX_FRAMES:
            break
    return out


def _verdict(codec: str, clock: int, hits: int, total: int, p_random: float, facts: str,
             fit: tuple[int | None, int, str], minimum: int = MIN_FRAMES) -> CodecCheck:
    """Plaintext when >= 97% of at least ``minimum`` frames pass a test random frames pass with ``p_random``."""
    tag, _, fit_reason = fit
    chance = binomial_tail(total, max(1, -(-97 * total // 100)), p_random) if total else 1.0
    head = f"{codec}: {facts} in {hits}/{total} frames"
    if total >= minimum and hits >= 0.97 * total:
        plain: bool | None = True
        head += f" ({chance_text(chance)})"
    else:
        plain = None
        head += "" if total >= minimum else f" (need {minimum} frames to tell)"
    return CodecCheck(codec, "audio", clock, plain, (head, fit_reason), chance, tag)


def check_g711(view: StreamView, law: str) -> CodecCheck:
    """PCMA (law "a") or PCMU ("u"): samples as smooth as audio, one byte per 8 kHz tick."""
    codec = "PCMA" if law == "a" else "PCMU"
    fit = size_fit(view, lambda step: ((step,), ()), codec)
    frame = fit[1]
    scores = [g711_smoothness(p[:frame] if frame else p, law) for p in view.payloads if len(p) >= 32]
    smooth = sum(1 for s in scores if s < 0.75)
    # Random bytes decode to independent samples: smoothness ~1.4, below 0.75 in none of 10^5 trials (tests).
    return _verdict(codec, 8000, smooth, len(scores), 1e-5, "samples as smooth as audio (sample-to-sample change "
                    "under 0.75 of the level)", fit, minimum=4)


def check_g722(view: StreamView) -> CodecCheck:
    """G.722: 8000 Hz RTP clock (RFC 3551 quirk), one byte per tick, lower-band code words 0-3 never used."""
    fit = size_fit(view, lambda step: ((step,), ()), "G722")
    frame = fit[1]
    data = [p[:frame] if frame else p for p in view.payloads]
    total = sum(len(p) for p in data)
    bad = sum(len(p) - len(p.translate(None, _G722_UNUSED)) for p in data)
    chance = (15 / 16) ** total
    reasons = (f"G722: {bad} of {total} bytes use the lower-band code words 0-3 that the encoder never emits"
               + (f" ({chance_text(chance)})" if not bad else ""), fit[2])
    plain = True if total >= 256 and bad == 0 else None
    return CodecCheck("G722", "audio", 8000, plain, reasons, chance, fit[0])


def check_g729(view: StreamView) -> CodecCheck:
    """G.729/G.729A: 10-byte frames per 80 ticks, odd parity bit P0 over the 6 MSBs of pitch delay P1."""
    fit = size_fit(view, lambda step: ((step // 8,), (step // 8 + 2, 2)) if step % 80 == 0 else ((), ()), "G729")
    frames = _frames(view, 10, 80)
    # Bits: L0 1, L1 7, L2 5, L3 5, then P1 (8) at bit 18 and P0 at bit 26 (RFC 3551 §4.5.6 order).
    good = sum(1 for f in frames if (bin(_bits(f, 18, 6)).count("1") + _bits(f, 26, 1)) % 2 == 1)
    return _verdict("G729", 8000, good, len(frames), 0.5, "parity bit P0 matches pitch delay P1", fit)


def check_gsm(view: StreamView, efr: bool = False) -> CodecCheck:
    """GSM 06.10 (33-byte frames, signature nibble 0xD) or GSM-EFR (31 bytes, 0xC), 160 ticks per frame."""
    size, nibble, codec = (31, 0xC, "GSM-EFR") if efr else (33, 0xD, "GSM")
    fit = size_fit(view, lambda step: ((step // 160 * size,), ()) if step % 160 == 0 else ((), ()), codec)
    frames = _frames(view, size, 160)
    good = sum(1 for f in frames if f[0] >> 4 == nibble)
    return _verdict(codec, 8000, good, len(frames), 1 / 16, f"signature nibble 0x{nibble:X}", fit)


def check_ilbc(view: StreamView) -> CodecCheck:
    """iLBC: 38-byte 20 ms or 50-byte 30 ms frames; start-state index in range and empty-frame bit 0."""
    step = view.dominant_step or 0
    thirty = (step % 240 == 0 and step % 160 != 0) or (not step and view.payloads and len(view.payloads[0]) % 50 == 0)
    size, ticks, start_at, width, top = (50, 240, 40, 3, 5) if thirty else (38, 160, 20, 2, 3)
    fit = size_fit(view, lambda s: ((s // ticks * size,), ()) if s % ticks == 0 else ((), ()), "iLBC")
    frames = _frames(view, size, ticks)
    good = sum(1 for f in frames if 1 <= _bits(f, start_at, width) <= top and not f[-1] & 1)
    p_random = top / (1 << width) / 2
    return _verdict("iLBC", 8000, good, len(frames), p_random,
                    f"{'30' if thirty else '20'} ms frames with start index 1-{top} and empty-frame bit 0", fit)


def _g723_walk(payload: bytes) -> int | None:
    """Number of G.723.1 frames when the frame-type bits walk the payload exactly."""
    pos = count = 0
    while pos < len(payload) and count < 16:
        pos += _G723_SIZES[payload[pos] & 0x03]
        count += 1
    return count if pos == len(payload) else None


def check_g723(view: StreamView) -> CodecCheck:
    """G.723.1: 24 (6.3k), 20 (5.3k) or 4 (SID) byte frames per 240 ticks; frame type in the first byte's 2 LSBs."""
    fit = size_fit(view, lambda step: ((step // 240 * 24, step // 240 * 20), (4,)) if step % 240 == 0 else ((), ()),
                   "G723")
    payloads = view.payloads
    tag = fit[0]
    walked = [p[: len(p) - tag] if tag else p for p in payloads]
    good = sum(1 for p in walked if _g723_walk(p))
    # A 24- or 20-byte frame needs its two type bits right (1/4); lags ACL0/ACL2 <= 123 add little.
    return _verdict("G723", 8000, good, len(walked), 0.25, "frame-type bits walk the payload exactly", fit)
