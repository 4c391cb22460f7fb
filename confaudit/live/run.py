"""Run a live capture: an in-process mitmproxy master with the confaudit addon, plus the sniffer.

Ctrl-C (SIGINT) and SIGTERM only set a stop event: the proxy shuts down, the writer flushes,
the sniffer stops and the manifest is written last, atomically, with every file's hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confaudit.session import directory as session
from confaudit.live import startup
from confaudit.errors import InputError, UsageError
from confaudit.redact import Redactor


@dataclass(frozen=True)
class CaptureConfig:
    """Everything `confaudit capture` needs to start."""

    out: Path
    """Session directory (created; must be empty or new)."""
    vendor: str
    """Vendor being audited."""
    mode: str = "regular"
    """mitmproxy mode spec (regular, wireguard, local, reverse:..., socks5, ...)."""
    listen_host: str = "127.0.0.1"
    """Address the proxy listens on."""
    listen_port: int = 8080
    """Port the proxy listens on (0: any free port)."""
    iface: str | None = None
    """Interface for the packet sniffer, or None for no pcap."""
    duration: float | None = None
    """Stop after this many seconds (None: until Ctrl-C or 'q')."""
    scenario: str = ""
    """What the auditor does in this session."""
    operator: str = ""
    """Who runs the capture."""
    ignore_hosts: tuple[str, ...] = ()
    """Host regexes passed through untouched (ClientHello metadata only)."""
    simulated: bool = False
    """True for lab captures (our own pages and peers), False for a real vendor."""
    ssl_insecure: bool = False
    """Do not verify upstream certificates (lab upstreams with self-signed certs only)."""
    extra_addons: tuple[Any, ...] = ()
    """More mitmproxy addons (the lab's hostname router)."""
    known: dict[str, list[str]] = field(default_factory=dict)
    """Room names, participants and first-party domains to record in the manifest."""
    extra_options: dict[str, Any] = field(default_factory=dict)
    """More mitmproxy options (the lab uses connection_strategy=lazy)."""


    upstream_ca: Path | None = None
    """PEM file of CA certificates trusted for upstream servers (mitmproxy's ssl_verify_upstream_trusted_ca)."""
    option_specs: tuple[str, ...] = ()
    """``key=value`` settings of mitmproxy options (``--set``), parsed and validated by mitmproxy."""


@dataclass
class LiveState:
    """What the panel shows; updated by the capture loop."""

    started: float
    addon: Any
    sniffer: Any = None
    listen: list[tuple[str, int]] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    stop: asyncio.Event | None = None


async def run_capture(config: CaptureConfig, redactor: Redactor, on_tick: Callable[[LiveState], None] | None = None,
                      on_ready: Callable[[LiveState], None] | None = None) -> dict[str, Any]:
    """Capture until duration, Ctrl-C, SIGTERM or ``state.stop``; return the final manifest.

    ``redactor`` tokenises every secret before it is written (the recorder's one key for the whole session).

    Everything that can be refused (options, the listen address, the interface) is checked before the
    session directory exists; a start that fails after that removes the directory again."""
    from mitmproxy import exceptions, options
    from mitmproxy.net import tls as mitm_tls
    from mitmproxy.tools.dump import DumpMaster

    from confaudit.live.addons import SessionRecorder

    try:
        opts = options.Options(listen_host=config.listen_host, listen_port=config.listen_port, mode=[config.mode],
                               ignore_hosts=list(config.ignore_hosts), ssl_insecure=config.ssl_insecure)
    except exceptions.OptionsError as exc:
        raise UsageError(f"mitmproxy options: {exc}") from None
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    startup_errors = startup.StartupErrors.replace_errorcheck(master)
    try:
        addon = SessionRecorder(redactor)
        for extra in config.extra_addons:
            master.addons.add(extra)
        master.addons.add(addon)
        _configure(opts, config)
        startup.check_listen_addresses(opts)
        sniffer = None
        if config.iface:
            from confaudit.live.sniffer import PacketSniffer

            sniffer = PacketSniffer(config.iface, config.out / session.PCAP)  # an unknown interface fails here
        created = startup.prepare_directory(config.out)
    except BaseException:
        startup_errors.uninstall()
        raise
    keylog = _session_keylog(mitm_tls)
    stop = asyncio.Event()
    state = LiveState(started=time.time(), addon=addon, sniffer=sniffer, stop=stop)
    loop = asyncio.get_running_loop()
    runner: asyncio.Task[Any] | None = None
    try:
        keylog.retarget(config.out / session.KEYLOG)
        addon.open_session(config.out, vendor=config.vendor, scenario=config.scenario, operator=config.operator,
                           mode=config.mode, simulated=config.simulated, known=config.known)
        if sniffer is not None:
            sniffer.start()
        runner = asyncio.create_task(master.run())
        state.listen = await _wait_listening(master, runner, startup_errors, f"{opts.listen_host}:{opts.listen_port}")
    except BaseException:
        await _abandon_start(master, runner, sniffer, keylog, addon)
        startup.discard_directory(config.out, created)
        raise
    finally:
        startup_errors.uninstall()
    loop.set_exception_handler(_quiet_cancellations)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if on_ready is not None:
            on_ready(state)
        deadline = None if config.duration is None else time.monotonic() + config.duration
        while not stop.is_set() and not runner.done():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if on_tick is not None:
                on_tick(state)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.25)
    finally:
        master.shutdown()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, timeout=10)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        sniffer_stats, sniffer_error = _stop_sniffer(state.sniffer)
        keylog.retarget(None)
        addon.close(finish=False)
        fields = addon.final_manifest_fields()
        if state.sniffer is not None:
            fields["stats"]["sniffer"] = sniffer_manifest_stats(config.iface or "", sniffer_stats, sniffer_error)
        fields["stats"]["listen"] = [list(a) for a in state.listen]
        manifest = session.finish_manifest(config.out, fields)
    if runner.done() and not runner.cancelled() and runner.exception() is not None:
        raise InputError(config.out, f"proxy stopped: {type(runner.exception()).__name__}: {runner.exception()}")
    if sniffer_error is not None:
        raise InputError(config.out / session.PCAP, f"packet capture failed: {sniffer_error} (recorded in the manifest)")
    return manifest


def _configure(opts: Any, config: CaptureConfig) -> None:
    """The lab's options, ``--upstream-ca`` and ``--set``, once every addon has declared its options."""
    if config.extra_options:
        opts.update(**config.extra_options)  # options the master's addons declare
    if config.upstream_ca is not None:
        startup.check_upstream_ca(config.upstream_ca)
        opts.update(ssl_verify_upstream_trusted_ca=str(Path(config.upstream_ca).absolute()))
    startup.apply_option_specs(opts, config.option_specs)


async def _abandon_start(master: Any, runner: asyncio.Task[Any] | None, sniffer: Any, keylog: "SessionKeyLog",
                         addon: Any) -> None:
    """Stop whatever a failed start had begun, so its files are closed before the directory goes."""
    master.shutdown()
    if runner is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(runner, timeout=10)
    if sniffer is not None:
        with contextlib.suppress(Exception):
            sniffer.stop()
    keylog.retarget(None)
    addon.close(finish=False)


def _stop_sniffer(sniffer: Any) -> tuple[Any, str | None]:
    """(final counters, error text): a sniffer failure must not keep the proxy's records from being sealed."""
    if sniffer is None:
        return None, None
    try:
        return sniffer.stop(), None
    except Exception as exc:  # recorded in the manifest, then raised once the session is finished
        return sniffer.stats, f"{type(exc).__name__}: {str(exc)[:200]}"


def sniffer_manifest_stats(iface: str, stats: Any, error: str | None) -> dict[str, Any]:
    """manifest stats.sniffer: what was written, what the kernel dropped (None: unknown), and any failure."""
    out: dict[str, Any] = {"iface": iface, "packets": stats.packets, "bytes": stats.bytes, "udp_bytes": stats.udp_bytes,
                           "kernel_packets": stats.kernel_packets, "kernel_drops": stats.kernel_drops}
    if error is not None:
        out["error"] = error
    return out


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Client connections still open at shutdown are cancelled: expected, not worth a traceback."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


class SessionKeyLog:
    """mitmproxy's key-log callback, retargetable: mitmproxy caches SSL contexts holding the callback,
    so one instance serves every session of a process and only its file changes."""

    __name__ = "SessionKeyLog"  # pyOpenSSL wraps the callback with functools.wraps

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fh: Any = None

    def retarget(self, path: Path | None) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
            self._fh = None
            if path is not None:
                self._fh = session.open_private(Path(path))

    def __call__(self, connection: Any, keymaterial: bytes) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.write(keymaterial + b"\n")
                self._fh.flush()

    def close(self) -> None:
        self.retarget(None)


def _session_keylog(mitm_tls: Any) -> SessionKeyLog:
    # mitmproxy reads SSLKEYLOGFILE once at import; replace its logger with ours (once per process).
    if not isinstance(mitm_tls.log_master_secret, SessionKeyLog):
        mitm_tls.log_master_secret = SessionKeyLog()
    return mitm_tls.log_master_secret


async def _wait_listening(master: Any, runner: asyncio.Task[Any], errors: startup.StartupErrors,
                          address: str) -> list[tuple[str, int]]:
    """The proxy's bound addresses, once its servers are up (port 0 resolves to the real port); InputError
    with mitmproxy's own first error when it logged one while starting (a port taken since the check)."""
    proxyserver = master.addons.get("proxyserver")
    for _ in range(200):
        if errors.messages:
            raise InputError(address, f"proxy did not start: {errors.messages[0]}")
        if runner.done():
            exc = runner.exception()
            raise InputError(address, f"proxy did not start: {exc}" if exc else "proxy did not start")
        addrs = [a for a in proxyserver.listen_addrs() if a]
        if addrs:
            return [(str(a[0]), int(a[1])) for a in addrs]
        await asyncio.sleep(0.05)
    raise InputError(address, "proxy did not start listening within 10 s")
