"""JUnit XML: golden file, validated against the common JUnit subset that CI test reporters read.

The structural checks below encode the Jenkins/Ant JUnit XSD subset (testsuites > testsuite >
testcase; failure/error/skipped children; tests/failures/errors/skipped counts on each suite) plus
``testcase > properties`` as pytest writes it and the Jenkins JUnit plugin reads it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from confaudit.formats.junit import to_junit
from support.golden_runs import check_golden, golden_run, understated_run

SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname", "id", "package"}
CASE_ATTRS = {"name", "classname", "time", "file", "line", "assertions"}
OUTCOMES = {"failure", "error", "skipped"}


def validate_junit(text: str) -> ET.Element:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    assert set(root.attrib) <= SUITE_ATTRS
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        assert suite.tag == "testsuite" and "name" in suite.attrib and "tests" in suite.attrib
        assert set(suite.attrib) <= SUITE_ATTRS
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for child in suite:
            assert child.tag in ("properties", "testcase", "system-out", "system-err")
            if child.tag == "properties":
                assert all(p.tag == "property" and {"name", "value"} <= set(p.attrib) for p in child)
                continue
            if child.tag != "testcase":
                continue
            assert {"name", "classname"} <= set(child.attrib) <= CASE_ATTRS
            float(child.get("time", "0"))
            outcomes = [c for c in child if c.tag in OUTCOMES]
            assert len(outcomes) <= 1
            assert all(c.tag in OUTCOMES | {"properties", "system-out", "system-err"} for c in child)
            for props in child.iter("properties"):
                assert all(p.tag == "property" and {"name", "value"} <= set(p.attrib) for p in props)
            counts["tests"] += 1
            for c in outcomes:
                assert "message" in c.attrib
                counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[c.tag]] += 1
        for key, value in counts.items():
            assert int(suite.get(key)) == value, key
            totals[key] += value
    for key, value in totals.items():
        assert int(root.get(key)) == value
    return root


def test_junit_matches_golden_and_subset() -> None:
    text = to_junit(golden_run(), claims_uri="tests/golden/claims.yaml")
    check_golden("expected.junit.xml", text)
    root = validate_junit(text)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == 5
    assert cases["golden-srtp"].find("failure").get("type") == "contradicted.critical"
    assert cases["golden-links"].find("skipped").get("message").startswith("not observable")
    assert cases["golden-deletion"].find("skipped").get("message").startswith("document only")
    assert cases["golden-tls"].find("failure") is None and cases["golden-tls"].find("skipped") is None
    verdicts = {name: c.find("properties/property[@name='verdict']").get("value") for name, c in cases.items()}
    assert verdicts == {"golden-tls": "supported", "golden-srtp": "contradicted", "golden-links": "not_observable",
                        "golden-no-ads": "contradicted", "golden-deletion": "document_only"}
    suite_props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert suite_props["coverage"] == "tested 3 of 5 claims (weight 19 of 23)" and suite_props["claims_tested"] == "3"


def test_understated_passes_and_says_so() -> None:
    root = validate_junit(to_junit(understated_run()))
    [case] = root.iter("testcase")
    assert [c.tag for c in case] == ["properties", "system-out"]  # a pass: no failure, error or skipped
    assert case.find("properties/property[@name='verdict']").get("value") == "understated"
    assert case.find("system-out").text.startswith("understated: ")
    assert root.get("failures") == "0" and root.get("skipped") == "0"


def test_junit_survives_hostile_text() -> None:
    run = golden_run({"complete": True, "dns": [{}], "parties": [
        {"domain": "x\x00\x1b]8;;http://evil\x07<script>&\"'", "entity": "\ud800?", "entity_categories": ["ads"], "first_party": False,
         "attribution": {"role": "third_party_of_vendor", "reasons": ["requested by the vendor's page"]}}]})
    text = to_junit(run)
    root = validate_junit(text)
    assert "\x1b" not in text and "\x00" not in text
    assert any(c.find("failure") is not None for c in root.iter("testcase"))
