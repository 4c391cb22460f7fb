"""Rooms of the lab room service: ids, participants, the lock and the join decision (pure state,
no I/O; the signalling handler and the SFU act on what these return)."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["p2p", "sfu", "sfu-e2ee"]
MODES: tuple[str, ...] = ("p2p", "sfu", "sfu-e2ee")
ROOM_ID_LENGTH = 16
ROOM_ID_ALPHABET = string.ascii_letters + string.digits
ROOM_ID_PATTERN = re.compile(r"[A-Za-z0-9]{16}")
"""What a room id looks like: 16 characters from [A-Za-z0-9] (about 95 bits), with upper and lower case."""
MAX_PARTICIPANTS = 4
"""Admitted participants per room (the SFU gives each one a media slot per other participant)."""


@dataclass(frozen=True)
class LabProfile:
    """How the lab room service behaves."""

    mode: Mode = "p2p"
    """"p2p": browsers connect to each other, the service relays signalling only; "sfu": each browser
    sends its media to the service's SFU, which forwards it; "sfu-e2ee": as "sfu", with the pages
    encrypting every encoded frame (key in the room link's #fragment, never sent to the service)."""
    fail_to_refuse: bool = False
    """Fault to audit for: a locked room admits late joiners anyway (the room_lock check's
    contradicted case)."""
    send_while_muted: bool = False
    """Fault to audit for: mute only disables the microphone track (``track.enabled = false``), so the
    page keeps sending audio RTP (silence frames) while muted (the no_audio_while_muted check's contradicted
    case). By default mute detaches the track from every audio sender (``replaceTrack(null)``): no audio RTP."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"lab mode must be one of {', '.join(MODES)}, not {self.mode!r}")


def new_room_id() -> str:
    """A fresh room id from ``secrets``: mixed case (both cases present) and digits, ROOM_ID_LENGTH long."""
    while True:
        candidate = "".join(secrets.choice(ROOM_ID_ALPHABET) for _ in range(ROOM_ID_LENGTH))
        if any(c.islower() for c in candidate) and any(c.isupper() for c in candidate):
            return candidate


@dataclass
class Participant:
    """One browser in a room (admitted or not)."""

    id: str
    """Service-assigned participant id (random, per WebSocket)."""
    name: str
    """Display name the page sent."""
    admitted: bool = False
    """True once the join was accepted; signalling and media are relayed for admitted participants only."""
    mic: bool = True
    """Microphone on (as the page reports it)."""
    camera: bool = True
    """Camera on (as the page reports it)."""


@dataclass(frozen=True)
class JoinOutcome:
    """What the service answered to a join."""

    admitted: bool
    """True: joined; False: refused."""
    reason: str
    """"open", "locked" (refused), "locked-but-admitted" (fail_to_refuse), "full" (refused)."""


@dataclass
class Room:
    """State of one room."""

    id: str
    """Room id (ROOM_ID_PATTERN)."""
    locked: bool = False
    """Set by a participant's lock; later joiners are refused (unless the profile fails to refuse)."""
    participants: dict[str, Participant] = field(default_factory=dict)
    """participant id -> participant, in join order."""
    refused: list[str] = field(default_factory=list)
    """Names of participants whose join was refused, in order."""

    def admitted(self) -> list[Participant]:
        """Admitted participants in join order."""
        return [p for p in self.participants.values() if p.admitted]

    def join(self, participant: Participant, profile: LabProfile) -> JoinOutcome:
        """Decide on ``participant``'s join and record it."""
        if len(self.admitted()) >= MAX_PARTICIPANTS:
            outcome = JoinOutcome(False, "full")
        elif self.locked and not profile.fail_to_refuse:
            outcome = JoinOutcome(False, "locked")
        else:
            outcome = JoinOutcome(True, "locked-but-admitted" if self.locked else "open")
        participant.admitted = outcome.admitted
        if outcome.admitted:
            self.participants[participant.id] = participant
        else:
            self.refused.append(participant.name)
        return outcome

    def leave(self, participant_id: str) -> Participant | None:
        """Remove a participant; returns it (None when it was not in the room)."""
        return self.participants.pop(participant_id, None)


@dataclass
class RoomRegistry:
    """Every room the service created (a room exists only once a landing page asked for it)."""

    rooms: dict[str, Room] = field(default_factory=dict)
    """room id -> room."""

    def create(self) -> Room:
        """A new room with a fresh id."""
        room_id = new_room_id()
        while room_id in self.rooms:  # pragma: no cover - 95 bits
            room_id = new_room_id()
        room = self.rooms[room_id] = Room(room_id)
        return room

    def get(self, room_id: str) -> Room | None:
        """The room with that id, or None (unknown ids are not created on the fly)."""
        return self.rooms.get(room_id)
