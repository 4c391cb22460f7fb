"""Debian's Chromium headless in a WebRTC call on loopback, for the canary tests.

``peer="aiortc"``: the page sends its fake camera and microphone to an aiortc answerer (BrowserAnswerer)
whose DTLS key log decrypts them. ``peer="chromium"``: two RTCPeerConnections in the page call each other
(Chromium on both ends; its own SSLKEYLOGFILE is the only key log).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.environment import loopback_http

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
                  "--autoplay-policy=no-user-gesture-required"]

PAGE = """<!doctype html><html><body><script>
const done = pc => new Promise(r => { if (pc.iceGatheringState === "complete") r();
  pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r()); });
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 320, height: 240}});
  const a = new RTCPeerConnection();
  stream.getTracks().forEach(t => a.addTrack(t, stream));
  if (PEER === "aiortc") {
    await a.setLocalDescription(await a.createOffer());
    await done(a);
    const answer = await fetch("/offer", {method: "POST", body: a.localDescription.sdp});
    await a.setRemoteDescription({type: "answer", sdp: await answer.text()});
  } else {
    const b = new RTCPeerConnection();
    a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
    b.ontrack = e => { const el = document.createElement(e.track.kind); el.srcObject = e.streams[0];
                       el.autoplay = true; el.muted = true; document.body.appendChild(el); };
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    a.onconnectionstatechange = async () => {
      if (a.connectionState !== "connected") return;
      // a TLS request of the same browser: its SSLKEYLOGFILE is active (the DTLS secrets are another matter)
      if (TLS_URL) await fetch(TLS_URL).catch(() => null);
      fetch("/connected", {method: "POST", body: ""});
    };
  }
})().catch(e => fetch("/error", {method: "POST", body: String(e)}));
</script></body></html>"""


@contextlib.contextmanager
def _server(peer: str, answerer, events: list[str], tls_url: str):
    page = f"<script>const PEER = {peer!r}, TLS_URL = {tls_url!r};</script>{PAGE}".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self._send(page, "text/html")

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path == "/offer" and answerer is not None:
                self._send(answerer.answer(body).encode(), "application/sdp")
                return
            events.append(f"{self.path} {body}")
            self._send(b"", "text/plain")

        def _send(self, body: bytes, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    with loopback_http(Handler) as url:
        yield f"{url}/call.html"


@contextlib.contextmanager
def _tls_server(tmp_path: Path):
    """An HTTPS server on 127.0.0.1 with a throwaway self-signed certificate; yields its URL."""
    import ssl
    import threading

    from cryptography.hazmat.primitives import serialization

    from benchmarks.synth_e2ee import _certificate

    cert, key = _certificate()
    pem = tmp_path / "tls.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/tls"
    finally:
        server.shutdown()
        server.server_close()


def record_chromium_call(tmp_path: Path, media, seconds: float, peer: str = "aiortc") -> tuple[Path, Path]:
    """(capture, key log) of a call of ``seconds`` of media after the connection is up."""
    from confaudit.live.sniffer import PacketSniffer
    from confaudit.lab.browser_peer import BrowserAnswerer

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/sysdeps.sh installs it)")
    keylog, capture = tmp_path / f"{peer}-keys.log", tmp_path / f"chromium-{peer}.pcapng"
    browser_keylog = tmp_path / "chromium-sslkeys.log"
    events: list[str] = []
    sniffer = PacketSniffer("lo", capture)
    sniffer.start()
    proc = None
    try:
        with contextlib.ExitStack() as stack:
            answerer = stack.enter_context(BrowserAnswerer(keylog)) if peer == "aiortc" else None
            tls_url = stack.enter_context(_tls_server(tmp_path)) if peer == "chromium" else ""
            url = stack.enter_context(_server(peer, answerer, events, tls_url))
            env = dict(os.environ, SSLKEYLOGFILE=str(browser_keylog), HOME=str(tmp_path))
            proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, "--ignore-certificate-errors", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                                     f"--use-file-for-fake-audio-capture={media.audio_wav}",
                                     f"--use-file-for-fake-video-capture={media.video_y4m}", url],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + 45
            up = (lambda: answerer.connected()) if answerer is not None else (lambda: any(e.startswith("/connected") for e in events))
            while time.monotonic() < deadline and not up():
                assert not any(e.startswith("/error") for e in events), events
                assert proc.poll() is None, f"chromium exited with {proc.returncode}"
                time.sleep(0.1)
            assert up(), f"the call did not connect within 45 s ({events})"
            time.sleep(seconds)
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        time.sleep(0.2)
        sniffer.stop()
    if peer == "chromium":
        keylog = browser_keylog
    return capture, keylog
