"""One participant's browser: Debian's Chromium driven by Playwright, through the capture proxy.

Each participant gets its own Chromium process with a throwaway profile, the capture's CA trusted by
its key (``--ignore-certificate-errors-spki-list``: only certificates chaining to that one key are
accepted; no system or NSS store is touched), every request through the proxy (loopback included),
its own TLS/DTLS secrets appended to the session's key log (SSLKEYLOGFILE), background networking off,
and fake camera and microphone playing its canary media. Playwright never downloads a browser here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from confaudit.errors import UsageError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")

PEER_CONNECTION_PROBE = """(() => {
  // confaudit: keep every RTCPeerConnection the page makes, to read its RTP counters (try_join).
  const Original = window.RTCPeerConnection;
  if (!Original || window.__confauditPeerConnections) return;
  const made = [];
  window.__confauditPeerConnections = made;
  window.RTCPeerConnection = new Proxy(Original, {construct(target, args, newTarget) {
    const pc = Reflect.construct(target, args, newTarget); made.push(pc); return pc; }});
})();"""

MEDIA_COUNTERS = """async () => {
  let sent = 0, received = 0, connections = 0;
  for (const pc of window.__confauditPeerConnections || []) {
    connections += 1;
    try {
      (await pc.getStats()).forEach(r => {
        if (r.type === "outbound-rtp") sent += r.bytesSent || 0;
        if (r.type === "inbound-rtp") received += r.bytesReceived || 0;
      });
    } catch (e) { /* a closed connection has no stats left */ }
  }
  return {sent, received, connections};
}"""


def chromium_executable() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise UsageError("chromium is not installed (Debian package 'chromium'; `make sysdeps` installs it)")


def ca_spki_hash(ca_pem: bytes) -> str:
    """Base64 SHA-256 of the CA certificate's SubjectPublicKeyInfo: what Chromium's SPKI list takes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(ca_pem)
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


NOWHERE = "https://127.0.0.1:9/"
"""Where Chromium's own services are sent: port 9 is on Chromium's restricted-port list, so every request there fails
inside the browser (ERR_UNSAFE_PORT) and reaches no network at all, not even the proxy."""


def chromium_args(proxy_port: int, ca_spki: str, audio_wav: Path, video_y4m: Path) -> list[str]:
    return [
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-domain-reliability", "--no-pings",
        "--disable-client-side-phishing-detection",
        # Chromium 156 still checks for component updates (update.googleapis.com) with --disable-component-update
        # and asks accounts.google.com/ListAccounts at start; optimization hints come later in a call. Their
        # service URLs are switches: point them NOWHERE.
        f"--component-updater=url-source={NOWHERE}", f"--gaia-url={NOWHERE}",
        f"--optimization-guide-service-get-hints-url={NOWHERE}",
        f"--optimization-guide-service-get-models-url={NOWHERE}",
        # One --disable-features wins over Playwright's own list, so it repeats the parts of that list that keep the
        # browser quiet (OptimizationHints, NetworkTimeServiceQuerying, AimEnabled, PreconnectToSearch).
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
        "AutofillServerCommunication,WebRtcHideLocalIpsWithMdns,AimEnabled,PreconnectToSearch,"
        "DestroyProfileOnBrowserClose,AvoidUnnecessaryBeforeUnloadCheckSync,LensOverlay,HttpsUpgrades",
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--proxy-bypass-list=<-loopback>",  # Chromium skips the proxy for loopback unless told not to
        f"--ignore-certificate-errors-spki-list={ca_spki}",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={audio_wav}",
        f"--use-file-for-fake-video-capture={video_y4m}",
        "--allow-loopback-in-peer-connection",
    ]


@dataclass
class RequestLog:
    """URLs a participant's browser requested (HTTP and WebSocket), in order, with their times."""

    entries: list[tuple[float, str]] = field(default_factory=list)

    def add(self, url: str) -> None:
        self.entries.append((time.time(), url))

    def find(self, fragment: str, since: int = 0) -> str | None:
        return next((url for _, url in self.entries[since:] if fragment in url), None)


class ParticipantBrowser(Protocol):
    """What the runner asks of a participant's browser, whichever engine drives it. Every wait polls until
    done: the runner bounds each step with its timeout (and cancels the wait)."""

    name: str
    requests: RequestLog
    engine: str

    async def goto(self, url: str, ms: float) -> None: ...
    async def click(self, selector: str, ms: float) -> None: ...
    async def fill(self, selector: str, value: str, ms: float) -> None: ...
    async def press(self, selector: str | None, key: str, ms: float) -> None: ...
    async def screenshot(self, path: Path, ms: float) -> None: ...
    async def wait_visible(self, selector: str, text: str | None, ms: float) -> None: ...
    async def wait_text(self, text: str, ms: float) -> None: ...
    async def wait_url(self, matches: Any, ms: float) -> None: ...
    async def current_url(self) -> str: ...
    async def count(self, selector: str) -> int: ...
    async def inner_text(self, selector: str, ms: float) -> str: ...
    async def media_counters(self) -> dict[str, int]: ...
    async def close(self) -> None: ...


@dataclass
class ChromiumBrowser(ParticipantBrowser):
    """A running Chromium participant: Playwright's persistent context (its own process) and its page."""

    name: str
    context: Any
    page: Any
    requests: RequestLog
    profile: Path
    engine: str = "chromium"

    async def goto(self, url: str, ms: float) -> None:
        await self.page.goto(url, timeout=ms)

    async def click(self, selector: str, ms: float) -> None:
        await self.page.click(selector, timeout=ms)

    async def fill(self, selector: str, value: str, ms: float) -> None:
        await self.page.fill(selector, value, timeout=ms)

    async def press(self, selector: str | None, key: str, ms: float) -> None:
        if selector:
            await self.page.press(selector, key, timeout=ms)
        else:
            await self.page.keyboard.press(key)

    async def screenshot(self, path: Path, ms: float) -> None:
        await self.page.screenshot(path=str(path), timeout=ms)

    async def wait_visible(self, selector: str, text: str | None, ms: float) -> None:
        locator = self.page.locator(selector)
        if text is not None:
            locator = locator.filter(has_text=text)
        await locator.first.wait_for(state="visible", timeout=ms)

    async def wait_text(self, text: str, ms: float) -> None:
        await self.page.get_by_text(text).first.wait_for(state="visible", timeout=ms)

    async def wait_url(self, matches: Any, ms: float) -> None:
        await self.page.wait_for_url(matches, timeout=ms)

    async def current_url(self) -> str:
        return self.page.url

    async def count(self, selector: str) -> int:
        return await self.page.locator(selector).count()

    async def inner_text(self, selector: str, ms: float) -> str:
        return await self.page.locator(selector).first.inner_text(timeout=ms)

    async def media_counters(self) -> dict[str, int]:
        """RTP bytes the page's peer connections sent and received so far (0 when it made none)."""
        return await self.page.evaluate(MEDIA_COUNTERS)

    async def close(self) -> None:
        from playwright.async_api import Error as PlaywrightError

        with contextlib.suppress(PlaywrightError):  # the browser may already be gone (crash, closed page)
            await self.context.close()


async def launch_chromium(playwright: Any, name: str, profile: Path, proxy_port: int, ca_spki: str,
                         audio_wav: Path, video_y4m: Path, keylog: Path, timeout_s: float) -> ChromiumBrowser:
    """Start one Chromium process for ``name`` (headless, throwaway profile in ``profile``)."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    env["SSLKEYLOGFILE"] = str(keylog)
    context = await playwright.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_executable(), headless=True, args=chromium_args(
            proxy_port, ca_spki, audio_wav, video_y4m),
        env=env, timeout=timeout_s * 1000, viewport={"width": 1024, "height": 720})
    requests = RequestLog()
    context.on("request", lambda request: requests.add(request.url))
    await context.add_init_script(PEER_CONNECTION_PROBE)
    page = context.pages[0] if context.pages else await context.new_page()
    page.on("websocket", lambda ws: requests.add(ws.url))
    return ChromiumBrowser(name, context, page, requests, profile)
