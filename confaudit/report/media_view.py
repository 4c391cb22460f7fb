"""The media section's tables: streams, media path, TLS/DTLS/QUIC/STUN inventory, E2EE result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import MediaStream, section_object, section_records as records
from confaudit.report.filters import as_list, as_map
from confaudit.report.keys_text import keys_used
from confaudit.report.media_labels import stream_label
from confaudit.report.sanitize import Sanitizer

MAX_ROWS = 200


def _join(values: Any, clean: Sanitizer, limit: int = 200) -> str:
    if isinstance(values, (list, tuple)):
        return clean.text(", ".join(str(v) for v in values[:50]), limit)
    return clean.text(values, limit)


def _flat(values: Any) -> str:
    if isinstance(values, (list, tuple)):
        return ", ".join(str(v) for v in values[:50])
    return "" if values is None else str(values)


def _aggregate(rows: list[tuple[Any, ...]]) -> list[tuple[tuple[str, ...], int]]:
    counts = Counter(tuple(str(c) for c in row) for row in rows)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _shown(rows: list[tuple[tuple[str, ...], int]], clean: Sanitizer,
           limits: tuple[int, ...]) -> tuple[list[dict[str, Any]], int]:
    """Redacted display rows for the first MAX_ROWS groups, and how many groups were left out."""
    shown = [{"cols": tuple(clean.text(c, lim) for c, lim in zip(cols, limits)), "count": n} for cols, n in rows[:MAX_ROWS]]
    return shown, max(len(rows) - MAX_ROWS, 0)


class _Notes:
    """Numbered notes under a table: a reason repeated on many rows is written once."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def number(self, text: str) -> int | None:
        if not text:
            return None
        if text not in self.texts:
            self.texts.append(text)
        return self.texts.index(text) + 1


def _stream_row(s: MediaStream, clean: Sanitizer, sdp_captured: bool, notes: _Notes) -> dict[str, Any]:
    label = stream_label(s, sdp_captured=sdp_captured)
    return {
        "id": clean.text(s["id"], 40), "flow": clean.text(s["flow"], 40), "ssrc": clean.text(s["ssrc"], 20),
        "payload_type": clean.text(s["payload_type"], 10), "kind": label.kind, "codec": clean.text(label.codec, 60),
        "summary": clean.text(label.summary, 120), "basis": clean.text(label.basis, 200),
        "unknown_note": notes.number(clean.text(label.unknown_reason, 600)),
        "encryption": clean.text(s["encryption"] or "unknown", 40),
        "encrypted": str(s["encryption"] or "").lower() not in ("", "none", "plain", "rtp", "unencrypted", "unknown"),
        "packets": s["packets"], "reasons_note": notes.number(_join(s["reasons"], clean, 300)),
    }


def _keys(bundle: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    """Which keys were used (HTTPS source, key logs, DTLS sessions opened), redacted."""
    used = keys_used(bundle)
    return {"case": used.case, "headline": clean.text(used.headline, 600), "https": clean.text(used.https, 600),
            "media": clean.text(used.media, 600),
            "keylogs": [{"name": clean.text(k.name, 200), "role": k.role, "secrets": k.secrets,
                         "labels": clean.text(k.labels, 300), "dtls_matched": k.dtls_matched} for k in used.keylogs[:50]]}


def media_view(bundle: Mapping[str, Any], clean: Sanitizer) -> dict[str, Any]:
    """Everything the media section shows; each list capped with a count of what was left out."""
    streams = (records(bundle, "media_streams") or [])
    enc = Counter(str(s["encryption"] or "unknown") for s in streams)
    sdp_captured = bool((records(bundle, "sdp") or []))
    notes = _Notes()
    stream_rows = [_stream_row(s, clean, sdp_captured, notes) for s in streams[:MAX_ROWS]]

    path = section_object(bundle, "media_path")
    path_view = None
    if path:
        endpoints = [e for e in as_list(path["endpoints"]) if isinstance(e, Mapping)]
        path_view = {
            "topology": clean.text(path["topology"] or "unknown", 60),
            "reasons": [clean.text(r, 300) for r in as_list(path["reasons"])[:20]],
            "endpoints": [{"address": clean.text(e.get("address"), 60), "port": clean.text(e.get("port"), 10),
                           "role": clean.text(e.get("role"), 40), "names": _join(e.get("names"), clean, 200)}
                          for e in endpoints[:MAX_ROWS]],
            "endpoints_more": max(len(endpoints) - MAX_ROWS, 0),
        }

    # Aggregate the raw values first, then redact only the rows shown (tens of thousands of handshakes).
    tls_raw = (records(bundle, "tls") or [])
    tls, tls_more = _shown(_aggregate([(t["sni"] or "(no SNI)", t["version"] or "?", t.get("cipher_name") or t["cipher"] or "?",
                              "weak" if t["weak"] else "") for t in tls_raw]), clean, (120, 20, 80, 10))
    quic, quic_more = _shown(_aggregate([(q["sni"] or "(no SNI)", q["version"] or "?") for q in (records(bundle, "quic") or [])]),
                  clean, (120, 40))
    dtls, dtls_more = _shown(_aggregate([(d["version"] or "?", _flat(d["srtp_profiles_offered"]),
                               d["srtp_profile"] or "none negotiated") for d in (records(bundle, "dtls") or [])]),
                  clean, (20, 200, 60))
    stun, stun_more = _shown(_aggregate([(_flat(s["realms"]), s["software"] or "") for s in (records(bundle, "stun") or [])]),
                  clean, (120, 120))

    e2ee = section_object(bundle, "e2ee")
    e2ee_view = None
    if e2ee:
        summary = as_map(e2ee["summary"])
        e2ee_streams = [s for s in as_list(e2ee["streams"]) if isinstance(s, Mapping)]
        e2ee_view = {
            "conclusion": clean.text(str(summary.get("conclusion") or "not determined").replace("_", " "), 300),
            "keylogs": len(as_list(e2ee["keylogs"])),
            "streams": [{"id": clean.text(s.get("id"), 20), "sender": clean.text(s.get("sender"), 80),
                         "ssrc": clean.text(s.get("ssrc"), 20),
                         "codec": clean.text(stream_label(s, sdp_captured=sdp_captured).summary, 80),
                         "packets": s.get("packets"), "decrypted": s.get("decrypted"),
                         "inner": clean.text(s.get("inner") if not isinstance(s.get("inner"), Mapping)
                                             else s["inner"].get("verdict") or s["inner"].get("class"), 80),
                         "canary": _canary_cell(s.get("canary"), clean),
                         "reasons": _join(s.get("reasons"), clean, 300)} for s in e2ee_streams[:MAX_ROWS]],
            "streams_more": max(len(e2ee_streams) - MAX_ROWS, 0),
        }

    return {
        "streams": stream_rows, "stream_notes": notes.texts, "streams_more": max(len(streams) - MAX_ROWS, 0), "stream_count": len(streams),
        "encryption_counts": [{"state": clean.text(k, 40), "count": v} for k, v in sorted(enc.items())],
        "path": path_view,
        "tls": tls, "tls_more": tls_more, "tls_count": len(tls_raw),
        "quic": quic, "quic_more": quic_more, "dtls": dtls, "dtls_more": dtls_more, "stun": stun, "stun_more": stun_more,
        "e2ee": e2ee_view, "key_use": _keys(bundle, clean),
    }


def _canary_cell(canary: Any, clean: Any) -> str:
    """The E2EE table's canary column: found/absent with its headline figure, or a dash when not searched."""
    if not isinstance(canary, Mapping):
        return "-"
    figures = as_map(canary.get("figures"))
    kind = canary.get("kind")
    if kind == "audio":
        figure = f"{figures.get('matched_windows')} of {figures.get('tonal_windows')} tone windows"
    else:
        figure = f"{figures.get('frames_matched')} of {figures.get('frames_decoded')} frames"
    return clean.text(f"{'found' if canary.get('found') is True else 'absent'} ({kind}: {figure})", 120)
