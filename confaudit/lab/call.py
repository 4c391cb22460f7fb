"""A real two-peer WebRTC call on loopback (aiortc), recording what each side SENT.

Both peers live in this process with in-process signalling. ICE gathers only 127.0.0.1 host
candidates and no STUN/TURN servers are configured, so nothing leaves the machine. Optional:
an NSS key log of both peers' DTLS handshakes, a pcapng of the call (sniffer on ``lo``) and a
``payload_transform`` applied to every outgoing encoded RTP payload before SRTP protection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confaudit.canary import CanaryMedia
    from confaudit.redact import Redactor

PayloadTransform = Callable[[str, int, bytes], bytes]
"""(kind "audio"|"video", ssrc, encoded payload) -> payload to send instead."""

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class SentStream:
    """One RTP stream a peer sent."""

    peer: str
    """"offerer" or "answerer"."""
    kind: str
    """"audio" or "video"."""
    ssrc: int
    """SSRC of the stream."""
    payload_type: int
    """RTP payload type used."""
    codec: str
    """MIME type of the codec, e.g. "audio/opus", "video/VP8"."""
    packets_sent: int
    """RTP packets sent (aiortc outbound stats)."""
    bytes_sent: int
    """RTP payload bytes sent (aiortc outbound stats)."""


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """What one peer negotiated and used."""

    name: str
    """"offerer" or "answerer"."""
    dtls_role: str
    """"client" or "server" (who sent the ClientHello)."""
    ice_role: str
    """"controlling" or "controlled"."""
    local: tuple[str, int]
    """Local address and UDP port of the nominated candidate pair."""
    remote: tuple[str, int]
    """Remote address and UDP port of the nominated candidate pair."""
    srtp_profile: str | None
    """SRTP protection profile OpenSSL selected (e.g. "SRTP_AEAD_AES_128_GCM")."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the lab call sent, for checking an analysis against ground truth."""

    duration: float
    """Seconds of media after the connection was established."""
    peers: tuple[PeerRecord, ...]
    """Offerer then answerer."""
    streams: tuple[SentStream, ...]
    """Every RTP stream sent by either peer."""
    offer_sdp: str = field(repr=False)
    """The offer as sent (RAW: contains ice-pwd; use redacted_offer() to display)."""
    answer_sdp: str = field(repr=False)
    """The answer as sent (RAW: contains ice-pwd)."""
    keylog_lines: int
    """Key-log lines written (0 when no key log was asked for)."""
    capture_packets: int
    """Packets the sniffer wrote (0 when no capture was asked for)."""

    def ssrcs(self, kind: str, peer: str | None = None) -> list[int]:
        """SSRCs of the streams of ``kind`` (optionally of one peer)."""
        return [s.ssrc for s in self.streams if s.kind == kind and (peer is None or s.peer == peer)]

    def five_tuple(self) -> tuple[str, str, int, str, int]:
        """("udp", offerer address, port, answerer address, port) of the media path."""
        offerer = self.peers[0]
        return ("udp", offerer.local[0], offerer.local[1], offerer.remote[0], offerer.remote[1])

    def redacted_offer(self, redactor: Redactor) -> str:
        """The offer with ICE passwords and keys replaced by ``redactor``'s tokens."""
        return redactor.sdp(self.offer_sdp)

    def redacted_answer(self, redactor: Redactor) -> str:
        """The answer with ICE passwords and keys replaced by ``redactor``'s tokens."""
        return redactor.sdp(self.answer_sdp)


def run_call(duration: float = 3.0, *, keylog_path: str | Path | None = None,
             capture_path: str | Path | None = None, payload_transform: PayloadTransform | None = None,
             video: bool = True, audio: bool = True, canary: CanaryMedia | None = None) -> CallRecord:
    """Run a loopback call for ``duration`` seconds of media and return what was sent.

    ``canary``: both peers play the canary's WAV and Y4M (looped) instead of the built-in tone and bars.
    """
    if not (video or audio):
        raise ValueError("a call needs audio, video or both")
    return asyncio.run(call(duration, keylog_path=keylog_path, capture_path=capture_path,
                            payload_transform=payload_transform, video=video, audio=audio, canary=canary))


async def call(duration: float = 3.0, *, keylog_path: str | Path | None = None,
               capture_path: str | Path | None = None, payload_transform: PayloadTransform | None = None,
               video: bool = True, audio: bool = True, canary: CanaryMedia | None = None) -> CallRecord:
    """Async form of :func:`run_call` (for callers already inside an event loop)."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from confaudit.lab.tracks import canary_tracks, pattern_track, tone_track

    keylog = _KeyLog(Path(keylog_path)) if keylog_path is not None else None
    sent_codecs: dict[tuple[str, str], tuple[int, str]] = {}
    sniffer = None
    with _loopback_only(), _keylog_hook(keylog):
        offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            senders: list[tuple[str, str, Any]] = []
            for name, pc in (("offerer", offerer), ("answerer", answerer)):
                makers = canary_tracks(canary) if canary is not None else {"audio": tone_track, "video": pattern_track}
                for kind, make, wanted in (("audio", makers["audio"], audio), ("video", makers["video"], video)):
                    if wanted:
                        sender = pc.addTrack(make())
                        _hook_sender(sender, name, kind, payload_transform, sent_codecs)
                        senders.append((name, kind, sender))
            await offerer.setLocalDescription(await offerer.createOffer())
            offer_sdp = offerer.localDescription.sdp
            if capture_path is not None:
                sniffer = _start_sniffer(Path(capture_path), offer_sdp)
            await answerer.setRemoteDescription(offerer.localDescription)
            await answerer.setLocalDescription(await answerer.createAnswer())
            answer_sdp = answerer.localDescription.sdp
            await offerer.setRemoteDescription(answerer.localDescription)
            await _wait_connected((offerer, answerer), timeout=15.0)
            await asyncio.sleep(duration)
            # Stop sending before reading the counters, so they equal what reached the wire.
            for pc in (offerer, answerer):
                for sender in pc.getSenders():
                    await sender.stop()
            streams = [await _sent_stream(sender, name, kind, sent_codecs) for name, kind, sender in senders]
            peers = (_peer_record("offerer", offerer), _peer_record("answerer", answerer))
        finally:
            await offerer.close()
            await answerer.close()
            if sniffer is not None:
                await asyncio.sleep(0.2)
    packets = sniffer.stop().packets if sniffer is not None else 0
    return CallRecord(duration=duration, peers=peers, streams=tuple(sorted(streams, key=lambda s: (s.peer, s.kind))),
                      offer_sdp=offer_sdp, answer_sdp=answer_sdp,
                      keylog_lines=keylog.lines if keylog is not None else 0, capture_packets=packets)


def _start_sniffer(path: Path, offer_sdp: str) -> Any:
    from confaudit.live.sniffer import PacketSniffer

    # Every packet of the call has the offerer's candidate port on one side.
    ports = {int(line.split()[5]) for line in offer_sdp.splitlines()
             if line.startswith("a=candidate:") and len(line.split()) > 5}
    sniffer = PacketSniffer("lo", path, port_filter=ports)
    sniffer.start()
    return sniffer


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """Make aioice gather 127.0.0.1 as its only host candidate (it normally skips loopback)."""
    import aioice.ice

    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOOPBACK]
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class _KeyLog:
    """Thread-safe NSS key-log writer (CLIENT_RANDOM lines for DTLS 1.2)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")

    def write(self, line: bytes) -> None:
        line = line.rstrip(b"\n")
        with self._lock:
            if line in self._seen:  # both in-process peers log the same session
                return
            self._seen.add(line)
            with self.path.open("ab") as fh:
                fh.write(line + b"\n")
            self.lines += 1


@contextlib.contextmanager
def _keylog_hook(keylog: _KeyLog | None) -> Iterator[None]:
    """Install OpenSSL's key-log callback on every DTLS context aiortc creates meanwhile."""
    if keylog is None:
        yield
        return
    from aiortc.rtcdtlstransport import RTCCertificate

    original = RTCCertificate._create_ssl_context

    def create_ssl_context(self: Any, srtp_profiles: Any) -> Any:
        ctx = original(self, srtp_profiles)
        ctx.set_keylog_callback(lambda _conn, line: keylog.write(line))
        return ctx

    RTCCertificate._create_ssl_context = create_ssl_context  # type: ignore[method-assign]
    try:
        yield
    finally:
        RTCCertificate._create_ssl_context = original  # type: ignore[method-assign]


def _hook_sender(sender: Any, peer: str, kind: str, transform: PayloadTransform | None,
                 sent_codecs: dict[tuple[str, str], tuple[int, str]]) -> None:
    """Wrap the sender's encoder output: record the codec used and apply ``transform``."""
    original = sender._next_encoded_frame

    async def next_encoded_frame(codec: Any) -> Any:
        sent_codecs[(peer, kind)] = (int(codec.payloadType), str(codec.mimeType))
        frame = await original(codec)
        if frame is not None and transform is not None:
            frame.payloads = [transform(kind, sender._ssrc, bytes(p)) for p in frame.payloads]
        return frame

    sender._next_encoded_frame = next_encoded_frame


async def _wait_connected(pcs: tuple[Any, ...], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not all(pc.connectionState == "connected" for pc in pcs):
        if any(pc.connectionState == "failed" for pc in pcs) or loop.time() > deadline:
            states = ", ".join(pc.connectionState for pc in pcs)
            raise RuntimeError(f"lab call did not connect (states: {states})")
        await asyncio.sleep(0.02)


async def _sent_stream(sender: Any, peer: str, kind: str,
                       sent_codecs: dict[tuple[str, str], tuple[int, str]]) -> SentStream:
    stats = [s for s in (await sender.getStats()).values() if getattr(s, "type", "") == "outbound-rtp"]
    pt, codec = sent_codecs.get((peer, kind), (-1, ""))
    return SentStream(peer=peer, kind=kind, ssrc=int(sender._ssrc), payload_type=pt, codec=codec,
                      packets_sent=sum(int(s.packetsSent) for s in stats),
                      bytes_sent=sum(int(s.bytesSent) for s in stats))


def _peer_record(name: str, pc: Any) -> PeerRecord:
    dtls = next(s.transport for s in pc.getSenders() if s.transport is not None)
    connection = dtls.transport._connection
    pair = next(iter(connection._nominated.values()))
    local = pair.local_candidate
    remote = pair.remote_candidate
    profile = None
    with contextlib.suppress(Exception):
        chosen = dtls._ssl.get_selected_srtp_profile()
        profile = chosen.decode() if isinstance(chosen, bytes) else str(chosen)
    return PeerRecord(name=name, dtls_role=str(dtls._role), ice_role=str(dtls.transport.role),
                      local=(str(local.host), int(local.port)), remote=(str(remote.host), int(remote.port)),
                      srtp_profile=profile)
