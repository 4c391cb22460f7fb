"""Synthetic media tracks for the lab call: a sine tone and a moving colour-bar pattern.

Deterministic content (no camera, no microphone) so a test knows exactly what was sent. aiortc
and PyAV are imported inside the factory functions; this module is safe to import anywhere.
"""

from __future__ import annotations

from typing import Any

TONE_HZ = 440.0
"""Frequency of the synthetic audio tone."""
AUDIO_RATE = 48_000
"""Audio sample rate (Opus' native rate)."""
AUDIO_SAMPLES = 960
"""Samples per 20 ms audio frame."""
VIDEO_WIDTH = 160
"""Video width in pixels (small: the lab call must take seconds on a loaded 2-core box)."""
VIDEO_HEIGHT = 120
"""Video height in pixels."""


def tone_track(frequency: float = TONE_HZ) -> Any:
    """An aiortc audio track producing a continuous sine tone, paced in real time."""
    import asyncio
    import fractions
    import time

    import numpy as np
    from aiortc.mediastreams import MediaStreamTrack
    from av import AudioFrame

    class ToneTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._pts = 0
            self._start: float | None = None

        async def recv(self) -> AudioFrame:
            if self._start is None:
                self._start = time.monotonic()
            wait = self._start + self._pts / AUDIO_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            t = (np.arange(AUDIO_SAMPLES) + self._pts) / AUDIO_RATE
            samples = (np.sin(2 * np.pi * frequency * t) * 8000).astype(np.int16)
            frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._pts
            frame.time_base = fractions.Fraction(1, AUDIO_RATE)
            self._pts += AUDIO_SAMPLES
            return frame

    return ToneTrack()


def pattern_track(fps: int = 15) -> Any:
    """An aiortc video track producing colour bars that scroll one step per frame."""
    import asyncio
    import fractions
    import time

    import numpy as np
    from aiortc.mediastreams import MediaStreamTrack
    from av import VideoFrame

    clock = 90_000
    bars = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
                     [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]], dtype=np.uint8)
    columns = bars[(np.arange(VIDEO_WIDTH) * len(bars)) // VIDEO_WIDTH]

    class PatternTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._index = 0
            self._start: float | None = None

        async def recv(self) -> VideoFrame:
            if self._start is None:
                self._start = time.monotonic()
            wait = self._start + self._index / fps - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            row = np.roll(columns, self._index * 4, axis=0)
            image = np.ascontiguousarray(np.broadcast_to(row, (VIDEO_HEIGHT, VIDEO_WIDTH, 3)))
            frame = VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self._index * (clock // fps)
            frame.time_base = fractions.Fraction(1, clock)
            self._index += 1
            return frame

    return PatternTrack()


def canary_tracks(media: Any) -> dict[str, Any]:
    """{"audio": factory, "video": factory} playing a CanaryMedia's WAV and Y4M in real time, looped
    (aiortc's MediaPlayer; one player per track so each stream starts at the top of its file)."""

    def player_track(path: Any, kind: str) -> Any:
        from aiortc.contrib.media import MediaPlayer

        player = MediaPlayer(str(path), loop=True)
        return player.audio if kind == "audio" else player.video

    return {"audio": lambda: player_track(media.audio_wav, "audio"), "video": lambda: player_track(media.video_y4m, "video")}
