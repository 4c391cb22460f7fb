"""The bundle's ``room_links`` section: the texts that may hold room links, and their analysis when the session
names a ``room_link_pattern`` (the statistics are ``confaudit.room_link_stats``).

``candidate_urls`` (every HTTP request and WebSocket URL, first occurrence order) is always written, so the
room_links check can apply a claims file's own pattern to the bundle without reading other sections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confaudit.room_link_stats import analyze_room_links

if TYPE_CHECKING:
    from confaudit.evidence_model import RoomLinks


def room_links_section(bundle: dict[str, Any], session_pattern: Any, warnings: list[Any]) -> RoomLinks:
    """``{"candidate_urls": [...]}``, plus the analysis of ``room_link_candidates`` with ``session_pattern`` when
    the session gives one (a pattern the analysis refuses is a warning, and no analysis)."""
    section: RoomLinks = {}
    if isinstance(session_pattern, str) and session_pattern:
        try:
            section = analyze_room_links(room_link_candidates(bundle), session_pattern)
        except ValueError as exc:
            warnings.append(f"telemetry: room links not analysed: {exc}")
        else:
            if section["stopped"] in ("time", "matches"):
                warnings.append(f"telemetry: room-link matching stopped by its {section['stopped']} limit after "
                                f"{section['texts_read']} of {section['texts']} texts")
    section["candidate_urls"] = room_link_urls(bundle)
    return section


def room_link_urls(bundle: dict[str, Any]) -> list[str]:
    """HTTP request URLs, then WebSocket URLs, each once: what a claims file's room_link_pattern is matched against."""
    urls = [r["url"] for key in ("http", "websocket") for r in _records(bundle, key) if isinstance(r.get("url"), str)]
    return list(dict.fromkeys(urls))


def room_link_candidates(bundle: dict[str, Any]) -> list[str]:
    """Strings that may hold room links: URLs, Referer/Location headers, text bodies and messages."""
    from confaudit.telemetry.decode import body_bytes, decompress_payload

    out: list[str] = []
    for rec in _records(bundle, "http"):
        if isinstance(rec.get("url"), str):
            out.append(rec["url"])
        for key in ("request_headers", "response_headers"):
            pairs = rec.get(key)
            for pair in pairs if isinstance(pairs, list) else ():
                if isinstance(pair, (list, tuple)) and len(pair) == 2 and str(pair[0]).lower() in ("referer", "location", "origin"):
                    out.append(str(pair[1]))
        for key in ("request_body", "response_body"):
            raw = body_bytes(rec.get(key))
            if raw:
                data, _ = decompress_payload(raw, str(rec[key].get("encoding") or ""))
                out.append(data[:1_000_000].decode("utf-8", "replace"))
    for rec in _records(bundle, "websocket"):
        if isinstance(rec.get("content"), str) and rec.get("type") != "binary":
            out.append(rec["content"][:1_000_000])
    return out


def _records(bundle: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []
