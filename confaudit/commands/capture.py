"""`confaudit capture`: record a live call into a session directory (proxy + sniffer + panel)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from confaudit import terminal
from confaudit.errors import UsageError
from confaudit.redact import Redactor


def _instructions(listen: list[tuple[str, int]], mode: str) -> str:
    host, port = listen[0] if listen else ("127.0.0.1", 8080)
    lines = [f"proxy listening on {', '.join(f'{h}:{p}' for h, p in listen)} (mode {mode})"]
    if mode == "regular":
        lines.append(f"  browser: chromium --proxy-server=http://{host}:{port}  (or system proxy {host}:{port})")
        lines.append("  loopback targets: add '--proxy-bypass-list=<-loopback>' (Chromium never proxies them otherwise)")
    if mode.startswith("wireguard"):
        lines.append("  phone: import the WireGuard config printed at http://mitm.it after connecting")
    lines.append("  trust mitmproxy's CA: ~/.mitmproxy/mitmproxy-ca-cert.pem, or browse to http://mitm.it through the proxy")
    lines.append("  phases: press keys in the panel, or `confaudit mark DIR PHASE` from another terminal; Ctrl-C stops")
    return "\n".join(lines) + "\n"


def run(out: Path, vendor: str, mode: str = "regular", listen_host: str = "127.0.0.1", listen_port: int = 8080,
        iface: str | None = None, duration: float | None = None, scenario: str = "", operator: str = "",
        ignore_hosts: list[str] | None = None, panel: bool = True, ssl_insecure: bool = False,
        upstream_ca: Path | None = None, option_specs: list[str] | None = None) -> int:
    from confaudit.live.run import CaptureConfig, run_capture
    from confaudit.output_paths import refuse_stream

    refuse_stream("--out", out, "it names the session directory to create")
    if not vendor.strip():
        raise UsageError("--vendor must not be empty")
    if duration is not None and duration <= 0:
        raise UsageError("--duration must be positive")
    if not 0 <= listen_port <= 65535:
        raise UsageError("--listen-port must be 0-65535")
    config = CaptureConfig(out=Path(out), vendor=vendor, mode=mode, listen_host=listen_host, listen_port=listen_port,
                           iface=iface, duration=duration, scenario=scenario, operator=operator,
                           ignore_hosts=tuple(ignore_hosts or ()), ssl_insecure=ssl_insecure,
                           upstream_ca=Path(upstream_ca) if upstream_ca is not None else None,
                           option_specs=tuple(option_specs or ()))
    show_panel = panel and not terminal.settings().quiet and sys.stdout.isatty()
    manifest = asyncio.run(_capture(config, Redactor.default(), show_panel, run_capture))
    terminal.say(closing_line(out, manifest).rstrip("\n"))
    return 0


def closing_line(out: Path, manifest: dict[str, Any]) -> str:
    """The summary printed when a capture ends; failed upstream flows (mitmproxy's own 502s) with the first
    error, so a session of nothing but TLS failures is never mistaken for a recorded call."""
    from confaudit.live.panel import plain_text

    stats = manifest.get("stats", {})
    records = stats.get("records", {})
    failures = stats.get("upstream_failures", {})
    line = (f"session written to {out}: {records.get('http', 0)} HTTP, {records.get('websocket', 0)} WebSocket, "
            f"{records.get('tls_clienthello', 0)} TLS hellos, {len(manifest.get('files', {}))} files, "
            f"{sum(manifest.get('hook_errors', {}).values())} hook errors")
    if failures.get("flows"):
        hosts = failures.get("hosts", {})
        line += (f", {failures['flows']} failed upstream ({len(hosts)} host{'s' if len(hosts) != 1 else ''}; "
                 f"first: {plain_text(failures.get('first_error', ''), 300)}; --upstream-ca FILE or --ssl-insecure "
                 "if the upstream's certificate is one you trust)")
    return line + "\n"


async def _capture(config: Any, redactor: Redactor, show_panel: bool, run_capture: Any) -> dict[str, Any]:
    if not show_panel:
        return await run_capture(config, redactor, on_ready=lambda s: terminal.say(_instructions(s.listen, config.mode)))
    from rich.live import Live

    from confaudit.live.panel import KeyReader, PhaseTail, render

    live = Live(auto_refresh=False, transient=False)
    keys: list[KeyReader] = []
    phases = PhaseTail(config.out)

    def ready(state: Any) -> None:
        sys.stdout.write(_instructions(state.listen, config.mode))
        live.start()
        reader = KeyReader(state, config.out, asyncio.get_running_loop())
        keys.append(reader)
        reader.start()

    def tick(state: Any) -> None:
        phases.sync(state)
        try:
            table: Any = render(state, config.vendor, [e for reader in keys for e in reader.errors])
        except Exception as err:  # a panel bug must never end the capture: the session matters more
            from rich.text import Text

            table = Text(f"confaudit capture: panel error ({type(err).__name__}); recording continues, q or Ctrl-C stops")
        live.update(table, refresh=True)

    try:
        return await run_capture(config, redactor, on_tick=tick, on_ready=ready)
    finally:
        for reader in keys:
            reader.stop()  # restores the terminal mode before anything else is printed
        live.stop()
