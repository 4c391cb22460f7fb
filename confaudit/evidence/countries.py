"""Countries from the auditor's offline country table, written into the bundle after telemetry (nothing is fetched).

Fills ``dst_country`` on flows, ``country`` on media path endpoints and ``countries`` on parties, and records the
table's provenance in ``country_table``. A public address the table has no country for gets ``null`` (named as not
located by the ``data_location`` check, never counted as allowed); a special-use address (loopback, private, CGNAT,
documentation ...) gets no field at all: it has no country. The lookup itself is
:mod:`confaudit.analysis.countries`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from confaudit.analysis.countries import CountryTable, locatable

if TYPE_CHECKING:
    from confaudit.evidence_model import CountryTableProvenance, Flow, MediaPathEndpoint, Party


def apply_country_table(bundle: dict[str, Any], table: CountryTable) -> None:
    """Locate every flow's dst, every media path endpoint and every party with ``table`` (replacing the fields a
    bundle located with another table carried)."""
    clear_countries(bundle)
    found: dict[str, str | None] = {}

    def locate(address: str) -> str | None:
        if address not in found:
            found[address] = table.country(address)
        return found[address]

    flow_country: dict[str, str | None] = {}
    for flow in _flows(bundle):
        dst = flow.get("dst")
        if isinstance(dst, str) and locatable(dst):
            flow["dst_country"] = locate(dst)
            if isinstance(flow.get("id"), str):
                flow_country[flow["id"]] = flow["dst_country"]
    for endpoint in _endpoints(bundle):
        address = endpoint.get("address")
        if isinstance(address, str) and locatable(address):
            endpoint["country"] = locate(address)
    flow_ids = {f["id"] for f in _flows(bundle) if isinstance(f.get("id"), str)}
    for party in _parties(bundle):
        flows = [f for f in party.get("flows") or [] if isinstance(f, str) and f in flow_ids]
        if flows:  # reached by packet flows: the countries of their dst addresses (none for unlocated ones)
            party["countries"] = sorted({c for f in flows if isinstance(c := flow_country.get(f), str)})
    provenance: CountryTableProvenance = {
        "path": table.path, "sha256": table.sha256, "rows": table.rows, "format": table.format,
        "located": sum(1 for c in found.values() if c is not None),
        "not_located": sum(1 for c in found.values() if c is None)}
    bundle["country_table"] = provenance


def clear_countries(bundle: dict[str, Any]) -> None:
    """Remove every field a country table wrote (a loaded bundle is located again with the table given now)."""
    bundle.pop("country_table", None)
    for flow in _flows(bundle):
        flow.pop("dst_country", None)
    for endpoint in _endpoints(bundle):
        endpoint.pop("country", None)
    for party in _parties(bundle):
        party.pop("countries", None)


def _dicts(value: object) -> Iterator[dict[str, Any]]:
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else iter(())


def _flows(bundle: dict[str, Any]) -> Iterator[Flow]:
    return cast("Iterator[Flow]", _dicts(bundle.get("flows")))


def _endpoints(bundle: dict[str, Any]) -> Iterator[MediaPathEndpoint]:
    path = bundle.get("media_path")
    return cast("Iterator[MediaPathEndpoint]", _dicts(path.get("endpoints") if isinstance(path, dict) else None))


def _parties(bundle: dict[str, Any]) -> Iterator[Party]:
    return cast("Iterator[Party]", _dicts(bundle.get("parties")))
