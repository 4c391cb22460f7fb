"""End to end: a claims file's ``country_table`` and ``analyze --country-table`` locate a real capture's endpoints for
the ``data_location`` check; a bad or missing table is one line, exit 3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from confaudit.cli import app
from confaudit.errors import ClaimsError

from support.environment import REPO

CAPTURE = "stun_google_meet.pcapng"
"""A Google Meet call: media through 142.250.82.76 and 2001:4860:4864:6::81, STUN to 74.125.128.127."""
TABLE = "network,country\n142.250.0.0/15,US\n2001:4860::/32,US\n"
"""Covers Google's media servers and leaves the STUN server 74.125.128.127 out."""
SOURCE = '{title: "Vendor page", url: "https://vendor.example/where", date: "2026-01-01"}'
runner = CliRunner()


def claims(folder: Path, allowed: str, table: str | None = "countries.csv", name: str = "claims.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    top = f"country_table: {table}\n" if table is not None else ""
    path.write_text(f"vendor: Google Meet\nfirst_party: [google.com, Google]\n{top}claims:\n  - id: where\n"
                    f"    statement: \"Media stays in {allowed}.\"\n    source: {SOURCE}\n    check: data_location\n"
                    f"    allowed_countries: [{allowed}]\n    severity: high\n", encoding="utf-8")
    return path


def finding(*args: object) -> tuple[int, dict[str, Any]]:
    out = Path(str(args[-1]))
    result = runner.invoke(app, ["-q", *map(str, args)], catch_exceptions=False)
    return result.exit_code, json.loads(out.read_text(encoding="utf-8"))["findings"][0]


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", *map(str, args)], capture_output=True, text=True,
                          timeout=180, cwd=REPO)


def test_check_with_a_claims_file_naming_a_country_table(shared_captures: Path, tmp_path: Path) -> None:
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "countries.csv").write_text(TABLE, encoding="utf-8")
    code, found = finding("check", shared_captures / CAPTURE, "--claims", claims(folder, "US"), "--json", tmp_path / "f.json")
    # the servers are in the US, but the STUN server is not in the table: not located, so never supported
    assert (code, found["verdict"]) == (0, "inconclusive"), found["explanation"]
    assert found["explanation"].startswith("1 public endpoint could not be located: the country table has no country "
                                           "for 74.125.128.127; the 2 located ones were in the allowed countries (US)")
    assert {(e["kind"], e["id"]) for e in found["evidence"]} >= {("flow", "f1"), ("flow", "f3"), ("endpoint", "ep0"),
                                                                ("country_table", found["evidence"][-1]["id"])}
    assert str(folder / "countries.csv") in found["evidence"][-1]["detail"]
    code, found = finding("check", shared_captures / CAPTURE, "--claims", claims(folder, "DE, FR", name="eu.yaml"),
                          "--json", tmp_path / "f.json")
    assert (code, found["verdict"]) == (1, "contradicted")
    assert found["explanation"].startswith("2 endpoints were located outside the allowed countries (DE, FR): "
                                           "142.250.82.76 in US (flows f3, f4, f5 and 1 more) and 2001:4860:4864:6::81 in US (flow f7); "
                                           "1 public address could not be located by the country table")
    # the table covering every address: supported
    (folder / "countries.csv").write_text(TABLE + "74.125.0.0/16,US\n", encoding="utf-8")
    code, found = finding("check", shared_captures / CAPTURE, "--claims", claims(folder, "US"), "--json", tmp_path / "f.json")
    assert (code, found["verdict"]) == (0, "supported"), found["explanation"]
    assert found["explanation"].startswith("All 3 located endpoints were in the allowed countries (US)")


def test_analyze_country_table_then_check_the_bundle(shared_captures: Path, tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text(TABLE, encoding="utf-8")
    bundle = tmp_path / "bundle.json"
    result = runner.invoke(app, ["-q", "analyze", str(shared_captures / CAPTURE), "--country-table", str(table),
                                 "--json", str(bundle)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = json.loads(bundle.read_text(encoding="utf-8"))
    assert written["country_table"]["path"] == str(table) and written["country_table"]["rows"] == 2
    assert {f["id"]: f.get("dst_country", "absent") for f in written["flows"]} == {
        "f1": None, "f2": None, "f3": "US", "f4": "US", "f5": "US", "f6": "US", "f7": "US"}
    # the claims file names no table: the bundle's own countries are judged
    code, found = finding("check", bundle, "--claims", claims(tmp_path / "c", "DE", table=None), "--json", tmp_path / "f.json")
    assert (code, found["verdict"]) == (1, "contradicted")


def test_without_a_table_the_check_says_why_it_cannot_tell(shared_captures: Path, tmp_path: Path) -> None:
    code, found = finding("check", shared_captures / CAPTURE, "--claims", claims(tmp_path, "US", table=None),
                          "--json", tmp_path / "f.json")
    assert (code, found["verdict"]) == (0, "not_observable")
    assert found["explanation"].startswith("No country table was given (country_table in the claims file, or analyze "
                                           "--country-table)")


def test_a_bad_or_missing_table_is_one_line_exit_3(shared_captures: Path, tmp_path: Path) -> None:
    path = claims(tmp_path, "US")
    missing = cli("check", shared_captures / CAPTURE, "--claims", path)
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1, missing.stderr
    assert str(tmp_path / "countries.csv") in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "countries.csv").write_text(TABLE + "74.125.0.0/16,United States\n", encoding="utf-8")
    bad = cli("check", shared_captures / CAPTURE, "--claims", path)
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1, bad.stderr
    assert f"{tmp_path / 'countries.csv'}:4: country 'United States' is not an ISO 3166-1 alpha-2 code" in bad.stderr
    analyzed = cli("analyze", shared_captures / CAPTURE, "--country-table", tmp_path / "countries.csv", "-q")
    assert analyzed.returncode == 3 and analyzed.stderr.count("\n") == 1 and ":4: country" in analyzed.stderr


def test_the_table_is_never_an_output(shared_captures: Path, tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text(TABLE, encoding="utf-8")
    refused = cli("analyze", shared_captures / CAPTURE, "--country-table", table, "--json", table)
    assert refused.returncode == 2 and "--country-table" in refused.stderr
    assert table.read_text(encoding="utf-8") == TABLE


@pytest.mark.parametrize(("value", "problem"), [("/etc/countries.csv", "must be a path relative to the claims file"),
                                                ("../countries.csv", "must be a path relative to the claims file"),
                                                ("[a.csv, b.csv]", "country_table must be a single value")])
def test_claims_country_table_stays_beside_the_claims_file(tmp_path: Path, value: str, problem: str) -> None:
    from confaudit.rules.claims import load_claims

    with pytest.raises(ClaimsError) as err:
        load_claims(claims(tmp_path, "US", table=value))
    assert problem in str(err.value) and str(err.value).startswith(f"{tmp_path / 'claims.yaml'}:3:")
    assert load_claims(claims(tmp_path, "US", table="data/t.csv")).country_table == str(tmp_path / "data" / "t.csv")
