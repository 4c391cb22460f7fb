"""Checks over decoded outgoing data: ``data_collection``, ``third_party_sharing``, ``no_advertising``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.rules.checks._common import (MAX_REFS, NameMatcher, listing, obj, outcome, party_names, plural, record_id,
                                            records, ref, str_set, text)
from confaudit.rules.model import Outcome

GUEST_PHASES = frozenset({"guest", "logged-out", "logged_out", "loggedout", "signed-out", "signed_out", "no-account"})
NON_PERSONAL = frozenset({"technical"})
IMPLICIT_THAT_COUNTS = frozenset({"identifier"})
"""Implicit (browser-inherent) headers are not sharing decisions, except identifiers (cookies sent back to a tracker)."""


def _inherent(flow: Mapping[str, Any]) -> bool:
    return flow.get("implicit") is True and flow.get("category") not in IMPLICIT_THAT_COUNTS
AD_CATEGORIES = frozenset({"advertising", "ads", "ad", "adtech", "ad_tech", "ad-tech", "tracker", "tracking",
                           "fingerprinting", "social", "social_tracking", "session_replay", "advertising_network"})
ANALYTICS_CATEGORIES = frozenset({"analytics"})


def _flow_refs(flow: Mapping[str, Any], index: int) -> list[dict[str, str]]:
    field = flow.get("field_path") or flow.get("field")
    detail = f"{text(flow.get('category'), 30)} in {text(field, 80)} to {text(flow.get('party'), 80)}"
    refs = [ref("data_flow", record_id(flow, f"d{index}"), detail)]
    evidence = flow.get("evidence")
    for item in evidence if isinstance(evidence, list) else [evidence]:
        if isinstance(item, Mapping) and isinstance(item.get("kind"), str) and item.get("id") is not None:
            refs.append(ref(item["kind"], item["id"], text(item.get("detail"), 80)))
    return refs


def _observed_traffic(bundle: Mapping[str, Any]) -> bool:
    """True when decoded HTTP/WebSocket traffic existed for the data taxonomy to look at."""
    return bool(records(bundle, "http") or records(bundle, "websocket"))


def _guest_scope(bundle: Mapping[str, Any], flows: list[tuple[int, Mapping[str, Any]]]) -> list[tuple[int, Mapping[str, Any]]] | None:
    """Flows sent while logged out, or None when the evidence does not say who was logged in."""
    session = obj(bundle, "session") or {}
    if str(session.get("account") or "").lower() == "guest":
        return flows
    marked = [p for p in records(bundle, "phases") or [] if str(p.get("phase", "")).lower() in GUEST_PHASES]
    if not marked:
        return None
    return [(i, f) for i, f in flows if str(f.get("phase", "")).lower() in GUEST_PHASES]


def data_collection(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    wanted = [str(c) for c in params.get("categories", [])]
    mode = params.get("mode", "at_least")
    phase = params.get("phase")
    flows_all = records(bundle, "data_flows")
    if flows_all is None or not _observed_traffic(bundle):
        return outcome("not_observable", "The evidence holds no decoded web or WebSocket traffic to look for collected data.")
    flows = list(enumerate(flows_all))
    scope = ""
    if phase:
        if not any(str(p.get("phase", "")) == phase for p in records(bundle, "phases") or []):
            return outcome("not_observable", f"The session has no '{text(phase, 40)}' phase marker to scope the claim to.")
        flows = [(i, f) for i, f in flows if str(f.get("phase", "")) == phase]
        scope += f" during the '{text(phase, 40)}' phase"
    if params.get("account", "any") == "guest":
        guest = _guest_scope(bundle, flows)
        if guest is None:
            return outcome("not_observable", "The session does not record that the auditor was logged out "
                           "(mark a 'guest' phase), so data collected from guests cannot be isolated.")
        flows = guest
        scope += " from a logged-out guest"
    by_category: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, f in flows:
        if isinstance(f.get("category"), str):
            by_category.setdefault(f["category"], []).append((i, f))
    if mode == "only":
        chosen = {c for c, items in by_category.items() if any(not _inherent(f) for _, f in items)}
        extra = sorted(chosen - set(wanted))
        if extra:
            refs = [r for c in extra for i, f in [x for x in by_category[c] if not _inherent(x[1])][:3]
                    for r in _flow_refs(f, i)]
            return outcome("contradicted", f"Data outside the stated categories was sent{scope}: {listing(extra)}.", refs)
        refs = [r for c in sorted(chosen) for i, f in by_category[c][:2] for r in _flow_refs(f, i)]
        inherent = sorted(set(by_category) - chosen - set(wanted))
        note = f"; browser-inherent headers also carried {listing(inherent)}" if inherent else ""
        return outcome("supported", f"Only the stated categories ({listing(sorted(chosen) or ['none'])}) were seen "
                       f"in {plural(len(flows), 'decoded data flow')}{scope}{note}.", refs)
    missing = [c for c in wanted if c not in by_category]
    refs = [r for c in wanted if c in by_category for i, f in by_category[c][:2] for r in _flow_refs(f, i)]
    if missing:
        return outcome("not_observable", f"Of the stated categories, {listing(missing)} were not seen being sent{scope} "
                       "(the vendor may still collect them server-side).", refs)
    return outcome("supported", f"Every stated category ({listing(wanted)}) was seen being sent{scope}.", refs)


def _party_index(bundle: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    index: dict[str, Mapping[str, Any]] = {}
    for party in records(bundle, "parties") or []:
        for name in party_names(party):
            index.setdefault(name.lower(), party)
    return index


def third_party_sharing(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    recipients = [str(r) for r in params.get("allowed_recipients", [])]
    allowed_data = {str(c) for c in params.get("allowed_data", [])}
    parties = records(bundle, "parties")
    flows = records(bundle, "data_flows")
    if parties is None or flows is None or not _observed_traffic(bundle):
        return outcome("not_observable", "The evidence holds no decoded traffic with parties to check who received data.")
    index = _party_index(bundle)
    allowed = NameMatcher(recipients)
    undeclared: list[tuple[int, Mapping[str, Any]]] = []
    excess: list[tuple[int, Mapping[str, Any]]] = []
    third = 0
    for i, f in enumerate(flows):
        name = str(f.get("party") or "")
        party = index.get(name.lower(), {})
        if f.get("first_party") is True or party.get("first_party") is True or (not party and not name):
            continue
        third += 1
        category = str(f.get("category") or "")
        if category in NON_PERSONAL or _inherent(f):
            continue
        if not allowed.any(party_names(party) or [name]):
            undeclared.append((i, f))
        elif category not in allowed_data:
            excess.append((i, f))
    if undeclared or excess:
        parts = []
        if undeclared:
            who = sorted({str(f.get("party")) for _, f in undeclared})
            what = sorted({str(f.get("category")) for _, f in undeclared})
            parts.append(f"undeclared recipients ({listing(who)}) received {listing(what)}")
        if excess:
            what = sorted({f"{f.get('category')} to {f.get('party')}" for _, f in excess})
            parts.append(f"declared recipients received more than allowed ({listing(what)})")
        offenders = undeclared + excess
        refs = [r for i, f in offenders[:MAX_REFS] for r in _flow_refs(f, i)][:MAX_REFS - 1]
        if len(offenders) > MAX_REFS:
            refs.append(ref("note", "more", f"{len(offenders) - MAX_REFS} more data flows to third parties"))
        return outcome("contradicted", "Personal data went to third parties: " + "; ".join(parts) + ".", refs)
    contacted = sorted({str(p.get("domain") or p.get("entity")) for p in parties if p.get("first_party") is False})
    refs = [ref("party", record_id(p, str(p.get("domain"))), text(p.get("entity"))) for p in parties
            if p.get("first_party") is False][:15]
    contacted_text = f"{plural(len(contacted), 'third party')} contacted: {listing(contacted)}" if contacted else "no third party contacted"
    return outcome("supported", f"No personal data beyond what the claim allows went to third parties ({contacted_text}).", refs)


def no_advertising(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    parties = records(bundle, "parties")
    observed = any(records(bundle, k) for k in ("http", "websocket", "dns", "tls"))
    if parties is None or not observed:
        return outcome("not_observable", "The evidence holds no contacted hosts (HTTP, DNS or TLS names) to check for ad tech.")
    ads = []
    for i, p in enumerate(parties):
        if p.get("first_party") is True:
            continue
        cats = str_set(p.get("entity_categories"))
        hits = sorted(cats & (AD_CATEGORIES | (ANALYTICS_CATEGORIES if params.get("include_analytics") else frozenset())))
        if hits:
            lst = p.get("entity_list") if isinstance(p.get("entity_list"), Mapping) else {}
            source = text(lst.get("name"), 60) or listing(p.get("lists") or [], 3)
            ads.append(ref("party", record_id(p, str(p.get("domain") or f"p{i}")),
                           f"{text(p.get('domain'), 80)} ({text(p.get('entity'), 60) or 'unknown entity'}: {listing(hits)}; "
                           f"{text(p.get('request_count', '?'), 12)} requests; list: {source})"))
    if ads:
        names = [r["detail"].split(" (", 1)[0] for r in ads]
        return outcome("contradicted", f"The client contacted {plural(len(ads), 'advertising or tracking party')}: "
                       f"{listing(names)}.", ads)
    if not parties:
        return outcome("supported", "No third party was contacted at all, so no advertising or tracking entity either.")
    return outcome("supported", f"None of the {plural(len(parties), 'contacted party')} is a known advertising or "
                   "tracking entity on the entity lists used.")
