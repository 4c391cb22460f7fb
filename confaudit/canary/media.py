"""Write the canary's media files: a WAV for the fake microphone, a Y4M for the fake camera."""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confaudit.canary.spec import (AMPLITUDE, BLACK_Y, COLUMNS, FPS, HEIGHT, RAMP_MS, ROWS, SAMPLE_RATE, SEGMENT_MS,
                                   SYNC_BITS, WHITE_Y, WIDTH, CanarySpec, make_spec)

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class CanaryMedia:
    """The files of one canary."""

    audio_wav: Path
    """Mono 48 kHz 16-bit WAV (Chromium's --use-file-for-fake-audio-capture)."""
    video_y4m: Path
    """320x240 30 fps Y4M 4:2:0 (Chromium's --use-file-for-fake-video-capture)."""
    spec_json: Path
    """The canary description (seed, tone plan, frame pattern): a session's ``canary.json``."""
    seed: str
    """The seed the media were derived from."""


def audio_samples(spec: CanarySpec) -> np.ndarray:
    """One loop of the tone plan as float samples in [-1, 1]."""
    import numpy as np

    n = SAMPLE_RATE * SEGMENT_MS // 1000
    t = np.arange(n) / SAMPLE_RATE
    ramp = SAMPLE_RATE * RAMP_MS // 1000
    envelope = np.ones(n)
    edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    envelope[:ramp], envelope[-ramp:] = edge, edge[::-1]
    return np.concatenate([AMPLITUDE * envelope * np.sin(2 * np.pi * spec.frequencies_hz[s] * t)
                           for s in spec.tone_symbols])


def gray(n: int) -> int:
    return n ^ (n >> 1)


def frame_bits(spec: CanarySpec, index: int) -> list[list[int]]:
    """The block grid (ROWS x COLUMNS of 0/1) of video frame ``index``."""
    code = gray(index % spec.video_frames)
    high = [(code >> (15 - i)) & 1 for i in range(8)]
    low = [(code >> (7 - i)) & 1 for i in range(8)]
    return [list(SYNC_BITS), list(spec.seed_bits[:8]), list(spec.seed_bits[8:]), high, low, [1 - b for b in low]]


def luma_plane(bits: list[list[int]]) -> np.ndarray:
    import numpy as np

    grid = np.where(np.array(bits, dtype=np.uint8) == 1, WHITE_Y, BLACK_Y).astype(np.uint8)
    return np.kron(grid, np.ones((HEIGHT // ROWS, WIDTH // COLUMNS), dtype=np.uint8))


def _write_wav(path: Path, samples: np.ndarray) -> None:
    import numpy as np

    pcm = np.round(samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())


def _write_y4m(path: Path, spec: CanarySpec) -> None:
    import numpy as np

    chroma = np.full((HEIGHT // 2) * (WIDTH // 2) * 2, 128, dtype=np.uint8).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for index in range(spec.video_frames):
            out.write(b"FRAME\n")
            out.write(luma_plane(frame_bits(spec, index)).tobytes())
            out.write(chroma)


def write_canary_media(directory: Path, seed: str, seconds: float = 10.0) -> CanaryMedia:
    """Write ``canary.wav``, ``canary.y4m`` and ``canary.json`` for ``seed`` into ``directory`` (created)."""
    spec = make_spec(seed, seconds)
    directory.mkdir(parents=True, exist_ok=True)
    media = CanaryMedia(directory / "canary.wav", directory / "canary.y4m", directory / "canary.json", seed)
    _write_wav(media.audio_wav, audio_samples(spec))
    _write_y4m(media.video_y4m, spec)
    media.spec_json.write_text(json.dumps(spec.as_dict(), indent=1) + "\n", encoding="utf-8")
    return media
