"""``confaudit report``: one self-contained HTML audit report."""

from __future__ import annotations

import sys
from pathlib import Path


def run(sessions: list[Path], claims: Path, out: Path, keylog: Path | None = None, vendor: str | None = None) -> int:
    """Build evidence, evaluate the claims, render and write the HTML atomically."""
    from confaudit.output_paths import refuse_bad_outputs
    from confaudit.output_set import FileOutput, write_outputs
    from confaudit.report.html import render_audit
    from confaudit.rules.runner import run_claims

    refuse_bad_outputs({"--out": out}, {"input": sessions, "--claims": [claims], "--keylog": [keylog]})
    result, bundle = run_claims(sessions, claims, keylog, vendor)
    html = render_audit(result, bundle).encode("utf-8")
    write_outputs([FileOutput("--out", out, html)])
    sys.stderr.write(f"confaudit: wrote {out} ({len(html):,} bytes)\n")
    return 0
