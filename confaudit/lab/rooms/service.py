"""The lab room service: HTTPS pages, ``websockets`` signalling, telemetry, and (sfu modes) an SFU,
all on 127.0.0.1, for scenario runs and tests. See docs/lab.md for modes, DOM contract and profile."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from confaudit.lab.rooms.front import HttpRequest, HttpResponse, HttpsFront
from confaudit.lab.rooms.signalling import Signalling
from confaudit.lab.rooms.state import ROOM_ID_PATTERN, LabProfile, RoomRegistry

ROOM_HOST = "rooms.example-rooms.test"
"""The lab service's first-party host (pages, /api, /ws)."""
TRACKER_HOST = "telemetry.tracker.test"
"""Third-party-like analytics host the pages beacon to (served by the same service)."""
STATIC = {"room.js": "text/javascript; charset=utf-8", "e2ee-worker.js": "text/javascript; charset=utf-8"}


def _static(name: str) -> bytes:
    return resources.files("confaudit.lab.rooms").joinpath("static", name).read_bytes()


@dataclass
class RunningLab:
    """A started lab room service (valid inside ``LabRoomService.running()``)."""

    profile: LabProfile
    """The profile it runs with."""
    https_port: int
    """TLS port on 127.0.0.1 serving every lab host."""
    cert_pem: bytes
    """Its self-signed certificate (for ROOM_HOST, TRACKER_HOST and 127.0.0.1)."""
    registry: RoomRegistry
    """Rooms created so far."""
    signalling: Signalling
    """Signalling state; ``signalling.events`` is the service's own log of joins, refusals, locks, leaves."""
    telemetry: list[dict[str, Any]] = field(default_factory=list)
    """Every beacon received: {ts, host, path, event, body} (first-party /api/telemetry and the tracker)."""

    @property
    def routes(self) -> dict[str, int]:
        """host -> loopback port, for the capture proxy's LabResolver addon."""
        return {ROOM_HOST: self.https_port, TRACKER_HOST: self.https_port}

    def url(self, path: str = "/") -> str:
        """The public URL of ``path`` on the room host (what a browser is sent to)."""
        return f"https://{ROOM_HOST}{path}"

    def direct_chromium_args(self) -> list[str]:
        """Chromium flags to reach the service without the capture proxy (tests): the lab hosts resolve
        to this port, its self-signed certificate is accepted, loopback ICE candidates are gathered."""
        rules = ", ".join(f"MAP {host}:443 127.0.0.1:{self.https_port}" for host in self.routes)
        return [f"--host-resolver-rules={rules}, EXCLUDE localhost", "--ignore-certificate-errors",
                "--allow-loopback-in-peer-connection"]


class LabRoomService:
    """``async with LabRoomService(LabProfile(mode="p2p")).running() as lab: ...``"""

    def __init__(self, profile: LabProfile | None = None, sfu_keylog: Path | None = None) -> None:
        self.profile = profile or LabProfile()
        self.sfu_keylog = sfu_keylog
        """Where the SFU writes the NSS key log of its DTLS sessions (sfu modes; None: no key log). The
        service plays the vendor: this is what a vendor could read at its transport end, so the audit can
        show that in an sfu room the media is readable there and in an sfu-e2ee room it is not."""

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RunningLab]:
        """Start the service on free loopback ports; stop it (pages' connections and SFU included) on exit."""
        from websockets.asyncio.server import unix_serve

        from confaudit.lab.loopback import self_signed_cert
        from confaudit.lab.rooms.browser_sfu import RoomSfu

        logged_certificates: set[int] = set()
        with tempfile.TemporaryDirectory(prefix="confaudit-lab-rooms-") as tmp, \
                _loopback_ice(self.profile, self.sfu_keylog, logged_certificates):
            cert, key = self_signed_cert([ROOM_HOST, TRACKER_HOST], Path(tmp))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            context.set_alpn_protocols(["http/1.1"])
            sfu = RoomSfu(logged_certificates) if self.profile.mode != "p2p" else None
            signalling = Signalling(self.profile, RoomRegistry(), sfu)
            socket_path = str(Path(tmp) / "ws.sock")
            async with unix_serve(signalling.handler, socket_path, ping_interval=None):
                lab = RunningLab(self.profile, 0, cert.read_bytes(), signalling.registry, signalling)
                front = HttpsFront(_Routes(lab).handle, socket_path)
                server = await asyncio.start_server(front.client, "127.0.0.1", 0, ssl=context)
                lab.https_port = server.sockets[0].getsockname()[1]
                try:
                    yield lab
                finally:
                    server.close()
                    await front.close_clients()
                    await signalling.close()
                    if sfu is not None:
                        await sfu.close()


@contextlib.contextmanager
def _loopback_ice(profile: LabProfile, keylog: Path | None, logged_certificates: set[int]) -> Any:
    """The SFU gathers 127.0.0.1 candidates only (nothing leaves the machine); DTLS contexts made from the
    certificates in ``logged_certificates`` (the SFU's, added as it connects) log their secrets to ``keylog``."""
    if profile.mode == "p2p":
        yield
        return
    from confaudit.lab.sfu import _lab_environment

    with _lab_environment(keylog, logged_certificates):
        yield


@dataclass
class _Routes:
    """The service's HTTP routes (every host it serves)."""

    lab: RunningLab

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path.split("?", 1)[0]
        if request.host == TRACKER_HOST:
            if request.method == "POST" and path == "/collect":
                self._beacon(request)
                return HttpResponse(204)
            return HttpResponse(404, body=b"not found")
        if request.host not in (ROOM_HOST, "127.0.0.1", "localhost"):
            return HttpResponse(421, body=b"misdirected request")
        if request.method == "GET" and path == "/":
            page = _static("landing.html").decode().replace("__MODE__", self.lab.profile.mode)
            return HttpResponse(200, "text/html; charset=utf-8", page.replace("__TRACKER__", TRACKER_HOST).encode())
        if request.method == "POST" and path == "/api/rooms":
            room = self.lab.registry.create()
            body = json.dumps({"id": room.id, "path": f"/r/{room.id}", "url": self.lab.url(f"/r/{room.id}")})
            return HttpResponse(201, "application/json", body.encode())
        if request.method == "GET" and path.startswith("/r/"):
            room_id = path[3:]
            if not ROOM_ID_PATTERN.fullmatch(room_id) or self.lab.registry.get(room_id) is None:
                return HttpResponse(404, "text/html; charset=utf-8", b"<!doctype html><p id='status'>no such room</p>")
            return HttpResponse(200, "text/html; charset=utf-8", self._room_page(room_id))
        if request.method == "POST" and path == "/api/telemetry":
            self._beacon(request)
            return HttpResponse(204)
        if request.method == "GET" and path.startswith("/static/") and path[8:] in STATIC:
            return HttpResponse(200, STATIC[path[8:]], _static(path[8:]))
        if path == "/favicon.ico":
            return HttpResponse(204)
        return HttpResponse(404, body=b"not found")

    def _room_page(self, room_id: str) -> bytes:
        from confaudit.lab.rooms.browser_sfu import SLOTS

        config = json.dumps({"room": room_id, "mode": self.lab.profile.mode, "slots": SLOTS,
                             "send_while_muted": self.lab.profile.send_while_muted,
                             "tracker": f"https://{TRACKER_HOST}/collect"}).replace("<", "\\u003c")
        return _static("room.html").decode().replace("__CONFIG__", config).encode()

    def _beacon(self, request: HttpRequest) -> None:
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            body = {"raw": request.body[:200].decode("utf-8", "replace")}
        event = body.get("event") if isinstance(body, dict) else None
        self.lab.telemetry.append({"ts": time.time(), "host": request.host, "path": request.path,
                                   "event": event, "body": body})
