"""Geometry of the 'traffic per party across call phases' chart (SVG drawn by the template)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import section_records as records
from confaudit.report.filters import as_list

MAX_ROWS = 15
"""Parties drawn; the rest are summed into one 'other parties' row."""
BINS = 60
"""Time buckets across the capture."""
LABEL_W = 190
PLOT_W = 720
ROW_H = 22
TOP = 30


@dataclass(frozen=True)
class Bar:
    """One bucket of one party's traffic."""

    x: float
    """Left edge in SVG units."""
    y: float
    """Top edge in SVG units."""
    width: float
    """Bar width."""
    height: float
    """Bar height (proportional to the row's busiest bucket)."""
    title: str
    """Tooltip text: amount in the bucket."""


@dataclass(frozen=True)
class Row:
    """One party's lane."""

    label: str
    """Party domain (or entity); escaped by the template."""
    first_party: bool | None
    """Whether the party is the vendor itself."""
    y: float
    """Baseline of the lane."""
    total: int
    """Sum of the lane (in the chart's unit)."""
    bars: tuple[Bar, ...] = field(default_factory=tuple)
    """Non-empty buckets."""


@dataclass(frozen=True)
class PhaseMark:
    """A phase boundary."""

    x: float
    """Position in SVG units."""
    label: str
    """Phase name as marked by the auditor."""


@dataclass(frozen=True)
class Timeline:
    """The whole chart."""

    width: int
    """SVG width."""
    height: int
    """SVG height."""
    label_w: int
    """Width of the label column."""
    rows: tuple[Row, ...]
    """Lanes, busiest first."""
    phases: tuple[PhaseMark, ...]
    """Phase boundaries."""
    duration_s: float
    """Seconds covered."""
    total: int
    """Sum plotted (requests and messages, or bytes)."""
    unit: str
    """What bar heights count: 'requests and messages' or 'bytes'."""


def _num(value: Any) -> float | None:
    if value.__class__ not in (int, float):  # exact types: bool is not a time
        return None
    return float(value) if value == value and abs(value) < 1e11 else None


def traffic_events(bundle: Mapping[str, Any]) -> list[tuple[float, str]]:
    """(timestamp, party id) of every HTTP request and WebSocket message with a known party."""
    host_party: dict[str, str] = {}
    for party in (records(bundle, "parties") or []):
        if isinstance(party, Mapping):
            for host in as_list(party["hosts"]):
                host_party.setdefault(str(host).lower(), str(party["id"]))
    events: list[tuple[float, str]] = []
    http_host: dict[str, str] = {}
    lowered: dict[str, str] = {}  # the few hosts 100,000 requests name, each lower-cased once
    for req in (records(bundle, "http") or []):
        if not isinstance(req, dict):
            continue
        raw_host = req["host"]
        host = lowered.get(raw_host) if type(raw_host) is str else None
        if host is None:
            host = str(raw_host or "").lower()
            if type(raw_host) is str:
                lowered[raw_host] = host
        http_host[str(req["id"])] = host
        ts = _num(req["ts"])
        if ts is not None and host in host_party:
            events.append((ts, host_party[host]))
    for msg in (records(bundle, "websocket") or []):
        if not isinstance(msg, dict):
            continue
        host = http_host.get(str(msg["http_id"]), "")
        ts = _num(msg["ts"])
        if ts is not None and host in host_party:
            events.append((ts, host_party[host]))
    return events


def flow_spans(bundle: Mapping[str, Any]) -> list[tuple[float, float, str, float]]:
    """(first_seen, last_seen, party id, bytes) of every packet flow a party was attributed."""
    flow_party: dict[str, str] = {}
    for party in (records(bundle, "parties") or []):
        if isinstance(party, dict):
            for fid in as_list(party.get("flows")):
                flow_party.setdefault(str(fid), str(party["id"]))
    spans = []
    for flow in (records(bundle, "flows") or []):
        if not isinstance(flow, dict) or str(flow["id"]) not in flow_party:
            continue
        start, end, size = _num(flow["first_seen"]), _num(flow["last_seen"]), _num(flow["bytes"])
        if start is not None and size:
            spans.append((start, max(end or start, start), flow_party[str(flow["id"])], size))
    return spans


def _spread(spans: list[tuple[float, float, str, float]], t0: float, span: float) -> dict[str, list[float]]:
    """Each span's weight spread evenly over the buckets it covers."""
    per_party: dict[str, list[float]] = defaultdict(lambda: [0.0] * BINS)
    for start, end, pid, weight in spans:
        first = min(int((start - t0) / span * BINS), BINS - 1)
        if end == start:  # a request or message: its whole weight in its one bucket (what the loop below adds)
            per_party[pid][first] += weight
            continue
        last = min(int((end - t0) / span * BINS), BINS - 1)
        share = weight / (last - first + 1)
        for idx in range(first, last + 1):
            per_party[pid][idx] += share
    return per_party


def build_timeline(bundle: Mapping[str, Any], sanitize_label: Any = str) -> Timeline | None:
    """Bucket traffic events per party over time; None when nothing has a timestamp and a party."""
    spans = [(ts, ts, pid, 1.0) for ts, pid in traffic_events(bundle)]
    unit = "requests and messages"
    if not spans:
        spans, unit = flow_spans(bundle), "bytes"
    if not spans:
        return None
    parties = {str(p["id"]): p for p in (records(bundle, "parties") or []) if isinstance(p, Mapping)}
    t0 = min(s[0] for s in spans)
    t1 = max(s[1] for s in spans)
    stamped = [(_num(p["ts"]), p["phase"]) for p in (records(bundle, "phases") or []) if isinstance(p, Mapping)]
    phase_ts = [(t, name) for t, name in stamped if t is not None]
    if phase_ts:
        t0 = min(t0, min(t for t, _ in phase_ts))
        t1 = max(t1, max(t for t, _ in phase_ts))
    span = max(t1 - t0, 1e-6)
    per_party = _spread(spans, t0, span)
    ranked = sorted(per_party.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    lanes: list[tuple[str, bool | None, list[float]]] = []
    for pid, counts in ranked[:MAX_ROWS]:
        party: Mapping[str, Any] = parties.get(pid) or {}
        fp = party.get("first_party")
        lanes.append((sanitize_label(party.get("domain") or pid), fp if isinstance(fp, bool) else None, counts))
    if len(ranked) > MAX_ROWS:
        other = [sum(c[i] for _, c in ranked[MAX_ROWS:]) for i in range(BINS)]
        lanes.append((f"{len(ranked) - MAX_ROWS} other parties", False, other))
    bin_w = PLOT_W / BINS
    rows = []
    for n, (label, fp, counts) in enumerate(lanes):
        base = TOP + (n + 1) * ROW_H
        peak = max(counts) or 1
        bars = tuple(
            Bar(x=round(LABEL_W + i * bin_w, 1), y=round(base - 2 - (ROW_H - 6) * c / peak, 1),
                width=round(max(bin_w - 1, 1), 1), height=round((ROW_H - 6) * c / peak, 1),
                title=f"{c:,.0f} {unit} at +{(i * span / BINS):.0f} s")
            for i, c in enumerate(counts) if c)
        rows.append(Row(label=label, first_party=fp, y=base, total=round(sum(counts)), bars=bars))
    marks = tuple(PhaseMark(x=round(LABEL_W + (t - t0) / span * PLOT_W, 1), label=sanitize_label(name)[:24])
                  for t, name in sorted(phase_ts, key=lambda p: p[0])[:40])
    return Timeline(width=LABEL_W + PLOT_W + 10, height=TOP + (len(rows) + 1) * ROW_H + 10, label_w=LABEL_W,
                    rows=tuple(rows), phases=marks, duration_s=round(span, 1), total=round(sum(s[3] for s in spans)),
                    unit=unit)
