"""Upstream TLS failures are never silent: a lab upstream whose certificate only a private CA vouches for.
Without flags the capture shows the failed flows (panel, closing line, manifest); with --upstream-ca, --set or
--ssl-insecure the same request goes through."""

from __future__ import annotations

from confaudit.redact import Redactor
import asyncio
import json
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from confaudit.lab.loopback import LabResolver, TlsUpstream
from confaudit.live.run import CaptureConfig, run_capture

ROOM_HOST = "rooms.example-rooms.test"


@pytest.fixture
def private_upstream(tmp_path: Path):
    """An HTTPS server on loopback whose self-signed certificate (its own private CA) is in ca.pem."""
    upstream = TlsUpstream([ROOM_HOST]).start()
    (tmp_path / "ca.pem").write_bytes(upstream.cert_pem)
    try:
        yield upstream
    finally:
        upstream.stop()


def _get(proxy_port: int, url: str) -> int:
    """One request through the proxy; the client does not check mitmproxy's own certificate."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{proxy_port}"}),
                                         urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    try:
        with opener.open(url, timeout=20) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError as err:  # urllib's report of a refused CONNECT
        if "Tunnel connection failed: 502" in str(err.reason):
            return 502
        raise


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("flags", [[], ["--upstream-ca", "{ca}"], ["--set", "ssl_verify_upstream_trusted_ca={ca}"],
                                   ["--ssl-insecure"]], ids=["no-flag", "upstream-ca", "set", "ssl-insecure"])
def test_cli_reports_failed_upstream_or_trusts_the_private_ca(tmp_path: Path, private_upstream: TlsUpstream,
                                                              flags: list[str]) -> None:
    out = tmp_path / "s"
    args = [f.format(ca=tmp_path / "ca.pem") for f in flags]
    proc = subprocess.Popen([sys.executable, "-m", "confaudit", "capture", "--out", str(out), "--vendor", "v",
                             "--listen-port", "0", "--no-panel", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("proxy listening on 127.0.0.1:"), line + proc.stderr.read()
        port = int(line.split()[3].rsplit(":", 1)[1])
        # the certificate names 127.0.0.1: verification fails only on trust, never on the name
        status = _get(port, f"https://127.0.0.1:{private_upstream.port}/probe")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    closing = stdout.strip().splitlines()[-1]
    failures = json.loads((out / "manifest.json").read_text())["stats"]["upstream_failures"]
    if not flags:
        assert status == 502 and private_upstream.requests == []
        assert failures == {"flows": 1, "hosts": {"127.0.0.1": 1},
                            "first_error": "127.0.0.1: Certificate verify failed: self-signed certificate"}
        assert "1 failed upstream (1 host; first: 127.0.0.1: Certificate verify failed: self-signed certificate;" in closing
        assert "--upstream-ca FILE" in closing
    else:
        assert status == 200 and [r["path"] for r in private_upstream.requests] == ["/probe"]
        assert failures == {"flows": 0, "hosts": {}, "first_error": ""}
        assert "failed upstream" not in closing


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_panel_shows_failed_upstream_during_a_real_capture(tmp_path: Path, private_upstream: TlsUpstream) -> None:
    """A real master: the panel's numbers come from what mitmproxy's hooks reported, while recording."""
    from confaudit.live.panel import render, summary
    from confaudit.commands.capture import closing_line
    from rich.console import Console

    seen: dict = {}
    out = tmp_path / "s"

    async def scenario() -> dict:
        def ready(state) -> None:
            async def drive() -> None:
                port = state.listen[0][1]
                seen["statuses"] = [await asyncio.to_thread(_get, port, f"https://{ROOM_HOST}/a"),
                                    await asyncio.to_thread(_get, port, f"https://{ROOM_HOST}/b")]
                await asyncio.sleep(0.1)
                seen["summary"] = summary(state, "v")["upstream"]
                console = Console(width=160, record=True, file=open("/dev/null", "w"), color_system=None)  # noqa: SIM115
                console.print(render(state, "v"))
                seen["panel"] = console.export_text()
                state.stop.set()
            asyncio.get_running_loop().create_task(drive())
        config = CaptureConfig(out=out, vendor="v", listen_port=0, duration=60,
                               extra_addons=(LabResolver({ROOM_HOST: private_upstream.port}),))
        return await run_capture(config, on_ready=ready, redactor=Redactor.default())

    manifest = asyncio.run(scenario())
    assert seen["statuses"] == [502, 502]
    assert seen["summary"].flows == 2 and seen["summary"].hosts == {ROOM_HOST: 2}
    assert f"failed upstream │ 2 flows ({ROOM_HOST} 2)" in seen["panel"], seen["panel"]
    assert f"first error     │ {ROOM_HOST}: Certificate verify failed: self-signed certificate" in seen["panel"]
    assert "2 failed upstream" in closing_line(out, manifest)
    # the observations keep each failed flow with its error, as before
    records = [json.loads(x) for x in (out / "observations.jsonl").read_text().splitlines()]
    errors = [r["error"] for r in records if r["kind"] == "http"]
    assert errors == ["Certificate verify failed: self-signed certificate"] * 2


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_unreachable_upstream_behind_connect_counts_too(tmp_path: Path) -> None:
    """A CONNECT mitmproxy answers itself with 502 (nothing listens upstream) is a failed upstream flow."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    seen: list[int] = []

    async def scenario() -> dict:
        def ready(state) -> None:
            async def drive() -> None:
                seen.append(await asyncio.to_thread(_get, state.listen[0][1], f"https://{ROOM_HOST}/x"))
                state.stop.set()
            asyncio.get_running_loop().create_task(drive())
        config = CaptureConfig(out=tmp_path / "s", vendor="v", listen_port=0, duration=60,
                               extra_addons=(LabResolver({ROOM_HOST: dead_port}),))
        return await run_capture(config, on_ready=ready, redactor=Redactor.default())

    manifest = asyncio.run(scenario())
    assert seen == [502]
    failures = manifest["stats"]["upstream_failures"]
    assert failures["flows"] == 1 and failures["hosts"] == {ROOM_HOST: 1}
    assert failures["first_error"].startswith(f"{ROOM_HOST}: Cannot connect to 127.0.0.1:{dead_port}")
    assert "If you plan" not in failures["first_error"]


def _flow(**kwargs):
    from mitmproxy.test import tflow

    return tflow.tflow(**kwargs)


def test_which_failed_flows_are_upstream_failures() -> None:
    from mitmproxy import flow as mflow
    from mitmproxy import http

    from confaudit.live.upstream import failed_connect_error, failed_upstream_error

    verify = _flow(err=mflow.Error("Certificate verify failed: unable to get local issuer certificate"))
    verify.response = None
    verify.server_conn.error = "Certificate verify failed: unable to get local issuer certificate"
    assert failed_upstream_error(verify) == "Certificate verify failed: unable to get local issuer certificate"
    reset = _flow(err=mflow.Error("Server disconnected."))  # the request went out whole, no answer came
    reset.response = None
    assert failed_upstream_error(reset) == "Server disconnected."
    half = _flow(err=mflow.Error("HTTP/1 protocol error: peer closed connection without sending complete message body"))
    half.response, half.request.timestamp_end = None, None  # the client never finished its request
    assert failed_upstream_error(half) is None
    gone = _flow(err=mflow.Error("Client disconnected."))
    gone.response = None
    assert failed_upstream_error(gone) is None
    assert failed_upstream_error(_flow(resp=True)) is None

    hint = " If you plan to redirect requests away from this server, consider setting `connection_strategy` to `lazy`."
    refused = _flow(resp=http.Response.make(502, "Cannot connect to a.test:443: Connection refused" + hint))
    assert failed_connect_error(refused) == "Cannot connect to a.test:443: Connection refused"
    dropped = _flow(resp=http.Response.make(502, "Cannot connect to 127.0.0.1:443: client disconnected" + hint))
    assert failed_connect_error(dropped) is None  # a browser's spare connection, dropped by the browser
    assert failed_connect_error(_flow(resp=http.Response.make(407, b"auth"))) is None


def test_failure_counts_are_bounded_and_redacted() -> None:
    from confaudit.live import upstream
    from confaudit.redact import Redactor

    failures = upstream.UpstreamFailures(Redactor.default().text)
    failures.note("a.test", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW5vdC1yZWFs rejected")
    for i in range(upstream.MAX_HOSTS + 10):
        failures.note(f"h{i}.test", "refused")
    fields = failures.manifest_fields()
    assert fields["flows"] == upstream.MAX_HOSTS + 11 and len(fields["hosts"]) == upstream.MAX_HOSTS + 1
    assert fields["hosts"][upstream.OTHER_HOSTS] == 11
    assert fields["first_error"].startswith("a.test: ") and "eyJhbGciOiJIUzI1NiJ9" not in fields["first_error"]
