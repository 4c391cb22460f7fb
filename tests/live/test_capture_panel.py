"""`confaudit capture`'s live panel and phase keys, in a real terminal (tmux), plus the panel's pure parts.

The tmux tests run the real CLI in a pane: they read the screen with `tmux capture-pane -p`, press keys
with `tmux send-keys`, send a request through the proxy to a loopback HTTP server, and check the session
files and that the terminal mode (icanon, echo) is restored after the capture ends, however it ends.
"""

from __future__ import annotations

from confaudit.redact import Redactor
import asyncio
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import termios
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from support.environment import loopback_http
from confaudit.live.run import LiveState
from confaudit.live.addons import SessionRecorder
from confaudit.live.panel import KeyReader, PhaseTail, registrable_domain, render, summary
from confaudit.session.directory import append_phase, read_phases

CONFAUDIT = Path(sys.executable).with_name("confaudit")


# ---- a real terminal -----------------------------------------------------------------------------

class Pane:
    """One tmux session on a private server socket (never the user's tmux)."""

    def __init__(self, tmux: str, workdir: Path) -> None:
        self.tmux, self.workdir = tmux, workdir
        self.socket = f"confaudit-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _cmd(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True, timeout=10,
                              check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, shell_command: str) -> None:
        # After the command, record its exit code and the terminal mode it left behind, then idle so
        # the pane (and its last screen) stays readable.
        script = (f"{shell_command}; echo $? > {shlex.quote(str(self.workdir / 'rc'))}; "
                  f"stty -a > {shlex.quote(str(self.workdir / 'stty'))}; sleep 60")
        self._cmd("-f", "/dev/null", "new-session", "-d", "-s", "cap", "-x", "160", "-y", "45", script)

    def screen(self) -> str:
        return self._cmd("capture-pane", "-p", "-t", "cap", "-S", "-200")

    def keys(self, *keys: str) -> None:
        self._cmd("send-keys", "-t", "cap", *keys)

    def wait_screen(self, predicate: Callable[[str], object], what: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = 20) -> int:
        rc, stty = self.workdir / "rc", self.workdir / "stty"
        deadline = time.monotonic() + timeout
        while not (stty.is_file() and stty.stat().st_size):
            if time.monotonic() > deadline:
                raise AssertionError(f"capture did not exit; screen:\n{self.screen()}")
            time.sleep(0.1)
        return int(rc.read_text().strip())

    def terminal_modes(self) -> set[str]:
        return set((self.workdir / "stty").read_text().split())

    def close(self) -> None:
        self._cmd("kill-server", check=False)


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (scripts/sysdeps.sh installs it from Debian's packages)")
    assert CONFAUDIT.is_file(), f"confaudit entry point not found next to {sys.executable} (make test installs it)"
    term = Pane(tmux, tmp_path)
    try:
        yield term
    finally:
        term.close()


@pytest.fixture
def upstream() -> Iterator[str]:
    """A loopback HTTP server: the destination of the request sent through the proxy."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = b"panel-probe-ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        yield url


def _capture_command(out: Path, duration: int = 30) -> str:
    return (f"env -u COLUMNS -u LINES {shlex.quote(str(CONFAUDIT))} capture --out {shlex.quote(str(out))} --vendor x "
            f"--listen-port 0 --duration {duration}")


def _panel_row(screen: str, label: str) -> str:
    match = re.search(rf"│ {re.escape(label)}\s+│ (.*?)\s*│", screen)
    assert match, f"panel row {label!r} missing:\n{screen}"
    return match.group(1)


def _proxy_port(screen: str) -> int:
    match = re.search(r"proxy listening on 127\.0\.0\.1:(\d+)", screen)
    assert match, screen
    return int(match.group(1))


def _assert_restored(term: Pane) -> None:
    modes = term.terminal_modes()
    assert "icanon" in modes and "echo" in modes, f"terminal left in raw/cbreak mode: {sorted(modes)}"


def _assert_clean(screen: str) -> None:
    assert "Traceback" not in screen and "internal error" not in screen, screen


# ---- the whole interaction in a real terminal ------------------------------------------------------

@pytest.mark.slow
def test_panel_keys_proxy_and_quit_in_a_real_terminal(pane: Pane, upstream: str, tmp_path: Path) -> None:
    out = tmp_path / "session"
    pane.start(_capture_command(out))
    screen = pane.wait_screen(lambda s: "│ elapsed" in s and "proxy listening" in s, "the panel")
    port = _proxy_port(screen)
    assert _panel_row(screen, "proxy") == f"127.0.0.1:{port}"
    assert re.fullmatch(r"\d\d:\d\d", _panel_row(screen, "elapsed"))
    assert _panel_row(screen, "flows") == "0 HTTP, 0 WebSocket msgs, 0 TLS hellos"
    assert _panel_row(screen, "hosts") == "0"
    assert _panel_row(screen, "phases") == "-"
    # elapsed time moves
    first = _panel_row(screen, "elapsed")
    pane.wait_screen(lambda s: _panel_row(s, "elapsed") != first, "the elapsed time to advance", timeout=5)

    # phase keys: m then u; arrow and function keys are escape sequences, not phase keys
    pane.keys("m")
    pane.wait_screen(lambda s: _panel_row(s, "phases") == "muted", "muted in the panel", timeout=5)
    pane.keys("Right", "F1", "M-c")  # ESC [ C, ESC O P, ESC c: none of them is the `c` key
    pane.keys("u")
    screen = pane.wait_screen(lambda s: _panel_row(s, "phases") == "muted > unmuted", "unmuted in the panel", timeout=5)
    assert [p["phase"] for p in read_phases(out / "phases.jsonl")] == ["muted", "unmuted"]

    # a marker from another terminal shows in the panel too
    subprocess.run([str(CONFAUDIT), "mark", str(out), "joined"], check=True, capture_output=True, timeout=30)
    pane.wait_screen(lambda s: _panel_row(s, "phases") == "muted > unmuted > joined", "joined in the panel", timeout=5)

    # a request through the proxy; a second one whose Host header is rich markup: shown as text,
    # the panel must neither interpret it nor crash on it
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
    with opener.open(f"{upstream}/panel-probe?x=1", timeout=10) as response:
        assert response.status == 200 and response.read() == b"panel-probe-ok"
    screen = pane.wait_screen(lambda s: _panel_row(s, "flows").startswith("1 HTTP"), "the request in the panel",
                              timeout=5)
    assert _panel_row(screen, "hosts") == "1"
    assert _panel_row(screen, "other domains") == "1: 127.0.0.1"  # an IP, not the "domain" 0.1
    hostile = urllib.request.Request(f"{upstream}/hostile", headers={"Host": "evil.[/b]"})
    with opener.open(hostile, timeout=10) as response:
        assert response.status == 200
    # (whether that request is recorded is the converter's business; the panel only has to show it)
    pane.wait_screen(lambda s: "evil.[/b]" in _panel_row(s, "other domains"), "the hostile host as text", timeout=5)
    assert _panel_row(pane.screen(), "hosts") == "2"

    pane.keys("q")
    assert pane.wait_exit() == 0
    screen = pane.screen()
    _assert_clean(screen)
    _assert_restored(pane)
    assert re.search(r"session written to .*: [12] HTTP, 0 WebSocket, 0 TLS hellos", screen), screen

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vendor"] == "x" and manifest["started"] and manifest["stopped"]
    assert manifest["stats"]["records"]["http"] >= 1
    assert manifest["stats"]["listen"] == [["127.0.0.1", port]]
    assert {"observations.jsonl", "phases.jsonl", "flows.mitm"} <= set(manifest["files"])
    assert [p["phase"] for p in read_phases(out / "phases.jsonl")] == ["muted", "unmuted", "joined"]
    records = [json.loads(line) for line in (out / "observations.jsonl").read_text().splitlines()]
    http = [r for r in records if r["kind"] == "http"]
    probe = [r for r in http if r["path"] == "/panel-probe"]
    assert len(probe) == 1 and probe[0]["host"] == "127.0.0.1" and probe[0]["status"] == 200, http


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["ctrl-c", "duration"])
def test_capture_ends_cleanly_and_restores_the_terminal(pane: Pane, tmp_path: Path, ending: str) -> None:
    out = tmp_path / "session"
    pane.start(_capture_command(out, duration=2 if ending == "duration" else 30))
    pane.wait_screen(lambda s: "│ elapsed" in s, "the panel")
    pane.keys("j")
    if ending == "ctrl-c":
        pane.wait_screen(lambda s: "joined" in _panel_row(s, "phases"), "joined in the panel", timeout=5)
        pane.keys("C-c")
    assert pane.wait_exit() == 0
    _assert_clean(pane.screen())
    _assert_restored(pane)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stopped"] and "observations.jsonl" in manifest["files"]
    assert [p["phase"] for p in read_phases(out / "phases.jsonl")] == ["joined"]


@pytest.mark.slow
def test_panel_with_a_sniffer_in_a_real_terminal(pane: Pane, upstream: str, tmp_path: Path) -> None:
    """`capture --iface lo`: the panel keeps showing (it once replaced itself with "panel error (TypeError)")."""
    out = tmp_path / "session"
    pane.start(_capture_command(out) + " --iface lo")
    screen = pane.wait_screen(lambda s: "│ elapsed" in s or "panel error" in s, "the panel")
    assert "panel error" not in screen, screen
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{_proxy_port(screen)}"}))
    with opener.open(f"{upstream}/with-sniffer", timeout=10) as response:
        assert response.status == 200
    screen = pane.wait_screen(lambda s: "panel error" in s or _panel_row(s, "flows").startswith("1 HTTP"),
                              "the request in the panel", timeout=5)
    assert "panel error" not in screen and re.fullmatch(r"\d+ kbit/s", _panel_row(screen, "UDP media")), screen
    pane.keys("q")
    assert pane.wait_exit() == 0
    _assert_clean(pane.screen())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["sniffer"]["iface"] == "lo" and manifest["stats"]["sniffer"]["packets"] > 0


# ---- the pure parts, no terminal needed ------------------------------------------------------------

def test_registrable_domain_keeps_ip_addresses() -> None:
    assert registrable_domain("127.0.0.1") == "127.0.0.1"
    assert registrable_domain("10.2.3.4") == "10.2.3.4"
    assert registrable_domain("[::1]") == "::1"
    assert registrable_domain("a.b.Example.co.uk.") == "example.co.uk"


def _state(hosts: dict[str, int], phases: list[str] | None = None, sniffer: object = None) -> LiveState:
    addon = SessionRecorder(redactor=Redactor.default())  # the real addon and state classes: look-alikes hid a property called as a method
    addon.hosts.update(hosts)
    addon.counts["http"] = 3
    return LiveState(started=time.time() - 65, addon=addon, sniffer=sniffer, listen=[("127.0.0.1", 8080)],
                     phases=phases or [])


def _text(renderable: object) -> str:
    from rich.console import Console

    console = Console(width=160, record=True, file=open(os.devnull, "w"), color_system=None)  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_render_shows_hostile_names_as_text() -> None:
    state = _state({"a.[/b]": 1, "[bold red]x.example": 1, "esc\x1b]0;pwned\x07.test": 1}, ["m[/x]"])
    text = _text(render(state, "[/]vendor"))
    assert "a.[/b]" in text and "[bold red]x.example" in text and "m[/x]" in text and "[/]vendor" in text
    assert "\x1b" not in text and "\x07" not in text
    assert "01:05" in text and "3 HTTP" in text
    assert summary(state, "vendor")["http"] == 3


def test_render_with_a_real_sniffer_shows_its_udp_rate(tmp_path: Path) -> None:
    """`capture --iface` hands the panel a PacketSniffer, whose ``stats`` is a property."""
    import socket

    from confaudit.live.sniffer import PacketSniffer

    sniffer = PacketSniffer("lo", tmp_path / "capture.pcapng")
    sniffer.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as source:
            sink.bind(("127.0.0.1", 0))
            for _ in range(50):
                source.sendto(b"\x80" + bytes(1199), sink.getsockname())
        deadline = time.monotonic() + 5
        while sniffer.stats.udp_bytes < 50 * 1200 and time.monotonic() < deadline:
            time.sleep(0.05)
        state = _state({}, sniffer=sniffer)
        text = _text(render(state, "vendor"))
    finally:
        sniffer.stop()
    assert summary(state, "vendor")["udp_kbps"] > 0  # from the sniffer: the addon saw no UDP
    row = re.search(r"UDP media\s+(?:│\s*)?(\d+) kbit/s", text)
    assert row and int(row.group(1)) >= 1, text


def test_render_shows_failed_upstream_flows_with_the_first_error() -> None:
    state = _state({"rooms.example-rooms.test": 2})
    assert "failed upstream" not in _text(render(state, "vendor"))
    state.addon.upstream.note("rooms.example-rooms.test", "Certificate verify failed: self-signed certificate")
    state.addon.upstream.note("rooms.example-rooms.test", "Certificate verify failed: again")
    state.addon.upstream.note("esc\x1b]0;x\x07.test", "reset\x1b[2J")
    text = _text(render(state, "vendor"))
    assert re.search(r"failed upstream\s+│ 3 flows \(rooms.example-rooms.test 2, esc\?\]0;x\?.test 1\)", text), text
    assert re.search(r"first error\s+│ rooms.example-rooms.test: Certificate verify failed: self-signed certificate\s", text)
    assert "\x1b" not in text and "\x07" not in text


def test_phase_tail_follows_markers_from_other_terminals(tmp_path: Path) -> None:
    state = _state({})
    tail = PhaseTail(tmp_path)
    tail.sync(state)
    assert state.phases == []
    append_phase(tmp_path, "lobby")
    append_phase(tmp_path, "my own label")
    tail.sync(state)
    assert state.phases == ["lobby", "my own label"]
    (tmp_path / "phases.jsonl").write_text("not json\n{}\n")  # malformed: keep what was shown
    tail.sync(state)
    assert state.phases == ["lobby", "my own label"]


def test_key_reader_on_a_pty_skips_escape_sequences_and_restores_the_mode(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        loop = asyncio.new_event_loop()
        state = SimpleNamespace(stop=asyncio.Event(), phases=[])
        reader = KeyReader(state, tmp_path, loop, fd=slave)
        reader.start()
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak while reading
        # Right arrow, F1 (SS3), Home, Alt+c, PageUp, then M (shift) and x; then q
        os.write(master, b"\x1b[C\x1bOP\x1b[H\x1bc\x1b[5~Mx")
        deadline = time.monotonic() + 5
        while len(read_phases(tmp_path / "phases.jsonl")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(master, b"q")
        loop.run_until_complete(asyncio.wait_for(state.stop.wait(), 5))
        reader.stop()
        assert termios.tcgetattr(slave) == before
        assert [p["phase"] for p in read_phases(tmp_path / "phases.jsonl")] == ["muted", "left"]
        assert reader.errors == []
        loop.close()
    finally:
        os.close(master)
        os.close(slave)


def test_key_reader_survives_a_vanished_session_directory(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        loop = asyncio.new_event_loop()
        state = SimpleNamespace(stop=asyncio.Event(), phases=[])
        reader = KeyReader(state, tmp_path / "gone", loop, fd=slave)
        reader.start()
        os.write(master, b"m")
        deadline = time.monotonic() + 5
        while not reader.errors and time.monotonic() < deadline:
            time.sleep(0.02)
        reader.stop()
        loop.close()
        assert reader.errors and "does not exist" in reader.errors[0]
    finally:
        os.close(master)
        os.close(slave)
