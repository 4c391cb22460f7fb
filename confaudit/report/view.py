"""Turn a run dict (``RunResult.to_dict()``) and an evidence bundle into the audit template's context.

Every captured string is redacted and clipped here; lists are capped with "N more" counts so a
report stays small whatever the capture size. Depends only on field names, never on classes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import section_object, section_records as records
from confaudit.report.evidence_refs import EvidenceIndex, evidence_rows
from confaudit.report.filters import anchor
from confaudit.report.media_view import media_view
from confaudit.report.methodology import GENERAL_LIMITS, category_title, category_titles, method_rows
from confaudit.redact import Redactor
from confaudit.report.filters import as_int, as_list, as_map
from confaudit.report.sanitize import Sanitizer
from confaudit.report.timeline import build_timeline

MAX_EVIDENCE_SHOWN = 25
"""Evidence references listed under each finding in the page."""
MAX_EVIDENCE_JSON = 200
"""Evidence references kept per finding in the embedded JSON (``confaudit check --json`` has them all)."""
MAX_PARTIES = 200
MAX_DATA_FLOWS = 300
MAX_WARNINGS = 50
VERDICT_ORDER = ("contradicted", "error", "understated", "inconclusive", "not_observable", "supported", "document_only")
MAX_UNTESTED_SHOWN = 30
"""Untested claims named beside the score; the rest are counted."""
MAX_BACKGROUND = 200
"""Background and unattributed hosts listed in the report."""


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _verdict_rank(verdict: str) -> int:
    return VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else 1


def finding_anchor(claim_id: Any) -> str:
    """HTML id of a finding (comparison reports link to it)."""
    return anchor("finding", claim_id)


def party_anchor(party_id: Any) -> str:
    """HTML id of a party row."""
    return anchor("party", party_id)


def _findings(run: Mapping[str, Any], index: EvidenceIndex, clean: Sanitizer) -> list[dict[str, Any]]:
    out = []
    for f in _list(run.get("findings")):
        source = as_map(f.get("source"))
        evidence = as_list(f.get("evidence"))
        rows, more = evidence_rows(evidence, index, clean, MAX_EVIDENCE_SHOWN)
        out.append({
            "anchor": finding_anchor(f.get("claim_id")), "claim_id": clean.text(f.get("claim_id"), 120),
            "statement": clean.text(f.get("statement"), 2000), "source_title": clean.text(source.get("title"), 300),
            "source_url": clean.url(source.get("url"), 2000), "source_date": clean.text(source.get("date"), 40),
            "verdict": str(f.get("verdict")), "severity": clean.text(f.get("severity"), 20),
            "category": clean.text(f.get("category"), 60), "check": clean.text(f.get("check"), 60),
            "explanation": clean.text(f.get("explanation"), 2000), "evidence_count": len(evidence),
            "evidence": rows, "evidence_more": more, "line": as_int(f.get("line")),
        })
    return out


def _parties(bundle: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    parties = (records(bundle, "parties") or [])
    flows = (records(bundle, "data_flows") or [])
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"count": 0, "example": "", "phases": set()})
    categories: list[str] = []
    for df in flows:
        cat = str(df["category"])
        if cat not in categories:
            categories.append(cat)
        cell = cells[(str(df["party_id"] or df["party"]), cat)]
        cell["count"] += as_int(df["count"]) or 1
        cell["example"] = cell["example"] or clean.text(df["example"], 60)
        if df["phase"]:
            cell["phases"].add(clean.text(df["phase"], 30))
    ranked = sorted(parties, key=lambda p: (p["first_party"] is True, -as_int(p["request_count"]),
                                            str(p["domain"])))
    rows = []
    for p in ranked[:MAX_PARTIES]:
        pid = str(p["id"])
        row_cells = []
        for cat in categories:
            found = cells.get((pid, cat)) or cells.get((str(p["domain"]), cat))
            row_cells.append({"count": found["count"], "example": found["example"], "phases": ", ".join(sorted(found["phases"]))}
                             if found else None)
        rows.append({"anchor": party_anchor(pid), "domain": clean.text(p["domain"], 120),
                     "entity": clean.text(p["entity"] or "unknown", 120), "first_party": p["first_party"],
                     "requests": p["request_count"] or 0, "bytes_sent": p["bytes_sent"] or 0,
                     "flow_bytes": p.get("flow_bytes"),
                     "hosts": clean.text(", ".join(str(h) for h in as_list(p["hosts"])[:10]), 300),
                     "cells": row_cells})
    flow_rows = [{"party": clean.text(df["party"], 120), "category": clean.text(df["category"], 40),
                  "location": clean.text(df["location"], 20), "field": clean.text(df["field_path"], 200),
                  "example": clean.text(df["example"], 120), "phase": clean.text(df["phase"] or "", 40),
                  "count": df["count"], "first_party": df["first_party"]}
                 for df in sorted(flows, key=lambda d: (d["first_party"] is True, str(d["party"]),
                                                        str(d["category"])))[:MAX_DATA_FLOWS]]
    return {"categories": [clean.text(c.replace("_", " "), 40) for c in categories], "rows": rows,
            "more": max(len(ranked) - MAX_PARTIES, 0), "count": len(parties),
            "third_party_count": sum(1 for p in parties if p["first_party"] is False),
            "data_flows": flow_rows, "data_flows_more": max(len(flows) - MAX_DATA_FLOWS, 0)}


def _background(bundle: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any] | None:
    """Hosts the analysis attributed to the device's background or to no one, with their reasons."""
    summary = bundle.get("traffic_attribution")
    if not isinstance(summary, Mapping):
        return None
    hosts = [h for h in _list(summary.get("hosts")) if h.get("role") in ("background", "unknown")]
    rows = [{"host": clean.text(h.get("host"), 160), "role": "background" if h.get("role") == "background" else "unknown",
             "reasons": [clean.text(r, 400) for r in as_list(h.get("reasons"))[:4]],
             "records": clean.text(", ".join(f"{k} {v}" for k, v in sorted(h["records"].items()))
                                   if isinstance(h.get("records"), Mapping) else "", 200)}
            for h in hosts[:MAX_BACKGROUND]]
    first_party = [clean.text(n, 120) for n in as_list(summary.get("first_party"))[:20]]
    return {"rows": rows, "more": max(len(hosts) - MAX_BACKGROUND, 0) + as_int(summary.get("hosts_omitted")),
            "background": sum(1 for h in hosts if h.get("role") == "background"),
            "unknown": sum(1 for h in hosts if h.get("role") == "unknown"), "first_party": first_party}


def _session(bundle: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any] | None:
    sess = bundle.get("session")
    if not isinstance(sess, Mapping):
        return None
    files, tools = [], []
    for entry in _list(sess.get("sessions"))[:20]:
        for f in _list(entry.get("files"))[:50]:
            files.append({"name": clean.text(f.get("name"), 120), "sha256": clean.text(f.get("sha256"), 64),
                          "matches": f.get("matches")})
        tool = as_map(entry.get("tool"))
        deps = as_map(entry.get("dependencies"))
        for name, version in list(tool.items())[:10] + list(deps.items())[:40]:
            tools.append({"name": clean.text(name, 60), "version": clean.text(version, 60)})
    return {"vendor": clean.text(sess.get("vendor"), 120), "scenario": clean.text(sess.get("scenario"), 500),
            "operator": clean.text(sess.get("operator"), 120), "started": sess.get("started"),
            "stopped": sess.get("stopped"), "simulated": bool(sess.get("simulated")),
            "files_match": sess.get("files_match"), "hashes_recorded": sess.get("hashes_recorded"),
            "files": files, "tools": tools}


def score_coverage(run: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    """Coverage of the run's score, recomputed from its findings with the scoring rule (never a bare number).

    ``text`` 'tested N of M claims (weight W of T)'; ``caveat`` set when most claims (or most weight) were
    not tested and there is a score to qualify; ``untested`` names them with links to their findings.
    """
    from confaudit.rules.scoring import MOSTLY_UNTESTED_CAVEAT, coverage, coverage_text

    cov = coverage((str(f.get("claim_id")), str(f.get("verdict")), str(f.get("severity")), str(f.get("category")))
                   for f in _list(run.get("findings")))
    score = as_map(run.get("score"))
    scored = isinstance(score.get("overall"), (int, float)) and not isinstance(score.get("overall"), bool)
    return {**cov.to_dict(), "text": coverage_text(cov),
            "caveat": MOSTLY_UNTESTED_CAVEAT if cov.mostly_untested and scored else None,
            "untested": [{"claim_id": clean.text(u["claim_id"], 120), "verdict": clean.text(u["verdict"], 40),
                          "anchor": finding_anchor(u["claim_id"])} for u in cov.untested[:MAX_UNTESTED_SHOWN]],
            "untested_more": max(len(cov.untested) - MAX_UNTESTED_SHOWN, 0)}


def _score(run: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    titles = category_titles()
    score = as_map(run.get("score"))
    by_cat = as_map(score.get("by_category"))
    counts = as_map(score.get("counts"))
    return {
        "overall": score.get("overall"), "capped_reason": clean.text(score.get("capped_reason"), 500) or None,
        "coverage": score_coverage(run, clean),
        "contradicted_high": [clean.text(c, 120) for c in as_list(score.get("contradicted_high"))[:50]],
        "counts": [{"verdict": v, "count": as_int(counts.get(v))} for v in VERDICT_ORDER if as_int(counts.get(v))],
        "categories": [{"name": clean.text(category_title(str(name), titles), 120), "id": clean.text(name, 60),
                        "score": c.get("score"), "weight": c.get("weight"),
                        "claims": c.get("claims"), "verifiable": clean.text(c.get("verifiable"), 20)}
                       for name, c in sorted(by_cat.items(), key=lambda kv: str(kv[0])) if isinstance(c, Mapping)],
    }


def embedded_json(run: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    """The findings for machines: the run dict, redacted, evidence capped per finding."""
    findings = []
    for f in _list(run.get("findings")):
        evidence = as_list(f.get("evidence"))
        item = dict(f, evidence=evidence[:MAX_EVIDENCE_JSON])
        if len(evidence) > MAX_EVIDENCE_JSON:
            item["evidence_omitted"] = len(evidence) - MAX_EVIDENCE_JSON
        findings.append(item)
    from confaudit.formats.schemas import FINDINGS_SCHEMA_VERSION

    return clean.data({"format": "confaudit-findings", "schema_version": FINDINGS_SCHEMA_VERSION, "vendor": run.get("vendor"),
                       "claims_path": run.get("claims_path"), "evidence_complete": run.get("evidence_complete"),
                       "score": run.get("score"), "findings": findings})


def audit_view(run: Mapping[str, Any], bundle: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """The complete context of ``audit.html.j2``."""
    clean = Sanitizer(redactor)
    index = EvidenceIndex(bundle)
    warnings = [w for w in as_list(bundle.get("warnings")) if isinstance(w, str)]
    inputs = (records(bundle, "inputs") or [])
    # Contradictions first: that is what readers look for; file order within a verdict.
    findings = sorted(_findings(run, index, clean), key=lambda f: _verdict_rank(f["verdict"]))
    tool: Mapping[str, Any] = (section_object(bundle, "tool") or {})
    return {
        "vendor": clean.text(run.get("vendor") or "unknown vendor", 120),
        "claims_path": clean.text(run.get("claims_path"), 300),
        "complete": run.get("evidence_complete") is True and bundle.get("complete") is True,
        "tool_version": clean.text(tool.get("version"), 40), "schema_version": clean.text(bundle.get("schema_version"), 20),
        "warnings": [clean.text(w, 400) for w in warnings[:MAX_WARNINGS]],
        "warnings_more": max(len(warnings) - MAX_WARNINGS, 0),
        "inputs": [{"path": clean.text(i["path"], 300), "sha256": clean.text(i["sha256"], 64),
                    "format": clean.text(i["format"], 30), "records_read": i["records_read"],
                    "records_skipped": i["records_skipped"], "complete": i["complete"]} for i in inputs[:100]],
        "inputs_more": max(len(inputs) - 100, 0),
        "session": _session(bundle, clean),
        "phases": [{"phase": clean.text(p["phase"], 60), "ts": p["ts"]} for p in (records(bundle, "phases") or [])[:100]],
        "score": _score(run, clean),
        "findings": findings,
        "parties": _parties(bundle, clean),
        "background": _background(bundle, clean),
        "timeline": build_timeline(bundle, lambda s: clean.text(s, 40)),
        "media": media_view(bundle, clean),
        "methods": method_rows([clean.text(f.get("check"), 60) for f in _list(run.get("findings"))]),
        "limits": GENERAL_LIMITS,
        "machine": embedded_json(run, clean),
    }
