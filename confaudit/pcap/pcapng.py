"""pcapng: sections (either byte order), interfaces (link type, if_tsresol, if_tsoffset), packet
blocks (EPB, SPB, obsolete PB), Interface Statistics Blocks (drop counters) and Decryption Secrets
Blocks; every other block is skipped.

The walk loop only validates block framing and collects packet-block offsets; all per-packet
fields are then gathered column-wise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from confaudit.errors import InputError
from confaudit.pcap.framing import NATIVE, NativeWords, Positions, epb_run
from confaudit.pcap.isb import InterfaceStatistics, statistics_from_options
from confaudit.pcap.records import MAX_BLOCK_BYTES, MAX_DEGENERATE_RUN, RecordBatch, WalkResult, degenerate_run_end

SHB = 0x0A0D0D0A
IDB = 1
PB = 2
SPB = 3
ISB = 5
EPB = 6
DSB = 0x0000000A
KNOWN_OTHER_BLOCKS = frozenset((4, 7, 8, 9, 0x0BAD, 0x40000BAD))
"""Blocks skipped on purpose: name resolution, IRIG/ARINC, systemd journal, custom."""
TLS_KEY_LOG = 0x544C534B
MAX_SECRETS_BYTES = 64 << 20
MAX_INTERFACES = 65_536
MAX_SECTIONS = 1_000
"""Real files have one section, a few when concatenated; each one costs a numpy pass per chunk."""
_BOM = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}


def is_pcapng_magic(head: bytes | bytearray) -> bool:
    return head[:4] == b"\x0a\x0d\x0d\x0a"


@dataclass(frozen=True, slots=True)
class Interface:
    """One interface description block."""

    linktype: int
    """Link-layer type of the interface's packets."""
    snaplen: int
    """Snap length (0 = none)."""
    units: int
    """Timestamp ticks per second (from if_tsresol; default 10**6)."""
    offset: int
    """Seconds added to every timestamp (if_tsoffset)."""


@dataclass
class Section:
    """Mutable state of the section being walked."""

    endian: str
    interfaces: list[Interface] = field(default_factory=list)


class PcapngWalker:
    """Walks pcapng blocks across buffers, keeping section and interface state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.section: Section | None = None
        self.linktypes: list[int] = []
        self.secrets: list[tuple[int, bytes]] = []
        self._secrets_bytes = 0
        self._empty_run = 0
        self._idle_blocks = 0
        self._last_ts = 0.0
        self.unknown_blocks = 0
        """Blocks of a type this reader does not know (possibly corrupted packet blocks)."""
        self.sections = 0
        self.statistics: dict[tuple[int, int], InterfaceStatistics] = {}
        """Latest Interface Statistics Block per (section, interface id)."""

    # -- the walk ---------------------------------------------------------------------------
    def walk(self, buf: bytearray, start: int, end: int) -> WalkResult:
        with NativeWords(buf) as words:
            return self._walk(buf, start, end, words)

    def _walk(self, buf: bytearray, start: int, end: int, words: list[memoryview]) -> WalkResult:
        offsets = Positions()
        append = offsets.append
        segments: list[tuple[int, Section]] = []
        special: dict[int, int] = {}
        warnings: list[str] = []
        section = self.section
        hdr = struct.Struct((section.endian if section else "<") + "II").unpack_from
        word = struct.Struct((section.endian if section else "<") + "I").unpack_from
        if section is not None:
            segments.append((0, section))
        pos, need, stop = start, 0, None
        idle = self._idle_blocks
        native = (section.endian if section else "<") == NATIVE
        while pos + 12 <= end:
            if native:  # the common run of plain packet blocks, without the generic checks below
                run, pos = epb_run(words, pos, end)
                if len(run):
                    offsets.extend(run)
                    idle = 0
                    if pos + 12 > end:
                        break
            btype, blen = hdr(buf, pos)
            if btype == SHB:
                bom = _BOM.get(bytes(buf[pos + 8: pos + 12]))
                if bom is None:
                    stop = f"section header at byte {pos} has a bad byte-order magic"
                    break
                endian = bom
                hdr = struct.Struct(endian + "II").unpack_from
                word = struct.Struct(endian + "I").unpack_from
                native = endian == NATIVE
                blen = hdr(buf, pos)[1]
            if blen < 12 or blen & 3 or blen > MAX_BLOCK_BYTES:
                stop = f"block at byte {pos} has an impossible length {blen}: the rest of the file cannot be framed"
                break
            nxt = pos + blen
            if nxt > end:
                need = blen
                break
            if word(buf, nxt - 4)[0] != blen:
                stop = f"block at byte {pos}: trailing length does not match {blen} (corrupt block)"
                break
            if btype == EPB:
                append(pos)
                idle = 0
                pos = nxt
                continue
            if btype == SPB or btype == PB:
                special[len(offsets)] = btype
                append(pos)
                idle = 0
                pos = nxt
                continue
            # every other block, section and interface headers included, counts towards the cap:
            # a flood of them is as hostile as a flood of empty packets
            idle += 1
            if idle > MAX_DEGENERATE_RUN:
                stop = f"more than {MAX_DEGENERATE_RUN} consecutive non-packet blocks: stopped reading (hostile or corrupt capture)"
                break
            if btype == SHB:
                problem = self._section_header(buf, pos, blen, endian)
                if problem:
                    stop = problem
                    break
                section = self.section = Section(endian)
                segments.append((len(offsets), section))
            elif section is None:
                stop = f"block at byte {pos} comes before any section header"
                break
            elif btype == IDB:
                problem = self._interface(buf, pos, blen, section)
                if problem:
                    warnings.append(problem)
            elif btype == DSB:
                self._secrets(buf, pos, blen, section.endian, warnings)
            elif btype == ISB:
                problem = self._statistics(buf, pos, blen, section)
                if problem:
                    warnings.append(problem)
            elif btype not in KNOWN_OTHER_BLOCKS:
                self.unknown_blocks += 1
            pos = nxt
        if stop is None and need == 0 and pos < end:
            need = 12 if pos + 12 > end else 0
        self._idle_blocks = idle
        if not offsets:
            return WalkResult(None, pos, need, stop, tuple(warnings))
        offs = offsets.array()
        batch, cut, more = self._columns(buf, offs, segments, special)
        warnings.extend(more)
        if cut >= 0:
            stop = f"more than {MAX_DEGENERATE_RUN} consecutive empty packet blocks: stopped reading (hostile or corrupt capture)"
            pos = int(offs[cut - 1]) + int(_block_len(buf, int(offs[cut - 1]), segments)) if cut else start
        return WalkResult(batch, pos, need, stop, tuple(warnings))

    # -- non-packet blocks ------------------------------------------------------------------
    def _section_header(self, buf: bytearray, pos: int, blen: int, endian: str) -> str | None:
        """Why the section header at ``pos`` cannot open a section, or None (counted; the caller opens it)."""
        if blen < 28:
            return f"section header at byte {pos} is too short ({blen} bytes)"
        major = struct.unpack_from(endian + "H", buf, pos + 12)[0]
        if major != 1:
            return f"section header at byte {pos} has unsupported pcapng version {major}"
        self.sections += 1
        if self.sections > MAX_SECTIONS:
            return f"more than {MAX_SECTIONS} sections: stopped reading (hostile or corrupt capture)"
        return None

    def _interface(self, buf: bytearray, pos: int, blen: int, section: Section) -> str | None:
        if blen < 20:
            return f"interface block at byte {pos} is too short ({blen} bytes): ignored"
        if len(section.interfaces) >= MAX_INTERFACES:
            return f"more than {MAX_INTERFACES} interfaces in one section: extra ones ignored"
        e = section.endian
        linktype, _reserved, snaplen = struct.unpack_from(e + "HHI", buf, pos + 8)
        units, offset, problem = 10**6, 0, None
        for code, value in _options(buf, pos + 16, pos + blen - 4, e):
            if code == 9 and len(value) >= 1:
                exp = value[0] & 0x7F
                resolution: int | None
                if value[0] & 0x80:
                    resolution = 2**exp if exp <= 62 else None
                else:
                    resolution = 10**exp if exp <= 18 else None
                if resolution is None:
                    problem = f"interface {len(section.interfaces)}: unsupported timestamp resolution byte {value[0]}; microseconds assumed"
                    units = 10**6
                else:
                    units = resolution
            elif code == 14 and len(value) >= 8:
                offset = struct.unpack_from(e + "q", value)[0]
        section.interfaces.append(Interface(linktype, snaplen, units, offset))
        if linktype not in self.linktypes:
            self.linktypes.append(linktype)
        return problem

    def _statistics(self, buf: bytearray, pos: int, blen: int, section: Section) -> str | None:
        if blen < 24:
            return f"interface statistics block at byte {pos} is too short ({blen} bytes): its drop counters are unknown"
        ifid = struct.unpack_from(section.endian + "I", buf, pos + 8)[0]
        if ifid >= len(section.interfaces):
            return f"interface statistics block at byte {pos} names interface {ifid}, which the section does not describe"
        stats = statistics_from_options(self.sections, ifid, _options(buf, pos + 20, pos + blen - 4, section.endian),
                                        section.endian)
        if isinstance(stats, str):
            return f"interface statistics block at byte {pos}: {stats}"
        # each block repeats the counters since the start of the capture: the last one is the total
        self.statistics[(self.sections, ifid)] = stats
        return None

    def drop_warnings(self) -> list[str]:
        """One line per interface whose latest statistics block reports dropped packets."""
        return [w for _, stats in sorted(self.statistics.items()) if (w := stats.warning(self.sections))]

    def _secrets(self, buf: bytearray, pos: int, blen: int, endian: str, warnings: list[str]) -> None:
        if blen < 20:
            warnings.append(f"decryption secrets block at byte {pos} is too short: ignored")
            return
        stype, slen = struct.unpack_from(endian + "II", buf, pos + 8)
        if slen > blen - 20:
            warnings.append(f"decryption secrets block at byte {pos} claims {slen} bytes, more than the block holds: ignored")
            return
        if self._secrets_bytes + slen > MAX_SECRETS_BYTES:
            warnings.append("decryption secrets beyond 64 MiB ignored")
            return
        self._secrets_bytes += slen
        self.secrets.append((stype, bytes(buf[pos + 16: pos + 16 + slen])))

    # -- vectorised per-packet fields --------------------------------------------------------
    def _columns(self, buf: bytearray, offs, segments: list[tuple[int, Section]], special: dict[int, int]):
        import numpy as np

        n = len(offs)
        data_off = offs + 28
        caplen = np.zeros(n, dtype=np.int64)
        wire = np.zeros(n, dtype=np.int64)
        ts = np.zeros(n, dtype=np.float64)
        linktype = np.zeros(n, dtype=np.int64)
        usable = np.zeros(n, dtype=bool)
        warnings: list[str] = []
        kinds = np.full(n, EPB, dtype=np.int64)
        if special:
            kinds[list(special)] = list(special.values())
        bounds = [s for s, _ in segments] + [n]
        if not segments or segments[0][0] > 0:
            raise InputError(self.path, "packet block before any section header")
        for k, (i0, section) in enumerate(segments):
            i1 = bounds[k + 1]
            if i1 > i0:
                cols = self._segment(buf, offs[i0:i1], kinds[i0:i1], section, warnings)
                data_off[i0:i1], caplen[i0:i1], wire[i0:i1], ts[i0:i1], linktype[i0:i1], usable[i0:i1] = cols
        ts = self._fill_missing_times(ts)
        cut, self._empty_run = degenerate_run_end(usable & (caplen == 0), self._empty_run)
        if cut >= 0:
            data_off, caplen, wire, ts = data_off[:cut], caplen[:cut], wire[:cut], ts[:cut]
            linktype, usable = linktype[:cut], usable[:cut]
        batch = RecordBatch(data_off=data_off, caplen=caplen, wire_len=wire, ts=ts, linktype=linktype, usable=usable)
        return batch, cut, warnings

    @staticmethod
    def _segment(buf: bytearray, offs, kind, section: Section, warnings: list[str]):
        """(data_off, caplen, wire_len, ts, linktype, usable) of the packet blocks of one section."""
        import numpy as np

        from confaudit.pcap.gather import windows

        f = windows(np.frombuffer(buf, dtype=np.uint8), offs, 28).view(section.endian + "u4").astype(np.int64)
        blen, ifid, hi, lo, cap, orig = f[:, 1], f[:, 2], f[:, 3], f[:, 4], f[:, 5], f[:, 6]
        data_off = offs + 28
        is_pb, is_spb = kind == PB, kind == SPB
        if is_pb.any():
            ifid = np.where(is_pb, (ifid & 0xFFFF) if section.endian == "<" else (ifid >> 16), ifid)
        ifaces = section.interfaces
        nif = len(ifaces)
        if is_spb.any():
            spb_orig = f[:, 2]
            snap0 = ifaces[0].snaplen if nif and ifaces[0].snaplen else 1 << 62
            cap = np.where(is_spb, np.minimum(np.minimum(spb_orig, blen - 16), snap0), cap)
            orig = np.where(is_spb, spb_orig, orig)
            ifid = np.where(is_spb, 0, ifid)
            data_off = np.where(is_spb, offs + 12, data_off)
        ok = (ifid < nif) & ((cap <= blen - 32) | is_spb) & (cap >= 0)
        bad_if = int(np.count_nonzero(ifid >= nif))
        if bad_if:
            warnings.append(f"{bad_if} packet blocks name an interface the section does not describe: skipped")
        bad_len = int(np.count_nonzero((ifid < nif) & ~ok))
        if bad_len:
            warnings.append(f"{bad_len} packet blocks claim more captured bytes than the block holds: skipped")
        ts, linktype = np.zeros(len(offs)), np.zeros(len(offs), dtype=np.int64)
        if nif:
            lt = np.array([i.linktype for i in ifaces], dtype=np.int64)
            units = np.array([i.units for i in ifaces], dtype=np.uint64)
            toff = np.array([i.offset for i in ifaces], dtype=np.float64)
            idx = np.where(ok, ifid, 0)
            ticks = (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)
            # one interface: scalars (numpy divides by a scalar divisor much faster)
            u, offset = (units[0], toff[0]) if nif == 1 else (units[idx], toff[idx])
            ts = (ticks // u).astype(np.float64) + (ticks % u).astype(np.float64) / u.astype(np.float64) + offset
            ts[is_spb] = np.nan
            linktype = np.where(ok, lt[idx], -1)
        return data_off, np.where(ok, cap, 0), orig, ts, linktype, ok

    def _fill_missing_times(self, ts):
        """Simple packet blocks carry no time: they take the time of the packet before them."""
        import numpy as np

        missing = np.isnan(ts)
        if missing.any():
            pos = np.where(~missing, np.arange(len(ts)), -1)
            np.maximum.accumulate(pos, out=pos)
            ts = np.where(pos >= 0, ts[np.maximum(pos, 0)], self._last_ts)
        if len(ts):
            self._last_ts = float(ts[-1])
        return ts


def _block_len(buf: bytearray, pos: int, segments: list[tuple[int, Section]]) -> int:
    endian = segments[-1][1].endian if segments else "<"
    return struct.unpack_from(endian + "I", buf, pos + 4)[0]


def _options(buf: bytearray, pos: int, end: int, endian: str):
    """(code, value) pairs of a block's options, bounded by the block; stops at opt_endofopt."""
    opt = struct.Struct(endian + "HH")
    while pos + 4 <= end:
        code, length = opt.unpack_from(buf, pos)
        if code == 0:
            return
        if pos + 4 + length > end:
            return
        yield code, bytes(buf[pos + 4: pos + 4 + length])
        pos += 4 + ((length + 3) & ~3)
