"""Find the session's known values (room names, participants, the auditor's e-mail, User-Agent) in
outgoing data, also when base64- or URL-encoded or hashed (MD5, SHA-1, SHA-256: the "hashed e-mail"
trick). Matching is a pure lookup against precomputed variants.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from confaudit.telemetry.taxonomy import Match

MIN_KNOWN_LEN = 3
_HASHES = (("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256))


@dataclass(frozen=True)
class KnownValue:
    """A value the auditor knows and wants to trace."""

    category: str
    """Taxonomy category this value belongs to (room_name, participants, account, browser)."""
    label: str
    """What it is, for reasons: ``room_name``, ``participant``, ``email``, ``user-agent``."""
    value: str
    """The plain value."""


@dataclass(frozen=True)
class Variant:
    """One encoded form of a known value."""

    text: str
    """The encoded text, lower-cased for hex digests."""
    encoding: str
    """``plain``, ``url``, ``base64``, ``md5``, ``sha1``, ``sha256`` (+ ``-lower`` normalisation)."""
    known: KnownValue
    """The value it encodes."""


def variants(known: KnownValue) -> list[Variant]:
    """Every encoded form we look for: plain, percent-encoded, base64 (std/url, padded or not), hashes."""
    value = known.value.strip()
    if len(value) < MIN_KNOWN_LEN:
        return []
    out = [Variant(value.lower(), "plain", known)]
    for enc in {quote(value, safe=""), quote_plus(value)} - {value}:
        out.append(Variant(enc.lower(), "url", known))
    raw = value.encode("utf-8")
    b64 = base64.b64encode(raw).decode("ascii")
    for form in {b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")}:
        if len(form) >= 8:
            out.append(Variant(form, "base64", known))
    normalised = {value, value.lower()}
    for name, fn in _HASHES:
        for form in normalised:
            digest = fn(form.encode("utf-8"))
            suffix = "" if form == value else "-lower"
            out.append(Variant(digest.hexdigest(), f"{name}{suffix}", known))
            out.append(Variant(base64.b64encode(digest.digest()).decode("ascii").rstrip("="), f"{name}{suffix}-base64", known))
    return out


class KnownMatcher:
    """Looks for every variant of every known value inside field values."""

    def __init__(self, known: list[KnownValue]) -> None:
        self._plain: list[tuple[re.Pattern[str], Variant]] = []
        self._exact: list[Variant] = []
        self._exact_case: list[Variant] = []
        seen: set[tuple[str, str]] = set()
        for item in known:
            for var in variants(item):
                if (var.text, var.known.category) in seen:
                    continue
                seen.add((var.text, var.known.category))
                if var.encoding in ("plain", "url"):
                    # token boundary so a room called "team" does not match "teamwork"
                    pattern = re.compile(r"(?<![a-z0-9])" + re.escape(var.text) + r"(?![a-z0-9])")
                    self._plain.append((pattern, var))
                elif var.encoding.endswith("base64"):
                    self._exact_case.append(var)
                else:
                    self._exact.append(var)

    def __bool__(self) -> bool:
        return bool(self._plain or self._exact or self._exact_case)

    def match(self, value: str) -> list[Match]:
        """Known-value matches in ``value`` (case-insensitive for plain/url/hex forms)."""
        if not value or len(value) > 200000:
            return []
        low = value.lower()
        found: dict[tuple[str, str], Match] = {}
        for pattern, var in self._plain:
            if var.text in low and pattern.search(low):
                found.setdefault((var.known.category, var.known.label),
                                 Match(var.known.category, f"known:{var.known.label}{'' if var.encoding == 'plain' else ' ' + var.encoding}"))
        for hay, group in ((low, self._exact), (value, self._exact_case)):
            for var in group:
                if var.text in hay:
                    found.setdefault((var.known.category, var.known.label),
                                     Match(var.known.category, f"known:{var.known.label} {var.encoding}"))
        return list(found.values())
