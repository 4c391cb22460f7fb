"""Byte-exact builders of tiny captures for the reader tests (struct only, no third-party writer)."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, payload: bytes, seq: int = 1000, flags: int = 0x18, options: bytes = b"") -> bytes:
    doff = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags, 65535, 0, 0) + options + payload


def ipv4(src: str, dst: str, proto: int, l4: bytes, *, options: bytes = b"", flags_frag: int = 0,
         total_len: int | None = None) -> bytes:
    ihl = (20 + len(options)) // 4
    length = 20 + len(options) + len(l4) if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, 1, flags_frag, 64, proto, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return hdr + options + l4


def ipv6(src: str, dst: str, nh: int, l4: bytes, ext: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """``ext``: (header type, body) pairs; each body is padded so header + body is a multiple of 8."""
    chain = b""
    kinds = [k for k, _ in ext] + [nh]
    for i, (kind, body) in enumerate(ext):
        nxt = kinds[i + 1]
        if kind == 44:  # fragment header: fixed 8 bytes
            chain += struct.pack("!BB", nxt, 0) + body[:6].ljust(6, b"\0")
            continue
        total = (2 + len(body) + 7) // 8 * 8
        chain += struct.pack("!BB", nxt, total // 8 - 1) + body.ljust(total - 2, b"\0")
    first = kinds[0]
    return struct.pack("!IHBB16s16s", 0x60000000, len(chain) + len(l4), first, 64,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed) + chain + l4


def ether(l3: bytes, ethertype: int = 0x0800, vlans: Sequence[tuple[int, int]] = (), pad_to: int = 0) -> bytes:
    """Ethernet frame; ``vlans``: (TPID, VLAN id) tags outermost first."""
    tags = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in vlans)
    frame = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + tags + struct.pack("!H", ethertype) + l3
    return frame.ljust(pad_to, b"\0")


def sll(l3: bytes, ethertype: int = 0x0800) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", ethertype) + l3


def sll2(l3: bytes, ethertype: int = 0x0800) -> bytes:
    return struct.pack("!HHIHBB8s", ethertype, 0, 2, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + l3


def bsd_null(l3: bytes, family: int, endian: str = "<") -> bytes:
    return struct.pack(endian + "I", family) + l3


def pcap(frames: Sequence[bytes | tuple[float, bytes]], linktype: int = 1, endian: str = "<",
         nanoseconds: bool = False, snaplen: int = 262144) -> bytes:
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, item in enumerate(frames):
        ts, frame = item if isinstance(item, tuple) else (1_700_000_000.0 + i, item)
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nanoseconds else 1e6))
        out.append(struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame)
    return b"".join(out)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body = _pad4(body)
    length = 12 + len(body)
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def shb(endian: str = "<") -> bytes:
    return _block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype: int, endian: str = "<", tsresol: int | None = None, tsoffset: int | None = None,
        snaplen: int = 0) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
    if tsoffset is not None:
        opts += struct.pack(endian + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(endian + "HH", 0, 0)
    return _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, snaplen) + opts)


def epb(ifid: int, ticks: int, frame: bytes, endian: str = "<", caplen: int | None = None) -> bytes:
    cap = len(frame) if caplen is None else caplen
    return _block(endian, 6, struct.pack(endian + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, cap, len(frame)) + frame)


def spb(frame: bytes, endian: str = "<") -> bytes:
    return _block(endian, 3, struct.pack(endian + "I", len(frame)) + frame)


def obsolete_pb(ifid: int, ticks: int, frame: bytes, endian: str = "<") -> bytes:
    return _block(endian, 2, struct.pack(endian + "HHIIII", ifid, 0, ticks >> 32, ticks & 0xFFFFFFFF,
                                         len(frame), len(frame)) + frame)


def dsb(secrets: bytes, kind: int = 0x544C534B, endian: str = "<") -> bytes:
    return _block(endian, 0x0A, struct.pack(endian + "II", kind, len(secrets)) + secrets)


def custom_block(endian: str = "<", size: int = 8) -> bytes:
    return _block(endian, 0x40000BAD, b"\x01" * size)


def sample_udp_frames(count: int, payload_size: int = 100) -> list[bytes]:
    """Ethernet/IPv4/UDP frames with distinct ports, for seeds and scale tests."""
    return [ether(ipv4("10.0.0.1", "10.0.0.2", 17, udp(5000 + i % 1000, 8801, bytes([0x80, 111]) + bytes(payload_size - 2))))
            for i in range(count)]
