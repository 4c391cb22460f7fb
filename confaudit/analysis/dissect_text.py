"""Dissect TCP streams (TLS hellos, plaintext HTTP) and SIP/SDP signalling in the clear."""

from __future__ import annotations

from typing import Any

from confaudit.analysis.refs import hex16, packet_ref, packet_refs, text
from confaudit.analysis.samples import Sample
from confaudit.analysis.tcpstream import reassemble

MAX_ITEMS = 32


def tls_summary(flow_id: str, samples: list[Sample]) -> dict[str, Any] | None:
    """ClientHello/ServerHello of one TCP flow from the first bytes of each direction."""
    from confaudit.wire import tls as wtls

    forward = [s for s in samples if s.forward]
    backward = [s for s in samples if not s.forward]
    hello = server = None
    for client_side, server_side in ((forward, backward), (backward, forward)):
        stream = reassemble(client_side)
        if not stream or stream[0] != 0x16:
            continue
        parsed = wtls.parse_tls_client_hello(stream)
        if parsed is None or parsed is wtls.NEED_MORE:
            continue
        hello = parsed
        reply = reassemble(server_side)
        sh = wtls.parse_tls_server_hello(reply) if reply else None
        server = None if sh is wtls.NEED_MORE else sh
        break
    if hello is None:
        return None
    version = getattr(server, "version", None) if server is not None else None
    return {
        "flow": flow_id,
        "sni": text(hello.sni, 256) if hello.sni else None,
        "alpn": [text(a, 64) for a in (hello.alpn or ())][:MAX_ITEMS],
        "offered_versions": [wtls.tls_version_name(v) for v in (hello.supported_versions or (hello.legacy_version,))],
        "version": wtls.tls_version_name(version) if version is not None else None,
        "cipher": hex16(server.cipher_suite) if server is not None and server.cipher_suite is not None else None,
        "cipher_name": getattr(server, "cipher_suite_name", None) if server is not None else None,
        "alpn_selected": text(getattr(server, "alpn", None), 64) if server is not None and getattr(server, "alpn", None) else None,
        "weak": bool(getattr(server, "weak", False)) if server is not None else False,
        "ech": bool(hello.ech_present),
        "certificate_names": sorted({text(n, 256) or "" for n in (getattr(server, "certificate_names", None) or ())}),
        "server_hello_seen": server is not None,
        "packets": packet_refs(samples),
    }


def http_requests(flow_id: str, samples: list[Sample]) -> list[dict[str, Any]]:
    """Plaintext HTTP request heads at the start of the client side of one TCP flow."""
    from confaudit.wire.http import parse_http_request_head

    for side in (True, False):
        part = [s for s in samples if s.forward is side]
        stream = reassemble(part)
        head = parse_http_request_head(stream) if stream else None
        if head is not None:
            return [{
                "flow": flow_id,
                "method": text(head.method, 32),
                "host": text(head.host, 256) if head.host else None,
                "target": text(head.target, 256),
                "websocket_upgrade": bool(getattr(head, "websocket_upgrade", False)),
                "first_packet": packet_ref(part[0]),
            }]
    return []


def sip_messages(flow_id: str, samples: list[Sample], redactor: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(sip entries, sdp entries) for the SIP messages of one flow. Keys and ICE passwords redacted."""
    from confaudit.wire.sdp import parse_sdp
    from confaudit.wire.sip import parse_sip

    sips: list[dict[str, Any]] = []
    sdps: list[dict[str, Any]] = []
    for sample in samples:
        msg = parse_sip(sample.payload)
        if msg is None:
            continue
        first_line = f"{msg.method} {text(msg.request_uri, 128)}" if getattr(msg, "method", None) else \
            f"{getattr(msg, 'status_code', '')} {text(getattr(msg, 'reason', ''), 64)}"
        ref = packet_ref(sample)
        sips.append({
            "flow": flow_id,
            "first_line": text(redactor.text(first_line), 256),
            "call_id": redactor.token("sip-call-id", msg.call_id) if getattr(msg, "call_id", None) else None,
            "user_agent": text(getattr(msg, "user_agent", None) or getattr(msg, "server", None), 128),
            "authorization": bool(getattr(msg, "authorization_present", False)),
            "content_type": text(getattr(msg, "content_type", None), 64),
            "packet": ref,
        })
        body = getattr(msg, "body", b"") or b""
        if isinstance(body, (bytes, bytearray)):
            body = bytes(body).decode("utf-8", "replace")
        if "v=0" in body[:16]:
            sdps.append(sdp_entry(parse_sdp(body), ref, "sip", flow_id, redactor))
    return sips, sdps


def sdp_entry(session: Any, ref: dict[str, str], source: str, flow_id: str | None, redactor: Any) -> dict[str, Any]:
    """A JSON-ready SDP summary; a=crypto keys and ice-pwd never leave unredacted."""
    media = []
    candidates = []
    for m in (getattr(session, "media", None) or ())[:MAX_ITEMS]:
        crypto = list(getattr(m, "crypto", None) or ())
        media.append({
            "kind": text(m.kind, 32),
            "port": int(m.port),
            "proto": text(m.proto, 64),
            "connection": text(getattr(m, "connection_address", None) or getattr(session, "connection_address", None), 64),
            "payload_types": [int(p) for p in (getattr(m, "payload_types", None) or ())][:MAX_ITEMS],
            "codecs": [text(c, 64) for c in _codec_names(m)][:MAX_ITEMS],
            "crypto": [{"tag": int(getattr(c, "tag", 0) or 0), "suite": text(getattr(c, "suite", ""), 64),
                        "key": redactor.token("sdp-crypto", str(getattr(c, "key_params", "")))} for c in crypto][:8],
            "fingerprint": text(getattr(m, "fingerprint", None) and " ".join(map(str, m.fingerprint)), 200),
            "setup": text(getattr(m, "setup", None), 16),
            "ice_ufrag": text(getattr(m, "ice_ufrag", None), 64),
            "ice_pwd": redactor.token("ice-pwd", m.ice_pwd) if getattr(m, "ice_pwd", None) else None,
        })
        for c in (getattr(m, "candidates", None) or ())[:MAX_ITEMS]:
            candidates.append({"address": text(c.address, 64), "port": int(c.port), "type": text(c.typ, 16),
                               "transport": text(c.transport, 8), "source": ref})
    return {
        "source": source,
        "flow": flow_id,
        "origin": text(getattr(session, "origin", None), 200),
        "media": media,
        "crypto_present": any(m["crypto"] for m in media),
        "secure_profile": any("SAVP" in (m["proto"] or "") for m in media),
        "candidates": candidates,
        "packet": ref,
    }


def _codec_names(media: Any) -> list[str]:
    rtpmap = getattr(media, "rtpmap", None) or {}
    if isinstance(rtpmap, dict):
        return [str(v[0] if isinstance(v, (tuple, list)) else v) for _k, v in sorted(rtpmap.items())]
    return []
