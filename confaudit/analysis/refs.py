"""Evidence references and small JSON helpers shared by the analysis modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from confaudit.analysis.sampling import Sample

if TYPE_CHECKING:
    from confaudit.evidence_model import PacketRef

MAX_REFS = 8
MAX_TEXT = 512


def packet_ref(sample: Sample) -> PacketRef:
    """{"kind": "packet", "id": "<input>:<frame>"} for a sample."""
    return {"kind": "packet", "id": f"{sample.input_index}:{sample.frame}"}


def packet_refs(samples: list[Sample], limit: int = MAX_REFS) -> list[PacketRef]:
    """References to the first ``limit`` samples."""
    return [packet_ref(s) for s in samples[:limit]]


@overload
def text(value: str | bytes | bytearray, limit: int = MAX_TEXT) -> str: ...
@overload
def text(value: object, limit: int = MAX_TEXT) -> str | None: ...
def text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """Captured text made JSON-safe: str, bounded, lone surrogates replaced."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    out = str(value)[:limit]
    return out.encode("utf-8", "replace").decode("utf-8")


def hex16(value: int) -> str:
    """0x-prefixed 4-digit hex (cipher suites, SRTP profiles, STUN types)."""
    return f"0x{int(value):04x}"


def hostport(ip: object, port: object) -> str:
    """``ip:port``, with IPv6 addresses in brackets so the port cannot be mistaken for a group."""
    return f"[{ip}]:{port}" if ":" in str(ip) else f"{ip}:{port}"
