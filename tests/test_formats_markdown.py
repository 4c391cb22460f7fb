"""Markdown summaries: contradictions first, high severities called out, captured text inert."""

from __future__ import annotations

import json
import re

from confaudit.formats.jsonout import to_json
from confaudit.formats.markdown import comparison_markdown, esc, to_markdown
from test_formats_sarif import golden_run


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
