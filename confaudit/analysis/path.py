"""Who carries the media: peer-to-peer, a TURN relay, or a vendor server (SFU). Pure functions.

Decided from where the media goes, weighted by media bytes per flow: only RTP/SRTP streams (and
Zoom media) count, never TURN control, STUN checks or DTLS handshakes. A flow's media is
- relayed when it travels inside TURN framing (ChannelData, Send/Data indications), or raw to the
  server that allocated a relay for the client on the same 5-tuple (WhatsApp's relays);
- to a server when the remote side shows vendor-server evidence: a vendor's published media
  network, a DNS/SNI name, a vendor DTLS certificate it presented, STUN SOFTWARE/REALM or vendor
  attributes it sent (not the ones every libwebrtc client sends);
  or it forwards the streams of many sources (a conference server, as Skype's is);
- peer-to-peer when both ends are in participants' own networks, or the remote side is a full
  ICE agent (it sends its own connectivity checks, which ICE-lite SFUs never do) sending the
  streams of one participant;
- unknown otherwise, with the reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from confaudit.analysis.addresses import PARTICIPANT_CLASSES, address_class, media_network
from confaudit.analysis.labels import STUN_PORTS
from confaudit.analysis.refs import hostport

if TYPE_CHECKING:
    from confaudit.evidence_model import DnsLookup, DtlsHandshake, Flow, MediaPath, MediaPathEndpoint, MediaPathFlow, MediaStream, StunFlow, StunSide, TlsConnection, ZoomFlow

Topology = Literal["p2p", "relay", "server", "unknown"]
"""How the media travelled (media_path.topology)."""

CLIENT_STUN_ATTRIBUTES = frozenset({"0xc057", "0xc058", "0xc059", "0xc05a", "0xc05b", "0xc05c", "0xc05d", "0xc060"})
"""GOOG-* attributes libwebrtc sends from every endpoint (browsers, apps, peers): no evidence of a server."""
CONFERENCE_SOURCES = 5
"""Distinct SSRCs (media and RTCP senders) from one remote side that make it a conference server:
one participant sends audio, video, their retransmission streams and an RTCP SSRC or two."""
_GENERIC_CERT = re.compile(r"^(webrtc|[0-9a-f]{8,}|[0-9]+)$", re.I)
"""Names of self-signed WebRTC endpoint certificates (libwebrtc's "WebRTC", random hex): no vendor in them."""


def _sides(flow: Flow) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    return ("src", flow["src"], flow["sport"]), ("dst", flow["dst"], flow["dport"])


def endpoint_names(tls: list[TlsConnection], dtls: list[DtlsHandshake], dns: list[DnsLookup],
                   stun: list[StunFlow], flows_by_id: dict[str, Flow]) -> dict[str, set[str]]:
    """address -> names: DNS answers, TLS SNI of flows to it, DTLS certificate names it presented, TURN realms it serves."""
    names: dict[str, set[str]] = {}
    for lookup in dns:
        for value in lookup.get("answers", []):
            names.setdefault(value, set()).add(lookup["name"])
    for connection in tls:
        flow = flows_by_id.get(connection["flow"])
        sni = connection.get("sni")
        if flow and sni:
            names.setdefault(flow["dst"], set()).add(sni)
    for handshake in dtls:
        flow = flows_by_id.get(handshake["flow"])
        if flow:
            for side, address, _port in _sides(flow):
                for name in _certificate_names(handshake, side):
                    if not _GENERIC_CERT.match(name):
                        names.setdefault(address, set()).add(name)
    for stun_flow in stun:
        flow = flows_by_id.get(stun_flow["flow"])
        if flow and stun_flow.get("realms"):
            server = turn_server_side(flow, stun_flow)
            for realm in stun_flow["realms"]:
                names.setdefault(server[1], set()).add(realm)
    return names


def _certificate_names(dtls: DtlsHandshake | None, side: str) -> list[str]:
    """Leaf certificate names the flow's ``side`` (src/dst) presented in its DTLS handshake."""
    by_side = dtls.get("certificates_from") if dtls else None
    if not by_side:
        return []
    return (by_side.get("src") if side == "src" else by_side.get("dst") if side == "dst" else None) or []


def _stun_side(stun: StunFlow | None, side: str) -> StunSide:
    """What the flow's ``side`` (src/dst) sent in STUN (empty when nothing is known)."""
    sides = stun.get("sides") if stun else None
    if not sides:
        return {}
    return (sides.get("src") if side == "src" else sides.get("dst") if side == "dst" else None) or {}


def turn_server_side(flow: Flow, stun: StunFlow | None) -> tuple[str, str, int]:
    """(side, address, port) of the STUN/TURN server of a flow: the side receiving TURN requests, else on a STUN port."""
    src, dst = _sides(flow)
    sent_src = _stun_side(stun, "src").get("turn_requests", 0)
    sent_dst = _stun_side(stun, "dst").get("turn_requests", 0)
    if sent_src != sent_dst:
        return dst if sent_src > sent_dst else src
    if flow["sport"] in STUN_PORTS and flow["dport"] not in STUN_PORTS:
        return src
    return dst


def _server_evidence(side: str, address: str, stun: StunFlow | None, names: dict[str, set[str]],
                     dtls: DtlsHandshake | None) -> list[str]:
    """Why ``address`` (the flow's ``side``) is a vendor server; empty when nothing says so.

    A loopback or private address hosts many services (a lab, a LAN): names learned from other
    flows to it (DNS, SNI) say nothing about this port, so only a certificate it presented on
    this very flow names it.
    """
    hints = []
    network = media_network(address)
    if network is not None:
        hints.append(f"in {network[0]}'s published media network {network[1]}")
    if address_class(address) in PARTICIPANT_CLASSES:
        own = [n for n in _certificate_names(dtls, side) if not _GENERIC_CERT.match(n)]
        if own:
            hints.append(f"presented the DTLS certificate {', '.join(sorted(own)[:3])} on this flow")
    elif names.get(address):
        hints.append(f"named {', '.join(sorted(names[address])[:3])}")
    sent = _stun_side(stun, side)
    # STUN attributes say "server" only from a side that answers and never checks on its own:
    # clients and peers (Teams, libwebrtc) send vendor attributes in their own connectivity checks.
    if sent.get("binding_requests", 0) == 0:
        if sent.get("software"):
            hints.append(f"STUN SOFTWARE {', '.join(sent['software'][:2])} from that side")
        vendor = [a for a in sent.get("vendor_attributes", []) if a not in CLIENT_STUN_ATTRIBUTES]
        if vendor:
            hints.append(f"vendor STUN attributes {', '.join(vendor[:4])} from that side")
    return hints


def _flow_kind(flow: Flow, relayed: int, stun: StunFlow | None, zoom: ZoomFlow | None,
               names: dict[str, set[str]], sources: dict[str, set[int]],
               dtls: DtlsHandshake | None) -> tuple[Topology, tuple[str, str, int] | None, list[str]]:
    """(relay|server|p2p|unknown, the server-side (side, address, port) or None, reasons) for one media flow."""
    fid = flow["id"]
    src, dst = _sides(flow)
    if relayed:
        server = turn_server_side(flow, stun)
        realm = f" (REALM {', '.join(stun['realms'])})" if stun and stun.get("realms") else ""
        return "relay", server, [f"{fid}: media relayed inside TURN framing by {hostport(server[1], server[2])}{realm}"]
    if stun is not None and any(m.startswith("Allocate success") for m in stun.get("methods", {})):
        server = turn_server_side(flow, stun)
        realm = f" (REALM {', '.join(stun['realms'])})" if stun.get("realms") else ""
        return "relay", server, [f"{fid}: media sent to {hostport(server[1], server[2])}, the TURN-style relay that "
                                 f"allocated for this client on the same 5-tuple (Allocate success){realm}; it forwards "
                                 "the media without TURN framing"]
    if zoom is not None:
        if zoom["mode"] == "sfu":
            return "server", dst, [f"{fid}: Zoom SFU encapsulation (0x05 outer header) to {hostport(dst[1], dst[2])}"]
        return "p2p", None, [f"{fid}: Zoom media without the 0x05 server header (peer-to-peer mode) between "
                             f"{hostport(src[1], src[2])} and {hostport(dst[1], dst[2])}"]
    evidence = {side[0]: _server_evidence(side[0], side[1], stun, names, dtls) for side in (src, dst)}
    local = {side[0]: address_class(side[1]) in PARTICIPANT_CLASSES for side in (src, dst)}
    for side in (src, dst):
        if len(sources.get(side[0], ())) >= CONFERENCE_SOURCES and not local[side[0]]:
            evidence[side[0]].append(f"sends the streams of {len(sources[side[0]])} sources (SSRCs): a conference server")
    servers = [side for side in (dst, src) if evidence[side[0]]]
    if servers:
        server = servers[0]
        return "server", server, [f"{fid}: media to {hostport(server[1], server[2])}, a vendor server "
                                  f"({'; '.join(evidence[server[0]])})"]
    if local["src"] and local["dst"]:
        return "p2p", None, [f"{fid}: media directly between {address_class(src[1])} address {hostport(src[1], src[2])} "
                             f"and {address_class(dst[1])} address {hostport(dst[1], dst[2])}"]
    remote = dst if local["src"] or not local["dst"] else src
    checks = _stun_side(stun, remote[0]).get("binding_requests", 0)
    if checks:
        return "p2p", None, [f"{fid}: media directly to {hostport(remote[1], remote[2])}, a full ICE agent ({checks} "
                             f"connectivity check(s) of its own; SFUs are ICE-lite) sending "
                             f"{len(sources.get(remote[0], ()))} source(s), with no server evidence"]
    return "unknown", None, [f"{fid}: media to {hostport(remote[1], remote[2])} ({address_class(remote[1])} address) "
                             "with no relay, server or peer evidence"]


def media_path(flows: list[Flow], streams: list[MediaStream], stun: list[StunFlow],
               zoom: list[ZoomFlow], dtls: list[DtlsHandshake], names: dict[str, set[str]],
               sources: dict[str, dict[str, set[int]]] | None = None) -> MediaPath:
    """The bundle's media_path object (``sources``: flow id -> side -> SSRCs that side sent)."""
    stun_by = {s["flow"]: s for s in stun}
    dtls_by = {d["flow"]: d for d in dtls}
    zoom_by = {z["flow"]: z for z in zoom}
    media: dict[str, list[int]] = {}  # flow -> [packets, bytes, relayed packets]
    for s in streams:
        acc = media.setdefault(s["flow"], [0, 0, 0])
        acc[0] += s["packets"]
        acc[1] += s["bytes"]
        acc[2] += s["packets"] if s.get("relay") else 0
    for z in zoom:
        flow = next((f for f in flows if f["id"] == z["flow"]), None)
        if flow is not None:
            zoom_packets = flow["labels"].get("zoom", 0)
            share = zoom_packets / flow["packets"] if flow["packets"] else 0.0
            acc = media.setdefault(z["flow"], [0, 0, 0])
            acc[0] += zoom_packets
            acc[1] += int(flow["payload_bytes"] * share)
    packets: Counter[str] = Counter()
    byte_weights: Counter[str] = Counter()
    per_flow: list[MediaPathFlow] = []
    reasons: list[str] = []
    endpoints: dict[tuple[str, int], MediaPathEndpoint] = {}
    for flow in flows:
        if flow["id"] not in media:
            continue
        n_packets, n_bytes, relayed = media[flow["id"]]
        kind, server, why = _flow_kind(flow, relayed, stun_by.get(flow["id"]), zoom_by.get(flow["id"]), names,
                                       (sources or {}).get(flow["id"], {}), dtls_by.get(flow["id"]))
        packets[kind] += n_packets
        byte_weights[kind] += n_bytes
        per_flow.append({"flow": flow["id"], "topology": kind, "packets": n_packets, "bytes": n_bytes})
        reasons.extend(why)
        for side, address, port in _sides(flow):
            role: Literal["client", "peer", "relay", "server"] = (
                ("relay" if kind == "relay" else "server") if server is not None and side == server[0]
                else "client" if kind in ("relay", "server") else "peer")
            entry = endpoints.setdefault((address, port), {
                "address": address, "port": port, "role": role, "address_class": address_class(address),
                "names": sorted(names.get(address, set()))[:16], "flows": []})
            network = media_network(address)
            if network is not None:
                entry["network"] = {"vendor": network[0], "operator": network[3], "network": network[1],
                                    "source": network[2]}
            if flow["id"] not in entry["flows"]:
                entry["flows"].append(flow["id"])
    idle = [e for e in stun if e["flow"] not in media and (e.get("relayed_addresses") or any(
        m.split(" ")[0] in ("Allocate", "ChannelBind", "Send", "Data") for m in e.get("methods", {})))]
    if idle:
        realms = sorted({r for e in idle for r in e.get("realms", [])})
        flows_text = ", ".join(e["flow"] for e in idle[:8]) + (f" and {len(idle) - 8} more" if len(idle) > 8 else "")
        reasons.append(f"{len(idle)} TURN allocation(s) ({flows_text}{'; REALM ' + ', '.join(realms) if realms else ''}) "
                       "carried no media packets (control and connectivity checks only): not counted")
    decided = {k: n for k, n in byte_weights.items() if k != "unknown"}
    topology: Topology
    if not media:
        topology = "unknown"
        reasons.append("no media packets in the capture (RTP/SRTP streams or Zoom media): the path cannot be told "
                       "from signalling, STUN checks or TURN allocations alone")
    elif not decided:
        topology = "unknown"
        reasons.append("the media flows show no relay, server or peer evidence")
    else:
        topology = topology_of(per_flow)
        if len(decided) > 1:
            reasons.append("media took several paths; reported the one carrying the most media bytes: "
                           + ", ".join(f"{k} {byte_weights[k]} bytes in {packets[k]} packets" for k in sorted(byte_weights)))
    path: MediaPath = {
        "topology": topology, "endpoints": sorted(endpoints.values(), key=lambda e: (e["address"], e["port"])),
        "reasons": reasons[:64], "packets_by_topology": dict(sorted(packets.items())),
        "bytes_by_topology": dict(sorted(byte_weights.items())), "flows": per_flow}
    return path


def topology_of(flows: Sequence[Mapping[str, Any]]) -> Topology:
    """The topology carrying the most media bytes over ``media_path.flows`` entries; unknown when none is decided."""
    weights: Counter[Topology] = Counter()
    for entry in flows:
        topology = entry.get("topology")
        if topology == "p2p" or topology == "relay" or topology == "server":
            weights[topology] += int(entry.get("bytes") or 0)
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if weights else "unknown"
