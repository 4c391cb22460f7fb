"""`confaudit capture` refusing to start: a port in use, an unknown interface, bad --set/--upstream-ca. One line,
a distinct exit code, and no session directory left behind, so a retry with the same --out works. Also the
modes of every file of a recorded session and `mark`'s ISO 8601 time."""

from __future__ import annotations

from confaudit.redact import Redactor
import asyncio
import json
import os
import re
import socket
import stat
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from confaudit.live import startup
from confaudit.live.run import CaptureConfig, run_capture
from confaudit.errors import InputError


def _capture(out: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", "capture", "--out", str(out), "--vendor", "v",
                           "--no-panel", *args], capture_output=True, text=True, timeout=timeout)


def _one_line_error(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("confaudit: error: "), done.stderr
    assert "Traceback" not in done.stderr and "Error logged during startup" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


@pytest.fixture
def busy_port():
    """A real listening socket on loopback: the port the capture is asked to use."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_port_in_use_leaves_nothing_and_a_retry_with_the_same_out_works(tmp_path: Path, busy_port: socket.socket) -> None:
    port = busy_port.getsockname()[1]
    out = tmp_path / "sessions" / "rooms-1"
    done = _capture(out, "--listen-port", str(port), "--duration", "1")
    _one_line_error(done, 3, f"127.0.0.1:{port}", "in use")
    assert not (tmp_path / "sessions").exists()  # not even the parent it would have created
    busy_port.close()
    retry = _capture(out, "--listen-port", str(port), "--duration", "0.5")
    assert retry.returncode == 0, retry.stderr
    assert json.loads((out / "manifest.json").read_text())["stopped"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_udp_port_in_use_refuses_wireguard_mode(tmp_path: Path) -> None:
    """The check binds what the mode listens on: WireGuard is UDP, on the port of its spec."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        out = tmp_path / "s"
        done = _capture(out, "--mode", f"wireguard@{port}", "--duration", "1")
    _one_line_error(done, 3, f"127.0.0.1:{port} (UDP): cannot listen", "in use")
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_unknown_interface_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "s"
    done = _capture(out, "--listen-port", "0", "--iface", "nosuch0", "--duration", "1")
    _one_line_error(done, 3, "nosuch0: no such network interface")
    assert not out.exists()
    out.mkdir()  # an empty directory made beforehand stays, empty
    done = _capture(out, "--listen-port", "0", "--iface", "nosuch0", "--duration", "1")
    _one_line_error(done, 3, "nosuch0")
    assert out.is_dir() and list(out.iterdir()) == []


@pytest.mark.timeout(120)
def test_port_taken_after_the_check_is_reported_from_mitmproxys_startup(tmp_path: Path, busy_port: socket.socket,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the early check cannot close: mitmproxy itself fails to bind. Its startup error is caught (no
    "Error logged during startup, exiting...", no sys.exit) and the directory removed again."""
    monkeypatch.setattr(startup, "check_listen_addresses", lambda opts: None)
    port = busy_port.getsockname()[1]
    out = tmp_path / "s"
    config = CaptureConfig(out=out, vendor="v", listen_port=port, iface="lo", duration=5)
    with pytest.raises(InputError, match=rf"127\.0\.0\.1:{port}: proxy did not start: .*{port}"):
        asyncio.run(run_capture(config, redactor=Redactor.default()))
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "needle"), [
    ("no_such_option=1", "no such mitmproxy option 'no_such_option'"),
    ("ssl_insecure=perhaps", "--set ssl_insecure=perhaps"),
    ("connection_strategy=sometimes", "--set connection_strategy=sometimes"),
    ("confaudit_session=/tmp/elsewhere", "set by capture's flags"),
    ("ssl_insecure", "expected key=value"),
])
def test_bad_set_is_a_usage_error_before_anything_is_written(tmp_path: Path, spec: str, needle: str) -> None:
    out = tmp_path / "s"
    done = _capture(out, "--listen-port", "0", "--duration", "1", "--set", spec)
    _one_line_error(done, 2, needle)
    assert not out.exists()


@pytest.mark.slow
def test_unusable_upstream_ca_is_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "s"
    done = _capture(out, "--listen-port", "0", "--duration", "1", "--upstream-ca", str(tmp_path / "missing.pem"))
    _one_line_error(done, 3, "missing.pem: no such file")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    done = _capture(out, "--listen-port", "0", "--duration", "1", "--upstream-ca", str(junk))
    _one_line_error(done, 3, "junk.pem: not a PEM certificate file")
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_every_file_of_a_recorded_session_is_private(tmp_path: Path) -> None:
    """With a umask that would let everyone read everything: the session's modes are set explicitly."""
    from support.environment import loopback_http
    import http.server

    from confaudit.session.directory import append_phase

    out = tmp_path / "s"

    async def scenario(url: str) -> dict:
        def ready(state) -> None:
            async def drive() -> None:
                opener = urllib.request.build_opener(
                    urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{state.listen[0][1]}"}))

                def fetch() -> None:
                    try:
                        opener.open(f"{url}/private", timeout=20).read()
                    except urllib.error.HTTPError:
                        pass  # a 404 from the directory listing handler: the flow is recorded all the same

                await asyncio.to_thread(fetch)
                append_phase(out, "joined")
                state.stop.set()
            asyncio.get_running_loop().create_task(drive())
        return await run_capture(CaptureConfig(out=out, vendor="v", listen_port=0, iface="lo", duration=60), on_ready=ready, redactor=Redactor.default())

    old = os.umask(0)
    try:
        with loopback_http(http.server.SimpleHTTPRequestHandler) as url:
            manifest = asyncio.run(scenario(url))
    finally:
        os.umask(old)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["capture.pcapng", "flows.mitm", "manifest.json", "observations.jsonl", "phases.jsonl", "sslkeys.log"]
    assert manifest["stats"]["records"]["http"] == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_mark_prints_iso_8601_utc(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "confaudit", "mark", str(tmp_path), "muted"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    match = re.fullmatch(r"marked muted at (\S+)\n", done.stdout)
    assert match, done.stdout
    stamp = match.group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp), stamp
    recorded = json.loads((tmp_path / "phases.jsonl").read_text())["ts"]
    assert abs(datetime.fromisoformat(stamp).timestamp() - recorded) < 0.001
    assert stat.S_IMODE((tmp_path / "phases.jsonl").stat().st_mode) == 0o600
