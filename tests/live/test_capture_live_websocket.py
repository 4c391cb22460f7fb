"""Headless Chromium's own WebSocket through the real capture proxy: text and binary messages in both
directions are recorded and come out of `confaudit analyze` as websocket[] records.

History: the lab upstream once answered the upgrade with a Sec-WebSocket-Accept computed from a
mistyped RFC 6455 GUID. mitmproxy relays the 101 untouched, so every browser closed with 1006
("Incorrect 'Sec-WebSocket-Accept' header value" in Chromium's net log), with or without the proxy."""

from __future__ import annotations

from confaudit.redact import Redactor
import asyncio
import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from support.environment import require_binary
from confaudit.lab.loopback import LabResolver, TlsUpstream, websocket_accept
from confaudit.lab.recorded_room import ROOM_HOST, headless_browser, wait_for_page
from confaudit.live.run import CaptureConfig, run_capture

BINARY = [0, 1, 2, 250, 255]
PAGE = """<!doctype html><html><body><script>
const report = m => fetch("/report?m=" + encodeURIComponent(m));
const ws = new WebSocket("wss://%s/signal?room=ws-room");
ws.binaryType = "arraybuffer";
const got = [];
ws.onopen = () => { ws.send(JSON.stringify({type: "hello", room: "ws-room"})); ws.send(new Uint8Array(%s)); };
ws.onmessage = e => {
  got.push(typeof e.data === "string" ? "text:" + e.data : "binary:" + Array.from(new Uint8Array(e.data)).join(","));
  if (got.length === 2) ws.close(1000, "done");
};
ws.onclose = e => report(JSON.stringify({code: e.code, clean: e.wasClean, got: got})).then(() => fetch("/finished"));
</script></body></html>""" % (ROOM_HOST, json.dumps(BINARY))


def test_lab_websocket_accept_is_rfc6455() -> None:
    from wsproto.handshake import generate_accept_token

    assert websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3
    key = base64.b64encode(b"confaudit-lab-16").decode()
    assert websocket_accept(key) == generate_accept_token(key.encode()).decode()


def _record(out: Path, strategy: str) -> tuple[list[dict[str, Any]], str]:
    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path == "/":
            return 200, "text/html; charset=utf-8", PAGE.encode()
        return 200, "text/plain", b"ok"

    upstream = TlsUpstream([ROOM_HOST], handler=handler).start()
    profile = tempfile.TemporaryDirectory(prefix="confaudit-chromium-")
    log = tempfile.TemporaryFile()

    async def scenario(state: Any) -> None:
        try:
            async with headless_browser(f"https://{ROOM_HOST}/", state.listen[0][1], Path(profile.name), log) as browser:
                await wait_for_page(browser, lambda: any(r["path"] == "/finished" for r in upstream.requests), 60,
                                    "finish its WebSocket exchange")
        finally:
            state.stop.set()

    config = CaptureConfig(out=out, vendor="example-rooms", listen_port=0, duration=90, ssl_insecure=True,
                           simulated=True, extra_addons=(LabResolver({ROOM_HOST: upstream.port}),),
                           extra_options={"connection_strategy": strategy})
    try:
        asyncio.run(run_capture(config, on_ready=lambda state: asyncio.get_running_loop().create_task(scenario(state)), redactor=Redactor.default()))
    finally:
        upstream.stop()
        profile.cleanup()
    log.seek(0)
    tail = log.read()[-600:].decode("utf-8", "replace")
    log.close()
    return list(upstream.requests), tail


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("strategy", ["lazy", "eager"])
def test_chromium_websocket_through_real_proxy(tmp_path: Path, strategy: str) -> None:
    require_binary("chromium")
    session = tmp_path / "session"
    requests, browser_log = _record(session, strategy)
    reports = [parse_qs(urlsplit(r["path"]).query)["m"][0] for r in requests if r["path"].startswith("/report")]
    assert reports, f"the page never reported; upstream saw {[r['path'] for r in requests]}; chromium: {browser_log}"
    page = json.loads(reports[0])
    assert page == {"code": 1000, "clean": True,
                    "got": ['text:echo:{"type":"hello","room":"ws-room"}',
                            "binary:" + ",".join(str(b) for b in [*b"echo:", *BINARY])]}, page

    out = tmp_path / "evidence.json"
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(session), "--json", str(out), "-q"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out.read_text())
    ws = bundle["websocket"]
    kinds = {(w["from_client"], w["type"]) for w in ws}
    assert kinds == {(True, "text"), (True, "binary"), (False, "text"), (False, "binary")}, ws
    by_kind = {(w["from_client"], w["type"]): w for w in ws}
    assert json.loads(by_kind[True, "text"]["content"]) == {"type": "hello", "room": "ws-room"}
    assert base64.b64decode(by_kind[True, "binary"]["content"]) == bytes(BINARY)
    assert by_kind[True, "binary"]["size"] == len(BINARY)
    assert by_kind[False, "text"]["content"] == 'echo:{"type":"hello","room":"ws-room"}'
    assert base64.b64decode(by_kind[False, "binary"]["content"]) == b"echo:" + bytes(BINARY)
    for w in ws:
        assert w["host"] == ROOM_HOST and w["url"].startswith(f"https://{ROOM_HOST}/signal")
    upgrade = next(h for h in bundle["http"] if h["id"] == ws[0]["http_id"])
    assert upgrade["status"] == 101 and upgrade["path"] == "/signal"
    assert all(w["http_id"] == upgrade["id"] for w in ws)
    assert "HeadlessChrome" in dict((k.lower(), v) for k, v in upgrade["request_headers"])["user-agent"]
