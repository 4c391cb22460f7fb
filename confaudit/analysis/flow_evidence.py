"""Run the wire parsers on one flow's samples and collect the bundle sections they feed.

Every parser call goes through ``ParserBugs.call``: malformed bytes are "not this protocol", any
other exception is a counted bug that marks the evidence incomplete (raised under test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from confaudit.analysis import classify as C
from confaudit.analysis.sampling import SampleStore
from confaudit.wire.errors import ParserBugs

if TYPE_CHECKING:
    from confaudit.evidence_model import (DnsLookup, DtlsHandshake, Flow, PlainHttpRequest, QuicConnection, SdpBody,
                                          SipMessage, StunFlow, TlsConnection, ZoomFlow)

SECTIONS = ("stun", "dtls", "quic", "dns", "tls", "http", "sip", "sdp", "zoom_candidates")


@dataclass
class FlowFindings:
    """What the parsers confirmed about one flow (inputs to its labels, media keying and path)."""

    dns: bool = False
    quic: bool = False
    tls: bool = False
    http: bool = False
    sip: bool = False
    stun_parsed: int = 0
    """STUN messages with the magic cookie."""
    classic_stun: int = 0
    """Cookie-less (RFC 3489) STUN messages that validated as such."""
    dtls: DtlsHandshake | None = None
    """The flow's DTLS summary (its own handshake, or one relayed inside TURN)."""
    srtcp: Any = None
    """wire.srtcp.SrtcpEvidence of the flow's RTCP-shaped packets, when it has any."""
    rtcp_senders: dict[str, set[int]] = field(default_factory=lambda: {"src": set(), "dst": set()})
    """Sender SSRCs of sampled RTCP packets per side (in clear under SRTCP too)."""
    zoom: bool = False


class SectionLists(TypedDict):
    """The bundle sections the wire parsers feed, flow by flow (``zoom_candidates`` become ``zoom`` once accepted)."""

    stun: list[StunFlow]
    dtls: list[DtlsHandshake]
    quic: list[QuicConnection]
    dns: list[DnsLookup]
    tls: list[TlsConnection]
    http: list[PlainHttpRequest]
    sip: list[SipMessage]
    sdp: list[SdpBody]
    zoom_candidates: list[ZoomFlow]


def _empty_sections() -> SectionLists:
    return {"stun": [], "dtls": [], "quic": [], "dns": [], "tls": [], "http": [], "sip": [], "sdp": [], "zoom_candidates": []}


@dataclass
class Evidence:
    """Bundle sections built flow by flow, plus what each flow showed."""

    sections: SectionLists = field(default_factory=_empty_sections)
    flows: dict[int, FlowFindings] = field(default_factory=dict)


def collect(flows: list[Flow], class_counts: list[list[int]], framed: set[int], store: SampleStore,
            redactor: Any, bugs: ParserBugs) -> Evidence:
    """Dissect every flow's samples (UDP datagrams, or the messages of a framed TCP stream).

    ``framed`` loses the flows whose framing turned out to be a TLS connection.
    """
    ev = Evidence()
    for gid, flow in enumerate(flows):
        found = ev.flows.setdefault(gid, FlowFindings())
        fid = flow["id"]
        if flow["transport"] == "tcp" and gid in framed and _tls_despite_framing(gid, fid, store, bugs):
            framed.discard(gid)  # a TLS handshake wins over a framing guess
        if flow["transport"] == "tcp" and gid not in framed:
            _tcp(gid, fid, store, redactor, bugs, ev, found)
        elif flow["transport"] in ("udp", "tcp"):
            tcp = flow["transport"] == "tcp"
            dns = [] if tcp else (bugs.call("dns", _dns, fid, store.get(gid, "dns"), False) or [])
            ev.sections["dns"].extend(dns)
            found.dns = bool(dns)
            if not dns:
                _datagrams(gid, fid, class_counts[gid], store, redactor, bugs, ev, found, tcp)
    return ev


def _tls_despite_framing(gid: int, fid: str, store: SampleStore, bugs: ParserBugs) -> bool:
    from confaudit.analysis import dissect_text as DT

    tcp = store.get(gid, "tcp")
    return bool(tcp) and bool(bugs.call("tls", DT.tls_summary, fid, tcp))


def _dns(fid: str, samples: list[Any], tcp: bool) -> list[DnsLookup]:
    from confaudit.analysis import dissect_udp as DU

    return DU.dns_records(fid, samples, tcp)


def _tcp(gid: int, fid: str, store: SampleStore, redactor: Any, bugs: ParserBugs, ev: Evidence,
         found: FlowFindings) -> None:
    from confaudit.analysis import dissect_text as DT

    tcp = store.get(gid, "tcp")
    if tcp:
        tls = bugs.call("tls", DT.tls_summary, fid, tcp)
        if tls:
            ev.sections["tls"].append(tls)
            found.tls = True
        http = bugs.call("http", DT.http_requests, fid, tcp, redactor) if not tls else None
        if http:
            ev.sections["http"].extend(http)
            found.http = True
        if not (tls or http):  # SIP over TCP: one message per segment in practice
            parsed = bugs.call("sip", DT.sip_messages, fid, [s for s in tcp if s.payload[:1].isalpha()], redactor)
            if parsed and parsed[0]:
                ev.sections["sip"].extend(parsed[0])
                ev.sections["sdp"].extend(parsed[1])
                found.sip = True
    dns = bugs.call("dns", _dns, fid, store.get(gid, "dns"), True) or []
    ev.sections["dns"].extend(dns)
    found.dns = bool(dns)


def _datagrams(gid: int, fid: str, counts: list[int], store: SampleStore, redactor: Any, bugs: ParserBugs,
               ev: Evidence, found: FlowFindings, tcp: bool) -> None:
    from confaudit.analysis import dissect_text as DT
    from confaudit.analysis import dissect_udp as DU

    from confaudit.analysis.dissect_stun import stun_summary

    stun = bugs.call("stun", stun_summary, fid, store.get(gid, "stun"), redactor)
    if stun:
        if tcp:
            stun["transport"] = "tcp"
        ev.sections["stun"].append(stun)
        found.stun_parsed = stun["messages"] - stun["classic"]
        found.classic_stun = stun["classic"]
    quic = bugs.call("quic", DU.quic_summary, fid, store.get(gid, "quic"))
    if quic and quic["known_version"]:
        ev.sections["quic"].append(quic)
        found.quic = True
        return
    dtls = bugs.call("dtls", DU.dtls_summary, fid, store.get(gid, "dtls")) if counts[C.DTLS] else None
    if not dtls and (relayed := store.get(gid, "channel_dtls")):  # the handshake of media a TURN server relays
        dtls = bugs.call("dtls", DU.dtls_summary, fid, relayed)
        if dtls:
            dtls["turn_channel_data"] = True
    if dtls:
        ev.sections["dtls"].append(dtls)
        found.dtls = dtls
    text_samples = store.get(gid, "text")
    if text_samples:
        parsed = bugs.call("sip", DT.sip_messages, fid, text_samples, redactor)
        if parsed and parsed[0]:
            ev.sections["sip"].extend(parsed[0])
            ev.sections["sdp"].extend(parsed[1])
            found.sip = True
    payload = sum(counts) - counts[C.EMPTY]
    standard = counts[C.RTP] + counts[C.RTCP] + counts[C.DTLS] + counts[C.STUN] + counts[C.TURN] + counts[C.TEXT]
    if payload and standard * 2 < payload:
        zoom = bugs.call("zoom", DU.zoom_summary, fid, store.get(gid, "zoom"))
        if zoom:
            ev.sections["zoom_candidates"].append(zoom)
    rtcp = store.get(gid, "rtcp") or store.get(gid, "channel_rtcp")
    if rtcp:
        from confaudit.wire.srtcp import srtcp_evidence

        found.srtcp = bugs.call("rtcp", srtcp_evidence, [s.payload for s in rtcp], [s.forward for s in rtcp])
        for sample in rtcp:
            if len(sample.payload) >= 8:
                found.rtcp_senders["src" if sample.forward else "dst"].add(int.from_bytes(sample.payload[4:8], "big"))
