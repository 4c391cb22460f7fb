"""A lab SFU call on loopback: two aiortc participants, each with its own DTLS-SRTP session to an
aiortc "server" that terminates SRTP and forwards the ENCODED media to the other participant
(payloads are passed through untouched, as a real SFU does; the SFU never re-encodes).

Media is readable at the server unless the participants encrypt frames inside (``payload_transform``,
e.g. ``confaudit.lab.e2ee_transform.FrameEncryptor``). The key log holds only the auditor's
("alice") DTLS secrets, like an auditor who can log only their own endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PayloadTransform = Callable[[str, int, bytes], bytes]
LOOPBACK = "127.0.0.1"
FORWARDED_CODECS = frozenset({"opus", "vp8"})


@dataclass(frozen=True)
class SfuCallRecord:
    """What the lab SFU call sent and forwarded."""

    sent: dict[str, dict[str, int]]
    """participant -> kind -> SSRC the participant sent to the SFU."""
    forwarded: dict[str, dict[str, int]]
    """participant -> kind -> SSRC the SFU sent to that participant (the other one's media)."""
    forwarded_frames: int
    """Encoded frames the SFU forwarded (both directions)."""
    keylog_lines: int
    """Key-log lines written (the auditor's sessions only)."""
    ports: dict[str, int] = field(default_factory=dict)
    """participant -> local UDP port of its media path."""


RECENT_FRAMES = 30
"""Frames a fan-out keeps for inspection (tests read what the SFU could read)."""


class FrameFanOut:
    """Re-assembles one sender's received RTP payloads (one kind) into encoded frames and queues a copy
    for every subscribed queue (a forwarded sender takes its frames from one)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.subscribers: set[asyncio.Queue] = set()
        """Queues that get a copy of every frame (a full queue misses it)."""
        self._payloads: list[bytes] = []
        self._timestamp: int | None = None
        self._origin: int | None = None
        self.frames = 0
        """Frames assembled from this sender's media."""
        self.recent: deque[tuple[bytes, ...]] = deque(maxlen=RECENT_FRAMES)
        """The last frames as the SFU saw them (RTP payloads of each): what an SFU operator could read."""

    def push(self, payload: bytes, timestamp: int, marker: bool) -> None:
        if self._origin is None:
            self._origin = timestamp
        if self._timestamp is not None and timestamp != self._timestamp and self._payloads:
            self._emit()
        self._timestamp = timestamp
        self._payloads.append(payload)
        if self.kind == "audio" or marker:
            self._emit()

    def _emit(self) -> None:
        from aiortc.rtcrtpsender import RTCEncodedFrame

        assert self._timestamp is not None and self._origin is not None
        timestamp = (self._timestamp - self._origin) & 0xFFFFFFFF
        for queue in self.subscribers:
            if not queue.full():
                # No audio level (None): aiortc's own sender passes None too, and checks for it, but annotates an int.
                queue.put_nowait(RTCEncodedFrame(list(self._payloads), timestamp, None))  # type: ignore[arg-type]
        self.recent.append(tuple(self._payloads))
        self._payloads = []
        self.frames += 1

    def subscribe(self, maxsize: int = 500) -> asyncio.Queue:
        """A new queue that gets every frame from now on."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=maxsize)
        self.subscribers.add(queue)
        return queue


def _placeholder_track(kind: str) -> Any:
    from aiortc import MediaStreamTrack

    class ForwardedTrack(MediaStreamTrack):
        """Only makes aiortc start the sender; frames come from the forwarder, never from recv()."""

        def __init__(self) -> None:
            super().__init__()
            self.kind = kind

        async def recv(self) -> Any:  # pragma: no cover - the sender's frame source is replaced
            await asyncio.sleep(3600)

    return ForwardedTrack()


def _forward_sender(sender: Any, frames: asyncio.Queue) -> None:
    async def next_encoded_frame(codec: Any) -> Any:
        return await frames.get()

    sender._next_encoded_frame = next_encoded_frame


def _tap_receiver(receiver: Any, forwarder: FrameFanOut) -> None:
    original = receiver._handle_rtp_packet
    codecs = receiver._RTCRtpReceiver__codecs

    async def handle(packet: Any, arrival_time_ms: int) -> None:
        codec = codecs.get(packet.payload_type)
        if codec is not None and codec.name.lower() in FORWARDED_CODECS and packet.payload:
            forwarder.push(bytes(packet.payload), packet.timestamp, bool(packet.marker))
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle


def _transform_sender(sender: Any, kind: str, transform: PayloadTransform) -> None:
    original = sender._next_encoded_frame

    async def next_encoded_frame(codec: Any) -> Any:
        frame = await original(codec)
        if frame is not None:
            frame.payloads = [transform(kind, sender._ssrc, bytes(p)) for p in frame.payloads]
        return frame

    sender._next_encoded_frame = next_encoded_frame


@contextlib.contextmanager
def _lab_environment(keylog: Path | None, logged_certificates: set[int]) -> Iterator[list[int]]:
    """Loopback-only ICE, and a key log restricted to contexts made from the auditor's certificate."""
    import aioice.ice
    from aiortc.rtcdtlstransport import RTCCertificate

    original_hosts = aioice.ice.get_host_addresses
    original_ctx = RTCCertificate._create_ssl_context
    lines: list[int] = [0]
    seen: set[bytes] = set()
    lock = threading.Lock()

    def write(line: bytes) -> None:
        from confaudit.session.directory import open_private

        with lock:
            if keylog is None or line in seen:
                return
            # Created (owner-only: session keys) at the first secret, truncating an older log: a scenario run
            # starts the lab before the capture creates its session directory, which must be empty then.
            with open_private(keylog, "ab" if seen else "wb") as fh:
                fh.write(line.rstrip(b"\n") + b"\n")
            seen.add(line)
            lines[0] += 1

    def create_ssl_context(self: Any, srtp_profiles: Any) -> Any:
        ctx = original_ctx(self, srtp_profiles)
        if id(self) in logged_certificates:
            ctx.set_keylog_callback(lambda _conn, line: write(line))
        return ctx

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOOPBACK]
    RTCCertificate._create_ssl_context = create_ssl_context  # type: ignore[method-assign]
    try:
        yield lines
    finally:
        aioice.ice.get_host_addresses = original_hosts
        RTCCertificate._create_ssl_context = original_ctx  # type: ignore[method-assign]


def run_sfu_call(duration: float = 3.0, *, keylog_path: str | Path | None = None,
                 capture_path: str | Path | None = None,
                 payload_transform: PayloadTransform | None = None, canary: Any = None) -> SfuCallRecord:
    """Run the SFU call for ``duration`` seconds of media; see the module docstring. ``canary`` (a
    confaudit.canary.CanaryMedia): both participants play it instead of the built-in tone and bars."""
    return asyncio.run(sfu_call(duration, keylog_path=keylog_path, capture_path=capture_path,
                                payload_transform=payload_transform, canary=canary))


async def sfu_call(duration: float = 3.0, *, keylog_path: str | Path | None = None,
                   capture_path: str | Path | None = None,
                   payload_transform: PayloadTransform | None = None, canary: Any = None) -> SfuCallRecord:
    from aiortc import RTCConfiguration, RTCPeerConnection

    from confaudit.lab.tracks import canary_tracks, pattern_track, tone_track

    names = ("alice", "bob")
    clients = {n: RTCPeerConnection(RTCConfiguration(iceServers=[])) for n in names}
    server = {n: RTCPeerConnection(RTCConfiguration(iceServers=[])) for n in names}
    # aiortc keeps a connection's DTLS certificates in a private (name-mangled) attribute mypy does not model.
    alice_cert = clients["alice"]._RTCPeerConnection__certificates[0]  # type: ignore[attr-defined]
    forwarders = {(n, k): FrameFanOut(k) for n in names for k in ("audio", "video")}
    sniffer = None
    with _lab_environment(Path(keylog_path) if keylog_path else None, {id(alice_cert)}) as lines:
        try:
            for name, pc in clients.items():
                makers = canary_tracks(canary) if canary is not None else {"audio": tone_track, "video": pattern_track}
                for kind, track in (("audio", makers["audio"]()), ("video", makers["video"]())):
                    sender = pc.addTrack(track)
                    if payload_transform is not None:
                        _transform_sender(sender, kind, payload_transform)
            for name in names:  # gathering happens here: the clients' ports are known from now on
                await clients[name].setLocalDescription(await clients[name].createOffer())
            if capture_path is not None:  # every packet of the call has a client port on one side
                sniffer = _start_sniffer(Path(capture_path), [clients[n].localDescription.sdp for n in names])
            for name in names:
                other = "bob" if name == "alice" else "alice"
                await server[name].setRemoteDescription(clients[name].localDescription)
                for receiver in server[name].getReceivers():
                    _tap_receiver(receiver, forwarders[(name, receiver.track.kind)])
                for kind in ("audio", "video"):
                    _forward_sender(server[name].addTrack(_placeholder_track(kind)), forwarders[(other, kind)].subscribe())
                await server[name].setLocalDescription(await server[name].createAnswer())
                await clients[name].setRemoteDescription(server[name].localDescription)
            await _wait_connected([*clients.values(), *server.values()], 15.0)
            await asyncio.sleep(duration)
            sent = {n: {s.track.kind: int(s._ssrc) for s in clients[n].getSenders() if s.track} for n in names}
            forwarded = {n: {s.track.kind: int(s._ssrc) for s in server[n].getSenders() if s.track} for n in names}
            ports = {n: _local_port(clients[n]) for n in names}
        finally:
            for pc in (*clients.values(), *server.values()):
                await pc.close()
            if sniffer is not None:
                await asyncio.sleep(0.2)
                sniffer.stop()
    return SfuCallRecord(sent=sent, forwarded=forwarded, forwarded_frames=sum(f.frames for f in forwarders.values()),
                         keylog_lines=lines[0], ports=ports)


def _local_port(pc: Any) -> int:
    dtls = next(s.transport for s in pc.getSenders() if s.transport is not None)
    pair = next(iter(dtls.transport._connection._nominated.values()))
    return int(pair.local_candidate.port)


def _start_sniffer(path: Path, sdps: list[str]) -> Any:
    from confaudit.live.sniffer import PacketSniffer

    ports = {int(line.split()[5]) for sdp in sdps for line in sdp.splitlines()
             if line.startswith("a=candidate:") and len(line.split()) > 5}
    sniffer = PacketSniffer("lo", path, port_filter=ports)
    sniffer.start()
    return sniffer


async def _wait_connected(pcs: list[Any], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not all(pc.connectionState == "connected" for pc in pcs):
        if any(pc.connectionState == "failed" for pc in pcs) or loop.time() > deadline:
            raise RuntimeError(f"lab SFU call did not connect (states: {[pc.connectionState for pc in pcs]})")
        await asyncio.sleep(0.02)
