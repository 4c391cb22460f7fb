"""SARIF 2.1.0 output: golden file, schema validation, locations at claim lines, stable fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.environment import REPO
from support.sarif_schema import assert_valid_sarif

from confaudit import __version__
from confaudit.formats.sarif import to_sarif
from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate
from support.golden_runs import GOLDEN, check_golden, golden_run, understated_run

def _normalise(text: str) -> str:
    return text.replace(f'"{__version__}"', '"VERSION"')


def test_sarif_matches_golden_and_schema() -> None:
    text = _normalise(to_sarif(golden_run(), artifact_uri="tests/golden/claims.yaml"))
    check_golden("expected.sarif", text)
    doc = json.loads(text)
    assert_valid_sarif(doc)


def test_results_sit_on_claim_lines_with_verdict_kinds() -> None:
    run = golden_run()
    doc = json.loads(to_sarif(run, artifact_uri="claims/golden.yaml", include_all=True))
    assert_valid_sarif(doc)
    lines = (GOLDEN / "claims.yaml").read_text().splitlines()
    results = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    assert len(results) == len(run.findings)
    for rule_id, result in results.items():
        region = result["locations"][0]["physicalLocation"]["region"]
        assert lines[region["startLine"] - 1].strip() == f"- id: {rule_id}"
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "claims/golden.yaml"
    assert results["golden-srtp"]["kind"] == "fail" and results["golden-srtp"]["level"] == "error"
    assert results["golden-no-ads"]["kind"] == "fail" and results["golden-no-ads"]["level"] == "note"
    assert results["golden-tls"]["kind"] == "pass" and results["golden-tls"]["level"] == "none"
    assert results["golden-links"]["kind"] == "review"
    assert results["golden-deletion"]["kind"] == "informational"
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["golden-srtp"]["properties"]["security-severity"] == "9.5"
    assert rules["golden-srtp"]["helpUri"] == "https://golden.example/security"


def test_github_default_has_only_problems_as_results() -> None:
    """GitHub code scanning makes an alert of every result, whatever its kind (microsoft/PSRule#955)."""
    doc = json.loads(to_sarif(golden_run()))
    run = doc["runs"][0]
    assert sorted(r["ruleId"] for r in run["results"]) == ["golden-no-ads", "golden-srtp"]
    assert {o["ruleId"]: o["verdict"] for o in run["properties"]["otherVerdicts"]} == {
        "golden-tls": "supported", "golden-links": "not_observable", "golden-deletion": "document_only"}
    assert len(run["tool"]["driver"]["rules"]) == 5
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_understated_is_a_note_never_a_security_alert() -> None:
    run = understated_run()
    assert run.findings[0].verdict == "understated" and run.findings[0].severity == "high"
    for include_all in (False, True):
        doc = json.loads(to_sarif(run, include_all=include_all))
        assert_valid_sarif(doc)
        [result] = doc["runs"][0]["results"]
        assert (result["kind"], result["level"]) == ("fail", "note")
        assert result["properties"]["verdict"] == "understated" and result["message"]["text"].startswith("Understated: ")
        [rule] = doc["runs"][0]["tool"]["driver"]["rules"]
        # GitHub ranks by security-severity before level: an understated claim must not become a "High" alert.
        assert rule["defaultConfiguration"]["level"] == "note" and rule["properties"]["security-severity"] == "0.0"
        assert rule["properties"]["claim-severity"] == "high"
        assert doc["runs"][0]["properties"]["otherVerdicts"] == []


def test_run_properties_carry_coverage() -> None:
    coverage = json.loads(to_sarif(golden_run()))["runs"][0]["properties"]["coverage"]
    assert (coverage["claims_tested"], coverage["claims_total"]) == (3, 5)
    assert [u["claim_id"] for u in coverage["untested"]] == ["golden-links", "golden-deletion"]


def test_crashed_check_is_a_tool_notification(monkeypatch: pytest.MonkeyPatch) -> None:
    from confaudit.rules import checks

    kind = checks.CHECK_KINDS["transport_encryption"]
    monkeypatch.setitem(checks.CHECK_KINDS, "transport_encryption", checks.CheckKind(
        kind.name, lambda b, p: 1 / 0, kind.params, kind.category))
    doc = json.loads(to_sarif(golden_run()))
    assert_valid_sarif(doc)
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["associatedRule"] == {"id": "golden-tls", "index": 0}


def test_fingerprints_are_stable_across_evidence_but_differ_per_claim() -> None:
    first = json.loads(to_sarif(golden_run(), include_all=True))
    other = json.loads(to_sarif(golden_run({"complete": True}), include_all=True))
    fp = lambda doc: [r["partialFingerprints"]["confauditClaim/v1"] for r in doc["runs"][0]["results"]]
    assert fp(first) == fp(other)
    assert len(set(fp(first))) == len(fp(first))
    verdicts = [r["properties"]["verdict"] for r in other["runs"][0]["results"]]
    assert "supported" not in verdicts  # empty evidence never passes


def test_control_characters_never_reach_sarif() -> None:
    text = to_sarif(golden_run())
    assert "\x1b" not in text and "\\u001b" not in text


@pytest.mark.parametrize("sample", sorted((REPO / "samples" / "claims").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_sample_claims_file_gives_valid_sarif(sample: Path) -> None:
    run = evaluate(load_claims(sample), {"complete": True})
    for include_all in (False, True):
        doc = json.loads(to_sarif(run, include_all=include_all))
        assert_valid_sarif(doc)
    assert len(doc["runs"][0]["results"]) == len(run.findings)
