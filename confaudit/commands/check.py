"""``confaudit check``: the CI gate. Writes every requested report, then exits by the worst contradiction."""

from __future__ import annotations

import sys
from pathlib import Path

from confaudit.errors import EXIT_CONTRADICTED, EXIT_INTERNAL, EXIT_OK
from confaudit.rules.model import RunResult, severity_rank


def gate(run: RunResult, fail_on: str) -> int:
    """0 pass; 1 a claim contradicted at/above ``fail_on``; 4 a check crashed (never a silent pass)."""
    threshold = severity_rank(fail_on)
    if any(f.verdict == "contradicted" and severity_rank(f.severity) >= threshold for f in run.findings):
        return EXIT_CONTRADICTED
    if any(f.verdict == "error" for f in run.findings):
        return EXIT_INTERNAL
    return EXIT_OK


def write_reports(run: RunResult, *, json_out: Path | None, junit: Path | None, sarif: Path | None,
                  markdown: Path | None, claims_uri: str) -> None:
    from confaudit.formats import jsonout
    from confaudit.formats import junit as junit_fmt
    from confaudit.formats import markdown as md_fmt
    from confaudit.formats import sarif as sarif_fmt
    from confaudit.jsonio import atomic_write_text

    rendered = []
    if json_out is not None:
        rendered.append((json_out, jsonout.to_json(run)))
    if junit is not None:
        rendered.append((junit, junit_fmt.to_junit(run)))
    if sarif is not None:
        rendered.append((sarif, sarif_fmt.to_sarif(run, artifact_uri=claims_uri)))
    if markdown is not None:
        rendered.append((markdown, md_fmt.to_markdown(run)))
    for path, text in rendered:  # render all first, so a formatter bug leaves no partial set of files
        atomic_write_text(path, text)


def summary_lines(run: RunResult, fail_on: str, code: int) -> list[str]:
    from confaudit.formats._safe import clean

    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in run.score.counts.items() if n)
    score = "n/a" if run.score.overall is None else f"{run.score.overall:.0f}/100"
    lines = [f"confaudit check: {clean(run.vendor, 100)}: {counts}; score {score}"]
    for f in run.findings:
        if f.verdict in ("contradicted", "error"):
            lines.append(f"  {f.verdict.upper()} [{f.severity}] {clean(f.claim_id, 128)} "
                         f"({clean(run.claims_path, 300)}:{f.line}): {clean(f.explanation, 400)}")
    if not run.evidence_complete:
        lines.append("  warning: part of the evidence could not be read; affected claims are inconclusive")
    verdict = {EXIT_OK: "PASS", EXIT_CONTRADICTED: f"FAIL (a claim of severity >= {fail_on} is contradicted)",
               EXIT_INTERNAL: "ERROR (a check could not run)"}[code]
    lines.append(f"result: {verdict}")
    return lines


def run(*, sessions: list[Path], claims: Path, fail_on: str = "high", json_out: Path | None = None,
        junit: Path | None = None, sarif: Path | None = None, markdown: Path | None = None,
        keylog: Path | None = None) -> int:
    from confaudit.rules.runner import display_path, run_claims

    result, _bundle = run_claims(sessions, claims, keylog)
    code = gate(result, fail_on)
    write_reports(result, json_out=json_out, junit=junit, sarif=sarif, markdown=markdown,
                  claims_uri=display_path(claims))
    sys.stdout.write("\n".join(summary_lines(result, fail_on, code)) + "\n")
    return code
