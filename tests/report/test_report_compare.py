"""Comparison: claims-file matching rule, matrices, Markdown and JSON outputs (pure, no browser)."""

from __future__ import annotations

from confaudit.redact import Redactor
import re

import pytest

from support.environment import REPO
from support.report_support import PAYLOADS, static_scan
from confaudit.report.compare_view import comparison_view
from confaudit.report.html import render_comparison
from confaudit.report.markdown import comparison_markdown, md_escape
from confaudit.report.matching import ClaimsCandidate, MatchError, match_claims, normalise_vendor
from benchmarks.synth_report import synthetic_bundle, synthetic_run

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
    view = comparison_view(_entries(), redactor=Redactor.default())
    assert [v["name"] for v in view["vendors"]] == ["Vendor", "Other"]
    claim_links = [f["href"] for row in view["verdict_rows"] for cell in row["cells"] for f in cell]
    assert "audit-vendor.html#finding-claim-1" in claim_links and "audit-other.html#finding-claim-3" in claim_links
    assert sum(len(cell) for row in view["verdict_rows"] for cell in row["cells"]) == 10
    party_links = [c["href"] for row in view["third_party_rows"] for c in row["cells"] if c]
    assert party_links and all(re.fullmatch(r"audit-(vendor|other)\.html#party-p\d+", h) for h in party_links)
    assert view["media"][0]["topology"] == "server" and "srtp" in view["media"][0]["streams"]
    html = render_comparison(_entries(), redactor=Redactor.default())
    for section in ("scores", "claims", "data", "third-parties", "media"):
        assert f'id="{section}"' in html


def test_unsafe_report_href_is_not_linked() -> None:
    entries = _entries()
    entries[0]["report_href"] = "javascript:alert(1)"
    entries[1]["report_href"] = "../../etc/passwd"
    view = comparison_view(entries, redactor=Redactor.default())
    assert all(v["href"] == "" for v in view["vendors"])
    assert all(f["href"].startswith("#") for row in view["verdict_rows"] for cell in row["cells"] for f in cell)


@pytest.mark.parametrize("payload", PAYLOADS[:8])
def test_comparison_html_and_markdown_escape_captured_text(payload: str) -> None:
    entries = _entries(payload)
    scan = static_scan(render_comparison(entries, redactor=Redactor.default()))
    assert scan.handlers == [] and scan.srcs == [] and len(scan.scripts) == 2
    assert all(re.fullmatch(r"(https?://\S+|[A-Za-z0-9_.\-]*#[A-Za-z0-9_.\-]+|audit-[a-z]+\.html)", h) for h in scan.hrefs)
    md = comparison_markdown(comparison_view(entries, redactor=Redactor.default()))
    assert not re.search(r"(?<!\\)<(?!br>)", md)  # every captured < is backslash-escaped
    assert not re.search(r"(?<!\\)\]\(", md) and not re.search(r"(?<!\\)!\[", md)  # no live link or image
    assert md_escape("a|b<i>[x](javascript:y)") == r"a\|b\<i\>\[x\]\(javascript\:y\)"


def test_markdown_and_json_summarise_every_vendor() -> None:
    view = comparison_view(_entries(), redactor=Redactor.default())
    md = comparison_markdown(view)
    caveat = "62 ⚠️ most claims untested: this score rests on a minority of what the vendor claims"
    assert md.startswith("## confaudit comparison") and f"| Overall score | {caveat} | {caveat} |" in md
    assert "| Coverage | tested 2 of 6 claims (weight 8 of 32) | tested 2 of 4 claims (weight 8 of 24) |" in md
    assert "✗ Contradicted: claim-1" in md and "| ↑ Understated | 0 | 0 |" in md
    machine = view["machine"]
    assert machine["format"] == "confaudit-comparison" and len(machine["vendors"]) == 2
    assert machine["vendors"][0]["coverage"]["claims_tested"] == 2 and machine["vendors"][0]["coverage"]["caveat"]


def test_score_is_never_bare_when_most_claims_are_untested() -> None:
    entries = _entries()
    html = render_comparison(entries, redactor=Redactor.default())
    cell = html[html.index("<th>Overall (0–100)</th>"):]
    cell = cell[:cell.index("</tr>")]
    assert cell.count("tested 2 of") == 2 and cell.count("most claims untested") == 2
    for finding in entries[0]["run"]["findings"]:  # every claim tested: coverage stays, the caveat goes
        finding["verdict"] = "supported"
    view = comparison_view(entries, redactor=Redactor.default())
    assert view["vendors"][0]["coverage"]["caveat"] is None and view["vendors"][0]["coverage"]["text"].startswith("tested 6 of 6")
    assert view["vendors"][1]["coverage"]["caveat"]


def _evaluated(session, claims_path) -> dict:
    from confaudit.evidence.build import build_evidence
    from confaudit.rules.claims import load_claims
    from confaudit.rules.engine import evaluate, with_first_party

    claims = load_claims(claims_path)
    bundle = build_evidence([session], first_party=claims.first_party, redactor=Redactor.default())
    return {"run": evaluate(claims, bundle).to_dict(), "bundle": with_first_party(bundle, claims.first_party)}


def test_planes_missing_from_the_evidence_are_not_captured_never_zero(shared_captures, tmp_path) -> None:
    """A pcap-only capture (webex: TLS and SIP, no decoded HTTP, no media) beside a recorded session."""
    
    repo = REPO
    claims = tmp_path / "webex.yaml"
    claims.write_text("vendor: Webex\nfirst_party: [webex.com]\nclaims:\n  - id: webex-tls\n"
                      "    statement: \"TLS everywhere.\"\n    source: {title: t, url: \"https://webex.example/\", date: \"2024-01-01\"}\n"
                      "    check: transport_encryption\n    severity: high\n")
    pcap_only = dict(_evaluated(shared_captures / "webex.pcap", claims), report_href="audit-webex.html")
    session = dict(_evaluated(repo / "samples" / "sessions" / "example-rooms", repo / "samples" / "claims" / "example-rooms.yaml"),
                   report_href="audit-rooms.html")
    view = comparison_view([pcap_only, session], redactor=Redactor.default())
    assert [v["planes"] for v in view["vendors"]] == [{"web": False, "media": False, "packets": True},
                                                      {"web": True, "media": True, "packets": True}]
    assert view["web_missing"] == ["Webex"]
    assert view["data_rows"] and all(row["cells"][0] == {**row["cells"][0], "captured": False, "third": None, "first": None}
                                     and row["cells"][1]["captured"] for row in view["data_rows"])
    tracker = next(row for row in view["third_party_rows"] if "tracker" in row["party"])
    assert tracker["cells"][0] == {"captured": False} and tracker["cells"][1]["captured"] is True
    webex_media, rooms_media = view["media"]
    assert (webex_media["topology"], webex_media["streams"], webex_media["srtp"]) == ("not captured",) * 3
    assert webex_media["tls"] != "not captured" and rooms_media["topology"] == "p2p" and "srtp" in rooms_media["streams"]
    html = render_comparison([pcap_only, session], redactor=Redactor.default())
    data = html[html.index('id="data"'):html.index('id="third-parties"')]
    assert data.count(">not captured</td>") == len(view["data_rows"]) and ">0 (0)<" not in data
    md = comparison_markdown(view)
    assert "| Media path | not captured | p2p |" in md and "Decoded HTTP/WebSocket traffic not captured for: Webex" in md
