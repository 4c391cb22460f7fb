"""`check --markdown` and `compare --markdown` through the real CLI: text from a hostile claims file and
captured host names render under GitHub's renderer with no link, mention or issue reference, and read
the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.har_build import UA, har_entry, write_har
from support.markdown_inert import assert_inert

CONFAUDIT = Path(sys.executable).with_name("confaudit")
VENDOR = "Rooms @octocat www.rooms.example"
STATEMENT = "We share nothing with www.partner.example; ask privacy@rooms.example or @rooms-team (#42, GH-7)."
CLAIMS = f"""vendor: "{VENDOR}"
first_party: [rooms.example]
claims:
  - id: share
    statement: "{STATEMENT}"
    source: {{title: "Privacy @rooms", url: "https://rooms.example/p", date: "2024-01-01"}}
    check: third_party_sharing
    severity: high
  - id: ads
    statement: "No ads, see https://rooms.example/ads and mailto:ads@rooms.example."
    source: {{title: t, url: "https://rooms.example/p", date: "2024-01-01"}}
    check: no_advertising
    severity: medium
"""


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    body = json.dumps({"device": {"ua": UA, "screen": "1920x1080"}, "tz": "Europe/Paris", "note": "@octocat #12"})
    har = write_har(tmp_path / "call.har", [
        har_entry("https://www.evil-analytics.example/collect?u=admin@evil.example", body, "application/json", 1),
        har_entry("https://www.rooms.example/api/join", json.dumps({"room": "x"}), "application/json", 2)])
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir()
    (claims_dir / "rooms.yaml").write_text(CLAIMS, encoding="utf-8")
    return har, claims_dir


def _confaudit(tmp_path: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONFAUDIT), *map(str, args)], cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_check_markdown_is_inert(tmp_path: Path) -> None:
    har, claims_dir = _inputs(tmp_path)
    run = _confaudit(tmp_path, "check", har, "--claims", claims_dir / "rooms.yaml", "--markdown", "summary.md")
    assert run.returncode in (0, 1, 3), run.stderr
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert_inert(summary, VENDOR, STATEMENT, "No ads, see https://rooms.example/ads and mailto:ads@rooms.example.",
                 "evil-analytics.example")


def test_compare_markdown_is_inert(tmp_path: Path) -> None:
    har, claims_dir = _inputs(tmp_path)
    run = _confaudit(tmp_path, "compare", f"{VENDOR}={har}", "--claims-dir", claims_dir, "--markdown", "comparison.md")
    assert run.returncode == 0, run.stderr
    comparison = (tmp_path / "comparison.md").read_text(encoding="utf-8")
    assert_inert(comparison, VENDOR, "evil-analytics.example")
