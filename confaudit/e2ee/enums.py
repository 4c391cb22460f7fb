"""The values the ``e2ee`` schema (confaudit/evidence/schema/40-e2ee.json) lists as enums, as ``Literal`` types.

Producers hold these types from where a value is decided, so mypy checks each one against the model's records
(confaudit.evidence_model) instead of trusting a string at the end. ``member`` and ``one_of`` turn a value read from
the bundle (untyped JSON) into one of them.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["codec", "encrypted", "undetermined"]
"""What the inner-payload test concluded about a decrypted stream."""
Inner = Literal["codec", "encrypted", "undetermined", "not_observable"]
"""streams[].inner: a Verdict, or not_observable when nothing was decrypted."""
MediaKind = Literal["audio", "video"]
"""Audio or video, when known (the canary's kind; a stream's kind before the unknown fallback)."""
StreamKind = Literal["audio", "video", "unknown"]
"""streams[].kind."""
Topology = Literal["p2p", "relay", "server", "unknown"]
"""streams[].path: how the stream's flow travelled (media_path's topology)."""
Conclusion = Literal["media_readable_at_transport_end", "inner_encryption_observed", "mixed", "not_observable"]
"""summary.conclusion."""
Keys = Literal["found", "missing"]
"""sessions[].keys: a key log holds the session's secret."""
DtlsVersion = Literal["DTLS 1.0", "DTLS 1.2", "DTLS 1.3"]
"""sessions[].version."""
ProfileSource = Literal["server_hello", "authenticated_trial"]
"""sessions[].profile_source: where the SRTP protection profile was learnt."""

MEDIA_KINDS: tuple[MediaKind, ...] = ("audio", "video")
DECIDED_TOPOLOGIES: tuple[Topology, ...] = ("p2p", "relay", "server")
DTLS_VERSIONS: tuple[DtlsVersion, ...] = ("DTLS 1.0", "DTLS 1.2", "DTLS 1.3")


def member[T: str](value: object, choices: tuple[T, ...]) -> T | None:
    """The member of ``choices`` equal to ``value``, None when there is none (``value if value in choices else None``,
    typed)."""
    for choice in choices:
        if value == choice:
            return choice
    return None


def one_of[T: str](value: object, choices: tuple[T, ...], default: T) -> T:
    """The member of ``choices`` equal to ``value``, else ``default`` (``value if value in choices else default``,
    typed)."""
    found = member(value, choices)
    return default if found is None else found
