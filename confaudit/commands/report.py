"""``confaudit report``: one self-contained HTML audit report."""

from __future__ import annotations

from pathlib import Path


def run(sessions: list[Path], claims: Path, out: Path, keylog: Path | None = None, vendor: str | None = None) -> int:
    """Build evidence, evaluate the claims, render and write the HTML atomically."""
    from confaudit import terminal
    from confaudit.output_paths import refuse_bad_outputs
    from confaudit.output_set import FileOutput, write_outputs
    from confaudit.report.html import render_audit
    from confaudit.commands.pipeline import run_claims
    from confaudit.redact import Redactor

    refuse_bad_outputs({"--out": out}, {"input": sessions, "--claims": [claims], "--keylog": [keylog]})
    redactor = Redactor.default()
    result, bundle = run_claims(sessions, claims, keylog, vendor, redactor=redactor)
    html = render_audit(result, bundle, redactor=redactor).encode("utf-8")
    write_outputs([FileOutput("--out", out, html)])
    terminal.note(f"confaudit: wrote {'the report to stdout' if str(out) == '-' else out} ({len(html):,} bytes)")
    return 0
