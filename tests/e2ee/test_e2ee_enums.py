"""The producers' Literal types (confaudit.e2ee.enums, confaudit.canary.detect) are the schema's enums.

mypy checks that every value a producer writes is one the model allows; this checks the other direction, so an
enum widened or narrowed in confaudit/evidence/schema/40-e2ee.json cannot leave a producer's type behind.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest

from confaudit.canary.detect import CanaryKind
from confaudit.e2ee import enums
from confaudit.evidence.schema import bundle_schema


def _enum(def_name: str, *keys: str) -> set[Any]:
    node = bundle_schema()["$defs"][def_name]
    for key in keys:
        node = node["properties"][key] if key != "items" else node["items"]
    if "$ref" in node:
        node = bundle_schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return {v for v in node["enum"] if v is not None}


@pytest.mark.parametrize(("alias", "def_name", "keys"), [
    (enums.Inner, "e2ee_stream", ("inner",)),
    (enums.StreamKind, "e2ee_stream", ("kind",)),
    (enums.Topology, "e2ee_stream", ("path",)),
    (enums.Topology, "e2ee_summary", ("paths", "items")),
    (enums.Conclusion, "e2ee_summary", ("conclusion",)),
    (enums.Keys, "e2ee_session", ("keys",)),
    (enums.DtlsVersion, "e2ee_session", ("version",)),
    (enums.ProfileSource, "e2ee_session", ("profile_source",)),
    (CanaryKind, "e2ee_canary", ("kind",)),
])
def test_literal_is_the_schema_enum(alias: Any, def_name: str, keys: tuple[str, ...]) -> None:
    assert set(get_args(alias)) == _enum(def_name, *keys)


def test_narrower_literals_are_inside_the_wider_ones() -> None:
    assert set(get_args(enums.Verdict)) == set(get_args(enums.Inner)) - {"not_observable"}
    assert set(get_args(enums.MediaKind)) == set(get_args(enums.StreamKind)) - {"unknown"}
    assert set(enums.MEDIA_KINDS) == set(get_args(enums.MediaKind))
    assert set(enums.DECIDED_TOPOLOGIES) == set(get_args(enums.Topology)) - {"unknown"}
    assert set(enums.DTLS_VERSIONS) == set(get_args(enums.DtlsVersion))


def test_member_and_one_of() -> None:
    assert enums.member("video", enums.MEDIA_KINDS) == "video"
    assert enums.member("unknown", enums.MEDIA_KINDS) is None
    assert enums.member(None, enums.MEDIA_KINDS) is None
    assert enums.one_of(["audio"], enums.MEDIA_KINDS, "unknown") == "unknown"
    assert enums.one_of("DTLS 1.0 (pre-RFC 0x0100)", enums.DTLS_VERSIONS, "DTLS 1.2") == "DTLS 1.2"
