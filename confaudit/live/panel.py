"""The live capture panel (rich): elapsed time, flows, hosts, other domains, UDP rate; phase keys."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

from confaudit.session.directory import append_phase

PHASE_KEYS = {"l": "lobby", "j": "joined", "m": "muted", "u": "unmuted", "c": "camera-off", "v": "camera-on",
              "s": "screen-share", "x": "left"}


def registrable_domain(host: str) -> str:
    """example.co.uk for a.b.example.co.uk; the host itself for IPs and unknown suffixes."""
    import ipaddress

    from publicsuffixlist import PublicSuffixList

    global _PSL
    name = host.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name.strip("[]")))  # 127.0.0.1 is not the domain "0.1"
    except ValueError:
        pass
    if _PSL is None:
        _PSL = PublicSuffixList()
    return _PSL.privatesuffix(name) or name


def plain_text(text: Any, limit: int = 200) -> str:
    """Network- or user-supplied text made safe for the terminal: no control characters (escape
    sequences), bounded length. Markup is never interpreted: cells are rich Text, not markup strings."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


_PSL: Any = None


def summary(state: Any, vendor: str) -> dict[str, Any]:
    """Numbers the panel shows (pure, testable)."""
    addon = state.addon
    domains = {registrable_domain(h) for h in list(addon.hosts)}
    def squash(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    vendor_key = squash(vendor)
    others = sorted(d for d in domains if not vendor_key or vendor_key not in squash(d))
    elapsed = max(0.001, time.time() - state.started)
    udp_bytes = addon.udp_bytes
    if state.sniffer is not None:
        udp_bytes = max(udp_bytes, state.sniffer.stats.udp_bytes)  # a property: the sniffer's live counters
    return {"elapsed": elapsed, "http": addon.counts.get("http", 0), "websocket": addon.counts.get("websocket", 0),
            "tls": addon.counts.get("tls_clienthello", 0), "hosts": len(addon.hosts), "other_domains": others,
            "udp_kbps": udp_bytes * 8 / 1000 / elapsed, "hook_errors": sum(addon.hook_errors.values()),
            "phases": list(state.phases), "upstream": addon.upstream.summary()}


def render(state: Any, vendor: str, notes: list[str] | None = None) -> Any:
    from rich.table import Table
    from rich.text import Text

    s = summary(state, vendor)
    # Hosts come from Host headers and SNI, phases from `confaudit mark`: plain Text, never markup
    # ("a.[/b]" would raise MarkupError and stop the capture) and never raw control characters.
    table = Table(title=Text(f"confaudit capture: {plain_text(vendor, 80)}"), show_header=False, expand=False)
    table.add_column(style="bold")
    table.add_column()
    listen = ", ".join(f"{h}:{p}" for h, p in state.listen)
    table.add_row("proxy", Text(plain_text(listen) or "starting"))
    table.add_row("elapsed", f"{int(s['elapsed']) // 60:02d}:{int(s['elapsed']) % 60:02d}")
    table.add_row("flows", f"{s['http']} HTTP, {s['websocket']} WebSocket msgs, {s['tls']} TLS hellos")
    table.add_row("hosts", str(s["hosts"]))
    shown = ", ".join(plain_text(d, 60) for d in s["other_domains"][:8]) + (" ..." if len(s["other_domains"]) > 8 else "")
    table.add_row("other domains", Text(f"{len(s['other_domains'])}: {shown}"))
    table.add_row("UDP media", f"{s['udp_kbps']:.0f} kbit/s")
    table.add_row("phases", Text(" > ".join(plain_text(ph, 64) for ph in s["phases"][-6:]) or "-"))
    if s["upstream"].flows:
        # mitmproxy answers these itself (502): without this row a capture of nothing but errors looks healthy
        table.add_row("failed upstream", Text(plain_text(s["upstream"].counts(), 200), style="red"))
        table.add_row("first error", Text(plain_text(s["upstream"].first_error, 200), style="red"))
    if s["hook_errors"]:
        table.add_row("hook errors", f"[red]{s['hook_errors']}[/red] (see manifest)")
    for note in (notes or [])[-3:]:
        table.add_row("note", Text(plain_text(note), style="yellow"))
    table.add_row("keys", "l lobby  j joined  m muted  u unmuted  c cam-off  v cam-on  s share  x left  q stop")
    return table


class PhaseTail:
    """Keeps ``state.phases`` equal to the session's phases.jsonl, so markers added with
    `confaudit mark` from another terminal show up too, not only the panel's own keys."""

    def __init__(self, directory: Any) -> None:
        from pathlib import Path

        from confaudit.session.directory import PHASES

        self.path = Path(directory) / PHASES
        self._seen: tuple[int, int] | None = None

    def sync(self, state: Any) -> None:
        from confaudit.session.directory import read_phases
        from confaudit.errors import ConfauditError

        try:
            st = self.path.stat()
        except OSError:
            return
        key = (st.st_size, st.st_mtime_ns)
        if key == self._seen:
            return
        try:
            entries = read_phases(self.path)
        except (OSError, ConfauditError):
            return  # malformed or unreadable: keep showing what we had; analyze reports it
        self._seen = key
        state.phases[:] = [str(e.get("phase", "")) for e in entries]


class KeyReader:
    """Reads single keys from the terminal in a thread; maps them to phase markers or stop.

    The terminal is put in cbreak mode (no echo, no line buffering; Ctrl-C still raises SIGINT) by
    ``start`` and restored by ``stop``, both on the calling thread, so the restore cannot be lost
    when the process exits before the reader thread wakes up. Escape sequences (arrow and function
    keys, Alt+key) are skipped whole: Right arrow is ESC [ C, not the `c` key.
    """

    def __init__(self, state: Any, directory: Any, loop: Any, fd: int | None = None) -> None:
        self.state, self.directory, self.loop = state, directory, loop
        self._fd = fd
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: Any = None
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def start(self) -> None:
        import termios
        import tty

        try:
            fd = sys.stdin.fileno() if self._fd is None else self._fd
            if not os.isatty(fd):
                return
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd, termios.TCSANOW)
        except (OSError, ValueError, termios.error) as err:
            self.errors.append(f"keys disabled: {err}")
            self._saved = None
            return
        self._fd = fd
        self._thread = threading.Thread(target=self._run, args=(fd,), name="confaudit-keys", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        import termios

        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        with self._lock:
            saved, self._saved = self._saved, None
        if saved is not None and self._fd is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)

    def _run(self, fd: int) -> None:
        import select

        esc = ""  # "" normal, "esc" after ESC, "csi" inside ESC [ ..., "ss3" after ESC O
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    esc = ""  # a lone ESC key press: nothing follows it
                    continue
                chunk = os.read(fd, 64)
            except (OSError, ValueError):
                return
            if not chunk:
                return  # terminal hung up
            for ch in chunk.decode("latin-1"):
                if esc == "esc":
                    esc = "csi" if ch == "[" else "ss3" if ch == "O" else ""
                    continue
                if esc == "csi":
                    if "\x40" <= ch <= "\x7e":
                        esc = ""
                    continue
                if esc == "ss3":
                    esc = ""
                    continue
                if ch == "\x1b":
                    esc = "esc"
                    continue
                self._key(ch.lower())

    def _key(self, key: str) -> None:
        try:
            if key == "q":
                self.loop.call_soon_threadsafe(self.state.stop.set)
            elif key in PHASE_KEYS:
                append_phase(self.directory, PHASE_KEYS[key])  # the panel picks it up from the file
        except Exception as err:  # loop closed, session directory gone: never a thread traceback
            self.errors.append(f"{type(err).__name__}: {err}")
