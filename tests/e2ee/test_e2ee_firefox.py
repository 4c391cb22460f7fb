"""A real Firefox ESR call (two RTCPeerConnections in one page, fake media) recorded on loopback with
SSLKEYLOGFILE: DTLS 1.3 keys from EXPORTER_SECRET, the SRTP profile found by authenticating packets,
RED-wrapped VP8 unwrapped and decoded."""

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
from confaudit.e2ee import enrich

PAGE = """<!doctype html><html><body><script>
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
  b.ontrack = e => { const el = document.createElement(e.track.kind); el.srcObject = e.streams[0];
                     el.autoplay = true; document.body.appendChild(el); };
  const worker = E2EE ? new Worker("worker.js") : null;
  stream.getTracks().forEach(t => {
    const sender = a.addTrack(t, stream);
    if (worker) sender.transform = new RTCRtpScriptTransform(worker, {});
  });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
})();
</script></body></html>"""

# Insertable-streams E2EE in the browser (RTCRtpScriptTransform), Jitsi/Google style: 10 bytes of a
# keyframe, 3 of a delta frame and the Opus TOC stay in clear, the rest is XORed with random bytes.
WORKER = b"""onrtctransform = (event) => {
  const t = event.transformer;
  t.readable.pipeThrough(new TransformStream({
    transform(frame, controller) {
      const data = new Uint8Array(frame.data);
      const clear = frame.type === "key" ? 10 : frame.type === "delta" ? 3 : 1;
      const pad = new Uint8Array(Math.max(0, data.length - clear));
      crypto.getRandomValues(pad);
      for (let i = clear; i < data.length; i++) data[i] ^= pad[i - clear];
      frame.data = data.buffer;
      controller.enqueue(frame);
    }
  })).pipeTo(t.writable);
};
"""

PREFS = {
    "media.navigator.streams.fake": "true",
    "media.navigator.permission.disabled": "true",
    "media.peerconnection.ice.loopback": "true",
    "media.peerconnection.ice.obfuscate_host_addresses": "false",
    "network.dns.disableIPv6": "true",
    "media.autoplay.default": "0",
    "browser.shell.checkDefaultBrowser": "false",
    "datareporting.policy.dataSubmissionEnabled": "false",
    "toolkit.telemetry.enabled": "false",
    "app.update.enabled": "false",
    "network.captive-portal-service.enabled": "false",
    "network.connectivity-service.enabled": "false",
    "browser.safebrowsing.update.enabled": "false",
    "extensions.update.enabled": "false",
}


@contextlib.contextmanager
def _page_server(e2ee: bool):
    page = f"<script>const E2EE = {'true' if e2ee else 'false'};</script>{PAGE}".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body, ctype = (WORKER, "text/javascript") if self.path.endswith("worker.js") else (page, "text/html")
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    with loopback_http(Handler) as url:
        yield f"{url}/call.html"


def _record_firefox_call(tmp_path: Path, seconds: float, e2ee: bool = False) -> tuple[Path, Path]:
    from confaudit.live.sniffer import PacketSniffer

    firefox = shutil.which("firefox-esr") or shutil.which("firefox")
    if firefox is None:
        pytest.skip("firefox-esr is not installed (scripts/sysdeps.sh installs it)")
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "user.js").write_text("".join(f'user_pref("{k}", {v});\n' for k, v in PREFS.items()))
    keylog, capture = tmp_path / "keys.log", tmp_path / "firefox.pcapng"
    env = dict(os.environ, SSLKEYLOGFILE=str(keylog), MOZ_HEADLESS="1", HOME=str(tmp_path))
    sniffer = PacketSniffer("lo", capture)
    sniffer.start()
    proc = None
    try:
        with _page_server(e2ee) as url:
            proc = subprocess.Popen([firefox, "-headless", "-no-remote", "-profile", str(profile), url], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and b"EXPORTER_SECRET" not in (keylog.read_bytes() if keylog.exists() else b""):
                time.sleep(0.2)
            time.sleep(seconds)
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        sniffer.stop()
    return capture, keylog


@pytest.mark.slow
def test_firefox_dtls13_call_is_decrypted_and_readable(tmp_path: Path) -> None:
    capture, keylog = _record_firefox_call(tmp_path, seconds=4.0)
    assert b"EXPORTER_SECRET" in keylog.read_bytes(), "Firefox wrote no DTLS 1.3 exporter secret"
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
    e2ee = bundle["e2ee"]
    # Other loopback traffic (parallel tests) may add sessions without keys: look at ours only.
    ours = {i for i, s in enumerate(e2ee["sessions"]) if s["keys"] == "found"}
    session = e2ee["sessions"][min(ours)]
    assert session["version"] == "DTLS 1.3"
    assert session["profile_source"] == "authenticated_trial" and session["profile"]
    by_codec = {s["codec"]: s for s in e2ee["streams"] if s["inner"] == "codec"}
    assert {"opus", "vp8"} <= set(by_codec), e2ee["streams"]
    for stream in by_codec.values():
        assert stream["decrypted"] > 20 and stream["auth_failed"] == 0
    assert any("RED (RFC 2198) unwrapped" in r for r in by_codec["vp8"]["reasons"])
    assert all(s["inner"] != "encrypted" for s in e2ee["streams"])
    assert all(c["auth_failed"] == 0 and c["decrypted"] > 0 for c in e2ee["srtcp"] if c["session"] in ours)
    assert e2ee["summary"]["conclusion"] == "media_readable_at_transport_end"
    assert e2ee["keylogs"][0]["kinds"].get("EXPORTER_SECRET", 0) >= 1


@pytest.mark.slow
def test_firefox_insertable_streams_e2ee_is_found_inside(tmp_path: Path) -> None:
    capture, keylog = _record_firefox_call(tmp_path, seconds=4.0, e2ee=True)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
    e2ee = bundle["e2ee"]
    assert any(s["keys"] == "found" and s["version"] == "DTLS 1.3" for s in e2ee["sessions"])
    encrypted = {s["codec"]: s for s in e2ee["streams"] if s["inner"] == "encrypted"}
    assert {"opus", "vp8"} <= set(encrypted), e2ee["streams"]
    assert all(s["auth_failed"] == 0 and s["decrypted"] > 20 for s in encrypted.values())
    assert not any(s["inner"] == "codec" for s in e2ee["streams"])
    assert e2ee["summary"]["conclusion"] == "inner_encryption_observed"
