"""Which claims file belongs to which session (``confaudit compare``). Pure.

Rule, in order:
1. The session manifest names a vendor: the claims file whose ``vendor`` equals it (case, spaces,
   hyphens and underscores ignored). None or several: error.
2. No vendor recorded (raw captures, HAR): the claims files whose ``first_party`` domains
   match a name seen in the session (party domains, entities and hosts, TLS SNI and certificate
   names, media-path endpoint names; equal, or a parent domain of it). Exactly one such file wins;
   none or several: error naming the candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


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


def _names_seen(bundle: Mapping[str, Any]) -> set[str]:
    """Party domains and hosts, TLS/QUIC server and certificate names, DTLS certificate names, media endpoint names.

    Entities are left out on purpose: "Google" as Meet's first party would otherwise claim every
    capture that merely contacts Google Analytics.
    """
    values: list[Any] = []
    for party in bundle.get("parties") or []:
        if isinstance(party, Mapping):
            values += [party.get("domain"), *(party.get("hosts") or [])]
    for key in ("tls", "quic", "dtls"):
        for hello in bundle.get(key) or []:
            if isinstance(hello, Mapping):
                values += [hello.get("sni"), *(hello.get("certificate_names") or [])]
    path = bundle.get("media_path")
    for endpoint in (path.get("endpoints") or []) if isinstance(path, Mapping) else []:
        if isinstance(endpoint, Mapping):
            values += list(endpoint.get("names") or [])
    names = set()
    for value in values:
        if isinstance(value, str) and value.strip():
            name = value.strip().lower().rstrip(".")
            names.add(name[2:] if name.startswith("*.") else name)
    return names


def _matches(first_party: str, names: Iterable[str]) -> bool:
    fp = first_party.strip().lower().rstrip(".")
    if "." not in fp:  # an entity name, not a domain
        return False
    return any(n == fp or n.endswith("." + fp) for n in names)


def manifest_vendor(bundle: Mapping[str, Any]) -> str:
    """Vendor recorded in the bundle (``--vendor``) or its session provenance, or ''."""
    recorded = bundle.get("vendor")
    if isinstance(recorded, Mapping) and isinstance(recorded.get("name"), str) and recorded["name"].strip():
        return recorded["name"].strip()
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
    names = _names_seen(bundle)
    hits = [c for c in candidates if any(_matches(fp, names) for fp in c.first_party)]
    if len(hits) == 1:
        seen = next(fp for fp in hits[0].first_party if _matches(fp, names))
        return Match(hits[0], f"first party {seen} seen")
    if not hits:
        raise MatchError("no vendor recorded and no claims file's first_party was seen in the traffic "
                         f"(claims files: {listing}); record the session with --vendor or pass an evidence JSON")
    raise MatchError("no vendor recorded and the traffic matches the first_party of several claims files: "
                     f"{', '.join(c.path for c in hits)}; record the session with --vendor")
