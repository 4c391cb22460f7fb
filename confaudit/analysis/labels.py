"""Per-flow protocol labels: packet shape classes + what the wire parsers confirmed on the flow.

Pure functions. A packet's label depends on its flow: a DNS flow's packets are DNS whatever
their first byte; a QUIC flow's short headers are QUIC even in the STUN/DTLS ranges; a Zoom
flow's media is Zoom; RTP-shaped packets are RTP/SRTP only on a flow carrying plausible streams;
RTCP is SRTCP only when its trailer proves it (or the flow's media is SRTP). A TCP flow whose
bytes are framed messages (ICE-TCP, TURN over TCP) is labelled by those messages, like UDP.
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
    """Cookie-less (RFC 3489) STUN messages that validated as such (see dissect_stun.stun_summary)."""
    dtls_handshake: bool = False
    """A DTLS handshake record parsed."""
    media: bool = False
    """At least one plausible RTP stream."""
    srtp: bool = False
    """Media on this flow is judged SRTP (positive evidence)."""
    srtcp: bool = False
    """The flow's RTCP trailers prove SRTCP (wire.srtcp)."""
    rtcp_plain: bool = False
    """Sampled RTCP packets walk exactly to their ends (plain RTCP, no trailer) and none proves SRTCP."""
    tls: bool = False
    """A TLS handshake was parsed (TCP)."""
    http: bool = False
    """Plaintext HTTP parsed (TCP)."""
    sip: bool = False
    """SIP parsed."""
    framed: bool = False
    """A TCP flow whose bytes were split into messages (analysis.carried); labelled by those messages."""


def packet_labels(counts: list[int], facts: FlowFacts, framed_counts: list[int] | None = None) -> dict[str, int]:
    """{label: packets} of one flow from its per-class packet counts (every packet counted once).

    For a framed TCP flow, payload-less segments count as ``tcp`` and its payload segments share
    the labels of the messages split out of the stream (``framed_counts``, labelled like UDP
    datagrams) in proportion to them.
    """
    out: dict[str, int] = {}

    def add(label: str, n: int) -> None:
        if n:
            out[label] = out.get(label, 0) + n

    empty = counts[C.EMPTY]
    payload = sum(counts) - empty
    add("tcp" if facts.transport == "tcp" else "other", empty)
    if facts.transport == "tcp" and facts.framed and framed_counts is not None:
        for label, n in spread(payload, _datagram_labels(framed_counts, facts)).items():
            add(label, n)
        return out
    if facts.transport == "tcp":
        label = ("tls" if facts.tls or counts[C.TLS_RECORD] else "http" if facts.http else "sip" if facts.sip
                 else "dns" if facts.dns else "other")
        add(label, payload)
        return out
    if facts.transport != "udp":
        add("other", payload)
        return out
    for label, n in _datagram_labels(counts, facts).items():
        add(label, n)
    return out


def _datagram_labels(counts: list[int], facts: FlowFacts) -> dict[str, int]:
    out: dict[str, int] = {}

    def add(label: str, n: int) -> None:
        if n:
            out[label] = out.get(label, 0) + n

    payload = sum(counts) - counts[C.EMPTY]
    if facts.dns:
        add("dns", payload)
        return out
    stun, turn = counts[C.STUN], counts[C.TURN]
    stun_like = (stun + turn) if facts.stun_parsed else 0
    if facts.quic:
        add("stun", stun_like)
        add("quic", payload - stun_like)
        return out
    add("stun", stun if facts.stun_parsed else 0)
    add("turn", turn if facts.stun_parsed else 0)
    rest = payload - stun_like
    classic = counts[C.STUN_CLASSIC] if facts.classic_stun else 0
    if facts.zoom:
        dtls = counts[C.DTLS] if facts.dtls_handshake else 0
        add("dtls", dtls)
        add("stun", classic)
        add("zoom", rest - dtls - classic)
        return out
    add("stun", classic)
    channel = counts[C.CHANNEL_DATA] if (facts.stun_parsed or turn) else 0
    add("turn", channel)
    dtls = counts[C.DTLS] + (counts[C.DTLS13_UNIFIED] if facts.dtls_handshake else 0)
    add("dtls", dtls)
    media = counts[C.RTP] if facts.media else 0
    add("srtp" if facts.srtp else "rtp", media)
    control = counts[C.RTCP] if (facts.media or facts.dtls_handshake or stun or facts.srtcp or facts.rtcp_plain) else 0
    add("srtcp" if facts.srtcp or (facts.srtp and not facts.rtcp_plain) else "rtcp", control)
    sip = counts[C.TEXT] if facts.sip else 0
    add("sip", sip)
    add("other", rest - (classic + channel + dtls + media + control + sip))
    return out


def message_labels(framed_counts: list[int], facts: FlowFacts) -> dict[str, int]:
    """{label: messages} of a framed TCP flow's messages (exact counts, for the flow's ``framing`` record)."""
    return _datagram_labels(framed_counts, facts)


def spread(total: int, weights: dict[str, int]) -> dict[str, int]:
    """``total`` packets split over labels in proportion to ``weights`` (largest remainder; sums to ``total``)."""
    weight = sum(weights.values())
    if total <= 0:
        return {}
    if weight <= 0:
        return {"other": total}
    shares = {label: total * n / weight for label, n in weights.items() if n}
    out = {label: int(share) for label, share in shares.items()}
    left = total - sum(out.values())
    for label, _share in sorted(shares.items(), key=lambda kv: (-(kv[1] - int(kv[1])), kv[0]))[:left]:
        out[label] += 1
    return {label: n for label, n in out.items() if n}


def flow_protocol(labels: dict[str, int]) -> str:
    """The flow's label: its most frequent packet label, ignoring payload-less TCP segments."""
    # a tie goes to the protocol that was recognised rather than to "other"
    ranked = sorted(((n, label) for label, n in labels.items() if label != "tcp"), key=lambda x: (-x[0], x[1] == "other", x[1]))
    if not ranked:
        return "tcp" if "tcp" in labels else "other"
    return ranked[0][1]
