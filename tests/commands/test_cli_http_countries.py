"""End to end: a HAR's ``serverIPAddress`` located by the auditor's country table (``http[].server_country``) lets
``data_location`` judge a vendor seen only through HTTP (no packet capture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from confaudit.cli import app

runner = CliRunner()
SOURCE = '{title: "Vendor page", url: "https://vendor.example/where", date: "2026-01-01"}'
ENTRIES = (("https://api.vendor-meet.com/v1/join", "193.0.6.139"), ("https://cdn.vendor-meet.com/app.js", "8.8.8.8"),
           ("https://upload.vendor-meet.com/logs", "212.27.48.10"), ("https://intranet.vendor-meet.com/x", "[10.1.2.3]"))
TABLE = "network,country\n193.0.0.0/21,NL\n8.8.8.0/24,US\n"
"""Locates the api (NL) and cdn (US) servers; the upload server 212.27.48.10 is not in it; 10.1.2.3 is private."""


def har(path: Path) -> Path:
    entries = [{"startedDateTime": f"2026-11-25T08:00:0{i}.000Z", "time": 10.0, "serverIPAddress": ip,
                "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": []},
                "response": {"status": 200, "headers": [], "content": {"size": 0, "mimeType": "text/plain"}}}
               for i, (url, ip) in enumerate(ENTRIES)]
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                                        "entries": entries}}), encoding="utf-8")
    return path


def claims(folder: Path, allowed: str, table: str, name: str) -> Path:
    (folder / f"{name}.csv").write_text(table, encoding="utf-8")
    path = folder / f"{name}.yaml"
    path.write_text(f"vendor: Vendor Meet\nfirst_party: [vendor-meet.com, Vendor Meet]\ncountry_table: {name}.csv\n"
                    f"claims:\n  - id: where\n    statement: \"Data stays in {allowed}.\"\n    source: {SOURCE}\n"
                    f"    check: data_location\n    allowed_countries: [{allowed}]\n    severity: high\n", encoding="utf-8")
    return path


def check(capture: Path, claims_file: Path, out: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["-q", "check", str(capture), "--claims", str(claims_file), "--json", str(out)],
                           catch_exceptions=False)
    return result.exit_code, json.loads(out.read_text(encoding="utf-8"))["findings"][0]


def test_check_a_har_with_a_country_table(tmp_path: Path) -> None:
    capture = har(tmp_path / "session.har")
    code, found = check(capture, claims(tmp_path, "NL, US", TABLE, "partial"), tmp_path / "f1.json")
    assert (code, found["verdict"]) == (0, "inconclusive"), found["explanation"]
    assert found["explanation"].startswith("1 public endpoint could not be located: the country table has no country "
                                           "for 212.27.48.10; the 2 located ones were in the allowed countries (NL, US)")
    assert {(e["kind"], e["id"]) for e in found["evidence"]} >= {("http", "h1"), ("http", "h2"), ("http", "h3")}
    assert not any("10.1.2.3" in e["detail"] for e in found["evidence"])  # a private address has no country

    code, found = check(capture, claims(tmp_path, "NL", TABLE, "eu"), tmp_path / "f2.json")
    assert (code, found["verdict"]) == (1, "contradicted"), found["explanation"]
    assert found["explanation"].startswith("1 endpoint was located outside the allowed countries (NL): 8.8.8.8 in US "
                                           "(http h2 (cdn.vendor-meet.com); vendor-meet.com)")
    assert ("http", "h2") in {(e["kind"], e["id"]) for e in found["evidence"]}

    code, found = check(capture, claims(tmp_path, "NL, US, FR", TABLE + "212.27.48.0/24,FR\n", "full"), tmp_path / "f3.json")
    assert (code, found["verdict"]) == (0, "supported"), found["explanation"]
    assert found["explanation"].startswith("All 3 located endpoints were in the allowed countries (FR, NL, US)")


def test_analyze_a_har_with_a_country_table_locates_http_servers_and_parties(tmp_path: Path) -> None:
    capture = har(tmp_path / "session.har")
    (tmp_path / "t.csv").write_text(TABLE, encoding="utf-8")
    out = tmp_path / "bundle.json"
    result = runner.invoke(app, ["-q", "analyze", str(capture), "--country-table", str(tmp_path / "t.csv"),
                                 "--json", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text(encoding="utf-8"))
    by_host = {h["host"]: h for h in bundle["http"]}
    assert by_host["api.vendor-meet.com"]["server_country"] == "NL"
    assert by_host["cdn.vendor-meet.com"]["server_country"] == "US"
    assert by_host["upload.vendor-meet.com"]["server_country"] is None  # public, not in the table
    assert "server_country" not in by_host["intranet.vendor-meet.com"]  # special-use: no country to have
    assert (bundle["country_table"]["located"], bundle["country_table"]["not_located"]) == (2, 1)
    [party] = [p for p in bundle["parties"] if p["domain"] == "vendor-meet.com"]
    assert party["flows"] == [] and party["countries"] == ["NL", "US"]
    # without a table: no record carries a country
    result = runner.invoke(app, ["-q", "analyze", str(capture), "--json", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert "country_table" not in bundle and not any("server_country" in h for h in bundle["http"])
    assert not any("countries" in p for p in bundle["parties"])
