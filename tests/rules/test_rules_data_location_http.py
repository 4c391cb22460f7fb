"""data_location judges http records' servers themselves (not only their party's countries): the verdict cites them."""

from __future__ import annotations

import json

import pytest

from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate

from support.environment import REPO

FIXTURES = REPO / "tests" / "rules" / "data_location"


@pytest.mark.parametrize(("name", "cited"), [("supported--har-only", {"h1", "h2"}),
                                             ("contradicted--har-http-server-us", {"h2"}),
                                             ("inconclusive--har-http-server-not-located", {"h1", "h2"}),
                                             ("supported--har-background-not-judged", {"h1", "h2"})])
def test_http_servers_are_cited(name: str, cited: set[str]) -> None:
    finding = evaluate(load_claims(FIXTURES / "rule.yaml"), json.loads((FIXTURES / f"{name}.json").read_text())).findings[0]
    assert {e["id"] for e in finding.evidence if e["kind"] == "http"} == cited, finding.explanation
    assert not any(f"[p{n}]" in finding.explanation for n in (1, 2))  # not judged through the party fallback
