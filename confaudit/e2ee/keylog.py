"""NSS key-log files (SSLKEYLOGFILE format) -> secrets indexed by client random.

Format (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/):
``LABEL <client_random hex, 32 bytes> <secret hex>`` per line, ``#`` comments. Written by NSS
(Firefox), OpenSSL/pyOpenSSL keylog callbacks (aiortc, mitmproxy) and embedded in pcapng DSBs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from confaudit.errors import InputError

MAX_KEYLOG_BYTES = 64 * 1024 * 1024

KNOWN_LABELS = frozenset({
    "CLIENT_RANDOM", "RSA", "CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET", "EXPORTER_SECRET", "ECH_SECRET", "ECH_CONFIG",
})
_LINE_RE = re.compile(r"([A-Z][A-Z0-9_]{1,63}) ([0-9A-Fa-f]{16,}) ([0-9A-Fa-f]{2,})")


@dataclass(frozen=True)
class KeyLog:
    """The secrets of one key-log source."""

    source: str
    """Path of the file (or ``<path>#dsb`` for secrets embedded in a pcapng)."""
    sha256: str
    """SHA-256 of the raw bytes, for provenance."""
    lines: int
    """Number of secret lines parsed."""
    kinds: dict[str, int]
    """Secret lines per label (CLIENT_RANDOM, EXPORTER_SECRET, ...)."""
    secrets: dict[bytes, dict[str, bytes]] = field(repr=False)
    """client_random -> {label: secret}; never serialised."""
    skipped: int = 0
    """Lines that were not secrets (malformed), only for lenient sources."""

    def lookup(self, client_random: bytes) -> dict[str, bytes]:
        """The secrets logged for this client random (empty when none)."""
        return self.secrets.get(client_random, {})


def parse_keylog_text(text: str, source: str, raw: bytes, *, strict: bool) -> KeyLog:
    """Parse key-log text; ``strict`` raises InputError on the first malformed line."""
    secrets: dict[bytes, dict[str, bytes]] = {}
    kinds: dict[str, int] = {}
    lines = skipped = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE_RE.fullmatch(stripped)
        problem = None
        if match is None:
            problem = "is not 'LABEL <client_random hex> <secret hex>'"
        elif len(match.group(2)) % 2 or len(match.group(3)) % 2:
            problem = "has an odd number of hex digits"
        elif match.group(1) not in ("RSA",) and len(match.group(2)) != 64:
            problem = "has a client random that is not 32 bytes"
        if problem is not None or match is None:
            if strict:
                raise InputError(source, f"key log line {number} {problem}")
            skipped += 1
            continue
        label, random_hex, secret_hex = match.groups()
        secrets.setdefault(bytes.fromhex(random_hex), {})[label] = bytes.fromhex(secret_hex)
        kinds[label] = kinds.get(label, 0) + 1
        lines += 1
    if strict and lines == 0:
        raise InputError(source, "key log holds no secret lines (expected NSS key-log format, e.g. CLIENT_RANDOM ...)")
    return KeyLog(source, hashlib.sha256(raw).hexdigest(), lines, dict(sorted(kinds.items())), secrets, skipped)


def _decode(raw: bytes, source: str) -> str:
    if b"\x00" in raw:
        raise InputError(source, "key log is binary (NUL bytes), not NSS key-log text")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"key log is not ASCII text (byte {exc.start})") from None


def read_keylog(path: Path, *, strict: bool) -> KeyLog:
    """Read a key-log file; strict (the user's --keylog) raises InputError on anything malformed."""
    from confaudit.jsonio import read_capped

    source = str(path)
    raw = read_capped(path, MAX_KEYLOG_BYTES, "key log")
    if strict and not raw.strip():
        raise InputError(source, "key log is empty")
    return parse_keylog_text(_decode(raw, source), source, raw, strict=strict)


def merge_secrets(keylogs: list[KeyLog]) -> dict[bytes, dict[str, bytes]]:
    """One client_random -> secrets table over every source (first source wins per label)."""
    merged: dict[bytes, dict[str, bytes]] = {}
    for log in keylogs:
        for client_random, labels in log.secrets.items():
            slot = merged.setdefault(client_random, {})
            for label, secret in labels.items():
                slot.setdefault(label, secret)
    return merged
