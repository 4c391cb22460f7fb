"""``confaudit report``: one self-contained HTML audit report."""

from __future__ import annotations

import sys
from pathlib import Path

from confaudit.errors import InputError


def run(sessions: list[Path], claims: Path, out: Path, keylog: Path | None = None, vendor: str | None = None) -> int:
    """Build evidence, evaluate the claims, render and write the HTML atomically."""
    from confaudit.jsonio import atomic_write_text
    from confaudit.report.html import render_audit
    from confaudit.rules.runner import run_claims

    if Path(out).is_dir():
        raise InputError(out, "--out is a directory; give an HTML file name")
    result, bundle = run_claims(sessions, claims, keylog, vendor)
    html = render_audit(result, bundle)
    atomic_write_text(out, html)
    sys.stderr.write(f"confaudit: wrote {out} ({len(html.encode('utf-8')):,} bytes)\n")
    return 0
