"""One RTP stream's sampled packets put in sequence order, with the timing facts the recognisers share.

RTP headers stay in clear under SRTP, so everything here (sequence numbers, timestamps, markers,
payload sizes, arrival times) is measurable on encrypted media too. Pure functions, bounded work.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_PACKETS = 512
# Standard RTP clock rates (RFC 3551, RFC 7587, the video payload formats) that a measurement may snap to.
STANDARD_CLOCKS = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 90000)
AUDIO_CLOCKS = frozenset(STANDARD_CLOCKS) - {90000}
# Packet durations (ms) real audio senders use (RFC 3551 §4.5 frame sizes, RFC 7587 Opus, ptime values).
AUDIO_PTIMES_MS = (2.5, 5, 10, 20, 30, 40, 50, 60, 80, 100, 120)


class SampleLike(Protocol):
    """The fields of ``media_kind.RtpSample`` this module reads (read-only, so frozen dataclasses fit)."""

    @property
    def seq(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def marker(self) -> bool: ...
    @property
    def payload_len(self) -> int: ...
    @property
    def arrival(self) -> float: ...
    @property
    def payload(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Packet:
    """One sampled packet, with sequence number and timestamp unwrapped."""

    seq: int
    """Extended sequence number (continues past 65535)."""
    ts: int
    """Extended RTP timestamp (continues past 2^32)."""
    marker: bool
    """M bit."""
    length: int
    """RTP payload length (includes any SRTP tag)."""
    arrival: float | None
    """Capture time in seconds; None when unknown."""
    payload: bytes | None
    """Payload bytes (possibly only the first ones), None when not sampled."""


@dataclass(frozen=True, slots=True)
class StreamView:
    """Sampled packets in sequence order and the timing measured from them."""

    packets: tuple[Packet, ...]
    """Deduplicated, sorted by extended sequence number (arrival order when there is no timing)."""
    has_timing: bool
    """False for bare payload lists (no sequence numbers or timestamps known)."""
    pairs: int
    """Consecutive packets (sequence number +1) with both sampled."""
    same_ts_pairs: int
    """Of those, pairs sharing one timestamp (a frame split over packets)."""
    steps: tuple[tuple[int, int], ...]
    """(timestamp step, count) over consecutive pairs with a positive step, most common first."""
    frames: tuple[tuple[int, ...], ...]
    """Indices into ``packets`` of each run of consecutive packets sharing a timestamp."""
    complete: tuple[bool, ...]
    """Per frame: its first and last packets are bounded by sampled neighbours of another timestamp."""
    clock_measured: float | None
    """Timestamp ticks per second of arrival time (median slope between frames), None if not measurable."""
    clock: int | None
    """The standard clock rate the measurement snaps to, None when it supports none."""
    clock_note: str
    """How the clock was (or could not be) measured."""

    @property
    def payloads(self) -> list[bytes]:
        """Sampled payload bytes in order (packets without bytes left out)."""
        return [p.payload for p in self.packets if p.payload]

    @property
    def dominant_step(self) -> int | None:
        """Most common positive timestamp step between consecutive packets."""
        return self.steps[0][0] if self.steps else None

    @property
    def dominant_share(self) -> float:
        """Share of positive steps equal to the dominant one."""
        total = sum(n for _, n in self.steps)
        return self.steps[0][1] / total if total else 0.0

    def adjacent(self, index: int) -> bool:
        """True when packet ``index + 1`` directly follows packet ``index`` (sequence number +1)."""
        return (self.has_timing and index + 1 < len(self.packets)
                and self.packets[index + 1].seq == self.packets[index].seq + 1)


@dataclass(frozen=True, slots=True)
class CodecCheck:
    """One recogniser's verdict on a stream."""

    codec: str
    """Canonical codec name tested ("PCMA", "opus", "H264", ...)."""
    kind: str
    """"audio" or "video" (what the codec is)."""
    clock: int | None
    """The codec's RTP clock rate, None when the format leaves it open."""
    plaintext: bool | None
    """True: the codec's structure holds across the sampled packets; None: it does not, or too few to tell."""
    reasons: tuple[str, ...]
    """Measured facts behind the verdict."""
    chance: float | None = None
    """Probability that uniformly random payloads pass the same test (None when not computed)."""
    auth_tag: int | None = None
    """Bytes beyond the exact frame size that only an SRTP authentication tag explains."""


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    terms = (log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k, n + 1))
    return min(1.0, sum(math.exp(t) for t in terms if t > -745))


def chance_text(chance: float) -> str:
    """"random bytes pass with p ~ 3e-12" (or "< 1e-30")."""
    return "random bytes pass with p < 1e-30" if chance < 1e-30 else f"random bytes pass with p ~ {chance:.0e}"


def _unwrap(values: Sequence[int], bits: int) -> list[int]:
    """Extend wrapping counters by the signed difference to the previous value."""
    out: list[int] = []
    span, half = 1 << bits, 1 << (bits - 1)
    for value in values:
        if not out:
            out.append(value)
            continue
        delta = (value - out[-1]) % span
        out.append(out[-1] + (delta - span if delta >= half else delta))
    return out


def _tolerance(rate: int) -> float:
    """Relative error allowed when snapping to ``rate``: under half the log-distance to its nearest neighbour."""
    return min(0.2, 0.45 * min(abs(math.log(rate / r)) for r in STANDARD_CLOCKS if r != rate))


def _spread_runs(runs: Sequence[Sequence[tuple[int, float]]], rate: int) -> float:
    """10th-90th percentile range of arrival minus timestamp/rate (network jitter when ``rate`` is right), each run's
    residuals taken from its own first point (a pause shifts the offset between arrival and timestamp)."""
    residuals = sorted(arrival - ts / rate - (run[0][1] - run[0][0] / rate) for run in runs for ts, arrival in run)
    n = len(residuals)
    return residuals[(9 * (n - 1)) // 10] - residuals[(n - 1) // 10]


PAUSE_MIN_S = 0.5
"""Least arrival gap that can be a sending pause (below it, a gap is jitter or sampling)."""


def _runs(points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """``points`` split at sending pauses: a sender that stops (a muted microphone detached from its sender) and
    resumes keeps its sequence numbers, but its timestamp does not advance over the pause. A pause is an arrival
    gap of PAUSE_MIN_S or more across which the timestamp advanced less than half what the median pace predicts."""
    paces = sorted((b[0] - a[0]) / (b[1] - a[1]) for a, b in zip(points, points[1:]) if b[1] - a[1] > 0)
    if not paces or paces[len(paces) // 2] <= 0:
        return [points]
    pace = paces[len(paces) // 2]
    runs = [[points[0]]]
    for a, b in zip(points, points[1:]):
        gap = b[1] - a[1]
        if gap >= PAUSE_MIN_S and b[0] - a[0] < 0.5 * pace * gap:
            runs.append([])
        runs[-1].append(b)
    return runs


def _measure_clock(packets: Sequence[Packet]) -> tuple[float | None, int | None, str]:
    """Ticks per second between the first arrivals of distinct timestamps, snapped when jitter allows; measured
    within the runs between sending pauses (_runs), so a stream that paused still shows its clock."""
    first: dict[int, float] = {}
    for p in packets:
        if p.arrival is not None and math.isfinite(p.arrival):
            first[p.ts] = min(first.get(p.ts, p.arrival), p.arrival)
    points = sorted(first.items())
    if len(points) < 3:
        return None, None, f"clock not measurable: {len(points)} distinct timestamps with arrival times"
    runs = [run for run in _runs(points) if len(run) >= 2]
    span = sum(run[-1][1] - run[0][1] for run in runs)
    ticks = sum(run[-1][0] - run[0][0] for run in runs)
    if ticks <= 0 or span < 0.05:
        return None, None, "clock not measurable: timestamps do not advance with arrival time"
    slopes = sorted((b[0] - a[0]) / (b[1] - a[1]) for run in runs for i, a in enumerate(run) for b in run[i + 1:]
                    if b[1] - a[1] >= max(0.3 * (run[-1][1] - run[0][1]), 0.02))
    if not slopes or slopes[len(slopes) // 2] <= 0:
        return None, None, "clock not measurable: timestamps do not advance with arrival time"
    measured = slopes[len(slopes) // 2]
    paused = f", in {len(runs)} runs between sending pauses" if len(runs) > 1 else ""
    note = (f"timestamps advance {measured:.0f} ticks per second of arrival time over {span:.2f} s "
            f"({len(points)} timestamps{paused})")
    # The right rate leaves only network jitter between arrival and timestamp; a wrong one adds a drift.
    rate = min(STANDARD_CLOCKS, key=lambda r: _spread_runs(runs, r))
    error = _spread_runs(runs, rate) / (ticks / rate)
    if error > _tolerance(rate) or abs(math.log(measured / rate)) > _tolerance(rate):
        return measured, None, note + f"; jitter too large to tell the clock (best fit {rate} Hz, {error:.0%} spread)"
    return measured, rate, note + f"; fits {rate} Hz with {error:.1%} jitter spread (tolerance {_tolerance(rate):.0%})"


def build_view(samples: Sequence[SampleLike]) -> StreamView:
    """Dedupe (first arrival wins), order by sequence number, group frames and measure the clock."""
    seen: dict[int, SampleLike] = {}
    for sample in samples[: 4 * MAX_PACKETS]:
        seen.setdefault(int(sample.seq) & 0xFFFF, sample)
    arrival_order = list(seen.values())
    ext_seq = _unwrap([int(s.seq) & 0xFFFF for s in arrival_order], 16)
    ordered = sorted(zip(ext_seq, arrival_order), key=lambda item: item[0])[:MAX_PACKETS]
    ext_ts = _unwrap([int(s.timestamp) & 0xFFFFFFFF for _, s in ordered], 32)
    packets = tuple(
        Packet(seq, ts, bool(s.marker), max(0, int(s.payload_len)),
               float(s.arrival) if s.arrival is not None else None,
               bytes(s.payload) if s.payload is not None else None)
        for (seq, s), ts in zip(ordered, ext_ts))
    return _view(packets, has_timing=True)


def payload_view(payloads: Sequence[bytes]) -> StreamView:
    """A view of bare payloads (no header numbers known): structure checks only."""
    packets = tuple(Packet(i, 0, False, len(p), None, bytes(p)) for i, p in enumerate(payloads[:MAX_PACKETS]))
    return StreamView(packets, False, 0, 0, (), (), (), None, None, "no RTP header numbers given")


def _view(packets: tuple[Packet, ...], has_timing: bool) -> StreamView:
    steps: Counter[int] = Counter()
    pairs = same = 0
    frames: list[list[int]] = []
    for i, packet in enumerate(packets):
        consecutive = i > 0 and packet.seq == packets[i - 1].seq + 1
        if consecutive:
            pairs += 1
            step = packet.ts - packets[i - 1].ts
            if step == 0:
                same += 1
            elif step > 0:
                steps[step] += 1
        if consecutive and packet.ts == packets[i - 1].ts:
            frames[-1].append(i)
        else:
            frames.append([i])
    complete = tuple(
        f[0] > 0 and packets[f[0] - 1].seq == packets[f[0]].seq - 1
        and f[-1] + 1 < len(packets) and packets[f[-1] + 1].seq == packets[f[-1]].seq + 1
        for f in frames)
    measured, clock, note = _measure_clock(packets)
    ordered_steps = tuple(sorted(steps.items(), key=lambda kv: (-kv[1], kv[0])))
    return StreamView(packets, has_timing, pairs, same, ordered_steps, tuple(tuple(f) for f in frames), complete,
                      measured, clock, note)


def timing_kind(view: StreamView) -> tuple[str, list[str]]:
    """("audio" | "video" | "unknown", measured facts) from the clock, packets per timestamp, markers and sizes.

    Video: a 90 kHz clock and frames split over packets that share a timestamp, the marker on each
    frame's last packet. Audio: an audio clock rate and one packet per timestamp.
    """
    packets = view.packets
    n = len(packets)
    if not view.has_timing or n < 4:
        return "unknown", [f"{n} packets: too few to judge timing"]
    lengths = sorted(p.length for p in packets)
    markers = sum(1 for p in packets if p.marker)
    multi = [f for f, c in zip(view.frames, view.complete) if len(f) > 1]
    ends = [f for f, c in zip(view.frames, view.complete) if c]
    end_marked = sum(1 for f in ends if packets[f[-1]].marker and not any(packets[i].marker for i in f[:-1]))
    facts = [view.clock_note]
    if view.steps:
        facts.append(f"timestamp step {view.dominant_step} in {view.dominant_share:.0%} of advancing consecutive pairs "
                     f"({len(view.steps)} distinct steps)")
    facts += [f"{view.same_ts_pairs}/{view.pairs} consecutive pairs share a timestamp ({len(multi)} multi-packet frames)",
              f"payload {lengths[0]}-{lengths[n // 2]}-{lengths[-1]} B (min-median-max)",
              f"marker on {markers}/{n} packets, alone on the last packet of {end_marked}/{len(ends)} complete frames"]
    if not view.steps:
        return "unknown", facts + ["the timestamp never advances: no media timeline (padding probes or one frame)"]
    same_share = view.same_ts_pairs / view.pairs if view.pairs else 0.0
    if view.clock == 90000:
        if multi or markers >= 0.5 * n or (ends and end_marked >= 0.8 * len(ends)):
            return "video", facts
        return "unknown", facts + ["90 kHz clock, but neither multi-packet frames nor frame-end markers"]
    if view.clock in AUDIO_CLOCKS:
        if same_share <= 0.1:
            return "audio", facts
        return "unknown", facts + [f"{view.clock} Hz clock, but packets share timestamps unlike audio frames"]
    if len(multi) >= 2 and ends and end_marked >= 0.8 * len(ends):
        return "video", facts + ["frames split over packets with the marker on each frame's last packet"]
    return "unknown", facts + ["no clock rate measured and no video frame pattern"]
