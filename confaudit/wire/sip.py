"""SIP messages (RFC 3261) in clear: request/status line, key headers, body.

Authorization / Proxy-Authorization values are never kept (only their presence); the body is kept
RAW (it is usually SDP, which may carry keys: the caller redacts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import record_dict

_MAX_HEAD = 65536
_MAX_BODY = 65536
_MAX_HEADERS = 256
_REQUEST = re.compile(r"^([A-Z][A-Z0-9_.!%*+`'~-]{0,31}) (\S{1,2048}) (SIP/[0-9]\.[0-9])$")
_STATUS = re.compile(r"^(SIP/[0-9]\.[0-9]) ([1-6][0-9][0-9])(?: (.{0,256}))?$")
_DIGITS = re.compile(r"[0-9]{1,18}")
_COMPACT = {"i": "call-id", "f": "from", "t": "to", "m": "contact", "c": "content-type", "l": "content-length",
            "v": "via", "s": "subject", "k": "supported", "e": "content-encoding"}
_SECRET_HEADERS = {"authorization", "proxy-authorization"}


@dataclass(frozen=True, slots=True)
class SipMessage:
    """One SIP request or response."""

    is_request: bool
    """True for a request, False for a response."""
    method: str | None
    """Request method (INVITE, REGISTER, ...); for responses the CSeq method."""
    request_uri: str | None
    """Request-URI (requests only)."""
    status_code: int | None
    """Status code (responses only)."""
    reason: str | None
    """Reason phrase (responses only)."""
    version: str
    """"SIP/2.0"."""
    call_id: str | None
    """Call-ID."""
    from_: str | None
    """From header value."""
    to: str | None
    """To header value."""
    cseq: int | None
    """CSeq number."""
    cseq_method: str | None
    """CSeq method."""
    user_agent: str | None
    """User-Agent."""
    server: str | None
    """Server."""
    contact: str | None
    """Contact."""
    content_type: str | None
    """Content-Type."""
    authorization_present: bool
    """Authorization or Proxy-Authorization header present (value not kept)."""
    challenge_present: bool
    """WWW-Authenticate or Proxy-Authenticate present."""
    headers: tuple[tuple[str, str], ...]
    """All headers (lower-case long names) with values; credential values replaced by "(present)"."""
    body: str
    """Message body (RAW, capped at 64 KiB)."""
    complete: bool
    """False when the body is shorter than Content-Length or the head was cut."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict ("from_" becomes "from")."""
        out = record_dict(self)
        out["from"] = out.pop("from_")
        return out


def _split(text: str) -> tuple[str, str, bool]:
    for sep in ("\r\n\r\n", "\n\n"):
        idx = text.find(sep)
        if idx >= 0:
            return text[:idx], text[idx + len(sep) :], True
    return text, "", False


def parse_sip(data: bytes) -> SipMessage | None:
    """Parse the first SIP message in ``data``; None when the first line is not SIP."""
    text = bytes(data[: _MAX_HEAD + _MAX_BODY]).decode("utf-8", errors="replace")
    head, body, ended = _split(text)
    if len(head) > _MAX_HEAD:
        return None
    lines = head.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    req, status = _REQUEST.match(first), _STATUS.match(first)
    if req:
        version = req.group(3)
    elif status:
        version = status.group(1)
    else:
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(headers) >= _MAX_HEADERS:
            break
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        headers.append((key, value.strip()))
    values: dict[str, str] = {}
    for key, value in headers:
        values.setdefault(key, value)
    shown = tuple((k, "(present)" if k in _SECRET_HEADERS else v) for k, v in headers)
    cseq_num, _, cseq_method = values.get("cseq", "").partition(" ")
    length = values.get("content-length", "").strip()
    expected = int(length) if _DIGITS.fullmatch(length) else None  # str.isdigit() also takes '²', int() does not
    body_bytes = body.encode("utf-8", errors="replace")
    complete = ended and (expected is None or len(body_bytes) >= expected)
    if expected is not None:
        body = body_bytes[:expected].decode("utf-8", errors="replace")
    return SipMessage(
        is_request=bool(req), method=req.group(1) if req else (cseq_method.strip() or None),
        request_uri=req.group(2) if req else None, status_code=int(status.group(2)) if status else None,
        reason=(status.group(3) or "") if status else None, version=version,
        call_id=values.get("call-id"), from_=values.get("from"), to=values.get("to"),
        cseq=int(cseq_num) if _DIGITS.fullmatch(cseq_num) else None, cseq_method=cseq_method.strip() or None,
        user_agent=values.get("user-agent"), server=values.get("server"), contact=values.get("contact"),
        content_type=values.get("content-type"),
        authorization_present=any(k in _SECRET_HEADERS for k, _ in headers),
        challenge_present=any(k in ("www-authenticate", "proxy-authenticate") for k, _ in headers),
        headers=shown, body=body[:_MAX_BODY], complete=complete,
    )
