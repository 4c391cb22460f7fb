"""Media streams and their encryption verdict (SRTP vs plaintext RTP) with reasons.

Not entropy: the verdict weighs DTLS-SRTP keying on the same 5-tuple (use_srtp), SDP seen in
the clear (RTP/SAVP or a=crypto vs RTP/AVP), SRTCP trailers on the flow's RTCP, and codec
payload structure across packets (stable when plaintext, uniform when encrypted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.analysis.rtpstreams import StreamAcc


@dataclass(frozen=True, slots=True)
class FlowKeying:
    """Keying evidence gathered for one flow (inputs to the verdict)."""

    dtls_profile: str | None = None
    """SRTP profile chosen in the flow's DTLS ServerHello (hex), if seen."""
    dtls_offered: tuple[str, ...] = ()
    """SRTP profiles offered in the flow's DTLS ClientHello."""
    dtls_ref: dict[str, str] | None = None
    """Reference to the flow's DTLS handshake."""
    sdp_secure: bool | None = None
    """True: SDP for this address/port says RTP/SAVP* or a=crypto; False: RTP/AVP; None: no SDP."""
    sdp_ref: dict[str, str] | None = None
    """Packet carrying that SDP."""
    sdp_codecs: dict[int, tuple[str, str]] | None = None
    """payload type -> (codec, kind) from that SDP."""
    dtls_records_only: int = 0
    """DTLS records on the flow without a visible handshake (the association moved here from another pair)."""
    srtcp_trailers: int = 0
    """RTCP compounds on the flow with an SRTCP index + tag trailer."""
    rtcp_plain: int = 0
    """RTCP compounds on the flow that end exactly where their length fields say (no trailer)."""


def rtp_payloads(samples: list[bytes]) -> list[bytes]:
    """RTP payloads (after header, CSRCs, extension and padding) of sampled packets."""
    try:
        from confaudit.wire.rtp import parse_rtp
    except ImportError:
        return []
    out = []
    for data in samples:
        header = parse_rtp(data)
        if header is None:
            continue
        out.append(data[header.payload_offset: header.payload_offset + header.payload_len])
    return out


def codec_of(pt: int, keying: FlowKeying, structure_guess: str | None) -> tuple[str | None, str]:
    """(codec, kind) from the SDP, else the static payload-type table, else the structure guess."""
    if keying.sdp_codecs and pt in keying.sdp_codecs:
        return keying.sdp_codecs[pt]
    static = _static(pt)
    if static is not None:
        return static
    if structure_guess:
        guess = structure_guess.lower()
        kind = "video" if guess in ("vp8", "vp9", "h264", "av1") else "audio" if guess in ("opus", "pcmu", "pcma", "g711", "g722") else "unknown"
        return structure_guess, kind
    return None, "unknown"


def _static(pt: int) -> tuple[str, str] | None:
    """(codec, kind) of an RFC 3551 static payload type."""
    try:
        from confaudit.wire.rtp import static_payload_type
    except ImportError:
        return None
    entry = static_payload_type(pt)
    if entry is None:
        return None
    kind = entry[1] if entry[1] in ("audio", "video") else "unknown"
    return str(entry[0]), kind


def encryption_verdict(keying: FlowKeying, structure_plain: bool | None,
                       structure_reasons: list[str]) -> tuple[str, list[str]]:
    """("srtp"|"plain"|"unknown", reasons) for one stream."""
    reasons: list[str] = []
    secure_votes = plain_votes = 0
    if keying.dtls_profile:
        reasons.append(f"DTLS handshake on the same 5-tuple negotiated use_srtp profile {keying.dtls_profile}")
        secure_votes += 2
    elif keying.dtls_offered:
        reasons.append(f"DTLS ClientHello on the same 5-tuple offered use_srtp ({', '.join(keying.dtls_offered)}); ServerHello not seen")
        secure_votes += 1
    elif keying.dtls_records_only:
        reasons.append(f"{keying.dtls_records_only} DTLS record(s) on the same 5-tuple without a visible handshake "
                       "(the association was set up on another candidate pair)")
        secure_votes += 1
    if keying.sdp_secure is True:
        reasons.append("SDP in the clear describes this address/port as RTP/SAVP(F) or with a=crypto")
        secure_votes += 2
    elif keying.sdp_secure is False:
        reasons.append("SDP in the clear describes this address/port as RTP/AVP without a=crypto (plaintext RTP)")
        plain_votes += 2
    if keying.srtcp_trailers:
        reasons.append(f"{keying.srtcp_trailers} RTCP packet(s) on the flow carry an SRTCP index and authentication tag")
        secure_votes += 1
    elif keying.rtcp_plain:
        reasons.append(f"{keying.rtcp_plain} RTCP packet(s) on the flow end exactly at their length fields (no SRTCP trailer)")
        plain_votes += 1
    if structure_plain is True:
        # Readable codec structure cannot survive SRTP encryption: weighs as much as keying does,
        # so keyed-but-plaintext media ends up "unknown" (contradictory), never silently "srtp".
        reasons.append("payloads show stable codec structure across packets: " + "; ".join(structure_reasons[:3]))
        plain_votes += 2
    elif structure_plain is False:
        reasons.append("payload first bytes look uniform across packets (no codec structure): " + "; ".join(structure_reasons[:3]))
        secure_votes += 1
    if secure_votes > plain_votes:
        return "srtp", reasons
    if plain_votes > secure_votes:
        return "plain", reasons
    if not reasons:
        reasons.append("no keying, SDP, SRTCP or payload-structure evidence for this stream")
    else:
        reasons.append("evidence is contradictory")
    return "unknown", reasons


def _structure(payloads: list[bytes], hint: str | None) -> Any:
    """wire.codecs.stream_structure, or None if it fails (a parser bug must not lose the stream)."""
    try:
        from confaudit.wire.codecs import stream_structure

        return stream_structure(payloads, hint)
    except Exception:  # noqa: BLE001
        return None


def stream_entry(stream_id: str, flow_id: str, acc: StreamAcc, keying: FlowKeying, sender: str,
                 receiver: str) -> dict[str, Any]:
    """The media_streams[] entry for one plausible stream."""
    payloads = rtp_payloads(acc.samples)
    hint = keying.sdp_codecs.get(acc.payload_type, (None, ""))[0] if keying.sdp_codecs else None
    verdict = _structure(payloads, hint) if payloads else None
    plain = verdict.plain if verdict is not None else None
    sreasons = list(verdict.reasons) if verdict is not None else []
    codec, kind = codec_of(acc.payload_type, keying, verdict.codec_guess if verdict is not None else None)
    encryption, reasons = encryption_verdict(keying, plain, sreasons)
    if acc.turn_channel is not None:
        reasons.insert(0, f"carried inside TURN ChannelData (channel 0x{acc.turn_channel:04x}): "
                          "media relayed by the TURN server on this flow")
    direction = "both" if acc.forward and acc.backward else "forward" if acc.forward else "backward"
    return {
        "id": stream_id,
        "flow": flow_id,
        "ssrc": f"0x{acc.ssrc:08x}",
        "payload_type": acc.payload_type,
        "kind": kind,
        "codec": codec,
        "packets": acc.packets,
        "bytes": acc.bytes,
        "direction": direction,
        "sender": sender if direction != "backward" else receiver,
        "receiver": receiver if direction != "backward" else sender,
        "first_seen": acc.first_ts,
        "last_seen": acc.last_ts,
        "sequence": {"gaps": acc.gaps, "lost": acc.lost, "reordered": acc.reordered, "duplicates": acc.duplicates,
                     "jumps": acc.seq_jumps, "timestamp_backwards": acc.ts_backwards},
        "first_packet": {"kind": "packet", "id": f"{acc.first_packet[0]}:{acc.first_packet[1]}"},
        "encryption": encryption,
        "reasons": reasons,
    } | ({"turn_channel": f"0x{acc.turn_channel:04x}"} if acc.turn_channel is not None else {})
