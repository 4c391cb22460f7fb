"""A small lab "conference" recorded with our own tools: a room page over HTTPS on loopback,
telemetry beacons to a first-party and a third-party-like host, a WebRTC call in headless
Chromium plus an aiortc call, the sniffer on ``lo``, phase markers. Used by the end-to-end test
and ``scripts/make_sample_session.py``; every byte stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import AsyncIterator, Callable
from typing import Any

from confaudit.lab.loopback import LabResolver, TlsUpstream, websocket_exchange
from confaudit.redact import Redactor
from confaudit.session.directory import append_phase

ROOM_HOST = "rooms.example-rooms.test"
TRACKER_HOST = "telemetry.tracker.test"
ROOM_NAME = "blue-lagoon-4711"
PARTICIPANT = "Alice Auditor"

ROOM_PAGE = """<!doctype html><html><head><title>example-rooms</title></head><body><p id="s">starting</p><script>
const ROOM = %(room)s, NAME = %(name)s, TRACKER = "https://%(tracker)s/collect";
const beacon = (url, data) => fetch(url, {method: "POST", mode: "no-cors", body: JSON.stringify(data)});
const sleep = ms => new Promise(r => setTimeout(r, ms));
const closed = ws => new Promise(r => { if (ws.readyState === WebSocket.CLOSED) r(); else ws.addEventListener("close", r); });
(async () => {
  const env = {ua: navigator.userAgent, screen: screen.width + "x" + screen.height,
               tz: Intl.DateTimeFormat().resolvedOptions().timeZone, lang: navigator.language, room: ROOM};
  await beacon(TRACKER, Object.assign({event: "page_view"}, env));
  await beacon("/api/telemetry", Object.assign({event: "lobby"}, env));
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 320, height: 240}});
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  // Only loopback candidates are paired, so the media never uses another interface of the machine.
  const loop = c => /^(127[.]|::1$)/.test(c.address || "");
  a.onicecandidate = e => e.candidate && loop(e.candidate) && b.addIceCandidate(e.candidate);
  b.onicecandidate = e => e.candidate && loop(e.candidate) && a.addIceCandidate(e.candidate);
  stream.getTracks().forEach(t => a.addTrack(t, stream));
  const offer = await a.createOffer(); await a.setLocalDescription(offer); await b.setRemoteDescription(offer);
  const answer = await b.createAnswer(); await b.setLocalDescription(answer); await a.setRemoteDescription(answer);
  await fetch("/api/join", {method: "POST", headers: {"content-type": "application/json"},
                            body: JSON.stringify({room: ROOM, display_name: NAME, sdp: offer.sdp})});
  // The browser's own signalling WebSocket, through the capture proxy like everything else.
  const signal = await new Promise((resolve, reject) => {
    const ws = new WebSocket("wss://" + location.host + "/signal?room=" + encodeURIComponent(ROOM));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("signalling WebSocket failed"));
  });
  const echoed = new Promise(r => { signal.onmessage = r; });
  signal.send(JSON.stringify({type: "offer", room: ROOM, participant: NAME, sdp: offer.sdp}));
  await echoed;
  await fetch("/phase/joined");
  await sleep(%(media_ms)d);
  stream.getAudioTracks().forEach(t => t.enabled = false);
  await fetch("/phase/muted");
  await beacon(TRACKER, {event: "mute", room: ROOM, participant: NAME});
  await sleep(%(media_ms)d);
  a.close(); b.close();
  signal.send(JSON.stringify({type: "leave", room: ROOM}));
  signal.close(1000, "left");
  await Promise.race([closed(signal), sleep(3000)]);
  await beacon("/api/telemetry", {event: "left", room: ROOM});
  await fetch("/phase/left");
  document.getElementById("s").textContent = "done";
})().catch(e => fetch("/error?m=" + encodeURIComponent(String(e))));
</script></body></html>"""


@dataclass(frozen=True)
class LabRun:
    """What the lab run did, for assertions."""

    manifest: dict[str, Any]
    """Final session manifest."""
    upstream_paths: list[str]
    """Request paths the lab upstream answered, in order."""
    page_error: str | None
    """Error the page reported, if any."""
    aiortc_streams: int
    """RTP streams the aiortc call sent (0 when skipped)."""


def _handler(session_dir: Path, media_ms: int) -> Any:
    page = ROOM_PAGE % {"room": json.dumps(ROOM_NAME), "name": json.dumps(PARTICIPANT), "tracker": TRACKER_HOST,
                        "media_ms": media_ms}

    def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path == "/" or path.startswith("/room"):
            return 200, "text/html; charset=utf-8", page.encode()
        if path.startswith("/phase/"):
            append_phase(session_dir, path.rsplit("/", 1)[1])
        if path == "/favicon.ico":
            return 404, "text/plain", b"none"
        answer: dict[str, object] = {"ok": True}
        if path == "/api/join":
            answer["iceServers"] = [{"urls": [f"turn:turn.{ROOM_HOST}:443"], "username": "1790000000:lab",
                                     "credential": "lab-turn-credential"}]
        return 200, "application/json", json.dumps(answer).encode()

    return handle


def lab_pac_url(proxy_port: int) -> str:
    """A PAC script sending the lab hosts to the capture proxy and every other host (the browser's own
    background requests) to a dead loopback port: the lab browser talks to nothing else."""
    import base64

    hosts = " || ".join(f'host == "{h}"' for h in (ROOM_HOST, TRACKER_HOST))
    pac = (f"function FindProxyForURL(url, host) {{ if ({hosts}) return \"PROXY 127.0.0.1:{proxy_port}\"; "
           f"return \"PROXY 127.0.0.1:9\"; }}")
    return "data:application/x-ns-proxy-autoconfig;base64," + base64.b64encode(pac.encode()).decode()


def chromium_command(url: str, proxy_port: int, profile: Path) -> list[str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise FileNotFoundError("chromium is not installed")
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            f"--proxy-pac-url={lab_pac_url(proxy_port)}", "--ignore-certificate-errors",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
            "--no-pings", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--disable-features=WebRtcHideLocalIpsWithMdns", url]


@contextlib.asynccontextmanager
async def headless_browser(url: str, proxy_port: int, profile: Path, log: Any) -> AsyncIterator[subprocess.Popen]:
    """Headless Chromium on ``url`` through the lab proxy; terminated (then killed) on the way out."""
    browser = subprocess.Popen(chromium_command(url, proxy_port, profile), stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield browser
    finally:
        browser.terminate()
        try:
            await asyncio.to_thread(browser.wait, 15)
        except subprocess.TimeoutExpired:
            browser.kill()


async def wait_for_page(browser: subprocess.Popen, done: Callable[[], bool], timeout: float, goal: str) -> str | None:
    """Poll until ``done()``; otherwise why the page did not get there (browser exit or timeout)."""
    deadline = time.monotonic() + timeout
    while not done():
        if browser.poll() is not None:
            return f"chromium exited with code {browser.returncode} before the page could {goal}"
        if time.monotonic() > deadline:
            return f"the page did not {goal} within {timeout:.0f} s"
        await asyncio.sleep(0.2)
    return None


def record_lab_session(out: Path, media_seconds: float = 2.0, aiortc_call: bool = True,
                       timeout: float = 120.0, *, redactor: Redactor) -> LabRun:
    """Record the lab room into session directory ``out`` (must not exist or be empty); ``redactor`` as for
    ``run_capture``."""
    from confaudit.live.run import CaptureConfig, run_capture

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    upstream = TlsUpstream([ROOM_HOST, TRACKER_HOST], handler=_handler(out, int(media_seconds * 1000))).start()
    profile = tempfile.TemporaryDirectory(prefix="confaudit-chromium-")
    browser_log = tempfile.TemporaryFile()
    result: dict[str, Any] = {"streams": 0}

    def paths() -> list[str]:
        return [r["path"] for r in upstream.requests]

    async def scenario(state: Any) -> None:
        append_phase(out, "lobby")
        try:
            async with headless_browser(f"https://{ROOM_HOST}/room/{ROOM_NAME}", state.listen[0][1],
                                        Path(profile.name), browser_log) as browser:
                if aiortc_call:
                    from confaudit.lab.call import run_call

                    record = await asyncio.to_thread(run_call, media_seconds)
                    # The aiortc peer signals over its own WebSocket (the page's browser opens another one).
                    result["streams"] = len(record.streams)
                    signalling = [json.dumps({"type": "offer", "room": ROOM_NAME, "participant": PARTICIPANT,
                                              "sdp": record.offer_sdp}),
                                  json.dumps({"type": "leave", "room": ROOM_NAME})]
                    result["ws_replies"] = await asyncio.to_thread(
                        websocket_exchange, state.listen[0][1], ROOM_HOST, f"/signal?room={ROOM_NAME}", signalling)
                result["stopped"] = await wait_for_page(
                    browser, lambda: any(p == "/phase/left" or p.startswith("/error") for p in paths()), timeout,
                    "leave the room")
        finally:
            state.stop.set()

    def ready(state: Any) -> None:
        asyncio.get_running_loop().create_task(scenario(state))

    config = CaptureConfig(out=out, vendor="example-rooms", listen_port=0, iface="lo", duration=timeout + 30,
                           scenario="lab room: beacons, WebRTC call in Chromium and aiortc, mute",
                           operator="confaudit lab", ssl_insecure=True, simulated=True,
                           extra_addons=(LabResolver({ROOM_HOST: upstream.port, TRACKER_HOST: upstream.port}),),
                           extra_options={"connection_strategy": "lazy"},
                           known={"room_names": [ROOM_NAME], "participants": [PARTICIPANT], "first_party": ["example-rooms.test"]})
    try:
        manifest = asyncio.run(run_capture(config, redactor, on_ready=ready))
    finally:
        upstream.stop()
        profile.cleanup()
    errors = [p for p in paths() if p.startswith("/error")]
    if not errors and result.get("stopped"):
        browser_log.seek(0)
        tail = browser_log.read()[-600:].decode("utf-8", "replace").strip().replace("\n", " | ")
        errors = [f"{result['stopped']}; chromium said: {tail or '(nothing)'}"]
    browser_log.close()
    return LabRun(manifest=manifest, upstream_paths=paths(), page_error=errors[0] if errors else None,
                  aiortc_streams=result["streams"])
