"""Read the canary's block pattern from decoded video frames.

Each frame's grid cells are averaged over their central half (codec ringing stays at the edges)
and thresholded halfway between the sync row's white and black cells. A frame carries the canary
when its sync row reads right, its seed bits match (one bit of 16 may flip), and its counter's low
byte equals the complement row. A chance match needs 8 sync + 15 seed + 8 check bits right: about
1 in 2^31 per frame. Counters must then move forward from frame to frame, as a camera's do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from confaudit.canary.spec import COLUMNS, ROWS, SEED_BITS, SYNC_BITS, CanarySpec

MIN_CONTRAST = 48  # luma between the sync row's white and black cells
MAX_SEED_FLIPS = 1
MIN_FRAMES = 10
MIN_FORWARD_SHARE = 0.8


@dataclass(frozen=True)
class VideoCanary:
    """The figures of the search for the block pattern in one stream."""

    found: bool
    """The pattern was recognised (the thresholds are in docs/e2ee.md)."""
    frames_decoded: int
    """Frames the decoder returned."""
    frames_with_sync: int
    """Frames whose sync row reads right."""
    frames_matched: int
    """Frames with the sync row, the seed bits and a counter that passes its complement check."""
    distinct_counters: int
    """Different frame-counter values read."""
    counter_steps: int
    """Consecutive matched frames compared."""
    counter_forward: int
    """Of those, steps where the counter moved forward (or wrapped at the loop's end)."""
    counter_first: int | None
    """First counter read."""
    counter_last: int | None
    """Last counter read."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_cells(gray: Any) -> Any:
    """ROWS x COLUMNS mean luma of the central half of each grid cell."""
    import numpy as np

    h, w = gray.shape
    out = np.zeros((ROWS, COLUMNS))
    for r in range(ROWS):
        for c in range(COLUMNS):
            y0, y1 = r * h // ROWS, (r + 1) * h // ROWS
            x0, x1 = c * w // COLUMNS, (c + 1) * w // COLUMNS
            dy, dx = (y1 - y0) // 4, (x1 - x0) // 4
            out[r, c] = gray[y0 + dy:y1 - dy, x0 + dx:x1 - dx].mean()
    return out


def read_counter(cells: Any, spec: CanarySpec) -> tuple[bool, int | None]:
    """(sync row right, counter if the seed and the check match) for one frame's cells."""
    sync = list(SYNC_BITS)
    white = [cells[0, i] for i in range(COLUMNS) if sync[i]]
    black = [cells[0, i] for i in range(COLUMNS) if not sync[i]]
    if min(white) - max(black) < MIN_CONTRAST:
        return False, None
    threshold = (sum(white) / len(white) + sum(black) / len(black)) / 2
    bits = (cells > threshold).astype(int).tolist()
    if bits[0] != sync:
        return False, None
    flips = sum(a != b for a, b in zip(bits[1] + bits[2], spec.seed_bits))
    if flips > MAX_SEED_FLIPS or bits[5] != [1 - b for b in bits[4]]:
        return True, None
    code = int("".join(map(str, bits[3] + bits[4])), 2)
    value = 0
    while code:  # Gray code -> binary
        value ^= code
        code >>= 1
    return True, value


def search_frames(frames: list[Any], spec: CanarySpec) -> VideoCanary:
    """``frames``: decoded luma planes (2-D uint8 arrays) in decode order."""
    synced = 0
    counters: list[int] = []
    for gray in frames:
        sync, counter = read_counter(read_cells(gray), spec)
        synced += sync
        if counter is not None:
            counters.append(counter)
    steps = list(zip(counters, counters[1:]))
    period = spec.video_frames
    forward = sum(1 for a, b in steps if 0 < (b - a) % period < period // 2)
    found = len(counters) >= MIN_FRAMES and bool(steps) and forward >= MIN_FORWARD_SHARE * len(steps)
    return VideoCanary(found, len(frames), synced, len(counters), len(set(counters)), len(steps), forward,
                       counters[0] if counters else None, counters[-1] if counters else None)


def summary(c: VideoCanary) -> str:
    return (f"canary video: {'found' if c.found else 'not found'}: {c.frames_matched} of {c.frames_decoded} decoded "
            f"frames carry the block pattern with the seed's {SEED_BITS} bits ({c.frames_with_sync} with the sync row), "
            f"frame counter {c.counter_first}..{c.counter_last} moving forward in {c.counter_forward} of "
            f"{c.counter_steps} steps ({c.distinct_counters} distinct values)")
