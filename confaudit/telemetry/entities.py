"""Entity maps: which company operates a domain, from the built-in map and user-supplied lists.

Formats accepted: confaudit's ``{name, licence, entities: [{entity, domains, networks?, categories, source}]}``
(``networks``: CIDR blocks the entity publishes, e.g. Microsoft's Teams media ranges),
Disconnect's ``services.json`` (``{license?, categories: {Cat: [{Entity: {url: [domains]}}]}}``) and
DuckDuckGo's entity map (``{Entity: {properties: [...], resources: [...]}}``). Later lists override
earlier ones; the longest matching domain suffix (or network prefix) wins. Registrable domains come
from the Public Suffix List shipped inside ``publicsuffixlist`` (no network). Special-use names
(``.local``, ``.arpa``, ``.localhost``, ``.invalid``, private-network suffixes, single labels, DNS-SD
service names) never name a party: :func:`special_use_name` says why.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from confaudit.errors import InputError

MAX_ENTRIES = 200_000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EntityList:
    """Provenance of one entity map."""

    name: str
    """List name (from the file, else its file name)."""
    licence: str
    """Licence declared by the list (``unknown`` when it declares none)."""
    source: str
    """``builtin`` or the path given by the user."""
    sha256: str
    """Hash of the list file's bytes."""
    entries: int
    """Number of domain and network entries read."""


@dataclass(frozen=True)
class EntityEntry:
    """One domain -> entity fact."""

    domain: str
    """Domain suffix (lower-case, no leading dot), or the CIDR network of an address entry."""
    entity: str
    """Company / organisation name."""
    categories: tuple[str, ...]
    """Service categories (video_vendor, cdn, relay, analytics, advertising, error_reporting, telemetry, social...)."""
    source: str
    """Public fact backing the entry."""
    list_name: str
    """Name of the list it came from."""
    licence: str
    """Licence of that list."""


class EntityMap:
    """Domain-suffix index over one or more lists."""

    def __init__(self) -> None:
        self._by_domain: dict[str, EntityEntry] = {}
        self._networks: dict[Network, EntityEntry] = {}
        self._address_cache: dict[str, EntityEntry | None] = {}
        self.lists: list[EntityList] = []

    def add(self, meta: EntityList, entries: list[EntityEntry]) -> None:
        self.lists.append(meta)
        self._address_cache.clear()
        for entry in entries:
            if "/" in entry.domain:
                self._networks[ipaddress.ip_network(entry.domain)] = entry
            else:
                self._by_domain[entry.domain] = entry

    def lookup(self, host: str) -> EntityEntry | None:
        """The entry for the longest suffix of ``host`` present in the map."""
        labels = normalise_host(host).split(".")
        for i in range(len(labels)):
            entry = self._by_domain.get(".".join(labels[i:]))
            if entry is not None:
                return entry
        return None

    def lookup_address(self, address: str) -> EntityEntry | None:
        """The entry of the longest network prefix containing ``address`` (None for names and unknown addresses)."""
        key = normalise_host(address).split("%")[0]
        if key in self._address_cache:
            return self._address_cache[key]
        try:
            ip = ipaddress.ip_address(key)
        except ValueError:
            return None
        found = max(((net, e) for net, e in self._networks.items() if net.version == ip.version and ip in net),
                    key=lambda pair: pair[0].prefixlen, default=(None, None))[1]
        if len(self._address_cache) < 100_000:
            self._address_cache[key] = found
        return found

    def entity_names(self) -> set[str]:
        return {e.entity for e in self._by_domain.values()}

    def domains_of(self, entity: str) -> list[str]:
        low = entity.lower()
        return sorted(d for d, e in self._by_domain.items() if e.entity.lower() == low)


def normalise_host(host: str) -> str:
    """Lower-case, without surrounding blanks, trailing dot or IPv6 brackets ('' for a missing or empty value).

    Brackets come off an IPv6 literal only (``[::1]``, ``[::1]:443``): a captured ``Host: [vendor.example]x.test``
    is kept whole, never read as the vendor's host."""
    return _normalised(host) if type(host) is str else _normalised(str(host or ""))


@lru_cache(maxsize=65536)  # every record of a host names it again: hundreds of thousands of calls, few hosts
def _normalised(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and "]" in host:
        inside, _, after = host[1:].partition("]")
        if _ipv6_literal(inside) and (not after or (after[0] == ":" and after[1:].isdigit())):
            return inside
    return host


def _ipv6_literal(text: str) -> bool:
    import ipaddress

    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


# RFC 6761 / 6762 / 8375 special-use and private-use suffixes: such a name never leaves the local network.
_SPECIAL_SUFFIXES = {
    "local": "an mDNS name on the local link (RFC 6762)",
    "localhost": "a loopback name (RFC 6761 section 6.3)",
    "invalid": "a name that cannot exist (RFC 6761 section 6.4)",
    "home.arpa": "a home-network name (RFC 8375)",
    "arpa": "a reverse-lookup name that stands for an address (RFC 3172)",
}
_PRIVATE_TLDS = frozenset({"lan", "home", "internal", "intranet", "private", "corp"})


@lru_cache(maxsize=65536)
def special_use_name(host: str) -> str | None:
    """Why ``host`` can never name a party (mDNS, reverse lookups, private suffixes ...), or None for a real name."""
    name = normalise_host(host)
    if not name or is_ip(name):
        return None
    labels = name.split(".")
    if labels[0].startswith("_") or "_tcp" in labels or "_udp" in labels:
        return "a DNS service-discovery name (RFC 6763), not a host"
    for suffix, why in _SPECIAL_SUFFIXES.items():
        if name == suffix or name.endswith("." + suffix):
            return why
    if len(labels) == 1:
        return "a single-label name, not an Internet host name"
    if labels[-1] in _PRIVATE_TLDS:
        return f"a private local-network name (.{labels[-1]}, RFC 6762 appendix G)"
    return None


@lru_cache(maxsize=65536)
def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(normalise_host(host).split("%")[0])
        return True
    except ValueError:
        return False


@lru_cache(maxsize=1)
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """eTLD+1 of ``host`` from the offline Public Suffix List; IPs and bare suffixes come back as is."""
    name = normalise_host(host)
    if not name or is_ip(name):
        return name
    try:
        found = _psl().privatesuffix(name)
    except Exception:  # noqa: BLE001 - malformed hostnames from hostile traffic: fall back to the name
        found = None
    return found or name


def load_entity_maps(user_lists: list[Path]) -> EntityMap:
    """The built-in map plus each user list (InputError for unreadable or malformed lists)."""
    emap = EntityMap()
    raw = resources.files("confaudit.telemetry").joinpath("data", "entities.json").read_bytes()
    emap.add(*parse_list(_strict_json(raw, "builtin"), "builtin", raw, "confaudit-builtin"))
    for path in user_lists:
        from confaudit.jsonio import load_json_file

        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(path, exc.strerror or "cannot read entity list") from None
        doc = load_json_file(path)
        emap.add(*parse_list(doc, str(path), data, Path(path).stem))
    return emap


def _strict_json(raw: bytes, source: str) -> Any:
    from confaudit.jsonio import loads_strict

    return loads_strict(raw.decode("utf-8"), source)


def parse_list(doc: Any, source: str, raw: bytes, default_name: str) -> tuple[EntityList, list[EntityEntry]]:
    """Parse any accepted list shape into entries; InputError naming the problem otherwise."""
    if not isinstance(doc, dict):
        raise InputError(source, "entity list must be a JSON object")
    name = str(doc.get("name") or default_name)[:200]
    licence = str(doc.get("licence") or doc.get("license") or "unknown")[:200]
    if isinstance(doc.get("entities"), list):
        entries = _confaudit_shape(doc["entities"], source, name, licence)
    elif isinstance(doc.get("categories"), dict):
        entries = _disconnect_shape(doc["categories"], source, name, licence)
    elif any(isinstance(v, dict) for v in doc.values()) and all(
            isinstance(v, dict) and ("properties" in v or "resources" in v) for v in doc.values() if not isinstance(v, str)):
        entries = _duckduckgo_shape(doc, source, name, licence)
    else:
        raise InputError(source, "entity list has no 'entities' array (nor Disconnect 'categories' / DuckDuckGo entity map)")
    meta = EntityList(name, licence, source, hashlib.sha256(raw).hexdigest(), len(entries))
    return meta, entries


def _domain(value: Any, source: str) -> str:
    dom = normalise_host(str(value)).lstrip("*.").lstrip(".")
    if not dom or len(dom) > 253 or any(c.isspace() or c in "/:@" for c in dom):
        raise InputError(source, f"entity list has an invalid domain {str(value)[:80]!r}")
    return dom


def _network(value: Any, source: str) -> str:
    try:
        return str(ipaddress.ip_network(str(value).strip(), strict=False))
    except ValueError:
        raise InputError(source, f"entity list has an invalid network {str(value)[:80]!r}") from None


def _check_size(count: int, source: str) -> None:
    if count > MAX_ENTRIES:
        raise InputError(source, f"entity list has more than {MAX_ENTRIES} domains and networks")


def _confaudit_shape(items: list[Any], source: str, name: str, licence: str) -> list[EntityEntry]:
    out: list[EntityEntry] = []
    for index, item in enumerate(items):
        networks = item.get("networks", []) if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("entity"), str) \
                or not isinstance(item.get("domains"), list) or not isinstance(networks, list):
            raise InputError(source, f"entity list entry {index} needs 'entity' (string), 'domains' (list) "
                             "and optionally 'networks' (list)")
        cats = tuple(str(c) for c in item.get("categories") or () if isinstance(c, str))
        keys = [_domain(dom, source) for dom in item["domains"]] + [_network(net, source) for net in networks]
        for key in keys:
            out.append(EntityEntry(key, item["entity"][:200], cats, str(item.get("source") or "")[:500], name, licence))
        _check_size(len(out), source)
    return out


def _disconnect_shape(categories: dict[str, Any], source: str, name: str, licence: str) -> list[EntityEntry]:
    out: list[EntityEntry] = []
    for category, services in categories.items():
        for service in services if isinstance(services, list) else ():
            if not isinstance(service, dict):
                continue
            for entity, sites in service.items():
                if not isinstance(sites, dict):
                    continue
                for homepage, domains in sites.items():
                    if not isinstance(domains, list):
                        continue
                    for dom in domains:
                        if isinstance(dom, str):
                            out.append(EntityEntry(_domain(dom, source), str(entity)[:200],
                                                   (str(category).lower(),), str(homepage)[:500], name, licence))
            _check_size(len(out), source)
    return out


def _duckduckgo_shape(doc: dict[str, Any], source: str, name: str, licence: str) -> list[EntityEntry]:
    out: list[EntityEntry] = []
    for entity, info in doc.items():
        if not isinstance(info, dict):
            continue
        domains = list(info.get("properties") or ()) + list(info.get("resources") or ())
        for dom in domains:
            if isinstance(dom, str):
                out.append(EntityEntry(_domain(dom, source), str(entity)[:200], (), "", name, licence))
        _check_size(len(out), source)
    return out
