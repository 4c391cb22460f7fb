"""The comparison as Markdown (PR comment, CI step summary): escaped text, no links, images or mentions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from confaudit.formats.markdown import no_autolinks
from confaudit.report.filters import human_bytes, score_text, verdict_label, verdict_symbol

_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]()<>#+!|~^$&:])")


def md_escape(value: Any, limit: int = 120) -> str:
    """Cell text that renders literally: one line, Markdown and HTML specials backslash-escaped, nothing
    GitHub would autolink or turn into a mention or issue reference (``www.``, ``://``, ``@``, ``#1``)."""
    text = " ".join(str(value if value is not None else "").split())
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return no_autolinks(_SPECIAL_RE.sub(r"\\\1", text))


def _traffic(cell: Mapping[str, Any] | None) -> str:
    if not cell:
        return "–"
    if not cell.get("captured", True):
        return "not captured"
    return f"{cell['requests']} req." if cell.get("requests") else human_bytes(cell.get("flow_bytes") or 0)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def comparison_markdown(view: Mapping[str, Any]) -> str:
    """Scores, claims and verdicts, third parties and media per vendor as Markdown tables."""
    vendors = view["vendors"]
    head = [""] + [md_escape(v["name"], 40) for v in vendors]
    rule = ["---"] * len(head)
    lines = ["## confaudit comparison", "", _row(head), _row(rule)]
    lines.append(_row(["Overall score"] + [score_text(v["overall"]) + (" ⚠️ " + v["coverage"]["caveat"]
                                                                     if v["coverage"]["caveat"] else "") for v in vendors]))
    lines.append(_row(["Coverage"] + [v["coverage"]["text"] for v in vendors]))
    for verdict in ("contradicted", "understated", "supported", "inconclusive", "not_observable", "document_only", "error"):
        lines.append(_row([f"{verdict_symbol(verdict)} {verdict_label(verdict)}"] + [str(v["counts"].get(verdict, 0)) for v in vendors]))
    lines.append(_row(["Evidence complete"] + ["yes" if v["complete"] else "**NO**" for v in vendors]))
    lines += ["", "### Claims", "", _row(["Category"] + head[1:]), _row(rule)]
    for row in view["verdict_rows"]:
        cells = ["<br>".join(f"{verdict_symbol(f['verdict'])} {verdict_label(f['verdict'])}: {md_escape(f['claim_id'], 60)}"
                             for f in cell) or "–" for cell in row["cells"]]
        lines.append(_row([md_escape(row["category"], 60)] + cells))
    if view["data_rows"]:
        lines += ["", "### Data categories (third parties, first parties in brackets)", "",
                  _row(["Category"] + head[1:]), _row(rule)]
        for row in view["data_rows"]:
            cells = [f"{c['third']} ({c['first']})" if c["captured"] else "not captured" for c in row["cells"]]
            lines.append(_row([md_escape(row["category"], 60)] + cells))
    if view["web_missing"]:
        names = ", ".join(md_escape(name, 40) for name in view["web_missing"])
        lines += ["", f"Decoded HTTP/WebSocket traffic not captured for: {names} (data categories and third parties unknown there)."]
    if view["third_party_rows"]:
        lines += ["", "### Third parties", "", _row(["Company or domain"] + head[1:]), _row(rule)]
        for row in view["third_party_rows"][:30]:
            lines.append(_row([md_escape(row["party"], 60)] + [_traffic(c) for c in row["cells"]]))
        more = len(view["third_party_rows"]) - 30 + int(view.get("third_party_more") or 0)
        if more > 0:
            lines += ["", f"… and {more} more third parties (see the HTML comparison)."]
    lines += ["", "### Media", "", _row([""] + head[1:]), _row(rule)]
    for label, key in (("Media path", "topology"), ("Streams", "streams"), ("SRTP profile", "srtp"),
                       ("TLS versions", "tls"), ("End-to-end test", "e2ee")):
        lines.append(_row([label] + [md_escape(md[key], 80) for md in view["media"]]))
    from confaudit.formats.markdown import generated_by

    lines += ["", generated_by()]
    return "\n".join(lines) + "\n"
