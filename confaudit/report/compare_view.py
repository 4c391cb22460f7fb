"""Context of the vendors comparison: verdict, data, third-party, media and score matrices.

Input: one ``{run, bundle, report_href}`` per vendor (``run`` a RunResult dict, ``report_href`` the
relative file name of that vendor's audit report, whose anchors every cell links to).

A plane missing from a vendor's evidence is "not captured", never 0 or empty: no decoded HTTP or
WebSocket traffic -> data categories and absent third parties; no media streams, DTLS, Zoom media
or media path -> media path, streams and SRTP; no packet flows -> TLS.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from confaudit.evidence_model import section_object, section_records as records
from confaudit.report.filters import as_int, as_list, as_map
from confaudit.report.keys_text import keys_used
from confaudit.report.methodology import category_title, category_titles
from confaudit.redact import Redactor
from confaudit.report.sanitize import Sanitizer
from confaudit.report.view import finding_anchor, party_anchor, score_coverage
from confaudit.rules.checks._common import role, vendor_media_view

MAX_THIRD_PARTIES = 100
NOT_CAPTURED = "not captured"
TOPOLOGIES = ("p2p", "relay", "server")
_FILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,150}")


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _safe_href(value: Any) -> str:
    """Only a plain relative file name may become a link target (never a scheme or path)."""
    text = str(value or "")
    return text if _FILE_RE.fullmatch(text) else ""


def _href(base: str, frag: str) -> str:
    return f"{base}#{frag}" if base else f"#{frag}"


def _topology(bundle: Mapping[str, Any]) -> str | None:
    path: Mapping[str, Any] = (section_object(bundle, "media_path") or {})
    value = str(path.get("topology") or "").lower()
    return value if value in TOPOLOGIES else None


def planes(bundle: Mapping[str, Any]) -> dict[str, bool]:
    """Which kinds of traffic the evidence holds: decoded web requests, media, packets."""
    return {"web": bool((records(bundle, "http") or []) or (records(bundle, "websocket") or [])),
            "media": bool((records(bundle, "media_streams") or []) or (records(bundle, "dtls") or []) or (records(bundle, "zoom") or [])
                          or _topology(bundle)),
            "packets": bool((records(bundle, "flows") or []))}


def _vendor(run: Mapping[str, Any], bundle: Mapping[str, Any], href: str, clean: Sanitizer) -> dict[str, Any]:
    score = as_map(run.get("score"))
    session = (section_object(bundle, "session") or {})
    return {"name": clean.text(run.get("vendor") or "unknown", 80), "href": href, "overall": score.get("overall"),
            "coverage": score_coverage(run, clean), "planes": planes(bundle),
            "counts": {str(k): as_int(v) for k, v in as_map(score.get("counts")).items()}, "complete": run.get("evidence_complete") is True and bundle.get("complete") is True,
            "simulated": bool(session.get("simulated")) if session else None,
            "by_category": {str(k): (v.get("score") if isinstance(v, Mapping) else None)
                            for k, v in as_map(score.get("by_category")).items()}}


def _verdict_rows(entries: Sequence[Mapping[str, Any]], clean: Sanitizer) -> list[dict[str, Any]]:
    titles = category_titles()
    categories: list[str] = []
    for e in entries:
        for f in _list(e["run"].get("findings")):
            cat = str(f.get("category"))
            if cat not in categories:
                categories.append(cat)
    order = list(titles)  # rubric order (NSA 2020 criteria first), categories unknown to it last
    categories.sort(key=lambda c: order.index(c) if c in order else len(order))
    rows = []
    for cat in categories:
        cells = []
        for e in entries:
            cells.append([{"claim_id": clean.text(f.get("claim_id"), 80), "verdict": str(f.get("verdict")),
                           "statement": clean.text(f.get("statement"), 200),
                           "href": _href(e["report_href"], finding_anchor(f.get("claim_id")))}
                          for f in _list(e["run"].get("findings")) if str(f.get("category")) == cat])
        rows.append({"category": clean.text(category_title(cat, titles), 120), "cells": cells})
    return rows


def _data_rows(entries: Sequence[Mapping[str, Any]], clean: Sanitizer) -> list[dict[str, Any]]:
    per_vendor = []
    categories: list[str] = []
    captured = [planes(e["bundle"])["web"] for e in entries]
    for e in entries:
        third: dict[str, set[str]] = {}
        first: dict[str, set[str]] = {}
        for df in (records(e["bundle"], "data_flows") or []):
            cat = str(df["category"])
            if cat not in categories:
                categories.append(cat)
            target = first if df["first_party"] is True else third
            target.setdefault(cat, set()).add(str(df["party"]))
        per_vendor.append((first, third))
    def cell(e: Mapping[str, Any], first: dict[str, set[str]], third: dict[str, set[str]], cat: str, web: bool) -> dict[str, Any]:
        href = _href(e["report_href"], "parties")
        if not web:  # no decoded web traffic: what was sent is unknown, not 0
            return {"captured": False, "first": None, "third": None, "third_names": "", "href": href}
        return {"captured": True, "first": len(first.get(cat, ())), "third": len(third.get(cat, ())),
                "third_names": clean.text(", ".join(sorted(third.get(cat, ()))[:10]), 200), "href": href}

    return [{"category": clean.text(cat.replace("_", " "), 40),
             "cells": [cell(e, first, third, cat, web) for e, (first, third), web in zip(entries, per_vendor, captured)]}
            for cat in sorted(categories)]


def _third_party_rows(entries: Sequence[Mapping[str, Any]], clean: Sanitizer) -> tuple[list[dict[str, Any]], int]:
    keyed: dict[str, list[Mapping[str, Any] | None]] = {}
    for n, e in enumerate(entries):
        for p in (records(e["bundle"], "parties") or []):
            # a third party is the vendor's (or not yet attributed); the device's own background services are not
            if p["first_party"] is True or role(p) == "background":
                continue
            key = str(p["entity"] or p["domain"])
            slot = keyed.setdefault(key, [None] * len(entries))
            slot[n] = slot[n] or p
    ranked = sorted(keyed.items(), key=lambda kv: (-sum(1 for p in kv[1] if p), kv[0]))
    web = [planes(e["bundle"])["web"] for e in entries]
    rows = []
    for key, parties in ranked[:MAX_THIRD_PARTIES]:
        cells: list[dict[str, Any] | None] = []
        for e, party, captured in zip(entries, parties, web):
            if party is None:  # absent: not contacted, or (without decoded web traffic) not captured
                cells.append(None if captured else {"captured": False})
                continue
            cells.append({
                "captured": True, "domain": clean.text(party.get("domain"), 80), "requests": party.get("request_count") or 0,
                "flow_bytes": party.get("flow_bytes") or 0,
                "categories": clean.text(", ".join(str(c) for c in as_list(party.get("categories"))[:12]), 200),
                "href": _href(e["report_href"], party_anchor(party.get("id")))})
        rows.append({"party": clean.text(key, 80), "cells": cells})
    return rows, max(len(ranked) - MAX_THIRD_PARTIES, 0)


def _media(e: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    bundle, _left_out = vendor_media_view(e["bundle"])  # another app's call in the same capture is not the vendor's
    streams = (records(bundle, "media_streams") or [])
    zoom = (records(bundle, "zoom") or [])
    enc = Counter(str(s["encryption"] or "unknown") for s in streams)
    tls = [t for t in (records(bundle, "tls") or []) if role(t) != "background"]  # the OS's own TLS is not the vendor's
    versions = Counter(str(t["version"] or "?") for t in tls)
    profiles = Counter(str(d["srtp_profile"] or "none") for d in (records(bundle, "dtls") or []))
    e2ee: Mapping[str, Any] = (section_object(bundle, "e2ee") or {})
    summary = as_map(e2ee.get("summary"))
    seen = planes(bundle)
    media_absent = "none found" if seen["media"] else NOT_CAPTURED
    return {
        "captured": {"media": seen["media"], "tls": bool(tls) or seen["packets"]},
        "topology": clean.text(_topology(bundle) or ("not determined" if seen["media"] else NOT_CAPTURED), 40),
        "streams": clean.text(", ".join([f"{n} {k}" for k, n in sorted(enc.items())]
                                        + ([f"Zoom media on {len(zoom)} flow(s)"] if zoom else [])) or media_absent, 200),
        "tls": clean.text(", ".join(f"{k} ×{n}" for k, n in sorted(versions.items()))
                          or ("none found" if seen["packets"] else NOT_CAPTURED), 200),
        "weak_tls": sum(1 for t in tls if t["weak"]),
        "srtp": clean.text(", ".join(f"{k} ×{n}" for k, n in sorted(profiles.items())) or media_absent, 200),
        "e2ee": clean.text(str(summary.get("conclusion") or "not tested").replace("_", " "), 120),
        "key_use": clean.text(keys_used(e["bundle"]).headline, 400),
        "href": _href(e["report_href"], "media"),
    }


def comparison_view(entries: Sequence[Mapping[str, Any]], redactor: Redactor) -> dict[str, Any]:
    """The whole comparison context (also the ``--json`` output's source)."""
    clean = Sanitizer(redactor)
    runs = [{"run": dict(e["run"]), "bundle": e["bundle"], "report_href": _safe_href(e.get("report_href"))}
            for e in entries]
    vendors = [_vendor(e["run"], e["bundle"], e["report_href"], clean) for e in runs]
    categories = sorted({c for v in vendors for c in v["by_category"]})
    third, third_more = _third_party_rows(runs, clean)
    view = {
        "vendors": vendors,
        "web_missing": [v["name"] for v in vendors if not v["planes"]["web"]],
        "verdict_rows": _verdict_rows(runs, clean),
        "data_rows": _data_rows(runs, clean),
        "third_party_rows": third, "third_party_more": third_more,
        "media": [_media(e, clean) for e in runs],
        "score_rows": [{"category": clean.text(category_title(c, category_titles()), 120), "scores": [v["by_category"].get(c) for v in vendors]} for c in categories],
    }
    from confaudit.formats.schemas import COMPARISON_SCHEMA_VERSION

    view["machine"] = clean.data({"format": "confaudit-comparison", "schema_version": COMPARISON_SCHEMA_VERSION,
                                  **{k: view[k] for k in ("vendors", "web_missing", "verdict_rows", "data_rows",
                                                          "third_party_rows", "third_party_more", "media", "score_rows")}})
    return view
