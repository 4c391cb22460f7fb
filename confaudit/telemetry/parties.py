"""Who received traffic: hosts from HTTP, WebSocket, TLS/QUIC SNI, DNS and flows, grouped by
registrable domain and entity. DNS CNAME chains expose cloaked third parties (a first-party
subdomain aliased to a tracker); TLS certificate names identify hosts the map does not know.
Special-use names (mDNS ``.local``, reverse lookups, single labels ...) are never parties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from confaudit.telemetry.entities import EntityEntry, EntityMap, is_ip, normalise_host, registrable_domain, special_use_name


@dataclass
class HostInfo:
    """Everything seen about one host name."""

    host: str
    sources: set[str] = field(default_factory=set)
    cnames: list[str] = field(default_factory=list)
    certificate_names: set[str] = field(default_factory=set)
    flows: set[str] = field(default_factory=set)
    refs: set[tuple[str, str]] = field(default_factory=set)


EntitySource = Literal["host", "cname", "certificate", "network", "none"]
"""How a party's entity was found (the schema's ``telemetry_party.entity_source``)."""


@dataclass(frozen=True)
class Resolution:
    """How a host maps to a party."""

    domain: str
    """Registrable domain (eTLD+1) of the host the client contacted."""
    entity: str | None
    """Entity operating it, or None when no list knows it."""
    entry: EntityEntry | None
    """The entity-map entry used (None when unknown)."""
    entity_source: EntitySource
    """``host``, ``cname`` (cloaked), ``certificate``, ``network`` (an address in a published range) or ``none``."""
    cname_target: str | None
    """The CNAME target that revealed a different entity, when cloaked."""


_HOSTNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]{0,62}\.)+[a-z0-9\-]{2,63}$")
# A CNAME into one of these is a tracker hidden under the vendor's name; into a CDN it is just hosting.
TRACKING_CATEGORIES = {"analytics", "advertising", "telemetry", "error_reporting", "session_replay", "social"}


def _dicts(bundle: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _names(value: Any) -> list[str]:
    """Names out of a list of strings or of dicts with name/value/data fields."""
    out = []
    for item in value if isinstance(value, list) else ([value] if value else []):
        if isinstance(item, dict):
            item = item.get("name") or item.get("value") or item.get("data") or item.get("address")
        if isinstance(item, str) and item.strip():
            out.append(normalise_host(item))
    return out


def collect_hosts(bundle: dict[str, Any]) -> tuple[dict[str, HostInfo], dict[str, str]]:
    """Host inventory, and a map flow id -> host name (via SNI or DNS answers)."""
    hosts: dict[str, HostInfo] = {}
    named: dict[str, HostInfo | None] = {}  # each name as recorded, looked up once (records repeat a few hosts)

    def info(name: Any) -> HostInfo | None:
        if type(name) is str and name in named:
            return named[name]
        host = normalise_host(name) if isinstance(name, str) else ""
        if not host or len(host) > 253 or special_use_name(host):
            found = None
        else:
            found = hosts.get(host)
            if found is None:
                found = hosts[host] = HostInfo(host)
        if type(name) is str:
            named[name] = found
        return found

    for rec in _dicts(bundle, "http"):
        if (item := info(rec.get("host"))) is not None:
            item.sources.add("http")
            if isinstance(rec.get("flow"), str):
                item.flows.add(rec["flow"])
    for rec in _dicts(bundle, "http_plain"):
        host = rec.get("host")
        if isinstance(host, str) and (item := info(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)):
            item.sources.add("http_plain")
            if isinstance(rec.get("flow"), str):
                item.flows.add(rec["flow"])
    for rec in _dicts(bundle, "websocket"):
        if (item := info(rec.get("host"))) is not None:
            item.sources.add("websocket")
    flow_host: dict[str, str] = {}
    for kind in ("tls", "quic"):
        for rec in _dicts(bundle, kind):
            item = info(rec.get("sni"))
            if item is None:
                continue
            item.sources.add(f"{kind}_sni")
            item.certificate_names.update(_names(rec.get("certificate_names")))
            if isinstance(rec.get("flow"), str):
                item.flows.add(rec["flow"])
                flow_host.setdefault(rec["flow"], item.host)
            if rec.get("id") is not None:
                item.refs.add((kind, str(rec["id"])))
    for rec in _dicts(bundle, "tls_clienthello"):
        if (item := info(rec.get("sni"))) is not None:
            item.sources.add("tls_sni")
            if rec.get("id") is not None:
                item.refs.add(("tls_clienthello", str(rec["id"])))
    for rec in _dicts(bundle, "stun"):  # a TURN REALM names the relay operator (turner.facebook)
        for realm in _names(rec.get("realms")):
            if "." in realm and _HOSTNAME_RE.match(realm) and (item := info(realm)) is not None:
                item.sources.add("stun_realm")
                if isinstance(rec.get("flow"), str):
                    item.flows.add(rec["flow"])
    ip_host: dict[str, str] = {}
    _proxy_dns(bundle, info, ip_host)
    for rec in _dicts(bundle, "dns"):
        item = info(rec.get("name"))
        if item is None:
            continue
        item.sources.add("dns")
        chain = [c for c in _names(rec.get("cnames")) if c != item.host]
        for cname in chain:
            if cname not in item.cnames:
                item.cnames.append(cname)
        for answer in _names(rec.get("answers")):
            if is_ip(answer):
                ip_host.setdefault(answer, item.host)
            elif answer != item.host and answer not in item.cnames:
                item.cnames.append(answer)
        if rec.get("id") is not None:
            item.refs.add(("dns", str(rec["id"])))
    for rec in _dicts(bundle, "flows"):
        fid = rec.get("id")
        if not isinstance(fid, str) or fid in flow_host:
            continue
        for side in ("dst", "src"):  # src when the capture began after the client's first packet
            addr = normalise_host(str(rec.get(side) or ""))
            if addr in ip_host:
                flow_host[fid] = ip_host[addr]
                hosts[ip_host[addr]].flows.add(fid)
                hosts[ip_host[addr]].sources.add("flow")
                break
    return hosts, flow_host


def _proxy_dns(bundle: dict[str, Any], info: Any, ip_host: dict[str, str]) -> None:
    """The proxy's ``dns_queries[]``: questions plus typed answers (CNAME = 5, A = 1, AAAA = 28)."""
    for rec in _dicts(bundle, "dns_queries"):
        answers = [a for a in rec.get("answers") or () if isinstance(a, dict)] if isinstance(rec.get("answers"), list) else []
        questions = [q for q in rec.get("questions") or () if isinstance(q, dict)] if isinstance(rec.get("questions"), list) else []
        aliases = {normalise_host(str(a.get("name"))): normalise_host(str(a.get("data"))) for a in answers if a.get("type") == 5}
        for question in questions:
            item = info(question.get("name"))
            if item is None:
                continue
            item.sources.add("dns")
            current = item.host
            seen: set[str] = set()
            while current in aliases and current not in seen and len(seen) < 16:
                seen.add(current)
                current = aliases[current]
                if current not in item.cnames:
                    item.cnames.append(current)
            for answer in answers:
                data = normalise_host(str(answer.get("data")))
                if answer.get("type") in (1, 28) and is_ip(data):
                    ip_host.setdefault(data, item.host)
            if rec.get("id") is not None:
                item.refs.add(("dns", str(rec["id"])))


@dataclass(frozen=True)
class HostInventory:
    """A bundle's hosts (:func:`collect_hosts`) and their resolutions (:func:`resolve`), made once for both
    attribution and the party sections (neither modifies them)."""

    hosts: dict[str, HostInfo]
    resolutions: dict[str, Resolution]


def host_inventory(bundle: dict[str, Any], emap: EntityMap) -> HostInventory:
    hosts, _ = collect_hosts(bundle)
    return HostInventory(hosts, {h: resolve(info, emap) for h, info in hosts.items()})


def resolve(item: HostInfo, emap: EntityMap) -> Resolution:
    """Entity of a host: a tracker behind a CNAME wins (cloaking), then the host, then its certificate."""
    domain = registrable_domain(item.host)
    own = emap.lookup(item.host)
    for target in reversed(item.cnames):
        entry = emap.lookup(target)
        if entry is not None and (own is None or entry.entity != own.entity) \
                and TRACKING_CATEGORIES & set(entry.categories):
            return Resolution(domain, entry.entity, entry, "cname", target)
    if own is not None:
        return Resolution(domain, own.entity, own, "host", None)
    network = emap.lookup_address(item.host)
    if network is not None:
        return Resolution(domain, network.entity, network, "network", None)
    for name in sorted(item.certificate_names):
        entry = emap.lookup(name.lstrip("*."))
        if entry is not None:
            return Resolution(domain, entry.entity, entry, "certificate", None)
    return Resolution(domain, None, None, "none", None)


@dataclass(frozen=True)
class FirstParty:
    """The vendor, as given by the claims file or --first-party."""

    entities: frozenset[str]
    """Entity names (lower-case) that are the first party."""
    domains: frozenset[str]
    """Registrable domains that are the first party even when no list names their entity."""

    def __bool__(self) -> bool:
        return bool(self.entities or self.domains)

    def contains(self, res: Resolution) -> bool | None:
        """True/False, or None when no first party was given (unknown)."""
        if not self:
            return None
        if res.entity is not None:  # a list naming another operator beats sharing the vendor's domain
            return res.entity.lower() in self.entities
        return res.domain in self.domains


def first_party_from(values: list[str], emap: EntityMap) -> FirstParty:
    """Interpret each value as an entity name (case-insensitive) or a domain / URL."""
    names = {n.lower(): n for n in emap.entity_names()}
    entities: set[str] = set()
    domains: set[str] = set()
    for raw in values:
        value = str(raw).strip()
        if not value:
            continue
        if value.lower() in names:
            entities.add(value.lower())
            continue
        host = value.split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        domains.add(registrable_domain(host))
        entry = emap.lookup(host)
        if entry is not None:
            entities.add(entry.entity.lower())
    return FirstParty(frozenset(entities), frozenset(domains))
