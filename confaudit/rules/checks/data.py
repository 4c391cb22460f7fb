"""Checks over decoded outgoing data: ``data_collection``, ``third_party_sharing``, ``no_advertising``.

They judge what the vendor's traffic carried: its own requests and those its pages or app sent to third
parties (attribution roles vendor and third_party_of_vendor; ``scope: device`` judges everything). Data flows
of the device's background (other pages, OS/browser services) never count; data flows no attribution ties
to the vendor or to the background make a would-be contradiction inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.rules.checks._common import (MAX_REFS, NameMatcher, judged, listing, obj, outcome, party_names, plural,
                                            record_id, records, ref, role, role_reason, scope_of, scope_words, str_set, text,
                                            were)
from confaudit.evidence_model import DataFlow, Party
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
    detail = f"{text(flow.get('category'), 30)} in {text(flow.get('field_path'), 80)} to {text(flow.get('party'), 80)}"
    refs = [ref("data_flow", record_id(flow, f"d{index}"), detail)]
    evidence = flow.get("evidence")
    for item in evidence if isinstance(evidence, list) else [evidence]:
        if isinstance(item, Mapping) and isinstance(item.get("kind"), str) and item.get("id") is not None:
            refs.append(ref(item["kind"], item["id"], text(item.get("detail"), 80)))
    return refs


def _observed_traffic(bundle: Mapping[str, Any]) -> bool:
    """True when decoded HTTP/WebSocket traffic existed for the data taxonomy to look at."""
    return bool(records(bundle, "http") or records(bundle, "websocket"))


def _guest_scope(bundle: Mapping[str, Any], flows: list[tuple[int, DataFlow]]) -> list[tuple[int, DataFlow]] | None:
    """Flows sent while logged out, or None when the evidence does not say who was logged in."""
    marked = [p for p in records(bundle, "phases") or [] if str(p["phase"]).lower() in GUEST_PHASES]
    if not marked:
        return None
    return [(i, f) for i, f in flows if str(f.get("phase", "")).lower() in GUEST_PHASES]


def _by_role(flows: list[tuple[int, DataFlow]], scope: str
             ) -> tuple[list[tuple[int, DataFlow]], list[tuple[int, DataFlow]], int]:
    """(judged flows, unattributed flows, number of background flows left out)."""
    counted = [(i, f) for i, f in flows if judged(role(f), scope)]
    unknown = [(i, f) for i, f in flows if not judged(role(f), scope) and role(f) == "unknown"]
    return counted, unknown, len(flows) - len(counted) - len(unknown)


def _background_refs(flows: list[DataFlow], scope: str, limit: int = 3) -> list[dict[str, str]]:
    """References to data flows of the device's background, marked as not judged."""
    left = [(i, f) for i, f in enumerate(flows) if not judged(role(f), scope) and role(f) == "background"][:limit]
    return [ref("data_flow", record_id(f, f"d{i}"), f"not judged (background): {text(f.get('category'), 30)} to "
                f"{text(f.get('party'), 80)}; {role_reason(f)}") for i, f in left]


def _requests_checked(bundle: Mapping[str, Any], scope: str, limit: int = 5) -> list[dict[str, str]]:
    """The vendor's decoded requests and messages, for a verdict that rests on what they did not carry."""
    out: list[dict[str, str]] = []
    for kind in ("http", "websocket"):
        for i, rec in enumerate(records(bundle, kind) or []):
            if judged(role(rec), scope) and len(out) < limit:
                out.append(ref(kind, record_id(rec, f"{kind[0]}{i}"), f"checked: {text(rec.get('host'), 100)} ({role(rec)})"))
    return out


def _left_out(background: int) -> str:
    return f" ({plural(background, 'data flow')} of the device's background {'was' if background == 1 else 'were'} not judged)" \
        if background else ""


def data_collection(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    wanted = [str(c) for c in params.get("categories", [])]
    mode = params.get("mode", "at_least")
    phase = params.get("phase")
    scope = scope_of(params)
    flows_all = records(bundle, "data_flows")
    if flows_all is None or not _observed_traffic(bundle):
        return outcome("not_observable", "The evidence holds no decoded web or WebSocket traffic to look for collected data.")
    flows = list(enumerate(flows_all))
    where = ""
    if phase:
        if not any(str(p["phase"]) == phase for p in records(bundle, "phases") or []):
            return outcome("not_observable", f"The session has no '{text(phase, 40)}' phase marker to scope the claim to.")
        flows = [(i, f) for i, f in flows if str(f.get("phase", "")) == phase]
        where += f" during the '{text(phase, 40)}' phase"
    if params.get("account", "any") == "guest":
        guest = _guest_scope(bundle, flows)
        if guest is None:
            return outcome("not_observable", "The session does not record that the auditor was logged out "
                           "(mark a 'guest' phase), so data collected from guests cannot be isolated.")
        flows = guest
        where += " from a logged-out guest"
    flows, unknown, background = _by_role(flows, scope)
    left_out = _left_out(background)
    by_category = _categories(flows)
    unattributed = _categories(unknown)
    if mode == "only":
        chosen = {c for c, items in by_category.items() if any(not _inherent(f) for _, f in items)}
        extra = sorted(chosen - set(wanted))
        if extra:
            refs = [r for c in extra for i, f in [x for x in by_category[c] if not _inherent(x[1])][:3]
                    for r in _flow_refs(f, i)]
            return outcome("contradicted", f"Data outside the stated categories was sent{where} {scope_words(scope)}: "
                           f"{listing(extra)}{left_out}.", refs)
        doubtful = sorted({c for c, items in unattributed.items() if any(not _inherent(f) for _, f in items)} - set(wanted))
        if doubtful:
            refs = [r for c in doubtful for i, f in unattributed[c][:3] for r in _flow_refs(f, i)]
            return outcome("inconclusive", f"Data outside the stated categories ({listing(doubtful)}) was sent{where} in "
                           f"requests that cannot be attributed to the vendor or to the device's background{left_out}.", refs)
        # Nothing outside the list anywhere but the background: the vendor's part cannot hold more either.
        if not flows and not unknown:
            checked = _requests_checked(bundle, scope)
            if not checked:
                return outcome("not_observable", f"No decoded request {scope_words(scope)}{where} was seen to look "
                               f"for collected data{left_out}.", _background_refs(flows_all, scope))
            return outcome("supported", f"The {plural(len(checked), 'decoded request')} {scope_words(scope)}{where} "
                           f"carried no data of any category{left_out}.", checked)
        seen = _categories(flows + unknown)
        chosen = {c for c, items in seen.items() if any(not _inherent(f) for _, f in items)}
        refs = [r for c in sorted(chosen) for i, f in seen[c][:2] for r in _flow_refs(f, i)]
        inherent = sorted(set(seen) - chosen - set(wanted))
        note = f"; browser-inherent headers also carried {listing(inherent)}" if inherent else ""
        whose = f" ({len(unknown)} of them not attributable to the vendor)" if unknown else ""
        return outcome("supported", f"Only the stated categories ({listing(sorted(chosen) or ['none'])}) were seen "
                       f"in {plural(len(flows) + len(unknown), 'decoded data flow')}{where}{whose}{note}{left_out}.", refs)
    missing = [c for c in wanted if c not in by_category]
    refs = [r for c in wanted if c in by_category for i, f in by_category[c][:2] for r in _flow_refs(f, i)]
    if missing:
        elsewhere = [c for c in missing if c in unattributed]
        if elsewhere:
            refs += [r for c in elsewhere for i, f in unattributed[c][:2] for r in _flow_refs(f, i)]
            return outcome("inconclusive", f"Of the stated categories, {listing(elsewhere)} {'was' if len(elsewhere) == 1 else 'were'} "
                           f"seen{where} only in requests that cannot be attributed to the vendor{left_out}.", refs)
        return outcome("not_observable", f"Of the stated categories, {listing(missing)} were not seen being sent{where} "
                       f"{scope_words(scope)} (the vendor may still collect them server-side){left_out}.", refs)
    return outcome("supported", f"Every stated category ({listing(wanted)}) was seen being sent{where} "
                   f"{scope_words(scope)}{left_out}.", refs)


def _categories(flows: list[tuple[int, DataFlow]]) -> dict[str, list[tuple[int, DataFlow]]]:
    out: dict[str, list[tuple[int, DataFlow]]] = {}
    for i, f in flows:
        if isinstance(f.get("category"), str):
            out.setdefault(f["category"], []).append((i, f))
    return out


def _party_index(bundle: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    index: dict[str, Mapping[str, Any]] = {}
    for party in records(bundle, "parties") or []:
        for name in party_names(party):
            index.setdefault(name.lower(), party)
    return index


def _sharing_offences(flows: list[tuple[int, DataFlow]], index: Mapping[str, Mapping[str, Any]],
                      allowed: NameMatcher, allowed_data: set[str]) -> tuple[list[Any], list[Any], int]:
    """(flows to undeclared recipients, flows beyond the allowed data, data flows to third parties)."""
    undeclared: list[tuple[int, Mapping[str, Any]]] = []
    excess: list[tuple[int, Mapping[str, Any]]] = []
    third = 0
    for i, f in flows:
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
    return undeclared, excess, third


def _third_parties_seen(parties: list[Party], scope: str) -> list[Party]:
    return [p for p in parties if p.get("first_party") is not True and (scope == "device" or role(p) != "background")]


def third_party_sharing(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    recipients = [str(r) for r in params.get("allowed_recipients", [])]
    allowed_data = {str(c) for c in params.get("allowed_data", [])}
    scope = scope_of(params)
    parties = records(bundle, "parties")
    flows = records(bundle, "data_flows")
    if parties is None or flows is None or not _observed_traffic(bundle):
        contacted = _third_parties_seen(parties or [], scope)
        if contacted:
            tied = sorted({str(p.get("domain") or p.get("entity")) for p in contacted if role(p) == "third_party_of_vendor"})
            loose = sorted({str(p.get("domain") or p.get("entity")) for p in contacted if role(p) != "third_party_of_vendor"})
            seen = [f"{plural(len(tied), 'third party')} of the vendor ({listing(tied)})"] if tied else []
            seen += [f"{plural(len(loose), 'host')} nothing ties to the vendor or to the device's background "
                     f"({listing(loose)})"] if loose else []
            return outcome("inconclusive", f"The capture shows connections to {' and '.join(seen)} but no decoded "
                           "requests, so neither what they received nor whether the vendor's app sent it can be told.",
                           [ref("party", record_id(p, str(p.get("domain"))),
                                f"{text(p.get('entity')) or 'no known entity'} ({role(p)})") for p in contacted][:15])
        return outcome("not_observable", "The evidence holds no decoded traffic with parties to check who received data.")
    index = _party_index(bundle)
    allowed = NameMatcher(recipients)
    counted, unknown, background = _by_role(list(enumerate(flows)), scope)
    undeclared, excess, _ = _sharing_offences(counted, index, allowed, allowed_data)
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
        return outcome("contradicted", f"Personal data went to third parties {scope_words(scope)}: " + "; ".join(parts)
                       + f"{_left_out(background)}.", refs)
    doubtful_u, doubtful_e, _ = _sharing_offences(unknown, index, allowed, allowed_data)
    if doubtful_u or doubtful_e:
        who = sorted({str(f.get("party")) for _, f in doubtful_u + doubtful_e})
        refs = [r for i, f in (doubtful_u + doubtful_e)[:10] for r in _flow_refs(f, i)]
        return outcome("inconclusive", f"Personal data beyond the allowance went to {listing(who)} in requests that cannot "
                       f"be attributed to the vendor or to the device's background{_left_out(background)}.", refs)
    judged_parties = _third_parties_seen(parties, scope)
    contacted_names = sorted({str(p.get("domain") or p.get("entity")) for p in judged_parties})
    refs = [ref("party", record_id(p, str(p.get("domain"))), f"{text(p.get('entity'))} ({role(p)})") for p in judged_parties][:15]
    refs += [r for i, f in (counted + unknown)[:5] for r in _flow_refs(f, i)]  # the data flows that were checked
    refs += _background_refs(flows, scope) or ([] if refs else _requests_checked(bundle, scope))
    contacted_text = f"{plural(len(contacted_names), 'third party')} contacted: {listing(contacted_names)}" if contacted_names else "no third party contacted"
    return outcome("supported", f"No personal data beyond what the claim allows went to third parties {scope_words(scope)} "
                   f"({contacted_text}){_left_out(background)}.", refs)


def _ad_hits(party: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    cats = str_set(party.get("entity_categories"))
    return sorted(cats & (AD_CATEGORIES | (ANALYTICS_CATEGORIES if params.get("include_analytics") else frozenset())))


def _ad_ref(party: Party, index: int, hits: list[str]) -> dict[str, str]:
    raw_list = party["entity_list"]
    lst: Mapping[str, object] = raw_list if isinstance(raw_list, Mapping) else {}
    source = text(lst.get("name"), 60) or "none"
    return ref("party", record_id(party, str(party["domain"] or f"p{index}")),
               f"{text(party['domain'], 80)} ({text(party['entity'], 60) or 'unknown entity'}: {listing(hits)}; "
               f"{text(party['request_count'], 12)} requests; list: {source}; {role(party)})")


def no_advertising(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    parties = records(bundle, "parties")
    observed = any(records(bundle, k) for k in ("http", "websocket", "dns", "tls"))
    if parties is None or not observed:
        return outcome("not_observable", "The evidence holds no contacted hosts (HTTP, DNS or TLS names) to check for ad tech.")
    scope = scope_of(params)
    ads: list[dict[str, str]] = []
    doubtful: list[dict[str, str]] = []
    ignored: list[dict[str, str]] = []
    for i, p in enumerate(parties):
        hits = [] if p["first_party"] is True else _ad_hits(p, params)
        if not hits:
            continue
        item = _ad_ref(p, i, hits)
        (ads if judged(role(p), scope) else doubtful if role(p) == "unknown" else ignored).append(item)
    names = lambda refs: [r["detail"].split(" (", 1)[0] for r in refs]  # noqa: E731
    if ads:
        return outcome("contradicted", f"The client contacted {plural(len(ads), 'advertising or tracking party')} "
                       f"{scope_words(scope)}: {listing(names(ads))}.", ads + doubtful + ignored)
    if doubtful:
        return outcome("inconclusive", f"The capture shows {plural(len(doubtful), 'advertising or tracking party')} "
                       f"({listing(names(doubtful))}) that cannot be attributed to the vendor or to the device's background.",
                       doubtful + ignored)
    checked = [p for p in parties if scope == "device" or role(p) != "background"]
    refs = [ref("party", record_id(p, str(p["domain"] or f"p{i}")),
                f"checked: {text(p['domain'], 80)} ({text(p['entity'], 60) or 'unknown entity'}; {role(p)})")
            for i, p in enumerate(checked)][:MAX_REFS - 1] + ignored
    note = f"; {plural(len(ignored), 'ad-tech party')} of the device's background {were(len(ignored))} not judged" if ignored else ""
    if not checked:  # nothing named to look up on an entity list: absence of names is not absence of ad tech
        return outcome("not_observable", f"No named party {scope_words(scope)} or unattributed was contacted, so no entity "
                       f"list could be consulted{note}.", refs)
    whose = "on the device" if scope == "device" else "the vendor's traffic or unattributed traffic reached"
    return outcome("supported", f"None of the {plural(len(checked), 'party')} {whose} "
                   f"({listing([p['domain'] for p in checked], 6)}) is a known advertising or tracking entity on the "
                   f"entity lists used{note}.", refs)
