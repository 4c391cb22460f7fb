"""HAR (Chrome/Firefox DevTools, mitmproxy exports) -> observation records; wrong types are InputErrors."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from confaudit.capture.body import DECODE_LIMIT, body_record, message_content
from confaudit.errors import InputError
from confaudit.redact import Redactor
from confaudit.telemetry.initiators import har_initiator


def _need(cond: bool, path: Path, where: str, what: str) -> None:
    if not cond:
        raise InputError(path, f"HAR {where}: {what}")


def _str(obj: dict[str, Any], key: str, path: Path, where: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    _need(isinstance(value, str), path, where, f"'{key}' must be a string")
    return value  # type: ignore[return-value]


def _headers(value: Any, path: Path, where: str) -> list[tuple[str, str]]:
    value = [] if value is None else value
    _need(isinstance(value, list), path, where, "'headers' must be a list")
    out = []
    for h in value:
        _need(isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value", ""), str),
              path, where, "a header must be {name: str, value: str}")
        out.append((h["name"], h.get("value", "")))
    return out


def _timestamp(text: str, path: Path, where: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InputError(path, f"HAR {where}: startedDateTime is not an ISO 8601 time") from None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def _text_bytes(content: dict[str, Any], path: Path, where: str) -> bytes | None:
    text = content.get("text")
    if text is None:
        return None
    _need(isinstance(text, str), path, where, "content 'text' must be a string")
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode("".join(text[: (DECODE_LIMIT // 3 + 1) * 4].split()), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(path, f"HAR {where}: content is not valid base64") from None
    return text[:DECODE_LIMIT].encode("utf-8", "replace")


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def har_records(har: Any, path: Path, redactor: Redactor) -> tuple[list[dict[str, Any]], int, list[str]]:
    """All HTTP and WebSocket records of a parsed HAR document, the entries skipped, and warnings.

    An entry holding a number no double can hold (``"time": 1e400``) is skipped and counted, not read.
    """
    from confaudit.jsonio import first_bad_number

    _need(isinstance(har, dict) and isinstance(har.get("log"), dict), path, "document", "no 'log' object")
    entries = har["log"].get("entries")
    _need(isinstance(entries, list), path, "log", "'entries' must be a list")
    records: list[dict[str, Any]] = []
    skipped, warnings = 0, []
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        _need(isinstance(entry, dict), path, where, "must be an object")
        bad = first_bad_number(entry)
        if bad is not None:
            skipped += 1
            if len(warnings) < 10:
                warnings.append(f"{path.name}: {where} skipped: number out of range at {bad[:200]}")
            continue
        req, resp = entry.get("request"), entry.get("response") or {}
        _need(isinstance(req, dict) and isinstance(resp, dict), path, where, "'request'/'response' must be objects")
        raw_url = _str(req, "url", path, where)
        try:
            parts = urlsplit(raw_url)
            port = parts.port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
        except ValueError:
            raise InputError(path, f"HAR {where}: request url is not a URL") from None
        req_headers = _headers(req.get("headers"), path, where)
        resp_headers = _headers(resp.get("headers"), path, where)
        status = resp.get("status")
        _need(status is None or (isinstance(status, int) and not isinstance(status, bool)), path, where, "'status' must be an integer")
        post = req.get("postData")
        _need(post is None or isinstance(post, dict), path, where, "'postData' must be an object")
        content = resp.get("content") or {}
        _need(isinstance(content, dict), path, where, "'content' must be an object")
        ts = _timestamp(_str(entry, "startedDateTime", path, where), path, where)
        uuid = f"har-{index}"
        url = redactor.url(raw_url)
        server_ip = entry.get("serverIPAddress")
        records.append({
            "kind": "http", "flow_uuid": uuid, "ts": ts, "method": _str(req, "method", path, where), "url": url,
            "scheme": parts.scheme, "host": (parts.hostname or ""), "port": port, "path": urlsplit(url).path,
            "query": redactor.query_pairs(parse_qsl(parts.query, keep_blank_values=True)),
            "http_version": req.get("httpVersion") if isinstance(req.get("httpVersion"), str) else None,
            "status": status if status else None,
            "request_headers": [list(p) for p in redactor.headers(req_headers)],
            "response_headers": [list(p) for p in redactor.headers(resp_headers)],
            "request_body": body_record(_text_bytes(post, path, where), _mime(post, req_headers), "", redactor)
            if post and post.get("text") else None,
            "response_body": body_record(_text_bytes(content, path, where), _mime(content, resp_headers), "", redactor)
            if content.get("text") else None,
            "client": None,
            "server": {"ip": server_ip.strip("[]"), "port": port} if isinstance(server_ip, str) and server_ip else None,
            "source": "har", "flow": None, "duration_ms": _number(entry.get("time")), "error": None,
        })
        initiator = har_initiator(entry)  # Chrome's _initiator: which page or script asked (origins only)
        if initiator is not None:
            records[-1]["initiator"] = initiator
        records.extend(_websocket_records(entry, uuid, parts.hostname or "", url, path, where, redactor))
    if skipped > len(warnings):
        warnings.append(f"{path.name}: {skipped} entries skipped in all")
    return records, skipped, warnings


def _mime(obj: dict[str, Any], headers: list[tuple[str, str]]) -> str:
    mime = obj.get("mimeType")
    return mime if isinstance(mime, str) else _header(headers, "content-type")


def _websocket_records(entry: dict[str, Any], uuid: str, host: str, url: str, path: Path, where: str,
                       redactor: Redactor) -> list[dict[str, Any]]:
    messages = entry.get("_webSocketMessages")
    if messages is None:
        return []
    _need(isinstance(messages, list), path, where, "'_webSocketMessages' must be a list")
    out = []
    for msg in messages:
        _need(isinstance(msg, dict) and isinstance(msg.get("data", ""), str) and msg.get("type") in ("send", "receive"),
              path, where, "a WebSocket message must be {type: send|receive, data: str}")
        ts = _number(msg.get("time"))
        _need(ts is not None, path, where, "a WebSocket message needs a numeric 'time'")
        is_text = msg.get("opcode", 1) != 2
        data = msg.get("data", "")
        raw = data[:DECODE_LIMIT].encode("utf-8", "replace") if is_text else _b64(data, path, where)
        kind, content, truncated = message_content(raw, is_text, redactor)
        out.append({"kind": "websocket", "http_uuid": uuid, "ts": ts, "from_client": msg["type"] == "send",
                    "type": kind, "size": len(raw), "content": content, "truncated": truncated,
                    "host": host, "url": url, "source": "har"})
    return out


def _b64(data: str, path: Path, where: str) -> bytes:
    try:
        return base64.b64decode("".join(data[: (DECODE_LIMIT // 3 + 1) * 4].split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(path, f"HAR {where}: binary WebSocket data is not base64") from None
