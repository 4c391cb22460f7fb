"""Countries in the bundle (confaudit.evidence.countries) on a real capture, located with a small table written by
hand: flows' dst_country, media path endpoints' country, parties' countries and the country_table provenance; and a
bundle built without a table carries none of them."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from confaudit.errors import InputError
from confaudit.evidence.build import build_evidence
from confaudit.evidence.schema import validate_bundle
from confaudit.redact import Redactor

CAPTURE = "stun.pcap"
"""Nine flows to Google, Facebook's TURN servers, an AWS host, a Zoom relay and two IPv6 peers, one flow between
private addresses, three named parties and a media path through a Google server (36 KB, see ../shared/captures)."""

# Covers Google's 74.125/16 and 142.250/15, Facebook's 31.13.64/18 and one IPv6 /32; leaves the AWS host
# 54.1.57.155, the Zoom relay 134.224.90.111 and the IPv6 peer 2a38:e156:... uncovered.
CSV = "network,country\n74.125.0.0/16,US\n142.250.0.0/15,US\n31.13.64.0/18,IE\n2001:b07::/32,IT\n"
RIR = ("2|test|20240101|4|19830705|20240101|+0000\n"
       "test|*|ipv4|*|3|summary\n"
       "arin|US|ipv4|74.125.0.0|65536|20070213|allocated\n"
       "arin|US|ipv4|142.250.0.0|131072|20120518|allocated\n"
       "ripencc|IE|ipv4|31.13.64.0|16384|20110513|allocated\n"
       "ripencc|IT|ipv6|2001:b07::|32|20050826|allocated\n")

EXPECTED_FLOWS = {"f1": "absent",  # 10.77.110.51 -> 10.206.50.239: private, no country
                  "f2": "US", "f3": "US", "f4": None, "f5": "IE", "f6": None, "f7": "US", "f8": None, "f9": "IT"}
COUNTRY_FIELDS = ("dst_country", "country", "countries")


@pytest.fixture
def plain(shared_captures: Path) -> dict[str, Any]:
    return json.loads(json.dumps(build_evidence([shared_captures / CAPTURE], redactor=Redactor.default())))


def _build(shared_captures: Path, tmp_path: Path, text: str, name: str = "countries.csv") -> dict[str, Any]:
    table = tmp_path / name
    table.write_text(text, encoding="utf-8")
    bundle = build_evidence([shared_captures / CAPTURE], country_table=table, redactor=Redactor.default())
    return json.loads(json.dumps(bundle))


def _fields(bundle: dict[str, Any]) -> dict[str, Any]:
    return {"flows": {f["id"]: (f["dst"], f.get("dst_country", "absent")) for f in bundle["flows"]},
            "endpoints": sorted((e["address"], e["role"], e.get("country", "absent")) for e in bundle["media_path"]["endpoints"]),
            "parties": {p["domain"]: p.get("countries", "absent") for p in bundle["parties"]}}


def _without_countries(bundle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out.pop("country_table", None)
    for record in out["flows"] + out["media_path"]["endpoints"] + out["parties"]:
        for key in COUNTRY_FIELDS:
            record.pop(key, None)
    return out


@pytest.mark.parametrize(("text", "fmt", "rows"), [(CSV, "csv", 4), (RIR, "rir-delegated", 4)])
def test_a_real_capture_located_with_a_hand_written_table(shared_captures: Path, tmp_path: Path, plain: dict[str, Any],
                                                         text: str, fmt: str, rows: int) -> None:
    bundle = _build(shared_captures, tmp_path, text)
    fields = _fields(bundle)
    assert {fid: country for fid, (_dst, country) in fields["flows"].items()} == EXPECTED_FLOWS
    assert fields["flows"]["f4"][0] == "2a38:e156:8167:a333:face:b00c:0:24d9"  # public IPv6, not in the table: null
    assert fields["endpoints"] == [("142.250.82.99", "server", "US"), ("192.168.12.169", "client", "absent")]
    # the sorted distinct countries of the flows each party was reached at; apps-host.com's one address is not located
    assert fields["parties"] == {"apps-host.com": [], "google.com": ["US"], "turner.facebook": ["IE"]}
    assert bundle["country_table"] == {"path": str(tmp_path / "countries.csv"), "format": fmt, "rows": rows,
                                       "sha256": hashlib.sha256(text.encode()).hexdigest(), "located": 4, "not_located": 3}
    assert validate_bundle(bundle) == []
    # the table adds its fields and changes nothing else
    assert _without_countries(bundle) == plain


def test_without_a_table_no_record_carries_a_country(plain: dict[str, Any]) -> None:
    assert "country_table" not in plain
    records = plain["flows"] + plain["media_path"]["endpoints"] + plain["parties"]
    assert records and not [r for r in records if set(COUNTRY_FIELDS) & set(r)]


def test_an_evidence_json_is_located_again_with_the_table_given_now(shared_captures: Path, tmp_path: Path) -> None:
    first = tmp_path / "bundle.json"
    first.write_text(json.dumps(_build(shared_captures, tmp_path, CSV)), encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text("74.125.0.0/16,DE\n", encoding="utf-8")
    again = json.loads(json.dumps(build_evidence([first], country_table=other, redactor=Redactor.default())))
    assert again["country_table"]["path"] == str(other) and again["country_table"]["rows"] == 1
    flows = {f["id"]: f.get("dst_country", "absent") for f in again["flows"]}
    # nothing of the first table is left: what the new one does not cover is null
    assert flows == {**{k: None if v != "absent" else v for k, v in EXPECTED_FLOWS.items()}, "f2": "DE", "f3": "DE"}
    assert {p["domain"]: p["countries"] for p in again["parties"]}["turner.facebook"] == []
    kept = json.loads(json.dumps(build_evidence([first], redactor=Redactor.default())))  # no table now: as written
    assert kept["country_table"]["path"] == str(tmp_path / "countries.csv")


def test_a_bad_table_fails_before_any_analysis(shared_captures: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import confaudit.analysis.packet_side as packet_side

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the capture was analysed before the table was read")

    monkeypatch.setattr(packet_side, "analyze_captures", never)
    table = tmp_path / "bad.csv"
    table.write_text("network,country\n74.125.0.0/16,USA\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"^{table}:2: country 'USA' is not an ISO 3166-1 alpha-2 code"):
        build_evidence([shared_captures / CAPTURE], country_table=table, redactor=Redactor.default())


def test_parties_without_packet_flows_carry_no_countries(tmp_path: Path) -> None:
    """A party seen only through the proxy or a HAR has no address in the bundle to locate: no countries, rather
    than an empty list that would read as 'reached nowhere'."""
    from confaudit.analysis.countries import load_country_table
    from confaudit.evidence.countries import apply_country_table

    table = tmp_path / "t.csv"
    table.write_text("8.8.8.0/24,US\n", encoding="utf-8")
    bundle: dict[str, Any] = {
        "flows": [{"id": "f1", "dst": "8.8.8.8"}, {"id": "f2", "dst": "::ffff:8.8.8.9"}, {"id": "f3", "dst": "10.0.0.1"}],
        "parties": [{"id": "p1", "domain": "dns.google", "flows": ["f1", "f2"]},
                    {"id": "p2", "domain": "proxy-only.example", "flows": []},
                    {"id": "p3", "domain": "gone.example", "flows": ["f9"]},
                    {"id": "p4", "domain": "local.example", "flows": ["f3"]}]}
    apply_country_table(bundle, load_country_table(table))
    assert [f.get("dst_country", "absent") for f in bundle["flows"]] == ["US", "US", "absent"]
    assert {p["domain"]: p.get("countries", "absent") for p in bundle["parties"]} == {
        "dns.google": ["US"], "proxy-only.example": "absent", "gone.example": "absent", "local.example": []}
    assert (bundle["country_table"]["located"], bundle["country_table"]["not_located"]) == (2, 0)
