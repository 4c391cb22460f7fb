"""Find the session's known values (room names, participants, the auditor's e-mail, User-Agent) in
outgoing data, also when base64- or URL-encoded or hashed (MD5, SHA-1, SHA-256: the "hashed e-mail"
trick). Matching is a pure lookup against precomputed variants.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

from confaudit.telemetry.taxonomy import Match

if TYPE_CHECKING:
    from confaudit.evidence_model import DataCategory

MIN_KNOWN_LEN = 3
_HASHES = (("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256))


@dataclass(frozen=True)
class KnownValue:
    """A value the auditor knows and wants to trace."""

    category: DataCategory
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
    if known.label == "phone":  # hashed-phone matching hashes E.164 digits, with or without the '+'
        digits = "".join(ch for ch in value if ch.isdigit())
        normalised |= {digits, "+" + digits} if len(digits) >= 8 else set()
        out += [Variant(form, "plain", known) for form in normalised - {value.lower()} if len(form) >= 8]
    for name, fn in _HASHES:
        for form in normalised:
            digest = fn(form.encode("utf-8"))
            suffix = "" if form == value else ("-lower" if form == value.lower() else "-normalised")
            out.append(Variant(digest.hexdigest(), f"{name}{suffix}", known))
            out.append(Variant(base64.b64encode(digest.digest()).decode("ascii").rstrip("="), f"{name}{suffix}-base64", known))
    return out


_HEX_RUN = re.compile(r"(?<![0-9a-z])[0-9a-f]{32,64}(?![0-9a-z])")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{22,44}")


class KnownMatcher:
    """Looks for every variant of every known value inside field values, in time linear in the value.

    Plain and URL-encoded forms: one case-insensitive alternation with token boundaries (so a room
    called "team" does not match "teamwork"); base64 of the value: one case-sensitive alternation;
    digests: hex and base64 runs of the value looked up in a table.
    """

    def __init__(self, known: list[KnownValue]) -> None:
        self._plain: dict[str, Variant] = {}
        self._b64: dict[str, Variant] = {}
        self._digest: dict[str, Variant] = {}
        for item in known:
            for var in variants(item):
                if var.encoding in ("plain", "url"):
                    self._plain.setdefault(var.text, var)
                elif var.encoding == "base64":
                    self._b64.setdefault(var.text, var)
                else:
                    self._digest.setdefault(var.text, var)
        self._plain_re = _alternation(self._plain, r"(?<![a-z0-9])(?:", r")(?![a-z0-9])")
        self._b64_re = _alternation(self._b64, "(?:", ")")

    def __bool__(self) -> bool:
        return bool(self._plain or self._b64 or self._digest)

    def match(self, value: str) -> list[Match]:
        """Known-value matches in ``value`` (plain and URL forms case-insensitive, hex digests any case)."""
        if not value or len(value) > 200000 or not self:
            return []
        low = value.lower()
        hits: list[Variant] = []
        if self._plain_re is not None:
            hits += [self._plain[m.group(0)] for m in self._plain_re.finditer(low)]
        if self._b64_re is not None:
            hits += [self._b64[m.group(0)] for m in self._b64_re.finditer(value)]
        if self._digest:
            hits += [self._digest[m.group(0)] for m in _HEX_RUN.finditer(low) if m.group(0) in self._digest]
            hits += [self._digest[t] for t in (m.group(0).rstrip("=") for m in _B64_RUN.finditer(value))
                     if t in self._digest]
        found: dict[tuple[str, str], Match] = {}
        for var in hits:
            suffix = "" if var.encoding == "plain" else f" {var.encoding}"
            found.setdefault((var.known.category, var.known.label),
                             Match(var.known.category, f"known:{var.known.label}{suffix}"))
        return list(found.values())


def _alternation(table: dict[str, Variant], head: str, tail: str) -> re.Pattern[str] | None:
    if not table:
        return None
    ordered = sorted(table, key=len, reverse=True)  # longest first, so "Ann Lee" wins over "Ann"
    return re.compile(head + "|".join(re.escape(t) for t in ordered) + tail)
