"""Minimal HAR 1.2 documents for tests that run the real import and analysis (build_evidence)."""

from __future__ import annotations

from confaudit.redact import Redactor
import base64
import json
from pathlib import Path
from typing import Any

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def har_entry(url: str, body: str | bytes, mime: str, second: int = 1) -> dict[str, Any]:
    """One POST entry; bytes bodies are written base64-encoded (the importer decodes them)."""
    post: dict[str, Any] = {"mimeType": mime}
    if isinstance(body, bytes):
        post.update(text=base64.b64encode(body).decode(), encoding="base64")
    else:
        post["text"] = body
    return {
        "startedDateTime": f"2026-11-25T08:00:{second:02d}.000Z", "time": 5,
        "request": {"method": "POST", "url": url, "httpVersion": "HTTP/2", "cookies": [], "headersSize": -1,
                    "bodySize": len(body), "queryString": [], "postData": post,
                    "headers": [{"name": "User-Agent", "value": UA}, {"name": "Content-Type", "value": mime}]},
        "response": {"status": 204, "statusText": "", "httpVersion": "HTTP/2", "headers": [], "cookies": [],
                     "content": {"size": 0, "mimeType": "text/plain", "text": ""}, "redirectURL": "",
                     "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                        "entries": entries}}))
    return path


def analyse_har(path: Path) -> dict[str, Any]:
    """The evidence bundle of one HAR file, through the same path as ``confaudit analyze``."""
    from confaudit.evidence.build import build_evidence

    return build_evidence([path], redactor=Redactor.default())


def explicit_flows(bundle: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """field_path -> {category: reasons} of the data the page chose to send (body fields only)."""
    out: dict[str, dict[str, list[str]]] = {}
    for flow in bundle["data_flows"]:
        if not flow["implicit"] and flow["location"] == "body":
            out.setdefault(flow["field_path"], {})[flow["category"]] = flow["reasons"]
    return out
