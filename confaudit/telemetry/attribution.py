"""Whose traffic it is: every flow, request, TLS/QUIC handshake and DNS lookup is the vendor's, a third
party's the vendor's pages or app asked for, the device's background (OS and browser services, other
pages), or unknown -- each with its reasons (docs/evidence.md, "Attribution").

:func:`attribute` is pure: bundle + first-party names in, one :class:`Attribution` per record out. It
runs when the evidence is built and again at check time (``rules.engine.with_first_party``), when a
claims file may name more of the vendor. Rules, first match wins:

1. the call's media and signalling (``media_streams[].flow``, ``media_path.endpoints[].flows``,
   ``stun[].flow``, ``dtls[].flow``, SIP/SDP describing that media) is the vendor's, unless it is positively
   another call: between other programs' sockets (``local_sockets``) or with another operator's far end;
2. a first-party name (SNI, Host, DNS name, certificate name, entity, published address range) is the
   vendor's, unless the background list names the host more specifically than the first party does;
3. a request whose Origin/Referer/initiator is a vendor page (or a frame a vendor page loaded), and any
   name such a request went to, is a third party of the vendor;
4. OS/browser services (``data/background.json``), special-use names, local addresses, and requests
   from pages that are not the vendor's are background;
5. anything else is unknown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confaudit.telemetry.background import BackgroundList, background_list, local_address
from confaudit.telemetry.call_flows import address_names, media_flows
from confaudit.telemetry.entities import EntityMap, normalise_host
from confaudit.telemetry.initiators import (FRAME_DESTINATIONS, RequestHeaders, destination, host_of_origin, initiators,
                                            origin_of)
from confaudit.telemetry.local_sockets import SocketOwners
from confaudit.telemetry.names import ROLES, Attribution, Namer, VendorNames, closest, informative, rank

if TYPE_CHECKING:
    from confaudit.evidence_model import TrafficAttribution, TrafficAttributionHost
    from confaudit.telemetry.parties import HostInventory

SECTIONS = ("flows", "http", "websocket", "http_plain", "tls", "quic", "dns", "tls_clienthello", "dns_queries")
"""Bundle sections whose records get an ``attribution``."""
_NAME_LABEL = {"http": "Host", "http_plain": "Host", "websocket": "WebSocket host", "tls": "SNI", "quic": "SNI",
               "tls_clienthello": "SNI", "dns": "DNS name", "dns_queries": "DNS name"}
MAX_HOSTS = 500
MAX_FRAME_DEPTH = 8
"""Frames inside frames followed from a vendor page (each level is one pass over the requests)."""


def _dicts(bundle: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = bundle.get(key)
    # a dict is a Mapping: the type test spares 100,000 records the slower ABC check
    return [r for r in value if type(r) is dict or isinstance(r, Mapping)] if isinstance(value, list) else []


class _Records:
    """:func:`_dicts` of one bundle, each section filtered once (``attribute`` walks the requests several times)."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.bundle = bundle
        self._found: dict[str, list[Mapping[str, Any]]] = {}

    def __call__(self, key: str) -> list[Mapping[str, Any]]:
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = _dicts(self.bundle, key)
        return found


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class Result:
    """Attributions of one bundle, parallel to its record lists."""

    records: dict[str, list[Attribution | None]] = field(default_factory=dict)
    """section -> one attribution per list item (None for items that are not records)."""
    by_id: dict[tuple[str, str], Attribution] = field(default_factory=dict)
    """(kind, id) -> attribution, for evidence references (http h<N>, websocket w<N>, flow f<N>)."""
    hosts: dict[str, tuple[Attribution, dict[str, int]]] = field(default_factory=dict)
    """host or address -> (attribution, records per kind)."""
    namer: Namer | None = None

    def host_role(self, host: str) -> Attribution | None:
        return self.namer.full(host, "host") if self.namer is not None else None

    def of_refs(self, refs: Iterable[tuple[str, str]]) -> Attribution | None:
        """The attribution closest to the vendor among the records ``refs`` point to."""
        found = [(kind, rid, self.by_id.get((kind, rid))) for kind, rid in refs]
        best = closest(a for _, _, a in found)
        if best is None:
            return None
        kind, rid, _ = next(f for f in found if f[2] is best)
        return Attribution(best.role, (f"sent in {kind} {rid}: {best.reasons[0]}",) if best.reasons else ())


class _Http:
    """Roles of HTTP requests from their initiators, and the names the vendor's pages requested."""

    def __init__(self, records: list[Mapping[str, Any]], namer: Namer) -> None:
        self.records, self.namer = records, namer
        self.header = RequestHeaders()
        self.frames: set[str] = set()  # origins of frames the vendor's pages loaded
        frames = [rec for rec in records if destination(rec, self.header) in FRAME_DESTINATIONS]
        changed, depth = True, 0
        while changed and depth < MAX_FRAME_DEPTH:
            changed, depth = False, depth + 1
            for rec in frames:
                origin = origin_of(rec.get("url"))
                if origin and origin not in self.frames \
                        and any(self.vendor_page(i.origin) for i in initiators(rec, self.header)):
                    self.frames.add(origin)
                    changed = True
        self._vendor_pages: dict[str, bool] = {}
        """:meth:`vendor_page` per origin, once the frames are known (every request of a page asks again)."""
        self._answers: dict[Attribution, Attribution] = {}
        self._decided: dict[tuple[str, int, int], tuple[Any, Any, Attribution | None]] = {}
        """:meth:`by_initiator` per (Host, header list, initiator) of a record, the lists held with the answer (their
        ids cannot be reused): an import shares both between the requests of a page (confaudit.importers.shared),
        and nothing else of a record changes the answer."""

    def vendor_page(self, origin: str) -> bool:
        return origin in self.frames or self.namer.base(host_of_origin(origin), "page").role == "vendor"

    def _vendor_page_known(self, origin: str) -> bool:
        found = self._vendor_pages.get(origin)
        if found is None:
            if len(self._vendor_pages) >= 65536:
                self._vendor_pages.clear()
            found = self._vendor_pages[origin] = self.vendor_page(origin)
        return found

    def by_initiator(self, rec: Mapping[str, Any]) -> Attribution | None:
        """The request's role from its initiators (its Host's when the Host is the vendor's); None when they do
        not decide it. Repeated (Host, header list, initiator) triples are answered from :attr:`_decided`."""
        host, headers, initiator = rec.get("host"), rec.get("request_headers"), rec.get("initiator")
        if type(host) is not str or not host:
            return self._by_initiator(rec)
        key = (host, id(headers), id(initiator))
        found = self._decided.get(key)
        if found is None or found[0] is not headers or found[1] is not initiator:
            if len(self._decided) >= 65536:
                self._decided.clear()
            decided = self._by_initiator(rec)
            if decided is not None:  # equal answers as one object: later passes compare them by identity
                if len(self._answers) >= 65536:
                    self._answers.clear()
                decided = self._answers.setdefault(decided, decided)
            found = self._decided[key] = (headers, initiator, decided)
        return found[2]

    def _by_initiator(self, rec: Mapping[str, Any]) -> Attribution | None:
        host = normalise_host(_str(rec.get("host")) or host_of_origin(origin_of(rec.get("url")) or ""))
        if not host:
            return Attribution("unknown", ("the request names no host",))
        own = self.namer.base(host, "Host")
        if own.role == "vendor":
            return own
        if destination(rec, self.header) == "document":  # a top-level page the user opened: its own name decides
            return None
        found = initiators(rec, self.header)
        vendor = None
        for candidate in found:
            if self._vendor_page_known(candidate.origin):
                vendor = candidate
                break
        if vendor is not None:
            why = f"was requested by the vendor's page {vendor.origin} ({vendor.how})"
            self.namer.requested.setdefault(host, why)
            return Attribution("third_party_of_vendor", (f"Host {host} {why}",) + own.reasons[:1])
        if found:
            why = f"was requested by the page {found[0].origin} ({found[0].how}), which is not the vendor's"
            self.namer.unrelated.setdefault(host, why)
            return Attribution("background", (f"Host {host} {why}",))
        return None


def attribute(bundle: Mapping[str, Any], vendor: VendorNames, emap: EntityMap,
              background: BackgroundList | None = None, inventory: HostInventory | None = None) -> Result:
    """Attribute every record of ``bundle`` (never mutated); see the module docstring for the rules.
    ``inventory``: the bundle's :func:`~confaudit.telemetry.parties.host_inventory` when already made."""
    from confaudit.telemetry.parties import host_inventory

    found = inventory if inventory is not None else host_inventory(dict(bundle), emap)
    entities = {h: (r.entity, r.entity_source == "cname") for h, r in found.resolutions.items()}
    recs = _Records(bundle)
    for party in recs("parties"):  # entities found with the user's lists at build time
        party_hosts = party.get("hosts")
        for host in party_hosts if isinstance(party_hosts, list) else ():
            if isinstance(host, str) and isinstance(party.get("entity"), str):
                entities[normalise_host(host)] = (party["entity"], party.get("entity_source") == "cname")
    namer = Namer(vendor, background or background_list(), emap, entities)
    result = Result(namer=namer)
    http_recs = recs("http")
    resolver = _Http(http_recs, namer)
    first = [resolver.by_initiator(rec) for rec in http_recs]  # fills namer.requested / namer.unrelated
    http_roles = [a or namer.full(_str(rec.get("host")), "Host") for rec, a in zip(http_recs, first)]
    by_http_id = {_str(r.get("id")): a for r, a in zip(http_recs, http_roles) if r.get("id")}
    ws_roles = [_websocket(rec, by_http_id, namer) for rec in recs("websocket")]
    roles: dict[str, list[Attribution]] = {"http": http_roles, "websocket": ws_roles}
    for section in ("http_plain", "tls", "quic", "dns", "tls_clienthello", "dns_queries"):
        roles[section] = [_named(section, rec, namer) for rec in recs(section)]
    roles["flows"] = _flow_roles(bundle, roles, namer, recs)
    flow_role = {_str(f.get("id")): a for f, a in zip(recs("flows"), roles["flows"]) if f.get("id")}
    for section in ("tls", "quic"):  # the handshake is its flow's (requests on it, media, DNS answers ...)
        roles[section] = [flow_role.get(_str(rec.get("flow")), a) if not rec.get("sni") or a.role == "unknown" else a
                          for rec, a in zip(recs(section), roles[section])]
    for section in SECTIONS:
        raw = bundle.get(section)
        it = iter(roles[section])
        result.records[section] = [next(it) if type(r) is dict or isinstance(r, Mapping) else None
                                   for r in raw] if isinstance(raw, list) else []
    for kind, section in (("http", "http"), ("websocket", "websocket"), ("flow", "flows")):
        for rec, a in zip(recs(section), roles[section]):
            if isinstance(rec.get("id"), str):
                result.by_id[(kind, rec["id"])] = a
    _summarise(recs, roles, result)
    return result


def _websocket(rec: Mapping[str, Any], by_http_id: Mapping[str, Attribution], namer: Namer) -> Attribution:
    upgrade = by_http_id.get(_str(rec.get("http_id")))
    if upgrade is not None:
        return upgrade.because() if upgrade.role != "unknown" else namer.full(_str(rec.get("host")), "WebSocket host")
    return namer.full(_str(rec.get("host")) or host_of_origin(origin_of(rec.get("url")) or ""), "WebSocket host")


_FLOW_NAMING = frozenset(("tls", "quic", "http", "http_plain", "websocket"))
"""Sections whose named records name their flow (such a flow is summarised under the name, not its address)."""


def _name_of(section: str, rec: Mapping[str, Any]) -> str:
    if section in ("tls", "quic", "tls_clienthello"):
        return _str(rec.get("sni"))
    if section == "dns":
        return _str(rec.get("name"))
    if section == "dns_queries":
        questions = rec.get("questions") if isinstance(rec.get("questions"), list) else []
        return _str(questions[0].get("name")) if questions and isinstance(questions[0], Mapping) else ""
    host = _str(rec.get("host"))
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _named(section: str, rec: Mapping[str, Any], namer: Namer) -> Attribution:
    name = _name_of(section, rec)
    certs = [c.lstrip("*.") for c in rec.get("certificate_names") or () if isinstance(c, str)] \
        if isinstance(rec.get("certificate_names"), list) else []
    found = [namer.full(name, _NAME_LABEL[section])] if name else []
    found += [namer.full(c, "certificate name") for c in certs[:20]]
    best = informative(found)
    if best is None:
        return Attribution("unknown", (f"no {_NAME_LABEL[section]} and no certificate name",))
    vendor = closest(found)
    return vendor if vendor is not None and vendor.role == "vendor" else best


def _flow_roles(bundle: Mapping[str, Any], roles: Mapping[str, list[Attribution]], namer: Namer,
                recs: _Records) -> list[Attribution]:
    media = media_flows(bundle)
    on_flow: dict[str, list[Attribution]] = {}
    for section in ("http", "websocket"):
        for rec, a in zip(recs(section), roles[section]):
            if isinstance(rec.get("flow"), str):
                on_flow.setdefault(rec["flow"], []).append(a)
    named: dict[str, list[Attribution]] = {}
    for section in ("tls", "quic", "http_plain"):
        for rec, a in zip(recs(section), roles[section]):
            if isinstance(rec.get("flow"), str) and (section == "http_plain" or rec.get("sni") or rec.get("certificate_names")):
                named.setdefault(rec["flow"], []).append(a)
    answered = address_names(bundle)
    endpoint_names = _media_endpoint_names(bundle)
    handshake_names = _call_flow_names(bundle)
    sockets = SocketOwners(bundle)
    out = []
    for flow in recs("flows"):
        fid = _str(flow.get("id"))
        if fid in media:
            program = sockets.other_program(flow)
            other = Attribution("background", (program,)) if program else \
                _other_operator(flow, answered, endpoint_names, namer, handshake_names.get(fid, set()))
            out.append(other or Attribution("vendor", (f"flow {fid} {media[fid]}",)))
        elif fid in on_flow:  # a list only ever appended to: not empty, no None in it, so closest() is not None
            out.append(closest(on_flow[fid]).because())  # type: ignore[union-attr]
        else:
            names = handshake_names.get(fid, set())
            other = _other_operator(flow, answered, endpoint_names, namer, names) if names else None
            own = [namer.full(n.lstrip("*."), f"flow {fid} named") for n in sorted(names)[:10]]
            out.append(other or _endpoint(flow, named.get(fid, []) + own, answered, namer))
    return out


def _media_endpoint_names(bundle: Mapping[str, Any]) -> dict[str, tuple[set[str], str]]:
    """address -> (names the media path gave it: DNS, SNI, its DTLS certificate, TURN realm; operator of its media network)."""
    path = bundle.get("media_path")
    out: dict[str, tuple[set[str], str]] = {}
    for endpoint in _dicts(path, "endpoints") if isinstance(path, Mapping) else ():
        raw_names, raw_network = endpoint.get("names"), endpoint.get("network")
        names: list[object] = raw_names if isinstance(raw_names, list) else []
        network: Mapping[str, object] = raw_network if isinstance(raw_network, Mapping) else {}
        entry = out.setdefault(normalise_host(_str(endpoint.get("address"))), (set(), _str(network.get("operator"))))
        entry[0].update(n for n in names if isinstance(n, str))
    return out


def _call_flow_names(bundle: Mapping[str, Any]) -> dict[str, set[str]]:
    """flow id -> names its STUN/TURN and DTLS exchange carried: TURN realms, non-generic certificate names."""
    out: dict[str, set[str]] = {}
    for rec in _dicts(bundle, "stun"):
        raw_realms = rec.get("realms")
        realms: list[object] = raw_realms if isinstance(raw_realms, list) else []
        out.setdefault(_str(rec.get("flow")), set()).update(r for r in realms if isinstance(r, str) and "." in r)
    for rec in _dicts(bundle, "dtls"):
        raw_names = rec.get("certificate_names")
        names: list[object] = raw_names if isinstance(raw_names, list) else []
        out.setdefault(_str(rec.get("flow")), set()).update(n for n in names if isinstance(n, str) and "." in n)
    return out


def _other_operator(flow: Mapping[str, Any], answered: Mapping[str, set[str]],
                    endpoint_names: Mapping[str, tuple[set[str], str]], namer: Namer,
                    own_names: AbstractSet[str] = frozenset()) -> Attribution | None:
    """Call media whose far end is positively another operator's (its names, address or media network belong to a
    known company that is not the vendor): another app's call in the same capture. None when it may be the vendor's,
    and always when no vendor is named (then every call in the capture is the one being audited)."""
    if not namer.vendor:
        return None
    found = [(name.lstrip("*."), namer.full(name.lstrip("*."), f"flow {_str(flow.get('id'))} named"))
             for name in sorted(own_names)[:10]]
    operators = []
    for side in ("dst", "src"):
        address = normalise_host(_str(flow.get(side)))
        names, operator = endpoint_names.get(address, (set(), ""))
        for name in sorted(answered.get(address, set()) | names)[:10]:
            found.append((name, namer.full(name, f"media endpoint {address} named")))
        found.append((address, namer.address(address, f"media endpoint {address}")))
        if operator:
            operators.append((address, operator))
    if any(a.role in ("vendor", "third_party_of_vendor") for _n, a in found) \
            or any(namer.vendor.match("", operator, False) for _a, operator in operators):
        return None
    for address, operator in operators:
        return Attribution("background", (f"flow {_str(flow.get('id'))} carries another operator's call traffic: "
                                          f"{address} is in {operator}'s published media network, not the vendor's",))
    for name, attribution in found:
        entity = namer.entity(name)[0]
        if entity and attribution.role in ("unknown", "background"):
            return Attribution("background", (f"flow {_str(flow.get('id'))} carries another operator's call traffic: "
                                              f"{name} belongs to {entity}, not the vendor",))
    return None


def _endpoint(flow: Mapping[str, Any], named: list[Attribution], answered: Mapping[str, set[str]],
              namer: Namer) -> Attribution:
    """A flow without requests or media: its names, then its addresses and ports."""
    remote = [normalise_host(_str(flow.get(side))) for side in ("dst", "src") if flow.get(side)]
    found = list(named)
    for address in remote:
        found += [namer.full(n, f"DNS name (answered {address})") for n in sorted(answered.get(address, ()))[:10]]
    addressed = [namer.address(a, f"address {a}") for a in remote]
    vendor = closest(found + addressed)
    if vendor is not None and vendor.role in ("vendor", "third_party_of_vendor"):
        return vendor
    best = informative(found)
    if best is not None and best.role != "unknown":
        return best
    dst = remote[0] if remote else ""
    local = local_address(dst)
    if local is not None:
        return Attribution("background", (f"address {local}",))
    transport = _str(flow.get("transport"))
    for port in (flow.get("dport"), flow.get("sport")):
        service = namer.background.match_port(transport, port)
        if service is not None:
            return Attribution("background", (f"{transport}/{port} is {service.operator}: {service.service} ({service.cite()})",))
    if best is not None:
        return best
    return informative(addressed) or Attribution("unknown", ("no name and no address",))


def _summarise(recs: _Records, roles: Mapping[str, list[Attribution]], result: Result) -> None:
    """One entry per host name (or remote address of an unnamed flow), with its records per kind."""
    entries: dict[str, list[Any]] = {}
    named_flows: set[str] = set()
    normalised: dict[str, str] = {}  # the few names 100,000 records carry, each normalised once
    for section in SECTIONS:
        if section == "flows":
            continue
        flow_named = section in _FLOW_NAMING
        for rec, a in zip(recs(section), roles[section]):
            raw = _name_of(section, rec)
            if not raw:
                continue
            if flow_named:
                named_flows.add(_str(rec.get("flow")))
            name = normalised.get(raw)
            if name is None:
                name = normalised[raw] = normalise_host(raw)
            if name:
                entry = entries.get(name)
                if entry is None:
                    entry = entries[name] = [None, {}]
                if entry[0] is not a:  # records of one host mostly share one attribution: it is the closest
                    entry[0] = closest([entry[0], a]) if entry[0] is not None else a
                counts = entry[1]
                counts[section] = counts.get(section, 0) + 1
    for flow, a in zip(recs("flows"), roles["flows"]):
        if _str(flow.get("id")) not in named_flows:
            key = f"{_str(flow.get('dst'))}:{flow.get('dport')}/{_str(flow.get('transport'))}"
            entry = entries.setdefault(key, [None, {}])
            entry[0] = closest([entry[0], a]) if entry[0] is not None else a
            entry[1]["flows"] = entry[1].get("flows", 0) + 1
    for host, (a, counts) in sorted(entries.items(), key=lambda kv: (rank(kv[1][0].role), kv[0])):
        result.hosts[host] = (a, counts)


def summary(result: Result, vendor: VendorNames) -> TrafficAttribution:
    """The bundle's ``traffic_attribution`` section."""
    counts: dict[str, dict[str, int]] = {}
    for s in SECTIONS:
        per_role = Counter(a.role for a in result.records.get(s, []) if a is not None)
        counts[s] = {r: per_role[r] for r in ROLES}
    hosts: list[TrafficAttributionHost] = [
        {"host": h, "role": a.role, "reasons": list(a.reasons), "records": dict(sorted(c.items()))}
        for h, (a, c) in list(result.hosts.items())[:MAX_HOSTS]]
    section: TrafficAttribution = {"first_party": vendor.listing(), "counts": counts, "hosts": hosts,
                                   "hosts_omitted": max(len(result.hosts) - MAX_HOSTS, 0)}
    return section
