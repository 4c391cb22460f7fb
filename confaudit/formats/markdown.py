"""Markdown summaries (PR comments, ``$GITHUB_STEP_SUMMARY``).

Every captured or claims-file string is escaped: no raw HTML, no link or image syntax survives, and
nothing GitHub would autolink or turn into a mention or reference (``www.`` hosts, ``scheme://``
URLs, e-mail addresses, ``@user``, ``#123``), so a summary cannot beacon, notify or forge content when
rendered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from confaudit.formats._safe import clean
from confaudit.rules.model import RunResult, Score, severity_rank
from confaudit.rules.scoring import MOSTLY_UNTESTED_CAVEAT, coverage_text

_ICON = {"supported": "✅ supported", "contradicted": "❌ contradicted", "understated": "🔷 understated",
         "not_observable": "➖ not observable", "inconclusive": "⚠️ inconclusive", "error": "💥 error",
         "document_only": "📄 document only"}
_FIRST = {"contradicted": 0, "understated": 1}
"""Claims the evidence disagrees with come first: contradicted, then understated (more protection than claimed)."""
# Cells never start a line, so only inline syntax needs escaping (links, images, emphasis, code, tables, HTML).
_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")
ZERO_WIDTH_SPACE = "&#8203;"
"""Written inside what GitHub would link: it renders as nothing, so the text reads the same, but the
autolink extension and github.com's mention and reference filters no longer see a link, ``@name`` or
``#number``. Backslash escapes do not help there: those filters run on the rendered text."""
_AUTOLINKED = re.compile(r"(?<=:)/(?=/)|@|#(?=[0-9])|www(?=\.)|gh(?=-[0-9])", re.IGNORECASE)
"""Where to put it: in ``scheme://``, after ``@`` (e-mail addresses, ``mailto:``/``xmpp:``, ``@user``,
``@org/team``, ``user@sha``), after ``#`` before a digit (``#123``, ``owner/repo#123``), after ``www``
before a dot, after ``GH`` before ``-123``."""


def no_autolinks(markdown: str) -> str:
    """Already escaped Markdown with every GitHub autolink, mention and issue reference broken invisibly."""
    return _AUTOLINKED.sub(lambda m: m.group(0) + ZERO_WIDTH_SPACE, markdown)


def esc(value: object, limit: int = 500) -> str:
    """Markdown- and HTML-inert text for a table cell."""
    text = clean(value, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return no_autolinks(_SPECIAL.sub(r"\\\1", text))


def score_with_coverage(score: Score) -> str:
    """'80/100 · tested 2 of 9 claims (weight 7 of 40) · ⚠️ most claims untested: ...': never a bare number."""
    overall = "n/a (nothing checkable)" if score.overall is None else f"{score.overall:.0f}/100"
    caveat = f" · ⚠️ {MOSTLY_UNTESTED_CAVEAT}" if score.coverage.mostly_untested and score.overall is not None else ""
    return f"{overall} · {coverage_text(score.coverage)}{caveat}"


def to_markdown(run: RunResult) -> str:
    s = run.score
    lines = [f"## confaudit: {esc(run.vendor, 200)}", ""]
    lines.append(f"**Score:** {score_with_coverage(s)}  ·  " + "  ·  ".join(
        f"{_ICON.get(v, esc(v))}: {n}" for v, n in s.counts.items() if n))
    if s.contradicted_high:
        lines.append("")
        lines.append("> **Contradicted high-severity claims:** " + ", ".join(f"**{esc(c, 130)}**" for c in s.contradicted_high))
    if not run.evidence_complete:
        lines += ["", "> ⚠️ Part of the evidence could not be read; affected claims are marked inconclusive."]
    lines += ["", "| Claim | Severity | Verdict | Why |", "|---|---|---|---|"]
    order = sorted(run.findings, key=lambda f: (_FIRST.get(f.verdict, 2), -severity_rank(f.severity), f.line))
    for f in order:
        lines.append(f"| **{esc(f.claim_id, 130)}**: {esc(f.statement, 200)} | {f.severity} | {_ICON.get(f.verdict, esc(f.verdict))} | "
                     f"{esc(f.explanation, 600)} |")
    lines += ["", "<details><summary>Scores by category</summary>", "",
              "| Category | Score | Claims | Verifiable by |", "|---|---|---|---|"]
    for cat, entry in s.by_category.items():
        value = "n/a" if entry.get("score") is None else f"{entry['score']:.0f}"
        lines.append(f"| {esc(entry.get('title', cat), 200)} | {value} | {entry.get('claims', 0)} | {entry.get('verifiable')} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def comparison_markdown(runs: Sequence[RunResult]) -> str:
    """A vendor x category matrix of scores, with contradicted high-severity claims called out."""
    categories = sorted({c for r in runs for c in r.score.by_category})
    header = "| Vendor | Score | " + " | ".join(esc(c, 60) for c in categories) + " | Contradicted (high) |"
    lines = ["## confaudit: vendor comparison", "", header, "|" + "---|" * (len(categories) + 3)]
    for run in runs:
        cells = []
        for cat in categories:
            entry = run.score.by_category.get(cat)
            cells.append("" if entry is None else "n/a" if entry.get("score") is None else f"{entry['score']:.0f}")
        high = ", ".join(esc(c, 80) for c in run.score.contradicted_high) or "none"
        lines.append(f"| {esc(run.vendor, 100)} | {score_with_coverage(run.score)} | " + " | ".join(cells) + f" | {high} |")
    return "\n".join(lines) + "\n"
