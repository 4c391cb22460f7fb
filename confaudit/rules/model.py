"""Records of the rules engine: claims, findings, scores and a run's result (all frozen, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")
VERDICTS = ("supported", "contradicted", "understated", "not_observable", "inconclusive", "error", "document_only")
PASSING_VERDICTS = ("supported", "understated")
"""Verdicts scored as a pass: the evidence shows the protection the rubric criterion asks for.

``understated``: the claim denies a protection (``expect: false``) that the evidence shows present.
The statement is wrong in the user's favour, so it never lowers a score and never fails ``--fail-on``."""
CHECKED_VERDICTS = ("supported", "contradicted", "understated")
"""Verdicts that count in a score (the claim was tested); every other verdict is reported but never scored."""


def severity_rank(severity: str) -> int:
    """0 for info ... 4 for critical; unknown severities rank highest so they are never ignored."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Claim:
    """One vendor statement and the check that tests it."""

    id: str
    """Stable identifier, unique in its file (SARIF ruleId, JUnit testcase name)."""
    statement: str
    """The vendor's own words."""
    source: Mapping[str, str]
    """Where the vendor said it: ``title``, ``url``, ``date``."""
    check: str
    """Check kind (``transport_encryption`` ...) or ``document_only``."""
    params: Mapping[str, Any]
    """The check's parameters, with defaults filled in."""
    severity: str
    """info|low|medium|high|critical: how bad it is when the claim is contradicted."""
    category: str
    """Rubric criterion id the claim scores under."""
    line: int
    """1-based line of the claim in the claims file."""
    column: int
    """1-based column of the claim in the claims file."""
    document_only: bool
    """True when no capture can check the claim (deletion, audits, server-side listening)."""

    def to_dict(self) -> dict[str, Any]:
        return _plain({
            "id": self.id, "statement": self.statement, "source": dict(self.source), "check": self.check,
            "params": dict(self.params), "severity": self.severity, "category": self.category,
            "line": self.line, "column": self.column, "document_only": self.document_only,
        })


@dataclass(frozen=True)
class ClaimsFile:
    """A parsed, validated claims file."""

    path: str
    """The file as given on the command line (used for SARIF locations)."""
    vendor: str
    """Vendor name."""
    first_party: tuple[str, ...]
    """Domains or entities that are the vendor itself."""
    room_link_pattern: str | None
    """Regex matching the vendor's room links, if given."""
    claims: tuple[Claim, ...]
    """Claims in file order."""
    entity_lists: tuple[str, ...] = ()
    """Entity maps the file names (paths beside it): loaded with the built-in map, as ``--entity-list`` would be."""
    country_table: str | None = None
    """The offline country table the file names (a path beside it), as ``analyze --country-table`` would read it."""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "vendor": self.vendor, "first_party": list(self.first_party),
                "room_link_pattern": self.room_link_pattern, "claims": [c.to_dict() for c in self.claims]}


@dataclass(frozen=True)
class Outcome:
    """What a check predicate concluded, before the engine dresses it as a Finding."""

    verdict: str
    """One of VERDICTS."""
    explanation: str
    """One sentence a journalist could quote."""
    evidence: tuple[Mapping[str, str], ...] = ()
    """Evidence references ``{kind, id, detail}``."""


@dataclass(frozen=True)
class Finding:
    """The verdict on one claim, with its evidence. The claim's own fields are read through it (``finding.severity``)."""

    claim: Claim
    """The claim judged (its id, the vendor's words, source, check and parameters, severity, place in the file)."""
    verdict: str
    """supported|contradicted|understated|not_observable|inconclusive|error|document_only."""
    explanation: str
    """One quotable sentence."""
    evidence: tuple[Mapping[str, str], ...]
    """Evidence references ``{kind, id, detail}`` (flow, packet, http, websocket, media_stream, party ...)."""
    fingerprint: str
    """Stable hash of vendor, claim id and check (same claim -> same fingerprint across runs)."""

    @property
    def claim_id(self) -> str:
        return self.claim.id

    @property
    def statement(self) -> str:
        return self.claim.statement

    @property
    def source(self) -> Mapping[str, str]:
        return self.claim.source

    @property
    def check(self) -> str:
        return self.claim.check

    @property
    def params(self) -> Mapping[str, Any]:
        return self.claim.params

    @property
    def severity(self) -> str:
        return self.claim.severity

    @property
    def category(self) -> str:
        return self.claim.category

    @property
    def line(self) -> int:
        return self.claim.line

    @property
    def column(self) -> int:
        return self.claim.column

    @property
    def document_only(self) -> bool:
        return self.claim.document_only

    def to_dict(self) -> dict[str, Any]:
        c = self.claim
        return _plain({
            "claim_id": c.id, "statement": c.statement, "source": dict(c.source),
            "check": c.check, "params": dict(c.params), "severity": c.severity,
            "category": c.category, "verdict": self.verdict, "explanation": self.explanation,
            "evidence": [dict(e) for e in self.evidence], "line": c.line, "column": c.column,
            "fingerprint": self.fingerprint, "document_only": c.document_only,
        })


@dataclass(frozen=True)
class Coverage:
    """How much of a claims file a score rests on: the claims the evidence tested, by count and by weight."""

    claims_total: int
    """Every claim in the file (M), document-only ones included."""
    claims_tested: int
    """Claims the evidence settled (N): supported, understated or contradicted."""
    weight_total: float
    """Sum of every claim's weight (T); a claim weighs its rubric category's weight times its severity weight."""
    weight_tested: float
    """Weight of the tested claims (W)."""
    untested: tuple[Mapping[str, str], ...]
    """``{claim_id, verdict}`` of every claim not tested (not observable, inconclusive, error, document only)."""
    mostly_untested: bool
    """True when fewer than half of the claims, or less than half of the weight, was tested: the score needs a caveat."""

    def to_dict(self) -> dict[str, Any]:
        return _plain({"claims_total": self.claims_total, "claims_tested": self.claims_tested,
                       "weight_total": self.weight_total, "weight_tested": self.weight_tested,
                       "untested": [dict(u) for u in self.untested], "mostly_untested": self.mostly_untested})


@dataclass(frozen=True)
class Score:
    """Scores of one run: overall and per rubric category."""

    overall: float | None
    """0-100, or None when no claim could be checked."""
    by_category: Mapping[str, Mapping[str, Any]]
    """category -> {score (0-100 or None), weight, claims (count), verifiable (capture|document)}."""
    contradicted_high: tuple[str, ...]
    """Ids of contradicted claims of severity high or critical (always shown beside the score)."""
    counts: Mapping[str, int]
    """verdict -> number of findings."""
    capped_reason: str | None
    """Why the overall score was capped, if it was."""
    coverage: Coverage
    """How many claims (and how much weight) the score rests on; shown beside every overall score."""

    def to_dict(self) -> dict[str, Any]:
        return _plain({"overall": self.overall, "by_category": self.by_category,
                       "contradicted_high": list(self.contradicted_high), "counts": dict(self.counts),
                       "capped_reason": self.capped_reason, "coverage": self.coverage.to_dict()})


@dataclass(frozen=True)
class RunResult:
    """Everything one ``check``/``score`` run produced."""

    vendor: str
    """Vendor of the claims file."""
    claims_path: str
    """Claims file path as given."""
    findings: tuple[Finding, ...]
    """One finding per claim, in file order."""
    score: Score
    """Scores."""
    evidence_complete: bool
    """False when any input was read only partly."""
    inputs: tuple[Mapping[str, Any], ...] = field(default=())
    """The bundle's ``inputs[]`` (provenance)."""

    def to_dict(self) -> dict[str, Any]:
        return _plain({"vendor": self.vendor, "claims_path": self.claims_path,
                       "findings": [f.to_dict() for f in self.findings], "score": self.score.to_dict(),
                       "evidence_complete": self.evidence_complete, "inputs": [dict(i) for i in self.inputs]})
