"""Audit and comparison reports in Chromium at 1400 px and at A4 print width: nothing cut, quotes visible.

Screenshots (and an A4 PDF) are kept under tests/artifacts/report-layout/ (git-ignored; the path is
printed) so a human can look at them: they were looked at while building this, and should be again
after layout changes. The assertions are on layout, not pixels.
"""

from __future__ import annotations

from confaudit.redact import Redactor
import copy
import subprocess
import sys
from pathlib import Path

import pytest

from support.bundles import complete_bundle
from support.environment import REPO
from support.report_layout import PRINT_WIDTH, SCREEN_WIDTH, artifact_dir, chromium_page, overflow, quotes, screenshots
from confaudit.report.html import render_audit
from confaudit.commands.pipeline import run_claims

pytestmark = pytest.mark.slow

ROOT = REPO
SESSION = ROOT / "samples" / "sessions" / "example-rooms"
CLAIMS = ROOT / "samples" / "claims" / "example-rooms.yaml"
TAXONOMY = ("device", "os", "browser", "screen", "locale", "timezone", "network", "location", "identifier", "account",
            "contact", "usage", "room_name", "participants", "audio_metrics", "content", "technical")
LONG_HOST = "telemetry-collector-eu-west-1-production-0042.analytics.some-very-long-tracker-domain.example"


def _widened(bundle: dict) -> dict:
    """The sample bundle with every taxonomy category sent to a party with a very long host name."""
    wide = copy.deepcopy(bundle)
    party = {"id": "pwide", "domain": LONG_HOST, "entity": "Some Very Long Tracker Entity Name Incorporated",
             "first_party": False, "hosts": [LONG_HOST], "request_count": 9, "bytes_sent": 123456}
    wide["parties"] = list(wide.get("parties") or []) + [party]
    wide["data_flows"] = list(wide.get("data_flows") or []) + [
        {"party": LONG_HOST, "party_id": "pwide", "first_party": False, "category": cat, "location": "body",
         "field_path": f"events[0].context.{cat}.value_with_a_long_name", "example": "x" * 90, "count": 3}
        for cat in TAXONOMY]
    return complete_bundle(wide)


def _check_page(page, html: Path, out: Path, name: str, *, cards: bool) -> None:
    page.set_viewport_size({"width": SCREEN_WIDTH, "height": 1000})
    page.emulate_media(media="screen")
    page.goto(html.as_uri())
    assert page.evaluate("document.documentElement.dataset.reportScript") == "ran"
    screen = overflow(page, allow_scroll=True)
    screenshots(page, out, f"{name}-{SCREEN_WIDTH}")
    assert screen["scrollWidth"] <= screen["width"], screen  # the page itself never scrolls sideways
    assert screen["overflowing"] == [], screen  # only inside a table's own scroll box
    if cards:
        shown = quotes(page)
        assert shown, "no claim cards"
        for card in shown:  # the vendor's words are there before anything is opened, above our finding
            assert card["text"] and card["width"] > 0 and card["height"] > 0, card
            assert card["inClosedDetails"] is False and card["visibility"] == "visible", card
            assert card["quoteBottom"] <= card["findingTop"], card
            assert card["evidenceOpen"] is False, card
    page.set_viewport_size({"width": PRINT_WIDTH, "height": 1000})
    page.emulate_media(media="print")
    printed = overflow(page, allow_scroll=False)
    screenshots(page, out, f"{name}-print-{PRINT_WIDTH}")
    assert printed["width"] == PRINT_WIDTH
    assert printed["scrollWidth"] <= printed["width"], printed
    assert printed["overflowing"] == [], printed  # paper cannot scroll: nothing past the page edge
    assert printed["scrolledTables"] == [], printed  # no table wider than its box, so none is cut
    page.emulate_media(media="screen")
    page.pdf(path=str(out / f"{name}-A4.pdf"), format="A4", print_background=True)
    assert (out / f"{name}-A4.pdf").read_bytes().startswith(b"%PDF-")


def test_audit_and_comparison_fit_screen_and_a4_with_quotes_visible(tmp_path: Path, shared_captures: Path) -> None:
    out = artifact_dir("report-layout")
    run, bundle = run_claims([SESSION], CLAIMS, redactor=Redactor.default())
    audit = tmp_path / "audit.html"
    audit.write_text(render_audit(run, bundle, redactor=Redactor.default()), encoding="utf-8")
    wide = tmp_path / "audit-wide.html"
    wide.write_text(render_audit(run, _widened(bundle), redactor=Redactor.default()), encoding="utf-8")
    assert LONG_HOST in wide.read_text(encoding="utf-8")

    compare = tmp_path / "compare"
    captures = [shared_captures / "zoom2.pcap", shared_captures / "whatsapp_login_call.pcap", shared_captures / "google_meet.pcapng"]
    done = subprocess.run([sys.executable, "-m", "confaudit", "compare", str(SESSION), *map(str, captures),
                           "--claims-dir", str(CLAIMS.parent), "--out", str(compare / "comparison.html")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    with chromium_page() as page:
        _check_page(page, audit, out, "audit", cards=True)
        _check_page(page, wide, out, "audit-wide", cards=True)
        _check_page(page, compare / "comparison.html", out, "comparison", cards=False)
        _check_page(page, compare / "audit-zoom.html", out, "audit-zoom", cards=True)
    print(f"\nscreenshots and PDFs: {out}")
