"""UDP datagrams of a capture, plus key logs embedded in it (pcapng Decryption Secrets Blocks).

Uses the project's capture reader (``confaudit.pcap.reader``); if it is not importable, falls back to
scapy's raw pcap/pcapng readers with a minimal Ethernet/SLL/loopback/raw-IP decoder.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram."""

    frame: int
    """1-based frame number in its file."""
    src: tuple[str, int]
    """(address, port) of the sender."""
    dst: tuple[str, int]
    """(address, port) of the receiver."""
    payload: bytes
    """UDP payload."""


@dataclass
class ReadStatus:
    """How far a capture was read."""

    complete: bool = True
    """False when the reader stopped early or reported damage."""
    problem: str | None = None
    """One-line description of what went wrong."""
    dsb_keylogs: list[str] | None = None
    """Key-log texts embedded in the capture (pcapng DSB)."""


def read_datagrams(path: Path, input_index: int, status: ReadStatus,
                   ports: frozenset[int] | None = None) -> Iterator[Datagram]:
    """Yield UDP datagrams (only those with a port in ``ports`` when given); damage goes to ``status``.

    Rows are selected on the reader's numpy columns, so packets that cannot matter (TCP, other
    flows) never become Python objects.
    """
    try:
        from confaudit.pcap.reader import CaptureReader
    except ImportError:
        yield from _scapy_datagrams(path, status)
        return
    import numpy as np

    from confaudit.errors import InputError
    from confaudit.pcap.chunk import addr_to_str

    wanted = None if ports is None else np.fromiter(sorted(ports), dtype=np.uint16, count=len(ports))
    names: dict[tuple[int, int], str] = {}

    def name(hi: int, lo: int) -> str:
        key = (int(hi), int(lo))
        if key not in names:
            names[key] = addr_to_str(*key)
        return names[key]

    try:
        reader = CaptureReader(path, input_index)
        for chunk in reader.chunks():
            mask = chunk.proto == 17
            if wanted is not None:
                mask &= np.isin(chunk.sport, wanted) | np.isin(chunk.dport, wanted)
            for i in np.flatnonzero(mask):
                yield Datagram(int(chunk.frame[i]), (name(chunk.src_hi[i], chunk.src_lo[i]), int(chunk.sport[i])),
                               (name(chunk.dst_hi[i], chunk.dst_lo[i]), int(chunk.dport[i])), chunk.payload(i))
    except InputError as exc:
        status.complete = False
        status.problem = str(exc)
        return
    report = reader.report
    if not report.complete:
        status.complete = False
        status.problem = report.warnings[0] if report.warnings else "capture read only in part"
    status.dsb_keylogs = [_text(t) for t in report.dsb_keylogs] or None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else bytes(value).decode("ascii", "replace")


def _ip_udp(data: bytes) -> tuple[tuple[str, int], tuple[str, int], bytes] | None:
    if not data:
        return None
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        ihl = (data[0] & 0x0F) * 4
        if data[9] != 17 or struct.unpack("!H", data[6:8])[0] & 0x1FFF or len(data) < ihl + 8:
            return None
        src, dst = str(ipaddress.IPv4Address(data[12:16])), str(ipaddress.IPv4Address(data[16:20]))
        udp = data[ihl:]
    elif version == 6 and len(data) >= 48:
        if data[6] != 17:
            return None
        src, dst = str(ipaddress.IPv6Address(data[8:24])), str(ipaddress.IPv6Address(data[24:40]))
        udp = data[40:]
    else:
        return None
    sport, dport, length = struct.unpack("!HHH", udp[:6])
    return (src, sport), (dst, dport), udp[8:max(8, min(length, len(udp)))]


def _l3(linktype: int, frame: bytes) -> bytes | None:
    if linktype == 1:  # Ethernet, with up to two VLAN tags
        pos, ethertype = 12, struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
        while ethertype in (0x8100, 0x88A8) and len(frame) >= pos + 6:
            pos += 4
            ethertype = struct.unpack("!H", frame[pos:pos + 2])[0]
        return frame[pos + 2:] if ethertype in (0x0800, 0x86DD) else None
    if linktype in (0, 108):  # BSD loopback
        return frame[4:]
    if linktype == 113:  # Linux cooked
        return frame[16:]
    if linktype == 276:  # Linux cooked v2
        return frame[20:]
    if linktype in (101, 228, 229, 12, 14):
        return frame
    return None


def _scapy_datagrams(path: Path, status: ReadStatus) -> Iterator[Datagram]:
    from scapy.utils import RawPcapReader

    frame_no = 0
    try:
        with RawPcapReader(str(path)) as reader:
            linktype = getattr(reader, "linktype", 1)
            for item in reader:
                frame_no += 1
                data, meta = item
                lt = getattr(meta, "linktype", None) or linktype
                l3 = _l3(lt, data)
                parsed = _ip_udp(l3) if l3 else None
                if parsed:
                    yield Datagram(frame_no, parsed[0], parsed[1], parsed[2])
    except (OSError, EOFError, struct.error, ValueError) as exc:
        status.complete = False
        status.problem = f"capture read stopped at frame {frame_no + 1}: {exc}"
