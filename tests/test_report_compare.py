"""Comparison: claims-file matching rule, matrices, Markdown and JSON outputs (pure, no browser)."""

from __future__ import annotations

import re

import pytest

from report_support import PAYLOADS, static_scan
from confaudit.report.compare_view import comparison_view
from confaudit.report.html import render_comparison
from confaudit.report.markdown import comparison_markdown, md_escape
from confaudit.report.matching import ClaimsCandidate, MatchError, match_claims, normalise_vendor
from confaudit.report.synthetic import synthetic_bundle, synthetic_run

ZOOM = ClaimsCandidate("zoom.yaml", "Zoom", ("zoom.us", "zoom.com", "Zoom"))
MEET = ClaimsCandidate("meet.yaml", "Google Meet", ("google.com", "gstatic.com", "Google"))
TEAMS = ClaimsCandidate("teams.yaml", "Microsoft Teams", ("microsoft.com", "skype.com"))
SKYPE = ClaimsCandidate("skype.yaml", "Skype", ("skype.com", "microsoft.com"))


def _bundle_with(**sections: object) -> dict:
    return {"schema_version": "1.0", "inputs": [], "complete": True, "warnings": [], **sections}


def test_manifest_vendor_wins_and_is_normalised() -> None:
    assert normalise_vendor("Google-Meet") == normalise_vendor("google meet") == "googlemeet"
    match = match_claims("google_meet", _bundle_with(parties=[{"domain": "zoom.us"}]), [ZOOM, MEET])
    assert match.candidate is MEET and "manifest vendor" in match.reason
    with pytest.raises(MatchError, match="no claims file has vendor 'Webex'"):
        match_claims("Webex", _bundle_with(), [ZOOM, MEET])
    with pytest.raises(MatchError, match="several claims files"):
        match_claims("Zoom", _bundle_with(), [ZOOM, ClaimsCandidate("zoom2.yaml", "zoom", ())])


def test_first_party_domains_seen_choose_the_claims_file() -> None:
    seen = _bundle_with(parties=[{"domain": "example.net", "hosts": ["us04web.zoom.us"]}])
    assert match_claims("", seen, [ZOOM, MEET]).candidate is ZOOM
    by_cert = _bundle_with(media_path={"endpoints": [{"names": ["*.cloud.zoom.us"]}]})
    assert match_claims("", by_cert, [MEET, ZOOM]).reason == "first party zoom.us seen"
    by_sni = _bundle_with(tls=[{"sni": "meet.google.com", "certificate_names": []}])
    assert match_claims("", by_sni, [ZOOM, MEET]).candidate is MEET


def test_entities_and_lookalike_domains_do_not_match() -> None:
    # Contacting Google Analytics (entity "Google") does not make a capture a Google Meet session.
    analytics = _bundle_with(parties=[{"domain": "google-analytics.com", "entity": "Google", "hosts": ["ssl.google-analytics.com"]}])
    with pytest.raises(MatchError, match="no claims file's first_party was seen"):
        match_claims("", analytics, [ZOOM, MEET])
    lookalike = _bundle_with(parties=[{"domain": "notzoom.us", "hosts": ["evilzoom.us"]}])
    with pytest.raises(MatchError):
        match_claims("", lookalike, [ZOOM])


def test_ambiguous_first_party_is_an_error_naming_the_files() -> None:
    bundle = _bundle_with(tls=[{"sni": "teams.microsoft.com"}])
    with pytest.raises(MatchError, match=r"several claims files: teams\.yaml, skype\.yaml"):
        match_claims("", bundle, [TEAMS, SKYPE])


def _entries(payload: str = "") -> list[dict]:
    a = synthetic_bundle(300, payload=payload, hosts=30)
    b = synthetic_bundle(600, hosts=60)
    b["session"]["vendor"] = "Other"
    run_a = synthetic_run(a, claims=6, payload=payload)
    run_b = synthetic_run(b, claims=4)
    run_b["vendor"] = "Other"
    return [{"run": run_a, "bundle": a, "report_href": "audit-vendor.html"},
            {"run": run_b, "bundle": b, "report_href": "audit-other.html"}]


def test_matrices_link_to_the_vendor_reports_anchors() -> None:
    view = comparison_view(_entries())
    assert [v["name"] for v in view["vendors"]] == ["Vendor", "Other"]
    claim_links = [f["href"] for row in view["verdict_rows"] for cell in row["cells"] for f in cell]
    assert "audit-vendor.html#finding-claim-1" in claim_links and "audit-other.html#finding-claim-3" in claim_links
    assert sum(len(cell) for row in view["verdict_rows"] for cell in row["cells"]) == 10
    party_links = [c["href"] for row in view["third_party_rows"] for c in row["cells"] if c]
    assert party_links and all(re.fullmatch(r"audit-(vendor|other)\.html#party-p\d+", h) for h in party_links)
    assert view["media"][0]["topology"] == "server" and "srtp" in view["media"][0]["streams"]
    html = render_comparison(_entries())
    for section in ("scores", "claims", "data", "third-parties", "media"):
        assert f'id="{section}"' in html


def test_unsafe_report_href_is_not_linked() -> None:
    entries = _entries()
    entries[0]["report_href"] = "javascript:alert(1)"
    entries[1]["report_href"] = "../../etc/passwd"
    view = comparison_view(entries)
    assert all(v["href"] == "" for v in view["vendors"])
    assert all(f["href"].startswith("#") for row in view["verdict_rows"] for cell in row["cells"] for f in cell)


@pytest.mark.parametrize("payload", PAYLOADS[:8])
def test_comparison_html_and_markdown_escape_captured_text(payload: str) -> None:
    entries = _entries(payload)
    scan = static_scan(render_comparison(entries))
    assert scan.handlers == [] and scan.srcs == [] and len(scan.scripts) == 2
    assert all(re.fullmatch(r"(https?://\S+|[A-Za-z0-9_.\-]*#[A-Za-z0-9_.\-]+|audit-[a-z]+\.html)", h) for h in scan.hrefs)
    md = comparison_markdown(comparison_view(entries))
    assert not re.search(r"(?<!\\)<(?!br>)", md)  # every captured < is backslash-escaped
    assert not re.search(r"(?<!\\)\]\(", md) and not re.search(r"(?<!\\)!\[", md)  # no live link or image
    assert md_escape("a|b<i>[x](javascript:y)") == r"a\|b\<i\>\[x\]\(javascript\:y\)"


def test_markdown_and_json_summarise_every_vendor() -> None:
    view = comparison_view(_entries())
    md = comparison_markdown(view)
    assert md.startswith("## confaudit comparison") and "| Overall score | 62 | 62 |" in md
    assert "✗ Contradicted: claim-1" in md
    machine = view["machine"]
    assert machine["format"] == "confaudit-comparison" and len(machine["vendors"]) == 2
