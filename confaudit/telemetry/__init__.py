"""Telemetry: payload decoding, data taxonomy, parties and room links.

Entry point :func:`enrich` adds ``parties``, ``data_flows``, ``phase_summary``, ``room_links``,
``entity_lists`` and ``traffic_attribution`` to an evidence bundle in place, and an ``attribution`` (whose
traffic it is: vendor, third party of the vendor, background, unknown) to every flow, request, TLS/QUIC
handshake and DNS lookup. A malformed bundle never makes it raise: missing or
ill-typed sections yield empty results. Only a bad user-supplied entity list raises (InputError).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confaudit.redact import Redactor

if TYPE_CHECKING:
    from confaudit.evidence_model import EntityList


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value if isinstance(v, (str, int)) and str(v).strip()] if isinstance(value, list) else []


def enrich(bundle: dict[str, Any], *, first_party: list[str], room_names: list[str],
           participants: list[str], entity_lists: list[Path], redactor: Redactor,
           accounts: list[str] | None = None) -> None:
    """Mutate ``bundle`` in place, adding the telemetry sections; ``redactor`` tokenises the example values."""
    from confaudit.telemetry.party_sections import write_party_sections
    from confaudit.telemetry.attributed import apply_records
    from confaudit.telemetry.attribution import attribute, summary
    from confaudit.telemetry.names import vendor_names
    from confaudit.telemetry.events import collect_events
    from confaudit.telemetry.entities import load_entity_maps
    from confaudit.telemetry.parties import first_party_from, host_inventory

    emap = load_entity_maps(list(entity_lists or ()))  # InputError for a bad user list: exit 3
    lists: list[EntityList] = [
        {"name": m.name, "licence": m.licence, "source": m.source, "sha256": m.sha256, "entries": m.entries}
        for m in emap.lists
    ]
    bundle["entity_lists"] = lists
    raw_session = bundle.get("session")
    session: dict[str, object] = raw_session if isinstance(raw_session, dict) else {}
    dedupe = lambda values: list(dict.fromkeys(values))  # noqa: E731
    first = dedupe([*_strings(first_party), *_strings(session.get("first_party"))])
    rooms = dedupe([*_strings(room_names), *_strings(session.get("room_names"))])
    people = dedupe([*_strings(participants), *_strings(session.get("participants"))])
    accounts = dedupe([*_strings(list(accounts or [])), *_strings(session.get("accounts")), *_strings(session.get("emails")),
                       *_strings(session.get("phones"))])
    if not isinstance(bundle.get("warnings"), list):  # a hostile bundle's warnings are no list to append to
        bundle["warnings"] = []
    warnings = bundle["warnings"]
    from confaudit.gcpause import gc_paused

    try:
        with gc_paused(keep=True), collect_events(bundle) as events:
            vendor = vendor_names(first, emap)
            inventory = host_inventory(bundle, emap)
            attribution = attribute(bundle, vendor, emap, inventory=inventory)
            apply_records(bundle, attribution)
            known = events.clear_values.known(rooms, people, accounts)
            write_party_sections(bundle, emap, first_party_from(first, emap), known, events, redactor, attribution,
                                 inventory)
            bundle["traffic_attribution"] = summary(attribution, vendor)
    except Exception as exc:  # noqa: BLE001 - fail closed: an analysis bug must not lose the whole bundle
        from confaudit.wire.errors import strict_from_env

        if os.environ.get("CONFAUDIT_DEBUG") or strict_from_env():  # under test a bug must fail, not become a warning
            raise
        bundle["parties"], bundle["data_flows"], bundle["phase_summary"] = [], [], []
        bundle["traffic_attribution"] = None
        bundle["complete"] = False
        warnings.append(f"telemetry: analysis failed ({type(exc).__name__}); parties and data flows are missing")
    truncated = sum(p.get("truncated_payloads", 0) for p in bundle["parties"])
    if truncated:
        warnings.append(f"telemetry: {truncated} payload(s) were truncated by the capture cap or a decoding limit; "
                        "fields beyond the cut were not classified")
    from confaudit.telemetry.room_links import room_links_section

    with gc_paused():  # records are trees: a scan of 100,000 URLs sets off collections that find nothing
        bundle["room_links"] = room_links_section(bundle, session.get("room_link_pattern"), warnings)
