"""``confaudit score``: a table of claims, verdicts and category scores."""

from __future__ import annotations

from pathlib import Path

from confaudit.rules.model import RunResult

_STYLE = {"supported": "green", "contradicted": "bold red", "understated": "bold blue", "not_observable": "dim",
          "inconclusive": "yellow", "error": "magenta", "document_only": "cyan"}


def render(run: RunResult, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    from confaudit.formats._safe import clean
    from confaudit.rules.scoring import MOSTLY_UNTESTED_CAVEAT, coverage_text

    def cell(value: object, limit: int = 300) -> str:
        return escape(clean(value, limit))

    claims = Table(title=f"confaudit: {cell(run.vendor, 100)} claims", show_lines=False)
    for column in ("claim", "category", "severity", "verdict", "why"):
        claims.add_column(column, overflow="fold")
    for f in run.findings:
        style = _STYLE.get(f.verdict, "")
        claims.add_row(cell(f.claim_id, 128), cell(f.category), f.severity,
                       f"[{style}]{f.verdict.replace('_', ' ')}[/]", cell(f.explanation, 400))
    console.print(claims)
    cats = Table(title="scores by category")
    for column in ("category", "score", "weight", "claims", "verifiable by"):
        cats.add_column(column)
    for cat, entry in run.score.by_category.items():
        value = "n/a" if entry.get("score") is None else f"{entry['score']:.0f}"
        cats.add_row(cell(entry.get("title", cat), 100), value, f"{entry.get('weight', 1):g}", str(entry.get("claims", 0)),
                     str(entry.get("verifiable")))
    console.print(cats)
    overall = "n/a (no claim could be checked)" if run.score.overall is None else f"{run.score.overall:.0f}/100"
    cov = run.score.coverage
    shown = cov.mostly_untested and run.score.overall is not None
    caveat = f" [bold yellow]⚠ {MOSTLY_UNTESTED_CAVEAT}[/]" if shown else ""
    console.print(f"[bold]overall score:[/] {overall} · {coverage_text(cov)}{caveat}")
    if cov.untested:
        console.print("not tested: " + ", ".join(f"{cell(u['claim_id'], 128)} ({u['verdict'].replace('_', ' ')})"
                                                 for u in cov.untested))
    understated = [f.claim_id for f in run.findings if f.verdict == "understated"]
    if understated:
        console.print(f"[blue]understated (more protection seen than claimed; never lowers the score): "
                      f"{cell(', '.join(understated), 600)}[/]")
    if run.score.capped_reason:
        console.print(f"[bold red]{cell(run.score.capped_reason, 600)}[/]")
    if not run.evidence_complete:
        console.print("[yellow]part of the evidence could not be read; affected claims are inconclusive[/]")


def run(*, sessions: list[Path], claims: Path, keylog: Path | None = None, vendor: str | None = None) -> int:
    from confaudit import terminal
    from confaudit.commands.pipeline import run_claims
    from confaudit.redact import Redactor

    result, _bundle = run_claims(sessions, claims, keylog, vendor, redactor=Redactor.default())
    stream = terminal.say_stream()
    if stream is not None:
        from rich.console import Console

        render(result, Console(file=stream, highlight=False, soft_wrap=False))
    return 0
