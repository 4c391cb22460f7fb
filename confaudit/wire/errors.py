"""One narrow error for malformed bytes, and the accounting of every other exception (parser bugs).

A ``wire/`` parser answers in one of three ways: a record, ``None`` ("these bytes are not this
protocol"), or :class:`ParseError` ("they claim to be, but are malformed": a length past the end, a
truncated field). Anything else escaping a parser (IndexError, KeyError, TypeError ...) is a bug in
confaudit, never "not this protocol". :class:`ParserBugs` is the one place that catches those: it
counts them per protocol so the bundle can say what was lost and mark the evidence incomplete, and
in strict mode (the test suite sets ``CONFAUDIT_STRICT_PARSERS=1``) it re-raises them so a bug
fails the tests instead of hiding in a count.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

STRICT_ENV = "CONFAUDIT_STRICT_PARSERS"
"""Environment variable: non-empty and not "0" makes :class:`ParserBugs` re-raise parser bugs."""

T = TypeVar("T")


class ParseError(ValueError):
    """The bytes are malformed for the protocol being parsed (truncated, a length past the end, a bad field)."""


def strict_from_env() -> bool:
    """True when ``CONFAUDIT_STRICT_PARSERS`` asks for parser bugs to be raised."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


@dataclass
class ParserBugs:
    """Per-protocol counts of malformed messages and of parser bugs met during one analysis."""

    strict: bool = field(default_factory=strict_from_env)
    """Re-raise unexpected exceptions instead of counting them (the test suite runs strict)."""
    bugs: Counter[str] = field(default_factory=Counter)
    """protocol -> calls that raised something other than ParseError (a confaudit bug)."""
    samples: dict[str, str] = field(default_factory=dict)
    """protocol -> the first such exception, as ``Type: message`` (one line, capped)."""
    malformed: Counter[str] = field(default_factory=Counter)
    """protocol -> calls that raised ParseError (malformed input, not a bug)."""

    def call(self, protocol: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``fn(*args, **kwargs)``; None when it raised ParseError (counted) or, outside strict mode, a bug (counted)."""
        try:
            return fn(*args, **kwargs)
        except ParseError:
            self.malformed[protocol] += 1
            return None
        except Exception as exc:  # noqa: BLE001 - the one place a parser bug is caught: counted and surfaced
            if self.strict:
                raise
            self.bugs[protocol] += 1
            if protocol not in self.samples:
                message = str(exc).splitlines()[0][:160] if str(exc) else ""
                self.samples[protocol] = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            return None

    def merge(self, other: "ParserBugs") -> None:
        """Add another accounting's counts to this one."""
        self.bugs.update(other.bugs)
        self.malformed.update(other.malformed)
        for protocol, sample in other.samples.items():
            self.samples.setdefault(protocol, sample)

    @property
    def any_bugs(self) -> bool:
        """True when at least one parser bug was counted (the evidence is then incomplete)."""
        return bool(+self.bugs)

    def warnings(self) -> list[str]:
        """One bundle warning per protocol whose parser failed unexpectedly."""
        return [f"internal error in the {protocol} parser on {n} message(s) ({self.samples.get(protocol, '?')}): "
                "a confaudit bug; what those messages held is missing from the evidence (complete: false)"
                for protocol, n in sorted(self.bugs.items())]

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{"bugs": {protocol: n}, "malformed": {protocol: n}}`` for the bundle (sorted, zero counts dropped)."""
        return {"bugs": dict(sorted((+self.bugs).items())), "malformed": dict(sorted((+self.malformed).items()))}
