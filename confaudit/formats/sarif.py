"""SARIF 2.1.0 for GitHub code scanning: one rule per claim, results located at the claim's line.

Results point at the claim's line in the claims file, so annotations land on the vendor statement.
``partialFingerprints`` hash vendor, claim id and check only (never evidence), so an alert keeps its
identity across runs. GitHub turns every result into an alert whatever its ``kind`` (see
microsoft/PSRule#955), so by default only claims the evidence disagrees with become results:
contradicted (``kind: fail``, level from severity) and understated (``kind: fail``, level ``note``,
its rule's ``security-severity`` 0.0 like an info claim, so GitHub never ranks it as a high or
critical security alert); a check that crashed becomes a tool execution notification; every other verdict is listed in
``run.properties.otherVerdicts``. ``include_all=True`` emits one result per claim with the spec's
kinds (``pass``, ``review``, ``informational``) for SARIF viewers that honour them.
``run.properties.coverage`` says how many claims (and how much weight) the score rests on.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from confaudit import __version__
from confaudit.formats._safe import clean
from confaudit.jsonio import dumps_canonical
from confaudit.rules.model import Finding, RunResult

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "confauditClaim/v1"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.5", "info": "0.0"}
_FAIL_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_KIND = {"supported": "pass", "contradicted": "fail", "understated": "fail", "not_observable": "review",
         "inconclusive": "review", "error": "review", "document_only": "informational"}
_VERDICT_TEXT = {"supported": "Supported", "contradicted": "Contradicted", "understated": "Understated",
                 "not_observable": "Not observable", "inconclusive": "Inconclusive", "error": "Check error",
                 "document_only": "Document only"}
RESULT_VERDICTS = ("contradicted", "understated")
"""Verdicts that become SARIF results by default (GitHub code scanning alerts)."""


def _level(f: Finding) -> str:
    """SARIF level: from severity for a contradiction, ``note`` for an understatement, else ``none``."""
    if f.verdict == "understated":
        return "note"
    return _FAIL_LEVEL.get(f.severity, "warning") if f.verdict == "contradicted" else "none"


def _rule_name(claim_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", claim_id) if part) or "Claim"


_URI_SAFE = "-._~!$&'()*+,;=@/"
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _uri(path: str) -> str:
    """A path as a relative URI reference (SARIF wants a valid URI: spaces, ':', non-ASCII percent-encoded)."""
    return quote(path.replace("\\", "/"), safe=_URI_SAFE)


def _help_uri(url: str) -> str:
    """An http(s) URL as a valid RFC 3986 URI: characters a URI cannot hold are percent-encoded, escapes kept."""
    return quote(_PCT.sub("%25", url), safe=_URI_SAFE + ":?#[]%")


def _rule(f: Finding, vendor: str) -> dict:
    source = f.source
    statement = clean(f.statement, 1000)
    help_text = (f"{vendor} claims: \"{statement}\" (source: {clean(source.get('title'), 300)}, "
                 f"{clean(source.get('date'), 40)}). confaudit checks it with '{f.check}'.")
    rule: dict[str, Any] = {
        "id": f.claim_id,
        "name": _rule_name(f.claim_id),
        "shortDescription": {"text": clean(f"{vendor}: {statement}", 200)},
        "fullDescription": {"text": statement},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _FAIL_LEVEL.get(f.severity, "warning")},
        "properties": {"tags": list(dict.fromkeys(["confaudit", "vendor-claim", f.category, f.check])),
                       "security-severity": SECURITY_SEVERITY.get(f.severity, "5.5"), "precision": "high",
                       "claim-severity": f.severity},
    }
    if f.verdict == "understated":  # GitHub ranks an alert by security-severity over level: keep it a note
        rule["defaultConfiguration"]["level"] = "note"
        rule["properties"]["security-severity"] = SECURITY_SEVERITY["info"]
    url = str(source.get("url") or "")
    if url.startswith(("https://", "http://")):
        rule["helpUri"] = _help_uri(url)
    return rule


def _result(f: Finding, index: int, uri: str) -> dict:
    message = f"{_VERDICT_TEXT.get(f.verdict, f.verdict)}: {clean(f.explanation, 2000)}"
    result = {
        "ruleId": f.claim_id,
        "ruleIndex": index,
        "kind": _KIND.get(f.verdict, "review"),
        "level": _level(f),
        "message": {"text": message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": uri, "index": 0},
            "region": {"startLine": max(1, f.line), "startColumn": max(1, f.column)},
        }}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {"verdict": f.verdict, "severity": f.severity, "category": f.category,
                       "evidence": [{k: clean(v, 300) for k, v in e.items()} for e in f.evidence]},
    }
    return result


def _notification(f: Finding, index: int) -> dict:
    return {"associatedRule": {"id": f.claim_id, "index": index}, "level": "error",
            "message": {"text": clean(f.explanation, 2000)}}


def to_sarif_dict(run: RunResult, artifact_uri: str | None = None, include_all: bool = False) -> dict:
    uri = _uri(artifact_uri if artifact_uri is not None else run.claims_path)
    vendor = clean(run.vendor, 200)
    indexed = list(enumerate(run.findings))
    shown = indexed if include_all else [(i, f) for i, f in indexed if f.verdict in RESULT_VERDICTS]
    invocation: dict = {"executionSuccessful": not any(f.verdict == "error" for f in run.findings)}
    errors = [_notification(f, i) for i, f in indexed if f.verdict == "error"]
    if errors:
        invocation["toolExecutionNotifications"] = errors
    others = [] if include_all else [{"ruleId": f.claim_id, "verdict": f.verdict, "message": clean(f.explanation, 2000)}
                                     for _, f in indexed if f.verdict not in RESULT_VERDICTS]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "confaudit", "version": __version__, "semanticVersion": __version__,
                                "rules": [_rule(f, vendor) for f in run.findings]}},
            "automationDetails": {"id": f"confaudit/{re.sub(r'[^A-Za-z0-9_.-]+', '-', vendor.lower()) or 'vendor'}/"},
            "artifacts": [{"location": {"uri": uri}, "roles": ["analysisTarget"]}],
            "columnKind": "unicodeCodePoints",
            "invocations": [invocation],
            "results": [_result(f, i, uri) for i, f in shown],
            "properties": {"vendor": vendor, "evidenceComplete": run.evidence_complete,
                           "score": run.score.overall, "coverage": run.score.coverage.to_dict(),
                           "contradictedHigh": list(run.score.contradicted_high), "otherVerdicts": others},
        }],
    }


def to_sarif(run: RunResult, artifact_uri: str | None = None, include_all: bool = False) -> str:
    """SARIF 2.1.0 text; ``artifact_uri`` overrides the claims path (use a repo-relative path)."""
    return dumps_canonical(to_sarif_dict(run, artifact_uri, include_all)) + "\n"
