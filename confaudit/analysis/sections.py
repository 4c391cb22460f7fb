"""Turn the accumulated flows, RTP groups and samples into the bundle's packet-side keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from confaudit.analysis import classify as C
from confaudit.analysis.carried import TcpFramer
from confaudit.analysis.flow_evidence import FlowFindings, collect
from confaudit.analysis.flows import FlowTable
from confaudit.analysis.labels import LABELS, FlowFacts, flow_protocol, message_labels, packet_labels
from confaudit.analysis.media import FlowKeying, build_streams, sdp_keying
from confaudit.analysis.rtpstreams import StreamTable, plausible_stream
from confaudit.analysis.sampling import SampleStore
from confaudit.redact import Redactor
from confaudit.wire.errors import ParserBugs

if TYPE_CHECKING:
    from confaudit.evidence_model import (DnsLookup, DtlsHandshake, Flow, IceCandidate, InputSummary, MediaPath, MediaStream,
                                          PacketRef, ParserErrors, PlainHttpRequest, QuicConnection, SdpBody, SipMessage,
                                          StunFlow, TlsConnection, ZoomFlow)

_TRANSPORT: dict[int, Literal["tcp", "udp"]] = {6: "tcp", 17: "udp"}
NO_MEDIA = ("quic", "dns", "tls", "http", "zoom")
"""Flows confirmed as one of these carry no RTP streams, whatever some packets' first bytes look like."""


def _parser_errors(bugs: ParserBugs) -> ParserErrors:
    counts = bugs.as_dict()
    return {"bugs": counts["bugs"], "malformed": counts["malformed"]}


def _flow_id(gid: int) -> str:
    return f"f{gid + 1}"


def _base_flows(table: FlowTable) -> list[Flow]:
    from confaudit.pcap.chunk import addr_to_str

    n = len(table)
    # Python numbers for all flows at once: per-flow numpy indexing is slow
    packets, wire_bytes = table.packets.data[:n].tolist(), table.bytes.data[:n].tolist()
    payload_bytes = table.payload_bytes.data[:n].tolist()
    first_ts, last_ts = table.first_ts.data[:n].tolist(), table.last_ts.data[:n].tolist()
    names: dict[tuple[int, int], str] = {}  # many flows share an address (DNS server, SFU)
    out: list[Flow] = []
    for gid in range(n):
        (s_hi, s_lo, sport), (d_hi, d_lo, dport) = table.endpoints(gid)
        proto = table.keys[gid][0]
        src = names.get((s_hi, s_lo)) or names.setdefault((s_hi, s_lo), addr_to_str(s_hi, s_lo))
        dst = names.get((d_hi, d_lo)) or names.setdefault((d_hi, d_lo), addr_to_str(d_hi, d_lo))
        out.append({
            "id": _flow_id(gid),
            "transport": _TRANSPORT.get(proto, "other"),
            "ip_protocol": int(proto),
            "src": src, "sport": int(sport),
            "dst": dst, "dport": int(dport),
            "packets": sum(packets[gid]),
            "bytes": sum(wire_bytes[gid]),
            "packets_src_to_dst": packets[gid][0],
            "packets_dst_to_src": packets[gid][1],
            "payload_bytes": sum(payload_bytes[gid]),
            "first_seen": first_ts[gid],
            "last_seen": last_ts[gid],
            "first_packet": {"input": table.first_packet[gid][0], "frame": table.first_packet[gid][1]},
            "labels": {}, "protocol": "unknown",  # set by packet_sections once the flow is dissected
        })
    return out


class PacketSections(TypedDict):
    """The bundle sections the packet side writes (``inputs`` and ``complete`` are added by the caller)."""

    flows: list[Flow]
    protocol_counts: dict[str, int]
    media_streams: list[MediaStream]
    tls: list[TlsConnection]
    quic: list[QuicConnection]
    dtls: list[DtlsHandshake]
    stun: list[StunFlow]
    dns: list[DnsLookup]
    sip: list[SipMessage]
    sdp: list[SdpBody]
    http_plain: list[PlainHttpRequest]
    ice_candidates: list[IceCandidate]
    zoom: list[ZoomFlow]
    media_path: MediaPath
    parser_errors: ParserErrors
    warnings: list[str]
    inputs: NotRequired[list[InputSummary]]
    complete: NotRequired[bool]


def packet_sections(table: FlowTable, streams: StreamTable, store: SampleStore, bugs: ParserBugs,
                    framer: TcpFramer, redactor: Redactor) -> PacketSections:
    from confaudit.analysis.path import endpoint_names, media_path

    flows = _base_flows(table)
    class_counts = table.classes.data[: len(flows)].tolist()  # per flow, indexed by classify's class ids
    framed_counts = table.framed_classes.data[: len(flows)].tolist()
    framed = set(framer.flows)
    counts = [framed_counts[g] if g in framed else class_counts[g] for g in range(len(flows))]
    ev = collect(flows, counts, framed, store, redactor, bugs)
    sections = ev.sections
    zoom = _accept_zoom(flows, sections["zoom_candidates"], sections["stun"])
    for entry in zoom:
        ev.flows[int(entry["flow"][1:]) - 1].zoom = True
    sdp_map = sdp_keying(sections["sdp"])
    skip = {gid for gid, f in ev.flows.items() if any(getattr(f, name) for name in NO_MEDIA)}
    accs = sorted((a for a in streams.streams.values() if plausible_stream(a) and a.flow not in skip),
                  key=lambda a: (a.first_packet, a.ssrc, a.payload_type))
    media_streams = build_streams(flows, accs, _keying(flows, ev.flows, sdp_map), bugs,
                                  phases_counted=streams.phase_starts is not None)
    by_flow: dict[str, list[str]] = {}
    for stream in media_streams:
        by_flow.setdefault(stream["flow"], []).append(stream["encryption"])
    protocol_counts = {label: 0 for label in LABELS}
    for gid, flow in enumerate(flows):
        found = ev.flows[gid]
        verdicts = by_flow.get(flow["id"], [])
        srtcp = found.srtcp
        facts = FlowFacts(
            transport=flow["transport"], ports=(flow["sport"], flow["dport"]), dns=found.dns, quic=found.quic,
            zoom=found.zoom, stun_parsed=found.stun_parsed, classic_stun=found.classic_stun,
            dtls_handshake=found.dtls is not None and not found.dtls.get("turn_channel_data"), media=bool(verdicts),
            srtp=bool(verdicts) and verdicts.count("srtp") * 2 > len(verdicts),
            srtcp=srtcp is not None and srtcp.srtcp_packets > 0,
            rtcp_plain=srtcp is not None and srtcp.plain_packets > 0 and not srtcp.srtcp_packets,
            tls=found.tls, http=found.http, sip=found.sip, framed=gid in framed)
        labels = packet_labels(class_counts[gid], facts, framed_counts[gid] if gid in framed else None)
        flow["labels"] = dict(sorted(labels.items()))
        flow["protocol"] = flow_protocol(labels)
        if gid in framed:
            frame = framer.flows[gid]
            flow["framing"] = {"mode": frame.mode, "messages": frame.messages, "problems": frame.problems(),
                               "labels": dict(sorted(message_labels(framed_counts[gid], facts).items()))}
        for label, n in labels.items():
            protocol_counts[label] = protocol_counts.get(label, 0) + n
    for stun in sections["stun"]:
        gid = int(stun["flow"][1:]) - 1
        stun["channel_data_packets"] = (framed_counts if gid in framed else class_counts)[gid][C.CHANNEL_DATA]

    by_id = {f["id"]: f for f in flows}
    names = endpoint_names(sections["tls"], sections["dtls"], sections["dns"], sections["stun"], by_id)
    return {
        "flows": flows,
        "protocol_counts": protocol_counts,
        "media_streams": media_streams,
        "tls": sections["tls"], "quic": sections["quic"], "dtls": sections["dtls"], "stun": sections["stun"],
        "dns": sorted(sections["dns"], key=lambda d: (_ref_key(d["first_packet"]), d["name"], d["type"])),
        "sip": sections["sip"], "sdp": sections["sdp"], "http_plain": sections["http"],
        "ice_candidates": _ice_candidates(sections["sdp"], sections["stun"]),
        "zoom": zoom,
        "media_path": media_path(flows, media_streams, sections["stun"], zoom, sections["dtls"], names,
                                 _sources(flows, ev.flows, media_streams)),
        "parser_errors": _parser_errors(bugs),
        "warnings": _warnings(store, streams, framer, flows, bugs),
    }


def _sources(flows: list[Flow], found: dict[int, FlowFindings],
             streams: list[MediaStream]) -> dict[str, dict[str, set[int]]]:
    """flow id -> side -> SSRCs that side sent (media streams and RTCP senders)."""
    out = {flow["id"]: {side: set(found[gid].rtcp_senders[side]) for side in ("src", "dst")}
           for gid, flow in enumerate(flows)}
    for entry in streams:
        ssrc = int(entry["ssrc"], 16)
        sides = {"forward": ("src",), "backward": ("dst",), "both": ("src", "dst")}[entry["direction"]]
        for side in sides:
            out[entry["flow"]][side].add(ssrc)
    return out


def _keying(flows: list[Flow], found: dict[int, FlowFindings],
            sdp_map: dict[tuple[str, int], dict[str, Any]]) -> dict[int, FlowKeying]:
    out = {}
    for gid, flow in enumerate(flows):
        f = found[gid]
        dtls = f.dtls
        sdp = sdp_map.get((flow["src"], flow["sport"])) or sdp_map.get((flow["dst"], flow["dport"]))
        out[gid] = FlowKeying(
            dtls_profile=dtls.get("srtp_profile") if dtls else None,
            dtls_null=bool(dtls.get("null_profile")) if dtls else False,
            dtls_offered=tuple(dtls.get("srtp_profiles_offered", ())) if dtls else (),
            dtls_records_only=sum(dtls.get("record_types", {}).values()) if dtls and not dtls.get("version") else 0,
            sdp_secure=sdp["secure"] if sdp else None, sdp_codecs=sdp["codecs"] if sdp else None, srtcp=f.srtcp)
    return out


def _warnings(store: SampleStore, streams: StreamTable, framer: TcpFramer, flows: list[Flow],
              bugs: ParserBugs) -> list[str]:
    warnings = []
    if store.budget_exhausted:
        warnings.append("evidence sampling budget reached: later packets were counted but not dissected (complete: false)")
    if streams.untracked:
        warnings.append(f"{sum(streams.untracked.values())} RTP-shaped packets in flows with more than 64 SSRC/PT groups "
                        "were not grouped into streams")
    for gid, frame in sorted(framer.flows.items()):
        if flows[gid].get("framing") is None:
            continue
        for problem in frame.problems():
            warnings.append(f"{flows[gid]['id']} (TCP {frame.mode} framing): {problem}")
    warnings.extend(bugs.warnings())
    return warnings


def _accept_zoom(flows: list[Flow], candidates: list[ZoomFlow], stuns: list[StunFlow]) -> list[ZoomFlow]:
    """Zoom flows: media confirmed, or the SFU outer header, or sharing a socket with a Zoom/classic-STUN flow."""
    def sockets(fid: str) -> set[tuple[str, int]]:
        f = flows[int(fid[1:]) - 1]
        return {(f["src"], f["sport"]), (f["dst"], f["dport"])}

    accepted = [c for c in candidates if c["confirmed"] or c["mode"] == "sfu"]
    taken = {c["flow"] for c in accepted}
    known: set[tuple[str, int]] = set()
    for entry in accepted + [s for s in stuns if s["classic"]]:
        known |= sockets(entry["flow"])
    for c in candidates:
        if c["flow"] not in taken and sockets(c["flow"]) & known:
            accepted.append(c)
            taken.add(c["flow"])
    for c in accepted:
        if not c["confirmed"]:
            c["reason"] = ("Zoom SFU outer header without embedded media" if c["mode"] == "sfu"
                           else "Zoom inner headers on a socket shared with a Zoom media or classic-STUN flow")
    return sorted(accepted, key=lambda c: int(c["flow"][1:]))


def _ref_key(ref: PacketRef) -> tuple[int, int]:
    a, b = ref["id"].split(":")
    return int(a), int(b)


def _ice_candidates(sdps: list[SdpBody], stuns: list[StunFlow]) -> list[IceCandidate]:
    out: list[IceCandidate] = []
    for sdp in sdps:
        out.extend(sdp["candidates"])
    for stun in stuns:
        ref: PacketRef = {"kind": "stun", "id": stun["flow"]}
        for addresses, typ in ((stun["mapped_addresses"], "mapped"), (stun["relayed_addresses"], "relay")):
            for rendered in addresses:
                address, _, port = rendered.rpartition(":")
                out.append({"address": address.strip("[]"), "port": int(port), "type": typ,
                            "transport": stun.get("transport", "udp"), "source": ref})
    uniq = {(c["address"], c["port"], c["type"], c["transport"]): c for c in out}
    return [uniq[k] for k in sorted(uniq)]
