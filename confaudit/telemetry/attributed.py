"""Write attributions into a bundle (evidence build) or into a copy of it (check time, when the claims file
names more of the vendor). At check time a stored attribution closer to the vendor is kept: recomputing
with the built-in lists only must never make evidence the build attributed to the vendor go away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from confaudit.telemetry.attribution import SECTIONS, Result, attribute, summary
from confaudit.telemetry.entities import EntityMap
from confaudit.telemetry.names import ROLES, Attribution, Role, closest, rank, vendor_names

if TYPE_CHECKING:
    from confaudit.evidence_model import Attribution as AttributionRecord


def apply_records(bundle: dict[str, Any], result: Result) -> None:
    """Set ``attribution`` on every record of the attributed sections, in place. Records with equal
    attributions share one (never modified) dict: 100,000 requests to a few hosts need a few dicts."""
    shared: dict[Attribution, AttributionRecord] = {}
    for section in SECTIONS:
        raw = bundle.get(section)
        for rec, attribution in zip(raw if isinstance(raw, list) else (), result.records.get(section, ())):
            if isinstance(rec, dict) and attribution is not None:
                rec["attribution"] = shared.get(attribution) or shared.setdefault(attribution, attribution.to_dict())


def party_attribution(party: Mapping[str, Any], result: Result) -> Attribution | None:
    """The first party is the vendor; any other party is as close to the vendor as the closest of its hosts."""
    if party.get("first_party") is True:
        return Attribution("vendor", (f"party {party.get('domain')} is the first party",))
    raw_hosts = party.get("hosts")
    hosts: list[object] = raw_hosts if isinstance(raw_hosts, list) else []
    return closest(result.host_role(h) for h in hosts[:200] if isinstance(h, str))


def flow_refs(refs: Any) -> list[tuple[str, str]]:
    """(kind, id) pairs of a data flow's evidence references."""
    return [(str(r["kind"]), str(r["id"])) for r in refs if isinstance(r, Mapping) and "kind" in r and "id" in r] \
        if isinstance(refs, list) else []


def stored(value: Any) -> Attribution | None:
    """A record's existing ``attribution`` when well formed."""
    if isinstance(value, Mapping) and value.get("role") in ROLES:
        raw_reasons = value.get("reasons")
        reasons: list[object] = raw_reasons if isinstance(raw_reasons, list) else []
        return Attribution(cast("Role", str(value["role"])), tuple(str(r) for r in reasons))  # one of ROLES: checked above
    return None


def _merged(rec: Mapping[str, Any], new: Attribution | None) -> Mapping[str, Any]:
    """``rec`` with the closer of its stored and its new attribution; ``rec`` itself when that changes nothing
    (the usual case: a copy of each of 100,000 records would double the memory a check needs)."""
    merged = _merged_value(rec.get("attribution"), new)
    return rec if merged is None else dict(rec, attribution=merged)


def _merged_value(value: Any, new: Attribution | None) -> AttributionRecord | None:
    """The attribution :func:`_merged` gives a record whose stored one is ``value``; None to keep the record."""
    old = stored(value)
    best = old if old is not None and (new is None or rank(old.role) < rank(new.role)) else new
    if best is None:
        return None
    merged = best.to_dict()
    return None if value == merged else merged


_NOTHING = object()


class _Merger:
    """:func:`_merged` for the records of a bundle, each pair of (stored, new) attribution objects worked out
    once: the evidence build gives every record of a host one shared attribution dict and ``attribute`` one
    shared Attribution, so 100,000 records ask a few questions many times. Both objects are held with their
    answer (their ids cannot be reused)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], tuple[Any, Attribution | None, AttributionRecord | None]] = {}
        self._last: tuple[Any, Attribution | None, AttributionRecord | None] = (_NOTHING, None, None)

    def __call__(self, rec: Mapping[str, Any], new: Attribution | None) -> Mapping[str, Any]:
        value = rec.get("attribution")
        found = self._last  # neighbouring records mostly ask the same
        if found[0] is not value or found[1] is not new:
            key = (id(value), id(new))
            known = self._memo.get(key)
            if known is None or known[0] is not value or known[1] is not new:
                if len(self._memo) >= self.LIMIT:
                    self._memo.clear()
                known = self._memo[key] = (value, new, _merged_value(value, new))
            found = self._last = known
        merged = found[2]
        return rec if merged is None else dict(rec, attribution=merged)


@lru_cache(maxsize=1)
def builtin_entities() -> EntityMap:
    from confaudit.telemetry.entities import load_entity_maps

    return load_entity_maps([])


def attributed_view(bundle: Mapping[str, Any], first_party: Iterable[str]) -> dict[str, Any]:
    """A shallow copy of ``bundle`` whose records, parties and data flows carry attributions.

    First-party names: ``first_party`` (the claims file) and parties already marked first party. (A session
    manifest's ``first_party`` names are applied when the bundle is built; the bundle's ``session`` section
    does not carry them.)
    """
    parties = [p for p in bundle.get("parties") or () if isinstance(p, Mapping)] if isinstance(bundle.get("parties"), list) else []
    emap = builtin_entities()
    vendor = vendor_names(list(first_party), emap, parties)
    result = attribute(bundle, vendor, emap)
    view = dict(bundle)
    merged = _Merger()
    for section in SECTIONS:
        raw = bundle.get(section)
        if isinstance(raw, list):
            view[section] = [merged(rec, a) if type(rec) is dict or isinstance(rec, Mapping) else rec
                             for rec, a in zip(raw, result.records.get(section, [None] * len(raw)))]
    if isinstance(bundle.get("parties"), list):
        view["parties"] = [_merged(p, party_attribution(p, result)) if isinstance(p, Mapping) else p
                           for p in bundle["parties"]]
    if isinstance(bundle.get("data_flows"), list):
        view["data_flows"] = [_merged(d, result.of_refs(flow_refs(d.get("evidence")))) if isinstance(d, Mapping) else d
                              for d in bundle["data_flows"]]
    view["traffic_attribution"] = summary(result, vendor)
    return view
