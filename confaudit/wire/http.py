"""Plaintext HTTP/1.x request and response heads seen in captures.

Header values are returned RAW (cookies, Authorization...): callers must pass them through
``confaudit.redact.Redactor.headers()`` before writing anything out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import record_dict

_MAX_HEAD = 65536
_MAX_HEADERS = 256
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}"
_REQUEST_LINE = re.compile(rf"^({_TOKEN}) (\S{{1,8192}}) (HTTP/[0-9](?:\.[0-9])?)$")
_STATUS_LINE = re.compile(r"^(HTTP/[0-9](?:\.[0-9])?) ([0-9]{3})(?: (.{0,512}))?$")
_DIGITS = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class HttpHead:
    """An HTTP/1.x request or response head."""

    is_request: bool
    """True for a request head."""
    method: str | None
    """Request method."""
    target: str | None
    """Request target (RAW: may carry tokens in the query — redact before output)."""
    version: str
    """"HTTP/1.1" etc."""
    status: int | None
    """Response status code."""
    reason: str | None
    """Response reason phrase."""
    headers: tuple[tuple[str, str], ...]
    """Headers in order as (name as sent, value RAW)."""
    host: str | None
    """Host header."""
    websocket_upgrade: bool
    """Upgrade: websocket requested (request) or accepted with 101 (response)."""
    complete: bool
    """The blank line ending the head was seen within 64 KiB."""

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitive."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    @property
    def content_length(self) -> int | None:
        """Content-Length as a number; None when absent or not ASCII digits (a latin-1 '²' is not a length)."""
        value = (self.header("content-length") or "").strip()
        return int(value) if _DIGITS.fullmatch(value) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (values RAW: redact first)."""
        return record_dict(self)


def _head(data: bytes) -> tuple[list[str], bool]:
    chunk = bytes(data[: _MAX_HEAD + 4])
    end = chunk.find(b"\r\n\r\n")
    if end < 0:
        alt = chunk.find(b"\n\n")
        end = alt if alt >= 0 else -1
    complete = 0 <= end <= _MAX_HEAD
    text = chunk[: end if complete else _MAX_HEAD].decode("latin-1")
    return text.replace("\r\n", "\n").split("\n"), complete


def _headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for line in lines:
        if len(out) >= _MAX_HEADERS:
            break
        name, sep, value = line.partition(":")
        if sep and name and not name[0].isspace() and re.fullmatch(_TOKEN, name.strip()):
            out.append((name.strip(), value.strip()))
    return tuple(out)


def _upgrade(headers: tuple[tuple[str, str], ...]) -> bool:
    upgrade = next((v for k, v in headers if k.lower() == "upgrade"), "")
    return "websocket" in upgrade.lower()


def parse_http_request_head(data: bytes) -> HttpHead | None:
    """Request head at the start of ``data``; None when the first line is not an HTTP request line."""
    lines, complete = _head(data)
    match = _REQUEST_LINE.match(lines[0])
    if not match:
        return None
    headers = _headers(lines[1:])
    host = next((v for k, v in headers if k.lower() == "host"), None)
    return HttpHead(True, match.group(1), match.group(2), match.group(3), None, None, headers, host,
                    _upgrade(headers), complete)


def parse_http_response_head(data: bytes) -> HttpHead | None:
    """Response head at the start of ``data``; None when the first line is not a status line."""
    lines, complete = _head(data)
    match = _STATUS_LINE.match(lines[0])
    if not match:
        return None
    headers = _headers(lines[1:])
    status = int(match.group(2))
    return HttpHead(False, None, None, match.group(1), status, match.group(3) or "", headers, None,
                    status == 101 and _upgrade(headers), complete)
