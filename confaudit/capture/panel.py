"""The live capture panel (rich): elapsed time, flows, hosts, other domains, UDP rate; phase keys."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from confaudit.capture.session import append_phase

PHASE_KEYS = {"l": "lobby", "j": "joined", "m": "muted", "u": "unmuted", "c": "camera-off", "v": "camera-on",
              "s": "screen-share", "x": "left"}


def registrable_domain(host: str) -> str:
    """example.co.uk for a.b.example.co.uk; the host itself for IPs and unknown suffixes."""
    from publicsuffixlist import PublicSuffixList

    global _PSL
    if _PSL is None:
        _PSL = PublicSuffixList()
    return _PSL.privatesuffix(host.lower().rstrip(".")) or host.lower()


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
        udp_bytes = max(udp_bytes, state.sniffer.stats().udp_bytes)
    return {"elapsed": elapsed, "http": addon.counts.get("http", 0), "websocket": addon.counts.get("websocket", 0),
            "tls": addon.counts.get("tls_clienthello", 0), "hosts": len(addon.hosts), "other_domains": others,
            "udp_kbps": udp_bytes * 8 / 1000 / elapsed, "hook_errors": sum(addon.hook_errors.values()),
            "phases": list(state.phases)}


def render(state: Any, vendor: str) -> Any:
    from rich.table import Table

    s = summary(state, vendor)
    table = Table(title=f"confaudit capture: {vendor}", show_header=False, expand=False)
    table.add_column(style="bold")
    table.add_column()
    listen = ", ".join(f"{h}:{p}" for h, p in state.listen)
    table.add_row("proxy", listen or "starting")
    table.add_row("elapsed", f"{int(s['elapsed']) // 60:02d}:{int(s['elapsed']) % 60:02d}")
    table.add_row("flows", f"{s['http']} HTTP, {s['websocket']} WebSocket msgs, {s['tls']} TLS hellos")
    table.add_row("hosts", str(s["hosts"]))
    shown = ", ".join(s["other_domains"][:8]) + (" ..." if len(s["other_domains"]) > 8 else "")
    table.add_row("other domains", f"{len(s['other_domains'])}: {shown}")
    table.add_row("UDP media", f"{s['udp_kbps']:.0f} kbit/s")
    table.add_row("phases", " > ".join(s["phases"][-6:]) or "-")
    if s["hook_errors"]:
        table.add_row("hook errors", f"[red]{s['hook_errors']}[/red] (see manifest)")
    table.add_row("keys", "l lobby  j joined  m muted  u unmuted  c cam-off  v cam-on  s share  x left  q stop")
    return table


class KeyReader:
    """Reads single keys from a terminal in a thread; maps them to phase markers or stop."""

    def __init__(self, state: Any, directory: Any, loop: Any) -> None:
        self.state, self.directory, self.loop = state, directory, loop
        self._stop = threading.Event()

    def start(self) -> None:
        if sys.stdin.isatty():
            threading.Thread(target=self._run, name="confaudit-keys", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import select
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], 0.2)
                if not ready:
                    continue
                key = os.read(fd, 1).decode("ascii", "ignore").lower()
                if key == "q":
                    self.loop.call_soon_threadsafe(self.state.stop.set)
                elif key in PHASE_KEYS:
                    entry = append_phase(self.directory, PHASE_KEYS[key])
                    self.state.phases.append(entry["phase"])
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
