"""Bounded fuzzing: hostile or malformed bundle sections must never crash a check (no `error` verdicts)."""

from __future__ import annotations

import copy
import json
import random

import pytest

from confaudit.formats.junit import to_junit
from confaudit.formats.markdown import to_markdown
from confaudit.formats.sarif import to_sarif
from confaudit.rules.claims import load_claims
from confaudit.rules.diff import diff_bundles
from confaudit.rules.engine import evaluate

from support.environment import TESTS

RULES = TESTS / "rules"
WEIRD = [None, True, 0, -1, 2**70, 1.5e308, float("inf"), "", "x" * 5000, "\x00\x1b[2J\u202e", [], {}, [None], [[]],
         {"id": {"nested": 1}}, ["0x0005"], {"kind": None, "id": None}]


def _mutate(value, rng: random.Random, depth: int = 0):
    if depth > 4 or rng.random() < 0.15:
        return copy.deepcopy(rng.choice(WEIRD))
    if isinstance(value, dict):
        out = {k: _mutate(v, rng, depth + 1) if rng.random() < 0.5 else v for k, v in value.items()}
        if rng.random() < 0.2 and out:
            out.pop(rng.choice(list(out)))
        return out
    if isinstance(value, list):
        return [_mutate(v, rng, depth + 1) for v in value] + ([copy.deepcopy(rng.choice(WEIRD))] if rng.random() < 0.3 else [])
    return value


@pytest.mark.parametrize("kind", sorted(p.parent.name for p in RULES.glob("*/rule.yaml")))
def test_mutated_bundles_never_crash_checks(kind: str) -> None:
    rng = random.Random(f"confaudit-{kind}")
    claims = load_claims(RULES / kind / "rule.yaml")
    seeds = [json.loads(p.read_text()) for p in sorted((RULES / kind).glob("*.json"))]
    seeds.append(json.loads((TESTS / "golden" / "bundle.json").read_text()))
    for i in range(150):
        bundle = _mutate(rng.choice(seeds), rng)
        run = evaluate(claims, bundle)
        finding = run.findings[0]
        assert finding.verdict != "error", (kind, i, finding.explanation)
        to_sarif(run), to_junit(run), to_markdown(run)
        diff_bundles(bundle, rng.choice(seeds))
