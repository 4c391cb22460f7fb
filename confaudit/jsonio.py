"""Deterministic JSON output, atomic file writes and a hostile-input-safe JSON loader."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
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


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    """:func:`atomic_write_bytes` for output produced piece by piece (never held whole in memory)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())
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


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """``dumps_canonical(obj)`` and a newline, written atomically and streamed (confaudit.jsonstream)."""
    from confaudit.jsonstream import canonical_chunks

    atomic_write_chunks(path, canonical_chunks(obj))


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


def _has_lone_surrogate(obj: Any) -> bool:
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


def loads_strict(text: str, source: object = "<json>", max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text, rejecting NaN/Infinity, excessive nesting and lone surrogates."""
    try:
        _check_depth(text, max_depth)
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(source, f"invalid JSON: {msg}") from None
    if _has_lone_surrogate(obj):
        raise InputError(source, "invalid JSON: string contains a lone UTF-16 surrogate")
    return obj


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


def load_json_file(path: str | os.PathLike[str], max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read and strictly parse a JSON file with a size cap; errors are one-line InputErrors."""
    p = Path(path)
    raw = read_capped(p, max_bytes, "JSON input")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(p, f"not UTF-8 text (byte {exc.start})") from None
    return loads_strict(text, p)
