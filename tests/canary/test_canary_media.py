"""Canary media generator: deterministic files Chromium's fake devices take, and a spec that checks itself."""

from __future__ import annotations

import hashlib
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from confaudit.canary import load_spec, write_canary_media
from confaudit.canary.media import frame_bits
from confaudit.canary.spec import SEGMENT_MS
from confaudit.errors import InputError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _y4m_frames(path: Path) -> tuple[bytes, list[np.ndarray]]:
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    frames = []
    size = 320 * 240 * 3 // 2
    while rest:
        assert rest.startswith(b"FRAME\n")
        frames.append(np.frombuffer(rest[6:6 + 320 * 240], dtype=np.uint8).reshape(240, 320))
        rest = rest[6 + size:]
    return header, frames


def test_same_seed_same_bytes_other_seed_other_media(tmp_path: Path) -> None:
    a = write_canary_media(tmp_path / "a", "seed-1", seconds=2.0)
    b = write_canary_media(tmp_path / "b", "seed-1", seconds=2.0)
    c = write_canary_media(tmp_path / "c", "seed-2", seconds=2.0)
    for attr in ("audio_wav", "video_y4m", "spec_json"):
        assert _digest(getattr(a, attr)) == _digest(getattr(b, attr))
        assert _digest(getattr(a, attr)) != _digest(getattr(c, attr))
    assert a.seed == "seed-1" and a.audio_wav.name == "canary.wav" and a.spec_json.name == "canary.json"


def test_wav_is_mono_48k_s16_and_plays_the_tone_plan(tmp_path: Path) -> None:
    media = write_canary_media(tmp_path, "tones", seconds=3.0)
    spec = load_spec(media.spec_json)
    with wave.open(str(media.audio_wav)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 48000, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32768.0
    assert len(pcm) == 3 * 48000 and len(spec.tone_symbols) == 15
    assert all(a != b for a, b in zip(spec.tone_symbols, spec.tone_symbols[1:] + spec.tone_symbols[:1]))
    seg = 48000 * SEGMENT_MS // 1000
    freqs = np.fft.rfftfreq(seg, 1 / 48000)
    for i, tone in enumerate(spec.tones):
        spectrum = np.abs(np.fft.rfft(pcm[i * seg:(i + 1) * seg] * np.hanning(seg)))
        assert abs(freqs[int(np.argmax(spectrum))] - tone.frequency_hz) <= 5
    assert 0.25 < np.abs(pcm).max() < 0.35


def test_y4m_frames_carry_sync_seed_and_gray_counter(tmp_path: Path) -> None:
    media = write_canary_media(tmp_path, "frames", seconds=1.0)
    spec = load_spec(media.spec_json)
    header, frames = _y4m_frames(media.video_y4m)
    assert header == b"YUV4MPEG2 W320 H240 F30:1 Ip A1:1 C420jpeg"
    assert len(frames) == 30 == spec.video_frames
    for index in (0, 1, 17, 29):
        centres = frames[index][20::40, 20::40]
        bits = (centres > 128).astype(int).tolist()
        assert bits == frame_bits(spec, index)
        assert bits[0] == [1, 1, 0, 1, 0, 0, 1, 0]
        assert bits[1] + bits[2] == list(spec.seed_bits)
        assert int("".join(map(str, bits[3] + bits[4])), 2) == index ^ (index >> 1)  # Gray code, written out
        assert bits[5] == [1 - b for b in bits[4]]


def test_spec_round_trip_and_tampering(tmp_path: Path) -> None:
    media = write_canary_media(tmp_path, "check", seconds=1.0)
    doc = json.loads(media.spec_json.read_text())
    assert load_spec(media.spec_json).as_dict() == doc
    doc["audio"]["symbols"][0] = (doc["audio"]["symbols"][0] + 1) % 16
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"edited\.json: canary spec does not match its seed"):
        load_spec(bad)


@pytest.mark.parametrize(("content", "problem"), [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b'{"format": "other"}', "not a canary spec"),
    (b'{"format": "confaudit-canary/1", "seed": "", "seconds": 1}', "seed"),
    (b'{"format": "confaudit-canary/1", "seed": "x", "seconds": true}', "seconds"),
])
def test_bad_spec_is_one_line_input_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "canary.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}:") and problem in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="cannot read"):
        load_spec(tmp_path / "missing.json")
