"""Markdown summaries: contradictions first, high severities called out, captured text inert."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
import re

import pytest

from confaudit.formats.jsonout import to_json
from confaudit.formats.markdown import esc, to_markdown
from support.golden_runs import golden_run, understated_run
from support.markdown_inert import AUTOLINKABLE, assert_inert


def test_markdown_lists_every_claim_and_escapes() -> None:
    run = golden_run()
    text = to_markdown(run)
    for f in run.findings:
        assert esc(f.claim_id) in text
    assert "Contradicted high-severity claims" in text and "**golden-srtp**" in text
    assert "<b>" not in text and not re.search(r"(?<!\\)\]\(", text) and "\\[ad networks\\]" in text
    assert "\x1b" not in text
    first_row = [line for line in text.splitlines() if line.startswith("| **golden")][0]
    assert "contradicted" in first_row and "critical" in first_row


def test_markdown_cannot_inject_links_or_html() -> None:
    hostile = "![x](https://evil.example/beacon.png) <img src=x onerror=alert(1)> | col"
    assert "![" not in esc(hostile) and "<img" not in esc(hostile) and "https://" not in esc(hostile)
    assert "\\|" in esc(hostile)


def test_json_output_round_trips() -> None:
    run = golden_run()
    doc = json.loads(to_json(run))
    assert doc["format"] == "confaudit-findings" and doc["vendor"] == "Golden Vendor"
    assert [f["claim_id"] for f in doc["findings"]] == [f.claim_id for f in run.findings]
    assert doc["score"]["contradicted_high"] == ["golden-srtp"]
    assert to_json(run) == to_json(golden_run())


def test_score_line_carries_coverage_and_caveat() -> None:
    text = to_markdown(golden_run())
    assert "**Score:** 33/100 · tested 3 of 5 claims (weight 19 of 23)  ·" in text and "most claims untested" not in text
    bare = to_markdown(golden_run({"complete": True, "tls": [{"id": "t1", "version": "TLS 1.3", "sni": "a.golden.example"}]}))
    score_line = next(line for line in bare.splitlines() if line.startswith("**Score:**"))
    assert score_line.startswith("**Score:** 100/100 · tested 1 of 5 claims (weight 6 of 23) · ⚠️ most claims untested")


def test_understated_has_its_own_label_after_contradictions() -> None:
    from dataclasses import replace

    golden, under = golden_run(), understated_run()
    run = replace(golden, findings=golden.findings + under.findings)
    text = to_markdown(run)
    assert "🔷 understated" in text and "🔷 understated: 1" not in text  # counts come from the score, not findings
    rows = [line for line in text.splitlines() if line.startswith("| **")]
    verdicts = [("contradicted" in r, "understated" in r) for r in rows]
    assert verdicts[:3] == [(True, False), (True, False), (False, True)]
    assert "🔷 understated: 1" in to_markdown(under)


@pytest.mark.parametrize("text", AUTOLINKABLE)
def test_escaped_text_is_not_autolinked_mentioned_or_referenced_by_github(text: str) -> None:
    from confaudit.report.markdown import md_escape

    assert_inert(f"| {esc(text)} | {md_escape(text)} |\n|---|---|\n| {esc(text)} | {md_escape(text)} |\n", text)
    assert_inert(esc(text), text)
    assert_inert(md_escape(text), text)


def test_check_summary_with_hostile_claims_and_hosts_renders_inert() -> None:
    from dataclasses import replace

    run = golden_run()
    hostile = " / ".join(AUTOLINKABLE)
    statement = "Rooms by www.rooms.example (help@rooms.example, @octocat, #1)"
    findings = tuple(replace(f, claim=replace(f.claim, statement=statement), explanation=f"Seen at {hostile}.")
                     for f in run.findings)
    run = replace(run, vendor="Vendor @octocat www.vendor.example", findings=findings)
    assert_inert(to_markdown(run), "Vendor @octocat www.vendor.example", statement, f"Seen at {hostile}.")


def test_comparison_summary_with_hostile_captured_names_renders_inert() -> None:
    from confaudit.report.compare_view import comparison_view
    from confaudit.report.markdown import comparison_markdown as compare_markdown
    from benchmarks.synth_report import synthetic_bundle, synthetic_run

    payload = " www.evil.example @octocat #12 a@evil.example https://evil.example/x"
    bundle = synthetic_bundle(300, payload=payload, hosts=30)
    run = synthetic_run(bundle, claims=6, payload=payload)
    markdown = compare_markdown(comparison_view([{"run": run, "bundle": bundle, "report_href": "audit-vendor.html"}], redactor=Redactor.default()))
    assert "evil.example" in markdown
    assert_inert(markdown)
