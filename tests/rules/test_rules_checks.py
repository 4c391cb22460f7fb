"""Semgrep-style fixtures: each check kind's rule.yaml beside bundles named <expected verdict>--<case>.json.

A directory ``<kind>.<variant>`` holds the same kind under another rule.yaml (e.g. ``expect: false``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from confaudit.evidence_model import records_lacking_keys
from confaudit.rules.checks import CHECK_KINDS
from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate

from support.bundles import complete_bundle
from support.environment import TESTS

RULES = TESTS / "rules"
CASES = sorted(RULES.glob("*/*.json"))
PASSING = [c for c in CASES if c.stem.split("--", 1)[0] in ("supported", "understated")]


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.stem}"


def _evaluate(case: Path):
    claims = load_claims(case.parent / "rule.yaml")
    bundle = json.loads(case.read_text(encoding="utf-8"))
    return evaluate(claims, bundle).findings[0]


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_fixture_verdict(case: Path) -> None:
    expected = case.stem.split("--", 1)[0]
    finding = _evaluate(case)
    assert finding.verdict == expected, finding.explanation
    assert finding.explanation.endswith(".") and "\n" not in finding.explanation
    if expected == "contradicted":
        assert finding.evidence, "a contradiction must cite evidence"
        assert all({"kind", "id", "detail"} <= set(ref) for ref in finding.evidence)


@pytest.mark.parametrize("case", PASSING, ids=[_case_id(c) for c in PASSING])
def test_a_pass_always_cites_evidence(case: Path) -> None:
    """supported and understated rest on something seen: at least one well-formed evidence reference."""
    finding = _evaluate(case)
    assert finding.verdict in ("supported", "understated")
    assert finding.evidence, f"{finding.verdict} without evidence: {finding.explanation}"
    assert all({"kind", "id", "detail"} <= set(ref) and ref["kind"] and ref["id"] for ref in finding.evidence)


def test_every_check_kind_has_passing_fixtures_walked() -> None:
    walked = {c.parent.name.split(".", 1)[0] for c in PASSING}
    assert walked == set(CHECK_KINDS) - {"document_only"}


def test_understated_only_where_a_claim_denies_a_protection() -> None:
    """E2EE denied but observed -> understated; the same evidence under `expect: true` -> supported."""
    denied = load_claims(RULES / "end_to_end_encryption.expect-false" / "rule.yaml")
    promised = load_claims(RULES / "end_to_end_encryption" / "rule.yaml")
    bundle = json.loads((RULES / "end_to_end_encryption" / "supported--p2p-dtls.json").read_text())
    under = evaluate(denied, bundle).findings[0]
    assert under.verdict == "understated" and "understates" in under.explanation
    assert {r["kind"] for r in under.evidence} == {"dtls", "media_stream"}
    assert evaluate(promised, bundle).findings[0].verdict == "supported"
    bundle["inputs"][0]["complete"] = False  # unread input could hide plain RTP: fail closed
    assert evaluate(denied, bundle).findings[0].verdict == "inconclusive"


@pytest.mark.parametrize("kind", sorted(k for k in CHECK_KINDS if k != "document_only"))
def test_every_kind_has_the_three_verdict_fixtures(kind: str) -> None:
    stems = {p.stem.split("--", 1)[0] for p in (RULES / kind).glob("*.json")}
    assert {"supported", "contradicted", "not_observable"} <= stems


@pytest.mark.parametrize("kind", sorted(k for k in CHECK_KINDS if k != "document_only"))
def test_empty_bundle_never_passes(kind: str) -> None:
    """Fail closed: with no evidence at all no check may say supported."""
    claims = load_claims(RULES / kind / "rule.yaml")
    for bundle in ({}, {"complete": True}, {"complete": True, "http": None, "parties": "junk", "media_streams": [1, "x"]}):
        finding = evaluate(claims, bundle).findings[0]
        assert finding.verdict in ("not_observable", "inconclusive"), (kind, finding)


def test_incomplete_evidence_keeps_contradictions_but_never_supports() -> None:
    claims = load_claims(RULES / "transport_encryption" / "rule.yaml")
    bad = json.loads((RULES / "transport_encryption" / "contradicted--tls10.json").read_text())
    good = json.loads((RULES / "transport_encryption" / "supported--tls12-and-https.json").read_text())
    for bundle in (bad, good):
        bundle["inputs"][0]["complete"] = False
    assert evaluate(claims, bad).findings[0].verdict == "contradicted"
    assert evaluate(claims, good).findings[0].verdict == "inconclusive"


def test_crashing_check_is_an_error_not_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from confaudit.rules import checks

    def boom(bundle, params):
        raise RuntimeError("synthetic failure")

    kind = checks.CHECK_KINDS["media_encryption"]
    monkeypatch.setitem(checks.CHECK_KINDS, "media_encryption", checks.CheckKind(kind.name, boom, kind.params, kind.category))
    claims = load_claims(RULES / "media_encryption" / "rule.yaml")
    finding = evaluate(claims, {"complete": True}).findings[0]
    assert finding.verdict == "error" and "RuntimeError" in finding.explanation


def test_evidence_is_capped_and_counted() -> None:
    claims = load_claims(RULES / "media_encryption" / "rule.yaml")
    bundle = complete_bundle({"complete": True,
                              "media_streams": [{"id": f"m{i}", "encryption": "plain"} for i in range(500)]})
    finding = evaluate(claims, bundle).findings[0]
    assert finding.verdict == "contradicted"
    # 500 streams and the one flow (f0, the completed records' neutral flow id) they name
    assert len(finding.evidence) == 26 and "476 more" in finding.evidence[-1]["detail"]
    assert "500 media streams" in finding.explanation


def test_tls_version_spellings() -> None:
    from confaudit.rules.checks.transport import tls_version

    assert tls_version("TLS 1.2") == tls_version("TLSv1.2") == tls_version("1.2") == tls_version(0x0303) == (3, 3)
    assert tls_version("0x0301") == tls_version("TLSv1") == (3, 1)
    assert tls_version("SSLv3") == (3, 0)
    assert tls_version("DTLS 1.2") == (3, 3)
    assert tls_version("banana") is None and tls_version(True) is None and tls_version(12345) is None


def test_analytics_counts_as_tracking_only_when_asked(tmp_path: Path) -> None:
    rule = (RULES / "no_advertising" / "rule.yaml").read_text()
    page = [["origin", "https://app.vendor.example"], ["sec-fetch-dest", "empty"]]
    bundle = complete_bundle({"complete": True, "dns": [{"name": "x"}], "parties": [
        {"id": "p1", "domain": "google-analytics.com", "entity": "Google", "first_party": False, "entity_categories": ["analytics"],
         "hosts": ["www.google-analytics.com"]}],
        "http": [{"id": "h1", "host": "www.google-analytics.com", "url": "https://www.google-analytics.com/g/collect",
                  "request_headers": page}]})
    assert evaluate(load_claims(RULES / "no_advertising" / "rule.yaml"), bundle).findings[0].verdict == "supported"
    strict = tmp_path / "rule.yaml"
    strict.write_text(rule.replace("    severity: high", "    include_analytics: true\n    severity: high"))
    finding = evaluate(load_claims(strict), bundle).findings[0]
    assert finding.verdict == "contradicted" and "google-analytics.com" in finding.explanation


def test_fixtures_hold_whole_records() -> None:
    """Every record of every fixture carries the keys its schema requires (the readers leave out the others)."""
    partial = {_case_id(c): lacking for c in CASES
               if (lacking := records_lacking_keys(json.loads(c.read_text(encoding="utf-8"))))}
    assert not partial, partial


GOLDEN_BUNDLE = TESTS / "golden" / "bundle.json"
VALIDATED = [*CASES, GOLDEN_BUNDLE]
SCHEMA_EXEMPT: dict[str, str] = {}
"""Fixtures that break the schema on purpose (a hostile-input case: how a check meets a wrong-typed field),
by case id, with the reason. Keep it short: every other fixture is a bundle a producer could have written."""


def _bundle_id(path: Path) -> str:
    return "golden/bundle" if path == GOLDEN_BUNDLE else _case_id(path)


@pytest.mark.parametrize("path", VALIDATED, ids=[_bundle_id(p) for p in VALIDATED])
def test_fixture_is_a_valid_bundle(path: Path) -> None:
    """Every fixture (and the golden bundle) is valid against the whole evidence schema, not only whole records."""
    from confaudit.evidence.schema import validate_bundle

    if _bundle_id(path) in SCHEMA_EXEMPT:
        pytest.skip(f"exempt: {SCHEMA_EXEMPT[_bundle_id(path)]}")
    problems = validate_bundle(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, (f"{path.relative_to(TESTS)}: {len(problems)} schema violation(s): " + "; ".join(problems[:5])
                          + (" ..." if len(problems) > 5 else ""))


def test_schema_exemptions_are_real() -> None:
    """An exemption names an existing fixture that still breaks the schema (or it is dropped)."""
    from confaudit.evidence.schema import validate_bundle

    by_id = {_bundle_id(p): p for p in VALIDATED}
    for case_id, reason in SCHEMA_EXEMPT.items():
        assert case_id in by_id and reason, case_id
        assert validate_bundle(json.loads(by_id[case_id].read_text(encoding="utf-8"))), f"{case_id} is valid: drop its exemption"


def test_srtp_profile_spellings() -> None:
    """The schema writes a DTLS-SRTP profile as '0x0005' (the fixtures do too); an int or a name still reads the same."""
    from confaudit.rules.checks.media import srtp_profile

    null = (5, "SRTP_NULL_HMAC_SHA1_80")
    assert srtp_profile("0x0005") == srtp_profile(5) == srtp_profile("5") == srtp_profile("SRTP_NULL_HMAC_SHA1_80") == null
    assert srtp_profile({"id": 5}) == null
    assert srtp_profile("0x0007") == srtp_profile(7) == (7, "SRTP_AEAD_AES_128_GCM")
    assert srtp_profile(None) == srtp_profile(True) == (None, "")
    assert srtp_profile("0x00ff") == (255, "0x00ff")


def test_a_record_lacking_a_required_key_is_not_read_and_the_evidence_is_incomplete() -> None:
    """Fail closed: a TLS record without its `weak` flag is neither judged nor silently passed over."""
    case = RULES / "transport_encryption" / "supported--tls12-and-https.json"
    bundle = json.loads(case.read_text(encoding="utf-8"))
    assert evaluate(load_claims(case.parent / "rule.yaml"), bundle).findings[0].verdict == "supported"
    del bundle["tls"][0]["weak"]
    finding = evaluate(load_claims(case.parent / "rule.yaml"), bundle).findings[0]
    assert finding.verdict == "inconclusive"
    assert "1 tls record lacked required fields (weak) and was not read" in finding.explanation
