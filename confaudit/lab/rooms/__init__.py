"""The lab room service (loopback): landing page, rooms with lobby/join/mute/camera/lock/leave,
``websockets`` signalling, p2p / SFU / SFU-with-inner-E2EE media, telemetry. docs/lab.md."""

from confaudit.lab.rooms.service import ROOM_HOST, TRACKER_HOST, LabRoomService, RunningLab
from confaudit.lab.rooms.state import MODES, ROOM_ID_PATTERN, LabProfile, new_room_id

__all__ = ["LabProfile", "LabRoomService", "MODES", "ROOM_HOST", "ROOM_ID_PATTERN", "RunningLab", "TRACKER_HOST",
           "new_room_id"]
