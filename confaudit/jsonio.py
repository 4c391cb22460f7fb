"""Deterministic JSON output, atomic file writes and a hostile-input-safe JSON loader."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from confaudit.errors import InputError

MAX_JSON_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 200


def dumps_canonical(obj: Any, indent: int | None = 1) -> str:
    """Serialise deterministically: sorted keys, no NaN/Infinity, UTF-8 text."""
    return json.dumps(obj, sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=False,
                      separators=(",", ": ") if indent is not None else (",", ":"))


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write via a temp file in the same directory and rename, so no half-written output exists."""
    atomic_write_chunks(path, (data,))


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes | memoryview], private: bool = False) -> None:
    """:func:`atomic_write_bytes` for output produced piece by piece (never held whole in memory).

    An output that cannot be written (read-only or missing permissions, a name too long, a directory in the
    way, a full disk) is a one-line InputError naming it, whatever command writes it. ``private``: mode 0600
    (personal data) instead of what the umask allows."""
    target = Path(path)
    try:
        _write_and_replace(target, chunks, 0o600 if private else 0o666 & ~_current_umask())
    except OSError as exc:
        raise InputError(target, f"cannot write this output: {exc.strerror or type(exc).__name__}") from None


def _write_and_replace(target: Path, chunks: Iterable[bytes | memoryview], file_mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # At most 40 characters of the target's name (160 UTF-8 bytes): a legal 255-byte name must not make the
    # temp name overflow NAME_MAX.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, file_mode)
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def _check_depth(text: str, limit: int) -> None:
    depth = 0
    in_str = False
    esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                raise ValueError(f"nesting deeper than {limit} levels")
        elif ch in "]}":
            depth -= 1


MAX_NUMBER = 1.7976931348623157e308
"""The largest magnitude a JSON number may have: what an IEEE 754 double holds (RFC 8259 section 6)."""
_MAX_DECIMAL = Decimal(MAX_NUMBER)


def number_in_range(value: Any) -> bool:
    """True unless ``value`` is a number no double can hold: NaN, +-Infinity, ``1e400``, a 400-digit integer.

    Accepts the numbers ``json`` produces (int, float) and exact ones (Decimal).
    """
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return -MAX_NUMBER <= value <= MAX_NUMBER
    if isinstance(value, Decimal):
        return value.is_finite() and abs(value) <= _MAX_DECIMAL
    return True


def first_bad_number(obj: Any) -> str | None:
    """The JSON path (``$.log.entries[3].time``) of the first number out of range in ``obj``, else None."""
    stack: list[tuple[str, Any]] = [("$", obj)]
    while stack:
        where, cur = stack.pop()
        if isinstance(cur, dict):
            stack.extend((f"{where}.{k[:64]}", v) for k, v in reversed(list(cur.items())))
        elif isinstance(cur, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(cur))))
        elif not number_in_range(cur):
            return where
    return None


def _problem(obj: Any, numbers: bool) -> str | None:
    """What makes a parsed document unusable (a lone surrogate, a number out of range), or None.

    One pass without paths; the path is looked up only when a number is out of range.
    """
    stack = [obj]
    bad_number = False
    isfinite = math.isfinite
    while stack:
        cur = stack.pop()
        kind = cur.__class__
        if kind is str:
            try:
                cur.encode("utf-8")
            except UnicodeEncodeError:
                return "string contains a lone UTF-16 surrogate"
        elif kind is dict:
            stack.extend(cur.keys())
            stack.extend(cur.values())
        elif kind is list:
            stack.extend(cur)
        elif kind is float:
            bad_number = bad_number or not isfinite(cur)
        elif kind is int:
            bad_number = bad_number or not -MAX_NUMBER <= cur <= MAX_NUMBER
    if bad_number and numbers:
        return f"number out of range at {(first_bad_number(obj) or '$')[:300]}"
    return None


def loads_strict(text: str, source: object = "<json>", max_depth: int = MAX_DEPTH, *, numbers: bool = True) -> Any:
    """Parse JSON text, rejecting NaN/Infinity, excessive nesting and lone surrogates, and (unless ``numbers`` is
    False: the caller checks records one by one with :func:`first_bad_number`) numbers no double can hold."""
    try:
        _check_depth(text, max_depth)
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(source, f"invalid JSON: {msg}") from None
    problem = _problem(obj, numbers)
    if problem is not None:
        raise InputError(source, f"invalid JSON: {problem}")
    return obj


def top_level_keys(head: bytes) -> tuple[set[bytes], int | None]:
    """(keys of the top-level object seen in ``head``, the first bytes of a JSON file, and the offset just past
    that object, or None if it goes on): tells a HAR, observation records and an evidence bundle apart
    without reading the whole file."""
    keys: set[bytes] = set()
    depth, pos, size = 0, 0, len(head)
    while pos < size:
        byte = head[pos]
        if byte == 0x22:  # a string: skip it whole, escapes included
            end = pos + 1
            while end < size and head[end] != 0x22:
                end += 2 if head[end] == 0x5C else 1
            if end >= size:
                break
            if depth == 1 and head[end + 1:end + 65].lstrip()[:1] == b":":
                keys.add(head[pos + 1:end])
            pos = end + 1
            continue
        if byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
            if depth == 0:
                return keys, pos + 1
        pos += 1
    return keys, None


def read_capped(path: str | os.PathLike[str], max_bytes: int, what: str = "file",
                error: type[InputError] = InputError) -> bytes:
    """The bytes of a regular file no larger than ``max_bytes``; otherwise a one-line ``error``."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise error(p, f"{what} is {size} bytes, above the {max_bytes}-byte limit")
        return p.read_bytes()
    except OSError as exc:
        raise error(p, exc.strerror or f"cannot read {what}") from None


def load_json_file(path: str | os.PathLike[str], max_bytes: int = MAX_JSON_BYTES, *, numbers: bool = True) -> Any:
    """Read and strictly parse a JSON file with a size cap; errors are one-line InputErrors.

    ``numbers=False``: numbers out of range are left for the caller to skip record by record.
    """
    p = Path(path)
    raw = read_capped(p, max_bytes, "JSON input")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(p, f"not UTF-8 text (byte {exc.start})") from None
    return loads_strict(text, p, numbers=numbers)
