"""Which claims file belongs to which session (``confaudit compare``). Pure.

Rule, in order:
1. The session manifest names a vendor: the claims file whose ``vendor`` equals it (case, spaces,
   hyphens and underscores ignored). None or several: error.
2. No vendor recorded (raw captures, HAR): the claims files whose ``first_party`` domains or entities
   match a party seen in the session (equal, or a parent domain of it). Exactly one such file wins;
   none or several: error naming the candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence


@dataclass(frozen=True)
class ClaimsCandidate:
    """What matching needs to know of one claims file."""

    path: str
    """The claims file."""
    vendor: str
    """Its vendor name."""
    first_party: tuple[str, ...]
    """Its first-party domains or entities."""


@dataclass(frozen=True)
class Match:
    """The claims file chosen for a session, and why."""

    candidate: ClaimsCandidate
    """The chosen claims file."""
    reason: str
    """'manifest vendor X' or 'first party X seen'."""


class MatchError(ValueError):
    """No claims file, or more than one, fits a session."""


def normalise_vendor(name: str) -> str:
    """'Google Meet' == 'google-meet' == 'google_meet'."""
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


def _party_names(bundle: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for party in bundle.get("parties") or []:
        if not isinstance(party, Mapping):
            continue
        for value in [party.get("domain"), party.get("entity"), *(party.get("hosts") or [])]:
            if isinstance(value, str) and value:
                names.add(value.strip().lower().rstrip("."))
    return names


def _matches(first_party: str, names: Iterable[str]) -> bool:
    fp = first_party.strip().lower().rstrip(".")
    return bool(fp) and any(n == fp or n.endswith("." + fp) for n in names)


def manifest_vendor(bundle: Mapping[str, Any]) -> str:
    """Vendor recorded in the bundle's session provenance, or ''."""
    session = bundle.get("session")
    vendor = session.get("vendor") if isinstance(session, Mapping) else None
    return vendor.strip() if isinstance(vendor, str) else ""


def match_claims(session_vendor: str, bundle: Mapping[str, Any], candidates: Sequence[ClaimsCandidate]) -> Match:
    """Apply the rule above; raise MatchError with a one-line explanation."""
    listing = ", ".join(f"{c.path} ({c.vendor})" for c in candidates) or "none"
    if session_vendor:
        key = normalise_vendor(session_vendor)
        hits = [c for c in candidates if normalise_vendor(c.vendor) == key]
        if len(hits) == 1:
            return Match(hits[0], f"manifest vendor {session_vendor}")
        if not hits:
            raise MatchError(f"no claims file has vendor {session_vendor!r} (claims files: {listing})")
        raise MatchError(f"several claims files have vendor {session_vendor!r}: {', '.join(c.path for c in hits)}")
    names = _party_names(bundle)
    hits = [c for c in candidates if any(_matches(fp, names) for fp in c.first_party)]
    if len(hits) == 1:
        seen = next(fp for fp in hits[0].first_party if _matches(fp, names))
        return Match(hits[0], f"first party {seen} seen")
    if not hits:
        raise MatchError("no vendor recorded and no claims file's first_party was seen in the traffic "
                         f"(claims files: {listing}); record the session with --vendor or pass an evidence JSON")
    raise MatchError("no vendor recorded and the traffic matches the first_party of several claims files: "
                     f"{', '.join(c.path for c in hits)}; record the session with --vendor")
