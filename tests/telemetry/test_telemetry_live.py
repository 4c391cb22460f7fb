"""Live: real Chromium -> real mitmproxy (with the confaudit addon) -> lab web server, all on loopback.

The room page sends the User-Agent, screen size, time zone and a SHA-256 of the auditor's e-mail
(hashed in the browser with WebCrypto) to the first party, and the room name and participants to
a third party; the control page sends only build/status fields to both. The analysis must report
exactly those categories per party, and nothing but ``technical`` for the control page.
"""

from __future__ import annotations

from confaudit.redact import Redactor
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

from support.environment import REPO, require_binary

EMAIL = "auditor.one@example.org"
ROOM = "Orchid Strategy Room"
PEOPLE = ["Ada Lovelace", "Grace Hopper"]
LAB_ENTITIES = REPO / "samples" / "claims" / "example-rooms.entities.json"
FIRST = "http://api.example-rooms.test"
THIRD = "http://collect.tracker.test"

ROOM_PAGE = f"""<!doctype html><title>room</title><script>
(async () => {{
  const hex = b => Array.from(new Uint8Array(b)).map(x => x.toString(16).padStart(2, '0')).join('');
  const uh = hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode({json.dumps(EMAIL)})));
  const post = (url, obj) => fetch(url, {{method: 'POST', mode: 'no-cors', body: JSON.stringify(obj)}});
  await post('{FIRST}/v1/t', {{ua: navigator.userAgent, scr: screen.width + 'x' + screen.height,
                               zone: Intl.DateTimeFormat().resolvedOptions().timeZone, hm: uh}});
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

# A real WebRTC call between two peer connections in the page (fake microphone): its ICE candidates go
# to the third party, audio statistics to the first party, before and after the user mutes.
CALL_PAGE = f"""<!doctype html><title>call</title><script>
(async () => {{
  const post = (url, obj) => fetch(url, {{method: 'POST', mode: 'no-cors', body: JSON.stringify(obj)}});
  await fetch('/phase?name=in_call');
  const stream = await navigator.mediaDevices.getUserMedia({{audio: true}});
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  const sent = [];
  // Every candidate is reported as telemetry, but only loopback ones are paired: media stays on lo.
  const loop = c => /^(127[.]|::1$)/.test(c.address || '');
  a.onicecandidate = e => {{ if (e.candidate) {{ sent.push(e.candidate.candidate); if (loop(e.candidate)) b.addIceCandidate(e.candidate); }} }};
  b.onicecandidate = e => {{ if (e.candidate && loop(e.candidate)) a.addIceCandidate(e.candidate); }};
  stream.getTracks().forEach(t => a.addTrack(t, stream));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  for (let i = 0; i < 100 && a.connectionState !== 'connected'; i++) await new Promise(r => setTimeout(r, 50));
  await new Promise(r => setTimeout(r, 300));
  await post('{THIRD}/ice', {{cands: sent, state: a.connectionState}});
  const level = async () => {{
    let out = {{audioLevel: 0, totalAudioEnergy: 0}};
    (await a.getStats()).forEach(s => {{ if (s.type === 'media-source' && s.kind === 'audio') out = {{audioLevel: s.audioLevel || 0, totalAudioEnergy: s.totalAudioEnergy || 0}}; }});
    return out;
  }};
  await post('{FIRST}/v1/qos', {{stats: await level()}});
  await fetch('/phase?name=muted');
  stream.getAudioTracks().forEach(t => t.enabled = false);
  await new Promise(r => setTimeout(r, 200));
  await post('{FIRST}/v1/qos', {{stats: await level()}});
  await fetch('/done');
}})();
</script>"""

# One script loads both addons: the confaudit recorder (as addons/confaudit.py does) and the redirect.
LAB_ADDONS = """
from mitmproxy import http

from confaudit.live.addons import SessionRecorder
from confaudit.redact import Redactor

PORT = {port}

class LabRedirect:
    def requestheaders(self, flow):
        if not flow.request.pretty_host.endswith(".test"):
            flow.response = http.Response.make(404)  # no network: answer the browser's background noise

    def server_connect(self, data):
        data.server.address = ("127.0.0.1", PORT)

addons = [SessionRecorder(redactor=Redactor.default()), LabRedirect()]
"""


class _LabServer(ThreadingHTTPServer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.done = threading.Event()
        self.session_dir: Path | None = None


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
        pages = {"/room.html": ROOM_PAGE, "/control.html": CONTROL_PAGE, "/call.html": CALL_PAGE}
        if self.path.startswith("/phase?name="):
            from confaudit.session.directory import append_phase

            append_phase(self.server.session_dir, self.path.split("=", 1)[1])  # type: ignore[attr-defined]
            self._reply(204)
        elif self.path in pages:
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


def _run_lab(tmp: Path, page: str) -> Path:
    """Chromium opens ``page`` through mitmdump+confaudit addon; returns the recorded session directory."""
    chromium = require_binary("chromium")
    mitmdump = Path(sys.executable).with_name("mitmdump")
    assert mitmdump.exists(), "mitmdump (a required dependency) is not installed next to this Python"
    server = _LabServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    addon = tmp / "lab_addons.py"
    addon.write_text(LAB_ADDONS.format(port=server.server_address[1]))
    session_dir = tmp / "session"
    server.session_dir = session_dir
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
             "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             "--allow-loopback-in-peer-connection", f"http://example-rooms.test/{page}"],
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


@pytest.fixture(scope="module")
def live_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run_lab(tmp_path_factory.mktemp("live"), "room.html")


@pytest.fixture(scope="module")
def live_call_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run_lab(tmp_path_factory.mktemp("call"), "call.html")


def _requests(bundle: dict[str, Any], path: str) -> set[str]:
    return {h["id"] for h in bundle["http"] if h.get("path") == path}


def _categories(bundle: dict[str, Any], request_ids: set[str]) -> set[str]:
    return {d["category"] for d in bundle["data_flows"] if not d["implicit"]
            and any(e["kind"] == "http" and e["id"] in request_ids for e in d["evidence"])}


@pytest.mark.slow
def test_live_call_through_proxy_categories_per_party(live_session: Path) -> None:
    from confaudit.importers.http_sources import load_http_sources
    from confaudit.session.directory import read_session
    from confaudit.telemetry import enrich

    bundle = load_http_sources(read_session(live_session).http_sources, redactor=Redactor.default())
    bundle.update(warnings=[], session={"accounts": [EMAIL]}, phases=[])
    enrich(bundle, first_party=["example-rooms.test"], room_names=[ROOM], participants=PEOPLE, entity_lists=[LAB_ENTITIES], redactor=Redactor.default())
    parties = {p["domain"]: p for p in bundle["parties"]}
    assert parties["example-rooms.test"]["first_party"] is True and parties["tracker.test"]["first_party"] is False
    assert parties["tracker.test"]["entity"] == "Lab fixture: tracker"  # from the lab's own list, never built in
    assert _categories(bundle, _requests(bundle, "/v1/t")) == {"browser", "screen", "timezone", "account"}
    assert _categories(bundle, _requests(bundle, "/e")) == {"room_name", "participants"}
    controls = _requests(bundle, "/v1/control") | _requests(bundle, "/control")
    assert len(controls) == 2 and _categories(bundle, controls) == {"technical"}
    hashed = [d for d in bundle["data_flows"] if d["field_path"] == "hm"]
    assert [(d["party"], d["category"], d["reasons"]) for d in hashed] == [
        ("example-rooms.test", "account", ["known:email sha256"])]
    zone = next(d for d in bundle["data_flows"] if d["category"] == "timezone")
    assert zone["example"] == "Europe/Berlin"
    # the browser added its own User-Agent header to every request: recorded, but kept implicit
    assert "browser" in parties["tracker.test"]["implicit_categories"]
    assert "browser" not in parties["tracker.test"]["categories"]


@pytest.mark.slow
def test_live_session_through_the_orchestrator(live_session: Path) -> None:
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    bundle = build_evidence([live_session], first_party=["example-rooms.test"], room_names=[ROOM], participants=PEOPLE, redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    categories = {p["domain"]: set(p["categories"]) for p in bundle["parties"]}
    # without the auditor's e-mail the hash stays an unexplained value: technical, never guessed
    assert categories["example-rooms.test"] == {"browser", "screen", "timezone", "technical"}
    assert categories["tracker.test"] == {"room_name", "participants", "technical"}


@pytest.mark.slow
def test_live_webrtc_call_candidates_and_audio_metrics_while_muted(live_call_session: Path) -> None:
    from confaudit.evidence.build import build_evidence

    bundle = build_evidence([live_call_session], first_party=["example-rooms.test"], redactor=Redactor.default())
    assert [p["phase"] for p in bundle["phases"]] == ["in_call", "muted"]
    ice = [d for d in bundle["data_flows"] if d["party"] == "tracker.test" and d["category"] == "network"]
    assert ice and ice[0]["field_pattern"] == "cands[*]"
    assert any(r.startswith("value:ice-candidate host:") for r in ice[0]["reasons"])
    summary = {s["phase"]: s for s in bundle["phase_summary"]}
    assert summary["muted"]["muted"] is True and summary["in_call"]["muted"] is False
    muted_audio = [d for d in bundle["data_flows"] if d["id"] in summary["muted"]["audio_metrics_flows"]]
    assert {d["field_path"] for d in muted_audio} == {"stats.audioLevel", "stats.totalAudioEnergy"}
    assert all(d["party"] == "example-rooms.test" and "muted" in d["phases"] for d in muted_audio)
    assert summary["in_call"]["categories"].get("network") and summary["muted"]["categories"] == {"audio_metrics": 2}
