"""Redact the auditor's secrets from every captured string before it reaches a report.

Bundles are redacted when they are built; this second pass is defence in depth for bundles
written by older versions or edited by hand. Only strings that are displayed pass through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from confaudit.redact import Redactor
from confaudit.report.filters import clip


_URL_TOKEN_RE = re.compile(r"(?:\[|%5B)REDACTED(?:%20|\+| )([A-Za-z0-9_.\-]{1,40})(?:%20|\+| )(?:%23|#)([0-9a-f]{8})(?:\]|%5D)")


def readable_tokens(text: str) -> str:
    """Show percent-encoded redaction tokens inside URLs as ``[REDACTED kind #hex]`` (display only)."""
    return _URL_TOKEN_RE.sub(r"[REDACTED \1 #\2]", text)


def plain_json(value: Any, depth: int = 0) -> Any:
    """Only JSON types: string keys, finite numbers, lists; anything else as its string; depth-capped."""
    if depth > 60:
        return None
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Mapping):
        return {str(k): plain_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v, depth + 1) for v in value]
    return str(value)


class Sanitizer:
    """Redacts and clips display strings with one redaction key."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._memo: dict[tuple[str, str, int], str] = {}  # tables repeat the same hosts and names many times

    def text(self, value: Any, limit: int = 300) -> str:
        """Free text (hostnames, SOFTWARE, explanations, examples): pattern-redacted and clipped."""
        if value is None:
            return ""
        raw = value if isinstance(value, str) else str(value)
        key = ("t", raw, limit)
        if key not in self._memo:
            try:
                self._memo[key] = clip(self._redactor.text(raw), limit)
            except Exception:  # a redaction bug must never leak the raw value
                self._memo[key] = self._redactor.token("unrenderable", raw)
        return self._memo[key]

    def url(self, value: Any, limit: int = 300) -> str:
        """A URL with secret query parameters, userinfo and tokens replaced, clipped."""
        if value is None:
            return ""
        try:
            return clip(readable_tokens(self._redactor.url(str(value))), limit)
        except Exception:
            return self._redactor.token("url", str(value))

    def data(self, value: Any) -> Any:
        """A JSON-like value (evidence details, params) made plain JSON, then redacted by key names and patterns."""
        try:
            return self._redactor.json(plain_json(value))
        except Exception:
            return self._redactor.token("unrenderable", repr(value)[:10000])
