"""Per-flow protocol labels: packet shape classes + what the wire parsers confirmed on the flow.

Pure functions. A packet's label depends on its flow: a DNS flow's packets are DNS whatever
their first byte; a QUIC flow's short headers are QUIC even in the STUN/DTLS ranges; a Zoom
flow's media is Zoom; RTP-shaped packets are RTP/SRTP only on a flow carrying plausible streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from confaudit.analysis import classify as C

LABELS = ("stun", "turn", "dtls", "rtp", "srtp", "rtcp", "srtcp", "tls", "quic", "dns", "http", "sip", "zoom",
          "tcp", "other")
"""Every label; ``tcp`` = TCP segments without payload (handshake, ACKs)."""

STUN_PORTS = frozenset({3478, 3479, 3480, 3481, 5349, 19302, 19303, 19304, 19305, 19306, 19307, 19308, 19309})


@dataclass(frozen=True, slots=True)
class FlowFacts:
    """What was confirmed about one flow (inputs to labelling)."""

    transport: str
    """"udp", "tcp" or "other"."""
    ports: tuple[int, int]
    """Source and destination ports."""
    dns: bool = False
    """DNS messages parsed on the flow."""
    quic: bool = False
    """A QUIC long header with a known version was parsed."""
    zoom: bool = False
    """Zoom media encapsulation confirmed (SFU or P2P)."""
    stun_parsed: int = 0
    """STUN messages (with cookie) parsed."""
    classic_stun: int = 0
    """Cookie-less (RFC 3489) STUN messages parsed."""
    dtls_handshake: bool = False
    """A DTLS handshake record parsed."""
    media: bool = False
    """At least one plausible RTP stream."""
    srtp: bool = False
    """Media on this flow is judged SRTP."""
    tls: bool = False
    """A TLS handshake was parsed (TCP)."""
    http: bool = False
    """Plaintext HTTP parsed (TCP)."""
    sip: bool = False
    """SIP parsed."""
    rtcp_valid: bool = False
    """Sampled RTCP-shaped packets validated as RTCP compounds (or SRTCP with a trailer)."""


def packet_labels(counts: list[int], facts: FlowFacts) -> dict[str, int]:
    """{label: packets} of one flow from its per-class packet counts."""
    out: dict[str, int] = {}

    def add(label: str, n: int) -> None:
        if n:
            out[label] = out.get(label, 0) + n

    empty = counts[C.EMPTY]
    payload = sum(counts) - empty
    add("tcp" if facts.transport == "tcp" else "other", empty)
    if facts.transport == "tcp":
        label = ("tls" if facts.tls or counts[C.TLS_RECORD] else "http" if facts.http else "sip" if facts.sip
                 else "dns" if facts.dns else "stun" if facts.stun_parsed else "other")
        add(label, payload)
        return out
    if facts.transport != "udp":
        add("other", payload)
        return out
    if facts.dns:
        add("dns", payload)
        return out
    stun = counts[C.STUN]
    turn = counts[C.TURN]
    stun_like = stun + turn
    if facts.quic:
        add("stun", stun_like if facts.stun_parsed else 0)
        add("quic", payload - (stun_like if facts.stun_parsed else 0))
        return out
    add("stun", stun if facts.stun_parsed else 0)
    add("turn", turn if facts.stun_parsed else 0)
    rest = payload - (stun_like if facts.stun_parsed else 0)
    if facts.zoom:
        dtls = counts[C.DTLS] if facts.dtls_handshake else 0
        add("dtls", dtls)
        add("stun", counts[C.STUN_CLASSIC] if facts.classic_stun else 0)
        add("zoom", rest - dtls - (counts[C.STUN_CLASSIC] if facts.classic_stun else 0))
        return out
    classic = counts[C.STUN_CLASSIC] if facts.classic_stun and (set(facts.ports) & STUN_PORTS or facts.stun_parsed) else 0
    add("stun", classic)
    add("turn", counts[C.CHANNEL_DATA] if (facts.stun_parsed or turn) else 0)
    dtls = counts[C.DTLS] + (counts[C.DTLS13_UNIFIED] if facts.dtls_handshake else 0)
    add("dtls", dtls)
    media = counts[C.RTP] if facts.media else 0
    add("srtp" if facts.srtp else "rtp", media)
    control = counts[C.RTCP] if (facts.media or facts.dtls_handshake or stun or facts.rtcp_valid) else 0
    add("srtcp" if facts.srtp else "rtcp", control)
    sip = counts[C.TEXT] if facts.sip else 0
    add("sip", sip)
    accounted = (classic + (counts[C.CHANNEL_DATA] if (facts.stun_parsed or turn) else 0) + dtls + media + control + sip)
    add("other", rest - accounted)
    return out


def flow_protocol(labels: dict[str, int]) -> str:
    """The flow's label: its most frequent packet label, ignoring payload-less TCP segments."""
    ranked = sorted(((n, label) for label, n in labels.items() if label != "tcp"), key=lambda x: (-x[0], x[1]))
    if not ranked:
        return "tcp" if "tcp" in labels else "other"
    return ranked[0][1]
