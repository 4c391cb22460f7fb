"""Fuzzing kit: an independent layout oracle for seed captures, mutators, and a bounded child runner."""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import selectors
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

WORKER = Path(__file__).with_name("pcap_fuzz_worker.py")
REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 1 << 30
INTERESTING = (0, 1, 0xFFFF, 0x7FFFFFFF, 0x7FFFFFF0, 0xFFFFFFFF, 0xFFFFFFF0, 0x80000000, 0x01000001, 262145)
HUGE = (0xFFFFFFFF, 0x7FFFFFF0, 0x7FFFFFFF, 0x80000000, 0x01000001, 0xFFFFFFF0)


@dataclass(frozen=True)
class Record:
    """One pcap record or pcapng block of a seed."""

    start: int
    end: int
    is_packet: bool
    data_start: int
    data_end: int
    length_field: int
    """Offset of the framing length field (pcap caplen, pcapng leading block length)."""


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    header_end: int
    """End of the part a valid capture cannot lack (pcap file header, first pcapng SHB)."""
    records: tuple[Record, ...]

    @property
    def packets(self) -> int:
        return sum(r.is_packet for r in self.records)

    def packets_before(self, offset: int) -> int:
        return sum(r.is_packet and r.end <= offset for r in self.records)


def layout(name: str, data: bytes) -> Seed:
    """Walk a valid seed independently of the reader under test."""
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return _layout_pcapng(name, data)
    endian = "<" if struct.unpack_from("<I", data)[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    records, pos = [], 24
    while pos < len(data):
        caplen = struct.unpack_from(endian + "I", data, pos + 8)[0]
        records.append(Record(pos, pos + 16 + caplen, True, pos + 16, pos + 16 + caplen, pos + 8))
        pos += 16 + caplen
    assert pos == len(data), f"seed {name} is not a clean pcap"
    return Seed(name, data, 24, tuple(records))


def _layout_pcapng(name: str, data: bytes) -> Seed:
    records, pos, endian = [], 0, "<"
    while pos < len(data):
        btype = struct.unpack_from("<I", data, pos)[0]
        if btype == 0x0A0D0D0A:
            endian = "<" if data[pos + 8: pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if btype in (2, 6):
            caplen = struct.unpack_from(endian + "I", data, pos + 20)[0]
            rec = Record(pos, pos + blen, True, pos + 28, pos + 28 + caplen, pos + 4)
        elif btype == 3:
            rec = Record(pos, pos + blen, True, pos + 12, pos + blen - 4, pos + 4)
        else:
            rec = Record(pos, pos + blen, False, pos, pos, pos + 4)
        records.append(rec)
        pos += blen
    assert pos == len(data), f"seed {name} is not a clean pcapng"
    return Seed(name, data, records[0].end, tuple(records))


# -- mutants: (kind, bytes, expectation) --------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    kind: str
    data: bytes
    expect: str
    """'exact': complete with ``packets`` packet records; 'partial': error or incomplete with at most
    ``packets``; 'error': InputError; 'honest': only the invariants."""
    packets: int = 0


def truncations(seed: Seed, rng: random.Random, count: int) -> list[Mutant]:
    cuts = set()
    for rec in rng.sample(seed.records, min(count, len(seed.records))):
        for delta in (-1, 0, 1):
            cuts.add(min(max(rec.end + delta, 0), len(seed.data)))
    cuts.update((0, 1, seed.header_end - 1, seed.header_end))
    out = []
    for cut in sorted(cuts):
        boundary = cut == seed.header_end or any(r.end == cut for r in seed.records)
        if cut < seed.header_end:
            out.append(Mutant("truncate", seed.data[:cut], "error"))
        elif boundary:
            out.append(Mutant("truncate", seed.data[:cut], "exact", seed.packets_before(cut)))
        else:
            out.append(Mutant("truncate", seed.data[:cut], "partial", seed.packets_before(cut)))
    return out


def payload_flips(seed: Seed, rng: random.Random, count: int) -> list[Mutant]:
    """Flip bits deep inside packet data (past every header): framing and counts must not change."""
    big = [r for r in seed.records if r.is_packet and r.data_end - r.data_start > 160]
    out = []
    for _ in range(count if big else 0):
        data = bytearray(seed.data)
        for rec in rng.sample(big, min(len(big), rng.randint(1, 4))):
            pos = rng.randrange(rec.data_start + 128, rec.data_end)
            data[pos] ^= 1 << rng.randrange(8)
        out.append(Mutant("payload-flip", bytes(data), "exact", seed.packets))
    return out


def huge_lengths(seed: Seed, rng: random.Random, count: int) -> list[Mutant]:
    """A 4 GiB-class length in one record: reading stops there, never past, never complete."""
    out = []
    for rec in rng.sample(seed.records[1:] if seed.records else [], min(count, max(len(seed.records) - 1, 0))):
        data = bytearray(seed.data)
        endian = "<" if _endian_at(seed, rec) == "<" else ">"
        struct.pack_into(endian + "I", data, rec.length_field, rng.choice(HUGE))
        out.append(Mutant("huge-length", bytes(data), "partial", seed.packets_before(rec.start)))
    return out


def _endian_at(seed: Seed, rec: Record) -> str:
    if seed.data[:4] != b"\x0a\x0d\x0d\x0a":
        return "<" if struct.unpack_from("<I", seed.data)[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    endian = "<"
    for r in seed.records:
        if r.start > rec.start:
            break
        if seed.data[r.start: r.start + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if seed.data[r.start + 8: r.start + 12] == b"\x4d\x3c\x2b\x1a" else ">"
    return endian


def random_damage(seed: Seed, rng: random.Random, count: int) -> list[Mutant]:
    """Bit flips, interesting 32-bit words (aligned on framing fields or anywhere), chunk duplication
    and garbage headers: only the invariants can be checked."""
    out = []
    for i in range(count):
        data = bytearray(seed.data)
        choice = i % 5
        if choice == 0:
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(data))
                data[pos] ^= 1 << rng.randrange(8)
        elif choice == 1 and seed.records:
            rec = rng.choice(seed.records)
            field = rng.choice((rec.length_field, rec.start, rec.end - 4, rec.length_field + 4))
            if field + 4 <= len(data):
                struct.pack_into("<I", data, field, rng.choice(INTERESTING))
        elif choice == 2:
            pos = rng.randrange(max(len(data) - 4, 1))
            struct.pack_into("<I", data, pos, rng.choice(INTERESTING))
        elif choice == 3:
            a = rng.randrange(len(data))
            b = min(len(data), a + rng.randint(1, 256))
            at = rng.randrange(len(data))
            data[at:at] = data[a:b]
        else:
            span = rng.randint(4, seed.header_end)
            data[rng.randint(0, 4): span] = rng.randbytes(span - min(span, rng.randint(0, 4)))
        out.append(Mutant("damage", bytes(data), "honest"))
    return out


def gzip_variants(mutants: list[Mutant], seed: Seed, rng: random.Random, count: int) -> list[tuple[Mutant, Mutant]]:
    """(raw mutant, gzip-wrapped copy) pairs: both must read identically."""
    plain = [m for m in mutants if not m.kind.startswith("gzip")]
    picks = rng.sample(plain, min(count, len(plain)))
    return [(m, Mutant("gzip:" + m.kind, gzip.compress(m.data, compresslevel=1), m.expect, m.packets)) for m in picks]


def gzip_truncations(seed: Seed, rng: random.Random, count: int) -> list[Mutant]:
    comp = gzip.compress(seed.data, compresslevel=6)
    return [Mutant("gzip-truncate", comp[: rng.randrange(1, len(comp) - 8)], "partial", seed.packets)
            for _ in range(count)]


def gzip_bomb(seed: Seed, expanded: int = 256 << 20) -> Mutant:
    """The seed followed by hundreds of MiB of zero bytes, compressed ~1000x."""
    comp = __import__("zlib").compressobj(9, 8, 31)
    parts = [comp.compress(seed.data)]
    zeros = bytes(1 << 20)
    for _ in range(expanded >> 20):
        parts.append(comp.compress(zeros))
    parts.append(comp.flush())
    return Mutant("gzip-bomb", b"".join(parts), "error")


# -- running -------------------------------------------------------------------------------
def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class Worker:
    """The reader in a child process with an address-space limit; one answer per file, with a timeout."""

    def __init__(self, log: Path | None = None) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.log = log
        """The child's stderr goes here (for diagnosis), else nowhere."""

    def _start(self) -> None:
        # a loaded CI box can be slow to import numpy: one retry before declaring the harness broken
        for attempt in (1, 2):
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
            err = open(self.log, "a") if self.log else subprocess.DEVNULL  # noqa: SIM115 - child owns it
            self.proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, text=True, env=env, preexec_fn=_limit_memory)
            if self.log:
                err.close()
            self.sel = selectors.DefaultSelector()
            self.sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = self._answer(90)
            if ready == {"ready": True}:
                return
        tail = self.log.read_text()[-2000:] if self.log and self.log.exists() else ""
        raise AssertionError(f"fuzz worker did not start twice: {ready} {tail}")

    def _answer(self, timeout: float) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        if not self.sel.select(timeout):
            self.close()
            return {"timeout": timeout}
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            self.close()
            return {"died": rc}
        return json.loads(line)

    def read(self, path: Path, timeout: float, chunk_bytes: int = 8 << 20) -> tuple[dict, float]:
        """Read ``path`` in the child; small ``chunk_bytes`` exercise records split across buffers."""
        if self.proc is None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        start = time.monotonic()
        self.proc.stdin.write(f"{chunk_bytes} {path}\n")
        self.proc.stdin.flush()
        return self._answer(timeout), time.monotonic() - start

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None


def violations(m: Mutant, result: dict, stream_len: int) -> list[str]:
    """What is wrong with a result, given what the mutant is known to have lost.

    ``stream_len``: length of the capture bytes (before gzip), which a complete read consumed fully.
    """
    problems = []
    if "crash" in result or "timeout" in result or "died" in result:
        return [f"reader failed: {result}"]
    if "error" in result:
        if "\n" in result["error"]:
            problems.append("multi-line error")
        if m.expect == "exact":
            problems.append(f"valid capture rejected: {result['error']}")
        return problems
    if result["complete"] and result["warnings"]:
        problems.append("complete despite warnings")
    if result["complete"] and result["bytes_consumed"] != stream_len:
        problems.append(f"complete but consumed {result['bytes_consumed']} of {stream_len} bytes")
    if result["complete"] and m.expect in ("partial", "error"):
        problems.append("data was lost but the read claims complete")
    if m.expect == "error":
        problems.append("expected an InputError")
    if m.expect == "exact" and not (result["complete"] and result["records_read"] + result["records_skipped"] == m.packets):
        problems.append(f"expected exactly {m.packets} complete records")
    if m.expect == "partial" and result["records_read"] + result["records_skipped"] > m.packets:
        problems.append(f"read {result['records_read']} records where at most {m.packets} survive")
    if result["rows"] > result["records_read"]:
        problems.append("more packets than records")
    return problems
