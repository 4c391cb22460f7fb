"""Test helper for the wire tests: pull UDP/TCP payloads out of the real public captures.

Uses scapy's RawPcapReader (as the brief asks) and scapy's own link-layer dissection, so the
parsers under test are checked against an independent decoder of the outer layers.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple


class Segment(NamedTuple):
    """One transport payload from a capture."""

    frame: int
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


@functools.lru_cache(maxsize=16)
def transport_payloads(path: Path) -> tuple[Segment, ...]:
    """All non-empty UDP and TCP payloads of ``path`` in frame order."""
    from scapy.config import conf
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import RawPcapReader

    out: list[Segment] = []
    with RawPcapReader(str(path)) as reader:
        for frame, (raw, meta) in enumerate(reader, start=1):
            linktype = getattr(meta, "linktype", None) or reader.linktype
            cls = conf.l2types.get(linktype)
            if cls is None:
                continue
            pkt = cls(raw)
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            if ip is None:
                continue
            for layer, name in ((UDP, "udp"), (TCP, "tcp")):
                seg = pkt.getlayer(layer)
                if seg is not None:
                    payload = bytes(seg.payload)
                    if layer is UDP and seg.len:
                        payload = payload[: max(0, seg.len - 8)]
                    if isinstance(ip, IP) and layer is TCP:
                        end = ip.len - ip.ihl * 4 - seg.dataofs * 4
                        payload = payload[: max(0, end)]
                    if payload:
                        out.append(Segment(frame, name, ip.src, seg.sport, ip.dst, seg.dport, payload))
                    break
    return tuple(out)


def udp(path: Path) -> list[Segment]:
    """UDP payloads only."""
    return [s for s in transport_payloads(path) if s.proto == "udp"]


def tcp(path: Path) -> list[Segment]:
    """TCP payloads only."""
    return [s for s in transport_payloads(path) if s.proto == "tcp"]


def tcp_stream(path: Path, src: str, sport: int, dst: str, dport: int, limit: int = 1 << 16) -> bytes:
    """Naive in-order concatenation of one TCP direction (fine for the small handshakes tested)."""
    data = b""
    seen: set[bytes] = set()
    for s in tcp(path):
        if (s.src, s.sport, s.dst, s.dport) == (src, sport, dst, dport) and s.payload not in seen:
            seen.add(s.payload)
            data += s.payload
            if len(data) >= limit:
                break
    return data


def mutations(seed_inputs: list[bytes], count: int, seed: int = 7) -> list[bytes]:
    """Random and mutated byte strings for no-exception property tests (deterministic)."""
    import random

    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        if not seed_inputs or i % 4 == 0:
            out.append(rng.randbytes(rng.randrange(0, 200)))
            continue
        base = bytearray(rng.choice(seed_inputs))
        op = rng.randrange(4)
        if op == 0 and base:
            for _ in range(rng.randrange(1, 6)):
                base[rng.randrange(len(base))] = rng.randrange(256)
        elif op == 1:
            base = base[: rng.randrange(len(base) + 1)]
        elif op == 2:
            base += rng.randbytes(rng.randrange(1, 40))
        elif base:
            pos = rng.randrange(len(base))
            base[pos : pos + 2] = rng.choice([b"\xff\xff", b"\x00\x00", b"\xc0\x0c", b"\x7f\xff"])
        out.append(bytes(base))
    return out
