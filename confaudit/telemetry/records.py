"""Turn the accumulated per-party and per-field observations into bundle records (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from confaudit.telemetry.events import _dicts
from confaudit.telemetry.names import Attribution, rank
from confaudit.telemetry.parties import EntitySource, FirstParty, Resolution
from confaudit.telemetry.phases import PhaseWindow, audio_rates, is_muted_phase

if TYPE_CHECKING:
    from typing import TypeAlias

    from confaudit.evidence_model import DataCategory, DataFlow, EntityListRef, EvidenceRef, Party, PhaseSummary
    from confaudit.telemetry.fields import Location

    PartyKey: TypeAlias = tuple[str, str | None]
    """(registrable domain, entity) of a party."""
    FlowKey: TypeAlias = tuple[PartyKey, DataCategory, Location, str, bool]
    """(party, category, location, field pattern, implicit) of a data flow."""
    Closeness: TypeAlias = tuple[int, str, str, Attribution]
    """(rank, kind, id, attribution) of a record carrying a data flow (:func:`closeness`)."""

MAX_REFS = 20


@dataclass
class PartyAcc:
    """Mutable tally for one (domain, entity) party while events are folded in."""

    hosts: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    requests: int = 0
    messages: int = 0
    bytes_sent: int = 0
    flows: set[str] = field(default_factory=set)
    categories: set[DataCategory] = field(default_factory=set)
    implicit: set[DataCategory] = field(default_factory=set)
    opaque_payloads: int = 0
    opaque_bytes: int = 0
    truncated_payloads: int = 0
    omitted_fields: int = 0
    certificate_names: set[str] = field(default_factory=set)
    cnames: set[str] = field(default_factory=set)
    refs: list[EvidenceRef] = field(default_factory=list)
    ref_count: int = 0


@dataclass
class FlowAcc:
    """Mutable tally for one (party, category, location, field pattern, implicit) data flow.

    Every event carrying it is counted and weighed as it passes, none is kept: a data flow such as the
    User-Agent is in every one of 100,000 requests."""

    first: str
    """Field path of the first field found (the pattern's ``[*]`` are its indices)."""
    example: str
    reasons: list[str]
    transforms: list[str]
    phases: list[str] = field(default_factory=list)
    count: int = 0
    refs: list[EvidenceRef] = field(default_factory=list)
    ref_count: int = 0
    """Distinct (kind, id) evidence references that carried it."""
    last_event: int = -1
    """Ordinal of the last event counted (an event's fields may hit the flow several times)."""
    repeated: set[tuple[str, str]] = field(default_factory=set)
    """References shared by several events (EventSpool.repeated) seen so far: counted once each."""
    closest: Closeness | None = None
    """(rank, kind, id, attribution) of the carrying record closest to the vendor, first in (kind, id) order."""
    nearest: tuple[int, str, str] | None = None
    """``closest[:3]``, kept to compare against without slicing it for every event."""


def closeness(ref: tuple[str, str], found: Attribution) -> Closeness:
    """(rank, kind, id, attribution) of a record with attribution ``found``, for :attr:`FlowAcc.closest`."""
    return (rank(found.role), ref[0], ref[1], found)


class EntityFields(TypedDict):
    """What a party (and, of these, a data flow) says about the entity behind it."""

    entity: str | None
    entity_categories: list[str]
    entity_source: EntitySource
    entity_fact: str | None
    entity_list: EntityListRef | None
    cname_target: str | None


def entry_fields(res: Resolution) -> EntityFields:
    entry = res.entry
    fields: EntityFields = {
        "entity": res.entity,
        "entity_categories": sorted(entry.categories) if entry else [],
        "entity_source": res.entity_source,
        "entity_fact": entry.source if entry else None,
        "entity_list": {"name": entry.list_name, "licence": entry.licence} if entry else None,
        "cname_target": res.cname_target,
    }
    return fields


def party_records(parties: dict[PartyKey, PartyAcc], resolutions: dict[str, Resolution],
                  fp: FirstParty, flow_bytes: dict[str, Any]) -> tuple[dict[PartyKey, str], list[Party]]:
    ids: dict[PartyKey, str] = {}
    records: list[Party] = []
    for n, key in enumerate(sorted(parties, key=lambda k: (k[0], k[1] or "")), start=1):
        acc = parties[key]
        res = next(resolutions[h] for h in sorted(acc.hosts))
        ids[key] = f"p{n}"
        fb = [flow_bytes.get(f) for f in acc.flows]
        host_res = {h: resolutions[h] for h in sorted(acc.hosts)}
        fields = entry_fields(res)
        fields["entity_categories"] = sorted({c for r in host_res.values() if r.entry for c in r.entry.categories})
        party: Party = {
            "id": f"p{n}",
            "domain": key[0],
            **fields,
            "host_categories": {h: sorted(r.entry.categories) if r.entry else [] for h, r in list(host_res.items())[:200]},
            "first_party": fp.contains(res),
            "hosts": sorted(acc.hosts)[:200],
            "sources": sorted(acc.sources),
            "categories": sorted(acc.categories),
            "implicit_categories": sorted(acc.implicit),
            "request_count": acc.requests,
            "message_count": acc.messages,
            "bytes_sent": acc.bytes_sent,
            "flow_bytes": sum(b for b in fb if isinstance(b, int) and not isinstance(b, bool)) if fb else None,
            "flows": sorted(acc.flows)[:200],
            "certificate_names": sorted(acc.certificate_names)[:50],
            "cname_chain": sorted(acc.cnames)[:50],
            "opaque_payloads": acc.opaque_payloads,
            "opaque_bytes": acc.opaque_bytes,
            "truncated_payloads": acc.truncated_payloads,
            "omitted_fields": acc.omitted_fields,
            "evidence": acc.refs + [{"kind": "flow", "id": f} for f in sorted(acc.flows)[:MAX_REFS - len(acc.refs)]],
        }
        records.append(party)
    return ids, records


def flow_records(flows: dict[FlowKey, FlowAcc], party_ids: dict[PartyKey, str],
                 parties: dict[PartyKey, PartyAcc], resolutions: dict[str, Resolution],
                 fp: FirstParty) -> tuple[list[DataFlow], dict[FlowKey, str]]:
    records: list[DataFlow] = []
    ids: dict[FlowKey, str] = {}
    ordered = sorted(flows, key=lambda k: (k[0][0], k[0][1] or "", k[1], k[2], k[3], k[4]))
    for n, key in enumerate(ordered, start=1):
        (domain, entity), category, location, pattern, implicit = key
        flow = flows[key]
        res = next(resolutions[h] for h in sorted(parties[(domain, entity)].hosts))
        ids[key] = f"d{n}"
        data_flow: DataFlow = {
            "id": f"d{n}",
            "party": domain,
            "party_id": party_ids[(domain, entity)],
            "entity": entity,
            "first_party": fp.contains(res),
            "entity_list": entry_fields(res)["entity_list"],
            "category": category,
            "location": location,
            "field_path": flow.first,
            "field_pattern": pattern,
            "example": flow.example,
            "reasons": flow.reasons,
            "transforms": flow.transforms,
            "implicit": implicit,
            "phase": flow.phases[0] if flow.phases else None,
            "phases": flow.phases,
            "count": flow.count,
            "evidence": flow.refs,
            "evidence_count": flow.ref_count,
        }
        records.append(data_flow)
    return records, ids


def capture_end(bundle: dict[str, Any], latest_event: float | None) -> float | None:
    """The latest time seen: flows, media streams, and the latest event (EventSpool.latest_ts)."""
    times: list[float] = []
    for key, field_name in (("flows", "last_seen"), ("media_streams", "last_seen")):
        times += [r[field_name] for r in _dicts(bundle, key) if isinstance(r.get(field_name), (int, float))
                  and not isinstance(r.get(field_name), bool)]
    times += [latest_event] if latest_event is not None else []
    return float(max(times)) if times else None


class PhaseTally(TypedDict):
    """Mutable tally for one phase window while events are folded in."""

    requests: int
    messages: int
    bytes_sent: int
    parties: set[str]
    categories: dict[DataCategory, int]
    audio_keys: set[FlowKey]
    """The audio_metrics data flows sent during the phase."""


def phase_records(bundle: dict[str, Any], windows: list[PhaseWindow], per_phase: dict[int, PhaseTally],
                  flow_ids: dict[FlowKey, str], latest_event: float | None) -> list[PhaseSummary]:
    end = capture_end(bundle, latest_event)
    spans = {r["id"]: (float(r["first_seen"]), float(r["last_seen"])) for r in _dicts(bundle, "flows")
             if isinstance(r.get("id"), str) and all(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)
                                                     for k in ("first_seen", "last_seen"))}
    out: list[PhaseSummary] = []
    for window in windows:
        stats = per_phase[window.index]
        audio_ids = sorted((flow_ids[k] for k in stats["audio_keys"] if k in flow_ids), key=lambda i: int(i[1:]))
        stop = window.end if window.end is not None else end
        duration = stop - window.start if stop is not None and stop > window.start else None
        summary: PhaseSummary = {
            "index": window.index,
            "phase": window.phase,
            "start": window.start,
            "end": window.end,
            "duration": round(duration, 6) if duration is not None and math.isfinite(duration) else None,
            "muted": is_muted_phase(window.phase),
            "requests": stats["requests"],
            "messages": stats["messages"],
            "bytes_sent": stats["bytes_sent"],
            "parties": sorted(stats["parties"]),
            "categories": dict(sorted(stats["categories"].items())),
            "audio_metrics_flows": audio_ids,
            "audio_media": audio_rates(window, bundle.get("media_streams"), end, spans),
        }
        out.append(summary)
    return out
