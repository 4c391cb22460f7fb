"""Test helper: write classic pcap files of Ethernet/IPv4 UDP or TCP packets from raw payloads."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterable


def _checksum_free_ipv4(src: str, dst: str, proto: int, l4: bytes) -> bytes:
    total = 20 + len(l4)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, proto, 0,
                         bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split(".")))
    return header + l4


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return b"\x00" * 12 + b"\x08\x00" + _checksum_free_ipv4(src, dst, 17, l4)


def tcp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes, seq: int, flags: int = 0x18) -> bytes:
    l4 = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 5 << 4, flags, 65535, 0, 0) + payload
    return b"\x00" * 12 + b"\x08\x00" + _checksum_free_ipv4(src, dst, 6, l4)


def write_pcap(path: Path, frames: Iterable[bytes], start: float = 1_700_000_000.0, step: float = 0.001) -> None:
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, frame in enumerate(frames):
            ts = start + i * step
            sec = int(ts)
            fh.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
            fh.write(frame)
