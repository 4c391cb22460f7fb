"""Find the canary's tone plan in a decrypted Opus stream.

The stream is decoded and laid on its RTP clock (gaps and DTX stay silent, so timing survives
packet loss). Each 20 ms window names its dominant symbol: the strongest of the plan's frequencies,
which fall on exact 50 Hz FFT bins, when it holds most of their energy. The plan loops and the call
starts anywhere in it, so every alignment (in 20 ms steps) is tried; the best one's share of matching
windows is the figure. Chance is 1/16 per window: ciphertext decoded as Opus, or someone else's
voice, stays near it, while the canary through Opus matches most windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from confaudit.canary.spec import SAMPLE_RATE, SEGMENT_MS, SYMBOL_COUNT, CanarySpec
from confaudit.wire.codecs import OPUS_TINY_PAYLOAD

WINDOW = 960  # 20 ms at 48 kHz: 50 Hz bins, the plan's frequencies on exact bins
WINDOWS_PER_SEGMENT = SEGMENT_MS * SAMPLE_RATE // 1000 // WINDOW
SILENT_DBFS = -60.0
DOMINANCE = 0.5  # the strongest plan frequency holds at least this share of the plan frequencies' energy
MAX_SECONDS = 120
MIN_MATCHED_WINDOWS = 50  # one second of the plan
MIN_MATCH_SHARE = 0.5  # of the tonal windows; chance is 1/16
MIN_SEGMENTS = 5


@dataclass(frozen=True)
class AudioCanary:
    """The figures of the search for the tone plan in one stream."""

    found: bool
    """The plan was recognised (the thresholds are in docs/e2ee.md)."""
    windows: int
    """20 ms windows of decoded audio on the RTP clock."""
    audible_windows: int
    """Windows above -60 dBFS."""
    tonal_windows: int
    """Audible windows dominated by one of the plan's frequencies."""
    matched_windows: int
    """Tonal windows whose frequency is the plan's at the best alignment."""
    match_share: float | None
    """matched / tonal windows (chance: 1/16)."""
    runner_up_share: float | None
    """The same share at the best alignment that is not within one segment of the best."""
    offset_ms: int | None
    """Where in the plan the stream starts, at the best alignment."""
    segments_matched: int
    """Plan segments (200 ms tones) of which most windows matched."""
    frequency_correlation: float | None
    """Pearson correlation of the planned and the measured frequency over the tonal windows."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_timeline(packets: list[Any]) -> Any:
    """Opus payloads (RtpPacket) decoded to mono float samples placed at their RTP timestamps."""
    import av
    import numpy as np

    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate = SAMPLE_RATE
    decoder.layout = "mono"
    decoder.thread_count = 1
    if not packets:
        return np.zeros(0)
    base = packets[0].timestamp
    pieces: list[tuple[int, Any]] = []
    for p in packets:
        if len(p.payload) <= OPUS_TINY_PAYLOAD:
            continue  # DTX / digital silence: no signal (decoding it runs concealment, which can invent noise)
        offset = (p.timestamp - base) & 0xFFFFFFFF
        if offset >= MAX_SECONDS * SAMPLE_RATE:
            continue  # behind the first packet (reordered) or beyond the window searched
        try:
            frames = decoder.decode(av.Packet(p.payload))
        except av.error.FFmpegError:
            continue
        chunks = []
        for frame in frames:
            raw = frame.to_ndarray()
            arr = raw if frame.format.is_planar else raw.reshape(-1, len(frame.layout.channels)).T
            arr = arr.mean(axis=0)
            chunks.append(arr / 32768.0 if np.issubdtype(raw.dtype, np.integer) else arr)
        if chunks:
            pieces.append((offset, np.concatenate(chunks)))
    if not pieces:
        return np.zeros(0)
    out = np.zeros(max(o + len(s) for o, s in pieces))
    for offset, samples in pieces:
        out[offset:offset + len(samples)] = samples
    return out


def window_symbols(samples: Any, spec: CanarySpec) -> tuple[Any, Any]:
    """Per 20 ms window: the dominant plan symbol (-1: silent or not tonal) and its frequency."""
    import numpy as np

    n = len(samples) // WINDOW
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    frames = samples[:n * WINDOW].reshape(n, WINDOW)
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-30)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(WINDOW), axis=1)) ** 2
    bins = np.array([round(f * WINDOW / SAMPLE_RATE) for f in spec.frequencies_hz])
    # a tone between windows' bin centres leaks into the neighbours: sum each bin with them
    energy = spectrum[:, bins] + spectrum[:, bins - 1] + spectrum[:, bins + 1]
    best = np.argmax(energy, axis=1)
    share = energy[np.arange(n), best] / (energy.sum(axis=1) + 1e-30)
    symbols = np.where((level > SILENT_DBFS) & (share >= DOMINANCE), best, -1)
    return symbols, level


def search_audio(packets: list[Any], spec: CanarySpec) -> AudioCanary:
    """Decode ``packets`` (one Opus stream, capture order) and look for the tone plan."""
    import numpy as np

    samples = decode_timeline(sorted(packets, key=lambda p: p.seq) if _seq_span_ok(packets) else packets)
    symbols, level = window_symbols(samples, spec)
    windows = len(symbols)
    audible = int(np.sum(level > SILENT_DBFS)) if windows else 0
    tonal_idx = np.nonzero(symbols >= 0)[0]
    if len(tonal_idx) == 0:
        return AudioCanary(False, windows, audible, 0, 0, None, None, None, 0, None)
    plan = np.array(spec.tone_symbols)
    period = len(plan) * WINDOWS_PER_SEGMENT
    observed = symbols[tonal_idx]
    matches = np.array([np.sum(plan[((tonal_idx + o) // WINDOWS_PER_SEGMENT) % len(plan)] == observed)
                        for o in range(period)])
    best = int(np.argmax(matches))
    far = [o for o in range(period) if min((o - best) % period, (best - o) % period) > WINDOWS_PER_SEGMENT]
    runner_up = int(matches[far].max()) if far else 0
    predicted = plan[((tonal_idx + best) // WINDOWS_PER_SEGMENT) % len(plan)]
    hit = predicted == observed
    segment_of = (tonal_idx + best) // WINDOWS_PER_SEGMENT
    segments = sum(1 for s in np.unique(segment_of) if np.mean(hit[segment_of == s]) > 0.5
                   and np.sum(segment_of == s) >= WINDOWS_PER_SEGMENT // 2)
    freqs = np.array(spec.frequencies_hz)
    corr = None
    if len(tonal_idx) >= 3 and np.std(freqs[predicted]) > 0 and np.std(freqs[observed]) > 0:
        corr = round(float(np.corrcoef(freqs[predicted], freqs[observed])[0, 1]), 3)
    matched = int(matches[best])
    share = matched / len(tonal_idx)
    found = matched >= MIN_MATCHED_WINDOWS and share >= MIN_MATCH_SHARE and segments >= MIN_SEGMENTS
    return AudioCanary(found, windows, audible, len(tonal_idx), matched, round(share, 3),
                       round(runner_up / len(tonal_idx), 3), (best * WINDOW * 1000 // SAMPLE_RATE) % (len(plan) * SEGMENT_MS),
                       segments, corr)


def _seq_span_ok(packets: list[Any]) -> bool:
    """Sorting by sequence number is safe when the sample does not wrap around 65535."""
    seqs = [p.seq for p in packets]
    return bool(seqs) and max(seqs) - min(seqs) < 30000


def summary(c: AudioCanary) -> str:
    if c.match_share is None:
        return (f"canary audio: {'found' if c.found else 'not found'}: none of {c.windows} windows "
                f"({c.audible_windows} audible) is dominated by one of the plan's {SYMBOL_COUNT} tones")
    return (f"canary audio: {'found' if c.found else 'not found'}: {c.matched_windows} of {c.tonal_windows} tonal "
            f"20 ms windows match the tone plan at the best alignment ({c.match_share:.0%}; next best alignment "
            f"{c.runner_up_share:.0%}; chance {1 / SYMBOL_COUNT:.0%}), {c.segments_matched} tones recognised, "
            f"frequency correlation {c.frequency_correlation}; {c.audible_windows} of {c.windows} windows audible")
