"""Scores: rubric as data, per-category weighting, document-only never a pass, high contradictions never hidden."""

from __future__ import annotations

from confaudit.rules.model import Finding
from confaudit.rules.scoring import CAP_WITH_HIGH_CONTRADICTION, rubric, score


def _finding(claim_id: str, verdict: str, severity: str = "medium", category: str = "transport_encryption") -> Finding:
    return Finding(claim_id=claim_id, statement="s", source={}, check="transport_encryption", params={}, severity=severity,
                   category=category, verdict=verdict, explanation="e.", evidence=(), line=1, column=1,
                   fingerprint="f", document_only=verdict == "document_only")


def test_rubric_covers_nsa_and_eff_criteria_with_verifiability() -> None:
    criteria = rubric()
    sources = {s.split(":")[0] + ":" + s.split(":")[1] for c in criteria.values() for s in c.sources if ":" in s}
    assert {f"nsa2020:{i}" for i in range(1, 10)} <= sources
    assert {f"eff2014:{i}" for i in range(1, 8)} <= sources
    assert {c.verifiable for c in criteria.values()} == {"capture", "document"}
    assert criteria["end_to_end_encryption"].verifiable == "capture"
    assert criteria["data_deletion"].verifiable == "document"
    assert all(c.weight > 0 for c in criteria.values())


def test_only_checked_verdicts_score() -> None:
    result = score([_finding("a", "supported"), _finding("b", "not_observable"), _finding("c", "document_only", category="data_deletion"),
                    _finding("d", "inconclusive"), _finding("e", "error")])
    assert result.overall == 100.0
    assert result.by_category["data_deletion"]["score"] is None
    assert result.by_category["data_deletion"]["verifiable"] == "document"
    assert result.counts["document_only"] == 1 and result.counts["error"] == 1


def test_nothing_checkable_gives_no_score() -> None:
    result = score([_finding("a", "not_observable"), _finding("b", "document_only", category="open_source")])
    assert result.overall is None and result.contradicted_high == ()


def test_severity_and_category_weights() -> None:
    result = score([_finding("a", "supported", "low"), _finding("b", "contradicted", "medium"),
                    _finding("c", "supported", "medium", category="media_path")])
    assert result.by_category["transport_encryption"]["score"] == round(100 * 1 / 3, 1)
    assert result.by_category["media_path"]["score"] == 100.0
    w_t, w_m = rubric()["transport_encryption"].weight, rubric()["media_path"].weight
    assert result.overall == round((100 / 3 * w_t + 100 * w_m) / (w_t + w_m), 1)
    assert result.capped_reason is None


def test_contradicted_high_is_never_hidden() -> None:
    findings = [_finding(f"ok{i}", "supported", "critical") for i in range(20)] + [_finding("bad", "contradicted", "high", "media_path")]
    result = score(findings)
    assert result.contradicted_high == ("bad",)
    assert result.overall == CAP_WITH_HIGH_CONTRADICTION
    assert "bad" in result.capped_reason
    low = score([_finding("x", "contradicted", "critical")])
    assert low.overall == 0.0 and "x" in low.capped_reason
