"""Classic libpcap files: file header and the record walk (µs/ns, both byte orders)."""

from __future__ import annotations

import struct
from pathlib import Path

from confaudit.errors import InputError
from confaudit.pcap.records import MAX_BLOCK_BYTES, MAX_DEGENERATE_RUN, MAX_RECORD_BYTES, RecordBatch, WalkResult, degenerate_run_end

FILE_HEADER_BYTES = 24
# magic as read little-endian -> (byte order, nanosecond timestamps, record header length)
_MAGICS = {
    0xA1B2C3D4: ("<", False, 16), 0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16), 0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24), 0x34CDB2A1: (">", False, 24),  # Kuznetzov's modified pcap
}


def is_pcap_magic(head: bytes) -> bool:
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

        offsets: list[int] = []
        append = offsets.append
        unpack = self._caplen
        hdr = self.record_header
        limit = self.limit
        pos = start
        need = 0
        stop = None
        while pos + hdr <= end:
            caplen = unpack(buf, pos + 8)[0]
            if caplen > limit:
                stop = (f"record at byte {pos} claims {caplen} captured bytes (limit {limit}): "
                        "the rest of the file cannot be framed")
                break
            nxt = pos + hdr + caplen
            if nxt > end:
                need = hdr + caplen
                break
            append(pos)
            pos = nxt
        if stop is None and pos + hdr > end and pos < end:
            need = hdr
        if not offsets:
            return WalkResult(None, pos, need, stop)
        offs = np.asarray(offsets, dtype=np.int64)
        fields = _gather_u32(buf, offs, 4, self.endian)
        sec, frac, caplen_col, wire = fields[:, 0], fields[:, 1], fields[:, 2], fields[:, 3]
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


def _gather_u32(buf: bytearray, offs, count: int, endian: str):
    """``count`` consecutive u32 fields at each offset, as an (n, count) uint32 array."""
    import numpy as np

    from confaudit.pcap.gather import windows

    raw = np.ascontiguousarray(windows(np.frombuffer(buf, dtype=np.uint8), offs, count * 4))
    return raw.view(np.dtype(endian + "u4")).reshape(len(offs), count).astype(np.uint32)
