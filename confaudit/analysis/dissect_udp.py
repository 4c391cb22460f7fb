"""Dissect sampled UDP evidence with the wire parsers: STUN/TURN, DTLS, QUIC, DNS, Zoom.

Each function takes one flow's samples and returns a JSON-ready summary (or None). Captured
values are bounded and made JSON-safe; STUN usernames are replaced by redaction tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from confaudit.analysis.refs import hex16, packet_refs, text
from confaudit.analysis.samples import Sample

MAX_VALUES = 32


def _addr(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) >= 2:
        ip, port = value[0], value[1]
    else:
        ip, port = getattr(value, "ip", None), getattr(value, "port", None)
    if ip is None:
        return None
    ip = str(ip)
    return f"[{ip}]:{int(port)}" if ":" in ip else f"{ip}:{int(port)}"


STUN_FULL_PARSE = 256
"""Messages per flow whose attributes are all decoded; later repeats of known types are only counted."""
STUN_COOKIE = b"\x21\x12\xa4\x42"


CLASSIC_TYPES = frozenset({0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112,  # RFC 3489 Binding, Shared Secret
                           0x0003, 0x0103, 0x0113, 0x0004, 0x0115, 0x0006, 0x0106, 0x0116})  # MS-TURN
"""Message types of cookie-less STUN: RFC 3489 and Microsoft's MS-TURN (draft-era TURN)."""
MIN_CLASSIC_MESSAGES = 4
"""Clean classic messages a flow needs when no request/response pair matches by transaction id."""


_MS_TURN_UNPADDED = "attributes not padded to 4 bytes (MS-TURN style)"


def _classic_flow(messages: list[Any], with_cookie: int) -> bool:
    """Cookie-less STUN is accepted for a flow only on structure random bytes do not show.

    Every message must have a known RFC 3489/MS-TURN type and attributes that walk cleanly (MS-TURN
    may leave them unpadded); then a response answers a request (same 128-bit transaction id), or
    there are several such messages, or the flow also carries STUN with the magic cookie (MS-TURN
    mixes both). A DNS id or a random datagram can look like one header, not like this.
    """
    clean = [m for m in messages if m.msg_type in CLASSIC_TYPES and m.attributes
             and all(p == _MS_TURN_UNPADDED for p in m.problems)]
    if not clean or len(clean) < len(messages) * 0.9:
        return False
    requests = {m.transaction_id for m in clean if m.msg_class == "request" or m.msg_type in (0x0001, 0x0002, 0x0003)}
    answered = any(m.transaction_id in requests for m in clean if m.msg_type & 0x0100)
    return answered or len(clean) >= MIN_CLASSIC_MESSAGES or with_cookie > 0


def stun_summary(flow_id: str, samples: list[Sample], redactor: Any) -> dict[str, Any] | None:
    """Aggregate the STUN/TURN messages of one flow (cookie-less ones only when the flow validates as classic STUN)."""
    from confaudit.wire.stun import parse_stun

    types: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    realms: set[str] = set()
    software: set[str] = set()
    usernames: set[str] = set()
    addresses: dict[str, set[str]] = {"mapped": set(), "relayed": set(), "peer": set()}
    vendor: dict[str, dict[str, Any]] = {}
    ice: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    parsed: list[Sample] = []
    classic: list[tuple[Sample, Any]] = []
    method_of_type: dict[int, str] = {}
    full = 0
    by_side: dict[str, dict[str, Any]] = {side: {"software": set(), "vendor_attributes": set(), "binding_requests": 0,
                                                  "binding_responses": 0, "turn_requests": 0, "realms": set()}
                                           for side in ("src", "dst")}

    def account(sample: Sample, msg: Any) -> None:
        nonlocal full
        parsed.append(sample)
        full += 1
        side = by_side["src" if sample.forward else "dst"]
        if msg.method == 1 and msg.msg_class == "request":
            side["binding_requests"] += 1
        elif msg.method == 1 and msg.msg_class in ("success", "error"):
            side["binding_responses"] += 1
        elif 3 <= msg.method <= 9 and msg.msg_class == "request":  # Allocate .. ChannelBind: a TURN client talking
            side["turn_requests"] += 1
        if msg.software:
            side["software"].add(text(msg.software, 256) or "")
        side["vendor_attributes"].update(hex16(vtype) for vtype, _n, _v in msg.vendor_attributes)
        types[hex16(msg.msg_type)] += 1
        method = method_of_type.setdefault(msg.msg_type, f"{msg.method_name or 'unknown'} {msg.msg_class}")
        methods[method] += 1
        if msg.realm:
            realm = text(msg.realm, 256) or ""
            # MS-TURN sends an opaque binary REALM: keep only names, count the rest.
            if realm.isprintable() and "\ufffd" not in realm:
                realms.add(realm)
                side["realms"].add(realm)
            else:
                ice["binary_realm"] += 1
        if msg.software:
            software.add(text(msg.software, 256) or "")
        if msg.username:
            usernames.add(msg.username)  # raw here, tokens below: one HMAC per distinct name
        for key, address in (("mapped", msg.mapped_address), ("mapped", msg.xor_mapped_address),
                             ("relayed", msg.xor_relayed_address), ("peer", msg.xor_peer_address)):
            rendered = _addr(address)
            if rendered and len(addresses[key]) < MAX_VALUES:
                addresses[key].add(rendered)
        for name, value in (("priority", msg.priority), ("ice_controlling", msg.ice_controlling),
                            ("ice_controlled", msg.ice_controlled), ("use_candidate", msg.use_candidate),
                            ("nonce_present", msg.nonce_present)):
            if value not in (None, False):  # a PRIORITY of 0 is not counted either
                ice[name] += 1
        if msg.error_code:
            errors[str(msg.error_code)] += 1
        for vtype, vname, _value in msg.vendor_attributes:
            entry = vendor.setdefault(hex16(vtype), {"name": vname, "count": 0})
            entry["count"] += 1

    for sample in samples:
        head = sample.payload[:8]
        if full >= STUN_FULL_PARSE and len(head) == 8 and head[4:8] == STUN_COOKIE:
            msg_type = int.from_bytes(head[:2], "big")
            if msg_type in method_of_type:  # a repeat (consent checks): count it, skip the attribute walk
                parsed.append(sample)
                types[hex16(msg_type)] += 1
                methods[method_of_type[msg_type]] += 1
                continue
        msg = parse_stun(sample.payload)
        if msg is not None:
            account(sample, msg)
            continue
        msg = parse_stun(sample.payload, allow_classic=True)
        if msg is not None:
            classic.append((sample, msg))
    classic_ok = bool(classic) and _classic_flow([m for _s, m in classic], len(parsed))
    if classic_ok:
        for sample, msg in classic:
            account(sample, msg)
    if not parsed:
        return None
    return {
        "flow": flow_id,
        "messages": len(parsed),
        "attributes_from": full,
        "classic": len(classic) if classic_ok else 0,
        "message_types": dict(sorted(types.items())),
        "methods": dict(sorted(methods.items())),
        "realms": sorted(realms),
        "software": sorted(software),
        "usernames": sorted({redactor.token("stun-username", name) for name in usernames})[:MAX_VALUES],
        "mapped_addresses": sorted(addresses["mapped"]),
        "relayed_addresses": sorted(addresses["relayed"]),
        "peer_addresses": sorted(addresses["peer"]),
        "ice_attributes": dict(sorted(ice.items())),
        "error_codes": dict(sorted(errors.items())),
        "vendor_attributes": [{"type": k, "name": v["name"], "count": v["count"]} for k, v in sorted(vendor.items())],
        "channel_data_packets": 0,
        "sides": {name: {"software": sorted(v["software"]), "vendor_attributes": sorted(v["vendor_attributes"]),
                         "realms": sorted(v["realms"]), "binding_requests": v["binding_requests"],
                         "binding_responses": v["binding_responses"], "turn_requests": v["turn_requests"]}
                  for name, v in by_side.items()},
        "packets": packet_refs(parsed),
    }


def dtls_summary(flow_id: str, samples: list[Sample]) -> dict[str, Any] | None:
    """The DTLS handshake of one flow (ClientHello/ServerHello/Certificate)."""
    from confaudit.wire.dtls import dtls_handshake_info

    info = dtls_handshake_info([s.payload for s in samples])
    ch = info.client_hello
    sh = info.server_hello
    if ch is None and sh is None and not info.record_counts:
        return None
    return {
        "flow": flow_id,
        "version": info.version_label,
        "srtp_profiles_offered": [hex16(p) for p in (ch.use_srtp_profiles if ch else ())],
        "srtp_profile": hex16(info.srtp_profile) if info.srtp_profile is not None else None,
        "srtp_profile_name": info.srtp_profile_name,
        "null_profile": bool(info.null_profile),
        "cipher": hex16(sh.cipher_suite) if sh is not None and sh.cipher_suite is not None else None,
        "cipher_name": sh.cipher_suite_name if sh is not None else None,
        "ciphers_offered": [hex16(c) for c in (ch.cipher_suites if ch else ())][:64],
        "certificate_names": leaf_names(info),
        "certificates_from": _certificates_by_sender(samples),
        "certificate_chain_names": sorted({text(n, 256) or "" for n in (info.certificate_names or ())}),
        "client_random": ch.random if ch else None,
        "server_random": sh.random if sh else None,
        "sni": text(ch.sni, 256) if ch and ch.sni else None,
        "alpn": [text(a, 64) for a in (ch.alpn if ch else ())],
        "record_types": {str(k): int(v) for k, v in sorted(info.record_counts.items())},
        "packets": packet_refs(samples),
    }


def _certificates_by_sender(samples: list[Sample]) -> dict[str, list[str]]:
    """Leaf certificate names each side sent: a name belongs to the endpoint that presented it."""
    from confaudit.wire.dtls import dtls_handshake_info

    out = {}
    for side, forward in (("src", True), ("dst", False)):
        mine = [s.payload for s in samples if s.forward is forward]
        out[side] = leaf_names(dtls_handshake_info(mine)) if mine else []
    return out


def leaf_names(info: Any) -> list[str]:
    """Subject CN and SAN DNS names of the first (end-entity) certificate only, not its issuers."""
    certs = getattr(info, "certificates", ()) or ()
    if not certs:
        return []
    leaf = certs[0]
    names = ([leaf.subject_cn] if leaf.subject_cn else []) + list(leaf.san_dns or ())
    return sorted({text(n, 256) or "" for n in names})


def quic_summary(flow_id: str, samples: list[Sample]) -> dict[str, Any] | None:
    """QUIC version and, when the Initial can be decrypted, the ClientHello SNI/ALPN."""
    from confaudit.wire.gquic import parse_gquic_public_header
    from confaudit.wire.quic import parse_quic_long_header, quic_client_hello

    versions: Counter[int] = Counter()
    names: dict[int, str] = {}
    kept: list[Sample] = []
    for sample in samples:
        header = parse_quic_long_header(sample.payload) or parse_gquic_public_header(sample.payload)
        if header is None or header.version == 0:  # version 0 = Version Negotiation
            continue
        versions[int(header.version)] += 1
        names[int(header.version)] = header.version_name
        kept.append(sample)
    if not kept:
        return None
    version = versions.most_common(1)[0][0]
    name = names[version]
    known = not name.startswith("unknown") and "grease" not in name
    hello = quic_client_hello([s.payload for s in kept if s.forward] or [s.payload for s in kept])
    return {
        "flow": flow_id,
        "version": f"0x{version:08x}",
        "version_name": name,
        "known_version": known,
        "sni": text(hello.sni, 256) if hello is not None and hello.sni else None,
        "alpn": [text(a, 64) for a in (hello.alpn if hello is not None else ())],
        "long_header_packets": len(kept),
        "packets": packet_refs(kept),
    }


def dns_records(flow_id: str, samples: list[Sample], tcp: bool) -> list[dict[str, Any]]:
    """One entry per DNS question answered or asked on this flow."""
    from confaudit.analysis.refs import packet_ref
    from confaudit.wire.dns import parse_dns

    out = []
    for sample in samples:
        msg = parse_dns(sample.payload, tcp=tcp)
        if msg is None:
            continue
        answers = [a for a in msg.answers if getattr(a, "section", "answer") == "answer"]
        if not msg.questions and msg.response and msg.complete and answers:
            out.extend(_announcements(flow_id, sample, answers))  # mDNS announcements carry no question
        for question in msg.questions[:4]:
            qname = text(question.name, 256) or ""
            values, cnames = _answers_for(qname, answers)
            out.append({
                "name": qname,
                "type": str(question.type_name or question.type),
                "response": bool(msg.response),
                "rcode": int(msg.rcode),
                "answers": values[:MAX_VALUES],
                "cnames": cnames[:MAX_VALUES],
                "flow": flow_id,
                "first_packet": packet_ref(sample),
            })
    return out


def _announcements(flow_id: str, sample: Sample, answers: list[Any]) -> list[dict[str, Any]]:
    """One entry per owner name and type of an unsolicited response (mDNS, RFC 6762 §8.3)."""
    from confaudit.analysis.refs import packet_ref

    grouped: dict[tuple[str, str], list[str]] = {}
    for a in answers:
        key = (text(a.name, 256) or "", str(a.type_name or a.type))
        grouped.setdefault(key, []).append(text(a.value, 256) or "")
    return [{"name": name, "type": rtype, "response": True, "rcode": 0, "answers": sorted(set(values))[:MAX_VALUES],
             "cnames": [], "flow": flow_id, "first_packet": packet_ref(sample)}
            for (name, rtype), values in sorted(grouped.items())[:4]]


def _answers_for(qname: str, answers: list[Any]) -> tuple[list[str], list[str]]:
    """Address/other answers for ``qname`` following the CNAME chain (bounded)."""
    current = qname.lower().rstrip(".")
    chain: list[str] = []
    values: list[str] = []
    for _ in range(16):
        step = None
        for a in answers:
            if (text(a.name, 256) or "").lower().rstrip(".") != current:
                continue
            if (a.type_name or "").upper() == "CNAME":
                step = (text(a.value, 256) or "").rstrip(".")
            else:
                values.append(text(a.value, 256) or "")
        if step is None or step.lower() in chain:
            break
        chain.append(step.lower())
        current = step.lower()
    return sorted(set(values)), chain


def zoom_summary(flow_id: str, samples: list[Sample]) -> dict[str, Any] | None:
    """Zoom media encapsulation of one UDP flow: SFU (0x05 outer header) or P2P (inner header first).

    ``confirmed`` is True when embedded RTP/RTCP media was found (wire.zoom's score); a flow whose
    samples are all Zoom-shaped but carry no media is returned unconfirmed for the caller to decide.
    """
    from confaudit.wire.zoom import parse_zoom_media, score_zoom_payloads

    score = score_zoom_payloads([s.payload for s in samples])
    parsed = [(s, parse_zoom_media(s.payload)) for s in samples]
    zoom_samples = [(s, z) for s, z in parsed if z is not None]
    if len(zoom_samples) < 5 or len(zoom_samples) * 2 < len(samples):
        return None
    mode = score.mode or Counter(z.mode for _s, z in zoom_samples).most_common(1)[0][0]
    return {
        "flow": flow_id,
        "mode": mode,
        "confirmed": bool(score.is_zoom),
        "sampled_packets": score.packets,
        "zoom_packets": score.zoom_packets,
        "media_packets": score.media_packets,
        "media_types": {str(k): int(v) for k, v in sorted(score.inner_types.items())},
        "rtp_payload_types": {str(k): int(v) for k, v in sorted(score.payload_types.items())},
        "packets": packet_refs([s for s, _z in zoom_samples]),
    }
