"""Variable-size audio payloads: Opus packet framing (RFC 6716 §3, RFC 7587), AMR and AMR-WB
(RFC 4867 octet-aligned and bandwidth-efficient), DTMF telephone-events (RFC 4733), comfort noise (RFC 3389).
"""

from __future__ import annotations

from collections import Counter

from confaudit.wire.codecs import opus_toc
from confaudit.wire.media_stream import CodecCheck, StreamView, binomial_tail, chance_text

MIN_PACKETS = 8
_OPUS_MAX_FRAME = 1275
# RFC 4867 Table 1 / 3GPP TS 26.201: speech bits per frame type (index = FT); None = not a valid type.
_AMR_BITS = (95, 103, 118, 134, 148, 159, 204, 244, 39, 43, 38, 37, None, None, None, 0)
_AMR_WB_BITS = (132, 177, 253, 285, 317, 365, 397, 461, 477, 40, None, None, None, None, 0, 0)


def opus_duration(packet: bytes) -> float | None:
    """Milliseconds of audio in an Opus packet when its framing (RFC 6716 §3.2) is valid, else None."""
    toc = opus_toc(packet)
    if toc is None:
        return None
    rest = len(packet) - 1
    code = toc.frame_count_code
    if code == 0:
        frames = 1 if rest <= _OPUS_MAX_FRAME else 0
    elif code == 1:
        frames = 2 if rest % 2 == 0 and rest // 2 <= _OPUS_MAX_FRAME else 0
    elif code == 2:
        frames = _opus_code2(packet)
    else:
        frames = _opus_code3(packet, toc.frame_ms)
    return frames * toc.frame_ms if frames else None


def _opus_size(packet: bytes, pos: int) -> tuple[int, int] | None:
    """(frame length, bytes used) of a 1-2 byte Opus frame length at ``pos``."""
    if pos >= len(packet):
        return None
    first = packet[pos]
    if first < 252:
        return first, 1
    if pos + 1 >= len(packet):
        return None
    return first + 4 * packet[pos + 1], 2


def _opus_code2(packet: bytes) -> int:
    size = _opus_size(packet, 1)
    if size is None:
        return 0
    rest = len(packet) - 1 - size[1]
    return 2 if size[0] <= rest and size[0] <= _OPUS_MAX_FRAME and rest - size[0] <= _OPUS_MAX_FRAME else 0


def _opus_code3(packet: bytes, frame_ms: float) -> int:
    if len(packet) < 2:
        return 0
    vbr, padded, count = packet[1] & 0x80, packet[1] & 0x40, packet[1] & 0x3F
    if count == 0 or count * frame_ms > 120:
        return 0
    pos, padding = 2, 0
    while padded:
        if pos >= len(packet):
            return 0
        padding += 254 if packet[pos] == 255 else packet[pos]
        padded = packet[pos] == 255
        pos += 1
    rest = len(packet) - pos - padding
    if rest < 0:
        return 0
    if not vbr:
        return count if rest % count == 0 and rest // count <= _OPUS_MAX_FRAME else 0
    total = 0
    for _ in range(count - 1):
        size = _opus_size(packet, pos)
        if size is None:
            return 0
        pos += size[1]
        total += size[0]
    last = len(packet) - pos - padding - total
    return count if 0 <= last <= _OPUS_MAX_FRAME else 0


def check_opus(view: StreamView) -> CodecCheck:
    """Few TOC values, valid framing, and (with timing) each packet's duration is its timestamp step at 48 kHz."""
    payloads = view.payloads
    reasons: list[str] = []
    durations = [opus_duration(p) for p in payloads]
    valid = sum(1 for d in durations if d)
    tocs = Counter(p[0] for p in payloads)
    top = sum(n for _, n in tocs.most_common(2))
    n = len(payloads)
    chance = min(1.0, 256 * 255 / 2 * binomial_tail(n, max(1, -(-9 * n // 10)), 2 / 256))
    reasons.append(f"opus: {top}/{n} packets share 2 TOC bytes ({', '.join(f'0x{t:02x}' for t, _ in tocs.most_common(2))}); "
                   f"framing valid in {valid}/{n}")
    ok = n >= MIN_PACKETS and top >= 0.9 * n and valid >= 0.95 * n
    if view.has_timing:
        matched = consistent = pairs = 0
        for i, packet in enumerate(view.packets[:-1]):
            nxt = view.packets[i + 1]
            if not view.adjacent(i) or not packet.payload or nxt.ts <= packet.ts:
                continue
            ticks = round((opus_duration(packet.payload) or 0) * 48)
            step = nxt.ts - packet.ts
            pairs += 1
            matched += step == ticks
            consistent += bool(ticks) and (step == ticks or step % ticks == 0)  # DTX skips whole frames
        reasons.append(f"opus: TOC duration equals the timestamp step (48 kHz) in {matched}/{pairs} consecutive pairs, "
                       f"a whole number of frames in {consistent}/{pairs}")
        ok = ok and pairs >= MIN_PACKETS - 1 and matched >= 0.5 * pairs and consistent >= 0.9 * pairs
        if view.clock is not None and view.clock != 48000:
            ok = False
            reasons.append(f"opus: measured clock {view.clock} Hz, but Opus RTP always uses 48000 (RFC 7587)")
    if ok:
        reasons[0] += f" ({chance_text(chance)}); only the TOC and framing are checked: an inner E2EE layer that leaves the TOC clear passes too"
    return CodecCheck("opus", "audio", 48000, True if ok else None, tuple(reasons), chance)


def _amr_octet(payload: bytes, table: tuple[int | None, ...]) -> int | None:
    """Frame count of an octet-aligned AMR payload whose CMR/ToC/frame sizes sum exactly to its length."""
    if len(payload) < 2 or payload[0] & 0x0F or (payload[0] >> 4 != 15 and table[payload[0] >> 4] in (None, 0)):
        return None
    pos, size, count = 1, 0, 0
    while True:
        if pos >= len(payload) or count >= 16:
            return None
        toc = payload[pos]
        bits = table[(toc >> 3) & 0x0F]
        if bits is None or toc & 0x03:
            return None
        size += (bits + 7) // 8
        pos += 1
        count += 1
        if not toc & 0x80:
            break
    return count if pos + size == len(payload) else None


def _amr_efficient(payload: bytes, table: tuple[int | None, ...]) -> int | None:
    """Frame count of a bandwidth-efficient AMR payload: 4-bit CMR, 6-bit ToCs, packed bits, zero padding."""
    value, total = int.from_bytes(payload, "big"), 8 * len(payload)
    if total < 10 or (value >> (total - 4) != 15 and table[value >> (total - 4)] in (None, 0)):
        return None
    pos, bits, count = 4, 0, 0
    while True:
        if pos + 6 > total or count >= 16:
            return None
        toc = (value >> (total - pos - 6)) & 0x3F
        frame_bits = table[(toc >> 1) & 0x0F]
        if frame_bits is None:
            return None
        bits += frame_bits
        pos += 6
        count += 1
        if not toc & 0x20:
            break
    padding = total - pos - bits
    return count if 0 <= padding < 8 and not value & ((1 << padding) - 1) else None


def check_amr(view: StreamView, wideband: bool) -> CodecCheck:
    """AMR (8 kHz, 160 ticks/frame) or AMR-WB (16 kHz, 320): CMR, ToC and frame sizes walk each payload."""
    codec, table, ticks = ("AMR-WB", _AMR_WB_BITS, 320) if wideband else ("AMR", _AMR_BITS, 160)
    payloads = view.payloads
    best_name = "octet-aligned"
    best: list[int | None] = []
    for name, walk in (("octet-aligned", _amr_octet), ("bandwidth-efficient", _amr_efficient)):
        counts = [walk(p, table) for p in payloads]
        if sum(1 for c in counts if c) > sum(1 for c in best if c) or not best:
            best_name, best = name, counts
    walked = sum(1 for c in best if c)
    n = len(payloads)
    chance = binomial_tail(n, max(1, -(-95 * n // 100)), 1 / 32)
    reasons = [f"{codec}: {best_name} CMR/ToC/frame sizes walk {walked}/{n} payloads exactly"]
    ok = n >= MIN_PACKETS and walked >= 0.95 * n
    step = view.dominant_step
    if ok and view.has_timing and step:
        frames = Counter(c for c in best if c).most_common(1)[0][0]
        if frames * ticks != step:
            ok = False
            reasons.append(f"{codec}: {frames} frame(s) per packet would step {frames * ticks} ticks, measured {step}")
    if view.clock is not None and view.clock != (16000 if wideband else 8000):
        ok = False
        reasons.append(f"{codec}: measured clock {view.clock} Hz does not fit")
    if ok:
        reasons[0] += f" ({chance_text(chance)})"
    return CodecCheck(codec, "audio", 16000 if wideband else 8000, True if ok else None, tuple(reasons), chance)


def check_telephone_event(view: StreamView) -> CodecCheck:
    """RFC 4733 events: 4-byte blocks, reserved bit 0; one event per timestamp with a growing duration."""
    payloads = view.payloads
    blocks = sum(1 for p in payloads if p and len(p) % 4 == 0 and not p[1] & 0x40)
    grows = steady = 0
    for frame in view.frames:
        for a, b in zip(frame, frame[1:]):
            pa, pb = view.packets[a].payload, view.packets[b].payload
            if pa and pb and len(pa) >= 4 and len(pb) >= 4:
                steady += pa[0] == pb[0]
                grows += int.from_bytes(pb[2:4], "big") >= int.from_bytes(pa[2:4], "big")
    n = len(payloads)
    chance = binomial_tail(n, n, 0.5) * (1 / 256) ** steady
    ok = n >= MIN_PACKETS and blocks == n and grows == steady and chance < 1e-6
    reasons = (f"telephone-event: {blocks}/{n} payloads are 4-byte event blocks with the reserved bit clear; "
               f"event constant and duration growing in {grows}/{steady} same-timestamp pairs"
               + (f" ({chance_text(chance)})" if ok else ""),)
    return CodecCheck("telephone-event", "audio", None, True if ok else None, reasons, chance)


def check_cn(view: StreamView) -> CodecCheck:
    """RFC 3389 comfort noise: a noise level byte 0-127, then at most a few reflection coefficients."""
    payloads = view.payloads
    good = sum(1 for p in payloads if p and p[0] < 128 and len(p) <= 16)
    n = len(payloads)
    chance = binomial_tail(n, n, 0.5)
    ok = n >= 20 and good == n
    reasons = (f"CN: {good}/{n} payloads are a noise level 0-127 plus at most 15 coefficient bytes"
               + (f" ({chance_text(chance)})" if ok else ""),)
    return CodecCheck("CN", "audio", None, True if ok else None, reasons, chance)
