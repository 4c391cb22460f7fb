"""Markdown summaries: contradictions first, high severities called out, captured text inert."""

from __future__ import annotations

import json
import re

from confaudit.formats.jsonout import to_json
from confaudit.formats.markdown import comparison_markdown, esc, to_markdown
from test_formats_sarif import golden_run, understated_run


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


def test_comparison_matrix() -> None:
    run = golden_run()
    text = comparison_markdown([run, golden_run({"complete": True})])
    assert text.count("| Golden Vendor |") == 2 and "media\\_encryption" in text


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
