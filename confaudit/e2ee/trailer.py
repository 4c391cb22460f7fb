"""Inner-E2EE framing at the end of a payload: a per-frame counter.

Jitsi's insertable-streams formats end every frame with one: the AES-GCM format carries a 12-byte
IV (SSRC, RTP timestamp, send counter) then ``IV_LENGTH, KID``; the older "JFrame" a variable-length
counter then ``|S|LEN|KID|``. Other schemes append a counter too (the lab's ``FrameEncryptor``).
Codec bitstreams do not count: entropy-coded bytes never step by one from packet to packet. (Constant
end bytes prove nothing: Opus writes raw bits backwards from the end of a CELT frame, so a steady
tone ends its packets with the same byte.)
"""

from __future__ import annotations

MIN_PAYLOADS = 20
COUNTER_SHARE = 0.8  # packet loss and reordering in a capture break a few steps, never most
MAX_OFFSET = 16  # bytes after the counter (Jitsi GCM: 2 trailer bytes; a signature would add more)
WIDTHS = (4, 2, 1)
MAX_PAYLOADS = 400  # a trailer runs through the whole stream: its start shows it


def counter_trailer(payloads: list[bytes]) -> tuple[int, int, float] | None:
    """(width, bytes after it, share of consecutive payloads where it steps by one) of the first counter found."""
    payloads = payloads[:MAX_PAYLOADS]
    for width in WIDTHS:
        modulus = 1 << (8 * width)
        for after in range(MAX_OFFSET + 1):
            # at least one byte (the clear codec header) before the field
            values = [int.from_bytes(p[len(p) - after - width:len(p) - after], "big")
                      for p in payloads if len(p) > after + width]
            if len(values) < MIN_PAYLOADS:
                continue
            steps = sum(1 for a, b in zip(values, values[1:]) if (b - a) % modulus == 1)
            if steps >= COUNTER_SHARE * (len(values) - 1):
                return width, after, steps / (len(values) - 1)
    return None


def describe_trailer(payloads: list[bytes]) -> str | None:
    """A phrase naming the counter trailer found in ``payloads`` (capture order), or None."""
    counter = counter_trailer(payloads)
    if counter is None:
        return None
    width, after, share = counter
    where = f"{after} bytes before the end" if after else "at the end"
    return f"a {width}-byte counter {where} steps by one between consecutive packets ({share:.0%} of pairs)"
