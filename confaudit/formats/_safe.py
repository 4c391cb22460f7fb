"""Text hygiene shared by the formatters: captured bytes reach findings, so strip what could forge output."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_XML_INVALID = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: object, limit: int = 4000) -> str:
    """One line, no C0/C1 controls, ANSI/OSC escapes or bidi overrides, at most ``limit`` characters."""
    text = _CONTROL.sub("?", str(value if value is not None else "").replace("\r\n", " ").replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def xml_text(value: object, limit: int = 4000) -> str:
    """Text legal in XML 1.0 (ElementTree escapes markup; this drops characters XML cannot hold)."""
    return _XML_INVALID.sub("?", clean(value, limit))
