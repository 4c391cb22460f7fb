"""JSON as bytes at C and numpy speed, for inputs and outputs too large to hold twice.

- :class:`NestingGuard` checks JSON bytes (whole or in chunks) before a parser builds them (a streaming item
  builder costs memory quadratic in the depth: 10,000 nested arrays take 250 MB, 100,000 exhaust memory);
- :func:`canonical_chunks` lays out ``jsonio.dumps_canonical(obj) + "\\n"`` (sorted keys, indent 1)
  byte for byte from the C encoder's compact output, batch by batch, with msgspec's C formatter: Python
  3.12's C encoder ignores ``indent``, and the pure-Python one takes most of a minute and the whole text
  in memory for a bundle of 100,000 requests;
- :func:`parse_line` reads one JSON Lines record as strictly as ``jsonio.loads_strict`` with checks that
  run only on the lines that may fail them.

The scan needs no parser: once every escaped backslash and escaped quote is blanked out, a quote opens
or closes a string, so a bracket is structural when an even number of quotes precede it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

BATCH_BYTES = 1 << 20
"""Compact JSON laid out per numpy pass when writing."""
_COMPACT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ": "),
                            check_circular=False)
"""Identical output; no cycle check (an eighth of the encoder's time): evidence is built as trees, and a cycle,
a bug, still fails (RecursionError) rather than writing anything."""


@lru_cache(maxsize=1)
def _tables() -> tuple[Any, Any]:
    """(byte -> is a bracket, byte -> +1 opening bracket / -1 closing bracket / 0)."""
    import numpy as np

    structural = np.zeros(256, dtype=bool)
    structural[list(b"[]{}")] = True
    step = np.zeros(256, dtype=np.int8)
    step[list(b"[{")], step[list(b"]}")] = 1, -1
    return structural, step


def structure(chunk: bytes, in_string: bool) -> tuple[Any, Any, bool]:
    """(positions, bytes) of the brackets outside strings in ``chunk``, and whether the chunk ends
    inside a string. ``in_string``: the chunk starts inside one. The chunk must not end with a backslash
    (it could escape the next chunk's first byte): :func:`split_escape` cuts it off."""
    import numpy as np

    masked = chunk.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    data = np.frombuffer(masked, dtype=np.uint8)
    quotes = np.flatnonzero(data == 0x22)
    candidates = np.flatnonzero(_tables()[0][data])
    outside = (np.searchsorted(quotes, candidates) + in_string) % 2 == 0
    positions = candidates[outside]
    return positions, data[positions], bool((len(quotes) + in_string) % 2)


def split_escape(chunk: bytes) -> tuple[bytes, bytes]:
    """``chunk`` without its trailing run of backslashes, and that run (to prepend to the next chunk)."""
    kept = chunk.rstrip(b"\\")
    return kept, chunk[len(kept):]


class TooDeep(ValueError):
    """JSON nested deeper than a :class:`NestingGuard` allows."""

    def __init__(self, limit: int, safe: bytes) -> None:
        super().__init__(f"nesting deeper than {limit} levels")
        self.safe = safe
        """The checked chunk's bytes before the bracket that went too deep (safe to parse)."""


class NestingGuard:
    """Tracks the bracket depth of JSON fed chunk by chunk; ``check`` raises :class:`TooDeep` past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self._held = b""

    def check(self, chunk: bytes, final: bool = False) -> bytes:
        """Check ``chunk`` and return the bytes safe to parse now (a trailing escape is held back until
        the next chunk; ``final`` releases it)."""
        import numpy as np

        data, held = split_escape(self._held + chunk)
        if final:
            data, held = data + held, b""
        self._held = held
        positions, chars, self.in_string = structure(data, self.in_string)
        if len(positions):
            levels = self.depth + np.cumsum(_tables()[1][chars], dtype=np.int64)
            over = np.flatnonzero(levels > self.limit)
            if len(over):
                raise TooDeep(self.limit, data[:int(positions[over[0]])])
            self.depth = int(levels[-1])
        return data


def indent_compact(compact: bytes, depth: int) -> bytes:
    """``compact`` (the C encoder's output with separators ``(",", ": ")``, one whole value) laid out with
    indent 1 as if it sat ``depth`` levels deep: what the pure-Python encoder writes for it.

    msgspec's formatter copies strings and numbers as they are and lays out ``[]``/``{}``, ``,`` and ``: ``
    exactly as ``json.dumps(indent=1)`` does; a raw newline can only be layout (strings escape theirs)."""
    import msgspec

    laid = msgspec.json.format(compact, indent=1)
    return laid.replace(b"\n", b"\n" + b" " * depth) if depth else laid


def canonical_chunks(obj: Any) -> Iterator[bytes | memoryview]:
    """UTF-8 bytes of ``dumps_canonical(obj) + "\\n"``, in pieces of about :data:`BATCH_BYTES` (bytes, or views of
    them: ``b"".join`` and ``os.writev`` take both)."""
    yield from _value(obj, 0)
    yield b"\n"


def write_json(path: str | os.PathLike[str], obj: Any, private: bool = False) -> None:
    """``dumps_canonical(obj)`` and a newline, written atomically and streamed chunk by chunk."""
    from confaudit.jsonio import atomic_write_chunks

    atomic_write_chunks(path, canonical_chunks(obj), private=private)


def _value(obj: Any, depth: int) -> Iterator[bytes | memoryview]:
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        yield from _object(obj, depth)
    elif isinstance(obj, (list, tuple)) and obj:
        yield from _array(obj, depth)
    else:
        yield indent_compact(_COMPACT.encode(obj).encode("utf-8"), depth)


def _object(obj: dict[str, Any], depth: int) -> Iterator[bytes | memoryview]:
    inner = b"\n" + b" " * (depth + 1)
    for n, key in enumerate(sorted(obj)):
        yield (b"{" if n == 0 else b",") + inner + _COMPACT.encode(key).encode("utf-8") + b": "
        yield from _value(obj[key], depth + 1)
    yield b"\n" + b" " * depth + b"}"


MAX_BATCH_ITEMS = 1024


def _array(items: Iterable[Any], depth: int) -> Iterator[bytes | memoryview]:
    """Items encoded a slice at a time (one C call encodes a list exactly as its items joined by ``,``), each
    slice sized from the last one's bytes per item to about :data:`BATCH_BYTES`, laid out at once: the
    slice's own brackets are cut off."""
    seq = items if isinstance(items, (list, tuple)) else list(items)
    tail = len(b"\n" + b" " * depth + b"]")
    start, count = 0, 1
    while start < len(seq):
        part = seq[start:start + count]
        encoded = _COMPACT.encode(part).encode("utf-8")
        laid = indent_compact(encoded, depth)
        yield b"[" if start == 0 else b","
        yield memoryview(laid)[1:-tail]  # the slice's own brackets cut off without a copy
        start += len(part)
        count = max(1, min(MAX_BATCH_ITEMS, BATCH_BYTES * len(part) // max(len(encoded), 1)))
    yield b"\n" + b" " * depth + b"]"


# ---- one JSON Lines record -----------------------------------------------------------------------
# A lone surrogate can only come from a \\uD800-\\uDFFF escape: only lines with one are searched for it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_DEPTH = 200
MAX_NUMBER = 1.7976931348623157e308
"""The largest magnitude a JSON number may have: what an IEEE 754 double holds (RFC 8259 section 6)."""


class NumberOutOfRange(ValueError):
    """A number no double can hold (``1e400``, a 400-digit integer); the message names where it is."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberOutOfRange(f"number {text[:40]} is out of range")
    return value


def _integer(text: str) -> int:
    if len(text) > 4300:  # int() refuses these with a ValueError of its own
        raise NumberOutOfRange(f"number of {len(text)} digits is out of range")
    value = int(text)
    if len(text) > 300 and abs(value) > MAX_NUMBER:
        raise NumberOutOfRange(f"number of {len(text)} digits is out of range")
    return value


def _reject(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def parse_line(raw: bytes) -> Any:
    """One JSON Lines record, as strictly as jsonio.loads_strict reads JSON (nesting, NaN/Infinity, numbers no
    double holds, lone surrogates: ValueError) at the speed of the C parser: checks run only on lines that may
    fail them."""
    text = raw.decode("utf-8")
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        NestingGuard(MAX_DEPTH).check(raw, final=True)
    try:
        record = json.loads(text, parse_constant=_reject, parse_float=_finite, parse_int=_integer)
    except NumberOutOfRange:
        raise NumberOutOfRange(f"number out of range at {_bad_number_path(text)}") from None
    if _SURROGATE_ESCAPE.search(raw) and has_lone_surrogate(record):
        raise ValueError("a string holds a lone UTF-16 surrogate")
    return record


def _bad_number_path(text: str) -> str:
    """The JSON path of the first number out of range in a line already known to hold one ("$" if unsure)."""
    from confaudit.jsonio import first_bad_number

    def lenient_integer(digits: str) -> float:
        return float("inf") if len(digits) > 4300 else int(digits)

    try:
        return first_bad_number(json.loads(text, parse_int=lenient_integer)) or "$"
    except ValueError:
        return "$"


def has_lone_surrogate(obj: Any) -> bool:
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, str):
            try:
                cur.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(cur, dict):
            stack.extend(cur.keys())
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return False
