"""Scores from findings: per rubric category and overall, weights read from ``rubric.yaml``.

A category's score is the severity-weighted share of its checked claims (supported or
contradicted) that were supported. not_observable, inconclusive, error and document_only claims
are counted but never scored as passes. A contradicted high or critical claim caps the overall
score below the pass mark and is always listed beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from confaudit.rules.model import CHECKED_VERDICTS, VERDICTS, Finding, Score, severity_rank

SEVERITY_WEIGHTS = {"info": 0.5, "low": 1.0, "medium": 2.0, "high": 3.0, "critical": 4.0}
CAP_WITH_HIGH_CONTRADICTION = 49.0
"""Highest overall score a run with a contradicted high/critical claim can get."""


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
            "supported": 0, "contradicted": 0, "unchecked": 0, "_won": 0.0, "_total": 0.0,
        })
        entry["claims"] += 1
        if f.verdict in CHECKED_VERDICTS:
            weight = SEVERITY_WEIGHTS.get(f.severity, 1.0)
            entry["_total"] += weight
            if f.verdict == "supported":
                entry["_won"] += weight
                entry["supported"] += 1
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
    return Score(overall=overall, by_category=dict(sorted(by_category.items())), contradicted_high=high,
                 counts={k: v for k, v in counts.items()}, capped_reason=capped_reason)
