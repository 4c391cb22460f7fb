"""The converters' observation records (session.records) are the bundle's records before the import numbers them.

``importers.http_sources.http_side_sections`` turns each observation record into its section's record in place
and tells mypy so with a cast: these tests are what proves that cast. Every field an observation keeps must be
the schema's field of that name with the schema's type, and every field the schema requires must be one the
converter always writes or one the import adds.
"""

from __future__ import annotations

import typing

import pytest

from confaudit import evidence_model as model
from confaudit.session import records

CASES = [
    # (observation record, the bundle record it becomes, keys the import takes away, keys it adds)
    (records.HttpObservation, model.HttpExchange, {"kind", "flow_uuid"}, {"id"}),
    (records.WebSocketObservation, model.WebSocketMessage, {"kind", "http_uuid"}, {"id", "http_id", "flow"}),
    (records.ClientHelloObservation, model.ClientHello, {"kind"}, {"id"}),
    (records.UdpFlowObservation, model.ProxyUdpFlow, {"kind"}, {"id"}),
    (records.DnsObservation, model.DnsQuery, {"kind"}, {"id"}),
]


def _hints(cls: type, include_extras: bool = False) -> dict[str, object]:
    # records.py names the model's types for mypy only (TYPE_CHECKING): resolve them in the model's namespace
    return typing.get_type_hints(cls, localns={**vars(model), **vars(records)}, include_extras=include_extras)


def _required(cls: type) -> set[str]:
    """Keys without NotRequired (``__required_keys__`` cannot tell under ``from __future__ import annotations``)."""
    return {key for key, hint in _hints(cls, include_extras=True).items() if typing.get_origin(hint) is not typing.NotRequired}


@pytest.mark.parametrize(("observation", "bundle_record", "removed", "added"), CASES,
                         ids=[case[0].__name__ for case in CASES])
def test_an_observation_record_becomes_its_bundle_record(observation: type, bundle_record: type, removed: set[str],
                                                         added: set[str]) -> None:
    seen, schema = _hints(observation), _hints(bundle_record)
    assert removed <= set(seen) and not added & set(seen)
    kept = {key: hint for key, hint in seen.items() if key not in removed}
    assert set(kept) - set(schema) == set(), "the converter writes a field the schema does not have"
    assert {key: hint for key, hint in kept.items() if hint != schema[key]} == {}, "a field's type differs from the schema's"
    assert added <= set(schema)
    assert _required(bundle_record) - (_required(observation) - removed) - added == set(), \
        "a required field the converter may leave out"


def test_the_kinds_are_the_importers_sections() -> None:
    from confaudit.importers.http_sources import _SECTIONS

    kinds = {typing.get_args(_hints(observation)["kind"])[0] for observation, *_ in CASES}
    assert kinds == set(_SECTIONS)
