"""Media streams: kind, codec and clock from timing and structure; encryption only from positive evidence.

SRTP needs positive evidence: DTLS-SRTP keying on the 5-tuple (or on the pair the same SSRC moved
from), SDP ``RTP/SAVP(F)``/``a=crypto`` for the address, an authentication tag that payload sizes
and timestamp steps prove, or an SRTCP index trailer on the flow. Plaintext needs positive
evidence too: SDP ``RTP/AVP``, plain RTCP, or codec structure that random bytes do not show. A
payload that is no codec confaudit models, with no keying seen, is ``unknown`` -- never ``srtp``
because its bytes "look random".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from confaudit.analysis.rtpstreams import StreamAcc
from confaudit.wire.errors import ParserBugs

Encryption = Literal["srtp", "plain", "unknown"]
"""A media stream's encryption verdict."""

if TYPE_CHECKING:
    from confaudit.evidence_model import Flow, MediaStream, SdpBody


@dataclass(frozen=True, slots=True)
class FlowKeying:
    """Keying evidence gathered for one flow (inputs to the verdict)."""

    dtls_profile: str | None = None
    """SRTP profile chosen in the flow's DTLS ServerHello (hex), if seen."""
    dtls_null: bool = False
    """The chosen profile is a NULL-cipher one (authenticated, not encrypted)."""
    dtls_offered: tuple[str, ...] = ()
    """SRTP profiles offered in the flow's DTLS ClientHello."""
    dtls_records_only: int = 0
    """DTLS records on the flow without a visible handshake (the association moved here from another pair)."""
    sdp_secure: bool | None = None
    """True: SDP for this address/port says RTP/SAVP* or a=crypto; False: RTP/AVP; None: no SDP."""
    sdp_codecs: dict[int, tuple[str, str, int | None]] | None = None
    """payload type -> (codec, kind, clock rate) from that SDP."""
    srtcp: Any = None
    """wire.srtcp.SrtcpEvidence of the flow's RTCP, or None when it had none."""


def rtp_samples(acc: StreamAcc, bugs: ParserBugs) -> list[Any]:
    """The stream's sampled packets as media_kind.RtpSample (payload bytes for the first SAMPLES_PER_STREAM)."""
    from confaudit.wire.media_kind import RtpSample
    from confaudit.wire.rtp import parse_rtp

    out = []
    for i, (start, length, arrival) in enumerate(acc.timing):
        full = acc.samples[i] if i < len(acc.samples) else None
        header = bugs.call("rtp", parse_rtp, full if full is not None else start)
        if header is None:
            continue
        payload: bytes | None
        if full is not None and len(full) == length:
            payload = full[header.payload_offset: header.payload_offset + header.payload_len]
            payload_len = header.payload_len
        else:  # only the first bytes were kept: the length still counts padding we cannot see
            payload = full[header.payload_offset:] if full is not None else None
            payload_len = max(0, length - header.payload_offset)
        out.append(RtpSample(seq=header.seq, timestamp=header.timestamp, marker=header.marker,
                             payload_len=payload_len, arrival=arrival, payload=payload))
    return out


def encryption_verdict(keying: FlowKeying, judgement: Any, moved_from: str | None) -> tuple[Encryption, list[str]]:
    """("srtp"|"plain"|"unknown", reasons) for one stream, from positive evidence only."""
    secure: list[str] = []
    plain: list[str] = []
    if keying.dtls_profile and keying.dtls_null:
        plain.append(f"DTLS-SRTP on the same 5-tuple negotiated the NULL-cipher profile {keying.dtls_profile}: "
                     "authenticated, not encrypted")
    elif keying.dtls_profile:
        secure.append(f"DTLS handshake on the same 5-tuple negotiated use_srtp profile {keying.dtls_profile}")
    elif keying.dtls_offered:
        secure.append(f"DTLS ClientHello on the same 5-tuple offered use_srtp ({', '.join(keying.dtls_offered)}); "
                      "the answer was not captured")
    elif keying.dtls_records_only:
        secure.append(f"{keying.dtls_records_only} DTLS record(s) on the same 5-tuple without a visible handshake "
                      "(the association was set up on another candidate pair)")
    if moved_from:
        secure.append(moved_from)
    if keying.sdp_secure is True:
        secure.append("SDP in the clear describes this address/port as RTP/SAVP(F) or with a=crypto")
    elif keying.sdp_secure is False:
        plain.append("SDP in the clear describes this address/port as RTP/AVP without a=crypto (plaintext RTP)")
    srtcp = keying.srtcp
    if srtcp is not None and srtcp.encrypted:
        secure.append(srtcp.reason)
    elif srtcp is not None and srtcp.plain_packets and not srtcp.srtcp_packets:
        plain.append(srtcp.reason + ": SRTP sessions always authenticate their RTCP")
    if judgement is not None and judgement.auth_tag_bytes:
        secure.append(f"payload sizes exceed the {judgement.codec} frame size by a constant {judgement.auth_tag_bytes} "
                      "bytes per timestamp step: an SRTP authentication tag")
    if judgement is not None and judgement.plaintext:
        plain.append("payloads carry readable codec structure: " + "; ".join(judgement.codec_reasons[:3]))
    reasons = secure + plain
    null_cipher = keying.dtls_profile and keying.dtls_null
    if plain and (not secure or null_cipher and judgement is not None and judgement.plaintext):
        return "plain", reasons
    if secure and not plain:
        return "srtp", reasons
    if secure and plain:
        return "unknown", reasons + ["evidence is contradictory"]
    why = "no keying (DTLS-SRTP, SDP), SRTCP trailer or authentication tag was seen"
    if judgement is not None and not judgement.plaintext:
        why += f", and the payload is no codec confaudit recognises in clear ({'; '.join(judgement.codec_reasons[:2]) or 'no structure matched'})"
    return "unknown", [why]


def stream_entry(stream_id: str, flow: Flow, acc: StreamAcc, judgement: Any,
                 verdict: tuple[Encryption, list[str]], phases_counted: bool = False) -> MediaStream:
    """The media_streams[] entry for one plausible stream (``judgement``: wire.media_kind.MediaJudgement or None;
    ``phases_counted``: the analysis counted packets per phase window, so ``phase_counts`` is exact and complete)."""
    encryption, reasons = verdict[0], list(verdict[1])
    if acc.relay == "channel_data" and acc.turn_channel is not None:
        reasons.insert(0, f"carried inside TURN ChannelData (channel 0x{acc.turn_channel:04x}): "
                          "media relayed by the TURN server on this flow")
    elif acc.relay == "indication":
        reasons.insert(0, "carried inside TURN Send/Data indications: media relayed by the TURN server on this flow")
    direction: Literal["forward", "backward", "both"] = (
        "both" if acc.forward and acc.backward else "forward" if acc.forward else "backward")
    sender, receiver = f"{flow['src']}:{flow['sport']}", f"{flow['dst']}:{flow['dport']}"
    entry: MediaStream = {
        "id": stream_id,
        "flow": flow["id"],
        "ssrc": f"0x{acc.ssrc:08x}",
        "payload_type": acc.payload_type,
        "kind": judgement.kind if judgement is not None else "unknown",
        "codec": judgement.codec if judgement is not None else None,
        "clock_rate": judgement.clock_rate if judgement is not None else None,
        "kind_reasons": list(judgement.kind_reasons) if judgement is not None else ["the media judgement failed (see warnings)"],
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
    }
    if phases_counted:  # a window missing from the list had no packet of this stream
        entry["phase_counts"] = [{"phase_index": index, "packets": n, "bytes": size}
                                 for index, (n, size) in sorted(acc.phase_counts.items())]
    if acc.relay is not None:
        entry["relay"] = acc.relay
    if acc.turn_channel is not None:
        entry["turn_channel"] = f"0x{acc.turn_channel:04x}"
    return entry


def sdp_keying(sdps: list[SdpBody]) -> dict[tuple[str, int], dict[str, Any]]:
    """(address, port) -> secure flag and codecs (payload type -> (codec, kind, clock)) from SDP seen in the clear."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for sdp in sdps:
        for m in sdp["media"]:
            connection, port = m.get("connection"), m.get("port")
            if not connection or not port:
                continue
            secure = bool(m["crypto"]) or "SAVP" in (m.get("proto") or "")
            clocks = m.get("clock_rates") or [None] * len(m["payload_types"])
            codecs = {pt: (name, m.get("kind") or "unknown", clock)
                      for pt, name, clock in zip(m["payload_types"], m["codecs"], clocks)}
            out[(connection, int(port))] = {"secure": secure, "ref": sdp["packet"], "codecs": codecs}
    return out


def build_streams(flows: list[Flow], accs: list[StreamAcc], keying: dict[int, FlowKeying],
                  bugs: ParserBugs, phases_counted: bool = False) -> list[MediaStream]:
    """media_streams[] for plausible streams, in first-seen order; SSRCs keyed on one pair carry it to the next."""
    from confaudit.wire.media_kind import judge_media

    judged = []
    for acc in accs:
        key = keying.get(acc.flow, FlowKeying())
        sdp = (key.sdp_codecs or {}).get(acc.payload_type)
        judgement = bugs.call("media", judge_media, rtp_samples(acc, bugs), acc.payload_type,
                              sdp[0] if sdp else None, sdp[2] if sdp else None)
        verdict = encryption_verdict(key, judgement, None)
        judged.append((acc, key, judgement, verdict))
    keyed = {acc.ssrc: flows[acc.flow]["id"] for acc, _k, _j, (state, _r) in judged if state == "srtp" and acc.ssrc}
    entries: list[MediaStream] = []
    for acc, key, judgement, verdict in judged:
        other = keyed.get(acc.ssrc)
        if verdict[0] == "unknown" and other is not None and other != flows[acc.flow]["id"]:
            verdict = encryption_verdict(key, judgement, f"the same SSRC is judged SRTP on flow {other}: the ICE pair moved "
                                                         "and the keying with it")
        entries.append(stream_entry(f"m{len(entries) + 1}", flows[acc.flow], acc, judgement, verdict, phases_counted))
    return entries
