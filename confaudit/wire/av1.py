"""AV1 RTP payloads (AOMedia "RTP Payload Format for AV1" v1.0): aggregation header and OBU elements.

Aggregation header |Z|Y|W W|N|-|-|-|: Z first element continues an OBU from the previous packet,
Y last element continues into the next, W element count (0: every element has a LEB128 length),
N first packet of a coded video sequence. Each element that starts an OBU begins with an OBU header
|F|type(4)|X|S|R| (AV1 spec §5.3.1): forbidden bit 0, a defined type, reserved bit 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from confaudit.wire.media_stream import CodecCheck, StreamView, chance_text

MIN_PACKETS = 8
# 1 sequence header, 2 temporal delimiter, 3 frame header, 4 tile group, 5 metadata, 6 frame,
# 7 redundant frame header, 8 tile list, 15 padding.
OBU_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 15})
_MAX_ELEMENTS = 64


@dataclass(frozen=True, slots=True)
class Av1Payload:
    """One AV1 RTP payload as far as its elements walk."""

    continues: bool
    """Z: the first element continues an OBU fragment."""
    to_continue: bool
    """Y: the last element continues in the next packet."""
    new_sequence: bool
    """N: first packet of a coded video sequence."""
    obu_types: tuple[int, ...]
    """Types of the OBUs that start in this packet."""
    valid: bool
    """Elements walk exactly to the end and every OBU header that starts here is well formed."""


def leb128(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, next position) of a LEB128 integer (at most 8 bytes, AV1 §4.10.5)."""
    value = 0
    for i in range(8):
        if pos + i >= len(data):
            return None
        value |= (data[pos + i] & 0x7F) << (7 * i)
        if not data[pos + i] & 0x80:
            return value, pos + i + 1
    return None


def _obu_header_ok(element: bytes, fragment: bool) -> int | None:
    """The OBU type when ``element`` starts with a well-formed OBU header (and extension), else None.

    ``fragment``: the element is cut short (Y), so an obu_size field may point past it.
    """
    if not element:
        return None
    head = element[0]
    kind = (head >> 3) & 0x0F
    if head & 0x80 or head & 0x01 or kind not in OBU_TYPES:
        return None
    if head & 0x04 and (len(element) < 2 or element[1] & 0x07):
        return None  # extension header: temporal_id(3) spatial_id(2) reserved(3) = 0
    if head & 0x02 and not fragment:  # obu_size present: it must fit inside the element
        size = leb128(element, 2 if head & 0x04 else 1)
        if size is None or size[0] + size[1] > len(element):
            return None
    return kind


def av1_payload(payload: bytes) -> Av1Payload | None:
    """Walk an AV1 RTP payload; None when empty."""
    if not payload:
        return None
    head = payload[0]
    z, y, count, n = bool(head & 0x80), bool(head & 0x40), (head >> 4) & 0x03, bool(head & 0x08)
    elements: list[bytes] = []
    pos, valid = 1, not (n and z)
    while pos < len(payload) and len(elements) < _MAX_ELEMENTS:
        if count and len(elements) == count - 1:
            elements.append(payload[pos:])
            pos = len(payload)
            break
        size = leb128(payload, pos)
        if size is None or size[0] == 0 or size[1] + size[0] > len(payload):
            valid = False
            break
        elements.append(payload[size[1] : size[1] + size[0]])
        pos = size[1] + size[0]
    valid = valid and pos == len(payload) and bool(elements) and (not count or len(elements) == count)
    types: list[int] = []
    for index, element in enumerate(elements):
        if index == 0 and z:
            continue
        kind = _obu_header_ok(element, y and index == len(elements) - 1)
        if kind is None:
            valid = False
            break
        types.append(kind)
    return Av1Payload(z, y, n, tuple(types), valid)


def check_av1(view: StreamView) -> CodecCheck:
    """Elements walk exactly, OBU headers well formed, and a Y packet is followed by a Z packet."""
    parsed = [av1_payload(p.payload) if p.payload else None for p in view.packets]
    n = sum(1 for p in view.packets if p.payload)
    valid = sum(1 for a in parsed if a and a.valid)
    headers = sum(len(a.obu_types) for a in parsed if a and a.valid)
    chain = chain_judged = 0
    for k in range(len(parsed) - 1):
        a, b = parsed[k], parsed[k + 1]
        if a and b and view.adjacent(k):
            chain_judged += 1
            chain += a.to_continue == b.continues
    reasons = [f"AV1: aggregation headers and OBU elements walk exactly in {valid}/{n} payloads ({headers} OBU headers "
               f"well formed); Y then Z agree in {chain}/{chain_judged} adjacent pairs"]
    # A random OBU header byte passes with 9/16 * 1/4; a random Y/Z pair agrees half the time.
    chance = (9 / 64) ** headers * 0.5 ** chain
    passed = n >= MIN_PACKETS and valid >= 0.95 * n and headers >= 4 and chain >= 0.95 * chain_judged
    if view.clock is not None and view.clock != 90000:
        passed = False
        reasons.append(f"AV1: measured clock {view.clock} Hz, but video RTP clocks are 90000")
    if passed:
        reasons[0] += f" ({chance_text(chance)})"
    return CodecCheck("AV1", "video", 90000, True if passed else None, tuple(reasons), chance)
