"""Synthetic evidence bundles and run results for benchmarks and render tests.

Every captured-looking string can carry a ``payload`` (e.g. an HTML injection), so tests can plant
hostile text in every field a report shows. Deterministic for given arguments.
"""

from __future__ import annotations

from typing import Any

from benchmarks.whole_records import complete_bundle

VERDICT_CYCLE = ("supported", "contradicted", "inconclusive", "not_observable", "document_only", "error", "understated")
CATEGORIES = ("device", "os", "browser", "network", "identifier", "usage", "room_name", "audio_metrics")
CHECKS = ("transport_encryption", "media_encryption", "end_to_end_encryption", "media_path", "data_collection",
          "third_party_sharing", "no_advertising", "room_links", "room_lock", "no_audio_while_muted", "data_location", "document_only")


def synthetic_bundle(observations: int = 1000, payload: str = "", hosts: int = 300) -> dict[str, Any]:
    """A bundle with about ``observations`` records spread over every section a report shows."""
    p = payload
    n_http = max(observations // 2, 1)
    n_ws = observations // 4
    n_tls = max(observations // 10, 1)
    t0 = 1_750_000_000.0
    host_names = [f"h{i}.tracker{i % max(hosts // 3, 1)}.example{p}" if i % 3 else f"api{i}.vendor.example" for i in range(hosts)]
    domains = {h: ".".join(h.split(".")[-2:]) for h in host_names}
    parties, by_domain = [], {}
    for h in host_names:
        d = domains[h]
        if d not in by_domain:
            by_domain[d] = {"id": f"p{len(parties) + 1}", "domain": d, "entity": None if len(parties) % 4 == 0 else f"Entity {len(parties)}{p}",
                            "first_party": d.endswith("vendor.example"), "hosts": [], "sources": ["http"],
                            "categories": list(CATEGORIES[: 1 + len(parties) % len(CATEGORIES)]), "implicit_categories": [],
                            "request_count": 0, "message_count": 0, "bytes_sent": 0, "entity_list": None, "evidence": []}
            parties.append(by_domain[d])
        by_domain[d]["hosts"].append(h)
    http = []
    for i in range(n_http):
        host = host_names[i % hosts]
        party = by_domain[domains[host]]
        party["request_count"] += 1
        party["bytes_sent"] += 400 + i % 900
        http.append({"id": f"h{i + 1}", "ts": t0 + i * 600.0 / n_http, "method": "POST" if i % 2 else "GET",
                     "url": f"https://{host}/collect/{i}?q={p}&access_token=tok{i}secret", "host": host,
                     "status": 200, "flow": f"f{i % 50 + 1}"})
    websocket = [{"id": f"w{i + 1}", "ts": t0 + i * 600.0 / max(n_ws, 1), "http_id": f"h{i % n_http + 1}",
                  "type": "text", "from_client": True} for i in range(n_ws)]
    data_flows = [{"id": f"d{i + 1}", "party": parties[i % len(parties)]["domain"], "party_id": parties[i % len(parties)]["id"],
                   "entity": parties[i % len(parties)]["entity"], "first_party": parties[i % len(parties)]["first_party"],
                   "category": CATEGORIES[i % len(CATEGORIES)], "location": "body", "field_path": f"$.ctx.field{i}{p}",
                   "field_pattern": "$.ctx.*", "example": f"value{i}{p}"[:120], "reasons": ["key name"], "implicit": False,
                   "phase": ("lobby", "joined", "muted", "left")[i % 4], "phases": [], "count": 1 + i % 3,
                   "evidence": [{"kind": "http", "id": f"h{i % n_http + 1}"}], "evidence_count": 1, "entity_list": None}
                  for i in range(max(observations // 10, 1))]
    tls = [{"id": f"t{i + 1}", "sni": f"{host_names[i % hosts]}", "version": ("TLS 1.3", "TLS 1.2", "TLS 1.0")[i % 3],
            "cipher": f"TLS_AES_128_GCM_SHA256{p}", "weak": i % 3 == 2} for i in range(n_tls)]
    streams = [{"id": f"m{i + 1}", "flow": f"f{i % 50 + 1}", "ssrc": 1000 + i, "kind": ("audio", "video")[i % 2],
                "codec": ("opus", f"vp8{p}")[i % 2], "encryption": ("srtp", "none")[int(i % 7 == 0)],
                "packets": 100 + i, "reasons": [f"RTP version 2, payload type {96 + i % 4}{p}"]} for i in range(min(observations // 100 + 3, 500))]
    return complete_bundle({
        "schema_version": "1.0", "tool": {"name": "confaudit", "version": "0.1.0"},
        "inputs": [{"path": f"call{p}.pcapng", "sha256": "0" * 64, "format": "pcapng", "records_read": observations,
                    "records_skipped": 0, "complete": True, "warnings": []}],
        "complete": True, "warnings": [f"warning {i}{p}" for i in range(min(observations // 1000 + 1, 120))],
        "session": {"vendor": f"Vendor{p}", "scenario": f"two-party call{p}", "operator": f"auditor{p}",
                    "started": t0, "stopped": t0 + 600, "simulated": True, "files_match": True, "hook_errors": 0,
                    "sessions": [{"path": "s1", "vendor": f"Vendor{p}", "tool": {"confaudit": "0.1.0"},
                                  "dependencies": {"mitmproxy": f"12.3.1{p}"}, "simulated": True,
                                  "files": [{"name": f"capture.pcapng{p}", "sha256": "a" * 64, "matches": True}]}]},
        "phases": [{"phase": f"{name}{p}", "ts": t0 + k * 150} for k, name in enumerate(("lobby", "joined", "muted", "left"))],
        "http": http, "websocket": websocket, "parties": parties, "data_flows": data_flows, "tls": tls,
        "media_streams": streams,
        "dtls": [{"id": f"x{i + 1}", "version": "DTLS 1.2", "srtp_profiles_offered": ["SRTP_AEAD_AES_128_GCM", f"SRTP_AES128_CM_SHA1_80{p}"],
                  "srtp_profile": "SRTP_AEAD_AES_128_GCM"} for i in range(20)],
        "quic": [{"id": f"q{i + 1}", "sni": host_names[i % hosts], "version": "1"} for i in range(20)],
        "stun": [{"id": f"s{i + 1}", "realms": [f"turn.vendor.example{p}"], "software": f"Coturn-4.6{p}"} for i in range(30)],
        "media_path": {"topology": "server", "reasons": [f"all media to one server address{p}"],
                       "endpoints": [{"address": f"192.0.2.{i}", "port": 3478 + i, "role": "media_server",
                                      "names": [f"media{i}.vendor.example{p}"]} for i in range(1, 12)]},
        "e2ee": {"keylogs": [{"path": "keys.log"}], "streams": [{"id": "e1", "sender": "192.0.2.1:5000", "ssrc": 1000,
                                                               "codec": "opus", "packets": 500, "decrypted": 500,
                                                               "inner": f"codec{p}", "reasons": [f"Opus TOC valid{p}"]}],
                 "summary": {"conclusion": f"no inner encryption layer{p}"}},
    })


def synthetic_run(bundle: dict[str, Any], claims: int = 12, payload: str = "", evidence_per_finding: int = 40) -> dict[str, Any]:
    """A RunResult-shaped dict over ``bundle`` whose findings cite its HTTP records."""
    p = payload
    http = bundle.get("http") or []
    findings = []
    for i in range(claims):
        verdict = VERDICT_CYCLE[i % len(VERDICT_CYCLE)]
        refs = [{"kind": "http", "id": http[(i * 7 + k) % len(http)]["id"], "detail": f"request {k}{p}"}
                for k in range(evidence_per_finding if http and verdict != "document_only" else 0)]
        findings.append({
            "claim_id": f"claim-{i}{p}", "statement": f"We never share your data {i}.{p}",
            "source": {"title": f"Privacy policy{p}", "url": f"https://vendor.example/privacy?x={p}", "date": "2024-01-01"},
            "check": CHECKS[i % len(CHECKS)], "params": {"note": p}, "severity": ("low", "high", "critical", "medium")[i % 4],
            "category": ("transport_encryption", "third_party_sharing", "media_encryption", "data_collection")[i % 4] + p,
            "verdict": verdict, "explanation": f"Observed {len(refs)} requests to third parties.{p}", "evidence": refs,
            "line": 5 + i * 6, "column": 5, "fingerprint": f"{i:032x}", "document_only": verdict == "document_only"})
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["verdict"]] = counts.get(f["verdict"], 0) + 1
    return {"vendor": f"Vendor{p}", "claims_path": f"claims/vendor{p}.yaml", "findings": findings,
            "score": {"overall": 62.5, "by_category": {f"third_party_sharing{p}": {"score": 50.0, "weight": 2, "claims": 3, "verifiable": "capture"},
                                                        "transport_encryption": {"score": 100.0, "weight": 2, "claims": 3, "verifiable": "capture"}},
                      "contradicted_high": [f["claim_id"] for f in findings if f["verdict"] == "contradicted" and f["severity"] in ("high", "critical")],
                      "counts": counts, "capped_reason": f"a high-severity claim is contradicted{p}"},
            "evidence_complete": True, "inputs": bundle.get("inputs", [])}
