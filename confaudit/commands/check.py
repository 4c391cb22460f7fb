"""``confaudit check``: the CI gate. Writes every requested report, then exits by the worst contradiction."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from confaudit import terminal
from confaudit.errors import EXIT_BAD_INPUT, EXIT_CONTRADICTED, EXIT_INTERNAL, EXIT_OK
from confaudit.rules.model import RunResult, severity_rank


def gate(run: RunResult, fail_on: str) -> int:
    """0 pass; 1 a claim contradicted at/above ``fail_on``; 4 a check crashed; 3 damaged evidence left a
    claim at/above ``fail_on`` unsettled. Never a silent pass. An understated claim (more protection seen
    than claimed) never fails, whatever its severity."""
    threshold = severity_rank(fail_on)
    if any(f.verdict == "contradicted" and severity_rank(f.severity) >= threshold for f in run.findings):
        return EXIT_CONTRADICTED
    if any(f.verdict == "error" for f in run.findings):
        return EXIT_INTERNAL
    if not run.evidence_complete and any(f.verdict == "inconclusive" and severity_rank(f.severity) >= threshold
                                         for f in run.findings):
        return EXIT_BAD_INPUT
    return EXIT_OK


def write_reports(run: RunResult, *, json_out: Path | None, junit: Path | None, sarif: Path | None,
                  markdown: Path | None, claims_uri: str, extra: tuple[Any, ...] = ()) -> None:
    """Render every requested report, then write them all, with ``extra`` already rendered outputs (e.g.
    ``run --report``), or none (OutputError, exit 3, when one cannot be)."""
    from confaudit.formats import jsonout
    from confaudit.formats import junit as junit_fmt
    from confaudit.formats import markdown as md_fmt
    from confaudit.formats import sarif as sarif_fmt
    from confaudit.output_set import FileOutput, write_outputs

    rendered = list(extra)
    if json_out is not None:
        rendered.append(FileOutput("--json", json_out, jsonout.to_json(run).encode("utf-8")))
    if junit is not None:
        rendered.append(FileOutput("--junit", junit, junit_fmt.to_junit(run, claims_uri=claims_uri).encode("utf-8")))
    if sarif is not None:
        rendered.append(FileOutput("--sarif", sarif, sarif_fmt.to_sarif(run, artifact_uri=claims_uri).encode("utf-8")))
    if markdown is not None:
        rendered.append(FileOutput("--markdown", markdown, md_fmt.to_markdown(run).encode("utf-8")))
    write_outputs(rendered)


def _gh_escape(value: str, prop: bool = False) -> str:
    out = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def github_annotations(run: RunResult, fail_on: str, claims_uri: str) -> list[str]:
    """``::error``/``::warning`` workflow commands for contradicted claims and ``::notice`` for understated ones
    (shown on the claims file in PRs)."""
    from confaudit.formats._safe import clean

    lines = []
    for f in run.findings:
        if f.verdict == "understated":
            level = "notice"
        elif f.verdict == "contradicted":
            level = "error" if severity_rank(f.severity) >= severity_rank(fail_on) else "warning"
        else:
            continue
        title = _gh_escape(clean(f"{run.vendor}: {f.claim_id} {f.verdict}", 200), prop=True)
        lines.append(f"::{level} file={_gh_escape(claims_uri, prop=True)},line={f.line},col={f.column},title={title}::"
                     + _gh_escape(clean(f"[{f.severity}] {f.explanation}", 1000)))
    return lines


def summary_lines(run: RunResult, fail_on: str, code: int) -> list[str]:
    from confaudit.formats._safe import clean
    from confaudit.rules.scoring import MOSTLY_UNTESTED_CAVEAT, coverage_text

    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in run.score.counts.items() if n)
    score = "n/a" if run.score.overall is None else f"{run.score.overall:.0f}/100"
    cov = run.score.coverage
    caveat = f"; warning: {MOSTLY_UNTESTED_CAVEAT}" if cov.mostly_untested and run.score.overall is not None else ""
    lines = [f"confaudit check: {clean(run.vendor, 100)}: {counts}; score {score}, {coverage_text(cov)}{caveat}"]
    listed = {"contradicted": 0, "error": 1, "understated": 2}
    for f in sorted((f for f in run.findings if f.verdict in listed), key=lambda f: listed[f.verdict]):
        lines.append(f"  {f.verdict.upper()} [{f.severity}] {clean(f.claim_id, 128)} "
                     f"({clean(run.claims_path, 300)}:{f.line}): {clean(f.explanation, 400)}")
    if not run.evidence_complete:
        lines.append("  warning: part of the evidence could not be read; affected claims are inconclusive")
    verdict = {EXIT_OK: "PASS", EXIT_CONTRADICTED: f"FAIL (a claim of severity >= {fail_on} is contradicted)",
               EXIT_INTERNAL: "ERROR (a check could not run)",
               EXIT_BAD_INPUT: f"INCONCLUSIVE (damaged or partial evidence left claims of severity >= {fail_on} unsettled)"}[code]
    lines.append(f"result: {verdict}")
    return lines


def run(*, sessions: list[Path], claims: Path, fail_on: str = "high", json_out: Path | None = None,
        junit: Path | None = None, sarif: Path | None = None, markdown: Path | None = None,
        keylog: Path | None = None, vendor: str | None = None) -> int:
    from confaudit.output_paths import refuse_bad_outputs
    from confaudit.commands.pipeline import display_path, run_claims
    from confaudit.redact import Redactor

    refuse_bad_outputs({"--json": json_out, "--junit": junit, "--sarif": sarif, "--markdown": markdown},
                       {"input": sessions, "--claims": [claims], "--keylog": [keylog]})
    result, _bundle = run_claims(sessions, claims, keylog, vendor, redactor=Redactor.default())
    code = gate(result, fail_on)
    write_reports(result, json_out=json_out, junit=junit, sarif=sarif, markdown=markdown,
                  claims_uri=display_path(claims))
    say_summary(result, fail_on, code, display_path(claims))
    return code


def say_summary(run: RunResult, fail_on: str, code: int, claims_uri: str) -> None:
    """The summary lines (after GitHub workflow annotations when running in GitHub Actions)."""
    lines = summary_lines(run, fail_on, code)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        lines = github_annotations(run, fail_on, claims_uri) + lines
    terminal.say("\n".join(lines))
