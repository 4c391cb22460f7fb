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
from dataclasses import dataclass, field
from typing import Any

from confaudit.rules.checks._common import (all_of, as_list, as_str, foreign_call_flows, judged, judging_vendor_media, listing, obj,
                                            outcome, plural, record_id, records, ref, role, scope_of, scope_words,
                                            sentence, text, were)
from confaudit.rules.model import Outcome
from confaudit.telemetry.entities import normalise_host

TOPOLOGIES = ("p2p", "relay", "server")


def _endpoint_refs(path: Mapping[str, Any]) -> list[dict[str, str]]:
    """The media path's endpoints (role, address, names; the schema gives them no id: ``ep<N>`` by position) and
    up to five of each one's flows."""
    refs = []
    endpoints = as_list(path.get("endpoints"))
    for i, ep in enumerate(endpoints):
        if isinstance(ep, Mapping):
            refs.append(ref("endpoint", f"ep{i}", f"{text(ep.get('role') or '', 30)} {text(ep.get('address') or '', 60)}".strip()))
            names = as_list(ep.get("names"))
            if names:
                refs[-1]["detail"] = text(f"{refs[-1]['detail']} ({', '.join(str(n) for n in names[:3])})")
            refs.extend(ref("flow", f) for f in as_list(ep.get("flows"))[:5] if isinstance(f, str))
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


_RANK = {"vendor": 0, "third_party_of_vendor": 1, "unknown": 2, "background": 3}
_PARTICIPANTS = ("client", "peer")
"""Media path endpoint roles that are the call's participants' own devices, not where the vendor carries data."""


@dataclass
class _Place:
    """One located (or locatable) address, or a party's country when its flows and http records are not in the bundle."""

    address: str
    country: str | None
    role: str
    refs: list[dict[str, str]] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)
    parties: list[str] = field(default_factory=list)

    def seen(self, item_role: str) -> None:
        if _RANK[item_role] < _RANK[self.role]:
            self.role = item_role

    def words(self) -> str:
        where = f"{self.address} in {self.country}" if self.country else self.address
        via = []
        if self.flows:
            more = f" and {len(self.flows) - 3} more" if len(self.flows) > 3 else ""
            via.append(f"{'flow' if len(self.flows) == 1 else 'flows'} {', '.join(self.flows[:3])}{more}")
        if self.exchanges:
            more = f" and {len(self.exchanges) - 3} more" if len(self.exchanges) > 3 else ""
            via.append(f"http {', '.join(self.exchanges[:3])}{more}")
        if self.parties:
            via.append(", ".join(self.parties[:2]) + (" ..." if len(self.parties) > 2 else ""))
        return f"{where} ({'; '.join(via)})" if via else where


def _cc(value: object) -> str | None:
    """A country code as the table writes it (two letters), else None: not located (a wrong-typed value is no country)."""
    return value.upper() if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha() else None


def _places(bundle: Mapping[str, Any]) -> tuple[list[_Place], int]:
    """Every public address of the media path's servers and relays, of the flows' dst and of the http records'
    server that the country table was applied to (country None: not located), merged per address, and how many public addresses of the
    participants' own devices (the media path's client and peers) were left out."""
    places: dict[str, _Place] = {}

    def place(address: str, country: str | None, item_role: str) -> _Place:
        key = f"{address}\x1f{country}"  # one address given two countries (a hand-edited bundle) counts twice
        found = places.get(key)
        if found is None:
            found = places[key] = _Place(address, country, item_role)
        found.seen(item_role)
        return found

    foreign = foreign_call_flows(bundle)
    path = obj(bundle, "media_path")
    # endpoints are nested records, which the reader does not check for their required keys: read them with care
    endpoints = [ep for ep in (as_list(path["endpoints"]) if path else []) if isinstance(ep, Mapping)]
    participant = [as_str(ep.get("role")) in _PARTICIPANTS for ep in endpoints]
    participants = {as_str(ep.get("address")) for ep, own in zip(endpoints, participant) if own}
    public_participants = {as_str(ep.get("address")) for ep, own in zip(endpoints, participant) if own and "country" in ep}
    for i, (ep, own) in enumerate(zip(endpoints, participant)):
        if own or "country" not in ep:
            continue
        address = text(ep.get("address"), 60) or f"endpoint {i}"
        flows = [f for f in as_list(ep.get("flows")) if isinstance(f, str)]
        # the call's media is the vendor's; only a positive attribution to another call leaves it out
        item_role = "background" if flows and all(f in foreign for f in flows) else "vendor"
        country = _cc(ep.get("country"))
        found = place(address, country, item_role)
        found.refs.append(ref("endpoint", record_id(ep, f"ep{i}"), f"{text(ep.get('role'), 10)} {address} "
                              f"{'in ' + country if country else 'not located'}"))
    party_of: dict[str, tuple[str, str]] = {}
    party_of_host: dict[str, tuple[str, str]] = {}  # requests are attributed to a party by host
    parties = records(bundle, "parties") or []
    for i, party in enumerate(parties):
        for fid in as_list(party.get("flows")):
            if isinstance(fid, str):
                party_of.setdefault(fid, (record_id(party, f"p{i}"), text(party["domain"], 80)))
        for host in as_list(party["hosts"]):
            if isinstance(host, str):
                party_of_host.setdefault(host, (record_id(party, f"p{i}"), text(party["domain"], 80)))
    flow_ids: set[str] = set()
    for i, flow in enumerate(records(bundle, "flows") or []):
        fid, dst = record_id(flow, f"f{i}"), text(flow["dst"], 60)
        flow_ids.add(fid)
        if "dst_country" not in flow or dst in participants:
            continue
        country = _cc(flow.get("dst_country"))
        found = place(dst, country, role(flow))
        found.flows.append(fid)
        found.refs.append(ref("flow", fid, f"{dst} in {country}" if country else f"{dst} not located"))
        if fid in party_of and party_of[fid][1] not in found.parties:
            found.parties.append(party_of[fid][1])
            found.refs.append(ref("party", party_of[fid][0], f"{party_of[fid][1]} reached at {dst}"))
    located_hosts: set[str] = set()
    for i, exchange in enumerate(records(bundle, "http") or []):
        server = exchange["server"]
        ip = server.get("ip") if isinstance(server, Mapping) else None
        if "server_country" not in exchange or not isinstance(ip, str) or ip in participants:
            continue
        hid, address, host = record_id(exchange, f"h{i}"), text(ip, 60), normalise_host(as_str(exchange["host"]))
        located_hosts.add(host)
        country = _cc(exchange.get("server_country"))
        found = place(address, country, role(exchange))
        found.exchanges.append(f"{hid} ({text(host, 60)})")
        found.refs.append(ref("http", hid, f"{text(host, 80)} at {address} {'in ' + country if country else 'not located'}"))
        if host in party_of_host and party_of_host[host][1] not in found.parties:
            found.parties.append(party_of_host[host][1])
            found.refs.append(ref("party", party_of_host[host][0], f"{party_of_host[host][1]} reached at {address}"))
    for i, party in enumerate(parties):  # a party's countries whose flows and http records the bundle does not hold
        if (any(isinstance(f, str) and f in flow_ids for f in as_list(party.get("flows")))
                or any(isinstance(h, str) and h in located_hosts for h in as_list(party["hosts"]))):
            continue
        for country in filter(None, map(_cc, as_list(party.get("countries")))):
            pid, domain = record_id(party, f"p{i}"), text(party["domain"], 80)
            found = place(f"{domain} [{pid}]", country, role(party))
            found.refs.append(ref("party", pid, f"{domain} in {country}"))
    return list(places.values()), len(public_participants)


def _table_ref(table: Mapping[str, Any]) -> dict[str, str]:
    return ref("country_table", as_str(table.get("sha256"))[:16],
               f"{text(table.get('path'), 120)}: {plural(rows, 'row') if isinstance(rows := table.get('rows'), int) else '? rows'} "
               f"({text(table.get('format'), 20)})")


def data_location(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    """Every public endpoint of the vendor's traffic is located by the auditor's country table in an allowed country.

    Judged: the media path's servers and relays, the dst of every flow and the server of every http record (the claim's ``scope``: the vendor's
    traffic, or the whole device). Not judged: the background's and the participants' own addresses (client and
    peers). An address the table has no country for is *not located*, never allowed: it turns *supported* into
    *inconclusive*. Unknown traffic located outside the allowed countries gives *inconclusive*, never contradicted.
    """
    allowed = {str(c).upper() for c in params.get("allowed_countries", [])}
    table = obj(bundle, "country_table")
    if table is None:
        return outcome("not_observable", "No country table was given (country_table in the claims file, or analyze "
                       "--country-table), so no endpoint in the evidence carries a country.")
    scope = scope_of(params)
    places, participants = _places(bundle)
    judged_places = [pl for pl in places if judged(pl.role, scope)]
    unknown = [pl for pl in places if not judged(pl.role, scope) and pl.role == "unknown"]
    background = len(places) - len(judged_places) - len(unknown)
    left_out = [plural(n, what) for n, what in ((background, "background address"), (participants, "participant device address")) if n]
    note = f"; {listing(left_out)} {were(background + participants)} not judged" if left_out else ""
    table_ref = _table_ref(table)
    countries = f"the allowed countries ({', '.join(sorted(allowed))})"
    outside = [pl for pl in judged_places if pl.country is not None and pl.country not in allowed]
    unlocated = [pl for pl in judged_places + unknown if pl.country is None]
    lost = f"; {plural(len(unlocated), 'public address')} could not be located by the country table" if unlocated else ""
    if outside:
        refs = [r for pl in outside for r in pl.refs] + [table_ref]
        return outcome("contradicted", f"{plural(len(outside), 'endpoint')} {were(len(outside))} located outside {countries}: "
                       f"{listing([pl.words() for pl in outside], 5, 160)}{lost}{note}.", refs)
    unknown_outside = [pl for pl in unknown if pl.country is not None and pl.country not in allowed]
    if unknown_outside:
        refs = [r for pl in unknown_outside for r in pl.refs] + [table_ref]
        return outcome("inconclusive", f"Unattributed traffic reached {plural(len(unknown_outside), 'endpoint')} outside {countries}: "
                       f"{listing([pl.words() for pl in unknown_outside], 5, 160)}; whose traffic it was is unknown, so it "
                       f"can neither contradict nor support the claim{lost}{note}.", refs)
    located = [pl for pl in judged_places + unknown if pl.country is not None]
    if unlocated:
        refs = [r for pl in unlocated for r in pl.refs] + [r for pl in located for r in pl.refs] + [table_ref]
        inside = f"; the {plural(len(located), 'located one')} {were(len(located))} in {countries}" if located else ""
        return outcome("inconclusive", f"{plural(len(unlocated), 'public endpoint')} could not be located: the country table "
                       f"has no country for {listing([pl.address for pl in unlocated], 5, 60)}{inside}{note}.", refs)
    if not located:
        return outcome("not_observable", f"No public endpoint {scope_words(scope)} was seen for the country table to "
                       f"locate{note}.", [table_ref])
    refs = [r for pl in located for r in pl.refs] + [table_ref]
    return outcome("supported", f"{sentence(all_of(len(located), 'located endpoint'))} {were(len(located))} in {countries}: "
                   f"{listing([pl.words() for pl in located], 3, 160)}{note}.", refs)
