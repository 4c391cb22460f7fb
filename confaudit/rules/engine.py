"""Evaluate a claims file against an evidence bundle: one Finding per claim, then the score.

Fail closed: a check that raises gives ``error``; when the evidence is incomplete (an input was read
only partly) nothing is ``supported`` or ``not_observable`` -- those become ``inconclusive`` --
while a contradiction already seen stays a contradiction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from confaudit.rules.checks import CHECK_KINDS
from confaudit.rules.checks._common import NameMatcher, party_names, records, text
from confaudit.rules.model import Claim, ClaimsFile, Finding, Outcome, RunResult
from confaudit.rules.scoring import score


def fingerprint(vendor: str, claim: Claim) -> str:
    """Stable across runs and evidence: vendor, claim id and check kind."""
    key = "\x1f".join(("confaudit/claim/v1", vendor.lower(), claim.id, claim.check))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def with_first_party(bundle: Mapping[str, Any], first_party: tuple[str, ...]) -> Mapping[str, Any]:
    """A shallow copy whose parties are also marked first-party when the claims file names them, and whose
    records, parties and data flows are attributed again with those names (vendor, third party of the
    vendor, background, unknown: confaudit.telemetry.attribution)."""
    from confaudit.telemetry.attributed import attributed_view

    view = dict(bundle)
    parties = records(bundle, "parties")
    if first_party and parties is not None:
        matcher = NameMatcher(first_party)
        view["parties"] = [dict(p, first_party=True) if p.get("first_party") is not True and matcher.any(party_names(p))
                           else p for p in parties]
        flows = records(bundle, "data_flows")
        if flows is not None:
            view["data_flows"] = [dict(f, first_party=True) if f.get("first_party") is not True and matcher.any(
                (f.get("party"), f.get("entity"))) else f for f in flows]
    return attributed_view(view, first_party)


def evidence_complete(bundle: Mapping[str, Any]) -> bool:
    if bundle.get("complete") is not True:
        return False
    inputs = bundle.get("inputs")
    return all(not isinstance(i, Mapping) or i.get("complete", True) is not False
               for i in (inputs if isinstance(inputs, list) else []))


def run_claim(claim: Claim, bundle: Mapping[str, Any], room_link_pattern: str | None, complete: bool) -> Outcome:
    """The outcome of one claim, fail-closed."""
    if claim.document_only:
        return Outcome("document_only", "No capture can check this statement; it is reported from documents only and never "
                       "scored as a pass.")
    kind = CHECK_KINDS[claim.check]
    params = {**claim.params, "_room_link_pattern": room_link_pattern}
    try:
        result = kind.predicate(bundle, params)  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001 - a check bug must never become a pass
        return Outcome("error", f"The {claim.check} check failed on this evidence ({type(exc).__name__}: "
                       f"{text(exc, 120)}), so the claim was not judged.")
    if not complete and result.verdict in ("supported", "not_observable"):
        return Outcome("inconclusive", "Part of the evidence could not be read (an input is marked incomplete), so this "
                       f"cannot be settled: {result.explanation}", result.evidence)
    return result


def evaluate(claims_file: ClaimsFile, bundle: Mapping[str, Any]) -> RunResult:
    """Run every claim's check over ``bundle`` (never mutated) and score the findings."""
    if not isinstance(bundle, Mapping):
        bundle = {}
    complete = evidence_complete(bundle)
    view = with_first_party(bundle, claims_file.first_party)
    findings = []
    for claim in claims_file.claims:
        result = run_claim(claim, view, claims_file.room_link_pattern, complete)
        findings.append(Finding(
            claim_id=claim.id, statement=claim.statement, source=claim.source, check=claim.check, params=claim.params,
            severity=claim.severity, category=claim.category, verdict=result.verdict, explanation=result.explanation,
            evidence=tuple(result.evidence), line=claim.line, column=claim.column,
            fingerprint=fingerprint(claims_file.vendor, claim), document_only=claim.document_only))
    raw_inputs = bundle.get("inputs")
    inputs = tuple(i for i in (raw_inputs if isinstance(raw_inputs, list) else []) if isinstance(i, Mapping))
    return RunResult(vendor=claims_file.vendor, claims_path=claims_file.path, findings=tuple(findings),
                     score=score(findings), evidence_complete=complete, inputs=inputs)
