"""A real mitmproxy master on a free loopback port, a real HTTP client, a real TLS upstream."""

from __future__ import annotations

from confaudit.redact import Redactor
import asyncio
import gzip
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.environment import REPO, loopback_http
from confaudit.importers.http_sources import load_http_sources
from confaudit.lab.loopback import LabResolver, TlsUpstream
from confaudit.live.run import CaptureConfig, run_capture
from confaudit.session.directory import read_session, session_provenance

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
                from confaudit.session.directory import append_phase

                append_phase(out, "left")
                state.stop.set()

            asyncio.get_running_loop().create_task(drive())

        config = CaptureConfig(out=out, vendor="example-rooms", listen_port=0, iface="lo", duration=60,
                               ssl_insecure=True, simulated=True,
                               extra_addons=(LabResolver({ROOM_HOST: upstream.port, TRACKER_HOST: upstream.port}),),
                               known={"room_names": ["blue-room"]})
        return await run_capture(config, on_ready=ready, redactor=Redactor.default())

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
    bundle = load_http_sources(sess.http_sources, redactor=Redactor.default())
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
    assert len(load_http_sources([out / "flows.mitm"], redactor=Redactor.default())["http"]) == 2


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


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ctrl_c_ends_capture_cleanly_with_manifest(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "confaudit", "capture", "--out", str(out), "--vendor", "v",
                             "--listen-port", "0", "--no-panel"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("proxy listening on 127.0.0.1:"), line + proc.stderr.read()
        port = int(line.split()[3].rsplit(":", 1)[1])
        import http.server

        # Plain HTTP upstream: `confaudit capture` verifies upstream certificates (no --ssl-insecure).
        with loopback_http(http.server.SimpleHTTPRequestHandler) as url:
            try:
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
                with opener.open(f"{url}/before-ctrl-c", timeout=20) as resp:
                    resp.read()
            except urllib.error.HTTPError as err:
                assert err.code == 404  # the directory listing handler: any answer proves the proxy path
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "session written" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stopped"] and manifest["stats"]["records"]["http"] == 1
    assert "/before-ctrl-c" in (out / "observations.jsonl").read_text()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_mitmdump_loads_the_entry_file(tmp_path: Path) -> None:
    import time

    from benchmarks.bench_proxy import _free_port

    port, out = _free_port(), tmp_path / "s"
    mitmdump = Path(sys.executable).with_name("mitmdump")
    upstream = TlsUpstream([ROOM_HOST]).start()
    repo = REPO
    proc = subprocess.Popen([str(mitmdump), "-q", "--listen-port", str(port), "--set", "ssl_insecure=true",
                             "-s", str(repo / "addons" / "confaudit.py"), "--set", f"confaudit_session={out}",
                             "--set", "confaudit_vendor=lab"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        context = ssl._create_unverified_context()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{port}"}),
                                             urllib.request.HTTPSHandler(context=context))
        deadline = time.monotonic() + 60
        while True:
            try:
                with opener.open(f"https://127.0.0.1:{upstream.port}/via-mitmdump?token=ENTRY-SECRET", timeout=10) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "timeout"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        upstream.stop()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vendor"] == "lab" and manifest["stopped"]
    bundle = load_http_sources(read_session(out).http_sources, redactor=Redactor.default())
    assert [h["path"] for h in bundle["http"]] == ["/via-mitmdump"] and "ENTRY-SECRET" not in json.dumps(bundle)
    assert len(load_http_sources([out / "flows.mitm"], redactor=Redactor.default())["http"]) == 1


def test_panel_summary_counts_other_domains() -> None:
    import time as _time

    from confaudit.live.run import LiveState
    from confaudit.live.addons import SessionRecorder
    from confaudit.live.panel import render, summary

    # the real classes, not look-alikes: a fake once hid the panel calling a property as a method
    addon = SessionRecorder(redactor=Redactor.default())
    addon.hosts.update({"api.example-rooms.test": 3, "cdn.example-rooms.test": 1, "t.tracker.test": 2})
    addon.counts.update({"http": 6, "websocket": 2, "tls_clienthello": 3})
    addon.udp_dns.udp_bytes = 125_000
    state = LiveState(started=_time.time() - 10, addon=addon, phases=["joined"], listen=[("127.0.0.1", 8080)])
    s = summary(state, "example-rooms")
    assert s["http"] == 6 and s["hosts"] == 3 and s["other_domains"] == ["tracker.test"]
    assert 90 < s["udp_kbps"] < 110
    render(state, "example-rooms")  # a rich Table, no exception


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ignored_host_is_passed_through_untouched_with_clienthello_metadata(tmp_path: Path) -> None:
    upstream = TlsUpstream([ROOM_HOST]).start()
    out = tmp_path / "session"
    statuses: list[int] = []

    def pinned_client(port: int) -> None:
        # Trusts ONLY the origin's own certificate, like a pinned app: works only if nothing intercepts.
        context = ssl.create_default_context(cadata=upstream.cert_pem.decode())
        context.set_alpn_protocols(["h2", "http/1.1"])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{port}"}),
                                             urllib.request.HTTPSHandler(context=context))
        with opener.open(f"https://{ROOM_HOST}/pinned", timeout=20) as resp:
            statuses.append(resp.status)

    async def scenario() -> dict:
        def ready(state) -> None:
            async def drive() -> None:
                try:
                    await asyncio.to_thread(pinned_client, state.listen[0][1])
                finally:
                    state.stop.set()
            asyncio.get_running_loop().create_task(drive())
        return await run_capture(CaptureConfig(out=out, vendor="v", listen_port=0, duration=60, ignore_hosts=(ROOM_HOST,),
                                               extra_addons=(LabResolver({ROOM_HOST: upstream.port}),)), on_ready=ready, redactor=Redactor.default())

    try:
        asyncio.run(scenario())
    finally:
        upstream.stop()
    assert statuses == [200] and [r["path"] for r in upstream.requests] == ["/pinned"]
    bundle = load_http_sources([out / "observations.jsonl"], redactor=Redactor.default())
    assert bundle["http"] == []  # passed through: no decrypted content
    hellos = [t for t in bundle["tls_clienthello"] if t["sni"] == ROOM_HOST]
    assert hellos and hellos[0]["passthrough"] is True and hellos[0]["alpn"] == ["h2", "http/1.1"]
