"""Equal parts of the records of one import, held once.

A capture of 100,000 requests repeats the same User-Agent, cookies, header lists, server addresses and
short values in every record: built (and redacted) once, the records share them instead of holding a
copy each, which halves the memory an import needs. Nothing modifies a record's parts after import, so
sharing is invisible in every output. The memory itself is bounded: past :data:`MAX_REMEMBERED`
entries (of short strings, or of other parts) it starts over.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any, TypeVar

MAX_REMEMBERED = 50_000
MAX_KEY_CHARS = 4096
_MISSING = object()
_SCALARS = (str, int, float, bool, type(None))
_T = TypeVar("_T")
_Record = TypeVar("_Record", bound=Mapping[str, object])


def _short(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not (isinstance(value, str) and len(value) >= 256)


class SharedParts:
    """A bounded memo: ``same(kind, key, make)`` is the one object made for (kind, key)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, Hashable], Any] = {}
        """Values of every kind: each kind's come from its callers' ``make``, which all return one type."""
        self._texts: dict[str, str] = {}

    def same(self, kind: str, key: Hashable, make: Callable[[], _T], size: int = 0) -> _T:
        """``size``: how long the key's text is; a key over :data:`MAX_KEY_CHARS` is not remembered (it
        would rarely repeat and would be held twice). A ``kind`` names values of one type."""
        if size > MAX_KEY_CHARS:
            return make()
        found = self._memo.get((kind, key), _MISSING)
        if found is _MISSING:
            if len(self._memo) >= MAX_REMEMBERED:
                self._memo.clear()
            found = self._memo[(kind, key)] = make()
        return found

    def known(self, kind: str, key: Hashable) -> Any:
        """What :meth:`same` made for (kind, key), or None: a caller whose ``make`` is a closure asks first and
        builds it only when it is needed."""
        return self._memo.get((kind, key))

    def text(self, value: str) -> str:
        """The first equal string seen (short strings only: long ones rarely repeat), from a dict of its own:
        every record asks for several, and :meth:`same` would build a key and a closure for each."""
        if len(value) >= 256:
            return value
        found = self._texts.get(value)
        if found is None:
            if len(self._texts) >= MAX_REMEMBERED:
                self._texts.clear()
            found = self._texts[value] = value
        return found

    def record(self, record: _Record) -> _Record:
        """``record`` (an importer's, already redacted) with its pairs, endpoints and short strings shared: each
        value is replaced by an equal one of the same type, so the record keeps its type."""
        if not isinstance(record, dict):
            return record
        fields: dict[str, Any] = record
        for key, value in fields.items():
            if isinstance(value, str):
                fields[key] = self.text(value)
            elif key in ("request_headers", "response_headers", "query") and isinstance(value, list) \
                    and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value):
                pairs: tuple[tuple[str, str], ...] = tuple((a, b) for a, b in value)
                fields[key] = self.same("pairs", pairs, partial(self._pairs, pairs), sum(len(a) + len(b) for a, b in pairs))
            elif isinstance(value, dict) and len(value) <= 8 and all(_short(v) for v in value.values()):
                items = tuple(value.items())
                fields[key] = self.same("object", items, partial(_interned, value))
        return record

    def _pairs(self, pairs: tuple[tuple[str, str], ...]) -> list[list[str]]:
        return [self.same("pair", p, partial(list, p)) for p in pairs]


def _interned(value: dict[str, object]) -> dict[str, object]:
    """A copy of ``value`` with its key names interned."""
    return {sys.intern(k): value[k] for k in value}
