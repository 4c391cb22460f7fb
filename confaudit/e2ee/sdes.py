"""SDES (RFC 4568) evidence: ``a=crypto`` inline keys in signalling mean the signalling server holds the media keys.

Looks through the bundle's SDP, SIP, HTTP and WebSocket records (keys there are already redacted
by their stages; this module never copies a key, only the suite and a count).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confaudit.evidence_model import E2eeSdes, E2eeSdesSource

CRYPTO_RE = re.compile(r"a=crypto:\s*\d{1,10}\s+([A-Za-z0-9_]{1,64})\s+inline:")
SECTIONS = ("sdp", "sip", "http", "websocket")
MAX_STRING_SCAN = 4_000_000
MAX_DEPTH = 40


def _strings(value: Any, depth: int = 0):
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value[:MAX_STRING_SCAN]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)


def _crypto_flag(record: dict[str, Any]) -> bool:
    for key, value in record.items():
        if "crypto" in str(key).lower() and value and not isinstance(value, str):
            return True
    return False


def _ref(section: str, record: dict[str, Any], index: int) -> E2eeSdesSource:
    for key in ("source", "ref"):
        ref = record.get(key)
        if isinstance(ref, dict) and "kind" in ref and "id" in ref:
            return {"kind": str(ref["kind"]), "id": str(ref["id"])}
    return {"kind": section, "id": str(record.get("id", index))}


def find_sdes(bundle: dict[str, Any]) -> list[E2eeSdes]:
    """``[{source, suite, count, keys: "redacted"}]`` for every record carrying SDES keys, sorted deterministically."""
    found: dict[tuple[str, str, str], int] = {}
    for section in SECTIONS:
        records = bundle.get(section)
        if not isinstance(records, list):
            continue
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                continue
            ref = _ref(section, record, index)
            suites: dict[str, int] = {}
            for text in _strings(record):
                if "crypto" not in text:
                    continue
                for match in CRYPTO_RE.finditer(text):
                    suites[match.group(1)] = suites.get(match.group(1), 0) + 1
            if not suites and section == "sdp" and _crypto_flag(record):
                suites["unknown"] = 1
            for suite, count in suites.items():
                key = (ref["kind"], ref["id"], suite)
                found[key] = found.get(key, 0) + count
    sdes: list[E2eeSdes] = [{"source": {"kind": k, "id": i}, "suite": s, "count": c, "keys": "redacted"}
                            for (k, i, s), c in sorted(found.items())]
    return sdes
