"""Scores from findings: per rubric category and overall, weights read from ``rubric.yaml``.

A category's score is the severity-weighted share of its checked claims (supported, understated or
contradicted) that passed (supported or understated: an understated claim denies a protection the
evidence shows, so it never lowers a score). not_observable, inconclusive, error and document_only
claims are counted but never scored. A contradicted high or critical claim caps the overall score
below the pass mark and is always listed beside it.

Every score carries its coverage: how many claims, and how much claim weight (category weight x
severity weight), the evidence tested. When fewer than half of the claims or less than half of the
weight was tested, the score is shown with a caveat beside it (``mostly_untested``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from confaudit.rules.model import CHECKED_VERDICTS, PASSING_VERDICTS, VERDICTS, Coverage, Finding, Score, severity_rank

SEVERITY_WEIGHTS = {"info": 0.5, "low": 1.0, "medium": 2.0, "high": 3.0, "critical": 4.0}
CAP_WITH_HIGH_CONTRADICTION = 49.0
"""Highest overall score a run with a contradicted high/critical claim can get."""
MOSTLY_UNTESTED_CAVEAT = "most claims untested: this score rests on a minority of what the vendor claims"
"""Shown beside an overall score whose coverage is ``mostly_untested``."""


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion (a score category)."""

    id: str
    """Category id used by claims."""
    title: str
    """Human title."""
    verifiable: str
    """capture | document."""
    weight: float
    """Weight of the category in the overall score."""
    sources: tuple[str, ...]
    """Rubric sources, e.g. ``nsa2020:1`` (criterion 1 of the NSA guidance)."""


@lru_cache(maxsize=1)
def rubric() -> dict[str, Criterion]:
    """The shipped rubric, keyed by criterion id."""
    import yaml

    text = resources.files("confaudit.rules").joinpath("rubric.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {c["id"]: Criterion(id=c["id"], title=c["title"], verifiable=c["verifiable"], weight=float(c["weight"]),
                               sources=tuple(c.get("sources", ()))) for c in data["criteria"]}


def rubric_sources() -> dict[str, Mapping[str, str]]:
    import yaml

    text = resources.files("confaudit.rules").joinpath("rubric.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text).get("sources", {}))


def claim_weight(category: str, severity: str, criteria: Mapping[str, Criterion]) -> float:
    """A claim's weight in coverage: its category's rubric weight (1 if unknown) times its severity weight."""
    crit = criteria.get(category)
    return (crit.weight if crit else 1.0) * SEVERITY_WEIGHTS.get(severity, 1.0)


def coverage(claims: Iterable[tuple[str, str, str, str]], criteria: Mapping[str, Criterion] | None = None) -> Coverage:
    """Coverage of ``(claim_id, verdict, severity, category)`` tuples (one per claim, file order)."""
    criteria = rubric() if criteria is None else criteria
    total = tested = 0
    weight_total = weight_tested = 0.0
    untested = []
    for claim_id, verdict, severity, category in claims:
        weight = claim_weight(category, severity, criteria)
        total += 1
        weight_total += weight
        if verdict in CHECKED_VERDICTS:
            tested += 1
            weight_tested += weight
        else:
            untested.append({"claim_id": claim_id, "verdict": verdict})
    mostly = total > 0 and (2 * tested < total or 2 * weight_tested < weight_total)
    return Coverage(claims_total=total, claims_tested=tested, weight_total=round(weight_total, 2),
                    weight_tested=round(weight_tested, 2), untested=tuple(untested), mostly_untested=mostly)


def coverage_text(cov: Coverage | Mapping[str, Any]) -> str:
    """'tested 3 of 10 claims (weight 14 of 52)' from a Coverage or its ``to_dict()``."""
    c = cov.to_dict() if isinstance(cov, Coverage) else cov
    total = c["claims_total"]
    return (f"tested {c['claims_tested']} of {total} claim{'' if total == 1 else 's'} "
            f"(weight {c['weight_tested']:g} of {c['weight_total']:g})")


def score(findings: Iterable[Finding], criteria: Mapping[str, Criterion] | None = None) -> Score:
    """Score findings; categories unknown to the rubric get weight 1 and count as capture-verifiable."""
    criteria = rubric() if criteria is None else criteria
    items = list(findings)
    counts = {v: 0 for v in VERDICTS}
    for f in items:
        counts[f.verdict] = counts.get(f.verdict, 0) + 1
    by_category: dict[str, dict[str, Any]] = {}
    for f in items:
        crit = criteria.get(f.category)
        entry = by_category.setdefault(f.category, {
            "score": None, "weight": crit.weight if crit else 1.0, "claims": 0,
            "verifiable": crit.verifiable if crit else "capture", "title": crit.title if crit else f.category,
            "supported": 0, "understated": 0, "contradicted": 0, "unchecked": 0, "_won": 0.0, "_total": 0.0,
        })
        entry["claims"] += 1
        if f.verdict in CHECKED_VERDICTS:
            weight = SEVERITY_WEIGHTS.get(f.severity, 1.0)
            entry["_total"] += weight
            if f.verdict in PASSING_VERDICTS:
                entry["_won"] += weight
                entry[f.verdict] += 1
            else:
                entry["contradicted"] += 1
        else:
            entry["unchecked"] += 1
    weighted, weight_sum = 0.0, 0.0
    for entry in by_category.values():
        won, total = entry.pop("_won"), entry.pop("_total")
        if total > 0:
            raw = 100.0 * won / total
            entry["score"] = round(raw, 1)
            weighted += raw * entry["weight"]
            weight_sum += entry["weight"]
    overall = round(weighted / weight_sum, 1) if weight_sum else None
    high = tuple(f.claim_id for f in items
                 if f.verdict == "contradicted" and severity_rank(f.severity) >= severity_rank("high"))
    capped_reason = None
    if high and overall is not None and overall > CAP_WITH_HIGH_CONTRADICTION:
        overall = CAP_WITH_HIGH_CONTRADICTION
        capped_reason = (f"capped at {CAP_WITH_HIGH_CONTRADICTION:.0f} because high-severity claims were contradicted: "
                         + ", ".join(high))
    elif high:
        capped_reason = "high-severity claims were contradicted: " + ", ".join(high)
    covered = coverage(((f.claim_id, f.verdict, f.severity, f.category) for f in items), criteria)
    return Score(overall=overall, by_category=dict(sorted(by_category.items())), contradicted_high=high,
                 counts={k: v for k, v in counts.items()}, capped_reason=capped_reason, coverage=covered)
