"""Regular expressions written by other people (claims files, foreign evidence): matched by RE2 only.

Python's ``re`` backtracks, so ``(a+)+$`` against a long URL never ends. RE2 (``google-re2``) runs in
time linear in the text for every pattern it accepts and refuses the constructs that need
backtracking (look-around, back-references), so a hostile claims file cannot hang a check. Linear is
not yet bounded: when RE2's DFA runs out of memory it simulates the pattern at a cost per byte that
grows with the pattern, and finding every match of a pattern like ``(.*c|a)`` rescans the rest of the
text once per match. So a pattern's compiled size is capped when it is loaded, and every scan draws
on a :class:`ScanBudget` (matches and a deadline) that says which limit stopped it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

MAX_PROGRAM_SIZE = 2000
"""Most RE2 instructions a user pattern may compile to. Room-link patterns need tens (``\\p{L}``
alone is about 1200); each instruction adds to the per-byte cost of RE2's fallback simulation, which
at this size stays around two seconds for a 100 KB text."""


class PatternError(ValueError):
    """A user pattern RE2 refuses (with RE2's reason), or one too large to match in bounded time."""


@dataclass(frozen=True)
class UserMatch:
    """One match of a user pattern: the text it covered and its groups, decoded from UTF-8."""

    text: str
    """The whole match (group 0)."""
    groups: tuple[str | None, ...]
    """Groups 1..n; None for a group that took no part in the match."""
    named: Mapping[str, int]
    """Group name -> group number (1-based), as written in the pattern."""

    def group(self, name: str) -> str | None:
        """The named group's text, or None when the pattern has no such group or it did not take part."""
        number = self.named.get(name)
        return self.groups[number - 1] if number else None


@dataclass(frozen=True)
class UserPattern:
    """A user pattern compiled by RE2."""

    source: str
    """The pattern as written."""
    regexp: Any = field(repr=False, compare=False)
    """The compiled ``re2`` object (bytes pattern, UTF-8 mode)."""
    groups: int
    """How many capturing groups the pattern has."""
    named: Mapping[str, int]
    """Group name -> group number."""
    program_size: int
    """RE2 instructions of the compiled pattern (at most MAX_PROGRAM_SIZE)."""

    def matches_empty_text(self) -> bool:
        """True when the pattern matches the empty string (and so could match at every position)."""
        return self.regexp.search(b"") is not None


ScanStop = Literal["samples", "matches", "time"]
"""The limit that stopped a scan (the schema's ``telemetry_room_links.stopped``)."""


@dataclass
class ScanBudget:
    """What one analysis may still spend on matching; ``stopped`` names the limit that ran out first."""

    deadline: float
    """``time.monotonic()`` value after which no further search starts."""
    matches: int
    """Matches that may still be produced."""
    stopped: ScanStop | None = None
    """None while within budget, then "time" or "matches" (or "samples": the caller collected enough)."""

    @classmethod
    def start(cls, seconds: float, matches: int) -> ScanBudget:
        """A budget of ``seconds`` from now and ``matches`` matches."""
        return cls(deadline=time.monotonic() + seconds, matches=matches)

    def exhausted(self) -> bool:
        """True once a limit has stopped a scan or the deadline has passed (``stopped`` then says which)."""
        if self.stopped is None and time.monotonic() > self.deadline:
            self.stopped = "time"
        return self.stopped is not None


def compile_user_pattern(pattern: str) -> UserPattern:
    """Compile ``pattern`` with RE2; PatternError (one line, RE2's reason) when it cannot be used."""
    import re2

    try:
        encoded = pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise PatternError("is not valid Unicode text (it holds a lone surrogate)") from None
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own diagnostic to stderr; the caller reports one line
    try:
        regexp = re2.compile(encoded, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "rejected"
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise PatternError(f"is not accepted by RE2, the linear-time engine confaudit matches with: "
                           f"{' '.join(reason.split())[:200]}") from None
    size = regexp.programsize
    if size > MAX_PROGRAM_SIZE:
        raise PatternError(f"is too large to match in bounded time ({size} RE2 instructions, limit "
                           f"{MAX_PROGRAM_SIZE}); use fewer or smaller counted repetitions")
    named = {_decode(name) if isinstance(name, bytes) else name: number for name, number in regexp.groupindex.items()}
    return UserPattern(source=pattern, regexp=regexp, groups=regexp.groups, named=named, program_size=size)


def scan(pattern: UserPattern, text: str, budget: ScanBudget) -> Iterator[UserMatch]:
    """Non-overlapping matches of ``pattern`` in ``text``, left to right, while ``budget`` lasts.

    A text cut short by the budget leaves ``budget.stopped`` set. Lone surrogates in ``text`` become
    invalid UTF-8, which no pattern character matches.
    """
    if budget.exhausted():
        return
    data = text.encode("utf-8", "surrogatepass")
    for match in pattern.regexp.finditer(data):
        if budget.matches <= 0:
            budget.stopped = "matches"
            return
        budget.matches -= 1
        yield UserMatch(text=_decode(match.group(0)), groups=tuple(_decode(g) for g in match.groups()),
                        named=pattern.named)
        if budget.exhausted():  # checked between searches: one search is bounded by the size cap
            return


@overload
def _decode(value: bytes) -> str: ...
@overload
def _decode(value: bytes | None) -> str | None: ...
def _decode(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")
