"""Check ``media_encryption``: every media stream SRTP or vendor AEAD, no NULL SRTP profile, no plain RTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit.evidence_model import MediaStream
from confaudit.rules.checks._common import judging_vendor_media, all_of, balanced, sentence, flow_ref, listing, outcome, plural, record_id, records, ref, text, were
from confaudit.rules.model import Outcome

PLAIN = frozenset({"plain", "plaintext", "rtp", "none", "unencrypted", "clear", "cleartext"})
UNKNOWN = frozenset({"unknown", "undetermined", ""})
_SRTP_NAMES = {1: "SRTP_AES128_CM_HMAC_SHA1_80", 2: "SRTP_AES128_CM_HMAC_SHA1_32", 5: "SRTP_NULL_HMAC_SHA1_80",
               6: "SRTP_NULL_HMAC_SHA1_32", 7: "SRTP_AEAD_AES_128_GCM", 8: "SRTP_AEAD_AES_256_GCM",
               9: "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM", 10: "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM"}
NULL_PROFILES = frozenset({5, 6})


def srtp_profile(value: Any) -> tuple[int | None, str]:
    """(code, name) of a DTLS-SRTP profile given as int, '0x0008' or a name."""
    if isinstance(value, bool) or value is None:
        return None, ""
    if isinstance(value, int):
        return value, _SRTP_NAMES.get(value, f"0x{value:04x}")
    if isinstance(value, Mapping):
        return srtp_profile(value.get("id", value.get("code", value.get("name"))))
    raw = str(value).strip()
    try:
        code = int(raw, 16) if raw.lower().startswith("0x") else int(raw)
        return srtp_profile(code)
    except ValueError:
        pass
    for code, name in _SRTP_NAMES.items():
        if raw.upper().endswith(name.removeprefix("SRTP_")):
            return code, name
    return None, text(raw, 60)


def stream_encryption(stream: MediaStream) -> str:
    """'plain', 'encrypted' or 'unknown' for one media stream record."""
    value = str(stream["encryption"] or "").lower()
    if value in PLAIN:
        return "plain"
    if value in UNKNOWN:
        return "unknown"
    return "encrypted"


def _stream_detail(stream: Mapping[str, Any]) -> str:
    parts = [text(stream.get("kind"), 20), text(stream.get("codec"), 30)]
    ssrc = stream.get("ssrc")
    if isinstance(ssrc, str):
        parts.append(f"SSRC {text(ssrc, 12)}")
    return " ".join(p for p in parts if p)


def null_dtls(bundle: Mapping[str, Any]) -> list[dict[str, str]]:
    """DTLS handshakes that selected a NULL (unencrypted) SRTP profile, with their flows."""
    found = []
    for i, item in enumerate(records(bundle, "dtls") or []):
        code, name = srtp_profile(item["srtp_profile"])
        if (code in NULL_PROFILES) or ("NULL" in name.upper()):
            found.append(ref("dtls", f"dtls{i}", f"DTLS-SRTP selected {name} (no encryption)"))
            found.extend(flow_ref(item))
    return found


def _crypto_lines(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    return [c if isinstance(c, str) else " ".join(str(v) for k, v in c.items() if k != "key") if isinstance(c, Mapping) else ""
            for c in items]


def sdp_plain(bundle: Mapping[str, Any]) -> list[dict[str, str]]:
    """SDP that negotiates NULL or unencrypted SRTP crypto suites, or plain RTP/AVP media (port 0 = rejected)."""
    found = []
    for i, item in enumerate(records(bundle, "sdp") or []):
        rid = f"sdp{i}"
        where = flow_ref(item)
        media = [m for m in item["media"] if isinstance(m, Mapping)] if isinstance(item["media"], list) else []
        lines = [line for m in media for line in _crypto_lines(m.get("crypto"))]
        if any("NULL" in line.upper() or "UNENCRYPTED_SRTP" in line.upper() for line in lines):
            found.append(ref("sdp", rid, "a=crypto offers an unencrypted SRTP suite"))
            found.extend(where)
        for m in media:
            proto = str(m.get("proto") or "")
            if proto.upper() in ("RTP/AVP", "RTP/AVPF") and m.get("port") != 0:
                found.append(ref("sdp", rid, f"m={text(m.get('kind') or 'media', 20)} negotiated over plain {proto}"))
                found.extend(where)
    return found


@judging_vendor_media
def media_encryption(bundle: Mapping[str, Any], params: Mapping[str, Any]) -> Outcome:
    streams = records(bundle, "media_streams")
    classified = [(stream_encryption(s), s, i) for i, s in enumerate(streams or [])]
    plain = [(s, i) for kind, s, i in classified if kind == "plain"]
    unknown = [(s, i) for kind, s, i in classified if kind == "unknown"]
    encrypted = [(s, i) for kind, s, i in classified if kind == "encrypted"]
    null_profiles = null_dtls(bundle)
    negotiated = sdp_plain(bundle)
    if plain or null_profiles or negotiated:
        refs: list[dict[str, str]] = []
        for s, i in plain:
            refs.append(ref("media_stream", record_id(s, f"m{i}"), f"plain RTP {_stream_detail(s)}"))
            refs.extend(flow_ref(s))
        parts = []
        if plain:
            parts.append(f"{plural(len(plain), 'media stream')} sent as unencrypted RTP")
        if null_profiles:
            parts.append("a NULL (unencrypted) SRTP profile selected in DTLS")
        if negotiated:
            parts.append(f"signalling that negotiated unencrypted media ({negotiated[0]['detail']})")
        return outcome("contradicted", f"The capture shows {listing(parts, width=400)}.", balanced(refs + null_profiles + negotiated))
    if streams is None and not records(bundle, "dtls"):
        return outcome("not_observable", "The evidence holds no media-stream analysis (no packet capture of the call).")
    if not encrypted and not unknown:
        zoom = [z for z in records(bundle, "zoom") or [] if z.get("confirmed") is not False]
        if zoom:
            refs = [r for i, z in enumerate(zoom[:10]) for r in
                    [ref("zoom", f"z{i}", f"Zoom {text(z['mode'], 8)} media, "
                         f"{text(z.get('media_packets'), 12)} sampled media packets")] + flow_ref(z)]
            return outcome("not_observable", f"The media is in Zoom's own encapsulation ({plural(len(zoom), 'flow')}): the RTP "
                           "inside it is readable, but its payload's encryption cannot be confirmed from a capture (Zoom "
                           "exchanges its media keys inside its TLS signalling).", refs)
        return outcome("not_observable", "No audio or video media streams were found in the capture.")
    refs = [ref("media_stream", record_id(s, f"m{i}"), f"{text(s['encryption'], 30)} {_stream_detail(s)}")
            for s, i in encrypted[:15]]
    if unknown:
        unknown_refs = [ref("media_stream", record_id(s, f"m{i}"), "encryption undetermined") for s, i in unknown]
        if not encrypted:
            return outcome("inconclusive", f"The encryption of the {plural(len(unknown), 'media stream')} seen could not be "
                           "determined (neither plain RTP nor SRTP could be confirmed).", unknown_refs)
        return outcome("inconclusive", f"{plural(len(encrypted), 'media stream')} {were(len(encrypted))} encrypted but the encryption of "
                       f"{plural(len(unknown), 'other stream')} could not be determined.", unknown_refs + refs)
    kinds = sorted({text(s["encryption"], 30) for s, _ in encrypted})
    return outcome("supported", f"{sentence(all_of(len(encrypted), 'observed media stream'))} {were(len(encrypted))} encrypted "
                   f"({listing(kinds)}) and no NULL SRTP profile or plain RTP was negotiated.", refs)
