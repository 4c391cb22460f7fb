"""The room_links check over a scan its limits stopped: ``error`` naming the limit, never "no links"; one
scan per evaluation however many room_links claims the file has."""

from __future__ import annotations

from pathlib import Path

import pytest

from confaudit.rules.checks import rooms
from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate
from confaudit import room_link_stats

from support.bundles import complete_bundle

CLAIM = """  - id: links{n}
    statement: "Room links are hard to guess."
    source: {{title: t, url: "https://example.test/p", date: "2024-01-01"}}
    check: room_links
    min_entropy_bits: 40
    severity: high
"""


def _claims(tmp_path: Path, pattern: str, count: int) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(f"vendor: Example Rooms\nroom_link_pattern: '{pattern}'\nclaims:\n"
                    + "".join(CLAIM.format(n=n) for n in range(count)), encoding="utf-8")
    return path


def _bundle(urls: list[str]) -> dict:
    """As telemetry writes it: the URLs in http[] and again in room_links.candidate_urls."""
    return complete_bundle({"complete": True, "inputs": [{"path": "call.har", "complete": True}],
                            "http": [{"id": f"h{i}", "url": url, "host": "rooms.example.test"} for i, url in enumerate(urls)],
                            "room_links": {"candidate_urls": list(dict.fromkeys(urls))}})


def test_a_scan_stopped_by_the_match_limit_is_inconclusive_not_no_links(tmp_path: Path) -> None:
    run = evaluate(load_claims(_claims(tmp_path, "(x)?a", 1)), _bundle(["https://rooms.test/r/" + "a" * 99_000]))
    finding = run.findings[0]
    assert finding.verdict == "inconclusive"
    assert finding.explanation.startswith("Matching the room_link_pattern was stopped by its limit of matches after "
                                          "0 of 1 texts, so room links were not judged")


def test_many_room_link_claims_share_one_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = room_link_stats.analyze_room_links

    def counted(urls: list[str], pattern: str) -> dict:
        calls.append(pattern)
        return real(urls, pattern)

    monkeypatch.setattr(room_link_stats, "analyze_room_links", counted)
    rooms._analysis.cache_clear()
    ids = ["Q1w2E3r4T5", "Zz9Yy8Xx7W", "Mn4Bv5Cx6Z"]
    run = evaluate(load_claims(_claims(tmp_path, r"/r/([A-Za-z0-9]{10})", 50)),
                   _bundle([f"https://rooms.example.test/r/{i}" for i in ids]))
    assert {f.verdict for f in run.findings} == {"supported"} and len(run.findings) == 50
    assert calls == [r"/r/([A-Za-z0-9]{10})"]


def test_the_claims_pattern_is_applied_to_the_sections_candidates_only(tmp_path: Path) -> None:
    """The check judges the room_links section: URLs only in http[] (a bundle without telemetry's section) are not
    scanned again, and the section's candidates are, whatever http[] says."""
    rooms._analysis.cache_clear()
    claims = load_claims(_claims(tmp_path, r"/r/([A-Za-z0-9]{10})", 1))
    urls = [f"https://rooms.example.test/r/{i}" for i in ("Q1w2E3r4T5", "Zz9Yy8Xx7W", "Mn4Bv5Cx6Z")]
    without_section = {k: v for k, v in _bundle(urls).items() if k != "room_links"}
    finding = evaluate(claims, without_section).findings[0]
    assert finding.verdict == "not_observable" and "no room-link candidates" in finding.explanation
    only_section = dict(_bundle(urls), http=[])
    assert evaluate(claims, only_section).findings[0].verdict == "supported"
