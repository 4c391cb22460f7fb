"""Live packet capture on one interface into a pcapng file, written incrementally.

scapy's PF_PACKET socket does the receiving (no libpcap/tcpdump needed); this module writes the
pcapng blocks itself so every batch is flushed to disk as it arrives and a crash leaves a
readable file. There is no BPF: an optional port filter runs in Python on the raw header bytes.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, BinaryIO

from confaudit.errors import InputError

if TYPE_CHECKING:
    from scapy.supersocket import SuperSocket

_SNAPLEN = 262_144
_BATCH = 64
_RCVBUF = 32 * 1024 * 1024
_ARPHRD_TO_LINKTYPE = {1: 1, 772: 1, 65534: 101, 776: 101, 778: 101}
"""Linux ARPHRD_* device type -> pcap LINKTYPE (Ethernet for ether and loopback, raw IP for tun)."""
_SOL_PACKET = 263
_PACKET_STATISTICS = 6
"""getsockopt(SOL_PACKET, PACKET_STATISTICS): struct tpacket_stats {tp_packets, tp_drops}, reset on each read."""
_STATS_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class SnifferStats:
    """Counters of what the sniffer wrote so far."""

    packets: int
    """Packets written to the file."""
    bytes: int
    """Captured bytes written (frame lengths)."""
    udp_bytes: int
    """Bytes of frames carrying UDP."""
    seconds: float
    """Seconds since start()."""
    dropped_by_filter: int
    """Frames seen but not written because of the port filter."""
    kernel_packets: int | None = None
    """Frames the kernel handed to the socket, dropped ones included (PACKET_STATISTICS); None if unreadable."""
    kernel_drops: int | None = None
    """Frames the kernel dropped because the socket's buffer was full (PACKET_STATISTICS tp_drops); None if
    unreadable. Anything but 0 means the file is missing packets."""

    @property
    def udp_bytes_per_second(self) -> float:
        """Average UDP throughput since start."""
        return self.udp_bytes / self.seconds if self.seconds > 0 else 0.0


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def pcapng_header(linktype: int, iface: str) -> bytes:
    """Section Header Block + one Interface Description Block (µs resolution, if_name option)."""
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    name = iface.encode("utf-8", "replace")[:200]
    options = struct.pack("<HH", 2, len(name)) + _pad4(name) + struct.pack("<HH", 0, 0)
    idb = _block(0x00000001, struct.pack("<HHI", linktype, 0, _SNAPLEN) + options)
    return shb + idb


def pcapng_packet(frame: bytes, ts: float) -> bytes:
    """One Enhanced Packet Block on interface 0 with a microsecond timestamp."""
    micros = int(round(ts * 1_000_000))
    body = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame), len(frame)) + _pad4(frame)
    return _block(0x00000006, body)


def pcapng_statistics(ts: float, kernel_packets: int | None, kernel_drops: int | None, delivered: int,
                      accepted: int | None) -> bytes:
    """Interface Statistics Block for interface 0 (isb_ifrecv, isb_osdrop, isb_filteraccept, isb_usrdeliv),
    so the file itself says what the kernel dropped; counters that could not be read are left out."""
    micros = int(round(ts * 1_000_000))
    comment = b"Counters provided by confaudit (Linux PACKET_STATISTICS)"
    options = struct.pack("<HH", 1, len(comment)) + _pad4(comment)
    for code, value in ((4, kernel_packets), (6, accepted), (7, kernel_drops), (8, delivered)):
        if value is not None:
            options += struct.pack("<HHQ", code, 8, value)
    options += struct.pack("<HH", 0, 0)
    return _block(0x00000005, struct.pack("<III", 0, micros >> 32, micros & 0xFFFFFFFF) + options)


def frame_ports(frame: bytes, linktype: int) -> tuple[int, int, int] | None:
    """(ip protocol, sport, dport) of an Ethernet or raw-IP frame, or None when not TCP/UDP over IP."""
    off = 0
    if linktype == 1:
        if len(frame) < 14:
            return None
        ethertype = int.from_bytes(frame[12:14], "big")
        off = 14
        while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            ethertype = int.from_bytes(frame[off + 2: off + 4], "big")
            off += 4
        if ethertype not in (0x0800, 0x86DD):
            return None
    if len(frame) <= off:
        return None
    version = frame[off] >> 4
    if version == 4:
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9] if len(frame) > off + 9 else -1
        l4 = off + ihl
    elif version == 6:
        proto = frame[off + 6] if len(frame) > off + 6 else -1
        l4 = off + 40
    else:
        return None
    if proto not in (6, 17) or len(frame) < l4 + 4:
        return None
    return proto, int.from_bytes(frame[l4: l4 + 2], "big"), int.from_bytes(frame[l4 + 2: l4 + 4], "big")


def _linktype_of(iface: str) -> int:
    try:
        arphrd = int(Path(f"/sys/class/net/{iface}/type").read_text().strip())
    except (OSError, ValueError):
        raise InputError(iface, "no such network interface") from None
    return _ARPHRD_TO_LINKTYPE.get(arphrd, 1)


def _grow_receive_buffer(raw_socket: object) -> None:
    """Bursts (a video keyframe, loopback's doubled frames) overflow the default ~200 KB buffer."""
    import socket

    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            raw_socket.setsockopt(socket.SOL_SOCKET, option, _RCVBUF)  # type: ignore[attr-defined]
            return
        except OSError:
            continue


class PacketSniffer:
    """Capture every frame on ``iface`` into ``out_path`` (pcapng) from a background thread.

    ``port_filter``: keep only TCP/UDP frames with a source or destination port in this set.
    """

    def __init__(self, iface: str, out_path: str | Path, port_filter: Iterable[int] | None = None) -> None:
        self.iface = iface
        self.out_path = Path(out_path)
        self.port_filter = frozenset(int(p) for p in port_filter) if port_filter is not None else None
        self.linktype = _linktype_of(iface)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._packets = 0
        self._bytes = 0
        self._udp_bytes = 0
        self._filtered = 0
        self._kernel_packets: int | None = 0
        self._kernel_drops: int | None = 0
        self._started = 0.0

    @property
    def stats(self) -> SnifferStats:
        with self._lock:
            elapsed = time.monotonic() - self._started if self._started else 0.0
            return SnifferStats(self._packets, self._bytes, self._udp_bytes, elapsed, self._filtered,
                                self._kernel_packets, self._kernel_drops)

    def start(self) -> None:
        """Open the socket and the file, then capture until stop(); returns once capturing."""
        if self._thread is not None:
            raise RuntimeError("sniffer already started")
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"sniffer-{self.iface}", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def stop(self) -> SnifferStats:
        """Stop capturing, flush and close the file; returns the final counters."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._error is not None:
            raise self._error
        return self.stats

    def __enter__(self) -> "PacketSniffer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _open_socket(self) -> SuperSocket:
        import logging

        from scapy.arch.linux import L2ListenSocket, L2Socket

        # scapy warns that it cannot map loopback's ARPHRD to a layer class; raw bytes are all we use.
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        # On loopback every frame is seen twice (outgoing + incoming): the sending L2 socket
        # drops PACKET_OUTGOING copies. Elsewhere the listen socket keeps both directions.
        sock = L2Socket(iface=self.iface) if self.linktype == 1 and self.iface == "lo" else L2ListenSocket(iface=self.iface)
        _grow_receive_buffer(sock.ins)
        return sock

    def _run(self) -> None:
        import select

        try:
            sock = self._open_socket()
        except OSError as exc:
            self._error = InputError(self.iface, f"cannot capture: {exc.strerror or exc}")
            self._ready.set()
            return
        except BaseException as exc:  # surfaced to the caller by start()
            self._error = exc
            self._ready.set()
            return
        try:
            from confaudit.session.directory import open_private

            self.out_path.parent.mkdir(parents=True, exist_ok=True)
            with open_private(self.out_path, "wb") as fh:  # raw packets: personal data
                fh.write(pcapng_header(self.linktype, self.iface))
                fh.flush()
                self._ready.set()
                self._loop(sock, fh, select.select)
                self._read_kernel_stats(sock)
                fh.write(self._statistics_block())
        except BaseException as exc:  # surfaced to the caller by stop()
            self._error = exc
            self._ready.set()
        finally:
            sock.close()

    def _loop(self, sock: SuperSocket, fh: BinaryIO,
              select_fn: Callable[..., tuple[list[Any], list[Any], list[Any]]]) -> None:
        pending: list[bytes] = []
        stats_due = time.monotonic() + _STATS_EVERY_S
        while True:
            if time.monotonic() >= stats_due:  # the kernel's 32-bit counters reset on read: never let them wrap
                self._read_kernel_stats(sock)
                stats_due = time.monotonic() + _STATS_EVERY_S
            stopping = self._stop.is_set()
            # After stop(), keep draining until the socket has been quiet for 100 ms: frames sent
            # just before stop() may still be in the kernel's backlog.
            readable, _, _ = select_fn([sock], [], [], 0.1 if stopping else 0.05)
            if readable:
                _cls, frame, ts = sock.recv_raw(_SNAPLEN)
                if frame is not None:
                    self._accept(frame, ts if ts is not None else time.time(), pending)
            if pending and (len(pending) >= _BATCH or not readable):
                fh.write(b"".join(pending))
                fh.flush()
                pending.clear()
            if stopping and not readable:
                return

    def _read_kernel_stats(self, sock: SuperSocket) -> None:
        """Add the kernel's receive/drop counters since the last read; unreadable makes them unknown for good."""
        try:
            raw = sock.ins.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 12)
            received, dropped = struct.unpack_from("=II", raw)
        except (OSError, AttributeError, struct.error):
            with self._lock:
                self._kernel_packets = self._kernel_drops = None
            return
        with self._lock:
            if self._kernel_packets is not None and self._kernel_drops is not None:
                self._kernel_packets += received
                self._kernel_drops += dropped

    def _statistics_block(self) -> bytes:
        with self._lock:
            accepted = self._packets if self.port_filter is not None else None
            return pcapng_statistics(time.time(), self._kernel_packets, self._kernel_drops,
                                     self._packets + self._filtered, accepted)

    def _accept(self, frame: bytes, ts: float, pending: list[bytes]) -> None:
        ports = frame_ports(frame, self.linktype)
        if self.port_filter is not None and (ports is None or not ({ports[1], ports[2]} & self.port_filter)):
            with self._lock:
                self._filtered += 1
            return
        pending.append(pcapng_packet(frame, float(ts)))
        with self._lock:
            self._packets += 1
            self._bytes += len(frame)
            if ports is not None and ports[0] == 17:
                self._udp_bytes += len(frame)
