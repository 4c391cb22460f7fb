"""Opus: is the decoded signal real audio? Positive evidence from the decoded level contour.

An Opus decoder is a range decoder: any bytes behind a single-frame TOC decode without error, the
random input simply sampling the codec's own parameter model. "Decodes" therefore proves nothing,
and an inner E2EE layer that keeps the TOC in clear (Jitsi, SFrame-style transforms) decodes to
mostly in-range noise. What ciphertext cannot produce is continuity: its per-frame gains are drawn
afresh every frame, so the decoded level jumps by a median 4.5-12 dB between consecutive 20 ms
windows, while real audio (speech, music, tones, noise) moves by a median 0.1-3.3 dB (measurements
in docs/e2ee.md).
Each stream is compared with its own reference: the same packets with every byte after the TOC
replaced by seeded random bytes, decoded the same way. Tiny (DTX/silence) and silent frames are no
evidence either way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confaudit.wire.codecs import OPUS_TINY_PAYLOAD

if TYPE_CHECKING:
    from confaudit.e2ee.enums import Verdict
    from confaudit.evidence_model import E2eeAudioEvidence

SILENT_DBFS = -80.0  # frames decoding below this carry no audible signal to judge
WINDOW = 960  # 20 ms at 48 kHz
MIN_AUDIO_PACKETS = 20
MIN_LEVEL_STEPS = 40  # 0.8 s of audible audio
MAX_STEP_DB = 4.0  # measured: real audio <= 3.3 dB, TOC-clear ciphertext >= 4.5 dB
CODEC_RATIO = 0.5  # measured: real audio <= 0.42 x the random reference, ciphertext >= 0.63 x
RANDOM_RATIO = 0.6
MAX_DECODE_ERRORS = 0.05
ERROR_SHARE = 0.3  # random bytes after a multi-frame TOC break its frame lengths: the decoder refuses
OVER_FULL_SCALE = 0.1  # measured: real audio <= 9 % of frames (near-full-scale input), ciphertext 4-92 %
TOC_CONSISTENCY = 0.3  # a clear TOC repeats (bandwidth switches spread it over a few configs), a random one over 32
REFERENCE_SEED = 0x0905


@dataclass(frozen=True)
class LevelContour:
    """One decode pass over a stream's payloads."""

    packets: int
    """Non-empty payloads fed to the decoder."""
    tiny: int
    """Payloads of at most OPUS_TINY_PAYLOAD bytes (DTX, digital silence)."""
    errors: int
    """Payloads the decoder rejected."""
    silent: int
    """Decoded frames below SILENT_DBFS."""
    audible: int
    """Decoded frames judged (neither tiny nor silent)."""
    steps: int
    """Pairs of consecutive 20 ms windows compared inside runs of audible frames."""
    step_median_db: float | None
    """Median absolute level change between those windows, in dB."""
    over_full_scale: float | None
    """Share of audible frames whose decoded peak exceeds full scale."""


@dataclass(frozen=True)
class AudioEvidence:
    """The measurements behind an Opus stream's verdict (the bundle's ``streams[].audio_evidence``)."""

    packets: int
    """Non-empty payloads decoded."""
    tiny_packets: int
    """Payloads of at most 3 bytes (DTX, digital silence): no evidence either way."""
    decode_errors: int
    """Payloads the Opus decoder rejected."""
    silent_frames: int
    """Frames decoding below -80 dBFS: no evidence either way."""
    audible_frames: int
    """Frames judged."""
    level_steps: int
    """Consecutive 20 ms windows compared inside runs of audible frames."""
    level_step_median_db: float | None
    """Median absolute change of the decoded level between those windows (dB)."""
    random_level_steps: int
    """The same count for the reference: these packets with every byte after the TOC random."""
    random_level_step_median_db: float | None
    """The same median for the reference (dB)."""
    random_decode_errors: int
    """Reference payloads the decoder rejected."""
    over_full_scale_share: float | None
    """Share of audible frames whose decoded peak exceeds full scale."""
    toc_config: int | None
    """Most common TOC configuration (RFC 6716 §3.1)."""
    toc_config_share: float
    """Share of payloads carrying it."""
    trailer: str | None
    """Inner-E2EE trailer structure found at the payloads' end, if any."""

    def as_dict(self) -> E2eeAudioEvidence:
        """The bundle's ``audio_evidence`` object (every field, as ``dataclasses.asdict`` would give them)."""
        evidence: E2eeAudioEvidence = {
            "packets": self.packets, "tiny_packets": self.tiny_packets, "decode_errors": self.decode_errors,
            "silent_frames": self.silent_frames, "audible_frames": self.audible_frames,
            "level_steps": self.level_steps, "level_step_median_db": self.level_step_median_db,
            "random_level_steps": self.random_level_steps,
            "random_level_step_median_db": self.random_level_step_median_db,
            "random_decode_errors": self.random_decode_errors, "over_full_scale_share": self.over_full_scale_share,
            "toc_config": self.toc_config, "toc_config_share": self.toc_config_share, "trailer": self.trailer,
        }
        return evidence


def _decoder():
    import av

    ctx = av.CodecContext.create("opus", "r")
    ctx.thread_count = 1
    ctx.sample_rate = 48000
    ctx.layout = "stereo"
    return ctx


def _samples(frames) -> Any:
    """Decoded frames -> float array (channels, samples) at full scale 1.0; None if there are none."""
    import numpy as np

    parts = []
    for frame in frames:
        raw = frame.to_ndarray()
        arr = raw if frame.format.is_planar else raw.reshape(-1, len(frame.layout.channels)).T
        arr = arr.astype(np.float64)
        if np.issubdtype(raw.dtype, np.integer):
            arr /= 32768.0
        parts.append(arr)
    return np.concatenate(parts, axis=-1) if parts else None


def decode_levels(payloads: list[bytes]) -> LevelContour:
    """Decode ``payloads`` in order and measure the level contour of the audible runs."""
    import av
    import numpy as np

    decoder = _decoder()
    runs: list[list[Any]] = [[]]
    packets = tiny = errors = silent = audible = over = 0
    for payload in payloads:
        if not payload:
            continue
        packets += 1
        try:
            frames = decoder.decode(av.Packet(payload))
        except av.error.FFmpegError:
            errors += 1
            runs.append([])
            continue
        samples = _samples(frames)
        if len(payload) <= OPUS_TINY_PAYLOAD or samples is None:
            tiny += len(payload) <= OPUS_TINY_PAYLOAD
            runs.append([])
            continue
        # the level of the channels' mix: random stereo payloads decode to unrelated channels whose mix jumps
        # further than their summed power (speech: 0.28-0.36 x the reference with the mix, 0.38-0.50 summed)
        power = samples.mean(axis=0) ** 2
        if 10 * np.log10(float(np.mean(power)) + 1e-30) < SILENT_DBFS:
            silent += 1
            runs.append([])
            continue
        audible += 1
        over += float(np.abs(samples).max()) > 1.0
        runs[-1].append(power)
    steps: list[Any] = []
    for run in runs:
        power = np.concatenate(run) if run else np.zeros(0)
        windows = len(power) // WINDOW
        if windows >= 2:
            level = 10 * np.log10(np.mean(power[:windows * WINDOW].reshape(windows, WINDOW), axis=1) + 1e-30)
            steps.append(np.abs(np.diff(level)))
    all_steps = np.concatenate(steps) if steps else np.zeros(0)
    return LevelContour(packets, tiny, errors, silent, audible, len(all_steps),
                        round(float(np.median(all_steps)), 2) if len(all_steps) else None,
                        round(over / audible, 3) if audible > 0 else None)


def random_reference(payloads: list[bytes], seed: int = REFERENCE_SEED) -> list[bytes]:
    """The payloads with every byte after the TOC replaced by seeded random bytes (tiny ones kept)."""
    rng = random.Random(seed)
    return [p[:1] + rng.randbytes(len(p) - 1) if len(p) > OPUS_TINY_PAYLOAD else p for p in payloads]


def measure_opus(payloads: list[bytes]) -> AudioEvidence:
    """Decode a stream's Opus payloads (capture order) and its random reference; collect the evidence."""
    from confaudit.e2ee.trailer import describe_trailer

    own = decode_levels(payloads)
    reference = decode_levels(random_reference(payloads))
    configs: dict[int, int] = {}
    for p in payloads:
        if p:
            configs[p[0] >> 3] = configs.get(p[0] >> 3, 0) + 1
    config = max(configs, key=configs.__getitem__) if configs else None
    share = round(configs[config] / sum(configs.values()), 3) if config is not None else 0.0
    return AudioEvidence(own.packets, own.tiny, own.errors, own.silent, own.audible, own.steps, own.step_median_db,
                         reference.steps, reference.step_median_db, reference.errors, own.over_full_scale, config,
                         share, describe_trailer([p for p in payloads if p]))


def summary(ev: AudioEvidence) -> str:
    """One reasons line with the measurements."""
    own = f"{ev.level_step_median_db:.1f} dB" if ev.level_step_median_db is not None else "n/a"
    ref = f"{ev.random_level_step_median_db:.1f} dB" if ev.random_level_step_median_db is not None else "n/a"
    over = f"{ev.over_full_scale_share:.0%}" if ev.over_full_scale_share is not None else "n/a"
    return (f"opus: {ev.packets} packets ({ev.tiny_packets} DTX/silence of <= {OPUS_TINY_PAYLOAD} bytes, "
            f"{ev.silent_frames} silent, {ev.decode_errors} decoder errors); decoded level changes by a median "
            f"{own} between 20 ms windows ({ev.level_steps} steps) vs {ref} for random bytes behind the same TOCs "
            f"({ev.random_level_steps} steps, {ev.random_decode_errors} decoder errors); {over} of frames peak above "
            f"full scale; TOC config {ev.toc_config} on {ev.toc_config_share:.0%} of packets"
            + (f"; trailer: {ev.trailer}" if ev.trailer else ""))


def opus_verdict(ev: AudioEvidence) -> tuple[Verdict, str]:
    """(codec | encrypted | undetermined, why) for one Opus stream."""
    judged = ev.packets - ev.tiny_packets
    own, ref = ev.level_step_median_db, ev.random_level_step_median_db
    comparable = ref is not None and ref > 0 and ev.random_level_steps >= MIN_LEVEL_STEPS
    if judged >= MIN_AUDIO_PACKETS and ev.decode_errors <= MAX_DECODE_ERRORS * judged \
            and ev.level_steps >= MIN_LEVEL_STEPS and own is not None and own <= MAX_STEP_DB:
        if comparable and ref is not None and own <= CODEC_RATIO * ref:
            return "codec", ("the decoded level follows a continuous contour, unlike random bytes behind the same "
                             "TOCs: real audio, readable media")
        if ev.random_decode_errors >= ERROR_SHARE * judged:
            return "codec", ("the payloads decode where random bytes behind the same TOCs do not, to a continuous "
                             "level contour: real audio, readable media")
    random_like = (comparable and ref is not None and own is not None and ev.level_steps >= MIN_LEVEL_STEPS
                   and own >= RANDOM_RATIO * ref)
    refused = judged >= MIN_AUDIO_PACKETS and ev.decode_errors >= ERROR_SHARE * judged
    garbage = ev.over_full_scale_share is not None and ev.over_full_scale_share >= OVER_FULL_SCALE
    # Refusals alone also come from misread framing (a RED header taken for a TOC): they need the trailer.
    if ev.toc_config_share >= TOC_CONSISTENCY and ((random_like and (garbage or ev.trailer)) or (refused and ev.trailer)):
        signs = ["the decoded level jumps as it does for random bytes behind the same TOCs" if random_like
                 else "the decoder rejects the payloads past the TOC"]
        if garbage:
            signs.append(f"{ev.over_full_scale_share:.0%} of frames peak above full scale")
        if ev.trailer:
            signs.append(ev.trailer)
        return "encrypted", (f"Opus TOC in clear and consistent, but {'; '.join(signs)}: the payload past the TOC is "
                             "ciphertext of an inner E2EE layer")
    if ev.level_steps < MIN_LEVEL_STEPS:
        return "undetermined", (f"only {ev.level_steps} level steps of audible audio (DTX, silence, too few packets): "
                                "no evidence either way")
    return "undetermined", "the decoded audio is neither shown to be real audio nor shown to be ciphertext"
