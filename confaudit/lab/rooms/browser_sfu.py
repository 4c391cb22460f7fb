"""The lab room service's SFU for browsers: one aiortc peer connection per admitted participant,
terminating its DTLS-SRTP and forwarding the ENCODED media (payloads untouched, never re-encoded)
to every other participant of the room, as confaudit/lab/sfu.py does for two aiortc clients.

Each page offers its own audio+video (sendrecv) plus recvonly pairs, one pair per possible other
participant ("slots"), so a late joiner is forwarded into a slot that was negotiated up front and
no renegotiation is needed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confaudit.lab.rooms.state import MAX_PARTICIPANTS

if TYPE_CHECKING:
    from confaudit.lab.sfu import FrameFanOut

SLOTS = MAX_PARTICIPANTS - 1
"""Media slots per participant: one audio+video pair per other participant."""
KINDS = ("audio", "video")


@dataclass
class SfuPeer:
    """The SFU side of one participant."""

    pc: Any
    """aiortc RTCPeerConnection to the participant's browser."""
    sources: dict[str, "FrameFanOut"]
    """kind -> what this participant sends (tapped from its receivers)."""
    slot_queues: list[dict[str, asyncio.Queue]]
    """slot -> kind -> queue the slot's sender takes frames from."""
    slot_owner: list[str | None] = field(default_factory=lambda: [None] * SLOTS)
    """slot -> participant id forwarded into it (None: free)."""


class RoomSfu:
    """SFU for every room of one service; rooms never see each other's media."""

    def __init__(self, logged_certificates: set[int] | None = None) -> None:
        self.peers: dict[tuple[str, str], SfuPeer] = {}
        self.logged_certificates = logged_certificates if logged_certificates is not None else set()
        """ids of the DTLS certificates whose sessions go to the service's SFU key log."""

    async def connect(self, room_id: str, participant_id: str, offer_sdp: str) -> str:
        """Answer a participant's offer; forward its media to the room and the room's to it."""
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        from confaudit.lab.sfu import FrameFanOut, _forward_sender, _placeholder_track, _tap_receiver

        await self.disconnect(room_id, participant_id)
        # max-bundle: with aiortc's default (balanced) the third and later m-lines of a kind keep the
        # transport of the first one of that kind, which BUNDLE then drops: the second video slot never sent.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        # aiortc keeps a connection's DTLS certificates in a private (name-mangled) attribute mypy does not model.
        self.logged_certificates.update(id(c) for c in pc._RTCPeerConnection__certificates)  # type: ignore[attr-defined]
        peer = SfuPeer(pc=pc, sources={k: FrameFanOut(k) for k in KINDS},
                       slot_queues=[{k: asyncio.Queue(maxsize=300) for k in KINDS} for _ in range(SLOTS)])
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            tapped: set[str] = set()
            for transceiver in pc.getTransceivers():  # the page's own tracks come first, one per kind
                if transceiver.kind in KINDS and transceiver.kind not in tapped:
                    tapped.add(transceiver.kind)
                    _tap_receiver(transceiver.receiver, peer.sources[transceiver.kind])
            for kind in KINDS:
                for slot in range(SLOTS):
                    sender = pc.addTrack(_placeholder_track(kind))
                    _forward_sender(sender, peer.slot_queues[slot][kind])
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await pc.close()
            raise
        self.peers[(room_id, participant_id)] = peer
        for (other_room, other_id), other in self.peers.items():
            if other_room == room_id and other_id != participant_id:
                _subscribe(other, peer, participant_id)
                _subscribe(peer, other, other_id)
        return pc.localDescription.sdp

    async def disconnect(self, room_id: str, participant_id: str) -> None:
        """Stop forwarding a participant's media and close its connection."""
        peer = self.peers.pop((room_id, participant_id), None)
        if peer is None:
            return
        for (other_room, _), other in self.peers.items():
            if other_room != room_id:
                continue
            for queues in peer.slot_queues:
                for kind in KINDS:
                    other.sources[kind].subscribers.discard(queues[kind])
            for slot, owner in enumerate(other.slot_owner):
                if owner == participant_id:
                    other.slot_owner[slot] = None
                    for kind in KINDS:
                        peer.sources[kind].subscribers.discard(other.slot_queues[slot][kind])
        await peer.pc.close()

    def forwarded_frames(self, room_id: str, participant_id: str) -> int:
        """Frames the SFU assembled from that participant's media (0: none arrived)."""
        peer = self.peers.get((room_id, participant_id))
        return sum(s.frames for s in peer.sources.values()) if peer else 0

    async def close(self) -> None:
        """Close every connection."""
        for room_id, participant_id in list(self.peers):
            await self.disconnect(room_id, participant_id)


def _subscribe(receiver: SfuPeer, source: SfuPeer, source_id: str) -> None:
    """Forward ``source``'s media into the first free slot of ``receiver``."""
    if source_id in receiver.slot_owner or None not in receiver.slot_owner:
        return
    slot = receiver.slot_owner.index(None)
    receiver.slot_owner[slot] = source_id
    for kind in KINDS:
        source.sources[kind].subscribers.add(receiver.slot_queues[slot][kind])
