"""Scores: rubric as data, per-category weighting, document-only never a pass, high contradictions never hidden."""

from __future__ import annotations

from confaudit.rules.model import Claim, Finding
from confaudit.rules.scoring import CAP_WITH_HIGH_CONTRADICTION, rubric, score


def _finding(claim_id: str, verdict: str, severity: str = "medium", category: str = "transport_encryption") -> Finding:
    claim = Claim(id=claim_id, statement="s", source={}, check="transport_encryption", params={}, severity=severity,
                  category=category, line=1, column=1, document_only=verdict == "document_only")
    return Finding(claim=claim, verdict=verdict, explanation="e.", evidence=(), fingerprint="f")


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


def test_understated_never_lowers_a_score_and_counts_as_a_pass() -> None:
    bases = ([], [_finding("c", "contradicted")], [_finding("s", "supported")],
             [_finding("c", "contradicted"), _finding("s", "supported", "high", "media_path")])
    for base in bases:
        with_under = score(base + [_finding("u", "understated", "high")])
        before = score(base).overall
        assert with_under.overall is not None and (before is None or with_under.overall >= before)
        as_supported = score(base + [_finding("u", "supported", "high")])
        assert with_under.overall == as_supported.overall
    result = score([_finding("u", "understated", "critical"), _finding("c", "contradicted", "low")])
    entry = result.by_category["transport_encryption"]
    assert (entry["understated"], entry["supported"], entry["contradicted"]) == (1, 0, 1)
    assert result.counts["understated"] == 1 and result.contradicted_high == () and result.capped_reason is None


def test_coverage_counts_claims_and_weight() -> None:
    from confaudit.rules.scoring import coverage_text

    findings = [_finding("a", "supported", "high"), _finding("b", "not_observable", "low"),
                _finding("c", "document_only", "medium", category="data_deletion"), _finding("d", "understated", "low")]
    cov = score(findings).coverage
    w_t, w_d = rubric()["transport_encryption"].weight, rubric()["data_deletion"].weight
    assert (cov.claims_total, cov.claims_tested) == (4, 2)
    assert (cov.weight_tested, cov.weight_total) == (w_t * 4, w_t * 5 + w_d * 2)
    assert [u["claim_id"] for u in cov.untested] == ["b", "c"] and cov.mostly_untested is False
    assert coverage_text(cov) == f"tested 2 of 4 claims (weight {w_t * 4:g} of {w_t * 5 + w_d * 2:g})"
    assert coverage_text(cov.to_dict()) == coverage_text(cov)


def test_mostly_untested_by_count_or_by_weight() -> None:
    one_of_five = score([_finding("a", "supported")] + [_finding(f"n{i}", "not_observable") for i in range(4)])
    assert one_of_five.overall == 100.0 and one_of_five.coverage.mostly_untested is True
    half = score([_finding("a", "supported"), _finding("b", "not_observable")])
    assert half.coverage.mostly_untested is False  # exactly half is not "most"
    # 3 of 4 claims tested, but the untested one is critical: 3 low (weight 3) against critical (weight 4).
    light = score([_finding(f"l{i}", "supported", "low") for i in range(3)] + [_finding("x", "inconclusive", "critical")])
    assert light.coverage.claims_tested == 3 and light.coverage.mostly_untested is True
    assert score([]).coverage.mostly_untested is False
