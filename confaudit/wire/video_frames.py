"""Video payload structure across the packets of a frame: VP8 (RFC 7741), VP9 (RFC 9628), H.264 (RFC 6184).

A frame is the run of consecutive packets sharing one timestamp. Random bytes fail the per-packet
descriptor bits and, much more often, the cross-packet rules: a frame starts with the start bit
(VP8 S=1 PID=0, VP9 B, H.264 FU-A S) and nowhere else, a picture ID stays constant inside a frame
and counts up across frames, the first slice of an H.264 access unit starts at macroblock 0.
"""

from __future__ import annotations

from collections.abc import Callable

from confaudit.wire.codecs import h264_payload, vp8_descriptor, vp9_descriptor
from confaudit.wire.media_stream import CodecCheck, StreamView, binomial_tail, chance_text

MIN_PACKETS = 8
H264_LEVELS = frozenset({9, 10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52, 60, 61, 62})
H264_PROFILES = frozenset({66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def exp_golomb(data: bytes, bit: int) -> tuple[int, int] | None:
    """(value, next bit) of an unsigned Exp-Golomb code ue(v) at ``bit`` of ``data`` (first 16 bytes)."""
    window = data[:16]
    total = 8 * len(window)
    value = int.from_bytes(window, "big")
    zeros = 0
    while bit < total and not (value >> (total - 1 - bit)) & 1:
        zeros += 1
        bit += 1
        if zeros > 31:
            return None
    if bit + zeros + 1 > total:
        return None
    return ((value >> (total - bit - zeros - 1)) & ((1 << (zeros + 1)) - 1)) - 1, bit + zeros + 1


def _frame_checks(view: StreamView, starts: Callable[[int], bool | None]) -> tuple[int, int]:
    """(frames whose start flags sit exactly on their first packet, frames judged), complete frames only."""
    good = judged = 0
    for frame, complete in zip(view.frames, view.complete):
        flags = [starts(i) for i in frame]
        if not complete or any(f is None for f in flags):
            continue
        judged += 1
        good += bool(flags[0]) and not any(flags[1:])
    return good, judged


def _markers(view: StreamView) -> str:
    ends = [view.packets[f[-1]].marker for f, c in zip(view.frames, view.complete) if c]
    inner = sum(1 for f in view.frames for i in f[:-1] if view.packets[i].marker)
    return f"marker on the last packet of {sum(ends)}/{len(ends)} complete frames, inside frames {inner} times"


def _picture_ids(view: StreamView, ids: list[int | None], modulo: Callable[[int], int]) -> tuple[int, int]:
    """(adjacent packet pairs whose picture IDs agree with their frames, pairs judged)."""
    good = judged = 0
    for i in range(len(view.packets) - 1):
        a, b = ids[i], ids[i + 1]
        if a is None or b is None or not view.adjacent(i):
            continue
        judged += 1
        same_frame = view.packets[i].ts == view.packets[i + 1].ts
        good += a == b if same_frame else b in (a, (a + 1) % modulo(a))
    return good, judged


def _verdict(codec: str, view: StreamView, passed: bool, chance: float, reasons: list[str]) -> CodecCheck:
    if view.clock is not None and view.clock != 90000:
        passed = False
        reasons.append(f"{codec}: measured clock {view.clock} Hz, but video RTP clocks are 90000")
    if passed:
        reasons[0] += f" ({chance_text(chance)})"
    return CodecCheck(codec, "video", 90000, True if passed else None, tuple(reasons), chance)


def check_vp8(view: StreamView) -> CodecCheck:
    """RFC 7741 descriptor bits, frame tags at frame starts, S/PID and picture IDs consistent across packets."""
    infos = [vp8_descriptor(p.payload) if p.payload else None for p in view.packets]
    present = [i for i in infos if i is not None]
    n = sum(1 for p in view.packets if p.payload)
    reserved = sum(1 for i in present if i.reserved_ok)
    heads = [i for i in present if i.keyframe is not None]
    good_heads = [i for i in heads if (i.keyframe and i.start_code_ok and i.width and i.height)
                  or (i.keyframe is False and (i.tag_version or 0) <= 3 and i.show_frame)]
    frames, judged = _frame_checks(view, lambda k: (info.start_of_partition and info.partition_id == 0)
                                   if (info := infos[k]) else None)
    ids, id_judged = _picture_ids(view, [i.picture_id if i else None for i in infos],
                                  lambda a: 1 << 15 if a >= 128 else 1 << 7)
    reasons = [f"VP8: reserved bits clear in {reserved}/{n}; {len(good_heads)}/{len(heads)} frame tags valid "
               f"({sum(1 for i in good_heads if i.keyframe)} key frames with 9D 01 2A); start bit on the first packet "
               f"only in {frames}/{judged} frames; picture IDs consistent in {ids}/{id_judged} pairs; {_markers(view)}"]
    passed = (n >= MIN_PACKETS and reserved >= 0.95 * n and len(heads) >= 2 and len(good_heads) >= 0.9 * len(heads)
              and frames >= 0.9 * judged and ids >= 0.95 * id_judged)
    chance = 0.5 ** reserved * 0.25 ** len(good_heads) * (1 / 128) ** ids
    return _verdict("VP8", view, passed, chance, reasons)


def check_vp9(view: StreamView) -> CodecCheck:
    """RFC 9628 descriptor, B on a frame's first packet and E on its last, frame marker 0b10 at each frame start."""
    infos = [vp9_descriptor(p.payload) if p.payload else None for p in view.packets]
    n = sum(1 for p in view.packets if p.payload)
    parsed = sum(1 for i in infos if i)
    # p.payload is set wherever i is (infos holds None for packets without payload)
    begins = [(i, p.payload[i.header_len:]) for p, i in zip(view.packets, infos) if i and i.begin_frame and p.payload]
    marker_ok = sum(1 for _, body in begins if body and body[0] >> 6 == 2)
    keys = [i for i, _ in begins if i.sync_code_ok is not None]
    sync = sum(1 for i in keys if i.sync_code_ok)
    follow = follow_judged = 0
    for k in range(len(infos) - 1):
        neighbours = view.adjacent(k) or not view.has_timing  # bare payload lists: assume list order
        a, b = infos[k], infos[k + 1]
        if a and b and neighbours:
            follow_judged += 1
            follow += a.end_frame == b.begin_frame
    ids, id_judged = _picture_ids(view, [i.picture_id if i else None for i in infos],
                                  lambda a: 1 << 15 if a >= 128 else 1 << 7)
    reasons = [f"VP9: descriptors parse in {parsed}/{n}; frame marker 0b10 at {marker_ok}/{len(begins)} frame starts; "
               f"E then B agree in {follow}/{follow_judged} adjacent pairs; key-frame sync code {sync}/{len(keys)}; "
               f"picture IDs consistent in {ids}/{id_judged} pairs; {_markers(view)}"]
    passed = (n >= MIN_PACKETS and parsed >= 0.95 * n and len(begins) >= 2 and marker_ok >= 0.9 * len(begins)
              and follow_judged >= 2 and follow >= 0.9 * follow_judged and sync >= 0.9 * len(keys)
              and ids >= 0.95 * id_judged)
    chance = 0.25 ** marker_ok * 0.5 ** follow * (1 / 128) ** ids * 2.0 ** (-24 * sync)
    return _verdict("VP9", view, passed, chance, reasons)


def _inner_nals(payload: bytes) -> list[bytes]:
    """NAL units a single-NAL or STAP-A packet carries (FU-A: none)."""
    kind = payload[0] & 0x1F
    if 1 <= kind <= 23:
        return [payload]
    out: list[bytes] = []
    pos = 1
    while kind == 24 and pos + 2 <= len(payload) and len(out) < 64:
        size = int.from_bytes(payload[pos : pos + 2], "big")
        out.append(payload[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return [nal for nal in out if nal]


def _slice_start(payload: bytes) -> bytes | None:
    """The slice header bytes (after the NAL header) when this packet starts a coded slice (type 1 or 5)."""
    if payload[0] & 0x1F == 28:
        if len(payload) > 2 and payload[1] & 0x80 and payload[1] & 0x1F in (1, 5):
            return payload[2:]
        return None
    return next((nal[1:] for nal in _inner_nals(payload) if nal[0] & 0x1F in (1, 5)), None)


def _slice_header_ok(body: bytes, first_in_frame: bool) -> bool:
    """first_mb_in_slice (0 for an access unit's first slice), slice_type 0-9, pic_parameter_set_id <= 255."""
    first_mb = exp_golomb(body, 0)
    slice_type = exp_golomb(body, first_mb[1]) if first_mb else None
    pps = exp_golomb(body, slice_type[1]) if slice_type else None
    return (first_mb is not None and slice_type is not None and pps is not None and slice_type[0] <= 9
            and pps[0] <= 255 and (first_mb[0] == 0 or not first_in_frame))


def _sps_ok(nal: bytes) -> bool:
    """A sequence parameter set with a real profile_idc, reserved_zero_2bits clear and a defined level."""
    return len(nal) >= 4 and nal[1] in H264_PROFILES and not nal[2] & 0x03 and nal[3] in H264_LEVELS


def check_h264(view: StreamView) -> CodecCheck:
    """NAL/STAP-A/FU-A validity, FU-A runs consistent, slice headers sane, every access unit carrying a slice."""
    payloads = [p.payload for p in view.packets]
    n = sum(1 for p in payloads if p)
    valid = sum(1 for p in payloads if p and (h := h264_payload(p)) and h.valid and h.nal.nal_type in (*range(1, 25), 28))
    fu_good = fu_judged = 0
    for k in range(len(payloads) - 1):
        a, b = payloads[k], payloads[k + 1]
        if a and b and len(a) > 1 and len(b) > 1 and a[0] & 0x1F == 28 and (view.adjacent(k) or not view.has_timing):
            fu_judged += 1
            if a[1] & 0x40:
                fu_good += b[0] & 0x1F != 28 or bool(b[1] & 0x80)
            else:
                fu_good += b[0] & 0x1F == 28 and not b[1] & 0x80 and (a[0] & 0x60, a[1] & 0x1F) == (b[0] & 0x60, b[1] & 0x1F)
    groups = list(zip(view.frames, view.complete)) if view.has_timing else [((k,), False) for k in range(len(payloads))]
    slices = slices_ok = bare = 0
    for frame, complete in groups:
        seen = False
        for k in frame:
            payload = payloads[k]
            body = _slice_start(payload) if payload else None
            if body is not None:
                slices += 1
                slices_ok += _slice_header_ok(body, complete and not seen)
                seen = True
        bare += complete and not seen and all(payloads[k] for k in frame)
    sps = [nal for p in payloads if p for nal in _inner_nals(p) if nal[0] & 0x1F == 7]
    sps_ok = sum(1 for nal in sps if _sps_ok(nal))
    reasons = [f"H264: NAL/STAP-A/FU-A headers valid in {valid}/{n}; FU-A runs consistent in {fu_good}/{fu_judged} "
               f"pairs; slice headers sane in {slices_ok}/{slices} slice starts; {bare} complete frames without a slice; "
               f"SPS valid {sps_ok}/{len(sps)}; "
               f"{_markers(view)}"]
    passed = (n >= MIN_PACKETS and valid >= 0.95 * n and fu_good >= 0.95 * fu_judged and slices >= 2
              and slices_ok >= 0.9 * slices and sps_ok == len(sps) and bare <= 0.1 * len(groups))
    chance = binomial_tail(n, valid, 0.41) * 0.5 ** (fu_good + slices_ok) * (1 / 64) ** sps_ok
    return _verdict("H264", view, passed, chance, reasons)
