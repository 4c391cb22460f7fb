"""Countries from the auditor's offline country table, written into the bundle after telemetry (nothing is fetched).

Fills ``dst_country`` on flows, ``country`` on media path endpoints, ``server_country`` on http records (their
``server.ip``: a party seen only through the proxy or a HAR) and ``countries`` on parties, and records the table's
provenance in ``country_table``. A public address the table has no country for gets ``null`` (named as not
located by the ``data_location`` check, never counted as allowed); a special-use address (loopback, private, CGNAT,
documentation ...) gets no field at all: it has no country. The lookup itself is
:mod:`confaudit.analysis.countries`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from confaudit.analysis.countries import CountryTable, locatable
from confaudit.telemetry.entities import normalise_host

if TYPE_CHECKING:
    from confaudit.evidence_model import CountryTableProvenance, Flow, HttpExchange, MediaPathEndpoint, Party


def apply_country_table(bundle: dict[str, Any], table: CountryTable) -> None:
    """Locate every flow's dst, every media path endpoint, every http record's server and every party with
    ``table`` (replacing the fields a bundle located with another table carried)."""
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
    host_countries: dict[str, set[str | None]] = {}  # http host (as telemetry names a party's hosts) -> countries
    for exchange in _exchanges(bundle):
        server = exchange.get("server")
        ip = server.get("ip") if isinstance(server, dict) else None
        if isinstance(ip, str) and locatable(ip):
            exchange["server_country"] = locate(ip)
            if isinstance(host := exchange.get("host"), str):
                host_countries.setdefault(normalise_host(host), set()).add(exchange["server_country"])
    flow_ids = {f["id"] for f in _flows(bundle) if isinstance(f.get("id"), str)}
    for party in _parties(bundle):
        flows = [f for f in party.get("flows") or [] if isinstance(f, str) and f in flow_ids]
        # requests are attributed to a party by their host (confaudit.telemetry.party_sections): its hosts
        hosts = [h for h in party.get("hosts") or [] if isinstance(h, str) and h in host_countries]
        if flows or hosts:  # reached by packet flows or http exchanges: their countries (none for unlocated ones)
            party["countries"] = sorted({c for f in flows if isinstance(c := flow_country.get(f), str)}
                                        | {c for h in hosts for c in host_countries[h] if isinstance(c, str)})
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
    for exchange in _exchanges(bundle):
        exchange.pop("server_country", None)
    for party in _parties(bundle):
        party.pop("countries", None)


def _dicts(value: object) -> Iterator[dict[str, Any]]:
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else iter(())


def _flows(bundle: dict[str, Any]) -> Iterator[Flow]:
    return cast("Iterator[Flow]", _dicts(bundle.get("flows")))


def _endpoints(bundle: dict[str, Any]) -> Iterator[MediaPathEndpoint]:
    path = bundle.get("media_path")
    return cast("Iterator[MediaPathEndpoint]", _dicts(path.get("endpoints") if isinstance(path, dict) else None))


def _exchanges(bundle: dict[str, Any]) -> Iterator[HttpExchange]:
    return cast("Iterator[HttpExchange]", _dicts(bundle.get("http")))


def _parties(bundle: dict[str, Any]) -> Iterator[Party]:
    return cast("Iterator[Party]", _dicts(bundle.get("parties")))
