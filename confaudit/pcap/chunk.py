"""The contract between the capture reader and the analysis: a batch of packets as numpy columns.

One row per IPv4/IPv6 packet (non-IP frames are only counted by the reader); a datagram that came
in fragments is one row, in the frame of its last fragment, once reassembled. Addresses are held
as two uint64 halves of the IPv6 form; IPv4 is IPv4-mapped (``::ffff:a.b.c.d``), so one key type
covers both families. Payload bytes stay in ``buf`` and are only sliced for the few packets that
are dissected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

IPV4_MAPPED_HI = 0
IPV4_MAPPED_LO_PREFIX = 0xFFFF_0000_0000


def addr_to_str(hi: int, lo: int) -> str:
    """Render an address held as two uint64 halves (IPv4-mapped for IPv4)."""
    hi = int(hi)
    lo = int(lo)
    if hi == IPV4_MAPPED_HI and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFF_FFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet, for the slow path (handshakes, STUN, DNS, decryption)."""

    input_index: int
    """Index of the input file in the analysis (0-based)."""
    frame: int
    """1-based frame number in the file, as Wireshark counts it (a reassembled datagram: its last fragment's)."""
    ts: float
    """Capture timestamp, seconds since the epoch."""
    ip_version: int
    """4 or 6."""
    proto: int
    """IP protocol number of the transport (6 TCP, 17 UDP, ...)."""
    src: str
    """Source address, text form."""
    sport: int
    """Source port (0 when the transport has none or the packet is a non-first fragment)."""
    dst: str
    """Destination address, text form."""
    dport: int
    """Destination port."""
    tcp_flags: int
    """TCP flags byte (0 for UDP)."""
    tcp_seq: int
    """TCP sequence number (0 for UDP)."""
    payload: bytes
    """Transport payload as captured (may be shorter than the IP length says if snapped)."""
    wire_len: int
    """Original frame length on the wire (a reassembled datagram: the sum over its fragments' frames)."""


@dataclass(frozen=True, slots=True)
class PacketChunk:
    """A batch of consecutive packets from one capture file, as parallel numpy columns."""

    input_index: int
    """Index of the input file in the analysis (0-based)."""
    frame: Any
    """int64[n]: 1-based frame number of each row in its file (a reassembled datagram: its last fragment's)."""
    ts: Any
    """float64[n]: timestamp, seconds since the epoch."""
    wire_len: Any
    """int64[n]: original frame length (a reassembled datagram: the sum over its fragments' frames)."""
    ip_version: Any
    """uint8[n]: 4 or 6."""
    proto: Any
    """uint8[n]: IP protocol of the transport (6, 17, ...); for fragments the inner protocol."""
    src_hi: Any
    """uint64[n]: upper 64 bits of the source address (IPv4-mapped form for IPv4)."""
    src_lo: Any
    """uint64[n]: lower 64 bits of the source address."""
    dst_hi: Any
    """uint64[n]: upper 64 bits of the destination address."""
    dst_lo: Any
    """uint64[n]: lower 64 bits of the destination address."""
    sport: Any
    """uint16[n]: source port, 0 when not TCP/UDP or a non-first fragment."""
    dport: Any
    """uint16[n]: destination port."""
    tcp_flags: Any
    """uint8[n]: TCP flags (0 for others)."""
    tcp_seq: Any
    """uint32[n]: TCP sequence number (0 for others)."""
    fragment: Any
    """bool[n]: True for IP fragments (L4 header absent or payload incomplete); the reader reassembles
    fragments, so its rows are never fragments."""
    payload_off: Any
    """int64[n]: offset of the transport payload in ``buf``."""
    payload_len: Any
    """int64[n]: transport payload length actually available (IP length, clipped to captured bytes)."""
    head: Any
    """uint8[n, 16]: first 16 payload bytes, zero-padded."""
    buf: Any
    """The chunk's byte buffer (bytes, bytearray or memoryview); payloads are slices of it."""

    def __len__(self) -> int:
        return len(self.frame)

    def payload(self, i: int) -> bytes:
        """Transport payload of row ``i`` as bytes."""
        off = int(self.payload_off[i])
        return bytes(self.buf[off: off + int(self.payload_len[i])])

    def packet(self, i: int) -> Packet:
        """Row ``i`` as a :class:`Packet` (slow path)."""
        return Packet(
            input_index=self.input_index,
            frame=int(self.frame[i]),
            ts=float(self.ts[i]),
            ip_version=int(self.ip_version[i]),
            proto=int(self.proto[i]),
            src=addr_to_str(self.src_hi[i], self.src_lo[i]),
            sport=int(self.sport[i]),
            dst=addr_to_str(self.dst_hi[i], self.dst_lo[i]),
            dport=int(self.dport[i]),
            tcp_flags=int(self.tcp_flags[i]),
            tcp_seq=int(self.tcp_seq[i]),
            payload=self.payload(i),
            wire_len=int(self.wire_len[i]),
        )
