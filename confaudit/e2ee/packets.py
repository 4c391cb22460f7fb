"""UDP datagrams of a capture, plus key logs embedded in it (pcapng Decryption Secrets Blocks).

Read with the project's bounded, fail-closed capture reader (``confaudit.pcap.reader``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram."""

    frame: int
    """1-based frame number in its file."""
    src: tuple[str, int]
    """(address, port) of the sender."""
    dst: tuple[str, int]
    """(address, port) of the receiver."""
    payload: bytes
    """UDP payload."""


@dataclass
class ReadStatus:
    """How far a capture was read."""

    complete: bool = True
    """False when the reader stopped early or reported damage."""
    problem: str | None = None
    """One-line description of what went wrong."""
    dsb_keylogs: list[str] | None = None
    """Key-log texts embedded in the capture (pcapng DSB)."""


def read_datagrams(path: Path, input_index: int, status: ReadStatus,
                   ports: frozenset[int] | None = None) -> Iterator[Datagram]:
    """Yield UDP datagrams (only those with a port in ``ports`` when given); damage goes to ``status``.

    Rows are selected on the reader's numpy columns, so packets that cannot matter (TCP, other
    flows) never become Python objects.
    """
    import numpy as np

    from confaudit.errors import InputError
    from confaudit.pcap.chunk import addr_to_str
    from confaudit.pcap.reader import CaptureReader

    wanted = None if ports is None else np.fromiter(sorted(ports), dtype=np.uint16, count=len(ports))
    names: dict[tuple[int, int], str] = {}

    def name(hi: int, lo: int) -> str:
        key = (int(hi), int(lo))
        if key not in names:
            names[key] = addr_to_str(*key)
        return names[key]

    try:
        reader = CaptureReader(path, input_index)
        for chunk in reader.chunks():
            mask = chunk.proto == 17
            if wanted is not None:
                mask &= np.isin(chunk.sport, wanted) | np.isin(chunk.dport, wanted)
            for i in np.flatnonzero(mask):
                yield Datagram(int(chunk.frame[i]), (name(chunk.src_hi[i], chunk.src_lo[i]), int(chunk.sport[i])),
                               (name(chunk.dst_hi[i], chunk.dst_lo[i]), int(chunk.dport[i])), chunk.payload(int(i)))
    except InputError as exc:
        status.complete = False
        status.problem = str(exc)
        return
    report = reader.report
    if not report.complete:
        status.complete = False
        status.problem = report.warnings[0] if report.warnings else "capture read only in part"
    status.dsb_keylogs = [_text(t) for t in report.dsb_keylogs] or None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else bytes(value).decode("ascii", "replace")
