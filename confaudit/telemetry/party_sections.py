"""Fold decoded, classified fields into the bundle's ``parties[]``, ``data_flows[]`` and ``phase_summary[]``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from confaudit.redact import Redactor
from confaudit.telemetry.attribution import Result
from confaudit.telemetry.entities import EntityMap
from confaudit.telemetry.events import EventSpool, _dicts
from confaudit.telemetry.decode import Field
from confaudit.telemetry.fields import Located, classify_located
from confaudit.telemetry.known import KnownMatcher, KnownValue
from confaudit.telemetry.parties import FirstParty, HostInfo, Resolution, collect_hosts, resolve
from confaudit.telemetry.phases import PhaseIndex, phase_windows
from confaudit.telemetry.records import (MAX_REFS, FlowAcc, PartyAcc, closeness, flow_records, party_records,
                                         phase_records)

if TYPE_CHECKING:
    from confaudit.evidence_model import DataCategory, EvidenceRef
    from confaudit.telemetry.fields import ClassifiedField, Location
    from confaudit.telemetry.records import FlowKey, PartyKey, PhaseTally

EXAMPLE_CAP = 120
MAX_PATTERNS_PER_CATEGORY = 300
MAX_CACHED = 50_000
"""Classified (location, path, keys, value) remembered: fields repeat across requests, memory must not grow with them."""
_INDEX_RE = re.compile(r"\[\d+\]")


def example_value(item: ClassifiedField, redactor: Redactor) -> str:
    from confaudit.redact import is_secret_header, is_secret_name

    value = item.field.value
    leaf = item.field.keys[-1] if item.field.keys else ""
    if (item.location == "header" and is_secret_header(leaf)) or (leaf and item.location != "header" and is_secret_name(leaf)):
        value = redactor.token(leaf, value)
    else:
        value = redactor.text(value)
    return value if len(value) <= EXAMPLE_CAP else value[:EXAMPLE_CAP - 1] + "…"


def _add_ref(refs: list[EvidenceRef], ref: EvidenceRef) -> None:
    if len(refs) < MAX_REFS and ref not in refs:
        refs.append(ref)


def write_party_sections(bundle: dict[str, Any], emap: EntityMap, fp: FirstParty, matcher_known: list[KnownValue] | None,
             events: EventSpool, redactor: Redactor, attribution: Result | None = None) -> None:
    """Classify events, then write parties, data_flows and phase_summary into the bundle.

    With ``attribution``, each party and data flow also gets its ``attribution`` (a data flow is as close to
    the vendor as the closest of all the requests that carried it, not only the referenced ones).
    """
    matcher = KnownMatcher(matcher_known or [])
    hosts, _flow_host = collect_hosts(bundle)
    for host, kind in events.hosts.items():
        if host not in hosts:
            hosts[host] = HostInfo(host, {kind})
    resolutions: dict[str, Resolution] = {h: resolve(info, emap) for h, info in hosts.items()}
    windows = phase_windows(bundle.get("phases"))
    index = PhaseIndex(windows)
    parties: dict[PartyKey, PartyAcc] = {}
    flows: dict[FlowKey, FlowAcc] = {}
    per_phase: dict[int, PhaseTally] = {w.index: {"requests": 0, "messages": 0, "bytes_sent": 0, "parties": set(),
                                                  "categories": {}, "audio_keys": set()} for w in windows}
    pattern_counts: dict[tuple[PartyKey, DataCategory], int] = {}
    # events repeat the same fields and values
    cache: dict[tuple[Location, str, tuple[str, ...], str], list[tuple[ClassifiedField, str]]] = {}
    flow_bytes = {r["id"]: r.get("bytes") for r in _dicts(bundle, "flows") if isinstance(r.get("id"), str)}

    aliases = {c for info in hosts.values() for c in info.cnames}
    for host, info in list(hosts.items()):
        if info.sources == {"dns"} and host in aliases and not info.flows:
            del hosts[host]  # a CNAME target only: already part of the queried name's cname_chain
            continue
        res = resolutions[host]
        acc = parties.setdefault((res.domain, res.entity), PartyAcc())
        acc.hosts.add(host)
        acc.sources.update(info.sources)
        acc.flows.update(info.flows)
        acc.certificate_names.update(info.certificate_names)
        acc.cnames.update(info.cnames)
        for kind, rid in sorted(info.refs):
            if kind in ("tls", "dns"):
                _add_ref(acc.refs, {"kind": kind, "id": rid})

    for ordinal, event in enumerate(events):
        if not event.host:
            continue
        res = resolutions[event.host]
        pkey = (res.domain, res.entity)
        acc = parties[pkey]
        ref: EvidenceRef = {"kind": event.kind, "id": event.rec_id}
        ref_key = (event.kind, event.rec_id)
        found = attribution.by_id.get(ref_key) if attribution is not None else None
        candidate = closeness(ref_key, found) if found is not None else None
        acc.ref_count += 1
        _add_ref(acc.refs, ref)
        if event.kind != "websocket":
            acc.requests += 1
        else:
            acc.messages += 1
        acc.bytes_sent += event.bytes_sent
        if event.opaque_sizes:
            acc.opaque_payloads += 1
            acc.opaque_bytes += sum(event.opaque_sizes)
        if event.truncated:
            acc.truncated_payloads += 1
        window = index.at(event.ts)
        phase_name = window.phase if window else None
        if window is not None:
            stats = per_phase[window.index]
            stats["messages" if event.kind == "websocket" else "requests"] += 1
            stats["bytes_sent"] += event.bytes_sent
            stats["parties"].add(res.domain)
        for location, path, keys, value, transforms in event.located:
            cache_key = (location, path, keys, value)
            classified_list = cache.get(cache_key)
            if classified_list is None:
                item = Located(location, Field(path, keys, value, transforms))
                classified_list = [(c, _INDEX_RE.sub("[*]", c.field.path)) for c in classify_located(item, matcher)]
                if len(value) < 2000:
                    if len(cache) >= MAX_CACHED:
                        cache.clear()
                    cache[cache_key] = classified_list
            for classified, pattern in classified_list:
                for match in classified.matches:
                    key = (pkey, match.category, classified.location, pattern, classified.implicit)
                    flow = flows.get(key)
                    if flow is None:
                        limit_key = (pkey, match.category)
                        if pattern_counts.get(limit_key, 0) >= MAX_PATTERNS_PER_CATEGORY:
                            acc.omitted_fields += 1
                            continue
                        pattern_counts[limit_key] = pattern_counts.get(limit_key, 0) + 1
                        flow = flows[key] = FlowAcc(classified.field.path, example_value(classified, redactor),
                                                    [], list(classified.field.transforms))
                    if match.reason not in flow.reasons and len(flow.reasons) < 8:
                        flow.reasons.append(match.reason)
                    flow.count += 1
                    if phase_name is not None and phase_name not in flow.phases:
                        flow.phases.append(phase_name)
                    if flow.carried_by(ordinal, ref_key, events.repeated, candidate):
                        _add_ref(flow.refs, ref)
                    (acc.implicit if classified.implicit else acc.categories).add(match.category)
                    if window is not None and not classified.implicit:
                        cats = per_phase[window.index]["categories"]
                        cats[match.category] = cats.get(match.category, 0) + 1
                        if match.category == "audio_metrics":
                            per_phase[window.index]["audio_keys"].add(key)

    party_ids, party_list = party_records(parties, resolutions, fp, flow_bytes)
    flow_list, flow_ids = flow_records(flows, party_ids, parties, resolutions, fp)
    if attribution is not None:
        from confaudit.telemetry.attributed import party_attribution

        for party in party_list:
            found = party_attribution(party, attribution)
            if found is not None:
                party["attribution"] = found.to_dict()
        closest = {flow_ids[key]: flows[key].closest for key in flows if key in flow_ids}
        for record in flow_list:
            best = closest.get(record["id"])
            found = attribution.of_refs([best[1:3]]) if best is not None else None  # the same as of all its refs
            if found is not None:
                record["attribution"] = found.to_dict()
    bundle["parties"] = party_list
    bundle["data_flows"] = flow_list
    bundle["phase_summary"] = phase_records(bundle, windows, per_phase, flow_ids, events.latest_ts)
