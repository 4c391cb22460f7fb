"""STUN and TURN ChannelData framing over a TCP byte stream (RFC 8656 §12.5, RFC 4571 / RFC 6544)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.wire._records import hex_capped

_MAX_TCP_FRAMES = 100_000


@dataclass(frozen=True, slots=True)
class StunTcpFrames:
    """STUN messages and ChannelData split out of one TCP byte stream."""

    frames: tuple[bytes, ...]
    """Each complete frame (STUN message or ChannelData incl. header), without RFC 4571 prefixes."""
    consumed: int
    """Bytes of the stream consumed by complete frames."""
    complete: bool
    """True when the whole stream split into frames with nothing left over."""
    problem: str | None
    """Why splitting stopped early (unrecognised bytes, truncated frame), None when complete."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: frame count, and the first 100 frames as hex capped at 64 bytes each."""
        return {"frames": [hex_capped(f) for f in self.frames[:100]], "frame_count": len(self.frames),
                "consumed": self.consumed, "complete": self.complete, "problem": self.problem}


def frame_stun_tcp(stream: bytes, rfc4571: bool = False) -> StunTcpFrames:
    """Split a TCP byte stream carrying STUN and ChannelData (RFC 8656 §12.5: ChannelData padded to 4).

    With ``rfc4571=True`` each frame carries a 2-byte length prefix instead (ICE-TCP, RFC 6544).
    """
    data = bytes(stream)
    frames: list[bytes] = []
    offset = 0
    problem: str | None = None
    while offset < len(data) and len(frames) < _MAX_TCP_FRAMES:
        if rfc4571:
            if offset + 2 > len(data):
                problem = "truncated RFC 4571 length prefix"
                break
            size = int.from_bytes(data[offset : offset + 2], "big")
            if offset + 2 + size > len(data):
                problem = f"truncated frame at offset {offset}"
                break
            frames.append(data[offset + 2 : offset + 2 + size])
            offset += 2 + size
            continue
        if offset + 4 > len(data):
            problem = f"truncated frame header at offset {offset}"
            break
        first = data[offset]
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if first < 0x40:
            size = 20 + length
            if offset + size > len(data):
                problem = f"truncated STUN message at offset {offset}"
                break
        elif 0x40 <= first <= 0x7F:
            size = 4 + length + (-length % 4)
            if offset + 4 + length > len(data):
                problem = f"truncated ChannelData at offset {offset}"
                break
            size = min(size, len(data) - offset)
        else:
            problem = f"neither STUN nor ChannelData at offset {offset}"
            break
        frames.append(data[offset : offset + (20 + length if first < 0x40 else 4 + length)])
        offset += size
    if problem is None and offset < len(data):
        problem = "frame limit reached"
    return StunTcpFrames(frames=tuple(frames), consumed=offset, complete=problem is None, problem=problem)
