"""JSON-ready conversion shared by the wire records (bytes become hex, tuples become lists)."""

from __future__ import annotations

import dataclasses
from typing import Any


def jsonable(value: Any) -> Any:
    """Convert a record field value to plain JSON types; bytes are rendered as hex."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record_dict(value)
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def record_dict(record: Any) -> dict[str, Any]:
    """All dataclass fields of ``record`` as a JSON-ready dict (field order kept)."""
    return {f.name: jsonable(getattr(record, f.name)) for f in dataclasses.fields(record)}


def safe_text(raw: bytes, cap: int = 512) -> str:
    """Decode attacker-controlled bytes to text, capped, never raising."""
    return bytes(raw[:cap]).decode("utf-8", errors="replace")


def hex_capped(raw: bytes, cap: int = 64) -> str:
    """Hex of at most ``cap`` bytes, with a '…' marker when truncated."""
    text = bytes(raw[:cap]).hex()
    return text + "…" if len(raw) > cap else text
