"""A HAR file streamed: its ``log.entries`` one at a time, never the whole document in memory.

ijson's C parser reads 1 MiB at a time behind a nesting guard (its item builder costs memory quadratic
in the depth). A file that is not JSON is refused; a file that breaks off after some entries (cut short,
garbage, nesting too deep) is read up to the break, which is reported. Numbers arrive as ``int`` and
``Decimal`` so that ``1e400`` stays a number: an entry holding one no double can hold is the caller's to
skip and count (:func:`all_in_range`, :func:`bad_number`).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from confaudit.errors import InputError
from confaudit.jsonstream import MAX_NUMBER

MAX_DEPTH = 200
CHUNK_BYTES = 1 << 20
_MAX_DECIMAL = Decimal(MAX_NUMBER)


def _in_range(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite() and abs(value) <= _MAX_DECIMAL
    return not isinstance(value, int) or -MAX_NUMBER <= value <= MAX_NUMBER


def bad_number(obj: Any) -> str | None:
    """Where (``$.time``, ``$.request.bodySize``) ``obj`` holds a number no double can hold (``1e400``, a
    400-digit integer), else None. The same rule as the JSON readers: such an entry is skipped and counted."""
    stack: list[tuple[str, Any]] = [("$", obj)]
    while stack:
        where, cur = stack.pop()
        if isinstance(cur, dict):
            stack.extend((f"{where}.{str(k)[:64]}", v) for k, v in cur.items())
        elif isinstance(cur, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(cur))
        elif not _in_range(cur):
            return where
    return None


def all_in_range(obj: dict[str, Any]) -> bool:
    """Cheap pass of :func:`bad_number` (no paths, strings never stacked): True when every number fits a double."""
    stack: list[Any] = [obj]
    while stack:
        current = stack.pop()
        for value in current.values() if type(current) is dict else current:
            kind = type(value)
            if kind is dict or kind is list:
                stack.append(value)
            elif kind is Decimal:
                if not value.is_finite() or abs(value) > _MAX_DECIMAL:
                    return False
            elif kind is int and (value > MAX_NUMBER or value < -MAX_NUMBER):
                return False
    return True


def _json_problem(exc: BaseException) -> str:
    """The parser's first line (ijson gives some as bytes, with the input quoted on later lines)."""
    message = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return (str(message).strip().splitlines() or [type(exc).__name__])[0][:200]


class HarEntries:
    """The ``log.entries`` items of a HAR file, one at a time (iterate once).

    A file that is not JSON is an InputError. A file that stops being JSON after some entries (cut short,
    damaged) is analysed as far as it goes: iteration ends there and :attr:`damage` says why.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damage: str | None = None
        """The parser's problem when the file broke off after at least one entry, else None."""
        self.count = 0
        """Entries given so far."""

    def __iter__(self) -> Iterator[Any]:
        import ijson

        try:
            with self.path.open("rb") as fh:
                # Non-integers as Decimal: ``1e400`` stays a number whose entry is skipped, not a parse error for
                # the file. ijson's C generator reads the guarded bytes itself (its coroutine interface costs
                # twice as much per entry).
                for entry in ijson.items(_GuardedReader(fh), "log.entries.item", use_float=False, buf_size=CHUNK_BYTES):
                    self.count += 1
                    yield entry
        except UnicodeDecodeError:  # a lone UTF-16 surrogate escape decodes to no valid UTF-8
            self._broken("a string holds a lone UTF-16 surrogate")
        except (ijson.JSONError, ValueError) as exc:  # the parser's, the nesting guard's
            self._broken(_json_problem(exc))

    def _broken(self, problem: str) -> None:
        if not self.count:
            raise InputError(self.path, f"invalid JSON: {problem}")
        self.damage = problem


class _GuardedReader:
    """A file's bytes as the parser asks for them, checked by a :class:`NestingGuard` first (a leading UTF-8
    BOM dropped). Past the nesting limit it gives the bytes before the deep part, then raises TooDeep, so
    the entries before it are still read."""

    def __init__(self, fh: BinaryIO) -> None:
        from confaudit.jsonstream import NestingGuard

        self._fh = fh
        self._guard = NestingGuard(MAX_DEPTH)
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        self._following = fh.read(CHUNK_BYTES)
        self._checked = memoryview(b"")
        self._deep: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        from confaudit.jsonstream import TooDeep

        while not self._checked:  # a chunk of backslashes only is held back whole: the next one follows
            if self._deep is not None:
                raise self._deep
            chunk = self._following
            if not chunk:
                return b""
            self._following = self._fh.read(CHUNK_BYTES)
            try:
                self._checked = memoryview(self._guard.check(chunk, final=not self._following))
            except TooDeep as deep:
                self._deep, self._checked = deep, memoryview(deep.safe)
                if not deep.safe:
                    raise
        size = len(self._checked) if size is None or size < 0 else size
        given, self._checked = self._checked[:size], self._checked[size:]
        return bytes(given)


def layout_problem(path: Path) -> tuple[str, str] | None:
    """(where, what) when the document has no ``log`` object or its ``entries`` is not a list; None when it
    is a HAR. Read only for a file that gave no entries (the streamed pass cannot tell the cases apart)."""
    import ijson

    kinds: dict[str, str] = {}
    with path.open("rb") as fh:
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        for prefix, event, _ in ijson.parse(fh, use_float=False):
            if prefix in ("", "log", "log.entries") and event != "map_key" and prefix not in kinds:
                kinds[prefix] = event
            if "log.entries" in kinds:
                break
    if kinds.get("") != "start_map" or kinds.get("log") != "start_map":
        return "document", "no 'log' object"
    if kinds.get("log.entries") != "start_array":
        return "log", "'entries' must be a list"
    return None
