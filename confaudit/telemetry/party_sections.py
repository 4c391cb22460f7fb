"""Fold decoded, classified fields into the bundle's ``parties[]``, ``data_flows[]`` and ``phase_summary[]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confaudit.redact import Redactor
from confaudit.telemetry.attribution import Result
from confaudit.telemetry.entities import EntityMap
from confaudit.telemetry.events import EventSpool, _dicts
from confaudit.telemetry.fold import EventFold, add_ref
from confaudit.telemetry.known import KnownMatcher, KnownValue
from confaudit.telemetry.parties import FirstParty, HostInfo, HostInventory, host_inventory, resolve
from confaudit.telemetry.phases import PhaseIndex, phase_windows
from confaudit.telemetry.records import PartyAcc, flow_records, party_records, phase_records

if TYPE_CHECKING:
    from confaudit.telemetry.records import PartyKey, PhaseTally


def write_party_sections(bundle: dict[str, Any], emap: EntityMap, fp: FirstParty, matcher_known: list[KnownValue] | None,
             events: EventSpool, redactor: Redactor, attribution: Result | None = None,
             inventory: HostInventory | None = None) -> None:
    """Classify events, then write parties, data_flows and phase_summary into the bundle.

    With ``attribution``, each party and data flow also gets its ``attribution`` (a data flow is as close to
    the vendor as the closest of all the requests that carried it, not only the referenced ones).
    """
    inv = inventory if inventory is not None else host_inventory(bundle, emap)
    hosts, resolutions = dict(inv.hosts), dict(inv.resolutions)  # the inventory is shared: not modified here
    for host, kind in events.hosts.items():
        if host not in hosts:
            hosts[host] = HostInfo(host, {kind})
            resolutions[host] = resolve(hosts[host], emap)
    windows = phase_windows(bundle.get("phases"))
    parties: dict[PartyKey, PartyAcc] = {}
    per_phase: dict[int, PhaseTally] = {w.index: {"requests": 0, "messages": 0, "bytes_sent": 0, "parties": set(),
                                                  "categories": {}, "audio_keys": set()} for w in windows}
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
                add_ref(acc.refs, {"kind": kind, "id": rid})

    fold = EventFold(parties, resolutions, PhaseIndex(windows), per_phase, KnownMatcher(matcher_known or []), redactor,
                     events.repeated, attribution)
    for ordinal, event in enumerate(events):
        fold.add(ordinal, event)
    flows = fold.flows

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
