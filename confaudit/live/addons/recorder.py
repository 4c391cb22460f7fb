"""The session recorder addon: options, the session directory, its manifest and writers, and the hook errors its
child addons contain (``containment.contained``), counted and written to the manifest. Records are converted on
the event loop shortly after the hook returns (``defer``, bounded by the body caps) and written by a thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confaudit.session import directory as session
from confaudit.session.observations import ObservationWriter
from confaudit.live.upstream import UpstreamFailures
from confaudit.redact import Redactor

if TYPE_CHECKING:
    from confaudit.session.records import HttpSource, Observation

MAX_ERROR_SAMPLES = 20
DEFER_S = 0.02
"""Conversion waits this long so the response reaches the client first (no added latency)."""


class SessionRecorder:
    """Records HTTP(S), WebSocket, TLS ClientHello, DNS and UDP aggregates to observations.jsonl (and flows.mitm)."""

    def __init__(self, redactor: Redactor, source: HttpSource = "live") -> None:
        from confaudit.live.addons.http import HttpRecorder
        from confaudit.live.addons.tls_hello import ClientHelloRecorder
        from confaudit.live.addons.udp_dns import UdpDnsRecorder
        from confaudit.live.addons.websocket import WebSocketRecorder

        self.recorder = self
        self.redactor = redactor
        self.source = source
        self.directory: Path | None = None
        self.writer: ObservationWriter | None = None
        self.manifest: dict[str, Any] | None = None
        self.hook_errors: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.counts: dict[str, int] = {"http": 0, "websocket": 0, "tls_clienthello": 0, "udp_flow": 0, "dns": 0}
        self.hosts: dict[str, int] = {}
        self.upstream = UpstreamFailures(self.redactor.text)
        self._pending: deque[tuple[str, Callable[..., None], tuple[Any, ...]]] = deque()
        self._drain_scheduled = False
        self._flow_file: Any = None
        self._flow_writer: Any = None
        self.http = HttpRecorder(self)
        self.websocket = WebSocketRecorder(self)
        self.tls = ClientHelloRecorder(self)
        self.udp_dns = UdpDnsRecorder(self)
        self.addons = [self.http, self.websocket, self.tls, self.udp_dns]
        """mitmproxy child addons: each gets the hooks of its kind of traffic."""

    @property
    def udp_bytes(self) -> int:
        """UDP payload bytes seen through the proxy (the live panel's rate)."""
        return self.udp_dns.udp_bytes

    # ---- lifecycle hooks ---------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        loader.add_option("confaudit_session", str, "", "Session directory the confaudit addon records into.")
        loader.add_option("confaudit_vendor", str, "", "Vendor being audited (written to the manifest).")
        loader.add_option("confaudit_scenario", str, "", "What the auditor does in this session.")
        loader.add_option("confaudit_operator", str, "", "Who runs the capture.")
        loader.add_option("confaudit_simulated", bool, False, "Mark the session as a lab (simulated) capture.")

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import ctx

        if "confaudit_session" in updated and ctx.options.confaudit_session and self.writer is None:
            self.open_session(Path(ctx.options.confaudit_session), vendor=ctx.options.confaudit_vendor,
                              scenario=ctx.options.confaudit_scenario, operator=ctx.options.confaudit_operator,
                              mode=",".join(ctx.options.mode), simulated=ctx.options.confaudit_simulated)

    def done(self) -> None:
        self.close()

    # ---- the session -------------------------------------------------------------------------
    def open_session(self, directory: Path, vendor: str = "", scenario: str = "", operator: str = "",
                     mode: str = "", simulated: bool = False, known: dict[str, list[str]] | None = None) -> None:
        """Create the session directory, its first manifest and the observation writer."""
        session.make_private_directory(directory)
        self.directory = directory
        self.manifest = session.new_manifest(vendor, scenario, operator, mode, simulated, known)
        session.write_manifest(directory, self.manifest)
        self.writer = ObservationWriter(directory / session.OBSERVATIONS)
        self._flow_file = session.open_private(directory / session.FLOWS)

    def close(self, finish: bool = True) -> dict[str, Any] | None:
        """Flush deferred work and open UDP aggregates, then the writers; write the final manifest (atomic)."""
        self.drain()
        self.udp_dns.flush()
        if self.writer is not None:
            self.writer.close()
        if self._flow_file is not None:
            self._flow_file.close()
            self._flow_file = None
        if self.directory is None or self.manifest is None or not finish:
            return None
        self.manifest = session.finish_manifest(self.directory, self.final_manifest_fields())
        return self.manifest

    def final_manifest_fields(self) -> dict[str, Any]:
        assert self.manifest is not None
        return dict(self.manifest, hook_errors=dict(self.hook_errors), hook_error_samples=list(self.error_samples),
                    stats={"records": dict(self.counts), "hosts": len(self.hosts),
                           "write_errors": self.writer.write_errors if self.writer else 0,
                           "dropped_records": self.writer.records_dropped if self.writer else 0,
                           "upstream_failures": self.upstream.manifest_fields()})

    # ---- what the traffic addons call --------------------------------------------------------
    def write(self, record: Observation) -> None:
        """Count ``record`` by its kind and queue it for the observation writer."""
        self.counts[record["kind"]] = self.counts.get(record["kind"], 0) + 1
        if self.writer is not None:
            self.writer.write(record)

    def save_flow(self, flow: Any) -> None:
        """Append the flow to flows.mitm (mitmproxy's format); called deferred, after the client got its answer."""
        if self._flow_file is None:
            return
        from mitmproxy import io as mitm_io

        if self._flow_writer is None:
            self._flow_writer = mitm_io.FlowWriter(self._flow_file)
        self._flow_writer.add(flow)

    def note_error(self, hook: str, exc: BaseException) -> None:
        self.hook_errors[hook] = self.hook_errors.get(hook, 0) + 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            # The message may quote captured bytes: redact and cap it.
            self.error_samples.append(f"{hook}: {type(exc).__name__}: {self.redactor.text(str(exc))[:200]}")

    def defer(self, hook: str, work: Callable[..., None], *args: Any) -> None:
        """Run ``work`` shortly after the hook returns, in a batch, on the event loop (or now, without one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._pending.append((hook, work, args))
        if loop is None:
            self.drain()
        elif not self._drain_scheduled:
            self._drain_scheduled = True
            loop.call_later(DEFER_S, self.drain)

    def drain(self) -> None:
        self._drain_scheduled = False
        while self._pending:
            hook, work, args = self._pending.popleft()
            try:
                work(*args)
            except Exception as exc:  # contained like a hook error
                self.note_error(hook, exc)
