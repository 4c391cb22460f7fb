"""HAR (Chrome/Firefox DevTools, mitmproxy exports) -> observation records; wrong types are InputErrors.

The file is streamed (ijson's C parser, entry by entry, after a nesting check per chunk), so memory
holds the records and never the document: a 100,000-entry HAR is read in a few seconds and megabytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from confaudit.capture.body import DECODE_LIMIT, body_record, message_content
from confaudit.errors import InputError
from confaudit.redact import Redactor
from confaudit.telemetry.initiators import har_initiator

MAX_HAR_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 200
CHUNK_BYTES = 1 << 20
MAX_NUMBER = 1.7976931348623157e308
"""The largest magnitude a JSON number may have: what an IEEE 754 double holds (RFC 8259 section 6)."""
_MAX_DECIMAL = Decimal(MAX_NUMBER)
_MEMO_LIMIT = 50_000


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
    """A non-negative number as float (the parser gives non-integers as Decimal), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    return float(value) if value >= 0 else None


def _in_range(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite() and abs(value) <= _MAX_DECIMAL
    return not isinstance(value, int) or -MAX_NUMBER <= value <= MAX_NUMBER


def bad_number(obj: Any) -> str | None:
    """Where (``$.time``, ``$.request.bodySize``) ``obj`` holds a number no double can hold (``1e400``, a
    400-digit integer), else None. The same rule as the JSON readers: such an entry is skipped and counted."""
    stack: list[tuple[str, Any]] = [("$", obj)]
    while stack:
        where, cur = stack.pop()
        if isinstance(cur, dict):
            stack.extend((f"{where}.{str(k)[:64]}", v) for k, v in cur.items())
        elif isinstance(cur, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(cur))
        elif not _in_range(cur):
            return where
    return None


def _all_in_range(obj: Any) -> bool:
    """Cheap pass of :func:`bad_number` (no paths): True when every number fits a double."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        kind = type(cur)
        if kind is dict:
            stack.extend(cur.values())
        elif kind is list:
            stack.extend(cur)
        elif (kind is Decimal or kind is int) and not _in_range(cur):
            return False
    return True


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


# ---- reading -------------------------------------------------------------------------------------
def _json_problem(exc: BaseException) -> str:
    """The parser's first line (ijson gives some as bytes, with the input quoted on later lines)."""
    message = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return (str(message).strip().splitlines() or [type(exc).__name__])[0][:200]


class HarEntries:
    """The ``log.entries`` items of a HAR file, one at a time (iterate once).

    A file that is not JSON is an InputError. A file that stops being JSON after some entries (cut short,
    damaged) is analysed as far as it goes: iteration ends there and :attr:`damage` says why.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damage: str | None = None
        """The parser's problem when the file broke off after at least one entry, else None."""
        self.count = 0
        """Entries given so far."""

    def __iter__(self) -> Iterator[Any]:
        import ijson

        from confaudit.jsonstream import NestingGuard, TooDeep

        guard, entries = NestingGuard(MAX_DEPTH), ijson.sendable_list()
        # Non-integers as Decimal: ``1e400`` stays a number whose entry is skipped, not a parse error for the file.
        parser = ijson.items_coro(entries, "log.entries.item", use_float=False)
        try:
            with self.path.open("rb") as fh:
                if fh.read(3) != b"\xef\xbb\xbf":
                    fh.seek(0)
                chunk = fh.read(CHUNK_BYTES)
                while chunk:
                    following = fh.read(CHUNK_BYTES)
                    try:
                        data = guard.check(chunk, final=not following)
                    except TooDeep as deep:
                        parser.send(deep.safe)  # the entries before the deep part are still read
                        raise
                    if data:
                        parser.send(data)
                    yield from self._take(entries)
                    chunk = following
            parser.close()
        except UnicodeDecodeError:  # a lone UTF-16 surrogate escape decodes to no valid UTF-8
            self._broken(entries, "a string holds a lone UTF-16 surrogate")
        except (ijson.JSONError, ValueError) as exc:  # the parser's, the nesting guard's
            self._broken(entries, _json_problem(exc))
        yield from self._take(entries)  # completed by the end of the file, or before the damage

    def _take(self, entries: list[Any]) -> Iterator[Any]:
        taken = entries[:]
        del entries[:]
        for entry in taken:
            self.count += 1
            yield entry

    def _broken(self, pending: list[Any], problem: str) -> None:
        if not self.count and not pending:
            raise InputError(self.path, f"invalid JSON: {problem}")
        self.damage = problem


def layout_problem(path: Path) -> tuple[str, str] | None:
    """(where, what) when the document has no ``log`` object or its ``entries`` is not a list; None when it
    is a HAR. Read only for a file that gave no entries (the streamed pass cannot tell the cases apart)."""
    import ijson

    kinds: dict[str, str] = {}
    with path.open("rb") as fh:
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        for prefix, event, _ in ijson.parse(fh, use_float=False):
            if prefix in ("", "log", "log.entries") and event != "map_key" and prefix not in kinds:
                kinds[prefix] = event
            if "log.entries" in kinds:
                break
    if kinds.get("") != "start_map" or kinds.get("log") != "start_map":
        return "document", "no 'log' object"
    if kinds.get("log.entries") != "start_array":
        return "log", "'entries' must be a list"
    return None


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


class _Memo:
    """Redacted header and query pairs, remembered: a HAR repeats its User-Agent, cookies and content types
    on every entry. Records share the redacted ``[name, value]`` lists and equal strings instead of holding
    copies (nothing modifies a record's pairs after import)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._pairs: dict[tuple[str, str, str], list[str]] = {}
        self._strings: dict[str, str] = {}
        self._urls: dict[str, _Url] = {}

    def share(self, text: str) -> str:
        if len(self._strings) >= _MEMO_LIMIT:
            self._strings.clear()
        return self._strings.setdefault(text, text)

    def _pair(self, kind: str, name: str, value: str) -> list[str]:
        done = self._pairs.get((kind, name, value))
        if done is None:
            if len(self._pairs) >= _MEMO_LIMIT:
                self._pairs.clear()
            redacted = (self.redactor.headers if kind == "h" else self.redactor.query_pairs)([(name, value)])[0]
            done = self._pairs[(kind, name, value)] = [self.share(redacted[0]), self.share(redacted[1])]
        return done

    def url(self, raw: str) -> _Url:
        """The request URL redacted and taken apart; ValueError when it is not a URL."""
        done = self._urls.get(raw)
        if done is None:
            parts = urlsplit(raw)
            port = parts.port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
            url = self.redactor.url(raw)
            done = _Url(url, self.share(parts.scheme), self.share(parts.hostname or ""), port, urlsplit(url).path,
                        self.query(parse_qsl(parts.query, keep_blank_values=True)))
            if len(self._urls) >= _MEMO_LIMIT:
                self._urls.clear()
            self._urls[raw] = done
        return done

    def headers(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [self._pair("h", name, value) for name, value in pairs]

    def query(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [self._pair("q", name, value) for name, value in pairs]


def har_records(entries: Iterable[Any], path: Path, redactor: Redactor) -> tuple[list[dict[str, Any]], int, list[str]]:
    """All HTTP and WebSocket records of a HAR's entries, the entries skipped, and warnings.

    An entry holding a number no double can hold (``"time": 1e400``) is skipped and counted, not read.
    """
    records: list[dict[str, Any]] = []
    memo = _Memo(redactor)
    skipped, warnings, index = 0, [], -1
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        _need(isinstance(entry, dict), path, where, "must be an object")
        if not _all_in_range(entry):
            skipped += 1
            if len(warnings) < 10:
                warnings.append(f"{path.name}: {where} skipped: number out of range at {(bad_number(entry) or '$')[:200]}")
            continue
        records.append(_http_record(entry, index, path, where, memo))
        records.extend(_websocket_records(entry, records[-1], path, where, redactor))
    if index < 0:
        problem = layout_problem(path)
        if problem is not None:
            raise InputError(path, f"HAR {problem[0]}: {problem[1]}")
    if skipped > len(warnings):
        warnings.append(f"{path.name}: {skipped} entries skipped in all")
    return records, skipped, warnings


def read_har(path: Path, redactor: Redactor) -> tuple[list[dict[str, Any]], int, int, list[str]]:
    """(records, entries read, entries skipped, warnings) of a HAR file."""
    size = path.stat().st_size
    if size > MAX_HAR_BYTES:
        raise InputError(path, f"HAR is {size} bytes, above the {MAX_HAR_BYTES}-byte limit")
    entries = HarEntries(path)
    records, skipped, warnings = har_records(entries, path, redactor)
    if entries.damage is not None:  # at least one entry (or the rest of one) is lost
        skipped += 1
        warnings.append(f"{path.name}: not JSON after entry {entries.count - 1} ({entries.damage}); "
                        "the rest of the file is not read")
    return records, sum(1 for r in records if r["kind"] == "http"), skipped, warnings


def _http_record(entry: dict[str, Any], index: int, path: Path, where: str, memo: _Memo) -> dict[str, Any]:
    redactor = memo.redactor
    req, resp = entry.get("request"), entry.get("response") or {}
    _need(isinstance(req, dict) and isinstance(resp, dict), path, where, "'request'/'response' must be objects")
    try:
        target = memo.url(_str(req, "url", path, where))
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
    server_ip = entry.get("serverIPAddress")
    http_version = req.get("httpVersion")
    record = {
        "kind": "http", "flow_uuid": f"har-{index}", "ts": ts, "method": memo.share(_str(req, "method", path, where)),
        "url": target.url, "scheme": target.scheme, "host": target.host, "port": target.port,
        "path": target.path, "query": list(target.query),
        "http_version": memo.share(http_version) if isinstance(http_version, str) else None,
        "status": status if status else None,
        "request_headers": memo.headers(req_headers),
        "response_headers": memo.headers(resp_headers),
        "request_body": body_record(_text_bytes(post, path, where), memo.share(_mime(post, req_headers)), "", redactor)
        if post and post.get("text") else None,
        "response_body": body_record(_text_bytes(content, path, where), memo.share(_mime(content, resp_headers)), "", redactor)
        if content.get("text") else None,
        "client": None,
        "server": {"ip": memo.share(server_ip.strip("[]")), "port": target.port} if isinstance(server_ip, str) and server_ip else None,
        "source": "har", "flow": None, "duration_ms": _number(entry.get("time")), "error": None,
    }
    initiator = har_initiator(entry)  # Chrome's _initiator: which page or script asked (origins only)
    if initiator is not None:
        initiator["origins"] = [memo.share(o) for o in initiator["origins"]]
        record["initiator"] = initiator
    return record


def _mime(obj: dict[str, Any], headers: list[tuple[str, str]]) -> str:
    mime = obj.get("mimeType")
    return mime if isinstance(mime, str) else _header(headers, "content-type")


def _websocket_records(entry: dict[str, Any], upgrade: dict[str, Any], path: Path, where: str,
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
        out.append({"kind": "websocket", "http_uuid": upgrade["flow_uuid"], "ts": ts, "from_client": msg["type"] == "send",
                    "type": kind, "size": len(raw), "content": content, "truncated": truncated,
                    "host": upgrade["host"], "url": upgrade["url"], "source": "har"})
    return out


def _b64(data: str, path: Path, where: str) -> bytes:
    try:
        return base64.b64decode("".join(data[: (DECODE_LIMIT // 3 + 1) * 4].split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(path, f"HAR {where}: binary WebSocket data is not base64") from None
