"""Run diffs: new third parties, categories per party, encryption, media path and verdict changes."""

from __future__ import annotations

import json
from pathlib import Path

from confaudit.rules.claims import load_claims
from confaudit.rules.diff import diff_bundles
from confaudit.rules.engine import evaluate

GOLDEN = Path(__file__).parent / "golden"


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
    return old, new


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
