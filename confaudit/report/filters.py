"""Pure formatting helpers used as Jinja filters. They return plain text: escaping is Jinja's job."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any
from urllib.parse import urlsplit

MAX_CELL_CHARS = 300
"""Longest captured string shown in a table cell; the rest is cut with an ellipsis."""

_ANCHOR_RE = re.compile(r"[^A-Za-z0-9_.\-]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def http_url(value: Any) -> str | None:
    """The URL if it is an absolute http(s) URL safe to put in ``href``, else None (render as text)."""
    if not isinstance(value, str) or len(value) > 4096:
        return None
    text = value.strip()
    if _CONTROL_RE.search(text) or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return text


def clip(value: Any, limit: int = MAX_CELL_CHARS) -> str:
    """Text for display: None -> "", control and bidi-override characters shown as U+FFFD, capped length."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _CONTROL_RE.sub("\ufffd", text)
    if len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text


def anchor(*parts: Any) -> str:
    """An HTML id built from parts, restricted to [A-Za-z0-9_.-] (stable across runs)."""
    raw = "-".join(str(p) for p in parts)
    return _ANCHOR_RE.sub("_", raw)[:120] or "x"


def count(value: Any) -> str:
    """Integer with thousands separators; non-numbers as text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return clip(value)
    if value != value or abs(value) > 1e18:
        return "–"
    return f"{int(value):,}"


def human_bytes(value: Any) -> str:
    """1536 -> '1.5 KB' (decimal units)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) > 1e18:
        return "–"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def timestamp(value: Any) -> str:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM:SS UTC'; anything else -> '–'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    try:
        return _dt.datetime.fromtimestamp(float(value), tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "–"


def score_text(value: Any) -> str:
    """0-100 score as '87', None as 'n/a'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) > 1e18:
        return "n/a"
    return f"{float(value):.0f}"


VERDICT_LABELS = {
    "supported": "Supported",
    "contradicted": "Contradicted",
    "understated": "Understated",
    "not_observable": "Not observable",
    "inconclusive": "Inconclusive",
    "error": "Check error",
    "document_only": "Document only",
}
VERDICT_SYMBOLS = {"supported": "✓", "contradicted": "✗", "understated": "↑", "not_observable": "∅",
                   "inconclusive": "?", "error": "!", "document_only": "§"}


def verdict_label(value: Any) -> str:
    """Human label of a verdict; unknown verdicts shown as given."""
    return VERDICT_LABELS.get(str(value), clip(value, 40))


def verdict_class(value: Any) -> str:
    """CSS class suffix of a verdict (unknown -> 'unknown'); never captured text in a class name."""
    return str(value) if value in VERDICT_LABELS else "unknown"


def verdict_symbol(value: Any) -> str:
    """One-character symbol so verdicts survive greyscale printing and colour blindness."""
    return VERDICT_SYMBOLS.get(str(value), "?")


FILTERS = {
    "http_url": http_url, "clip": clip, "anchor": anchor, "count": count, "human_bytes": human_bytes,
    "timestamp": timestamp, "score_text": score_text, "verdict_label": verdict_label,
    "verdict_class": verdict_class, "verdict_symbol": verdict_symbol,
}


def as_list(value: Any) -> list[Any]:
    """The value if it is a list or tuple, else [] (bundles from other tools may hold anything)."""
    return list(value) if isinstance(value, (list, tuple)) else []


def as_map(value: Any) -> dict[Any, Any]:
    """The value if it is a mapping, else {}."""
    from collections.abc import Mapping

    return dict(value) if isinstance(value, Mapping) else {}


def as_int(value: Any) -> int:
    """A finite number as int, anything else 0."""
    if value.__class__ in (int, float) and value == value and abs(value) < 1e18:
        return int(value)
    return 0
