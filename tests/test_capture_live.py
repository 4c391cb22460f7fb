"""A real mitmproxy master on a free loopback port, a real HTTP client, a real TLS upstream."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from confaudit.capture.importers import load_http_sources
from confaudit.capture.lab import LabResolver, TlsUpstream
from confaudit.capture.live import CaptureConfig, run_capture
from confaudit.capture.session import read_session, session_provenance

ROOM_HOST = "rooms.example-rooms.test"
TRACKER_HOST = "telemetry.tracker.test"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdWRpdG9yIn0.c2lnbmF0dXJlLW5vdC1yZWFs"


def _client(proxy_port: int) -> list[int]:
    """Plain urllib through the proxy; trusts nothing but does not verify (mitmproxy's CA is per-test)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{proxy_port}", "http": f"http://127.0.0.1:{proxy_port}"}),
        urllib.request.HTTPSHandler(context=context))
    statuses = []
    beacon = json.dumps({"ua": "Mozilla/5.0 lab", "screen": "1920x1080", "tz": "Europe/Berlin",
                         "room": "blue-room", "auth_token": "AUTH-SECRET-1"}).encode()
    requests = [
        urllib.request.Request(f"https://{ROOM_HOST}/join?room=blue-room&access_token=QUERY-SECRET-2",
                               headers={"Authorization": f"Bearer {JWT}", "Cookie": "sid=COOKIE-SECRET-3"}),
        urllib.request.Request(f"https://{TRACKER_HOST}/collect", data=gzip.compress(beacon), method="POST",
                               headers={"content-type": "application/json", "content-encoding": "gzip"}),
    ]
    for req in requests:
        with opener.open(req, timeout=20) as resp:
            resp.read()
            statuses.append(resp.status)
    return statuses


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_live_capture_records_https_through_real_proxy(tmp_path: Path) -> None:
    upstream = TlsUpstream([ROOM_HOST, TRACKER_HOST]).start()
    out = tmp_path / "session"
    statuses: list[int] = []

    async def scenario() -> dict:
        def ready(state) -> None:
            async def drive() -> None:
                statuses.extend(await asyncio.to_thread(_client, state.listen[0][1]))
                from confaudit.capture.session import append_phase

                append_phase(out, "left")
                state.stop.set()

            asyncio.get_running_loop().create_task(drive())

        config = CaptureConfig(out=out, vendor="example-rooms", listen_port=0, iface="lo", duration=60,
                               ssl_insecure=True, simulated=True,
                               extra_addons=(LabResolver({ROOM_HOST: upstream.port, TRACKER_HOST: upstream.port}),),
                               known={"room_names": ["blue-room"]})
        return await run_capture(config, on_ready=ready)

    try:
        manifest = asyncio.run(scenario())
    finally:
        upstream.stop()
    assert statuses == [200, 200]
    assert [r["path"] for r in upstream.requests] == ["/join?room=blue-room&access_token=QUERY-SECRET-2", "/collect"]
    assert manifest["stopped"] and manifest["simulated"] is True and manifest["hook_errors"] == {}
    for name in ("observations.jsonl", "flows.mitm", "capture.pcapng", "sslkeys.log", "phases.jsonl"):
        assert manifest["files"][name]["size"] > 0, name
    assert manifest["files"]["flows.mitm"]["sensitive"] and manifest["files"]["sslkeys.log"]["sensitive"]

    sess = read_session(out)
    assert sess.http_sources == [out / "observations.jsonl"] and sess.captures == [out / "capture.pcapng"]
    assert sess.room_names == ["blue-room"] and [p["phase"] for p in sess.phases] == ["left"]
    bundle = load_http_sources(sess.http_sources)
    by_host = {h["host"]: h for h in bundle["http"]}
    assert set(by_host) == {ROOM_HOST, TRACKER_HOST}
    beacon = json.loads(by_host[TRACKER_HOST]["request_body"]["text"])
    assert beacon["screen"] == "1920x1080" and beacon["room"] == "blue-room"
    assert by_host[TRACKER_HOST]["request_body"]["encoding"] == "gzip"
    assert by_host[ROOM_HOST]["server"]["ip"] == "127.0.0.1" and by_host[ROOM_HOST]["client"]["ip"] == "127.0.0.1"
    assert {t["sni"] for t in bundle["tls_clienthello"]} >= {ROOM_HOST, TRACKER_HOST}
    everything = json.dumps(bundle) + (out / "observations.jsonl").read_text()
    for secret in ("AUTH-SECRET-1", "QUERY-SECRET-2", "COOKIE-SECRET-3", JWT):
        assert secret not in everything
    prov = session_provenance([sess])
    assert prov["files_match"] and prov["simulated"] and prov["vendor"] == "example-rooms"
    # the raw flow file is the same traffic: readable with the shared converter
    assert len(load_http_sources([out / "flows.mitm"])["http"]) == 2


def test_mark_appends_from_another_process(tmp_path: Path) -> None:
    for phase in ("joined", "muted"):
        done = subprocess.run([sys.executable, "-m", "confaudit", "mark", str(tmp_path), phase],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (tmp_path / "phases.jsonl").read_text().splitlines()]
    assert [x["phase"] for x in lines] == ["joined", "muted"] and lines[0]["ts"] <= lines[1]["ts"]
    bad = subprocess.run([sys.executable, "-m", "confaudit", "mark", str(tmp_path / "missing"), "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1
