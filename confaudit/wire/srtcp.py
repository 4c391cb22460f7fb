"""SRTCP proven by its trailer: the E bit and a 31-bit index that counts up across a sender's packets.

SRTCP (RFC 3711 §3.4) keeps the first 8 bytes (header, sender SSRC) in clear and appends
``E | SRTCP index`` (4 bytes), an optional MKI and the authentication tag: 10 bytes for the
HMAC-SHA1 profiles (RTCP always uses the 80-bit tag, RFC 5764 §4.1.2), none after the index for
AEAD-GCM (RFC 7714 §9: the 16-byte tag precedes the index). One trailer alone can be chance; an
index that increases by small steps over several packets of one sender cannot, so the layout is
proven only across packets (or by one packet whose clear compound walks exactly up to the
trailer, which random bytes do not).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from confaudit.wire.rtp import parse_rtcp

MAX_INDEX_STEP = 4096
"""Largest index increase between two sampled packets of one sender that still counts as a counter."""
_LAYOUTS = ((10, 0), (10, 1), (10, 2), (10, 4), (0, 0), (0, 1), (0, 2), (0, 4), (4, 0))
"""(bytes after the index, MKI bytes): HMAC-SHA1-80 tag, AEAD (tag before the index), HMAC-SHA1-32."""


@dataclass(frozen=True, slots=True)
class SrtcpEvidence:
    """What a flow's RTCP-shaped packets say about SRTCP."""

    srtcp_packets: int
    """Packets whose trailer fits the proven layout (E bit, index counting up)."""
    plain_packets: int
    """Packets whose RTCP compound walks exactly to the end: plain RTCP, no index, no tag."""
    encrypted: bool | None
    """E bit of the proven layout: True encrypted SRTCP, False authenticated-only; None when unproven."""
    layout: str | None
    """The proven layout, e.g. "index + 10-byte tag" or "AEAD (index last)"; None when unproven."""
    reason: str
    """One sentence with the measured facts."""


def _index_word(packet: bytes, after: int, mki: int) -> int | None:
    pos = len(packet) - after - mki - 4
    if pos < 8:
        return None
    return int.from_bytes(packet[pos: pos + 4], "big")


def _exact_prefix(packet: bytes, after: int, mki: int) -> bool:
    """The clear compound walks exactly up to the trailer (unencrypted SRTCP, E bit 0)."""
    compound = parse_rtcp(packet[: len(packet) - after - mki - 4])
    return compound is not None and compound.exact


def _layout_name(after: int, mki: int) -> str:
    base = {10: "index + 10-byte authentication tag", 4: "index + 4-byte authentication tag",
            0: "AEAD-GCM (16-byte tag inside, index last)"}[after]
    return base + (f", {mki}-byte MKI" if mki else "")


def srtcp_evidence(packets: Iterable[bytes], directions: Sequence[Hashable] | None = None) -> SrtcpEvidence:
    """Judge a flow's RTCP-shaped datagrams (arrival order) as SRTCP, plain RTCP, or unproven.

    ``directions`` (one key per packet, e.g. the sending side) lets a counter shared by all senders
    of one direction prove itself too: some stacks (Skype) keep one SRTCP context per direction.
    """
    raw = [bytes(p) for p in packets]
    keys = list(directions) if directions is not None else [None] * len(raw)
    items = [(p, k) for p, k in zip(raw, keys) if len(p) >= 8]
    plain = 0
    candidates: list[tuple[bytes, Hashable]] = []
    for p, k in items:
        compound = parse_rtcp(p)
        if compound is not None and compound.exact:
            plain += 1
        else:
            candidates.append((p, k))
    best: tuple[int, float, int, int, bool] | None = None  # (packets, -median step, after, mki, e_bit)
    for after, mki in _LAYOUTS:
        proven, step, e_bits = 0, 0.0, set()
        for grouping in (lambda p, k: (k, p[4:8]), lambda p, k: k):  # per sender, then per direction
            groups: dict[Hashable, list[int]] = {}
            for p, k in candidates:
                word = _index_word(p, after, mki)
                if word is not None:
                    groups.setdefault(grouping(p, k), []).append(word)
            counted = [(c, words) for words in groups.values() if (c := _counting(words))[0]]
            total = sum(c[0] for c, _ in counted)
            if total > proven:
                proven = total
                step = max(c[1] for c, _ in counted)
                e_bits = {bool(w >> 31) for _, words in counted for w in words}
        if not proven:
            single = [p for p, _k in candidates if (w := _index_word(p, after, mki)) is not None
                      and not w >> 31 and _exact_prefix(p, after, mki)]
            proven, step, e_bits = len(single), 0.0, {False} if single else set()
        # a shifted window over a real counter counts up too (by 256 per packet): the smallest steps win
        if proven and len(e_bits) == 1 and (best is None or (proven, -step) > best[:2]):
            best = (proven, -step, after, mki, e_bits.pop())
    if best is None:
        reason = (f"{plain} of {len(items)} RTCP packet(s) end exactly at their length fields (plain RTCP, no SRTCP index)"
                  if plain else f"no SRTCP index counting up across {len(candidates)} RTCP-shaped packet(s)")
        return SrtcpEvidence(0, plain, None, None, reason)
    count, _step, after, mki, e_bit = best
    state = "encrypted (E bit set)" if e_bit else "authenticated only (E bit clear)"
    return SrtcpEvidence(count, plain, e_bit, _layout_name(after, mki),
                         f"{count} RTCP packet(s) carry an SRTCP trailer ({_layout_name(after, mki)}) whose index counts "
                         f"up per sender: SRTCP, {state}")


def _counting(words: list[int]) -> tuple[int, float]:
    """(packets, median step) when the indices (E bit aside) increase by 1..MAX_INDEX_STEP in arrival order.

    Duplicated datagrams (the same index twice, as loopback captures hold them) are not counted
    against it. Needs at least two distinct indices; (0, 0.0) otherwise.
    """
    indices = [w & 0x7FFFFFFF for w in words]
    distinct = sorted(set(indices))
    if len(distinct) < 2:
        return 0, 0.0
    steps = [b - a for a, b in zip(distinct, distinct[1:])]
    in_order = sum(1 for a, b in zip(indices, indices[1:]) if b >= a)
    if max(steps) > MAX_INDEX_STEP or in_order < (len(indices) - 1) * 0.9:
        return 0, 0.0
    return len(indices), float(sorted(steps)[len(steps) // 2])
