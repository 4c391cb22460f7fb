"""Resolve a finding's evidence references ``{kind, id, detail}`` to one readable line each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import section_records as records
from confaudit.report.filters import as_list
from confaudit.report.sanitize import Sanitizer

SECTIONS = {
    "flow": "flows", "http": "http", "websocket": "websocket", "media_stream": "media_streams",
    "party": "parties", "data_flow": "data_flows", "dns": "dns", "tls": "tls", "dtls": "dtls",
    "stun": "stun", "quic": "quic", "e2ee_stream": "e2ee.streams",
}


class EvidenceIndex:
    """Lazily built id -> record maps over the bundle's sections."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self._bundle = bundle
        self._maps: dict[str, dict[str, Mapping[str, Any]]] = {}

    def _section(self, kind: str) -> dict[str, Mapping[str, Any]]:
        if kind not in self._maps:
            name = SECTIONS.get(kind)
            records: Any = None
            if name == "e2ee.streams":
                e2ee = self._bundle.get("e2ee")
                records = e2ee.get("streams") if isinstance(e2ee, Mapping) else None
            elif name:
                records = self._bundle.get(name)
            self._maps[kind] = {str(r.get("id")): r for r in as_list(records) if isinstance(r, Mapping) and "id" in r}
        return self._maps[kind]

    def lookup(self, kind: str, ref_id: str) -> Mapping[str, Any] | None:
        """The referenced record, or None when the bundle does not hold it."""
        if kind == "packet":
            return self._packet(ref_id)
        return self._section(kind).get(ref_id)

    def _packet(self, ref_id: str) -> Mapping[str, Any] | None:
        """``<input_index>:<frame>`` -> {input path, frame}."""
        index, _, frame = ref_id.partition(":")
        inputs = (records(self._bundle, "inputs") or [])
        # isdigit() alone accepts "²" and unbounded lengths, which int() then rejects
        if not all(part.isascii() and part.isdigit() and len(part) <= 12 for part in (index, frame)) \
                or int(index) >= len(inputs):
            return None
        source = inputs[int(index)]
        return {"path": source["path"] if isinstance(source, Mapping) else None, "frame": int(frame)}


def _endpoint(rec: Mapping[str, Any], host: str, port: str) -> str:
    h, p = rec.get(host), rec.get(port)
    if h is None:
        return "?"
    h = str(h)
    return f"[{h}]:{p}" if ":" in h else f"{h}:{p}"


def describe(kind: str, rec: Mapping[str, Any] | None, clean: Sanitizer) -> str:
    """One line about a referenced record (redacted, clipped); '' when unknown."""
    if rec is None:
        return ""
    if kind == "packet":
        return clean.text(f"frame {rec['frame']} of {rec.get('path') or 'input'}", 300)
    if kind == "http":
        status = rec.get("status")
        return clean.text(f"{rec.get('method', '')} ", 20) + clean.url(rec.get("url"), 200) + (f" → {status}" if status is not None else "")
    if kind == "flow":
        proto = rec.get("protocol") or rec.get("label") or rec.get("transport") or ""
        return clean.text(f"{proto} {_endpoint(rec, 'src', 'sport')} → {_endpoint(rec, 'dst', 'dport')}", 200)
    if kind == "party":
        return clean.text(f"{rec.get('domain', '')} ({rec.get('entity') or 'unknown entity'})", 200)
    if kind == "data_flow":
        return clean.text(f"{rec.get('category', '')} → {rec.get('party', '')} in {rec.get('location', '')} "
                          f"{rec.get('field_path', '')}: {rec.get('example', '')}", 240)
    if kind == "media_stream":
        return clean.text(f"{rec.get('kind', '')} {rec.get('codec') or ''} ssrc {rec.get('ssrc')} "
                          f"({rec.get('encryption', 'unknown')})", 200)
    if kind == "tls":
        return clean.text(f"{rec.get('sni') or 'no SNI'} {rec.get('version') or ''} {rec.get('cipher_name') or rec.get('cipher') or ''}", 200)
    if kind == "dtls":
        return clean.text(f"DTLS {rec.get('version') or ''} SRTP {rec.get('srtp_profile') or 'none'}", 200)
    if kind == "websocket":
        return clean.text(f"WebSocket {rec.get('type', '')} message ({rec.get('direction') or rec.get('from_client', '')})", 200)
    if kind == "dns":
        return clean.text(f"{rec.get('name') or rec.get('query') or ''} {rec.get('answers') or ''}", 200)
    if kind == "stun":
        return clean.text(f"STUN {rec.get('type') or ''} {rec.get('software') or ''}", 200)
    return ""


def evidence_rows(evidence: Any, index: EvidenceIndex, clean: Sanitizer, limit: int) -> tuple[list[dict[str, str]], int]:
    """Display rows for at most ``limit`` references, and how many were left out."""
    refs = [e for e in as_list(evidence) if isinstance(e, Mapping)]
    rows = []
    for ref in refs[:limit]:
        kind, ref_id = str(ref.get("kind", "")), str(ref.get("id", ""))
        rows.append({"kind": clean.text(kind, 40), "id": clean.text(ref_id, 80),
                     "detail": clean.text(ref.get("detail"), 400),
                     "resolved": describe(kind, index.lookup(kind, ref_id), clean)})
    return rows, max(len(refs) - limit, 0)
