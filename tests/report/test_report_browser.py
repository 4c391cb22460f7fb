"""Reports opened in real headless Chromium: planted payloads never execute, a vulnerable control does."""

from __future__ import annotations

from confaudit.redact import Redactor
import re
import shutil
import struct
from concurrent.futures import ThreadPoolExecutor
import zlib
from pathlib import Path

import pytest
from support.environment import require_binary
from support.report_support import AUTO_RUNNING, MARKER, PAYLOADS, run_chromium
from confaudit.report.html import render_audit, render_comparison
from confaudit.report.loader import template_dir
from benchmarks.synth_report import synthetic_bundle, synthetic_run

pytestmark = pytest.mark.slow


def _report(payload: str) -> str:
    bundle = synthetic_bundle(200, payload=payload, hosts=20)
    return render_audit(synthetic_run(bundle, claims=6, payload=payload, evidence_per_finding=5), bundle, redactor=Redactor.default())


def _vulnerable_templates(tmp_path: Path) -> Path:
    """Our templates with the CSP removed and ``|safe`` on captured text: a known-vulnerable control."""
    vuln = tmp_path / "vulnerable"
    shutil.copytree(template_dir(), vuln)
    layout = vuln / "_layout.html.j2"
    text = layout.read_text()
    start = text.index('<meta http-equiv="Content-Security-Policy"')
    layout.write_text(text[:start] + text[text.index(">", start) + 1:])
    audit = vuln / "audit.html.j2"
    audit.write_text(audit.read_text().replace("{{ f.explanation }}", "{{ f.explanation|safe }}"))
    return vuln


def _load_all(chromium: str, pages: list[Path], tmp_path: Path) -> list[str]:
    """DOMs of several pages, two browsers at a time (each with its own fresh profile)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda p: run_chromium(chromium, p, tmp_path / f"profile-{p.stem}"), pages))


def test_payloads_never_execute_in_audit_or_comparison(tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    pages = []
    for n, payload in enumerate(PAYLOADS):
        page = tmp_path / f"audit-{n}.html"
        page.write_text(_report(payload), encoding="utf-8")
        pages.append(page)
    for n, dom in enumerate(_load_all(chromium, pages, tmp_path)):
        assert 'data-report-script="ran"' in dom, f"payload {n}: our own script did not run (document replaced?)"
        assert MARKER not in dom, f"payload {n} executed in the audit report"
    bundle = synthetic_bundle(200, payload=PAYLOADS[2] + PAYLOADS[5], hosts=20)
    entries = [{"run": synthetic_run(bundle, payload=PAYLOADS[3] + PAYLOADS[0]), "bundle": bundle, "report_href": "a.html"},
               {"run": synthetic_run(bundle, payload=PAYLOADS[7]), "bundle": bundle, "report_href": "javascript:x"}]
    page = tmp_path / "comparison.html"
    page.write_text(render_comparison(entries, redactor=Redactor.default()), encoding="utf-8")
    dom = run_chromium(chromium, page, tmp_path / "profile-c")
    assert 'data-report-script="ran"' in dom
    assert MARKER not in dom


def test_positive_control_vulnerable_template_executes(tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    vuln = _vulnerable_templates(tmp_path)
    bundle = synthetic_bundle(100, hosts=5)
    pages = []
    for n in AUTO_RUNNING:
        run = synthetic_run(bundle, claims=3, payload=PAYLOADS[n], evidence_per_finding=2)
        page = tmp_path / f"vuln-{n}.html"
        page.write_text(render_audit(run, bundle, templates=vuln, redactor=Redactor.default()), encoding="utf-8")
        pages.append(page)
    executed = [n for n, dom in zip(AUTO_RUNNING, _load_all(chromium, pages, tmp_path)) if f"{MARKER}-{n}" in dom]
    # Event-driven payloads can miss a run: headless Chromium fires `autofocus` onfocus in about 8 of 10
    # loads here (measured), animations can miss a busy box's 3 s virtual budget. Sequential retries.
    for n in sorted(set(AUTO_RUNNING) - set(executed)):
        page = tmp_path / f"vuln-{n}.html"
        if any(f"{MARKER}-{n}" in run_chromium(chromium, page, tmp_path / f"retry-profile-{n}-{attempt}")
               for attempt in range(4)):
            executed.append(n)
    executed.sort()
    # Every auto-running payload must be live, else a pass above would prove nothing.
    assert executed == list(AUTO_RUNNING)


def test_csp_blocks_injection_even_in_a_vulnerable_template(tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    vuln = tmp_path / "vuln-csp"
    shutil.copytree(template_dir(), vuln)
    audit = vuln / "audit.html.j2"
    audit.write_text(audit.read_text().replace("{{ f.explanation }}", "{{ f.explanation|safe }}"))
    bundle = synthetic_bundle(100, hosts=5)
    page = tmp_path / "vuln-csp.html"
    page.write_text(render_audit(synthetic_run(bundle, claims=3, payload=PAYLOADS[1] + PAYLOADS[0]), bundle,
                                 templates=vuln, redactor=Redactor.default()), encoding="utf-8")
    dom = run_chromium(chromium, page, tmp_path / "cprofile")
    assert "onerror" in dom  # the injected markup is really in the page ...
    assert MARKER not in dom  # ... and the hash-only CSP stops it
    assert 'data-report-script="ran"' in dom  # while our own hashed script still runs


def _png_size_and_variety(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct byte values in the decoded pixel rows (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_screenshot_renders_key_sections(tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    bundle = synthetic_bundle(2000)
    page = tmp_path / "audit.html"
    page.write_text(render_audit(synthetic_run(bundle), bundle, redactor=Redactor.default()), encoding="utf-8")
    dom = run_chromium(chromium, page, tmp_path / "sprofile")
    for section in ("summary", "verdicts", "parties", "timeline", "media", "provenance", "method"):
        assert f'id="{section}"' in dom
    assert "<svg class=\"chart\"" in dom and "Contradicted" in dom
    shot = tmp_path / "audit.png"
    run_chromium(chromium, page, tmp_path / "sprofile2", screenshot=shot)
    assert shot.stat().st_size > 20_000
    width, height, variety = _png_size_and_variety(shot)
    assert (width, height) == (1280, 2000)
    assert variety > 50  # text, badges and tables: a blank or error page has a handful of values


def _pdf_pages(chromium: str, tmp_path: Path, name: str, evidence_per_finding: int) -> int:
    bundle = synthetic_bundle(500)
    page = tmp_path / f"{name}.html"
    page.write_text(render_audit(synthetic_run(bundle, claims=6, evidence_per_finding=evidence_per_finding), bundle, redactor=Redactor.default()),
                    encoding="utf-8")
    pdf = tmp_path / f"{name}.pdf"
    run_chromium(chromium, page, tmp_path / f"{name}-profile", pdf=pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def test_prints_to_pdf_with_findings_expanded(tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    with_evidence = _pdf_pages(chromium, tmp_path, "with", 25)
    without = _pdf_pages(chromium, tmp_path, "without", 0)
    # Collapsed <details> would print the same pages either way; 125 evidence rows add several.
    assert without >= 3 and with_evidence >= without + 3, (with_evidence, without)
