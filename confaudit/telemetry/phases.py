"""Phase assignment (lobby / in call / muted ...) and per-phase summaries.

An event's phase is the last phase marker at or before its timestamp. Muted phases single out
audio-derived telemetry and the audio media rate, the "Are You Really Muted?" (PETS 2022) question.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confaudit.evidence_model import PhaseSummaryAudioMediaItem


@dataclass(frozen=True)
class PhaseWindow:
    """One phase marker and the time span it covers."""

    index: int
    """Position in the sorted marker list."""
    phase: str
    """Marker name as recorded (``lobby``, ``in_call``, ``muted`` ...)."""
    start: float
    """Marker timestamp (epoch seconds)."""
    end: float | None
    """Next marker's timestamp; None for the last phase (open until the capture ends)."""


def is_muted_phase(name: str) -> bool:
    low = name.lower().replace("-", "_").replace(" ", "_")
    return "mute" in low and "unmute" not in low and "not_muted" not in low


def phase_windows(phases: Any) -> list[PhaseWindow]:
    """Valid markers sorted by time (ill-typed entries dropped)."""
    marks = []
    for item in phases if isinstance(phases, list) else ():
        if isinstance(item, dict) and isinstance(item.get("phase"), str) and _num(item.get("ts")) is not None:
            marks.append((float(item["ts"]), item["phase"]))
    marks.sort()
    return [PhaseWindow(i, name, ts, marks[i + 1][0] if i + 1 < len(marks) else None)
            for i, (ts, name) in enumerate(marks)]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class PhaseIndex:
    """Finds the window for a timestamp."""

    def __init__(self, windows: list[PhaseWindow]) -> None:
        self.windows = windows
        self._starts = [w.start for w in windows]

    def at(self, ts: Any) -> PhaseWindow | None:
        if not self.windows:
            return None
        value = _num(ts)
        if value is None:
            return None
        pos = bisect.bisect_right(self._starts, value) - 1
        return self.windows[pos] if pos >= 0 else None


def audio_rates(window: PhaseWindow, streams: Any, capture_end: float | None,
                flow_spans: dict[str, tuple[float, float]] | None = None) -> list[PhaseSummaryAudioMediaItem]:
    """Packets and bytes per second of each audio media stream within the window.

    Uses per-phase counts when the stream record carries them (``phase_counts``: list of
    ``{phase_index|phase, packets, bytes}``); otherwise spreads the stream's totals evenly over its
    first..last seen span (the stream's own, else its flow's) and marks the figure ``estimated``.
    """
    flow_spans = flow_spans or {}
    end = window.end if window.end is not None else capture_end
    out: list[PhaseSummaryAudioMediaItem] = []
    for stream in streams if isinstance(streams, list) else ():
        if not isinstance(stream, dict) or str(stream.get("kind") or "").lower() != "audio":
            continue
        first, last = _num(stream.get("first_seen")), _num(stream.get("last_seen"))
        if (first is None or last is None) and isinstance(stream.get("flow"), str) and stream["flow"] in flow_spans:
            first, last = flow_spans[stream["flow"]]
        packets, size = _num(stream.get("packets")) or 0.0, _num(stream.get("bytes")) or 0.0
        exact = _phase_counts(stream, window)
        if end is None or end <= window.start:
            duration = None
        else:
            duration = end - window.start
        if exact is not None:
            win_packets, win_bytes, estimated = exact[0], exact[1], False
        elif first is None or last is None:
            continue
        else:
            lo, hi = max(first, window.start), min(last, end if end is not None else last)
            span = last - first
            if hi < lo:
                share = 0.0
            elif span <= 0:
                share = 1.0
            else:
                share = (hi - lo) / span
            win_packets, win_bytes, estimated = packets * share, size * share, True
        rate: PhaseSummaryAudioMediaItem = {
            "stream": str(stream.get("id", "")),
            "flow": stream.get("flow") if isinstance(stream.get("flow"), str) else None,
            "direction": stream.get("direction") if isinstance(stream.get("direction"), str) else None,
            "packets": _finite(win_packets) or 0.0,
            "bytes": _finite(win_bytes) or 0.0,
            "packets_per_s": _finite(win_packets / duration) if duration else None,
            "bytes_per_s": _finite(win_bytes / duration) if duration else None,
            "estimated": estimated,
        }
        out.append(rate)
    out.sort(key=lambda r: r["stream"])
    return out


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _phase_counts(stream: dict[str, Any], window: PhaseWindow) -> tuple[float, float] | None:
    """(packets, bytes) of the stream in ``window`` when counted per phase, else None (estimate from totals).
    The packet analysis lists only windows that had packets (``phase_index``), so an unlisted window is zero."""
    counts = stream.get("phase_counts")
    if not isinstance(counts, list):
        return None
    by_index = [item for item in counts if isinstance(item, dict) and "phase_index" in item]
    if len(by_index) == len(counts):
        match = next((item for item in by_index if item.get("phase_index") == window.index), None)
        return (_num(match.get("packets")) or 0.0, _num(match.get("bytes")) or 0.0) if match else (0.0, 0.0)
    for item in counts:
        if not isinstance(item, dict):
            continue
        if item.get("phase_index") == window.index or (
                "phase_index" not in item and item.get("phase") == window.phase and _num(item.get("ts")) in (None, window.start)):
            return _num(item.get("packets")) or 0.0, _num(item.get("bytes")) or 0.0
    return None
