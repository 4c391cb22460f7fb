"""The canary description: what the fake devices play, derived from a seed alone.

Audio: a cyclic sequence of short tones, one of SYMBOL_COUNT frequencies per segment, chosen from
the seed's hash (consecutive segments always differ, so boundaries are visible). Video: a grid of
big black/white blocks per frame: a fixed sync row, the seed's bits, a Gray-coded frame counter and
the complement of the counter's low byte (a per-frame check). Both survive low-bitrate Opus and
VP8/H.264 at 320x240; both loop, so a detector aligns against the plan rather than expecting the
start. Everything is recomputed from the seed on load: a spec file that disagrees with its own seed
is rejected, so a reader can check any claim made from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confaudit.errors import InputError

FORMAT = "confaudit-canary/1"
SAMPLE_RATE = 48000
SEGMENT_MS = 200
SYMBOL_COUNT = 16
BASE_HZ = 500.0
STEP_HZ = 150.0  # 500-2750 Hz: inside SILK's wideband and far apart for 20 ms windows (50 Hz bins)
AMPLITUDE = 0.3  # -10 dBFS: loud enough for AGC and noise suppression to leave it, never clipping
RAMP_MS = 5

WIDTH, HEIGHT, FPS = 320, 240, 30
COLUMNS, ROWS = 8, 6  # 40x40 blocks
SYNC_BITS = (1, 1, 0, 1, 0, 0, 1, 0)  # asymmetric: a mirrored or inverted frame does not match
SEED_BITS = 16
COUNTER_BITS = 16
BLACK_Y, WHITE_Y = 16, 235
MAX_SPEC_BYTES = 1 << 20


@dataclass(frozen=True)
class ToneSegment:
    """One tone of the audio plan."""

    start_ms: int
    """Offset from the start of the WAV file (which loops)."""
    duration_ms: int
    """Length of the tone."""
    frequency_hz: float
    """The tone's frequency."""


@dataclass(frozen=True)
class CanarySpec:
    """Everything a detector needs to recognise the canary in decoded media."""

    seed: str
    """The seed every other field is derived from."""
    seconds: float
    """Length of one loop of the media files."""
    frequencies_hz: tuple[float, ...]
    """The audio alphabet: symbol i is a tone of frequencies_hz[i]."""
    tone_symbols: tuple[int, ...]
    """The audio plan: one symbol per SEGMENT_MS segment, cyclic."""
    seed_bits: tuple[int, ...]
    """The SEED_BITS bits drawn in rows 1-2 of every video frame."""
    video_frames: int
    """Frames in one loop of the video (the counter restarts at 0 after it)."""

    @property
    def tones(self) -> list[ToneSegment]:
        """The audio plan as tones with their timing."""
        return [ToneSegment(i * SEGMENT_MS, SEGMENT_MS, self.frequencies_hz[s]) for i, s in enumerate(self.tone_symbols)]

    def as_dict(self) -> dict[str, Any]:
        """The ``canary.json`` document."""
        return {
            "format": FORMAT,
            "seed": self.seed,
            "seconds": self.seconds,
            "audio": {
                "sample_rate": SAMPLE_RATE, "channels": 1, "sample_format": "s16", "segment_ms": SEGMENT_MS,
                "amplitude": AMPLITUDE, "ramp_ms": RAMP_MS, "frequencies_hz": list(self.frequencies_hz),
                "symbols": list(self.tone_symbols),
                "tones": [{"start_ms": t.start_ms, "duration_ms": t.duration_ms, "frequency_hz": t.frequency_hz}
                          for t in self.tones],
            },
            "video": {
                "width": WIDTH, "height": HEIGHT, "fps": FPS, "pixel_format": "yuv420p", "frames": self.video_frames,
                "grid": {"columns": COLUMNS, "rows": ROWS, "black_y": BLACK_Y, "white_y": WHITE_Y},
                "rows": ["sync", "seed bits 0-7", "seed bits 8-15", "counter bits 15-8 (Gray code)",
                         "counter bits 7-0 (Gray code)", "complement of row 4"],
                "sync_bits": list(SYNC_BITS), "seed_bits": list(self.seed_bits), "counter_code": "gray",
            },
        }


def _stream(seed: str, label: str, count: int) -> bytes:
    out = b""
    block = 0
    while len(out) < count:
        out += hashlib.sha256(f"{FORMAT}\0{seed}\0{label}\0{block}".encode()).digest()
        block += 1
    return out[:count]


def tone_symbols(seed: str, segments: int) -> tuple[int, ...]:
    """The seed's audio plan: nibbles of its hash stream, never the same symbol twice in a row (nor across the loop)."""
    raw = _stream(seed, "audio", segments)
    symbols: list[int] = []
    for i, byte in enumerate(raw):
        s = byte % SYMBOL_COUNT
        avoid = {symbols[-1]} if symbols else set()
        if i == segments - 1 and symbols:
            avoid.add(symbols[0])
        while s in avoid:
            s = (s + 1) % SYMBOL_COUNT
        symbols.append(s)
    return tuple(symbols)


def seed_bits(seed: str) -> tuple[int, ...]:
    """The SEED_BITS bits of the seed's video signature."""
    raw = int.from_bytes(_stream(seed, "video", 4), "big")
    return tuple((raw >> (31 - i)) & 1 for i in range(SEED_BITS))


def make_spec(seed: str, seconds: float) -> CanarySpec:
    """The spec of the canary for ``seed`` with loops of ``seconds``."""
    segments = max(2, round(seconds * 1000 / SEGMENT_MS))
    frequencies = tuple(BASE_HZ + STEP_HZ * i for i in range(SYMBOL_COUNT))
    return CanarySpec(seed, float(seconds), frequencies, tone_symbols(seed, segments), seed_bits(seed),
                      max(2, round(seconds * FPS)))


def load_spec(path: Path) -> CanarySpec:
    """Read a ``canary.json``; InputError (exit 3) naming the file and problem if it is not one of ours."""
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise InputError(path, f"canary spec larger than {MAX_SPEC_BYTES} bytes")
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(path, f"cannot read canary spec: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"canary spec is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(path, f"not a canary spec (\"format\" must be \"{FORMAT}\")")
    seed, seconds = doc.get("seed"), doc.get("seconds")
    if not isinstance(seed, str) or not seed:
        raise InputError(path, "canary spec: \"seed\" must be a non-empty string")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0.4 <= seconds <= 3600:
        raise InputError(path, "canary spec: \"seconds\" must be a number from 0.4 to 3600")
    spec = make_spec(seed, float(seconds))
    if spec.as_dict() != doc:
        raise InputError(path, "canary spec does not match its seed (edited or from another confaudit version)")
    return spec


@dataclass(frozen=True)
class SpecSource:
    """A canary spec and the file it was read from (the bundle's ``e2ee.canaries[]``)."""

    path: Path
    """``--canary FILE`` or a session's ``canary.json``."""
    sha256: str
    """Hex SHA-256 of the file as read."""
    spec: CanarySpec
    """The spec."""


def read_specs(explicit: Path | None, session_dirs: list[Path]) -> list[SpecSource]:
    """``--canary FILE`` first, then every session directory's ``canary.json`` (a regular file, not a link)."""
    import os
    import stat

    paths = [Path(explicit)] if explicit is not None else []
    for directory in session_dirs:
        candidate = Path(directory) / "canary.json"
        try:
            if stat.S_ISREG(os.lstat(candidate).st_mode):
                paths.append(candidate)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise InputError(candidate, f"cannot read canary spec: {exc.strerror or exc}") from None
    out: list[SpecSource] = []
    seen: set[str] = set()
    for path in paths:
        spec = load_spec(path)
        if spec.seed in seen and out and out[-1].spec == spec:
            continue
        seen.add(spec.seed)
        out.append(SpecSource(path, hashlib.sha256(path.read_bytes()).hexdigest(), spec))
    return out
