"""The check kinds: one pure predicate each over the evidence bundle, and the parameters each accepts.

A predicate is ``(bundle, params) -> Outcome``. Parameters are declared here as data so the claims
loader can reject unknown ones and fill defaults before any check runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confaudit.rules.checks.data import data_collection, no_advertising, third_party_sharing
from confaudit.rules.checks.e2ee import end_to_end_encryption
from confaudit.rules.checks.media import media_encryption
from confaudit.rules.checks.path import TOPOLOGIES, data_location, media_path
from confaudit.rules.checks.rooms import no_audio_while_muted, room_links, room_lock
from confaudit.rules.checks.transport import transport_encryption
from confaudit.rules.model import Outcome

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], Outcome]
"""(bundle, params) -> Outcome. The bundle is an EvidenceBundle (confaudit.evidence_model) or a view of one
(the engine's first-party view, the vendor-media view); predicates read its sections through
``records(bundle, key)`` / ``obj(bundle, key)``, which give each record its section's TypedDict."""
DOCUMENT_ONLY = "document_only"


@dataclass(frozen=True)
class Param:
    """One parameter a check kind accepts."""

    name: str
    """Key beside ``check`` in the claim."""
    kind: str
    """str | bool | number | str_list."""
    default: Any = None
    """Value when absent (None: no default)."""
    required: bool = False
    """Whether the claim must give it."""
    choices: tuple[str, ...] = ()
    """Allowed values (for str, or each item of str_list); empty means any."""


@dataclass(frozen=True)
class CheckKind:
    """A check kind: its predicate, parameters and default rubric category."""

    name: str
    """Name used after ``check:``."""
    predicate: Predicate | None
    """The pure predicate (None for document_only)."""
    params: tuple[Param, ...]
    """Accepted parameters."""
    category: str
    """Default rubric criterion id."""


def _data_categories() -> tuple[str, ...]:
    try:
        from confaudit.telemetry.taxonomy import CATEGORIES
    except ImportError:  # the taxonomy is optional for loading claims; then any name is accepted
        return ()
    return tuple(CATEGORIES)


CHECK_KINDS: dict[str, CheckKind] = {k.name: k for k in (
    CheckKind("transport_encryption", transport_encryption,
              (Param("min_tls", "str", "1.2", choices=("1.0", "1.1", "1.2", "1.3")),), "transport_encryption"),
    CheckKind("media_encryption", media_encryption, (), "media_encryption"),
    CheckKind("end_to_end_encryption", end_to_end_encryption, (Param("expect", "bool", True),), "end_to_end_encryption"),
    CheckKind("media_path", media_path, (Param("allowed", "str_list", required=True, choices=TOPOLOGIES),), "media_path"),
    CheckKind("data_collection", data_collection, (
        Param("categories", "str_list", required=True, choices=_data_categories()),
        Param("mode", "str", "at_least", choices=("at_least", "only")),
        Param("phase", "str", None),
        Param("account", "str", "any", choices=("guest", "any")),
    ), "data_collection"),
    CheckKind("third_party_sharing", third_party_sharing, (
        Param("allowed_recipients", "str_list", ()),
        Param("allowed_data", "str_list", (), choices=_data_categories()),
    ), "third_party_sharing"),
    CheckKind("no_advertising", no_advertising, (Param("include_analytics", "bool", False),), "advertising"),
    CheckKind("room_links", room_links, (
        Param("min_entropy_bits", "number", 0),
        Param("fresh_per_room", "bool", False),
    ), "participant_control"),
    CheckKind("room_lock", room_lock, (), "participant_control"),
    CheckKind("no_audio_while_muted", no_audio_while_muted, (Param("max_audio_bps", "number", 12000),), "muted_audio"),
    CheckKind("data_location", data_location, (Param("allowed_countries", "str_list", required=True),), "jurisdiction"),
    CheckKind(DOCUMENT_ONLY, None, (), "documents"),
)}
