"""A tiny room site for scenario-runner tests that do not need the lab service: a landing page whose
#new-room opens a fresh room (16 random mixed-case characters), a room page with #name/#join/#status/#lock.
Served over HTTPS by the lab's TlsUpstream (through the proxy's routes) or over plain HTTP on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from typing import Any

HOST = "rooms.example-rooms.test"
LANDING = b"""<!doctype html><title>site</title><button id="new-room" onclick="
const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
location.href = '/r/' + Array.from(crypto.getRandomValues(new Uint8Array(16)), b => abc[b % 62]).join('');">new</button>"""
ROOM = b"""<!doctype html><title>room</title><input id="name"><button id="join">join</button><button id="lock">lock</button>
<p id="status">lobby</p><script>
document.getElementById('join').onclick = async () => {
  const r = await fetch('/api/join', {method: 'POST', body: document.getElementById('name').value});
  document.getElementById('status').textContent = (await r.text());
};
document.getElementById('lock').onclick = () => fetch('/api/lock', {method: 'POST'}).then(() => {
  const m = document.createElement('p'); m.id = 'locked'; m.textContent = 'locked'; document.body.append(m); });
</script>"""


class RoomSite:
    """The site's behaviour; ``admit_when_locked`` plays a service that fails to refuse a late joiner."""

    def __init__(self, admit_when_locked: bool = False) -> None:
        self.locked = False
        self.admit_when_locked = admit_when_locked
        self.paths: list[str] = []
        self.joined: list[str] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        self.paths.append(path)
        if method == "GET":
            return 200, "text/html", ROOM if path.startswith("/r/") else LANDING
        if path == "/api/lock":
            self.locked = True
        if path == "/api/join":
            if self.locked and not self.admit_when_locked:
                return 200, "text/plain", b"refused"
            self.joined.append(body.decode("utf-8", "replace"))
        return 200, "text/plain", b"joined"


class PlainSite:
    """``RoomSite`` over plain HTTP on 127.0.0.1 (a threaded server; a context manager)."""

    def __init__(self, site: RoomSite) -> None:
        self.site = site

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, ctype, out = site.handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> "PlainSite":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
