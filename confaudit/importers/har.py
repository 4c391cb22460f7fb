"""HAR (Chrome/Firefox DevTools, mitmproxy exports) -> observation records; wrong types are InputErrors.

The file is streamed entry by entry (confaudit.importers.har_stream), so memory holds the records and
never the document; equal parts of the records are shared (confaudit.importers.shared). The records are
the converters' (``session.records.HttpObservation``/``WebSocketObservation``): mypy checks every key and
value against the schema's ``http``/``websocket`` records.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from functools import partial
from itertools import chain
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias
from urllib.parse import urlsplit

from confaudit.form_pairs import form_pairs
from confaudit.session.bodies import DECODE_LIMIT, body_record, message_content
from confaudit.importers.har_stream import HarEntries, skip_reason
from confaudit.importers.shared import SharedParts
from confaudit.errors import InputError
from confaudit.gcpause import gc_paused
from confaudit.redact import Redactor
from confaudit.telemetry.initiators import har_initiator

if TYPE_CHECKING:
    from confaudit.evidence_model import HttpEndpoint
    from confaudit.session.records import HttpObservation, WebSocketObservation

MAX_HAR_BYTES = 512 * 1024 * 1024
HarRecord: TypeAlias = "HttpObservation | WebSocketObservation"
"""A record a HAR gives: one per request, one per WebSocket message."""


def _need(cond: bool, path: Path, where: str, what: str) -> None:
    if not cond:
        raise InputError(path, f"HAR {where}: {what}")


def _headers(value: Any, path: Path, where: str) -> tuple[tuple[str, str], ...]:
    value = [] if value is None else value
    _need(isinstance(value, list), path, where, "'headers' must be a list")
    out = []
    for h in value:
        if not (isinstance(h, dict) and isinstance(name := h.get("name"), str) and isinstance(text := h.get("value", ""), str)):
            raise InputError(path, f"HAR {where}: a header must be {{name: str, value: str}}")
        out.append((name, text))
    return tuple(out)


def _timestamp(text: str, path: Path, where: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InputError(path, f"HAR {where}: startedDateTime is not an ISO 8601 time") from None


def _number(value: Any) -> float | None:
    """A non-negative number as float, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value >= 0 else None


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


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


class _Url(NamedTuple):
    """A request URL as a record holds it."""

    url: str
    """Redacted."""
    scheme: str
    host: str
    port: int
    path: str
    """The redacted URL's path."""
    query: list[list[str]]
    """Redacted [name, value] pairs."""


class _Memo(SharedParts):
    """Redacted headers, query pairs and URLs of one HAR, remembered (it repeats its User-Agent, cookies and
    content types on every entry) and shared between its records (confaudit.importers.shared)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def _pair(self, kind: str, name: str, value: str) -> list[str]:
        def redacted() -> list[str]:
            pair = (self.redactor.headers if kind == "header" else self.redactor.query_pairs)([(name, value)])[0]
            return [self.text(pair[0]), self.text(pair[1])]

        return self.same(kind, (name, value), redacted, len(name) + len(value))

    def url(self, raw: str) -> _Url:
        """The request URL redacted and taken apart; ValueError when it is not a URL."""
        def parsed() -> _Url:
            parts = urlsplit(raw)
            port = parts.port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
            url = self.redactor.split_url(raw, parts)
            path = parts.path if url == raw else urlsplit(url).path  # most URLs hold nothing to redact
            return _Url(url, self.text(parts.scheme), self.text(parts.hostname or ""), port, path,
                        [self._pair("query", name, value) for name, value in form_pairs(parts.query)])

        found: _Url | None = self.known("url", raw)  # most URLs recur: no closure made for them
        return found if found is not None else self.same("url", raw, parsed, len(raw))

    def headers(self, pairs: tuple[tuple[str, str], ...]) -> list[list[str]]:
        found: list[list[str]] | None = self.known("headers", pairs)  # a session sends the same headers again and again
        if found is not None:
            return found
        return self.same("headers", pairs, lambda: [self._pair("header", name, value) for name, value in pairs],
                         sum(map(len, chain.from_iterable(pairs))))


def har_records(entries: Iterable[Any], path: Path, redactor: Redactor,
                unreadable: Callable[[Any], str | None] = skip_reason) -> tuple[list[HarRecord], int, list[str]]:
    """All HTTP and WebSocket records of a HAR's entries, the entries skipped, and warnings.

    An entry holding a number no double can hold (``"time": 1e400``) or nested too deep is skipped and counted,
    not read: ``unreadable`` says why (by default a walk of the entry; the streamed reader knows already).
    """
    records: list[HarRecord] = []
    memo = _Memo(redactor)
    warnings: list[str] = []
    skipped = 0
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        _need(isinstance(entry, dict), path, where, "must be an object")
        reason = unreadable(entry)
        if reason is not None:
            skipped += 1
            if len(warnings) < 10:
                warnings.append(f"{path.name}: {where} skipped: {reason}")
            continue
        upgrade = _http_record(entry, index, path, where, memo)
        records.append(upgrade)
        if "_webSocketMessages" in entry:
            records.extend(_websocket_records(entry, upgrade, path, where, redactor))
    if skipped > len(warnings):
        warnings.append(f"{path.name}: {skipped} entries skipped in all")
    return records, skipped, warnings


def read_har(path: Path, redactor: Redactor) -> tuple[list[HarRecord], int, int, list[str]]:
    """(records, entries read, entries skipped, warnings) of a HAR file."""
    size = path.stat().st_size
    if size > MAX_HAR_BYTES:
        raise InputError(path, f"HAR is {size} bytes, above the {MAX_HAR_BYTES}-byte limit")
    entries = HarEntries(path)
    with gc_paused(keep=True):
        records, skipped, warnings = har_records(entries, path, redactor, lambda _: entries.unreadable)
    if entries.damage is not None:  # at least one entry (or the rest of one) is lost
        skipped += 1
        warnings.append(f"{path.name}: not JSON after entry {entries.count - 1} ({entries.damage}); "
                        "the rest of the file is not read")
    return records, sum(1 for r in records if r["kind"] == "http"), skipped, warnings


def _http_record(entry: dict[str, Any], index: int, path: Path, where: str, memo: _Memo) -> HttpObservation:
    # Checks written out rather than through _need: this runs once per entry of files of 100,000.
    redactor = memo.redactor
    req, resp = entry.get("request"), entry.get("response") or {}
    if not (isinstance(req, dict) and isinstance(resp, dict)):
        raise InputError(path, f"HAR {where}: 'request'/'response' must be objects")
    raw_url = req.get("url")
    if not isinstance(raw_url, str):
        raise InputError(path, f"HAR {where}: 'url' must be a string")
    try:
        target = memo.url(raw_url)
    except ValueError:
        raise InputError(path, f"HAR {where}: request url is not a URL") from None
    req_headers = _headers(req.get("headers"), path, where)
    resp_headers = _headers(resp.get("headers"), path, where)
    status = resp.get("status")
    if not (status is None or (isinstance(status, int) and not isinstance(status, bool))):
        raise InputError(path, f"HAR {where}: 'status' must be an integer")
    post = req.get("postData")
    if not (post is None or isinstance(post, dict)):
        raise InputError(path, f"HAR {where}: 'postData' must be an object")
    content = resp.get("content") or {}
    if not isinstance(content, dict):
        raise InputError(path, f"HAR {where}: 'content' must be an object")
    started = entry.get("startedDateTime")
    if not isinstance(started, str):
        raise InputError(path, f"HAR {where}: 'startedDateTime' must be a string")
    ts = _timestamp(started, path, where)
    method = req.get("method")
    if not isinstance(method, str):
        raise InputError(path, f"HAR {where}: 'method' must be a string")
    server_ip = entry.get("serverIPAddress")
    http_version = req.get("httpVersion")
    text = memo.text
    record: HttpObservation = {
        "kind": "http", "flow_uuid": f"har-{index}", "ts": ts, "method": text(method),
        "url": target.url, "scheme": target.scheme, "host": target.host, "port": target.port,
        "path": target.path, "query": target.query,
        "http_version": text(http_version) if isinstance(http_version, str) else None,
        "status": status if status else None,
        "request_headers": memo.headers(req_headers),
        "response_headers": memo.headers(resp_headers),
        "request_body": body_record(_text_bytes(post, path, where), text(_mime(post, req_headers)), "", redactor)
        if post and post.get("text") else None,
        "response_body": body_record(_text_bytes(content, path, where), text(_mime(content, resp_headers)), "", redactor)
        if content.get("text") else None,
        "client": None,
        "server": memo.same("server", (server_ip, target.port), partial(_endpoint, server_ip, target.port))
        if isinstance(server_ip, str) and server_ip else None,
        "source": "har", "flow": None, "duration_ms": _number(entry.get("time")), "error": None,
    }
    if "_initiator" in entry:
        initiator = har_initiator(entry)  # Chrome's _initiator: which page or script asked (origins only)
        if initiator is not None:
            record["initiator"] = memo.same("initiator", (initiator["type"], *initiator["origins"]), lambda: initiator)
    return record


def _endpoint(ip: str, port: int) -> HttpEndpoint:
    return {"ip": ip.strip("[]"), "port": port}


def _mime(obj: dict[str, Any], headers: tuple[tuple[str, str], ...]) -> str:
    mime = obj.get("mimeType")
    return mime if isinstance(mime, str) else _header(headers, "content-type")


def _websocket_records(entry: dict[str, Any], upgrade: HttpObservation, path: Path, where: str,
                       redactor: Redactor) -> list[WebSocketObservation]:
    messages = entry.get("_webSocketMessages")
    if messages is None:
        return []
    _need(isinstance(messages, list), path, where, "'_webSocketMessages' must be a list")
    out: list[WebSocketObservation] = []
    for msg in messages:
        _need(isinstance(msg, dict) and isinstance(msg.get("data", ""), str) and msg.get("type") in ("send", "receive"),
              path, where, "a WebSocket message must be {type: send|receive, data: str}")
        ts = _number(msg.get("time"))
        if ts is None:
            raise InputError(path, f"HAR {where}: a WebSocket message needs a numeric 'time'")
        is_text = msg.get("opcode", 1) != 2
        data = msg.get("data", "")
        raw = data[:DECODE_LIMIT].encode("utf-8", "replace") if is_text else _b64(data, path, where)
        kind, content, truncated = message_content(raw, is_text, redactor)
        out.append({"kind": "websocket", "http_uuid": upgrade["flow_uuid"], "ts": ts, "from_client": msg["type"] == "send",
                    "type": kind, "size": len(raw), "content": content, "truncated": truncated,
                    "host": upgrade["host"], "url": upgrade["url"], "source": "har"})
    return out


def _b64(data: str, path: Path, where: str) -> bytes:
    try:
        return base64.b64decode("".join(data[: (DECODE_LIMIT // 3 + 1) * 4].split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(path, f"HAR {where}: binary WebSocket data is not base64") from None
