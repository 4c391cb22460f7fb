"""Live: real Chromium -> real mitmproxy (with the confaudit addon) -> lab web server, all on loopback.

The room page sends the User-Agent, screen size, time zone and a SHA-256 of the auditor's e-mail
(hashed in the browser with WebCrypto) to the first party, and the room name and participants to
a third party; the control page sends only build/status fields to both. The analysis must report
exactly those categories per party, and nothing but ``technical`` for the control page.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import require_binary

EMAIL = "auditor.one@example.org"
ROOM = "Orchid Strategy Room"
PEOPLE = ["Ada Lovelace", "Grace Hopper"]
FIRST = "http://api.example-rooms.test"
THIRD = "http://collect.tracker.test"

ROOM_PAGE = f"""<!doctype html><title>room</title><script>
(async () => {{
  const hex = b => Array.from(new Uint8Array(b)).map(x => x.toString(16).padStart(2, '0')).join('');
  const uh = hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode({json.dumps(EMAIL)})));
  const post = (url, obj) => fetch(url, {{method: 'POST', mode: 'no-cors', body: JSON.stringify(obj)}});
  await post('{FIRST}/v1/t', {{ua: navigator.userAgent, scr: screen.width + 'x' + screen.height,
                               zone: Intl.DateTimeFormat().resolvedOptions().timeZone, uh: uh}});
  await post('{THIRD}/e', {{r: {json.dumps(ROOM)}, p: {json.dumps(PEOPLE)}}});
  location.href = '/control.html';
}})();
</script>"""

CONTROL_PAGE = f"""<!doctype html><title>control</title><script>
(async () => {{
  const post = (url, obj) => fetch(url, {{method: 'POST', mode: 'no-cors', body: JSON.stringify(obj)}});
  await post('{FIRST}/v1/control', {{build: '4.2.1', ok: true, n: 3}});
  await post('{THIRD}/control', {{build: '4.2.1', ok: true, n: 3}});
  await fetch('/done');
}})();
</script>"""

# One script loads both addons: the confaudit recorder (as addons/confaudit.py does) and the redirect.
LAB_ADDONS = """
from mitmproxy import http

from confaudit.capture.mitm_addon import ConfauditAddon

PORT = {port}

class LabRedirect:
    def requestheaders(self, flow):
        if not flow.request.pretty_host.endswith(".test"):
            flow.response = http.Response.make(404)  # no network: answer the browser's background noise

    def server_connect(self, data):
        data.server.address = ("127.0.0.1", PORT)

addons = [ConfauditAddon(), LabRedirect()]
"""


class _LabServer(ThreadingHTTPServer):
    done = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        pages = {"/room.html": ROOM_PAGE, "/control.html": CONTROL_PAGE}
        if self.path in pages:
            self._reply(200, pages[self.path].encode(), "text/html; charset=utf-8")
        elif self.path == "/done":
            self._reply(204)
            self.server.done.set()  # type: ignore[attr-defined]
        else:
            self._reply(404)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(204)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mitmdump exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("mitmdump did not start listening")


@pytest.fixture(scope="module")
def live_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium = require_binary("chromium")
    mitmdump = Path(sys.executable).with_name("mitmdump")
    if not mitmdump.exists():
        pytest.skip("mitmdump is not installed in this environment")
    tmp = tmp_path_factory.mktemp("live")
    server = _LabServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    addon = tmp / "lab_addons.py"
    addon.write_text(LAB_ADDONS.format(port=server.server_address[1]))
    session_dir = tmp / "session"
    proxy_port = _free_port()
    env = dict(os.environ, HOME=str(tmp))
    proxy = subprocess.Popen(
        [str(mitmdump), "--listen-host", "127.0.0.1", "--listen-port", str(proxy_port), "-q",
         "-s", str(addon),
         "--set", f"confaudit_session={session_dir}", "--set", "confaudit_vendor=example-rooms",
         "--set", f"confdir={tmp / 'mitm'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    browser = None
    try:
        _wait_port(proxy_port, proxy, 30)
        browser = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'profile'}", f"--proxy-server=http://127.0.0.1:{proxy_port}",
             "--proxy-bypass-list=<-loopback>", "--window-size=1280,720",
             "--unsafely-treat-insecure-origin-as-secure=http://example-rooms.test",
             "http://example-rooms.test/room.html"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env, TZ="Europe/Berlin"),
            start_new_session=True)
        assert server.done.wait(60), "the lab pages did not finish"
        time.sleep(0.5)  # let the proxy write the last response
    finally:
        if browser is not None:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait(10)
        if proxy.poll() is None:
            os.killpg(proxy.pid, signal.SIGINT)
        try:
            proxy.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proxy.pid, signal.SIGKILL)
            proxy.wait(5)
        server.shutdown()
    return session_dir


def _requests(bundle: dict[str, Any], path: str) -> set[str]:
    return {h["id"] for h in bundle["http"] if h.get("path") == path}


def _categories(bundle: dict[str, Any], request_ids: set[str]) -> set[str]:
    return {d["category"] for d in bundle["data_flows"] if not d["implicit"]
            and any(e["kind"] == "http" and e["id"] in request_ids for e in d["evidence"])}


@pytest.mark.slow
def test_live_call_through_proxy_categories_per_party(live_session: Path) -> None:
    from confaudit.capture.importers import load_http_sources
    from confaudit.capture.session import read_session
    from confaudit.telemetry import enrich

    bundle = load_http_sources(read_session(live_session).http_sources)
    for number, rec in enumerate(bundle["http"], start=1):  # unique ids whatever the importer assigned
        rec["id"] = f"h{number}"
    bundle.update(warnings=[], session={"accounts": [EMAIL]}, phases=[])
    enrich(bundle, first_party=["example-rooms.test"], room_names=[ROOM], participants=PEOPLE, entity_lists=[])
    parties = {p["domain"]: p for p in bundle["parties"]}
    assert parties["example-rooms.test"]["first_party"] is True and parties["tracker.test"]["first_party"] is False
    assert parties["tracker.test"]["entity"] == "Lab fixture: tracker"
    assert _categories(bundle, _requests(bundle, "/v1/t")) == {"browser", "screen", "timezone", "account"}
    assert _categories(bundle, _requests(bundle, "/e")) == {"room_name", "participants"}
    controls = _requests(bundle, "/v1/control") | _requests(bundle, "/control")
    assert len(controls) == 2 and _categories(bundle, controls) == {"technical"}
    hashed = next(d for d in bundle["data_flows"] if d["category"] == "account")
    assert (hashed["party"], hashed["field_path"], hashed["reasons"]) == ("example-rooms.test", "uh", ["known:email sha256"])
    zone = next(d for d in bundle["data_flows"] if d["category"] == "timezone")
    assert zone["example"] == "Europe/Berlin"
    # the browser added its own User-Agent header to every request: recorded, but kept implicit
    assert "browser" in parties["tracker.test"]["implicit_categories"]
    assert "browser" not in parties["tracker.test"]["categories"]


@pytest.mark.slow
def test_live_session_through_the_orchestrator(live_session: Path) -> None:
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    bundle = build_evidence([live_session], first_party=["example-rooms.test"], room_names=[ROOM], participants=PEOPLE)
    assert validate_bundle(bundle) == []
    categories = {p["domain"]: set(p["categories"]) for p in bundle["parties"]}
    # without the auditor's e-mail the hash stays an unexplained value: technical, never guessed
    assert categories["example-rooms.test"] == {"browser", "screen", "timezone", "technical"}
    assert categories["tracker.test"] == {"room_name", "participants", "technical"}
