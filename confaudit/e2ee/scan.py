"""One pass over the UDP datagrams: DTLS sessions, their SRTP keys, per-stream decryption counts and samples.

RFC 7983 demultiplexing on the first byte: 20-63 DTLS, 64-79 TURN ChannelData (unwrapped),
128-191 RTP/RTCP. Memory grows with streams, not packets: duplicate detection keeps one 64-bit hash
per packet (bounded per stream) and only the first ``MAX_SAMPLE_PACKETS`` decrypted packets of a stream
are kept for the inner-payload test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from confaudit.wire.depacketize import RtpPacket, parse_decrypted_rtp
from confaudit.e2ee.exporter import (PROFILES, export_dtls12, export_tls13, keying_material_length,
                                     split_keying_material)
from confaudit.e2ee.handshake import DtlsSession, FlowHandshakes
from confaudit.e2ee.packets import Datagram
from confaudit.e2ee.srtp import Candidate, Outcome, SenderDecryptor

MAX_SAMPLE_PACKETS = 1500
DEDUP_WINDOW = 8192  # duplicates from loopback/span ports arrive next to their original
MAX_STREAMS = 4096  # a hostile capture can invent an SSRC per packet
Endpoint = tuple[str, int]
FlowKey = tuple[Endpoint, Endpoint]


class RecentDigests:
    """The last ``DEDUP_WINDOW`` packet digests of a stream: bounded memory, O(1) membership."""

    def __init__(self) -> None:
        self._order: dict[int, None] = {}

    def seen_before(self, digest: int) -> bool:
        """True if ``digest`` is in the window; otherwise remember it (evicting the oldest)."""
        if digest in self._order:
            return True
        self._order[digest] = None
        if len(self._order) > DEDUP_WINDOW:
            del self._order[next(iter(self._order))]
        return False


@dataclass
class StreamCounts:
    """Per (flow, sender, SSRC) SRTP counters and the decrypted sample."""

    flow: FlowKey
    """Canonical (sorted) endpoints of the flow."""
    sender: Endpoint
    """Who sent the stream."""
    ssrc: int
    """RTP SSRC."""
    session: DtlsSession | None
    """The DTLS session keying this stream's flow when its first packet arrived."""
    first_frame: tuple[int, int]
    """(input index, frame) of the first packet."""
    packets: int = 0
    """SRTP packets seen (duplicates included)."""
    decrypted: int = 0
    """Packets that authenticated and decrypted."""
    auth_failed: int = 0
    """Packets that failed SRTP authentication (wrong keys, corruption)."""
    duplicates: int = 0
    """Byte-identical copies of a packet already seen (loopback/span-port double capture)."""
    replay_rejected: int = 0
    """Distinct packets libsrtp's replay window refused (index reused or too old)."""
    payload_types: dict[int, int] = field(default_factory=dict)
    """Packets per RTP payload type."""
    sample: list[RtpPacket] = field(default_factory=list)
    """The first MAX_SAMPLE_PACKETS decrypted packets, for the inner-payload test."""
    seen: "RecentDigests" = field(default_factory=lambda: RecentDigests())
    """Recent packet digests, for duplicate detection."""
    keyed_via: FlowKey | None = None
    """Handshake flow whose session keys this stream when its own flow had no handshake (ICE pair change)."""


@dataclass
class ControlCounts:
    """SRTCP counters per (flow, sender)."""

    packets: int = 0
    """SRTCP packets seen."""
    decrypted: int = 0
    """Packets that authenticated."""
    auth_failed: int = 0
    """Packets that failed authentication."""
    duplicates: int = 0
    """Byte-identical copies."""
    seen: "RecentDigests" = field(default_factory=lambda: RecentDigests())
    """Recent packet digests."""
    session: DtlsSession | None = None
    """The DTLS session keying the first packet."""


def session_candidates(session: DtlsSession, secrets: dict[bytes, dict[str, bytes]],
                       is_client: bool) -> tuple[list[Candidate], str]:
    """Keys the sender may use under this session, and a reason when there are none."""
    labels = secrets.get(session.client_random, {})
    if session.server_random is None:
        return [], "ServerHello not in the capture"
    if session.profile is not None:
        codes = [session.profile]
    else:
        codes = [c for c in session.profiles_offered if c in PROFILES] or list(PROFILES)
    codes = [c for c in codes if c in PROFILES]
    if not codes:
        return [], f"SRTP profile 0x{session.profile or 0:04x} is not decryptable here"
    out = []
    for code in codes:
        profile = PROFILES[code]
        length = keying_material_length(profile)
        if session.version == "DTLS 1.3":
            if "EXPORTER_SECRET" not in labels:
                return [], "key log has no EXPORTER_SECRET for this DTLS 1.3 session"
            material = export_tls13(labels["EXPORTER_SECRET"], length, cipher_suite=session.cipher_suite)
        else:
            if "CLIENT_RANDOM" not in labels:
                return [], "key log has no CLIENT_RANDOM line for this DTLS session"
            material = export_dtls12(labels["CLIENT_RANDOM"], session.client_random, session.server_random, length,
                                     cipher_suite=session.cipher_suite, dtls10=session.version == "DTLS 1.0")
        client_key, server_key = split_keying_material(profile, material)
        out.append(Candidate(profile, client_key if is_client else server_key))
    return out, ""


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class CaptureScan:
    """Accumulates DTLS sessions and SRTP stream counters over datagrams of one or more captures."""

    def __init__(self, secrets: dict[bytes, dict[str, bytes]]) -> None:
        self.secrets = secrets
        self.handshakes: dict[FlowKey, FlowHandshakes] = {}
        self.streams: dict[tuple[FlowKey, Endpoint, int], StreamCounts] = {}
        self.control: dict[tuple[FlowKey, Endpoint], ControlCounts] = {}
        self._decryptors: dict[tuple[int, bool], SenderDecryptor | None] = {}
        """Per (DTLS session id, sender is its client)."""
        self.session_notes: dict[int, str] = {}
        self.profiles_used: dict[int, int] = {}
        self.streams_dropped = 0
        self._keyed_endpoints: dict[Endpoint, FlowKey] = {}
        """Packets of SSRCs beyond MAX_STREAMS (not analysed; makes the result incomplete)."""

    def feed(self, input_index: int, dg: Datagram) -> None:
        payload = dg.payload
        if not payload:
            return
        first = payload[0]
        if 64 <= first <= 79 and len(payload) >= 4:  # TURN ChannelData: the inner datagram keeps the relay flow
            payload = payload[4:4 + int.from_bytes(payload[2:4], "big")]
            if not payload:
                return
            first = payload[0]
        flow: FlowKey = tuple(sorted((dg.src, dg.dst)))  # type: ignore[assignment]
        if 20 <= first <= 63:
            self.handshakes.setdefault(flow, FlowHandshakes()).feed(dg.src, payload)
            self._keyed_endpoints[dg.src] = self._keyed_endpoints[dg.dst] = flow
        elif 128 <= first <= 191 and len(payload) >= 12:
            self._media(input_index, dg.frame, flow, dg.src, payload)

    def _session(self, flow: FlowKey) -> DtlsSession | None:
        sessions = self.handshakes[flow].sessions
        complete = [s for s in sessions if s.server_random is not None]
        return complete[-1] if complete else sessions[-1] if sessions else None

    def _keying(self, flow: FlowKey, sender: Endpoint) -> tuple[DtlsSession | None, bool, FlowKey | None]:
        """(session, sender is its DTLS client, handshake flow if borrowed) for a media packet."""
        if flow in self.handshakes:
            session = self._session(flow)
            return session, session is not None and sender == session.client, None
        # DTLS keys the ICE transport, not the 5-tuple: after a candidate-pair change media continues on a
        # new flow that shares one endpoint with the handshake's flow.
        for shared in flow:
            keyed = self._keyed_endpoints.get(shared)
            session = self._session(keyed) if keyed is not None else None
            if session is not None:
                shared_is_client = shared == session.client
                return session, (sender == shared) == shared_is_client, keyed
        return None, False, None

    def _decryptor(self, session: DtlsSession, is_client: bool) -> SenderDecryptor | None:
        key = (id(session), is_client)
        if key not in self._decryptors:
            candidates, note = session_candidates(session, self.secrets, is_client)
            self._decryptors[key] = SenderDecryptor(candidates) if candidates else None
            if note:
                self.session_notes[id(session)] = note
        return self._decryptors[key]

    def _media(self, input_index: int, frame: int, flow: FlowKey, sender: Endpoint, payload: bytes) -> None:
        rtcp = 192 <= payload[1] <= 223
        session, is_client, keyed_via = self._keying(flow, sender)
        if session is None:
            return
        decryptor = self._decryptor(session, is_client)
        if rtcp:
            self._control(flow, sender, payload, decryptor, session)
            return
        ssrc = int.from_bytes(payload[8:12], "big")
        stream = self.streams.get((flow, sender, ssrc))
        if stream is None:
            if len(self.streams) >= MAX_STREAMS:
                self.streams_dropped += 1
                return
            stream = StreamCounts(flow, sender, ssrc, session, (input_index, frame), keyed_via=keyed_via)
            self.streams[(flow, sender, ssrc)] = stream
        stream.packets += 1
        pt = payload[1] & 0x7F
        stream.payload_types[pt] = stream.payload_types.get(pt, 0) + 1
        if stream.seen.seen_before(_digest(payload)):
            stream.duplicates += 1
            return
        if decryptor is None:
            return
        outcome, plain = decryptor.unprotect(payload, rtcp=False)
        if outcome is Outcome.DECRYPTED:
            stream.decrypted += 1
            if decryptor.profile is not None:
                self.profiles_used[id(stream.session)] = decryptor.profile.code
            if len(stream.sample) < MAX_SAMPLE_PACKETS:
                parsed = parse_decrypted_rtp(plain or b"")
                if parsed is not None:
                    stream.sample.append(parsed)
        elif outcome is Outcome.REPLAYED:
            stream.replay_rejected += 1
        else:
            stream.auth_failed += 1

    def _control(self, flow: FlowKey, sender: Endpoint, payload: bytes, decryptor: SenderDecryptor | None,
                 session: DtlsSession) -> None:
        counts = self.control.setdefault((flow, sender), ControlCounts(session=session))
        counts.packets += 1
        if counts.seen.seen_before(_digest(payload)):
            counts.duplicates += 1
            return
        if decryptor is None:
            return
        outcome, _ = decryptor.unprotect(payload, rtcp=True)
        if outcome is Outcome.DECRYPTED:
            counts.decrypted += 1
        elif outcome is Outcome.AUTH_FAILED:
            counts.auth_failed += 1
