"""Dissect TCP streams (TLS hellos, plaintext HTTP) and SIP/SDP signalling in the clear."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confaudit.analysis.dissect_udp import leaf_names
from confaudit.analysis.refs import hex16, packet_ref, packet_refs, text
from confaudit.analysis.sampling import Sample
from confaudit.analysis.tcpstream import reassemble

if TYPE_CHECKING:
    from confaudit.evidence_model import IceCandidate, PacketRef, PlainHttpRequest, SdpBody, SdpMedia, SipMessage, TlsConnection

MAX_ITEMS = 32


def tls_summary(flow_id: str, samples: list[Sample]) -> TlsConnection | None:
    """ClientHello/ServerHello of one TCP flow from the first bytes of each direction."""
    from confaudit.wire import tls as wtls

    forward = [s for s in samples if s.forward]
    backward = [s for s in samples if not s.forward]
    hello: wtls.ClientHello | None = None
    server: wtls.TlsServerHello | None = None
    for client_side, server_side in ((forward, backward), (backward, forward)):
        stream = reassemble(client_side)
        if not stream or stream[0] != 0x16:
            continue
        parsed = wtls.parse_tls_client_hello(stream)
        if not isinstance(parsed, wtls.ClientHello):  # None or NEED_MORE
            continue
        hello = parsed
        reply = reassemble(server_side)
        sh = wtls.parse_tls_server_hello(reply) if reply else None
        server = sh if isinstance(sh, wtls.TlsServerHello) else None
        break
    if hello is None:
        return None
    version = getattr(server, "version", None) if server is not None else None
    connection: TlsConnection = {
        "flow": flow_id,
        "sni": text(hello.sni, 256) if hello.sni else None,
        "alpn": [text(a, 64) for a in (hello.alpn or ())][:MAX_ITEMS],
        "offered_versions": [wtls.tls_version_name(v) for v in (hello.supported_versions or (hello.legacy_version,))],
        "version": wtls.tls_version_name(version) if version is not None else None,
        "cipher": hex16(server.cipher_suite) if server is not None and server.cipher_suite is not None else None,
        "cipher_name": getattr(server, "cipher_suite_name", None) if server is not None else None,
        "alpn_selected": text(getattr(server, "alpn", None), 64) if server is not None and getattr(server, "alpn", None) else None,
        "weak": bool(getattr(server, "weak", False)) if server is not None else False,
        "weak_cipher": weak_cipher_name(getattr(server, "cipher_suite_name", None) if server is not None else None),
        "ech": bool(hello.ech_present),
        "certificate_names": leaf_names(server) if server is not None else [],
        "server_hello_seen": server is not None,
        "packets": packet_refs(samples),
    }
    return connection


_WEAK_CIPHER_PARTS = ("_RC4_", "_NULL_", "_EXPORT", "_anon_", "_DES_CBC_", "_DES40_", "_3DES_", "_IDEA_", "_MD5")


def weak_cipher_name(name: str | None) -> bool:
    """RC4, NULL, export-grade, anonymous, (3)DES, IDEA or MD5-MAC suites: broken or deprecated (RFC 7465, 8996)."""
    return isinstance(name, str) and any(part in name + "_" for part in _WEAK_CIPHER_PARTS)


def http_requests(flow_id: str, samples: list[Sample], redactor: Any) -> list[PlainHttpRequest]:
    """Plaintext HTTP request heads in the first bytes of the client side of one TCP flow (keep-alive aware).

    The target (query, userinfo of an absolute URI, tokens in the path) and the Host (userinfo) are
    redacted before they are clipped, so a cut can never leave half a secret readable.
    """
    from confaudit.wire.http import parse_http_request_head

    for side in (True, False):
        part = sorted((s for s in samples if s.forward is side), key=lambda s: s.tcp_seq)
        stream = reassemble(part)
        out: list[PlainHttpRequest] = []
        offset = 0
        while offset < len(stream) and len(out) < MAX_ITEMS:
            head = parse_http_request_head(stream[offset:])
            end = stream.find(b"\r\n\r\n", offset)
            if head is None or end < 0:
                break
            out.append({
                "flow": flow_id,
                "method": text(head.method, 32),
                "host": text(redactor.authority(head.host), 256) if head.host else None,
                "target": text(redactor.url(head.target), 256),
                "websocket_upgrade": bool(head.websocket_upgrade),
                "first_packet": packet_ref(part[0]),
            })
            offset = end + 4 + (head.content_length or 0)
        if out:
            return out
    return []


def sip_messages(flow_id: str, samples: list[Sample], redactor: Any) -> tuple[list[SipMessage], list[SdpBody]]:
    """(sip entries, sdp entries) for the SIP messages of one flow. Keys and ICE passwords redacted."""
    from confaudit.wire.sdp import parse_sdp
    from confaudit.wire.sip import parse_sip

    sips: list[SipMessage] = []
    sdps: list[SdpBody] = []
    for sample in samples:
        msg = parse_sip(sample.payload)
        if msg is None:
            continue
        first_line = (f"{msg.method} {text(redactor.text(msg.request_uri), 128)}" if msg.is_request
                      else f"{msg.status_code} {text(redactor.text(msg.reason or ''), 64)}")
        ref = packet_ref(sample)
        sips.append({
            "flow": flow_id,
            "first_line": text(first_line, 256),
            "call_id": redactor.token("sip-call-id", msg.call_id) if getattr(msg, "call_id", None) else None,
            "user_agent": text(redactor.text(msg.user_agent or msg.server or ""), 128) or None,
            "authorization": bool(msg.authorization_present),
            "content_type": text(msg.content_type, 64),
            "packet": ref,
        })
        body = msg.body or ""
        if "v=0" in body[:16] or "sdp" in (msg.content_type or "").lower():
            sdps.append(sdp_entry(parse_sdp(body), ref, "sip", flow_id, redactor))
    return sips, sdps


def sdp_entry(session: Any, ref: PacketRef, source: str, flow_id: str | None, redactor: Any) -> SdpBody:
    """A JSON-ready SDP summary; a=crypto keys and ice-pwd never leave unredacted.

    Tokens are those of the SDP text redaction (``Redactor.sdp``), so a key seen here and in a
    WebSocket offer links.
    """
    media: list[SdpMedia] = []
    candidates: list[IceCandidate] = []
    for m in (session.media or ())[:MAX_ITEMS]:
        pts = list(m.payload_types or ())[:MAX_ITEMS]
        media.append({
            "kind": text(m.kind, 32),
            "port": int(m.port) if m.port is not None else None,
            "proto": text(m.proto, 64),
            "connection": text(m.connection or session.connection, 64),
            "payload_types": [int(p.pt) for p in pts],
            "codecs": [text(p.codec, 64) for p in pts],
            "clock_rates": [int(p.clock) if p.clock else None for p in pts],
            "crypto": [{"tag": c.tag, "suite": text(c.suite, 64),
                        "key": redactor.sdes_key(c.key_params)} for c in tuple(m.crypto or ())[:8]],
            "fingerprint": text(" ".join(m.fingerprint or session.fingerprint or ()), 200) or None,
            "setup": text(m.setup, 16),
            "ice_ufrag": text(m.ice_ufrag or session.ice_ufrag, 64),
            "ice_pwd": redactor.token("ice-pwd", m.ice_pwd or session.ice_pwd) if (m.ice_pwd or session.ice_pwd) else None,
            "direction": text(m.direction, 16),
            "rtcp_mux": bool(m.rtcp_mux),
        })
        for c in (m.candidates or ())[:MAX_ITEMS]:
            if c.port is None:
                continue
            candidates.append({"address": text(c.address, 64), "port": int(c.port), "type": text(c.typ, 16) or "unknown",
                               "transport": text(c.transport, 8), "source": ref})
    entry: SdpBody = {
        "source": source,
        "flow": flow_id,
        "origin": text(" ".join(session.origin), 200) if session.origin else None,
        "media": media,
        "crypto_present": any(m["crypto"] for m in media),
        "secure_profile": any("SAVP" in str(m["proto"] or "") for m in media),
        "candidates": candidates,
        "packet": ref,
    }
    return entry
