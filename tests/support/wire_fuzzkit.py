"""Test helper: a bounded mutation fuzzer for the wire parsers.

A parser may return anything or raise ``ParseError``; any other exception (also from turning the
result into JSON) is a failure, reported with the parser's name, the exception and the input hex.
Inputs are deterministic per (seed, target name), so a reported failure can be replayed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confaudit.wire._records import jsonable
from confaudit.wire.errors import ParseError

INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x80\x00", b"\xc0\x0c",
               b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\r\n", b"\n\n", b"\r\n\r\n", b":", b" ", b"\xb2",
               b"\xc2\xb2", b"\xd9\xa1", b"9" * 5000, b"\x16\xfe\xfd", b"\x21\x12\xa4\x42", b"Q046", b"CHLO")
"""Byte strings worth planting: length extremes, compression pointers, line ends, digits int() rejects
('²' in latin-1 and UTF-8) or accepts (Arabic-Indic one), more digits than int() converts, magic values."""


@dataclass(frozen=True)
class Target:
    """One parser entry point under fuzz."""

    name: str
    """Name shown in failures ("parse_dns(tcp=True)")."""
    call: Callable[[Any], Any]
    """Takes one input: bytes, or a list of bytes when ``many``."""
    seeds: Sequence[bytes]
    """Valid messages to mutate (random bytes are used too)."""
    many: bool = False
    """The parser takes a list of datagrams (one flow) instead of one message."""


@dataclass(frozen=True)
class Failure:
    """An exception other than ParseError escaping a parser."""

    target: str
    """Target name."""
    error: str
    """``Type: message`` of the exception."""
    data: bytes | tuple[bytes, ...]
    """The input that raised it."""

    def __str__(self) -> str:
        parts = self.data if isinstance(self.data, tuple) else (self.data,)
        shown = " | ".join(p[:2048].hex() + ("…" if len(p) > 2048 else "") for p in parts)
        return f"{self.target}: {self.error} on input {shown}"


@dataclass
class Report:
    """What one fuzz run did."""

    failures: list[Failure] = field(default_factory=list)
    """Every failure (at most 3 per target)."""
    runs: dict[str, int] = field(default_factory=dict)
    """Target name -> inputs tried."""
    malformed: dict[str, int] = field(default_factory=dict)
    """Target name -> inputs answered with ParseError."""

    def summary(self) -> str:
        """One line per failure (for the assertion message)."""
        return "\n".join(str(f) for f in self.failures)


def mutate(seeds: Sequence[bytes], rng: random.Random) -> bytes:
    """Random bytes, or a valid seed with 1-3 stacked mutations."""
    if not seeds or rng.random() < 0.15:
        return rng.randbytes(rng.randrange(0, 300))
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(9)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 2:
            del data[pos:]
        elif op == 3:
            data[pos:pos] = rng.randbytes(rng.randrange(1, 40))
        elif op == 4:
            value = rng.choice(INTERESTING)
            data[pos : pos + (len(value) if rng.random() < 0.7 else 0)] = value
        elif op == 5 and data:
            end = min(len(data), pos + rng.randrange(1, 64))
            del data[pos:end]
        elif op == 6 and data:
            start = rng.randrange(len(data))
            data[pos:pos] = data[start : start + rng.randrange(1, 64)]
        elif op == 7:
            other = rng.choice(seeds)
            data = data[:pos] + other[rng.randrange(len(other) + 1) :]
        elif op == 8 and len(data) >= 2:  # a length-like field set to an extreme
            at = rng.randrange(len(data) - 1)
            data[at : at + 2] = rng.choice((0, 1, 0x3FFF, 0x7FFF, 0xFFFF, len(data), len(data) + 1)).to_bytes(2, "big")
    return bytes(data)


def _touch(result: Any) -> None:
    """Turn a parser's result into JSON, as the analysis does; errors here are parser bugs too."""
    if result is None or isinstance(result, (bool, int, float, str)) or type(result).__name__ == "_NeedMore":
        return
    json.dumps(result.to_dict() if hasattr(result, "to_dict") else jsonable(result))


def run(targets: Sequence[Target], count: int, seconds: float, seed: str = "confaudit-wire") -> Report:
    """Up to ``count`` inputs per target within ``seconds`` in all (split evenly between targets)."""
    report = Report()
    share = seconds / max(len(targets), 1)
    for target in targets:
        rng = random.Random(f"{seed}:{target.name}")
        deadline = time.monotonic() + share
        tried = malformed = failed = 0
        while tried < count and time.monotonic() < deadline and failed < 3:
            data: bytes | tuple[bytes, ...]
            if target.many:
                data = tuple(mutate(target.seeds, rng) if rng.random() < 0.7 else rng.choice(target.seeds)
                             for _ in range(rng.randrange(1, 5)))
            else:
                data = mutate(target.seeds, rng)
            tried += 1
            try:
                _touch(target.call(list(data) if target.many else data))
            except ParseError:
                malformed += 1
            except Exception as exc:  # noqa: BLE001 - the point of the harness: anything else is a parser bug
                failed += 1
                message = str(exc).splitlines()[0][:200] if str(exc) else ""
                report.failures.append(Failure(target.name, f"{type(exc).__name__}: {message}", data))
        report.runs[target.name] = tried
        report.malformed[target.name] = malformed
    return report
