"""JUnit XML: one testsuite per vendor, one testcase per claim.

contradicted -> <failure>, error -> <error>, not_observable / inconclusive / document_only ->
<skipped> (with the reason), supported and understated -> a passing testcase (an understated claim
denies a protection the evidence shows: never a failure). Every testcase carries a ``verdict``
property (the pytest/Jenkins ``testcase > properties`` form) so readers can tell understated from
supported; the suite's properties carry the tool and its version, the score and its coverage. Follows the common subset that
Jenkins, GitLab and GitHub test reporters read (testsuites > testsuite > testcase).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from confaudit import __version__
from confaudit.formats._safe import xml_text
from confaudit.rules.model import RunResult
from confaudit.rules.scoring import MOSTLY_UNTESTED_CAVEAT, coverage_text

_SKIP_LABEL = {"not_observable": "not observable", "inconclusive": "inconclusive", "document_only": "document only"}


def _evidence_text(finding) -> str:
    lines = [f"{e.get('kind')} {e.get('id')}: {e.get('detail', '')}".rstrip(": ") for e in finding.evidence]
    return "\n".join(xml_text(line, 400) for line in lines)


def to_junit(run: RunResult, claims_uri: str | None = None) -> str:
    """JUnit XML text (UTF-8 declaration included); ``claims_uri`` overrides the claims path shown."""
    vendor = xml_text(run.vendor, 200)
    claims_path = xml_text(claims_uri if claims_uri is not None else run.claims_path, 1000)
    counts = {"tests": len(run.findings), "failures": 0, "errors": 0, "skipped": 0}
    suites = ET.Element("testsuites", name="confaudit")
    suite = ET.SubElement(suites, "testsuite", name=f"confaudit claims: {vendor}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="tool", value="confaudit")
    ET.SubElement(props, "property", name="tool_version", value=__version__)
    ET.SubElement(props, "property", name="claims_file", value=claims_path)
    ET.SubElement(props, "property", name="evidence_complete", value=str(run.evidence_complete).lower())
    ET.SubElement(props, "property", name="score", value="" if run.score.overall is None else f"{run.score.overall:.1f}")
    cov = run.score.coverage
    ET.SubElement(props, "property", name="coverage", value=coverage_text(cov)
                  + (f"; {MOSTLY_UNTESTED_CAVEAT}" if cov.mostly_untested else ""))
    for key in ("claims_tested", "claims_total"):
        ET.SubElement(props, "property", name=key, value=str(getattr(cov, key)))
    for key in ("weight_tested", "weight_total"):
        ET.SubElement(props, "property", name=key, value=f"{getattr(cov, key):g}")
    for f in run.findings:
        case = ET.SubElement(suite, "testcase", name=xml_text(f.claim_id, 200), classname=f"confaudit.{vendor}",
                             file=claims_path, line=str(f.line), time="0")
        case_props = ET.SubElement(case, "properties")
        ET.SubElement(case_props, "property", name="verdict", value=f.verdict)
        message = xml_text(f"[{f.severity}] {f.explanation}", 2000)
        if f.verdict == "contradicted":
            counts["failures"] += 1
            node = ET.SubElement(case, "failure", message=message, type=f"contradicted.{f.severity}")
            node.text = xml_text(f.statement, 2000) + "\n" + _evidence_text(f)
        elif f.verdict == "error":
            counts["errors"] += 1
            node = ET.SubElement(case, "error", message=message, type="check_error")
            node.text = _evidence_text(f)
        elif f.verdict in _SKIP_LABEL:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=xml_text(f"{_SKIP_LABEL[f.verdict]}: {f.explanation}", 2000))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = xml_text(f"{f.verdict}: {f.explanation}", 2000) + "\n" + _evidence_text(f)
    for node in (suites, suite):
        for key, value in counts.items():
            node.set(key, str(value))
        node.set("time", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
