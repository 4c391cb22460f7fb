"""Whose name is it: the role of one host name (or address) given the first party, the background list,
and what the vendor's pages requested. Pure and memoised; reasons are sentences a reader can check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from confaudit.telemetry.background import BackgroundList, local_address
from confaudit.telemetry.entities import EntityMap, is_ip, normalise_host, special_use_name

if TYPE_CHECKING:
    from confaudit.evidence_model import Attribution as AttributionRecord

Role = Literal["vendor", "third_party_of_vendor", "unknown", "background"]
"""Whose traffic a record is (the schema's ``telemetry_attribution.role``)."""
ROLES: tuple[Role, ...] = ("vendor", "third_party_of_vendor", "unknown", "background")
"""Attribution roles, closest to the vendor first."""
_RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
MAX_REASONS = 4


@dataclass(frozen=True)
class Attribution:
    """Whose traffic a record is, and why."""

    role: Role
    """vendor | third_party_of_vendor | background | unknown."""
    reasons: tuple[str, ...]
    """Short sentences a reader can check against the evidence and the cited lists."""

    def to_dict(self) -> AttributionRecord:
        record: AttributionRecord = {"role": self.role, "reasons": list(self.reasons[:MAX_REASONS])}
        return record

    def because(self, *more: str) -> Attribution:
        """The same role with extra reasons appended (deduplicated, capped)."""
        return Attribution(self.role, tuple(dict.fromkeys(self.reasons + more))[:MAX_REASONS])


def rank(role: str) -> int:
    return _RANK.get(role, _RANK["unknown"])


def closest(items: Iterable[Attribution | None]) -> Attribution | None:
    """The attribution closest to the vendor among ``items`` (vendor, then third party of the vendor, unknown, background)."""
    best: Attribution | None = None
    for item in items:
        if item is not None and (best is None or rank(item.role) < rank(best.role)):
            best = item
    return best


def informative(items: Iterable[Attribution | None]) -> Attribution | None:
    """Several names of one endpoint: a positive role (vendor, its third party, background) beats 'unknown'."""
    found = [i for i in items if i is not None]
    known = [i for i in found if i.role != "unknown"]
    return closest(known) or closest(found)


@dataclass(frozen=True)
class VendorNames:
    """The first party: domain patterns (matched with their subdomains) and entity names."""

    domains: frozenset[str]
    """Host-name suffixes, as given (not reduced to registrable domains)."""
    entities: frozenset[str]
    """Entity names, lower-case."""

    def __bool__(self) -> bool:
        return bool(self.domains or self.entities)

    def listing(self) -> list[str]:
        return sorted(self.domains) + sorted(self.entities)

    def match(self, host: str, entity: str | None, cloaked: bool) -> tuple[str, int] | None:
        """(why, how many labels the matching pattern has; 0 for an entity match) or None."""
        if not cloaked:  # a CNAME to another company's tracker under the vendor's name is that company's
            labels = host.split(".")
            for i in range(len(labels)):
                suffix = ".".join(labels[i:])
                if suffix in self.domains:
                    return f"is under {suffix}, named as first party", suffix.count(".") + 1
        if entity is not None and entity.lower() in self.entities:
            return f"belongs to {entity}, the first party", 0
        return None


def vendor_names(values: Iterable[str], emap: EntityMap, parties: Iterable[Mapping[str, object]] = ()) -> VendorNames:
    """First-party values (entity names, domains, URLs) plus parties already marked first party."""
    known = {n.lower(): n for n in emap.entity_names()}
    domains: set[str] = set()
    entities: set[str] = set()
    for raw in values:
        value = str(raw).strip()
        if not value:
            continue
        if value.lower() in known:
            entities.add(value.lower())
            continue
        host = value.split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
        host = normalise_host(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
        if not host or any(ch.isspace() for ch in host):
            continue
        domains.add(host)
        entry = emap.lookup(host)
        if entry is not None:
            entities.add(entry.entity.lower())
    for party in parties:
        if party.get("first_party") is True:
            domain, entity = party.get("domain"), party.get("entity")
            if isinstance(domain, str) and domain:
                domains.add(normalise_host(domain))
            if isinstance(entity, str) and entity:
                entities.add(entity.lower())
    return VendorNames(frozenset(domains), frozenset(entities))


class Namer:
    """The role of a host name or address; ``requested``/``unrelated`` come from the HTTP initiators."""

    def __init__(self, vendor: VendorNames, background: BackgroundList, emap: EntityMap,
                 entities: Mapping[str, tuple[str | None, bool]]) -> None:
        self.vendor = vendor
        self.background = background
        self.emap = emap
        self.entities = entities
        self.requested: dict[str, str] = {}
        """host -> why: hosts the vendor's pages requested (third parties of the vendor)."""
        self.unrelated: dict[str, str] = {}
        """host -> why: hosts only pages other than the vendor's requested."""
        self._memo: dict[tuple[str, str, bool], Attribution] = {}

    def entity(self, host: str) -> tuple[str | None, bool]:
        if host in self.entities:
            return self.entities[host]
        entry = self.emap.lookup(host) or (self.emap.lookup_address(host) if is_ip(host) else None)
        return (entry.entity if entry else None), False

    def base(self, name: str, what: str) -> Attribution:
        """Role from the name alone: special-use, first party, background list, else unknown."""
        return self._role(name, what, with_requests=False)

    def full(self, name: str, what: str) -> Attribution:
        """Role from the name plus what the vendor's and other pages requested."""
        return self._role(name, what, with_requests=True)

    def _role(self, name: str, what: str, with_requests: bool) -> Attribution:
        host = normalise_host(name)
        key = (host, what, with_requests)
        if key not in self._memo:
            self._memo[key] = self._decide(host, what, with_requests)
        return self._memo[key]

    def _decide(self, host: str, what: str, with_requests: bool) -> Attribution:
        label = f"{what} {host}"
        special = special_use_name(host)
        if special:
            return Attribution("background", (f"{label} is {special}; never a party",))
        if is_ip(host):
            return self.address(host, label)
        entity, cloaked = self.entity(host)
        own = self.vendor.match(host, entity, cloaked)
        listed = self.background.match_host(host)
        if own is not None and (listed is None or own[1] >= listed.labels):
            return Attribution("vendor", (f"{label} {own[0]}",))
        if with_requests and host in self.requested:
            return Attribution("third_party_of_vendor", (f"{label} {self.requested[host]}",))
        if listed is not None:
            service = listed.service
            return Attribution("background", (f"{label} is {service.operator}'s {service.service} ({service.cite()})",))
        if with_requests and host in self.unrelated:
            return Attribution("background", (f"{label} {self.unrelated[host]}",))
        owner = f"belongs to {entity}, not the first party," if entity else "is on no entity list"
        return Attribution("unknown", (f"{label} {owner} and nothing ties it to the vendor's app or pages",))

    def address(self, address: str, label: str) -> Attribution:
        """Role of a bare address: the vendor's published range, a local address, another range, or unknown."""
        entry = self.emap.lookup_address(address)
        if entry is not None and self.vendor.match(address, entry.entity, False) is not None:
            return Attribution("vendor", (f"{label} is in {entry.entity}'s published range {entry.domain}, the first party",))
        local = local_address(address)
        if local is not None:
            return Attribution("background", (f"{label}: {local}",))
        if entry is not None:
            return Attribution("unknown", (f"{label} is in {entry.entity}'s published range {entry.domain}, not the first "
                                           "party, and nothing ties it to the vendor's app",))
        return Attribution("unknown", (f"{label} has no name and is in no published range of a known operator",))
