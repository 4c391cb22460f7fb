"""Evaluate a claims file against an evidence bundle: one Finding per claim, then the score.

Fail closed: a check that raises gives ``error``; when the evidence is incomplete (an input was read
only partly, a session's files were lost or altered, the capture recorded losses) nothing is
``supported``, ``understated`` or ``not_observable`` -- those become ``inconclusive``, naming why,
since the missing part could overturn them -- while a contradiction already seen stays a
contradiction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import records_lacking_keys, sections_read_once
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
        view["parties"] = [dict(p, first_party=True) if p["first_party"] is not True and matcher.any(party_names(p))
                           else p for p in parties]
        flows = records(bundle, "data_flows")
        if flows is not None:
            view["data_flows"] = [dict(f, first_party=True) if f["first_party"] is not True and matcher.any(
                (f["party"], f["entity"])) else f for f in flows]
    return attributed_view(view, first_party)


MAX_REASONS_NAMED = 3
"""Reasons for incompleteness quoted in one explanation (the rest are counted)."""


def incomplete_reasons(bundle: Mapping[str, Any]) -> tuple[str, ...]:
    """Why the evidence may lack what a check looks for; empty only when it is complete.

    Fail closed: a missing or malformed ``complete`` flag, input entry or session integrity verdict is
    itself a reason.
    """
    reasons = [*_session_reasons(bundle.get("session")), *_input_reasons(bundle.get("inputs")),
               *_left_out_reasons(bundle)]
    if bundle.get("complete") is not True and not reasons:
        warnings = [w for w in bundle.get("warnings") or () if isinstance(w, str)] \
            if isinstance(bundle.get("warnings"), list) else []
        reasons.append("the evidence is marked incomplete" + (f" ({text(warnings[0], 200)})" if warnings else ""))
    return tuple(reasons)


def _session_reasons(session: Any) -> list[str]:
    if session is None:
        return []
    integrity = session.get("integrity") if isinstance(session, Mapping) else None
    if isinstance(integrity, Mapping) and integrity.get("verified") is True:
        return []
    problems = integrity.get("problems") if isinstance(integrity, Mapping) else None
    named = [f"session {text(p, 200)}" for p in (problems if isinstance(problems, list) else []) if isinstance(p, str)]
    return named or ["the session's files were not verified against its manifest"]


def _input_reasons(inputs: Any) -> list[str]:
    if inputs is None:  # no inputs listed: nothing was read in part (the schema requires the key anyway)
        return []
    if not isinstance(inputs, list):
        return ["the list of inputs is malformed"]
    reasons = []
    for entry in inputs:
        if not isinstance(entry, Mapping):
            reasons.append("an input entry is malformed")
        elif entry.get("complete") is not True:
            raw_warnings = entry.get("warnings")
            warnings = raw_warnings if isinstance(raw_warnings, list) else []
            first = next((w for w in warnings if isinstance(w, str)), "no reason recorded")
            reasons.append(f"{text(entry.get('path'), 120) or 'an input'} was read only in part ({text(first, 200)})")
    return reasons


def _left_out_reasons(bundle: Mapping[str, Any]) -> list[str]:
    """Records the typed readers leave out because a required field is missing: the checks never see them."""
    return [f"{count} {section} record{'s' if count != 1 else ''} lacked required fields "
            f"({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}) and {'were' if count != 1 else 'was'} not read"
            for section, (count, keys) in records_lacking_keys(bundle).items()]


def evidence_complete(bundle: Mapping[str, Any]) -> bool:
    return not incomplete_reasons(bundle)


def run_claim(claim: Claim, bundle: Mapping[str, Any], room_link_pattern: str | None, complete: bool,
              incomplete_because: tuple[str, ...] = ()) -> Outcome:
    """The outcome of one claim, fail-closed; ``incomplete_because`` names why evidence is incomplete."""
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
    if not complete and result.verdict in ("supported", "understated", "not_observable"):
        return Outcome("inconclusive", f"Part of the evidence is missing or could not be read ({_named(incomplete_because)}), "
                       f"so what it may hold could contradict this: {result.explanation}", result.evidence)
    return result


def _named(reasons: tuple[str, ...]) -> str:
    if not reasons:
        return "an input is marked incomplete"
    shown = "; ".join(reasons[:MAX_REASONS_NAMED])
    more = len(reasons) - MAX_REASONS_NAMED
    return shown + (f"; and {more} more" if more > 0 else "")


def evaluate(claims_file: ClaimsFile, bundle: Mapping[str, Any]) -> RunResult:
    """Run every claim's check over ``bundle`` (never mutated) and score the findings."""
    if not isinstance(bundle, Mapping):
        bundle = {}
    reasons = incomplete_reasons(bundle)
    complete = not reasons
    view = with_first_party(bundle, claims_file.first_party)
    findings = []
    with sections_read_once():  # the checks read the same sections of the view again and again
        for claim in claims_file.claims:
            result = run_claim(claim, view, claims_file.room_link_pattern, complete, reasons)
            findings.append(Finding(claim=claim, verdict=result.verdict, explanation=result.explanation,
                                    evidence=tuple(result.evidence), fingerprint=fingerprint(claims_file.vendor, claim)))
    raw_inputs = bundle.get("inputs")
    inputs = tuple(i for i in (raw_inputs if isinstance(raw_inputs, list) else []) if isinstance(i, Mapping))
    return RunResult(vendor=claims_file.vendor, claims_path=claims_file.path, findings=tuple(findings),
                     score=score(findings), evidence_complete=complete, inputs=inputs)
