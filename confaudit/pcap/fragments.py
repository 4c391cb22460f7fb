"""A chunk's IP fragments through the :class:`~confaudit.pcap.reassembly.Reassembler`.

The only per-packet Python of the fast path, and only for fragment rows. Fragment rows leave the
chunk; each datagram they complete takes the place of its last fragment (that frame's number and
time, as Wireshark shows "reassembled in"), rebuilt as one unfragmented IP packet and decoded like
every other row, so flows, classification and samples see it as any packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from confaudit.pcap.ipextract import Fragments, IpColumns, extract_ip
from confaudit.pcap.reassembly import INVALID, Datagram, Reassembler

PAD_BYTES = 256
"""Zero bytes after the rebuilt packets, as after the data of every chunk buffer."""


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A chunk's rows once its fragments went through reassembly."""

    columns: dict[str, Any]
    """PacketChunk columns (with ``frame``, ``ts`` and ``wire_len``) without fragment rows, with the datagrams."""
    buf: bytearray | Any
    """The chunk's buffer; a copy extended by the rebuilt packets when datagrams completed."""
    gave_up: dict[str, int]
    """Reason -> rebuilt datagrams the decoder gave up on (as :attr:`IpColumns.gave_up`)."""


def reassemble(reassembler: Reassembler, buf: Any, ip: IpColumns, frags: Fragments, frame: Any, ts: Any,
               wire_len: Any) -> Reassembled:
    """Feed ``frags``, the fragment rows of ``ip`` (its ``fragments``), to ``reassembler``.

    ``frame``/``ts``/``wire_len`` are per row of ``ip``.
    """
    import numpy as np

    fields = (frags.index, ip.columns["ip_version"][frags.index], ts[frags.index], wire_len[frags.index], frags.ident,
              frags.offset, frags.more, frags.data_off, frags.data_len, frags.captured, frags.proto, frags.l3)
    done: list[tuple[int, Datagram, bytes, bytes, int]] = []
    with memoryview(buf) as view:
        for row, version, when, wire, ident, offset, more, data_off, declared, captured, proto, l3 in zip(
                *(c.tolist() for c in fields)):
            if version == 4:
                src, dst = bytes(view[l3 + 12: l3 + 16]), bytes(view[l3 + 16: l3 + 20])
                key: tuple = (4, src, dst, ident, proto)
            else:
                src, dst = bytes(view[l3 + 8: l3 + 24]), bytes(view[l3 + 24: l3 + 40])
                key = (6, src, dst, ident)
            datagram = reassembler.add(key, version, when, offset, more, bytes(view[data_off: data_off + captured]),
                                       declared, proto, wire)
            if datagram is not None:
                done.append((row, datagram, src, dst, ident))
    reassembler.expire()
    keep = np.ones(len(ip.rows), dtype=bool)
    keep[frags.index] = False
    kept_at = np.flatnonzero(keep)
    rows = dict(ip.columns, frame=frame, ts=ts, wire_len=wire_len)
    if not done:
        return Reassembled({name: values[kept_at] for name, values in rows.items()}, buf, {})
    grown, rebuilt, at, gave_up = _rebuilt(buf, done)
    rebuilt.update(frame=frame[at], ts=ts[at])
    order = np.argsort(np.concatenate((kept_at, at)), kind="stable")
    columns = {name: np.concatenate((values[kept_at], rebuilt[name]))[order] for name, values in rows.items()}
    return Reassembled(columns, grown, gave_up)


def _rebuilt(buf: Any, done: list[tuple[int, Datagram, bytes, bytes, int]]) -> tuple[bytearray, dict[str, Any], Any,
                                                                                        dict[str, int]]:
    """Decode the completed datagrams, rebuilt as IP packets after the chunk's bytes.

    Returns (the grown buffer, their columns with ``wire_len``, the row each takes the place of, give-ups).
    """
    import numpy as np

    packets = [_ip_packet(datagram, src, dst, ident) for _, datagram, src, dst, ident in done]
    sizes = np.array([len(p) for p in packets], dtype=np.int64)
    starts = len(buf) + np.cumsum(sizes) - sizes
    ends = starts + sizes
    grown = bytearray(int(ends[-1]) + PAD_BYTES)
    grown[: len(buf)] = buf
    grown[len(buf): int(ends[-1])] = b"".join(packets)
    family = np.array([datagram.version for _, datagram, *_ in done], dtype=np.uint8)
    rebuilt = extract_ip(np.frombuffer(grown, dtype=np.uint8), starts, family, ends)
    gave_up = dict(rebuilt.gave_up)
    whole = ~rebuilt.columns["fragment"]  # a fragment inside a reassembled datagram is not taken apart again
    invalid = int(np.count_nonzero(~whole)) + len(rebuilt.truncated)
    if invalid:
        gave_up[INVALID] = gave_up.get(INVALID, 0) + invalid
    made = rebuilt.rows[whole]
    columns = {name: values[whole] for name, values in rebuilt.columns.items()}
    columns["wire_len"] = np.array([datagram.wire_len for _, datagram, *_ in done], dtype=np.int64)[made]
    at = np.array([row for row, *_ in done], dtype=np.int64)[made]
    return grown, columns, at, gave_up


def _ip_packet(datagram: Datagram, src: bytes, dst: bytes, ident: int) -> bytes:
    """The datagram as one unfragmented IP packet (IPv6: the fragmentable part right after the fixed header)."""
    if datagram.version == 4:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(datagram.payload), ident & 0xFFFF, 0, 64,
                           datagram.proto, 0, src, dst) + datagram.payload
    return struct.pack("!IHBB16s16s", 0x60000000, len(datagram.payload), datagram.proto, 64, src, dst) + datagram.payload
