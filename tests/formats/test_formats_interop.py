"""CI outputs read by their real consumers: SARIF checked against the official OASIS SARIF 2.1.0 schema, JUnit
read by junitparser, for the sample session and the bundled real captures (written by the real CLI)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.environment import REPO, TESTS
from support.sarif_schema import assert_valid_sarif, sarif_problems

from confaudit.formats.junit import to_junit
from confaudit.formats.sarif import to_sarif
from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate

SAMPLE = REPO / "samples" / "sessions" / "example-rooms"
CLAIMS = REPO / "samples" / "claims"
CAPTURES = REPO / "samples" / "captures"
GOLDEN = TESTS / "golden"
ENV = {"CONFAUDIT_REDACTION_KEY": "test-redaction-key-not-secret", "CONFAUDIT_STRICT_PARSERS": "1"}
INPUTS = {  # name: (input, claims file, vendor)
    "sample": (SAMPLE, "example-rooms.yaml", None),
    "zoom": (CAPTURES / "zoom2.pcap", "zoom.yaml", "Zoom"),
    "teams": (CAPTURES / "teams.pcap", "microsoft-teams.yaml", "Microsoft Teams"),
    "skype": (CAPTURES / "skype-conference-call.pcap", "skype.yaml", "Skype"),
    "whatsapp": (CAPTURES / "whatsapp_login_call.pcap", "whatsapp.yaml", "WhatsApp"),
    "messenger": (CAPTURES / "stun.pcap", "messenger-rooms.yaml", "Messenger Rooms"),
    "meet": (CAPTURES / "stun_google_meet.pcapng", "google-meet.yaml", "Google Meet"),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`check --sarif --junit --json` through the real CLI, once per input."""
    tmp = tmp_path_factory.mktemp("ci-outputs")
    for name, (source, claims, vendor) in INPUTS.items():
        args = [sys.executable, "-m", "confaudit", "check", str(source), "--claims", str(CLAIMS / claims),
                "--sarif", str(tmp / f"{name}.sarif"), "--junit", str(tmp / f"{name}.xml"), "--json", str(tmp / f"{name}.json")]
        args += ["--vendor", vendor] if vendor else []
        done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, **ENV})
        assert done.returncode in (0, 1), done.stderr
    return {"dir": tmp}


@pytest.mark.parametrize("name", INPUTS)
def test_cli_sarif_validates_against_the_oasis_schema(written: dict[str, Path], name: str) -> None:
    doc = json.loads((written["dir"] / f"{name}.sarif").read_text(encoding="utf-8"))
    assert_valid_sarif(doc)
    findings = json.loads((written["dir"] / f"{name}.json").read_text(encoding="utf-8"))["findings"]
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [f["claim_id"] for f in findings]


def test_the_oasis_schema_is_not_vacuous(written: dict[str, Path]) -> None:
    doc = json.loads((written["dir"] / "sample.sarif").read_text(encoding="utf-8"))
    assert doc["runs"][0]["results"], "the sample session has contradicted claims"
    for path, value in ((("runs", 0, "results", 0, "level"), "fatal"),
                        (("runs", 0, "results", 0, "locations", 0, "physicalLocation", "region", "startLine"), 0),
                        (("runs", 0, "tool", "driver", "rules", 0, "helpUri"), "not a uri"),
                        (("runs", 0, "columnKind"), "bytes")):
        broken = json.loads(json.dumps(doc))
        node = broken
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        assert sarif_problems(broken), path
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["ruleID"] = broken["runs"][0]["results"][0].pop("ruleId")  # a mistyped key
    assert any("ruleID" in p for p in sarif_problems(broken))


def _golden_run():
    return evaluate(load_claims(GOLDEN / "claims.yaml"), json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8")))


def test_every_result_kind_and_a_crashed_check_validate() -> None:
    run = _golden_run()
    crashed = dataclasses.replace(run, findings=(dataclasses.replace(run.findings[0], verdict="error"), *run.findings[1:]))
    for doc in (json.loads(to_sarif(run, include_all=True)), json.loads(to_sarif(crashed)),
                json.loads(to_sarif(crashed, include_all=True))):
        assert_valid_sarif(doc)
    notifications = json.loads(to_sarif(crashed))["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notifications[0]["associatedRule"]["id"] == run.findings[0].claim_id


def test_paths_and_urls_that_are_no_valid_uri_are_encoded(tmp_path: Path) -> None:
    """A claims path with spaces, ':' or non-ASCII, and a source URL with characters a URI cannot hold."""
    run = _golden_run()
    first = run.findings[0]
    odd = dataclasses.replace(first, claim=dataclasses.replace(first.claim, source={
        **first.source, "url": "https://example.org/prіvacy|policy/{v}?q=a b%zz#ü"}))
    run = dataclasses.replace(run, claims_path="claims dir/naïve:vendor%.yaml", findings=(odd, *run.findings[1:]))
    doc = json.loads(to_sarif(run, include_all=True))
    assert_valid_sarif(doc)
    assert doc["runs"][0]["artifacts"][0]["location"]["uri"] == "claims%20dir/na%C3%AFve%3Avendor%25.yaml"
    help_uri = doc["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"]
    assert help_uri.startswith("https://example.org/pr%D1%96vacy%7Cpolicy/%7Bv%7D?q=a%20b%25zz#%C3%BC")


# --- JUnit, read by junitparser ------------------------------------------------------------------------------

_EXPECTED_RESULT = {"contradicted": "Failure", "error": "Error", "not_observable": "Skipped", "inconclusive": "Skipped",
                    "document_only": "Skipped", "supported": None, "understated": None}


def _check_junit(xml_text: str, findings: list[dict]) -> None:
    from junitparser import JUnitXml

    doc = JUnitXml.fromstring(xml_text)
    suites = list(doc)
    assert len(suites) == 1
    suite = suites[0]
    verdicts = [f["verdict"] for f in findings]
    expected = {"tests": len(findings), "failures": verdicts.count("contradicted"), "errors": verdicts.count("error"),
                "skipped": sum(verdicts.count(v) for v in ("not_observable", "inconclusive", "document_only"))}
    declared = {k: getattr(suite, k) for k in expected}
    assert declared == expected
    assert {k: getattr(doc, k) for k in expected} == expected
    suite.update_statistics()  # junitparser recounts from the testcases themselves
    assert {k: getattr(suite, k) for k in expected} == expected
    cases = list(suite)
    assert [c.name for c in cases] == [f["claim_id"] for f in findings]
    for case, finding in zip(cases, findings):
        kinds = [type(r).__name__ for r in case.result]
        want = _EXPECTED_RESULT[finding["verdict"]]
        assert kinds == ([want] if want else []), (finding["claim_id"], finding["verdict"], kinds)
        assert case.is_passed == (want is None)
        properties = {p.get("name"): p.get("value") for p in case._elem.iter("property")}
        assert properties == {"verdict": finding["verdict"]}


@pytest.mark.parametrize("name", INPUTS)
def test_cli_junit_is_read_by_junitparser_with_the_right_counts(written: dict[str, Path], name: str) -> None:
    findings = json.loads((written["dir"] / f"{name}.json").read_text(encoding="utf-8"))["findings"]
    _check_junit((written["dir"] / f"{name}.xml").read_text(encoding="utf-8"), findings)
    from junitparser import JUnitXml

    suite = next(iter(JUnitXml.fromfile(str(written["dir"] / f"{name}.xml"))))
    assert {p.name: p.value for p in suite.properties()}["claims_total"] == str(len(findings))


def test_junitparser_sees_every_verdict_kind() -> None:
    run = _golden_run()
    verdicts = ["supported", "contradicted", "understated", "not_observable", "inconclusive", "error", "document_only"]
    findings = tuple(dataclasses.replace(f, claim=dataclasses.replace(f.claim, id=f"claim-{v}"), verdict=v)
                     for f, v in ((run.findings[i % len(run.findings)], v) for i, v in enumerate(verdicts)))
    run = dataclasses.replace(run, findings=findings)
    _check_junit(to_junit(run), [f.to_dict() for f in findings])


def test_sample_session_junit_fails_exactly_the_contradicted_claims(written: dict[str, Path]) -> None:
    from junitparser import JUnitXml

    suite = next(iter(JUnitXml.fromfile(str(written["dir"] / "sample.xml"))))
    failed = sorted(c.name for c in suite if any(type(r).__name__ == "Failure" for r in c.result))
    findings = json.loads((written["dir"] / "sample.json").read_text(encoding="utf-8"))["findings"]
    assert failed == sorted(f["claim_id"] for f in findings if f["verdict"] == "contradicted") and len(failed) == 2
