"""Debian's Firefox ESR as a participant, driven over WebDriver BiDi (no geckodriver: Debian has none).

Firefox is started with ``--remote-debugging-port`` and a throwaway profile whose ``user.js`` sends
every request through the capture proxy (loopback included), turns background services off and
gives getUserMedia Firefox's own fake devices (they take no file: no canary media for Firefox). The
capture's CA is imported into that profile's NSS database with ``certutil`` (Debian's
libnss3-tools). A small BiDi client on ``websockets`` does the rest: navigate, real pointer and key
input, screenshots, a preload script for the RTP counters, network events for the request log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from confaudit.errors import UsageError
from confaudit.scenario.browser import MEDIA_COUNTERS, PEER_CONNECTION_PROBE, ParticipantBrowser, RequestLog

POLL_S = 0.1
KEYS = {"Enter": "\ue007", "Tab": "\ue004", "Escape": "\ue00c", "Backspace": "\ue003", "Delete": "\ue017",
        "Space": " ", "ArrowLeft": "\ue012", "ArrowUp": "\ue013", "ArrowRight": "\ue014", "ArrowDown": "\ue015",
        "Home": "\ue011", "End": "\ue010", "PageUp": "\ue00e", "PageDown": "\ue00f"}
"""WebDriver key codes of the key names a scenario may press (single characters are sent as they are)."""

VISIBLE = """(selector, text) => Array.from(document.querySelectorAll(selector)).some(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && (text === null || e.innerText.includes(text)); })"""


def firefox_executable() -> str:
    for candidate in ("firefox-esr", "firefox"):
        found = shutil.which(candidate)
        if found:
            return found
    raise UsageError("firefox-esr is not installed (Debian package 'firefox-esr')")


def profile_prefs(proxy_port: int) -> str:
    prefs = {
        "remote.active-protocols": 1,  # WebDriver BiDi only
        "network.proxy.type": 1, "network.proxy.http": "127.0.0.1", "network.proxy.http_port": proxy_port,
        "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": proxy_port, "network.proxy.no_proxies_on": "",
        "network.proxy.allow_hijacking_localhost": True, "network.proxy.share_proxy_settings": True,
        "media.navigator.streams.fake": True, "media.navigator.permission.disabled": True,
        "media.peerconnection.ice.loopback": True, "media.peerconnection.ice.obfuscate_host_addresses": False,
        "app.update.enabled": False, "app.update.auto": False, "app.normandy.enabled": False,
        "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
        "browser.safebrowsing.downloads.enabled": False, "browser.shell.checkDefaultBrowser": False,
        "datareporting.healthreport.uploadEnabled": False, "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.enabled": False, "toolkit.telemetry.unified": False, "extensions.update.enabled": False,
        "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
        "browser.newtabpage.enabled": False, "browser.startup.page": 0, "browser.startup.homepage": "about:blank",
        "browser.search.update": False, "extensions.getAddons.cache.enabled": False,
        "services.settings.server": "http://127.0.0.1:9/", "network.dns.disablePrefetch": True,
        "network.prefetch-next": False, "browser.aboutwelcome.enabled": False, "messaging-system.rsexperimentloader.enabled": False,
    }
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


def trust_ca(profile: Path, ca_pem: bytes) -> None:
    """Import the capture's CA into the profile's own NSS database (nothing outside the profile changes)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise UsageError("certutil is not installed (Debian package 'libnss3-tools'); Firefox needs it to trust the capture's CA")
    (profile / "capture-ca.pem").write_bytes(ca_pem)
    for args in (["-N", "--empty-password"], ["-A", "-n", "confaudit capture CA", "-t", "C,,", "-i", str(profile / "capture-ca.pem")]):
        done = subprocess.run([certutil, "-d", f"sql:{profile}", *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise UsageError(f"certutil could not prepare the Firefox profile: {done.stderr.strip()[:200]}")


class BidiConnection:
    """One WebDriver BiDi session over a WebSocket: commands matched to replies by id, events to a callback."""

    def __init__(self, ws: Any, on_event: Any) -> None:
        self.ws = ws
        self.on_event = on_event
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                future = self.waiting.pop(message.get("id"), None) if "id" in message else None
                if future is not None and not future.done():
                    future.set_result(message)
                elif message.get("type") == "event":
                    self.on_event(message.get("method"), message.get("params") or {})
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("Firefox closed the WebDriver BiDi connection"))

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        ident = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.waiting[ident] = future
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        reply = await future
        if reply.get("type") == "error":
            raise RuntimeError(f"{method}: {reply.get('error')}: {str(reply.get('message'))[:200]}")
        return reply.get("result") or {}

    async def close(self) -> None:
        from websockets.exceptions import WebSocketException

        with contextlib.suppress(WebSocketException, OSError):
            await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketException, OSError):
            await self.reader


class FirefoxBrowser(ParticipantBrowser):
    """A running Firefox ESR participant: its process, its BiDi session and its top-level browsing context."""

    engine = "firefox"

    def __init__(self, name: str, process: subprocess.Popen[bytes], bidi: BidiConnection, context: str,
                 requests: RequestLog) -> None:
        self.name, self.process, self.bidi, self.context, self.requests = name, process, bidi, context, requests

    async def _call_function(self, declaration: str, *args: Any) -> Any:
        result = await self.bidi.call("script.callFunction", {
            "functionDeclaration": declaration, "awaitPromise": True, "target": {"context": self.context},
            "arguments": [_local(a) for a in args]})
        if result.get("type") == "exception":
            raise RuntimeError(str(result.get("exceptionDetails", {}).get("text", "script error"))[:200])
        return _remote(result.get("result"))

    async def _element(self, selector: str) -> dict[str, Any]:
        """A shared reference to the first visible element matching ``selector`` (polls until there is one)."""
        while True:
            result = await self.bidi.call("script.callFunction", {
                "functionDeclaration": "(s) => { const e = document.querySelector(s); if (!e) return null; "
                                       "const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 ? e : null; }",
                "awaitPromise": False, "target": {"context": self.context}, "arguments": [_local(selector)]})
            value = result.get("result") or {}
            if value.get("type") == "node" and value.get("sharedId"):
                return {"sharedId": value["sharedId"]}
            await asyncio.sleep(POLL_S)

    async def goto(self, url: str, ms: float) -> None:
        await self.bidi.call("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    async def click(self, selector: str, ms: float) -> None:
        element = await self._element(selector)
        await self.bidi.call("input.performActions", {"context": self.context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": element}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})

    async def _type(self, text: str) -> None:
        keys = [a for ch in text for a in ({"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch})]
        await self.bidi.call("input.performActions", {"context": self.context, "actions": [
            {"type": "key", "id": "keyboard", "actions": keys}]})

    async def fill(self, selector: str, value: str, ms: float) -> None:
        await self.click(selector, ms)
        await self._call_function("(s) => { const e = document.querySelector(s); e.select && e.select(); }", selector)
        await self._type(value if value else KEYS["Backspace"])

    async def press(self, selector: str | None, key: str, ms: float) -> None:
        if selector:
            await self.click(selector, ms)
        await self._type(KEYS.get(key, key))

    async def screenshot(self, path: Path, ms: float) -> None:
        result = await self.bidi.call("browsingContext.captureScreenshot", {"context": self.context})
        Path(path).write_bytes(base64.b64decode(result["data"]))

    async def wait_visible(self, selector: str, text: str | None, ms: float) -> None:
        while not await self._call_function(VISIBLE, selector, text):
            await asyncio.sleep(POLL_S)

    async def wait_text(self, text: str, ms: float) -> None:
        while not await self._call_function("(t) => document.body !== null && document.body.innerText.includes(t)", text):
            await asyncio.sleep(POLL_S)

    async def wait_url(self, matches: Any, ms: float) -> None:
        while not matches(await self.current_url()):
            await asyncio.sleep(POLL_S)

    async def current_url(self) -> str:
        tree = await self.bidi.call("browsingContext.getTree", {"root": self.context, "maxDepth": 0})
        return str(tree["contexts"][0]["url"])

    async def count(self, selector: str) -> int:
        return int(await self._call_function("(s) => document.querySelectorAll(s).length", selector))

    async def inner_text(self, selector: str, ms: float) -> str:
        await self._element(selector)
        return str(await self._call_function("(s) => document.querySelector(s).innerText", selector))

    async def media_counters(self) -> dict[str, int]:
        counters = await self._call_function(MEDIA_COUNTERS)
        return {k: int(v) for k, v in counters.items()} if isinstance(counters, dict) else {}

    async def close(self) -> None:
        from websockets.exceptions import WebSocketException

        with contextlib.suppress(TimeoutError, RuntimeError, ConnectionError, WebSocketException):  # already gone
            await asyncio.wait_for(self.bidi.call("browser.close", {}), 5)
        await self.bidi.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 10)


def _local(value: Any) -> dict[str, Any]:
    """A BiDi LocalValue for a string, number, None or boolean argument."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, (int, float)):
        return {"type": "number", "value": value}
    return {"type": "string", "value": str(value)}


def _remote(value: Any) -> Any:
    """A BiDi RemoteValue as Python (primitives and plain objects; anything else as its type name)."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind in ("string", "number", "boolean"):
        return value.get("value")
    if kind in ("null", "undefined"):
        return None
    if kind == "object":
        return {k: _remote(v) for k, v in value.get("value") or []}
    if kind == "array":
        return [_remote(v) for v in value.get("value") or []]
    return kind


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def launch_firefox(name: str, profile: Path, proxy_port: int, ca_pem: bytes, keylog: Path,
                         timeout_s: float) -> FirefoxBrowser:
    """Start Firefox ESR headless for ``name`` with a throwaway profile and open a BiDi session on it."""
    import os

    import websockets

    profile.mkdir(parents=True, exist_ok=True)
    (profile / "user.js").write_text(profile_prefs(proxy_port), encoding="utf-8")
    trust_ca(profile, ca_pem)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(SSLKEYLOGFILE=str(keylog), MOZ_CRASHREPORTER_DISABLE="1")
    process = subprocess.Popen([firefox_executable(), "--headless", "--no-remote", "--profile", str(profile),
                                f"--remote-debugging-port={port}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    requests = RequestLog()

    def on_event(method: str, params: dict[str, Any]) -> None:
        if method == "network.beforeRequestSent":
            requests.add(str(params.get("request", {}).get("url", "")))

    try:
        ws = None
        while ws is None:
            if process.poll() is not None:
                raise UsageError(f"firefox-esr exited with code {process.returncode} at start")
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/session", max_size=64 * 1024 * 1024)
            except OSError:
                await asyncio.sleep(0.2)
        bidi = BidiConnection(ws, on_event)
        await bidi.call("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})
        await bidi.call("session.subscribe", {"events": ["network.beforeRequestSent"]})
        await bidi.call("script.addPreloadScript", {"functionDeclaration": f"() => {{ {PEER_CONNECTION_PROBE} }}"})
        tree = await bidi.call("browsingContext.getTree", {"maxDepth": 0})
        return FirefoxBrowser(name, process, bidi, tree["contexts"][0]["context"], requests)
    except BaseException:
        process.kill()
        process.wait(10)
        raise
