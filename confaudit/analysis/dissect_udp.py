"""Dissect sampled UDP evidence with the wire parsers: DTLS, QUIC, DNS, Zoom (STUN/TURN: dissect_stun).

Each function takes one flow's samples and returns a JSON-ready summary (or None). Captured
values are bounded and made JSON-safe; STUN usernames are replaced by redaction tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from confaudit.analysis.refs import hex16, packet_refs, text
from confaudit.analysis.sampling import Sample

if TYPE_CHECKING:
    from confaudit.evidence_model import DnsLookup, DtlsHandshake, DtlsHandshakeCertificatesFrom, QuicConnection, ZoomFlow

MAX_VALUES = 32


def dtls_summary(flow_id: str, samples: list[Sample]) -> DtlsHandshake | None:
    """The DTLS handshake of one flow (ClientHello/ServerHello/Certificate)."""
    from confaudit.wire.dtls import dtls_handshake_info

    info = dtls_handshake_info([s.payload for s in samples])
    ch = info.client_hello
    sh = info.server_hello
    if ch is None and sh is None and not info.record_counts:
        return None
    handshake: DtlsHandshake = {
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
    return handshake


def _certificates_by_sender(samples: list[Sample]) -> DtlsHandshakeCertificatesFrom:
    """Leaf certificate names each side sent: a name belongs to the endpoint that presented it."""
    from confaudit.wire.dtls import dtls_handshake_info

    def sent_by(forward: bool) -> list[str]:
        mine = [s.payload for s in samples if s.forward is forward]
        return leaf_names(dtls_handshake_info(mine)) if mine else []

    return {"src": sent_by(True), "dst": sent_by(False)}


def leaf_names(info: Any) -> list[str]:
    """Subject CN and SAN DNS names of the first (end-entity) certificate only, not its issuers."""
    certs = getattr(info, "certificates", ()) or ()
    if not certs:
        return []
    leaf = certs[0]
    names = ([leaf.subject_cn] if leaf.subject_cn else []) + list(leaf.san_dns or ())
    return sorted({text(n, 256) or "" for n in names})


def quic_summary(flow_id: str, samples: list[Sample]) -> QuicConnection | None:
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
    connection: QuicConnection = {
        "flow": flow_id,
        "version": f"0x{version:08x}",
        "version_name": name,
        "known_version": known,
        "sni": text(hello.sni, 256) if hello is not None and hello.sni else None,
        "alpn": [text(a, 64) for a in (hello.alpn if hello is not None else ())],
        "long_header_packets": len(kept),
        "packets": packet_refs(kept),
    }
    return connection


def dns_records(flow_id: str, samples: list[Sample], tcp: bool) -> list[DnsLookup]:
    """One entry per DNS question answered or asked on this flow."""
    from confaudit.analysis.refs import packet_ref
    from confaudit.wire.dns import parse_dns

    out: list[DnsLookup] = []
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


def _announcements(flow_id: str, sample: Sample, answers: list[Any]) -> list[DnsLookup]:
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


def zoom_summary(flow_id: str, samples: list[Sample]) -> ZoomFlow | None:
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
    zoom: ZoomFlow = {
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
    return zoom
