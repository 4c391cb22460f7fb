"""Run diffs: new third parties, categories per party, encryption, media path and verdict changes."""

from __future__ import annotations

import json

from confaudit.rules.claims import load_claims
from confaudit.rules.diff import diff_bundles
from confaudit.rules.engine import evaluate

from support.bundles import complete_bundle
from support.environment import TESTS

GOLDEN = TESTS / "golden"


def _bundles() -> tuple[dict, dict]:
    old = json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8"))
    new = json.loads(json.dumps(old))
    new["parties"].append({"id": "p3", "domain": "sentry.io", "entity": "Functional Software", "first_party": False,
                           "entity_categories": ["error_reporting"]})
    new["data_flows"] = [{"id": "d1", "party": "sentry.io", "category": "room_name"}]
    old["data_flows"] = [{"id": "d1", "party": "sentry.io", "category": "device"}]
    new["media_streams"][0]["encryption"] = "srtp"
    new["media_path"] = {"topology": "p2p", "endpoints": [], "reasons": []}
    new["parties"] = [p for p in new["parties"] if p["domain"] != "tracker.example"]
    return complete_bundle(old), complete_bundle(new)


def test_diff_reports_every_kind_of_change() -> None:
    old, new = _bundles()
    claims = load_claims(GOLDEN / "claims.yaml")
    result = diff_bundles(old, new, evaluate(claims, old), evaluate(claims, new))
    assert [p["domain"] for p in result["third_parties"]["added"]] == ["sentry.io"]
    assert [p["domain"] for p in result["third_parties"]["removed"]] == ["tracker.example"]
    assert result["data_categories"]["sentry.io"] == {"added": ["room_name"], "removed": ["device"]}
    assert result["encryption"]["old"]["media_streams"] == {"plain": 1}
    assert result["encryption"]["new"]["media_streams"] == {"encrypted": 1}
    assert result["media_path"] == {"old": "server", "new": "p2p"}
    changes = {v["claim_id"]: (v["old"], v["new"]) for v in result["verdicts"]}
    assert changes["golden-srtp"] == ("contradicted", "supported")
    assert changes["golden-no-ads"] == ("contradicted", "supported")
    assert result["changed"] is True and result["score"]["new"] > result["score"]["old"]
    json.dumps(result)


def test_identical_bundles_have_no_changes() -> None:
    old, _ = _bundles()
    result = diff_bundles(old, json.loads(json.dumps(old)))
    assert result["changed"] is False and result["encryption"] is None and result["verdicts"] == []


def test_diff_tolerates_garbage() -> None:
    result = diff_bundles({"parties": "x", "data_flows": [1, None], "tls": [{"version": 5}]}, {})
    assert result["changed"] is False


RULES = TESTS / "rules"


def test_plaintext_http_counted_with_the_transport_checks_rule() -> None:
    """Proxy CONNECT, loopback and OCSP/CRL fetches are not plaintext for `diff` either (same predicate as `check`)."""
    from confaudit.rules.diff import encryption_summary

    claims = load_claims(RULES / "transport_encryption" / "rule.yaml")
    tls = [{"id": "t1", "flow": "f1", "sni": "rooms.vendor.example", "version": "TLS 1.3"}]
    exempt = complete_bundle({"complete": True, "tls": tls, "http_plain": [
        {"id": "hp1", "flow": "f2", "method": "CONNECT", "host": "rooms.vendor.example:443", "target": "rooms.vendor.example:443"},
        {"id": "hp2", "flow": "f3", "method": "GET", "host": "ocsp.digicert.com", "target": "/MFEw"},
        {"id": "hp3", "flow": "f4", "method": "GET", "host": "127.0.0.1:8080", "target": "/health"}],
        "http": [{"id": "h1", "scheme": "http", "url": "http://localhost:3000/app", "host": "localhost"}]})
    plain = json.loads(json.dumps(exempt))
    plain["http_plain"].append({"id": "hp4", "flow": "f5", "method": "GET", "host": "tracker.example", "target": "/pixel"})
    plain["http"].append({"id": "h2", "scheme": "http", "url": "http://cdn.vendor.example/a.js", "host": "cdn.vendor.example"})
    plain["websocket"] = [{"id": "w1", "url": "ws://rtc.vendor.example/socket"}]
    plain = complete_bundle(plain)
    assert evaluate(claims, exempt).findings[0].verdict == "supported"
    assert evaluate(claims, plain).findings[0].verdict == "contradicted"
    assert (encryption_summary(exempt)["plain_http_requests"], encryption_summary(exempt)["plain_websockets"]) == (0, 0)
    assert (encryption_summary(plain)["plain_http_requests"], encryption_summary(plain)["plain_websockets"]) == (2, 1)
    change = diff_bundles(exempt, plain)["encryption"]
    assert (change["old"]["plain_http_requests"], change["new"]["plain_http_requests"]) == (0, 2)


def test_diff_and_check_agree_on_every_transport_fixture() -> None:
    from confaudit.rules.diff import encryption_summary

    claims = load_claims(RULES / "transport_encryption" / "rule.yaml")
    for case in sorted((RULES / "transport_encryption").glob("*.json")):
        bundle = json.loads(case.read_text(encoding="utf-8"))
        summary = encryption_summary(bundle)
        if summary["plain_http_requests"] or summary["plain_websockets"]:
            assert evaluate(claims, bundle).findings[0].verdict in ("contradicted", "inconclusive"), case.name
        if case.stem.startswith("supported"):
            assert summary["plain_http_requests"] == summary["plain_websockets"] == 0, case.name


def test_verdict_and_score_changes_carry_coverage() -> None:
    old, new = _bundles()
    claims = load_claims(GOLDEN / "claims.yaml")
    result = diff_bundles(old, new, evaluate(claims, old), evaluate(claims, new))
    assert result["coverage"]["old"]["claims_total"] == result["coverage"]["new"]["claims_total"] == 5
    from confaudit.commands.diff import summary_lines

    line = next(line for line in summary_lines(result) if line.startswith("~ score:"))
    assert "(tested 3 of 5 claims (weight 19 of 23))" in line


def test_diff_names_the_scenario_of_each_side() -> None:
    """Sessions of `confaudit run` carry their scenario file's hash: diff says whether both ran the same one."""
    from confaudit.commands.diff import summary_lines
    from confaudit.rules.diff import diff_bundles

    def bundle(sha: str, outcome: str = "completed") -> dict:
        return {"complete": True, "session": {"sessions": [{"path": "s", "scenario_run": {
            "file": "lab-p2p.yaml", "sha256": sha, "outcome": outcome}}]}}

    same = diff_bundles(bundle("a" * 64), bundle("a" * 64))
    assert same["scenario"]["same"] is True
    assert summary_lines(same) == ["no changes", f"= same scenario on both sides: lab-p2p.yaml (sha256 {'a' * 12}, completed)"]
    other = diff_bundles(bundle("a" * 64), bundle("b" * 64, "failed"))
    assert other["scenario"]["same"] is False
    assert summary_lines(other)[-1].startswith(f"~ scenario: lab-p2p.yaml (sha256 {'a' * 12}, completed) -> "
                                               f"lab-p2p.yaml (sha256 {'b' * 12}, failed)")
    assert "scenario" not in diff_bundles({"complete": True}, {"complete": True})
