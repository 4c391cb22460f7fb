"""Which flows are the call's own (media, ICE, DTLS, the SDP signalling of that media), and which names DNS
gave for an address: the packet-side facts attribution starts from. Documented fields only
(docs/evidence.md): ``media_streams[].flow``, ``media_path.endpoints[].flows``, ``stun[].flow``,
``dtls[].flow``, ``sdp[].media``, ``dns[].answers``, ``dns_queries[].answers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.telemetry.entities import normalise_host


def _dicts(bundle: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def media_flows(bundle: Mapping[str, Any]) -> dict[str, str]:
    """flow id -> why it carries the call's media or signalling."""
    out: dict[str, str] = {}
    for stream in _dicts(bundle, "media_streams"):
        if isinstance(stream.get("flow"), str):
            out.setdefault(stream["flow"], f"carries the call's media (media stream {_str(stream.get('id')) or '?'})")
    path = bundle.get("media_path")
    for endpoint in _dicts(path, "endpoints") if isinstance(path, Mapping) else ():
        endpoint_flows = endpoint.get("flows")
        for fid in endpoint_flows if isinstance(endpoint_flows, list) else ():
            if isinstance(fid, str):
                out.setdefault(fid, f"is on the call's media path ({_str(endpoint.get('role'))} "
                                    f"{_str(endpoint.get('address'))})")
    flows = {f["id"]: f for f in _dicts(bundle, "flows") if isinstance(f.get("id"), str)}
    media_sockets = {end for fid in out for end in _sockets(flows.get(fid, {}))}
    for key, what in (("stun", "the call's STUN/TURN (ICE) exchange"), ("dtls", "the call's DTLS handshake")):
        for rec in _dicts(bundle, key):
            fid = rec.get("flow")
            if not isinstance(fid, str) or not (key == "dtls" or _modern_stun(rec, flows.get(fid, {}))):
                continue
            # ICE, TURN and DTLS of the call share a socket with its media (the candidate they gather or key);
            # an exchange tied to no media flow is judged by its own names, like any other flow
            shared = _sockets(flows.get(fid, {})) & media_sockets
            if shared:
                out.setdefault(fid, f"carries {what} (it shares the socket {_hostport(*sorted(shared)[0])} with the "
                                    "call's media)")
    ends = {}
    for fid in list(out):
        flow = flows.get(fid, {})
        for side in ("src", "dst"):
            port = _port(flow.get("sport" if side == "src" else "dport"))
            if port is not None:
                ends[(normalise_host(_str(flow.get(side))), port)] = fid
    for sdp in _dicts(bundle, "sdp"):
        for media in _dicts(sdp, "media"):
            port = _port(media.get("port"))
            target = ends.get((normalise_host(_str(media.get("connection"))), port)) if port is not None else None
            if target is not None and isinstance(sdp.get("flow"), str):
                out.setdefault(sdp["flow"], f"carries the signalling (SDP) of the call's media on flow {target}")
    return out


def _sockets(flow: Mapping[str, Any]) -> set[tuple[str, int]]:
    return {(normalise_host(_str(flow.get(side))), port) for side, port in
            (("src", _port(flow.get("sport"))), ("dst", _port(flow.get("dport")))) if flow.get(side) and port is not None}


def _port(value: Any) -> int | None:
    """A port number, or None for anything else (a wrong-typed port in a hand-made bundle matches nothing)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _modern_stun(rec: Mapping[str, Any], flow: Mapping[str, Any]) -> bool:
    """A STUN record that is the call's: a flow labelled STUN/TURN, or messages with the RFC 5389 magic cookie.

    TLS application data (0x17 0x03 ...) parses as a "classic" STUN header, so classic-only messages on a
    flow labelled otherwise (TLS to Apple's push servers in whatsapp_login_call.pcap) do not count.
    """
    if _str(flow.get("protocol")).lower() in ("stun", "turn"):
        return True
    messages, classic = rec.get("messages"), rec.get("classic")
    return isinstance(messages, int) and isinstance(classic, int) and messages > classic


def address_names(bundle: Mapping[str, Any]) -> dict[str, set[str]]:
    """address -> names DNS answered with it (packet DNS and the proxy's DNS mode)."""
    out: dict[str, set[str]] = {}
    for rec in _dicts(bundle, "dns"):
        name = _str(rec.get("name"))
        answers = rec.get("answers")
        for answer in answers if isinstance(answers, list) else ():
            if isinstance(answer, str) and name:
                out.setdefault(normalise_host(answer), set()).add(normalise_host(name))
    for rec in _dicts(bundle, "dns_queries"):
        questions = [q for q in rec.get("questions") or () if isinstance(q, Mapping)] \
            if isinstance(rec.get("questions"), list) else []
        name = _str(questions[0].get("name")) if questions else ""
        for answer in rec.get("answers") or () if isinstance(rec.get("answers"), list) else ():
            if isinstance(answer, Mapping) and answer.get("type") in (1, 28) and name:
                out.setdefault(normalise_host(_str(answer.get("data"))), set()).add(normalise_host(name))
    return out
