"""The lab's signalling: one ``websockets`` connection per page on ``/ws``, JSON messages.

page -> service: ``join {room, name}``, then ``signal {to, data}`` (p2p: an SDP for another
participant), ``sfu-offer {sdp}`` (sfu modes), ``state {mic, camera}``, ``lock``, ``leave``.
service -> page: ``joined {id, mode, peers, locked}`` | ``refused {reason}`` (then the service
closes the connection), ``participants {names, locked}``, ``peer-joined {id, name}``,
``peer-left {id}``, ``signal {from, data}``, ``sfu-answer {sdp}``, ``locked {by}``, ``error {error}``.
Nothing from a participant that was not admitted is ever relayed."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from confaudit.lab.rooms.browser_sfu import RoomSfu
from confaudit.lab.rooms.state import LabProfile, Participant, Room, RoomRegistry

MAX_NAME = 64
REFUSED_CLOSE_CODE = 4403
"""WebSocket close code after a refused join (4000-4999: application codes)."""


@dataclass
class Signalling:
    """The ``websockets`` handler of the lab room service."""

    profile: LabProfile
    registry: RoomRegistry
    sfu: RoomSfu | None
    events: list[dict[str, Any]] = field(default_factory=list)
    """What the service decided, in order: {ts, event: join|refused|lock|leave|sfu-connect, room, participant, ...}."""
    _connections: dict[str, Any] = field(default_factory=dict)

    def _record(self, event: str, room: Room, participant: Participant, **extra: Any) -> None:
        self.events.append({"ts": time.time(), "event": event, "room": room.id, "participant": participant.name,
                            "participant_id": participant.id, **extra})

    async def handler(self, ws: Any) -> None:
        """Serve one page's WebSocket until it leaves or disconnects."""
        from websockets.exceptions import ConnectionClosed

        room: Room | None = None
        me: Participant | None = None
        try:
            async for raw in ws:
                message = _parse(raw) or {}  # not JSON, or not an object: a message without a type
                kind = message.get("type")
                if me is None or room is None:
                    if kind != "join":
                        await _send(ws, {"type": "error", "error": "join first"})
                        continue
                    room = self.registry.get(str(message.get("room", "")))
                    if room is None:
                        await _send(ws, {"type": "error", "error": "no such room"})
                        await ws.close(4404, "no such room")
                        return
                    candidate = Participant(secrets.token_hex(6), str(message.get("name") or "guest")[:MAX_NAME])
                    outcome = room.join(candidate, self.profile)
                    self._record("join" if outcome.admitted else "refused", room, candidate, reason=outcome.reason)
                    if not outcome.admitted:
                        await _send(ws, {"type": "refused", "reason": outcome.reason})
                        await ws.close(REFUSED_CLOSE_CODE, "refused")
                        return
                    me = candidate
                    self._connections[me.id] = ws
                    peers = [{"id": p.id, "name": p.name} for p in room.admitted() if p.id != me.id]
                    await _send(ws, {"type": "joined", "id": me.id, "mode": self.profile.mode, "peers": peers,
                                     "locked": room.locked})
                    await self._broadcast(room, {"type": "peer-joined", "id": me.id, "name": me.name}, skip=me.id)
                    await self._participants(room)
                elif kind == "signal" and self.profile.mode == "p2p":
                    target = room.participants.get(str(message.get("to", "")))
                    if target is not None and target.admitted and target.id in self._connections:
                        await _send(self._connections[target.id], {"type": "signal", "from": me.id,
                                                                   "data": message.get("data")})
                elif kind == "sfu-offer" and self.sfu is not None:
                    try:
                        answer = await self.sfu.connect(room.id, me.id, str(message.get("sdp", "")))
                    except ValueError as error:  # aiortc's word on an SDP it cannot use
                        await _send(ws, {"type": "error", "error": f"sfu-offer: {error}"})
                        continue
                    self._record("sfu-connect", room, me)
                    await _send(ws, {"type": "sfu-answer", "sdp": answer})
                elif kind == "state":
                    me.mic, me.camera = bool(message.get("mic", me.mic)), bool(message.get("camera", me.camera))
                    await self._participants(room)
                elif kind == "lock":
                    room.locked = True
                    self._record("lock", room, me)
                    await self._broadcast(room, {"type": "locked", "by": me.name})
                    await self._participants(room)
                elif kind == "leave":
                    break
                else:
                    await _send(ws, {"type": "error", "error": f"unexpected message {kind!r}"})
        except ConnectionClosed:
            pass
        finally:
            if me is not None and room is not None:
                room.leave(me.id)
                self._connections.pop(me.id, None)
                self._record("leave", room, me)
                if self.sfu is not None:
                    await self.sfu.disconnect(room.id, me.id)
                await self._broadcast(room, {"type": "peer-left", "id": me.id})
                await self._participants(room)

    async def _participants(self, room: Room) -> None:
        names = [{"id": p.id, "name": p.name, "mic": p.mic, "camera": p.camera} for p in room.admitted()]
        await self._broadcast(room, {"type": "participants", "participants": names, "locked": room.locked})

    async def _broadcast(self, room: Room, message: dict[str, Any], skip: str | None = None) -> None:
        for participant in room.admitted():
            ws = self._connections.get(participant.id)
            if ws is not None and participant.id != skip:
                await _send(ws, message)

    async def close(self) -> None:
        """Close every page's connection (going away)."""
        for ws in list(self._connections.values()):
            await ws.close(1001, "lab service stopping")


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


async def _send(ws: Any, message: dict[str, Any]) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        await ws.send(json.dumps(message))
    except ConnectionClosed:  # the page went away meanwhile; its own handler cleans up
        pass
