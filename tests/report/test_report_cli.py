"""``confaudit report`` and ``confaudit compare`` end to end on real public captures."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.environment import REPO
from support.report_support import embedded_json, static_scan

CLAIMS = REPO / "samples" / "claims"
WEBEX_CLAIMS = """\
vendor: Webex
first_party: [webex.com]
claims:
  - id: webex-tls
    statement: "Webex encrypts signalling with TLS 1.2 or later."
    source: {title: "Webex security white paper", url: "https://www.cisco.com/", date: "2023-01-01"}
    check: transport_encryption
    min_tls: "1.2"
    severity: high
  - id: webex-no-ads
    statement: "Webex does not contact advertising companies."
    source: {title: "Webex privacy data sheet", url: "https://trustportal.cisco.com/", date: "2023-01-01"}
    check: no_advertising
    severity: medium
"""


def _confaudit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def test_report_on_a_real_capture(shared_captures: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.html"
    done = _confaudit("report", shared_captures / "webex.pcap", "--claims", CLAIMS / "zoom.yaml", "--out", out)
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "radcom.webex.com" in html  # SNI from the capture
    assert "TLS_RSA_WITH_RC4_128_MD5" in html  # the cipher inventory
    assert "crittercism.com" in html  # a third party seen in the capture
    assert "No session manifest." in html
    data = embedded_json(html)
    assert data["vendor"] == "Zoom" and len(data["findings"]) == 8
    scan = static_scan(html)
    assert scan.handlers == [] and len(scan.scripts) == 2


def test_report_bad_inputs_fail_with_one_line_and_no_file(tmp_path: Path) -> None:
    out = tmp_path / "audit.html"
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"\x00" * 64)
    done = _confaudit("report", junk, "--claims", CLAIMS / "zoom.yaml", "--out", out)
    assert done.returncode == 3 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    bad_claims = tmp_path / "bad.yaml"
    bad_claims.write_text("vendor: X\nclaims: [\n")
    done = _confaudit("report", junk, "--claims", bad_claims, "--out", out)
    assert done.returncode == 3 and "bad.yaml" in done.stderr
    assert not out.exists() and list(tmp_path.glob(".audit.html.*")) == []


def test_compare_three_vendors_writes_linked_reports(shared_captures: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims"
    claims.mkdir()
    shutil.copy(CLAIMS / "zoom.yaml", claims)
    shutil.copy(CLAIMS / "google-meet.yaml", claims)
    (claims / "webex.yaml").write_text(WEBEX_CLAIMS)
    out = tmp_path / "out"
    done = _confaudit("compare", shared_captures / "google_meet.pcapng", shared_captures / "stun_zoom.pcapng",
                      shared_captures / "webex.pcap", "--claims-dir", claims, "--out", out / "comparison.html",
                      "--markdown", out / "comparison.md", "--json", out / "comparison.json")
    assert done.returncode == 0, done.stderr
    assert "Zoom (first party zoom.us seen)" in done.stderr and "Webex (first party webex.com seen)" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["audit-google_meet.html", "audit-webex.html", "audit-zoom.html",
                                                      "comparison.html", "comparison.json", "comparison.md"]
    comparison = (out / "comparison.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(audit-[a-z_]+\.html)#([A-Za-z0-9_.\-]+)"', comparison)
    assert len(links) >= 15
    for page, frag in links:  # every cell's link lands on an element of that vendor's report
        assert f'id="{frag}"' in (out / page).read_text(encoding="utf-8"), (page, frag)
    data = json.loads((out / "comparison.json").read_text())
    assert [v["name"] for v in data["vendors"]] == ["Google Meet", "Zoom", "Webex"]
    md = (out / "comparison.md").read_text()
    assert "| Overall score |" in md and "webex-tls" in md


def test_compare_without_a_matching_claims_file_is_a_usage_error(shared_captures: Path, tmp_path: Path) -> None:
    done = _confaudit("compare", shared_captures / "webex.pcap", "--claims-dir", CLAIMS, "--json", tmp_path / "c.json")
    assert done.returncode == 2
    assert "no claims file's first_party was seen" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c.json").exists()
    done = _confaudit("compare", shared_captures / "webex.pcap", "--claims-dir", CLAIMS)
    assert done.returncode == 2 and "--out, --markdown, --json" in done.stderr


def test_report_on_a_recorded_session_shows_provenance_and_hides_keys(tmp_path: Path) -> None:
    session = REPO / "samples" / "sessions" / "example-rooms"
    assert (session / "manifest.json").is_file(), "the bundled sample session is missing"
    out = tmp_path / "rooms.html"
    done = _confaudit("report", session, "--claims", CLAIMS / "messenger-rooms.yaml", "--out", out)
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    manifest = json.loads((session / "manifest.json").read_text())
    assert "Simulated lab capture." in html
    assert manifest["files"]["capture.pcapng"]["sha256"] in html  # manifest hashes
    assert f"mitmproxy {manifest['dependencies']['mitmproxy']}" in html  # tool versions
    assert '<svg class="chart"' in html and ">muted<" in html  # timeline with phase marks
    secrets = [line.split()[2] for line in (session / "sslkeys.log").read_text().splitlines()
               if len(line.split()) == 3 and not line.startswith("#")]
    assert secrets and not [s for s in secrets if s in html or s.upper() in html]


def test_compare_refuses_an_out_name_that_a_vendor_report_would_overwrite(shared_captures: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "webex.yaml").write_text(WEBEX_CLAIMS)
    done = _confaudit("compare", shared_captures / "webex.pcap", "--claims-dir", claims, "--out", tmp_path / "audit-webex.html")
    assert done.returncode == 2 and "per-vendor report" in done.stderr
    assert not (tmp_path / "audit-webex.html").exists()
