"""End to end: real captures -> evidence -> `confaudit check/score/diff` exit codes and report files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.environment import REPO
from support.sarif_schema import assert_valid_sarif
from typer.testing import CliRunner

from confaudit.cli import app

SOURCE = '{title: "Vendor security page", url: "https://vendor.example/security", date: "2026-01-01"}'
runner = CliRunner()


def claims_file(tmp_path: Path, *claims: str, name: str = "claims.yaml") -> Path:
    body = "".join(f"  - id: c{i}\n    statement: \"Claim {i}.\"\n    source: {SOURCE}\n{c}" for i, c in enumerate(claims))
    path = tmp_path / name
    path.write_text(f"vendor: Test Vendor\nfirst_party: [webex.com]\nclaims:\n{body}", encoding="utf-8")
    return path


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


TLS12_HIGH = "    check: transport_encryption\n    min_tls: '1.2'\n    severity: high\n"
TLS12_LOW = "    check: transport_encryption\n    min_tls: '1.2'\n    severity: low\n"
NO_ANALYTICS = "    check: no_advertising\n    include_analytics: true\n    severity: medium\n"
DELETION = "    check: document_only\n    category: data_deletion\n    severity: high\n"


def test_webex_contradicts_tls12_and_writes_every_report(shared_captures: Path, tmp_path: Path) -> None:
    # A packet capture cannot tie Google Analytics to the Webex app: only a device-wide claim can be contradicted by it.
    claims = claims_file(tmp_path, TLS12_HIGH, NO_ANALYTICS + "    scope: device\n", DELETION)
    out = tmp_path / "out"
    result = invoke("check", shared_captures / "webex.pcap", "--claims", claims, "--json", out / "f.json",
                    "--junit", out / "f.xml", "--sarif", out / "f.sarif", "--markdown", out / "f.md")
    assert result.exit_code == 1, result.output
    assert "CONTRADICTED [high] c0" in result.stdout and "result: FAIL" in result.stdout
    findings = {f["claim_id"]: f for f in json.loads((out / "f.json").read_text())["findings"]}
    assert findings["c0"]["verdict"] == "contradicted" and "TLS 1.0" in findings["c0"]["explanation"]
    assert any(e["kind"] == "tls" for e in findings["c0"]["evidence"])
    assert findings["c1"]["verdict"] == "contradicted" and "google-analytics.com" in findings["c1"]["explanation"]
    assert findings["c2"]["verdict"] == "document_only"
    sarif = json.loads((out / "f.sarif").read_text())
    assert_valid_sarif(sarif)
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["c0", "c1"]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    junit = ET.fromstring((out / "f.xml").read_bytes())
    assert junit.get("failures") == "2" and junit.get("skipped") == "1"
    assert "c0" in (out / "f.md").read_text()


def test_fail_on_threshold(shared_captures: Path, tmp_path: Path) -> None:
    claims = claims_file(tmp_path, TLS12_LOW)
    assert invoke("check", shared_captures / "webex.pcap", "--claims", claims).exit_code == 0
    assert invoke("check", shared_captures / "webex.pcap", "--claims", claims, "--fail-on", "low").exit_code == 1


def test_sip_contradicts_media_encryption(shared_captures: Path, tmp_path: Path) -> None:
    claims = claims_file(tmp_path, "    check: media_encryption\n    severity: critical\n",
                         "    check: end_to_end_encryption\n    expect: true\n    severity: high\n")
    result = invoke("check", shared_captures / "sip.pcap", "--claims", claims, "--json", tmp_path / "f.json")
    assert result.exit_code == 1, result.output
    findings = json.loads((tmp_path / "f.json").read_text())["findings"]
    assert findings[0]["verdict"] == "contradicted" and "unencrypted" in findings[0]["explanation"]
    assert findings[1]["verdict"] == "contradicted"


def test_evidence_json_round_trip(shared_captures: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "webex.json"
    analyzed = invoke("analyze", shared_captures / "webex.pcap", "--json", evidence, "--quiet")
    assert analyzed.exit_code == 0, analyzed.output
    claims = claims_file(tmp_path, TLS12_HIGH)
    assert invoke("check", evidence, "--claims", claims).exit_code == 1


def test_score_table_and_diff(shared_captures: Path, tmp_path: Path) -> None:
    claims = claims_file(tmp_path, TLS12_HIGH, NO_ANALYTICS, DELETION)
    scored = invoke("score", shared_captures / "webex.pcap", "--claims", claims)
    assert scored.exit_code == 0 and "overall score" in scored.stdout and "contradicted" in scored.stdout
    diffed = invoke("diff", shared_captures / "webex.pcap", shared_captures / "google_meet.pcapng", "--claims", claims,
                    "--json", tmp_path / "d.json")
    assert diffed.exit_code == 0, diffed.output
    doc = json.loads((tmp_path / "d.json").read_text())
    assert "google-analytics.com" in [p["domain"] for p in doc["third_parties"]["removed"]]
    assert any(v["claim_id"] == "c0" for v in doc["verdicts"])


def test_bad_claims_file_exits_3_with_position(tmp_path: Path) -> None:
    claims = claims_file(tmp_path, "    check: media_encryptoin\n    severity: high\n")
    result = invoke("check", REPO / "tests" / "golden" / "bundle.json", "--claims", claims)
    assert result.exit_code == 3
    assert f"{claims}:7:12: claim 'c0': unknown check kind 'media_encryptoin'" in result.stderr
    assert "Traceback" not in result.output


def test_bad_input_and_usage(tmp_path: Path) -> None:
    claims = claims_file(tmp_path, TLS12_HIGH)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    out = tmp_path / "never.sarif"
    result = invoke("check", junk, "--claims", claims, "--sarif", out)
    assert result.exit_code == 3 and "not a recognised input" in result.stderr and not out.exists()
    assert invoke("check", junk, "--claims", claims, "--fail-on", "severe").exit_code == 2
    assert invoke("check", tmp_path / "missing.pcap", "--claims", claims).exit_code == 3


def test_recorded_example_session(tmp_path: Path) -> None:
    session = REPO / "samples" / "sessions" / "example-rooms"
    assert (session / "manifest.json").is_file(), "the bundled sample session is missing"
    result = invoke("check", session, "--claims", REPO / "samples" / "claims" / "messenger-rooms.yaml",
                    "--json", tmp_path / "f.json", "--fail-on", "critical")
    assert result.exit_code in (0, 1), result.output
    findings = {f["claim_id"]: f["verdict"] for f in json.loads((tmp_path / "f.json").read_text())["findings"]}
    assert findings["rooms-does-not-listen"] == "document_only"
    assert set(findings.values()) - {"document_only", "not_observable"}, "a recorded session must settle some claims"


def test_gate_and_github_annotations() -> None:
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from support.golden_runs import golden_run

    from confaudit.commands.check import gate, github_annotations

    run = golden_run()
    assert gate(run, "critical") == 1 and gate(run, "info") == 1
    assert gate(golden_run({"complete": True}), "info") == 0
    lines = github_annotations(run, "high", "claims/golden.yaml")
    assert lines[0].startswith("::error file=claims/golden.yaml,line=10,col=5,title=Golden Vendor%3A golden-srtp")
    assert lines[1].startswith("::warning file=claims/golden.yaml,line=21")
    assert all("\n" not in line and "\x1b" not in line for line in lines)


def test_unwritable_output_is_bad_output_exit_3(shared_captures: Path, tmp_path: Path) -> None:
    claims = claims_file(tmp_path, TLS12_HIGH)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("check", shared_captures / "google_meet.pcapng", "--claims", claims, "--json", blocker / "out.json")
    assert result.exit_code == 3 and "cannot write the --json output" in result.stderr
    assert result.stderr.count("\n") == 1 and "is a file, not a directory" in result.stderr


def test_truncated_capture_never_passes(shared_captures: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "teams-truncated.pcap"
    truncated.write_bytes((shared_captures / "teams.pcap").read_bytes()[:300_000])
    claims = claims_file(tmp_path, TLS12_HIGH)
    result = invoke("check", truncated, "--claims", claims, "--json", tmp_path / "f.json")
    assert result.exit_code == 3 and "INCONCLUSIVE" in result.stdout, result.output
    doc = json.loads((tmp_path / "f.json").read_text())
    assert doc["evidence_complete"] is False and doc["findings"][0]["verdict"] == "inconclusive"
    whole = invoke("check", shared_captures / "teams.pcap", "--claims", claims)
    assert whole.exit_code == 0, whole.output


UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def _har_entry(url: str, body: dict | None, started: str, page: str = "https://rooms.vendor.test/room/1") -> dict:
    text = json.dumps(body) if body is not None else ""
    request = {"method": "POST" if body is not None else "GET", "url": url, "httpVersion": "HTTP/1.1",
               "headers": [{"name": "User-Agent", "value": UA}, {"name": "Content-Type", "value": "application/json"},
                           {"name": "Referer", "value": page}],
               "queryString": [], "cookies": [], "headersSize": -1, "bodySize": len(text)}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": text}
    return {"startedDateTime": started, "time": 5, "request": request,
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                         "content": {"size": 0, "mimeType": "text/plain", "text": ""}, "redirectURL": "",
                         "headersSize": -1, "bodySize": 0},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}


def test_har_session_settles_data_claims(tmp_path: Path) -> None:
    """A browser HAR (real importer, taxonomy and parties) decides data, sharing and transport claims."""
    har = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        _har_entry("https://rooms.vendor.test/api/join", {"device": {"ua": UA}, "tz": "Europe/Berlin"}, "2026-11-25T08:00:01.000Z"),
        _har_entry("https://events.tracker.test/v2", {"room": "Book club", "screen": "1920x1080"}, "2026-11-25T08:00:02.000Z"),
        _har_entry("http://static.vendor.test/logo.png", None, "2026-11-25T08:00:03.000Z"),
    ]}}
    path = tmp_path / "call.har"
    path.write_text(json.dumps(har))
    claims = tmp_path / "claims.yaml"
    claims.write_text(f"""vendor: Vendor
first_party: [vendor.test]
claims:
  - id: collects-browser-and-timezone
    statement: "We collect your browser and time zone."
    source: {SOURCE}
    check: data_collection
    categories: [browser, timezone]
    severity: low
  - id: no-sharing
    statement: "We share nothing with third parties."
    source: {SOURCE}
    check: third_party_sharing
    severity: critical
  - id: tls
    statement: "Everything is encrypted in transit."
    source: {SOURCE}
    check: transport_encryption
    severity: medium
""", encoding="utf-8")
    result = invoke("check", path, "--claims", claims, "--json", tmp_path / "f.json", "--fail-on", "critical")
    assert result.exit_code == 1, result.output
    findings = {f["claim_id"]: f for f in json.loads((tmp_path / "f.json").read_text())["findings"]}
    assert findings["collects-browser-and-timezone"]["verdict"] == "supported"
    sharing = findings["no-sharing"]
    assert sharing["verdict"] == "contradicted" and "tracker.test" in sharing["explanation"]
    assert "room_name" in sharing["explanation"]
    assert any(e["kind"] == "data_flow" for e in sharing["evidence"])
    assert findings["tls"]["verdict"] == "contradicted" and "plaintext HTTP" in findings["tls"]["explanation"]
    assert invoke("check", path, "--claims", claims, "--fail-on", "critical").stdout.count("CONTRADICTED") == 2


NOT_E2EE_CRITICAL = "    check: end_to_end_encryption\n    expect: false\n    severity: critical\n"


def test_understated_claim_passes_the_gate_on_a_recorded_p2p_call(tmp_path: Path) -> None:
    """The sample session's peer-to-peer DTLS-SRTP call against "not end-to-end encrypted": understated, exit 0."""
    session = REPO / "samples" / "sessions" / "example-rooms"
    claims = claims_file(tmp_path, NOT_E2EE_CRITICAL)
    out = tmp_path / "out"
    result = invoke("check", session, "--claims", claims, "--fail-on", "info", "--json", out / "f.json",
                    "--sarif", out / "f.sarif", "--junit", out / "f.xml", "--markdown", out / "f.md")
    assert result.exit_code == 0, result.output
    assert "UNDERSTATED [critical] c0" in result.stdout and "result: PASS" in result.stdout
    assert "score 100/100, tested 1 of 1 claim (weight 12 of 12)" in result.stdout
    doc = json.loads((out / "f.json").read_text())
    finding = doc["findings"][0]
    assert finding["verdict"] == "understated" and any(e["kind"] == "dtls" for e in finding["evidence"])
    assert doc["score"]["overall"] == 100.0 and doc["score"]["counts"]["understated"] == 1
    sarif = json.loads((out / "f.sarif").read_text())
    assert_valid_sarif(sarif)
    assert [(r["kind"], r["level"]) for r in sarif["runs"][0]["results"]] == [("fail", "note")]
    junit = ET.fromstring((out / "f.xml").read_bytes())
    assert junit.get("failures") == "0" and junit.find(".//testcase/properties/property").get("value") == "understated"
    assert "🔷 understated" in (out / "f.md").read_text()


def test_understated_is_a_notice_annotation_never_a_failure() -> None:
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from support.golden_runs import understated_run

    from confaudit.commands.check import gate, github_annotations

    run = understated_run()
    assert gate(run, "info") == 0
    [line] = github_annotations(run, "info", "claims.yaml")
    assert line.startswith("::notice file=claims.yaml,line=5,col=5,title=Fixture Vendor%3A not-end-to-end-encrypted-claim understated::")


def test_score_shows_coverage_and_the_caveat_beside_the_number(shared_captures: Path, tmp_path: Path) -> None:
    claims = claims_file(tmp_path, TLS12_LOW, "    check: media_encryption\n    severity: critical\n", DELETION)
    claims.write_text(claims.read_text().replace("[webex.com]", "[google.com]"))  # the Meet capture's vendor
    scored = invoke("score", shared_captures / "google_meet.pcapng", "--claims", claims)
    assert scored.exit_code == 0, scored.output
    text = " ".join(scored.stdout.split())  # rich wraps long lines
    assert "overall score: 100/100 · tested 1 of 3 claims (weight 2 of 17) ⚠ most claims untested" in text
    assert "not tested: c1 (not observable), c2 (document only)" in text
    checked = invoke("check", shared_captures / "google_meet.pcapng", "--claims", claims)
    assert checked.exit_code == 0, checked.output
    assert "score 100/100, tested 1 of 3 claims (weight 2 of 17); warning: most claims untested" in checked.stdout
