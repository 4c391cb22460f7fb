"""Fold decoded, classified fields into the bundle's ``parties[]``, ``data_flows[]`` and ``phase_summary[]``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from confaudit.telemetry.decode import Decoded, body_bytes
from confaudit.telemetry.entities import EntityMap, normalise_host
from confaudit.telemetry.fields import Located, classify_located, message_located, request_located
from confaudit.telemetry.known import KnownMatcher, KnownValue
from confaudit.telemetry.parties import FirstParty, HostInfo, Resolution, collect_hosts, resolve
from confaudit.telemetry.phases import PhaseIndex, audio_rates, is_muted_phase, phase_windows
from confaudit.telemetry.taxonomy import _EMAIL_RE

EXAMPLE_CAP = 120
MAX_REFS = 20
MAX_PATTERNS_PER_CATEGORY = 300
_INDEX_RE = re.compile(r"\[\d+\]")


@dataclass
class Event:
    """One request or client message, decoded, before classification."""

    kind: str
    rec_id: str
    ts: Any
    host: str
    located: list[Located]
    decoded: Decoded
    bytes_sent: int


@dataclass
class PartyAcc:
    hosts: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    requests: int = 0
    messages: int = 0
    bytes_sent: int = 0
    flows: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    implicit: set[str] = field(default_factory=set)
    opaque_payloads: int = 0
    opaque_bytes: int = 0
    truncated_payloads: int = 0
    omitted_fields: int = 0
    certificate_names: set[str] = field(default_factory=set)
    cnames: set[str] = field(default_factory=set)
    refs: list[dict[str, str]] = field(default_factory=list)
    ref_count: int = 0


@dataclass
class FlowAcc:
    first: Any
    example: str
    reasons: list[str]
    transforms: list[str]
    phases: list[str] = field(default_factory=list)
    count: int = 0
    refs: list[dict[str, str]] = field(default_factory=list)
    ref_keys: set[tuple[str, str]] = field(default_factory=set)


def _dicts(bundle: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _request_bytes(rec: dict[str, Any]) -> int:
    size = len(str(rec.get("method") or "")) + len(str(rec.get("url") or "")) + 12
    for pair in rec.get("request_headers") if isinstance(rec.get("request_headers"), list) else ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            size += len(str(pair[0])) + len(str(pair[1])) + 4
    body = rec.get("request_body")
    if isinstance(body, dict):
        declared = body.get("size")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 0:
            size += declared
        else:
            size += len(body_bytes(body) or b"")
    return size


def _host_of(rec: dict[str, Any], http_hosts: dict[str, str]) -> str:
    host = rec.get("host")
    if isinstance(host, str) and host:
        return normalise_host(host)
    if isinstance(rec.get("http_id"), str) and rec["http_id"] in http_hosts:
        return http_hosts[rec["http_id"]]
    url = rec.get("url")
    if isinstance(url, str) and "://" in url:
        from urllib.parse import urlsplit

        try:
            return normalise_host(urlsplit(url).hostname or "")
        except ValueError:
            return ""
    return ""


def collect_events(bundle: dict[str, Any]) -> list[Event]:
    """Decode every HTTP request and client->server WebSocket message (order: as in the bundle)."""
    events: list[Event] = []
    http_hosts: dict[str, str] = {}
    for rec in _dicts(bundle, "http"):
        host = _host_of(rec, {})
        if isinstance(rec.get("id"), str):
            http_hosts[rec["id"]] = host
        located, decoded = request_located(rec)
        events.append(Event("http", str(rec.get("id", "")), rec.get("ts"), host, located, decoded, _request_bytes(rec)))
    for rec in _dicts(bundle, "websocket"):
        if rec.get("from_client") is not True:
            continue
        located, decoded = message_located(rec)
        size = rec.get("size") if isinstance(rec.get("size"), int) else 0
        events.append(Event("websocket", str(rec.get("id", "")), rec.get("ts"), _host_of(rec, http_hosts),
                            located, decoded, size))
    return events


def known_values(events: list[Event], room_names: list[str], participants: list[str],
                 accounts: list[str]) -> list[KnownValue]:
    """The auditor's known values plus e-mails and User-Agents seen in clear in the traffic."""
    known = [KnownValue("room_name", "room_name", v) for v in room_names]
    known += [KnownValue("participants", "participant", v) for v in participants]
    known += [KnownValue("account", "email" if "@" in v else "account", v) for v in accounts]
    seen_emails: set[str] = set()
    seen_ua: set[str] = set()
    for event in events:
        for item in event.located:
            if item.location == "header" and item.field.path == "user-agent" and len(seen_ua) < 20:
                seen_ua.add(item.field.value)
            elif item.location in ("query", "body", "message") and "@" in item.field.value and len(seen_emails) < 200:
                seen_emails.update(m.group(0) for m in _EMAIL_RE.finditer(item.field.value[:2000]))
    known += [KnownValue("browser", "user-agent", v) for v in sorted(seen_ua)]
    known += [KnownValue("account", "email", v) for v in sorted(seen_emails) if v not in accounts]
    return known


def example_value(item: Located, redactor: Any) -> str:
    from confaudit.redact import is_secret_header, is_secret_name

    value = item.field.value
    leaf = item.field.keys[-1] if item.field.keys else ""
    if (item.location == "header" and is_secret_header(leaf)) or (leaf and item.location != "header" and is_secret_name(leaf)):
        value = redactor.token(leaf, value)
    else:
        value = redactor.text(value)
    return value if len(value) <= EXAMPLE_CAP else value[:EXAMPLE_CAP - 1] + "…"


def _add_ref(refs: list[dict[str, str]], ref: dict[str, str]) -> None:
    if len(refs) < MAX_REFS and ref not in refs:
        refs.append(ref)


def assemble(bundle: dict[str, Any], emap: EntityMap, fp: FirstParty, matcher_known: list[KnownValue] | None,
             events: list[Event]) -> None:
    """Classify events, then write parties, data_flows and phase_summary into the bundle."""
    from confaudit.redact import Redactor

    redactor = Redactor.default()
    matcher = KnownMatcher(matcher_known or [])
    hosts, _flow_host = collect_hosts(bundle)
    for event in events:
        if event.host and event.host not in hosts:
            hosts[event.host] = HostInfo(event.host, {event.kind})
    resolutions: dict[str, Resolution] = {h: resolve(info, emap) for h, info in hosts.items()}
    windows = phase_windows(bundle.get("phases"))
    index = PhaseIndex(windows)
    parties: dict[tuple[str, str | None], PartyAcc] = {}
    flows: dict[tuple[Any, ...], FlowAcc] = {}
    per_phase: dict[int, dict[str, Any]] = {w.index: {"requests": 0, "messages": 0, "parties": set(),
                                                      "categories": {}, "audio_keys": set()} for w in windows}
    pattern_counts: dict[tuple[Any, ...], int] = {}
    cache: dict[tuple[Any, ...], list[Any]] = {}  # events repeat the same fields and values
    flow_bytes = {r["id"]: r.get("bytes") for r in _dicts(bundle, "flows") if isinstance(r.get("id"), str)}

    for host, info in hosts.items():
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

    for event in events:
        if not event.host:
            continue
        res = resolutions[event.host]
        pkey = (res.domain, res.entity)
        acc = parties[pkey]
        ref = {"kind": event.kind, "id": event.rec_id}
        acc.ref_count += 1
        _add_ref(acc.refs, ref)
        if event.kind == "http":
            acc.requests += 1
        else:
            acc.messages += 1
        acc.bytes_sent += event.bytes_sent
        if event.decoded.opaque:
            acc.opaque_payloads += 1
            acc.opaque_bytes += sum(o.size for o in event.decoded.opaque)
        if event.decoded.truncated:
            acc.truncated_payloads += 1
        window = index.at(event.ts)
        phase_name = window.phase if window else None
        if window is not None:
            stats = per_phase[window.index]
            stats["requests" if event.kind == "http" else "messages"] += 1
            stats["parties"].add(res.domain)
        for item in event.located:
            cache_key = (item.location, item.field.path, item.field.keys, item.field.value)
            classified_list = cache.get(cache_key)
            if classified_list is None:
                classified_list = classify_located(item, matcher)
                if len(cache) < 200_000 and len(item.field.value) < 2000:
                    cache[cache_key] = classified_list
            for classified in classified_list:
                for match in classified.matches:
                    pattern = _INDEX_RE.sub("[*]", classified.field.path)
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
                    if (event.kind, event.rec_id) not in flow.ref_keys:
                        flow.ref_keys.add((event.kind, event.rec_id))
                        _add_ref(flow.refs, ref)
                    (acc.implicit if classified.implicit else acc.categories).add(match.category)
                    if window is not None and not classified.implicit:
                        cats = per_phase[window.index]["categories"]
                        cats[match.category] = cats.get(match.category, 0) + 1
                        if match.category == "audio_metrics":
                            per_phase[window.index]["audio_keys"].add(key)

    party_ids, party_records = _party_records(parties, resolutions, fp, flow_bytes)
    flow_records, flow_ids = _flow_records(flows, party_ids, parties, resolutions, fp)
    bundle["parties"] = party_records
    bundle["data_flows"] = flow_records
    bundle["phase_summary"] = _phase_records(bundle, windows, per_phase, flow_ids, events)


def _entry_fields(res: Resolution) -> dict[str, Any]:
    entry = res.entry
    return {
        "entity": res.entity,
        "entity_categories": sorted(entry.categories) if entry else [],
        "entity_source": res.entity_source,
        "entity_fact": entry.source if entry else None,
        "entity_list": {"name": entry.list_name, "licence": entry.licence} if entry else None,
        "cname_target": res.cname_target,
    }


def _party_records(parties: dict[tuple[str, str | None], PartyAcc], resolutions: dict[str, Resolution],
                   fp: FirstParty, flow_bytes: dict[str, Any]) -> tuple[dict[tuple[str, str | None], str], list[dict[str, Any]]]:
    ids: dict[tuple[str, str | None], str] = {}
    records = []
    for n, key in enumerate(sorted(parties, key=lambda k: (k[0], k[1] or "")), start=1):
        acc = parties[key]
        res = next(resolutions[h] for h in sorted(acc.hosts))
        ids[key] = f"p{n}"
        fb = [flow_bytes.get(f) for f in acc.flows]
        host_res = {h: resolutions[h] for h in sorted(acc.hosts)}
        fields = _entry_fields(res)
        fields["entity_categories"] = sorted({c for r in host_res.values() if r.entry for c in r.entry.categories})
        records.append({
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
        })
    return ids, records


def _flow_records(flows: dict[tuple[Any, ...], FlowAcc], party_ids: dict[tuple[str, str | None], str],
                  parties: dict[tuple[str, str | None], PartyAcc], resolutions: dict[str, Resolution],
                  fp: FirstParty) -> tuple[list[dict[str, Any]], dict[tuple[Any, ...], str]]:
    records = []
    ids: dict[tuple[Any, ...], str] = {}
    ordered = sorted(flows, key=lambda k: (k[0][0], k[0][1] or "", k[1], k[2], k[3], k[4]))
    for n, key in enumerate(ordered, start=1):
        (domain, entity), category, location, pattern, implicit = key
        flow = flows[key]
        res = next(resolutions[h] for h in sorted(parties[(domain, entity)].hosts))
        ids[key] = f"d{n}"
        records.append({
            "id": f"d{n}",
            "party": domain,
            "party_id": party_ids[(domain, entity)],
            "entity": entity,
            "first_party": fp.contains(res),
            "entity_list": _entry_fields(res)["entity_list"],
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
            "evidence_count": len(flow.ref_keys),
        })
    return records, ids


def _capture_end(bundle: dict[str, Any], events: list[Event]) -> float | None:
    times: list[float] = []
    for key, field_name in (("flows", "last_seen"), ("media_streams", "last_seen")):
        times += [r[field_name] for r in _dicts(bundle, key) if isinstance(r.get(field_name), (int, float))
                  and not isinstance(r.get(field_name), bool)]
    times += [e.ts for e in events if isinstance(e.ts, (int, float)) and not isinstance(e.ts, bool)]
    return float(max(times)) if times else None


def _phase_records(bundle: dict[str, Any], windows: list[Any], per_phase: dict[int, dict[str, Any]],
                   flow_ids: dict[tuple[Any, ...], str], events: list[Event]) -> list[dict[str, Any]]:
    end = _capture_end(bundle, events)
    spans = {r["id"]: (float(r["first_seen"]), float(r["last_seen"])) for r in _dicts(bundle, "flows")
             if isinstance(r.get("id"), str) and all(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)
                                                     for k in ("first_seen", "last_seen"))}
    out = []
    for window in windows:
        stats = per_phase[window.index]
        audio_ids = sorted((flow_ids[k] for k in stats["audio_keys"] if k in flow_ids), key=lambda i: int(i[1:]))
        out.append({
            "index": window.index,
            "phase": window.phase,
            "start": window.start,
            "end": window.end,
            "muted": is_muted_phase(window.phase),
            "requests": stats["requests"],
            "messages": stats["messages"],
            "parties": sorted(stats["parties"]),
            "categories": dict(sorted(stats["categories"].items())),
            "audio_metrics_flows": audio_ids,
            "audio_media": audio_rates(window, bundle.get("media_streams"), end, spans),
        })
    return out
