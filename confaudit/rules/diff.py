"""What changed between two evidence bundles (sessions or app versions), and between their verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import Party
from confaudit.rules.checks._common import as_list, obj, records, text
from confaudit.rules.checks.media import srtp_profile, stream_encryption
from confaudit.rules.checks.transport import plaintext_web, tls_version, version_name
from confaudit.rules.model import RunResult

PLAIN_HTTP_KINDS = frozenset({"http", "http_plain", "flow"})


def _party_key(party: Party) -> str:
    return text(party["domain"] or party["entity"] or "", 200)


def _third_parties(bundle: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {_party_key(p): p for p in records(bundle, "parties") or [] if p["first_party"] is not True and _party_key(p)}


def _categories_by_party(bundle: Mapping[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in records(bundle, "data_flows") or []:
        party, category = f["party"], f["category"]
        if isinstance(party, str) and isinstance(category, str):
            out.setdefault(party, set()).add(category)
    return out


def encryption_summary(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """Media and transport encryption, in a shape that compares cleanly."""
    streams: dict[str, int] = {}
    for s in records(bundle, "media_streams") or []:
        kind = stream_encryption(s)
        streams[kind] = streams.get(kind, 0) + 1
    versions = sorted({version_name(v) for t in records(bundle, "tls") or [] if (v := tls_version(t["version"]))})
    profiles = sorted({srtp_profile(d["srtp_profile"])[1] for d in records(bundle, "dtls") or []
                       if d["srtp_profile"]})
    # The transport_encryption check's own predicates, so proxy CONNECT, loopback and OCSP/CRL fetches count
    # exactly as `check` counts them (the flow/packet references beside each item are not counted).
    plain, _revocation_checks = plaintext_web(bundle)
    kinds = [p.refs[0]["kind"] for p in plain]
    return {"media_streams": dict(sorted(streams.items())), "tls_versions": versions, "srtp_profiles": profiles,
            "plain_http_requests": sum(1 for k in kinds if k in PLAIN_HTTP_KINDS),
            "plain_websockets": sum(1 for k in kinds if k == "websocket")}


def _topology(bundle: Mapping[str, Any]) -> str:
    path = obj(bundle, "media_path")
    return text((path["topology"] if path else None) or "unknown", 40)


def _changed(old: Any, new: Any) -> dict[str, Any] | None:
    return None if old == new else {"old": old, "new": new}


def diff_bundles(old: Mapping[str, Any], new: Mapping[str, Any], old_run: RunResult | None = None,
                 new_run: RunResult | None = None) -> dict[str, Any]:
    """Changes from ``old`` to ``new``: third parties, data categories per party, encryption, media path, verdicts."""
    old = old if isinstance(old, Mapping) else {}
    new = new if isinstance(new, Mapping) else {}
    old_parties, new_parties = _third_parties(old), _third_parties(new)
    added = sorted(set(new_parties) - set(old_parties))
    removed = sorted(set(old_parties) - set(new_parties))
    old_cats, new_cats = _categories_by_party(old), _categories_by_party(new)
    categories = {}
    for party in sorted(set(old_cats) | set(new_cats)):
        gained = sorted(new_cats.get(party, set()) - old_cats.get(party, set()))
        lost = sorted(old_cats.get(party, set()) - new_cats.get(party, set()))
        if gained or lost:
            categories[party] = {"added": gained, "removed": lost}
    result: dict[str, Any] = {
        "third_parties": {
            "added": [{"domain": k, "entity": text(new_parties[k].get("entity"), 120) or None,
                       "categories": sorted({text(c, 60) for c in (new_parties[k].get("entity_categories") or [])
                                             if isinstance(c, str)})} for k in added],
            "removed": [{"domain": k, "entity": text(old_parties[k].get("entity"), 120) or None} for k in removed],
        },
        "data_categories": categories,
        "encryption": _changed(encryption_summary(old), encryption_summary(new)),
        "media_path": _changed(_topology(old), _topology(new)),
        "complete": {"old": old.get("complete") is True, "new": new.get("complete") is True},
        "verdicts": [],
    }
    scenarios: dict[str, Any] = {"old": _scenario_runs(old), "new": _scenario_runs(new)}
    if scenarios["old"] or scenarios["new"]:
        old_hashes = {r["sha256"] for r in scenarios["old"]}
        scenarios["same"] = bool(old_hashes) and old_hashes == {r["sha256"] for r in scenarios["new"]}
        result["scenario"] = scenarios
    if old_run is not None and new_run is not None:
        before = {f.claim_id: f for f in old_run.findings}
        for f in new_run.findings:
            prior = before.get(f.claim_id)
            if prior is None or prior.verdict != f.verdict:
                result["verdicts"].append({"claim_id": f.claim_id, "severity": f.severity,
                                           "old": prior.verdict if prior else None, "new": f.verdict,
                                           "explanation": f.explanation})
        result["score"] = _changed(old_run.score.overall, new_run.score.overall)
        result["coverage"] = {"old": old_run.score.coverage.to_dict(), "new": new_run.score.coverage.to_dict()}
    result["changed"] = bool(added or removed or categories or result["encryption"] or result["media_path"]
                             or result["verdicts"] or result.get("score"))
    return result


def _scenario_runs(bundle: Mapping[str, Any]) -> list[dict[str, str]]:
    """The scenario file (name, SHA-256, outcome) of each session recorded by `confaudit run`."""
    session = obj(bundle, "session")
    entries = as_list(session.get("sessions")) if session else []
    return [{k: text(e["scenario_run"].get(k), 80) for k in ("file", "sha256", "outcome")} for e in entries
            if isinstance(e, Mapping) and isinstance(e.get("scenario_run"), Mapping)]
