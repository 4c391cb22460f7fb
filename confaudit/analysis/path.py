"""Who carries the media: peer-to-peer, a TURN relay, or a vendor server (SFU). Pure functions."""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

from confaudit.analysis.labels import STUN_PORTS
from confaudit.analysis.refs import hostport

MEDIA_LABELS = ("rtp", "srtp", "rtcp", "srtcp", "zoom")
TURN_METHODS = ("Allocate", "Refresh", "Send", "Data", "CreatePermission", "ChannelBind")
SERVER_PORTS = {8801: "Zoom multimedia router port 8801", 19305: "Google Meet media port 19305",
                3478: "STUN/TURN port 3478", 3479: "STUN/TURN port 3479", 3480: "Teams media relay port 3480",
                3481: "Teams media relay port 3481", 10000: "Jitsi videobridge port 10000", 9000: "Webex media port 9000"}


def is_local(address: str) -> bool:
    """Private, loopback, link-local or unique-local address (a participant's own network)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return bool(ip.is_private or ip.is_loopback or ip.is_link_local)


def endpoint_names(tls: list[dict[str, Any]], dtls: list[dict[str, Any]], dns: list[dict[str, Any]],
                   stun: list[dict[str, Any]], flows_by_id: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """address -> names (DNS answers, TLS SNI of flows to it, DTLS certificate names, TURN realms)."""
    names: dict[str, set[str]] = {}
    for entry in dns:
        for value in entry.get("answers", []):
            names.setdefault(value, set()).add(entry["name"])
    for entry in tls:
        flow = flows_by_id.get(entry["flow"])
        if flow and entry.get("sni"):
            names.setdefault(flow["dst"], set()).add(entry["sni"])
    for entry in dtls:
        flow = flows_by_id.get(entry["flow"])
        if flow:
            for name in entry.get("certificate_names", []):
                names.setdefault(flow["dst"], set()).add(name)
    for entry in stun:
        flow = flows_by_id.get(entry["flow"])
        if flow:
            server = flow["src"] if flow["sport"] in STUN_PORTS and flow["dport"] not in STUN_PORTS else flow["dst"]
            for realm in entry.get("realms", []):
                names.setdefault(server, set()).add(realm)
    return names


def _flow_kind(flow: dict[str, Any], stun: dict[str, Any] | None, zoom: dict[str, Any] | None,
               dtls: dict[str, Any] | None, names: dict[str, set[str]]) -> tuple[str, str, list[str]]:
    """(kind relay|server|p2p|unknown, server-side address or "", reasons) for one media flow."""
    fid = flow["id"]
    src_local, dst_local = is_local(flow["src"]), is_local(flow["dst"])
    if stun is not None:
        turn = sorted(m for m in stun.get("methods", {}) if m.split(" ")[0] in TURN_METHODS)
        if turn or stun.get("relayed_addresses") or flow["labels"].get("turn"):
            what = ", ".join(turn) if turn else "TURN ChannelData"
            realm = f" (REALM {', '.join(stun['realms'])})" if stun.get("realms") else ""
            # The capture may start with the relay's answer: the relay is the side on the TURN port.
            relay_is_src = flow["sport"] in STUN_PORTS and flow["dport"] not in STUN_PORTS
            relay, port = (flow["src"], flow["sport"]) if relay_is_src else (flow["dst"], flow["dport"])
            return "relay", relay, [f"{fid}: TURN {what} with relay {hostport(relay, port)}{realm}"]
    if zoom is not None:
        if zoom["mode"] == "sfu":
            return "server", flow["dst"], [f"{fid}: Zoom SFU encapsulation (0x05 outer header) to {hostport(flow['dst'], flow['dport'])}"]
        return "p2p", "", [f"{fid}: Zoom media without the 0x05 server header (peer-to-peer mode) between {flow['src']} and {flow['dst']}"]
    if src_local and dst_local:
        return "p2p", "", [f"{fid}: media directly between private/loopback addresses {hostport(flow['src'], flow['sport'])} and {hostport(flow['dst'], flow['dport'])}"]
    server_side = flow["dst"] if src_local or not dst_local else flow["src"]
    server_port = flow["dport"] if server_side == flow["dst"] else flow["sport"]
    hints = []
    if server_port in SERVER_PORTS:
        hints.append(SERVER_PORTS[server_port])
    if dtls is not None and dtls.get("certificate_names"):
        hints.append(f"DTLS certificate {', '.join(dtls['certificate_names'])}")
    if stun is not None and (stun.get("software") or stun.get("vendor_attributes")):
        hints.append("vendor STUN attributes/SOFTWARE from the remote side")
    if names.get(server_side):
        hints.append(f"named {', '.join(sorted(names[server_side])[:3])}")
    if hints:
        return "server", server_side, [f"{fid}: media to {hostport(server_side, server_port)}, a vendor server ({'; '.join(hints)})"]
    if stun is not None and stun.get("ice_attributes", {}).get("use_candidate"):
        return "p2p", "", [f"{fid}: ICE-nominated pair between {hostport(flow['src'], flow['sport'])} and {hostport(flow['dst'], flow['dport'])} with no server evidence"]
    return "unknown", "", [f"{fid}: media to {hostport(flow['dst'], flow['dport'])} with no relay, server or peer evidence"]


def media_path(flows: list[dict[str, Any]], stun: list[dict[str, Any]], zoom: list[dict[str, Any]],
               dtls: list[dict[str, Any]], names: dict[str, set[str]]) -> dict[str, Any]:
    """The bundle's media_path object."""
    by_flow = {"stun": {s["flow"]: s for s in stun}, "zoom": {z["flow"]: z for z in zoom},
               "dtls": {d["flow"]: d for d in dtls}}
    weights: Counter[str] = Counter()
    reasons: list[str] = []
    endpoints: dict[tuple[str, int], dict[str, Any]] = {}
    for flow in flows:
        labels = flow["labels"]
        media_packets = sum(labels.get(label, 0) for label in MEDIA_LABELS)
        relay_packets = labels.get("turn", 0)
        if not media_packets and not relay_packets and flow["id"] not in by_flow["dtls"]:
            continue
        kind, server, why = _flow_kind(flow, by_flow["stun"].get(flow["id"]), by_flow["zoom"].get(flow["id"]),
                                       by_flow["dtls"].get(flow["id"]), names)
        weights[kind] += media_packets + relay_packets
        reasons.extend(why)
        role_of_server = {"relay": "relay", "server": "server"}.get(kind, "peer")
        for address, port in ((flow["src"], flow["sport"]), (flow["dst"], flow["dport"])):
            role = role_of_server if address == server else ("client" if kind in ("relay", "server") else "peer")
            entry = endpoints.setdefault((address, port), {"address": address, "port": port, "role": role,
                                                           "names": sorted(names.get(address, set()))[:16], "flows": []})
            if flow["id"] not in entry["flows"]:
                entry["flows"].append(flow["id"])
    ranked = [k for k, _n in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])) if k != "unknown"]
    topology = ranked[0] if ranked else "unknown"
    if not weights:
        reasons.append("no media, TURN or DTLS flows in the capture")
    elif len([k for k in weights if k != "unknown"]) > 1:
        reasons.append("several topologies seen; reported the one carrying the most media packets: "
                       + ", ".join(f"{k} {n}" for k, n in sorted(weights.items())))
    return {"topology": topology, "endpoints": sorted(endpoints.values(), key=lambda e: (e["address"], e["port"])),
            "reasons": reasons[:64], "packets_by_topology": dict(sorted(weights.items()))}
