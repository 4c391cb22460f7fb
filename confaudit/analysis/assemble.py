"""Turn the accumulated flows, RTP groups and samples into the bundle's packet-side keys."""

from __future__ import annotations

from collections import Counter
from typing import Any

from confaudit.analysis import classify as C
from confaudit.analysis.flows import FlowTable
from confaudit.analysis.labels import LABELS, FlowFacts, flow_protocol, packet_labels
from confaudit.analysis.media import FlowKeying, stream_entry
from confaudit.analysis.rtpstreams import StreamTable, plausible_stream
from confaudit.analysis.samples import SampleStore

_TRANSPORT = {6: "tcp", 17: "udp"}


def _flow_id(gid: int) -> str:
    return f"f{gid + 1}"


def _base_flows(table: FlowTable) -> list[dict[str, Any]]:
    from confaudit.pcap.chunk import addr_to_str

    n = len(table)
    # Python numbers for all flows at once: per-flow numpy indexing is slow
    packets, wire_bytes = table.packets.data[:n].tolist(), table.bytes.data[:n].tolist()
    payload_bytes = table.payload_bytes.data[:n].tolist()
    first_ts, last_ts = table.first_ts.data[:n].tolist(), table.last_ts.data[:n].tolist()
    names: dict[tuple[int, int], str] = {}  # many flows share an address (DNS server, SFU)
    out = []
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
        })
    return out


def _safe(fn: Any, *args: Any) -> Any:
    """Wire parsers never raise by contract; a bug in one must not lose the whole analysis."""
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - recorded as a missing summary, analysis continues
        return None


def assemble(table: FlowTable, streams: StreamTable, store: SampleStore) -> dict[str, Any]:
    from confaudit.analysis import dissect_text as DT
    from confaudit.analysis import dissect_udp as DU
    from confaudit.redact import Redactor

    redactor = Redactor.default()
    flows = _base_flows(table)
    class_counts = table.classes.data[: len(flows)].tolist()  # per flow, indexed by classify's class ids
    ev: dict[str, list[dict[str, Any]]] = {k: [] for k in ("stun", "dtls", "quic", "dns", "tls", "http", "sip", "sdp",
                                                           "zoom", "zoom_candidates")}
    facts: dict[int, dict[str, Any]] = {}
    keying_raw: dict[int, dict[str, Any]] = {}
    for gid, flow in enumerate(flows):
        fid = flow["id"]
        counts = class_counts[gid]
        f: dict[str, Any] = {"transport": flow["transport"], "ports": (flow["sport"], flow["dport"])}
        if flow["transport"] == "tcp":
            tcp = store.get(gid, "tcp")
            tls = _safe(DT.tls_summary, fid, tcp) if tcp else None
            if tls:
                ev["tls"].append(tls)
                f["tls"] = True
            http = _safe(DT.http_requests, fid, tcp, redactor) if tcp and not tls else None
            if http:
                ev["http"].extend(http)
                f["http"] = True
            stun_tcp = _safe(DT.tcp_stun_summary, fid, tcp, redactor) if tcp and not (tls or http) else None
            if stun_tcp:
                ev["stun"].append(stun_tcp)
                f["stun_parsed"] = stun_tcp["messages"]
            elif tcp and not (tls or http):  # SIP over TCP: one message per segment in practice
                parsed = _safe(DT.sip_messages, fid, [s for s in tcp if s.payload[:1].isalpha()], redactor)
                if parsed and parsed[0]:
                    ev["sip"].extend(parsed[0])
                    ev["sdp"].extend(parsed[1])
                    f["sip"] = True
            dns = _safe(DU.dns_records, fid, store.get(gid, "dns"), True) or []
            ev["dns"].extend(dns)
            f["dns"] = bool(dns)
        elif flow["transport"] == "udp":
            dns = _safe(DU.dns_records, fid, store.get(gid, "dns"), False) or []
            ev["dns"].extend(dns)
            f["dns"] = bool(dns)
            if not dns:
                _udp_evidence(gid, fid, counts, store, redactor, ev, f, keying_raw)
        facts[gid] = f

    ev["zoom"] = _accept_zoom(flows, ev["zoom_candidates"], ev["stun"])
    for zoom in ev["zoom"]:
        facts[int(zoom["flow"][1:]) - 1]["zoom"] = True
    sdp_map = _sdp_keying(ev["sdp"])
    media_streams, srtp_flows, media_flows = _media(flows, streams, keying_raw, sdp_map)
    protocol_counts = {label: 0 for label in LABELS}
    for gid, flow in enumerate(flows):
        f = facts[gid]
        ff = FlowFacts(transport=f["transport"], ports=f["ports"], dns=f.get("dns", False), quic=f.get("quic", False),
                       zoom=f.get("zoom", False), stun_parsed=f.get("stun_parsed", 0), classic_stun=f.get("classic", 0),
                       dtls_handshake=f.get("dtls", False), media=gid in media_flows, srtp=gid in srtp_flows,
                       tls=f.get("tls", False), http=f.get("http", False), sip=f.get("sip", False),
                       rtcp_valid=sum(keying_raw.get(gid, {}).get("rtcp", (0, 0))) > 0)
        labels = packet_labels(class_counts[gid], ff)
        flow["labels"] = dict(sorted(labels.items()))
        flow["protocol"] = flow_protocol(labels)
        for label, n in labels.items():
            protocol_counts[label] = protocol_counts.get(label, 0) + n
    for stun in ev["stun"]:
        gid = int(stun["flow"][1:]) - 1
        stun["channel_data_packets"] = class_counts[gid][C.CHANNEL_DATA]

    from confaudit.analysis.path import endpoint_names, media_path

    by_id = {f["id"]: f for f in flows}
    names = endpoint_names(ev["tls"], ev["dtls"], ev["dns"], ev["stun"], by_id)
    warnings = []
    if store.budget_exhausted:
        warnings.append("evidence sampling budget reached: later packets were counted but not dissected (complete: false)")
    if streams.untracked:
        warnings.append(f"{sum(streams.untracked.values())} RTP-shaped packets in flows with more than 64 SSRC/PT groups were not grouped into streams")
    return {
        "flows": flows,
        "protocol_counts": protocol_counts,
        "media_streams": media_streams,
        "tls": ev["tls"], "quic": ev["quic"], "dtls": ev["dtls"], "stun": ev["stun"],
        "dns": sorted(ev["dns"], key=lambda d: (_ref_key(d["first_packet"]), d["name"], d["type"])),
        "sip": ev["sip"], "sdp": ev["sdp"], "http_plain": ev["http"],
        "ice_candidates": _ice_candidates(ev["sdp"], ev["stun"]),
        "zoom": ev["zoom"],
        "media_path": media_path(flows, ev["stun"], ev["zoom"], ev["dtls"], names),
        "warnings": warnings,
    }


def _accept_zoom(flows: list[dict[str, Any]], candidates: list[dict[str, Any]],
                 stuns: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _ref_key(ref: dict[str, str]) -> tuple[int, int]:
    a, b = ref["id"].split(":")
    return int(a), int(b)


def _udp_evidence(gid: int, fid: str, counts: list[int], store: SampleStore, redactor: Any,
                  ev: dict[str, list[dict[str, Any]]], f: dict[str, Any], keying_raw: dict[int, dict[str, Any]]) -> None:
    from confaudit.analysis import dissect_text as DT
    from confaudit.analysis import dissect_udp as DU

    stun = _safe(DU.stun_summary, fid, store.get(gid, "stun"), redactor)
    if stun:
        ev["stun"].append(stun)
        f["stun_parsed"] = stun["messages"] - stun["classic"]
        f["classic"] = stun["classic"]
    quic = _safe(DU.quic_summary, fid, store.get(gid, "quic"))
    if quic and quic["known_version"]:
        ev["quic"].append(quic)
        f["quic"] = True
        return
    dtls = _safe(DU.dtls_summary, fid, store.get(gid, "dtls")) if counts[C.DTLS] else None
    if dtls:
        ev["dtls"].append(dtls)
        f["dtls"] = True
        keying_raw.setdefault(gid, {})["dtls"] = dtls
    elif relayed := store.get(gid, "channel_dtls"):  # the handshake of media relayed by a TURN server
        dtls = _safe(DU.dtls_summary, fid, relayed)
        if dtls:
            dtls["turn_channel_data"] = True
            ev["dtls"].append(dtls)
            keying_raw.setdefault(gid, {})["dtls"] = dtls
    text_samples = store.get(gid, "text")
    if text_samples:
        parsed = _safe(DT.sip_messages, fid, text_samples, redactor)
        if parsed and parsed[0]:
            ev["sip"].extend(parsed[0])
            ev["sdp"].extend(parsed[1])
            f["sip"] = True
    payload = sum(counts) - counts[C.EMPTY]
    standard = counts[C.RTP] + counts[C.RTCP] + counts[C.DTLS] + counts[C.STUN] + counts[C.TURN] + counts[C.TEXT]
    if payload and standard * 2 < payload:
        zoom = _safe(DU.zoom_summary, fid, store.get(gid, "zoom"))
        if zoom:
            ev["zoom_candidates"].append(zoom)
    rtcp = store.get(gid, "rtcp") or store.get(gid, "channel_rtcp")
    if rtcp:
        keying_raw.setdefault(gid, {})["rtcp"] = _safe(_srtcp_counts, rtcp) or (0, 0)


def _srtcp_counts(samples: list[Any]) -> tuple[int, int]:
    """(compounds with an SRTCP trailer, compounds ending exactly at their length fields)."""
    from confaudit.wire.rtp import parse_rtcp, srtcp_trailer

    trailers = plain = 0
    for s in samples:
        if _safe(srtcp_trailer, s.payload):
            trailers += 1
        elif _safe(parse_rtcp, s.payload) is not None:
            plain += 1
    return trailers, plain


def _sdp_keying(sdps: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """(address, port) -> secure flag, packet ref and codecs from SDP seen in the clear."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for sdp in sdps:
        for m in sdp["media"]:
            if not m.get("connection") or not m.get("port"):
                continue
            secure = bool(m["crypto"]) or "SAVP" in (m.get("proto") or "")
            codecs = {pt: (name, m.get("kind") or "unknown") for pt, name in zip(m["payload_types"], m["codecs"])}
            out[(m["connection"], int(m["port"]))] = {"secure": secure, "ref": sdp["packet"], "codecs": codecs}
    return out


def _media(flows: list[dict[str, Any]], streams: StreamTable, keying_raw: dict[int, dict[str, Any]],
           sdp_map: dict[tuple[str, int], dict[str, Any]]) -> tuple[list[dict[str, Any]], set[int], set[int]]:
    accs = sorted((a for a in streams.streams.values() if plausible_stream(a)), key=lambda a: (a.first_packet, a.ssrc, a.payload_type))
    entries: list[dict[str, Any]] = []
    verdicts: dict[int, Counter[str]] = {}
    for acc in accs:
        flow = flows[acc.flow]
        raw = keying_raw.get(acc.flow, {})
        dtls = raw.get("dtls")
        sdp = sdp_map.get((flow["src"], flow["sport"])) or sdp_map.get((flow["dst"], flow["dport"]))
        trailers, plain = raw.get("rtcp", (0, 0))
        keying = FlowKeying(
            dtls_profile=dtls.get("srtp_profile") if dtls else None,
            dtls_offered=tuple(dtls.get("srtp_profiles_offered", ())) if dtls else (),
            dtls_records_only=sum(dtls.get("record_types", {}).values()) if dtls and not dtls.get("version") else 0,
            dtls_ref={"kind": "dtls", "id": flow["id"]} if dtls else None,
            sdp_secure=sdp["secure"] if sdp else None, sdp_ref=sdp["ref"] if sdp else None,
            sdp_codecs=sdp["codecs"] if sdp else None, srtcp_trailers=trailers, rtcp_plain=plain)
        entry = stream_entry(f"m{len(entries) + 1}", flow["id"], acc, keying,
                             f"{flow['src']}:{flow['sport']}", f"{flow['dst']}:{flow['dport']}")
        entries.append(entry)
        verdicts.setdefault(acc.flow, Counter())[entry["encryption"]] += acc.packets
    _propagate_by_ssrc(entries, accs, verdicts)
    srtp = {gid for gid, c in verdicts.items() if c.get("srtp", 0) > c.get("plain", 0)}
    return entries, srtp, set(verdicts)


def _propagate_by_ssrc(entries: list[dict[str, Any]], accs: list[Any], verdicts: dict[int, Counter[str]]) -> None:
    """An undecided stream whose SSRC is judged SRTP on another flow (ICE moved the pair) is SRTP too."""
    decided = {e["ssrc"]: e for e in entries if e["encryption"] == "srtp" and e["ssrc"] != "0x00000000"}
    for entry, acc in zip(entries, accs):
        other = decided.get(entry["ssrc"])
        if entry["encryption"] != "unknown" or other is None or other["flow"] == entry["flow"]:
            continue
        entry["encryption"] = "srtp"
        entry["reasons"].append(f"the same SSRC is judged SRTP on flow {other['flow']} ({other['id']}); the ICE pair moved")
        verdicts[acc.flow]["unknown"] -= acc.packets
        verdicts[acc.flow]["srtp"] += acc.packets


def _ice_candidates(sdps: list[dict[str, Any]], stuns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for sdp in sdps:
        out.extend(sdp["candidates"])
    for stun in stuns:
        ref = {"kind": "stun", "id": stun["flow"]}
        for key, typ in (("mapped_addresses", "mapped"), ("relayed_addresses", "relay")):
            for rendered in stun[key]:
                address, _, port = rendered.rpartition(":")
                out.append({"address": address.strip("[]"), "port": int(port), "type": typ, "transport": "udp", "source": ref})
    uniq = {(c["address"], c["port"], c["type"], c["transport"]): c for c in out}
    return [uniq[k] for k in sorted(uniq)]
