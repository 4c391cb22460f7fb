"""G.711 (A-law / mu-law) payload plausibility: do the bytes decode to audio-like samples?"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def _alaw_linear(byte: int) -> int:
    x = byte ^ 0x55
    seg, mant = (x >> 4) & 0x07, x & 0x0F
    mag = (mant << 4) + 8 if seg == 0 else ((mant << 4) + 0x108) << (seg - 1)
    return mag if x & 0x80 else -mag


def _ulaw_linear(byte: int) -> int:
    x = ~byte & 0xFF
    seg, mant = (x >> 4) & 0x07, x & 0x0F
    mag = (((mant << 3) + 0x84) << seg) - 0x84
    return -mag if x & 0x80 else mag


_ALAW = tuple(_alaw_linear(v) for v in range(256))
_ULAW = tuple(_ulaw_linear(v) for v in range(256))


_TABLES: dict[str, NDArray[np.int32]] = {}


def _table(law: str) -> NDArray[np.int32]:
    """The 256-entry decode table as a numpy array (built once)."""
    if law not in _TABLES:
        import numpy as np

        _TABLES[law] = np.array(_ALAW if law == "a" else _ULAW, dtype=np.int32)
    return _TABLES[law]


def g711_smoothness(payload: bytes, law: str) -> float:
    """Mean |x[i]-x[i-1]| over mean |x| of the decoded samples: ~1.4 for random bytes, well below 1 for audio.

    0.0 for digital near-silence; ``law`` is "a" or "u".
    """
    import numpy as np

    if len(payload) < 2:
        return 0.0
    samples = _table(law)[np.frombuffer(payload, dtype=np.uint8)]
    level = float(np.abs(samples).mean())
    if level < 64:  # digital near-silence
        return 0.0
    return float(np.abs(np.diff(samples)).mean()) / level


def g711_plausible(payload: bytes, law: str | None = None) -> bool | None:
    """Whether a G.711 payload decodes to audio-like samples (time-correlated or near-silent).

    ``law`` "a" / "u" or None for either; None for payloads under 32 bytes.
    """
    if len(payload) < 32:
        return None
    laws = (law,) if law in ("a", "u") else ("a", "u")
    return any(g711_smoothness(bytes(payload[:1024]), one) < 0.75 for one in laws)
