"""Checks ``media_path`` (allowed topologies) and ``data_location`` (allowed countries of endpoints).

Neither produces ``understated``. A path claim can promise content privacy (no media server) or
address privacy (relays and servers hide participants' IP addresses from each other), and a relay
can hide a media server behind it, so no topology is more private than another in every sense: a
path outside ``allowed`` is a contradiction either way. Content confidentiality is judged by
``end_to_end_encryption``, where a peer-to-peer DTLS-SRTP call under a "not end-to-end encrypted"
claim is understated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.rules.checks._common import as_list, judging_vendor_media, all_of, sentence, listing, obj, outcome, plural, record_id, records, ref, text, were
from confaudit.rules.model import Outcome

TOPOLOGIES = ("p2p", "relay", "server")


def _endpoint_refs(path: Mapping[str, Any]) -> list[dict[str, str]]:
    refs = []
    endpoints = as_list(path.get("endpoints"))
    for i, ep in enumerate(endpoints):
        if isinstance(ep, Mapping):
            addr = ep.get("address") or ep.get("ip") or ep.get("host") or ""
            role = ep.get("role") or ep.get("kind") or ""
            refs.append(ref("endpoint", record_id(ep, f"ep{i}"), f"{text(role, 30)} {text(addr, 60)}".strip()))
            names = as_list(ep.get("names"))
            if names:
                refs[-1]["detail"] = text(f"{refs[-1]['detail']} ({', '.join(str(n) for n in names[:3])})")
            raw_flows = ep.get("flows")
            flows = raw_flows if isinstance(raw_flows, list) else [ep.get("flow")]
            refs.extend(ref("flow", f) for f in flows[:5] if isinstance(f, str))
        elif isinstance(ep, str):
            refs.append(ref("endpoint", f"ep{i}", ep))
    return refs


@judging_vendor_media
def media_path(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    allowed = [str(a) for a in params.get("allowed", [])]
    path = obj(bundle, "media_path")
    reported = path["topology"] if path else None
    if path is None or not isinstance(reported, str) or reported.lower() not in TOPOLOGIES:
        return outcome("not_observable", "The capture does not show how the media travelled (no media path could be determined).")
    topology = reported.lower()
    reasons = as_list(path["reasons"])
    chosen = [f.get("flow") for f in path.get("flows") or [] if isinstance(f, Mapping) and f.get("topology") == topology]
    # illustrate with a flow that took the reported path (the first one may be a relay the call left)
    example = next((r for r in reasons if isinstance(r, str) and any(r.startswith(f"{fid}:") for fid in chosen)),
                   reasons[0] if reasons else None)
    why = f" ({text(example, 160)})" if example else ""
    refs = _endpoint_refs(path) + [ref("note", "reason", str(r)) for r in reasons[:5]]
    if not refs:  # a bundle without endpoints or reasons: cite the topology and the streams that travelled it
        refs = [ref("media_path", "topology", f"{topology} path reported by the analysis")]
        for i, s in enumerate((records(bundle, "media_streams") or [])[:10]):
            refs.append(ref("media_stream", record_id(s, f"m{i}"), text(s["encryption"], 30)))
    if topology in allowed:
        return outcome("supported", f"The media travelled over a {topology} path{why}, which the claim allows.", refs)
    return outcome("contradicted", f"The media travelled over a {topology} path{why}, but the claim allows only "
                   f"{listing(allowed)}.", refs)


def _located(bundle: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(kind, id, name, country) of every endpoint or party that carries a country code."""
    out = []
    path = obj(bundle, "media_path")
    for i, ep in enumerate(as_list(path["endpoints"]) if path else []):
        if isinstance(ep, Mapping) and isinstance(ep.get("country"), str):
            out.append(("endpoint", record_id(ep, f"ep{i}"), text(ep.get("address") or ep.get("ip"), 60), ep["country"]))
    for i, party in enumerate(records(bundle, "parties") or []):
        raw_countries = party.get("countries")
        countries = raw_countries if isinstance(raw_countries, list) else [party.get("country")]
        for c in countries:
            if isinstance(c, str) and c:
                out.append(("party", record_id(party, f"p{i}"), text(party["domain"], 80), c))
    for i, flow in enumerate(records(bundle, "flows") or []):
        c = flow.get("dst_country") or flow.get("country")
        if isinstance(c, str) and c:
            out.append(("flow", record_id(flow, f"f{i}"), text(flow["dst"] or flow.get("server"), 60), c))
    return out


def data_location(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    allowed = {str(c).upper() for c in params.get("allowed_countries", [])}
    located = _located(bundle)
    if not located:
        return outcome("not_observable", "No endpoint in the evidence carries a country (no offline country lookup was applied).")
    outside = [(k, i, n, c) for k, i, n, c in located if c.upper() not in allowed]
    if outside:
        refs = [ref(k, i, f"{n} in {text(c, 8)}") for k, i, n, c in outside]
        return outcome("contradicted", f"{plural(len(outside), 'endpoint')} {were(len(outside))} located outside the allowed countries "
                       f"({listing(sorted({c.upper() for *_, c in outside}))}).", refs)
    refs = [ref(k, i, f"{n} in {text(c, 8)}") for k, i, n, c in located[:15]]
    return outcome("supported", f"{sentence(all_of(len(located), 'located endpoint'))} {were(len(located))} in {listing(sorted(allowed))}.", refs)
