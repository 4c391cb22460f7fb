"""Mutation fuzzing of the capture reader through real files, each read in a memory-capped child.

Seeds: hand-built captures (always) and the real public captures (when ../shared is present).
Bounded by count and by time; CONFAUDIT_FUZZ_COUNT raises the count (CONFAUDIT_FUZZ_SECONDS the time).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from support import pcap_fuzzkit as fk
from support import pcap_testbuild as b

PER_FILE_TIMEOUT = 10.0
SMALL_CHUNK = 4096
"""The reader's smallest buffer: most records then straddle buffer boundaries."""
CHUNK_SIZES = (SMALL_CHUNK, 8 << 20)
COUNT = int(os.environ.get("CONFAUDIT_FUZZ_COUNT", "2000"))
SECONDS = float(os.environ.get("CONFAUDIT_FUZZ_SECONDS", "25"))


def synthetic_seeds() -> list[fk.Seed]:
    v4 = b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(5004, 8801, b"\x80\x60" + bytes(range(200))))
    v6 = b.ipv6("2001:db8::1", "2001:db8::2", 6, b.tcp(443, 50000, b"\x17\x03\x03" + bytes(300)),
                ext=[(0, bytes(4))])
    frames = [b.ether(v4), b.ether(v6, 0x86DD, vlans=[(0x8100, 5)]), b.ether(bytes(28), 0x0806)] * 6
    pcapng = (b.shb() + b.idb(1) + b.idb(101, tsresol=9) + b.dsb(b"CLIENT_RANDOM 00 11\n")
              + b"".join(b.epb(i % 2, 10**6 * i, f if i % 2 == 0 else v4) for i, f in enumerate(frames))
              + b.shb(">") + b.idb(113, ">") + b.spb(b.sll(v4), ">") + b.obsolete_pb(0, 5, b.sll(v4), ">"))
    return [fk.layout("synthetic.pcap", b.pcap(frames)),
            fk.layout("synthetic-be-ns.pcap", b.pcap([(1.5, v4), (2.25, v6)] * 8, linktype=101, endian=">", nanoseconds=True)),
            fk.layout("synthetic.pcapng", pcapng)]


def mutants_for(seed: fk.Seed, rng: random.Random, budget: int) -> tuple[list[fk.Mutant], list[tuple[fk.Mutant, fk.Mutant]]]:
    share = max(budget // 6, 2)
    singles = (fk.truncations(seed, rng, share // 3) + fk.payload_flips(seed, rng, share)
               + fk.huge_lengths(seed, rng, share) + fk.random_damage(seed, rng, share * 2)
               + fk.gzip_truncations(seed, rng, max(share // 4, 1)))
    pairs = fk.gzip_variants(singles, seed, rng, max(share // 2, 1))
    return singles, pairs


def run_campaign(seeds: list[fk.Seed], tmp_path: Path, count: int, seconds: float) -> dict[str, int]:
    rng = random.Random(20261125)
    worker = fk.Worker(tmp_path / "worker-stderr.log")
    failures: list[str] = []
    tally: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    path = tmp_path / "mutant.bin"

    def check(m: fk.Mutant, stream_len: int, chunk_bytes: int | None = None) -> dict:
        path.write_bytes(m.data)
        chunk = chunk_bytes if chunk_bytes is not None else rng.choice(CHUNK_SIZES)
        result, took = worker.read(path, PER_FILE_TIMEOUT, chunk)
        problems = fk.violations(m, result, stream_len)
        if problems:
            keep = tmp_path / f"failure-{len(failures)}.bin"
            keep.write_bytes(m.data)
            failures.append(f"{seed.name} {m.kind} ({keep}): {'; '.join(problems)}")
        tally[m.kind.split(":")[0]] = tally.get(m.kind.split(":")[0], 0) + 1
        return result

    done = 0
    try:
        for seed in seeds:
            singles, pairs = mutants_for(seed, rng, max(count // len(seeds), 6))
            for m in singles:
                if done >= count or time.monotonic() > deadline:
                    break
                check(m, len(m.data))
                done += 1
            for raw, wrapped in pairs:
                if done >= count or time.monotonic() > deadline:
                    break
                plain = check(raw, len(raw.data), SMALL_CHUNK)  # also: buffer size must not matter
                packed = check(wrapped, len(raw.data), 8 << 20)
                same = ("error" in plain and "error" in packed) or all(
                    plain.get(k) == packed.get(k) for k in ("rows", "records_read", "records_skipped", "complete", "bytes_consumed"))
                if not same:
                    failures.append(f"{seed.name} {wrapped.kind}: gzip changed the result: {plain} vs {packed}")
                done += 2
            if failures:
                break
        bomb = fk.gzip_bomb(seeds[0])
        result = check(bomb, len(bomb.data))
        assert "error" in result and "bomb" in result["error"], result
    finally:
        worker.close()
    print(f"fuzz: {done} mutants, {tally}")
    assert not failures, "\n".join(failures[:20])
    assert done >= min(count, 50), f"only {done} mutants ran within {seconds} s"
    return tally


def test_fuzz_synthetic_seeds(tmp_path):
    tally = run_campaign(synthetic_seeds(), tmp_path, COUNT // 2, SECONDS / 2)
    assert {"truncate", "payload-flip", "huge-length", "damage", "gzip", "gzip-truncate", "gzip-bomb"} <= set(tally)


def test_fuzz_real_capture_seeds(tmp_path, shared_captures):
    files = sorted(p for p in shared_captures.iterdir() if p.suffix in (".pcap", ".pcapng"))
    seeds = [fk.layout(p.name, p.read_bytes()) for p in files]
    tally = run_campaign(seeds, tmp_path, COUNT, SECONDS)
    assert sum(tally.values()) >= 50


def test_worker_reports_crashes_timeouts_and_memory_limits(tmp_path):
    """The harness itself can fail: a child killed by the memory cap is reported, not ignored."""
    worker = fk.Worker()
    try:
        result, _ = worker.read(tmp_path / "missing.pcap", PER_FILE_TIMEOUT)
        assert "error" in result
        assert fk.violations(fk.Mutant("x", b"", "exact", 1), {"crash": "ValueError"}, 0)
        assert fk.violations(fk.Mutant("x", b"", "partial", 1), {"rows": 0, "records_read": 1, "records_skipped": 0,
                                                                 "complete": True, "bytes_consumed": 0, "warnings": []}, 0)
    finally:
        worker.close()
