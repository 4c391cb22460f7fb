"""Classic libpcap files: file header and the record walk (µs/ns, both byte orders)."""

from __future__ import annotations

import struct
from pathlib import Path

from confaudit.errors import InputError
from confaudit.pcap.framing import NATIVE, pcap_record_offsets
from confaudit.pcap.records import MAX_BLOCK_BYTES, MAX_DEGENERATE_RUN, MAX_RECORD_BYTES, RecordBatch, WalkResult, degenerate_run_end

FILE_HEADER_BYTES = 24
# magic as read little-endian -> (byte order, nanosecond timestamps, record header length)
_MAGICS = {
    0xA1B2C3D4: ("<", False, 16), 0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16), 0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24), 0x34CDB2A1: (">", False, 24),  # Kuznetzov's modified pcap
}


def is_pcap_magic(head: bytes | bytearray) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] in _MAGICS


class PcapWalker:
    """Walks classic pcap records; the walk loop is the only per-packet Python."""

    def __init__(self, path: Path, header: bytes) -> None:
        if len(header) < FILE_HEADER_BYTES:
            raise InputError(path, f"truncated pcap file header ({len(header)} of 24 bytes)")
        magic = struct.unpack_from("<I", header)[0]
        self.endian, self.nanoseconds, self.record_header = _MAGICS[magic]
        major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(self.endian + "HHiIII", header, 4)
        if major != 2:
            raise InputError(path, f"unsupported pcap version {major} (expected 2)")
        self.linktype = network & 0xFFFF  # upper bits carry FCS length flags
        self.snaplen = snaplen
        self.limit = min(max(MAX_RECORD_BYTES, snaplen), MAX_BLOCK_BYTES)
        self._caplen = struct.Struct(self.endian + "I").unpack_from
        self._empty_run = 0
        self.linktypes = (self.linktype,)

    def walk(self, buf: bytearray, start: int, end: int) -> WalkResult:
        import numpy as np

        from confaudit.pcap.gather import field, windows

        hdr = self.record_header
        if self.endian == NATIVE:
            offs, pos = pcap_record_offsets(buf, start, end, hdr)
        else:
            offs, pos = _frame_struct(buf, start, end, hdr, self._caplen)
        raw = windows(np.frombuffer(buf, dtype=np.uint8), offs, 16)
        sec, frac, caplen_col, wire = (field(raw, k, self.endian + "u4") for k in (0, 4, 8, 12))
        over = np.flatnonzero(caplen_col > self.limit)
        if over.size:  # framing stops at the first record over the limit: what follows it is not trusted
            pos = int(offs[over[0]])
            offs, sec, frac, caplen_col, wire = (a[: over[0]] for a in (offs, sec, frac, caplen_col, wire))
        stop, need = self._stopped_at(buf, pos, end)
        if not len(offs):
            return WalkResult(None, pos, need, stop)
        cut, self._empty_run = degenerate_run_end(caplen_col == 0, self._empty_run)
        if cut >= 0:
            stop = f"more than {MAX_DEGENERATE_RUN} consecutive empty records: stopped reading (hostile or corrupt capture)"
            offs, sec, frac, caplen_col, wire = offs[:cut], sec[:cut], frac[:cut], caplen_col[:cut], wire[:cut]
            pos = int(offs[-1] + hdr + caplen_col[-1]) if cut else start
        ts = sec.astype(np.float64) + frac.astype(np.float64) / (1e9 if self.nanoseconds else 1e6)
        n = len(offs)
        batch = RecordBatch(
            data_off=offs + hdr, caplen=caplen_col.astype(np.int64), wire_len=wire.astype(np.int64), ts=ts,
            linktype=np.full(n, self.linktype, dtype=np.int64), usable=np.ones(n, dtype=bool))
        return WalkResult(batch, pos, need, stop)

    def _stopped_at(self, buf: bytearray, pos: int, end: int) -> tuple[str | None, int]:
        """(reason the stream cannot be framed further, or bytes the record at ``pos`` needs to fit)."""
        hdr = self.record_header
        if pos + hdr > end:
            return None, (hdr if pos < end else 0)
        caplen = self._caplen(buf, pos + 8)[0]
        if caplen > self.limit:
            return (f"record at byte {pos} claims {caplen} captured bytes (limit {self.limit}): "
                    "the rest of the file cannot be framed"), 0
        return None, hdr + caplen


def _frame_struct(buf: bytearray, start: int, end: int, hdr: int, unpack):
    """:func:`~confaudit.pcap.framing.pcap_record_offsets` for the other byte order."""
    import numpy as np

    offsets: list[int] = []
    append = offsets.append
    pos = start
    while pos + hdr <= end:
        nxt = pos + hdr + unpack(buf, pos + 8)[0]
        if nxt > end:
            break
        append(pos)
        pos = nxt
    return np.asarray(offsets, dtype=np.int64), pos

