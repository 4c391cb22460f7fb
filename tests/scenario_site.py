"""A tiny room site on loopback (plain HTTP) for scenario-runner tests that do not need the lab service:
a landing page whose #new-room opens a fresh room, a room page with #name/#join/#status/#lock."""

from __future__ import annotations

import http.server
import secrets
import threading
from typing import Any

LANDING = b"""<!doctype html><title>site</title><button id="new-room" onclick="location.href='/r/'+Math.random().toString(36).slice(2,14)">new</button>"""
ROOM = b"""<!doctype html><title>room</title><input id="name"><button id="join">join</button><button id="lock">lock</button>
<p id="status">lobby</p><script>
document.getElementById('join').onclick = async () => {
  const r = await fetch('/api/join', {method: 'POST', body: document.getElementById('name').value});
  document.getElementById('status').textContent = (await r.text());
};
document.getElementById('lock').onclick = () => fetch('/api/lock', {method: 'POST'}).then(() => {
  const m = document.createElement('p'); m.id = 'locked'; m.textContent = 'locked'; document.body.append(m); });
</script>"""


class ScenarioSite:
    """Threaded HTTP server on 127.0.0.1; ``admit_when_locked`` plays a room that fails to refuse."""

    def __init__(self, admit_when_locked: bool = False) -> None:
        self.locked = False
        self.admit_when_locked = admit_when_locked
        self.paths: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, body: bytes, ctype: str = "text/html") -> None:
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                site.paths.append(self.path)
                self._send(ROOM if self.path.startswith("/r/") else LANDING)

            def do_POST(self) -> None:
                site.paths.append(self.path)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/api/lock":
                    site.locked = True
                refused = self.path == "/api/join" and site.locked and not site.admit_when_locked
                self._send(b"refused" if refused else b"joined", "text/plain")

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.token = secrets.token_hex(4)

    def __enter__(self) -> "ScenarioSite":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"
