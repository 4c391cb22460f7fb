"""A HAR file streamed: its ``log.entries`` one at a time, never the whole document in memory.

The bytes are read 1 MiB at a time, decoded as strict UTF-8 into a text window, and each entry is cut out
of the window by the C decoder of Python's ``json`` (``raw_decode``, about twice as fast as ijson's item
builder, whose memory also grows quadratically with the nesting depth); the few levels around the entries
(the document, ``log`` and its other members) are walked here. A file that is not JSON is refused; a file
that breaks off after some entries (cut short, garbage, invalid UTF-8, nesting deeper than the C decoder
goes) is read up to the break, which is reported. Numbers are checked by the decoder's hooks, which see
their text, and nesting by counting an entry's brackets: an entry holding a number no double can hold
(``1e400``, a 400-digit integer, a number just above the largest double that would round into range) or
nested past :data:`MAX_DEPTH` is the caller's to skip and count (:func:`skip_reason`).
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from confaudit.errors import InputError
from confaudit.jsonio import first_bad_number
from confaudit.jsonstream import MAX_NUMBER, has_lone_surrogate

MAX_DEPTH = 200
CHUNK_BYTES = 1 << 20
_MAX_DECIMAL = Decimal(MAX_NUMBER)
_OUT_OF_RANGE = float("inf")
"""What the number hooks give for a number no double can hold: ``jsonio.first_bad_number`` finds it."""
_ENTRY_DEPTH = MAX_DEPTH - 3
"""The levels an entry may hold: the document, ``log`` and ``entries`` take three of :data:`MAX_DEPTH`."""
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SPACE = re.compile(r"[ \t\n\r]*")


def _after_space(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON white space."""
    found = _SPACE.match(text, pos)
    return found.end() if found else pos


def skip_reason(entry: Any) -> str | None:
    """Why an entry is skipped and counted rather than read: a number no double can hold, nesting past the
    limit (the entry sits three levels deep in the document), else None."""
    where = first_bad_number(entry)
    if where is not None:
        return f"number out of range at {where[:200]}"
    stack: list[tuple[Any, int]] = [(entry, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > _ENTRY_DEPTH:
            return f"nesting deeper than {MAX_DEPTH} levels"
        children = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return None


class _Numbers:
    """The decoder's number hooks: they see each number's text and note whether one no double can hold."""

    def __init__(self) -> None:
        self.out_of_range = False

    def real(self, text: str) -> float:
        value = float(text)
        if value in (MAX_NUMBER, -MAX_NUMBER) and abs(Decimal(text)) > _MAX_DECIMAL:
            value = _OUT_OF_RANGE  # just above the largest double: float() rounds it into range
        if not math.isfinite(value):
            self.out_of_range = True
            return _OUT_OF_RANGE
        return value

    def integer(self, text: str) -> int | float:
        if len(text) > 300 and (len(text) > 4300 or abs(int(text)) > MAX_NUMBER):  # int() refuses > 4300 digits
            self.out_of_range = True
            return _OUT_OF_RANGE
        return int(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


class HarEntries:
    """The ``log.entries`` items of a HAR file, one at a time (iterate once).

    A file that is not JSON is an InputError, as is one that is JSON but no HAR (no ``log`` object, entries
    not a list) and gave no entry. A file that stops being JSON after some entries (cut short, damaged) is
    analysed as far as it goes: iteration ends there and :attr:`damage` says why.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damage: str | None = None
        """The problem when the file broke off after at least one entry, else None."""
        self.count = 0
        """Entries given so far."""
        self.unreadable: str | None = None
        """Why the entry given last is to be skipped (a number no double can hold, nesting too deep), else None."""

    def __iter__(self) -> Iterator[Any]:
        try:
            with self.path.open("rb") as fh:
                yield from self._entries(_Window(fh))
        except _Broken as broken:
            if not self.count:
                raise InputError(self.path, str(broken)) from None
            self.damage = broken.problem

    def _entries(self, text: _Window) -> Iterator[Any]:
        numbers = _Numbers()
        decoder = json.JSONDecoder(parse_float=numbers.real, parse_int=numbers.integer, parse_constant=_reject_constant)
        found_log = found_entries = False
        for key in text.members(top=True):
            if key != "log":
                text.value(decoder)
                continue
            found_log = True
            if text.peek() != "{":
                raise _Broken(*_NO_LOG)
            for member in text.members():
                if member != "entries" or text.peek() != "[":
                    text.value(decoder)
                    continue
                found_entries = True
                for _ in text.items():
                    numbers.out_of_range = False
                    entry, start = text.value(decoder)
                    if text.has_surrogate_escape(start) and has_lone_surrogate(entry):
                        raise _Broken("a string holds a lone UTF-16 surrogate")
                    self.unreadable = skip_reason(entry) if numbers.out_of_range or text.deep(start) else None
                    self.count += 1
                    yield entry
        if not found_log:
            raise _Broken(*_NO_LOG)
        if not found_entries:
            raise _Broken("'entries' is no list", "HAR log: 'entries' must be a list")


_NO_LOG = ("no 'log' object", "HAR document: no 'log' object")


class _Broken(Exception):
    """The file stops being a HAR here: ``problem`` for the damage warning, str() for the refusal."""

    def __init__(self, problem: str, refusal: str | None = None) -> None:
        super().__init__(refusal or f"invalid JSON: {problem}")
        self.problem = problem


class _Window:
    """The file's text as the parser needs it: its bytes (a leading UTF-8 BOM dropped) decoded as strict UTF-8,
    held from the parse position on. Grows by at least its own size when
    a value does not fit (a 50 MB entry costs a linear number of decode attempts, not a quadratic one)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        self._decoded_bytes = fh.tell()  # past the BOM, when there is one
        self._following = fh.read(CHUNK_BYTES)
        self._undecoded = b""
        self._stop: _Broken | None = None  # why no more text follows the window (bytes past it are damaged)
        self.text = ""
        self.pos = 0
        self._base = 0  # characters dropped before the window

    def _more(self, at_least: int) -> bool:
        """Append at least ``at_least`` characters (fewer at the end); False when nothing follows."""
        if self.pos:
            self._base += self.pos
            self.text, self.pos = self.text[self.pos:], 0
        added: list[str] = []
        size = 0
        while size < at_least and self._stop is None:
            chunk = self._following
            if not chunk:
                self._stop = _Broken("the file ends before the JSON does")
                break
            self._following = self._fh.read(CHUNK_BYTES)
            final = not self._following
            data = self._undecoded + chunk
            try:
                decoded, used = codecs.utf_8_decode(data, "strict", final)
            except UnicodeDecodeError as bad:
                decoded, used = data[:bad.start].decode("utf-8"), bad.start
                self._stop = _Broken(f"bytes that are not UTF-8 at byte {self._decoded_bytes + bad.start}")
            self._decoded_bytes += used
            self._undecoded = data[used:]
            added.append(decoded)
            size += len(decoded)
        if added:
            self.text += "".join(added)
        return size > 0

    def _fail(self, problem: str) -> _Broken:
        """The damage at the window's position: the reason the text stops when the position is at its end
        (the file ends, its bytes are not UTF-8, nesting too deep), else ``problem``."""
        if _after_space(self.text, self.pos) >= len(self.text) and self._stop is not None:
            return self._stop
        return _Broken(f"{problem} at character {self._base + self.pos}")

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the file); the position moves to it."""
        while True:
            self.pos = _after_space(self.text, self.pos)
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more(CHUNK_BYTES):
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self._fail(f"expected '{char}'")
        self.pos += 1

    def value(self, decoder: json.JSONDecoder) -> tuple[Any, int]:
        """The JSON value at the position, and where it ends (the position moves there)."""
        self.peek()
        start = self.pos
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # A value the window cuts off fails at the window's end, or (a string) where it opens.
                near_end = exc.pos >= len(self.text) - 8 or exc.msg.startswith("Unterminated string")
                if near_end and self._stop is None:  # read on (or learn that nothing follows), then decode again
                    self._more(max(CHUNK_BYTES, len(self.text) - self.pos))
                    start = self.pos
                    continue
                self.pos = len(self.text) if exc.msg.startswith("Unterminated string") else exc.pos
                raise self._fail(exc.msg) from None
            except ValueError as exc:  # the constant hook's refusal (NaN, Infinity)
                raise _Broken(str(exc)) from None
            except RecursionError:  # deeper than the C decoder goes (about 1,500 levels)
                raise _Broken(f"nesting deeper than {MAX_DEPTH} levels") from None
            # A number the window cuts off ("8" of "8.25", "8" of "8e+5") decodes as a shorter one: the
            # decoder stops at most two characters ("e+") before the window's end then. Read on and decode again.
            if len(self.text) - end < 3 and self._stop is None and self._more(CHUNK_BYTES):
                start = self.pos
                continue
            self.pos = end
            return value, start

    def members(self, top: bool = False) -> Iterator[str]:
        """The keys of the object at the position, each with the position at its value (the caller reads it)."""
        if top and self.peek() != "{":
            raise _Broken(*_NO_LOG)
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
        else:
            key_decoder = json.JSONDecoder()
            while True:
                if self.peek() != '"':
                    raise self._fail("expected a member name")
                key, _ = self.value(key_decoder)
                self.expect(":")
                yield key
                if self.peek() == ",":
                    self.pos += 1
                    continue
                self.expect("}")
                break
        if top and self.peek() != "":
            raise self._fail("extra data after the document")

    def items(self) -> Iterator[int]:
        """The start of each item of the array at the position (the caller reads each item)."""
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.pos
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return

    def deep(self, start: int) -> bool:
        """Whether the text from ``start`` to the position opens enough brackets to nest past the limit."""
        return self.text.count("[", start, self.pos) + self.text.count("{", start, self.pos) > _ENTRY_DEPTH

    def has_surrogate_escape(self, start: int) -> bool:
        """Whether the text from ``start`` to the position holds an escaped UTF-16 surrogate (a pair or a lone one)."""
        return _SURROGATE_ESCAPE.search(self.text, start, self.pos) is not None
