"""The confaudit mitmproxy addon: records, never modifies, traffic into a session directory.

Load with ``mitmdump -s addons/confaudit.py --set confaudit_session=DIR``. Every hook is wrapped:
an exception is contained, counted and written to the manifest; traffic flows on untouched.
Records are converted on the event loop (bounded by the body caps) and written by a thread.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confaudit.capture import convert, session
from confaudit.capture.observations import ObservationWriter
from confaudit.capture.upstream import UpstreamFailures, failed_connect_error, failed_upstream_error
from confaudit.redact import Redactor

MAX_WS_MESSAGES_KEPT = 1000
"""WebSocket messages kept on a live flow (older ones are already recorded)."""
MAX_OPEN_UDP_FLOWS = 20_000
MAX_ERROR_SAMPLES = 20
DEFER_S = 0.02
"""Conversion waits this long so the response reaches the client first (no added latency)."""


def _contained(hook: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(hook)
    def wrapper(self: "ConfauditAddon", *args: Any) -> None:
        try:
            hook(self, *args)
        except Exception as exc:  # a broken hook must never break the audited call
            self.note_error(hook.__name__, exc)
    return wrapper


class ConfauditAddon:
    """Records HTTP(S), WebSocket, TLS ClientHello, DNS and UDP aggregates to observations.jsonl."""

    def __init__(self, redactor: Redactor | None = None, source: str = "live") -> None:
        self.redactor = redactor or Redactor.default()
        self.source = source
        self.directory: Path | None = None
        self.writer: ObservationWriter | None = None
        self.manifest: dict[str, Any] | None = None
        self.hook_errors: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.udp: dict[str, convert.UdpAggregate] = {}
        self.counts: dict[str, int] = {"http": 0, "websocket": 0, "tls_clienthello": 0, "udp_flow": 0, "dns": 0}
        self.hosts: dict[str, int] = {}
        self.udp_bytes = 0
        self.upstream = UpstreamFailures(self.redactor.text)
        self._passthrough_seen: set[int] = set()
        self._pending: deque[tuple[str, Callable[..., None], tuple[Any, ...]]] = deque()
        self._drain_scheduled = False
        self._flow_file: Any = None
        self._flow_writer: Any = None

    # ---- lifecycle ---------------------------------------------------------------------------
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

    def open_session(self, directory: Path, vendor: str = "", scenario: str = "", operator: str = "",
                     mode: str = "", simulated: bool = False, known: dict[str, list[str]] | None = None) -> None:
        """Create the session directory, its first manifest and the observation writer."""
        session.make_private_directory(directory)
        self.directory = directory
        self.manifest = session.new_manifest(vendor, scenario, operator, mode, simulated, known)
        session.write_manifest(directory, self.manifest)
        self.writer = ObservationWriter(directory / session.OBSERVATIONS)
        self._flow_file = session.open_private(directory / session.FLOWS)

    def _save_flow(self, flow: Any) -> None:
        """Append the flow to flows.mitm (mitmproxy's format); runs deferred, after the client got its answer."""
        if self._flow_file is None:
            return
        from mitmproxy import io as mitm_io

        if self._flow_writer is None:
            self._flow_writer = mitm_io.FlowWriter(self._flow_file)
        self._flow_writer.add(flow)

    def done(self) -> None:
        self.close()

    def close(self, finish: bool = True) -> dict[str, Any] | None:
        """Flush open UDP aggregates and the writer; write the final manifest (atomic)."""
        self._drain()
        for key in list(self.udp):
            self._emit_udp(key)
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

    def note_error(self, hook: str, exc: BaseException) -> None:
        self.hook_errors[hook] = self.hook_errors.get(hook, 0) + 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            # The message may quote captured bytes: redact and cap it.
            self.error_samples.append(f"{hook}: {type(exc).__name__}: {self.redactor.text(str(exc))[:200]}")

    def _defer(self, hook: str, work: Callable[..., None], *args: Any) -> None:
        """Run ``work`` shortly after the hook returns, in a batch, on the event loop (or now, without one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._pending.append((hook, work, args))
        if loop is None:
            self._drain()
        elif not self._drain_scheduled:
            self._drain_scheduled = True
            loop.call_later(DEFER_S, self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        while self._pending:
            hook, work, args = self._pending.popleft()
            try:
                work(*args)
            except Exception as exc:  # contained like a hook error
                self.note_error(hook, exc)

    def _write(self, record: dict[str, Any]) -> None:
        self.counts[record["kind"]] = self.counts.get(record["kind"], 0) + 1
        if self.writer is not None:
            self.writer.write(record)

    # ---- HTTP and WebSocket ------------------------------------------------------------------
    @_contained
    def response(self, flow: Any) -> None:
        self._http(flow)

    @_contained
    def error(self, flow: Any) -> None:
        if flow.response is None and getattr(flow, "request", None) is not None:
            self._http(flow)
            failure = failed_upstream_error(flow)
            if failure is not None and not flow.metadata.get("confaudit_ignore"):
                self.upstream.note(flow.request.pretty_host, failure)

    @_contained
    def http_connect_error(self, flow: Any) -> None:
        failure = failed_connect_error(flow)
        if failure is not None and not flow.metadata.get("confaudit_ignore"):
            self.upstream.note(flow.request.pretty_host, failure)

    def _http(self, flow: Any) -> None:
        if flow.metadata.get("confaudit_ignore"):  # set by the lab's router for traffic it blocked itself
            self.counts["ignored"] = self.counts.get("ignored", 0) + 1
            return
        host = flow.request.pretty_host
        self.hosts[host] = self.hosts.get(host, 0) + 1
        self._defer("response", lambda f: self._write(convert.http_record(f, self.redactor, self.source)), flow)
        if not _is_upgrade(flow):  # WebSocket flows are saved whole at websocket_end
            self._defer("response", self._save_flow, flow)

    @_contained
    def websocket_end(self, flow: Any) -> None:
        self._defer("websocket_end", self._save_flow, flow)

    @_contained
    def websocket_message(self, flow: Any) -> None:
        messages = flow.websocket.messages
        self._defer("websocket_message",
                    lambda f, m: self._write(convert.websocket_record(f, m, self.redactor, self.source)), flow, messages[-1])
        if len(messages) > MAX_WS_MESSAGES_KEPT:
            del messages[: len(messages) - MAX_WS_MESSAGES_KEPT]

    # ---- TLS metadata, intercepted or passed through ------------------------------------------
    @_contained
    def tls_clienthello(self, data: Any) -> None:
        ctx_ = data.context
        self._write(convert.clienthello_record(time.time(), data.client_hello, ctx_.client.peername,
                                               ctx_.server.address, ctx_.client.transport_protocol,
                                               bool(data.ignore_connection)))

    @_contained
    def next_layer(self, nextlayer: Any) -> None:
        layer = nextlayer.layer
        if layer is None or getattr(layer, "flow", True) is not None:
            return
        context = nextlayer.context
        key = id(context.client)
        if key in self._passthrough_seen:
            return
        self._passthrough_seen.add(key)
        if len(self._passthrough_seen) > 100_000:
            self._passthrough_seen.clear()
        hello = _parse_hello(nextlayer.data_client(), context.client.transport_protocol)
        if hello is not None:
            self._write(convert.clienthello_record(time.time(), hello, context.client.peername,
                                                   context.server.address, context.client.transport_protocol, True))

    # ---- DNS and UDP ---------------------------------------------------------------------------
    @_contained
    def dns_response(self, flow: Any) -> None:
        self._write(convert.dns_record(flow, self.redactor))
        self._defer("dns_response", self._save_flow, flow)

    @_contained
    def dns_error(self, flow: Any) -> None:
        self._write(convert.dns_record(flow, self.redactor))

    @_contained
    def udp_message(self, flow: Any) -> None:
        message = flow.messages[-1]
        agg = self.udp.get(flow.id)
        if agg is None:
            if len(self.udp) >= MAX_OPEN_UDP_FLOWS:
                self._emit_udp(next(iter(self.udp)))
            agg = self.udp[flow.id] = convert.UdpAggregate(flow.client_conn.peername, flow.server_conn.address, message.timestamp)
        agg.add(message.content, message.from_client, message.timestamp)
        self.udp_bytes += len(message.content)
        del flow.messages[:-1]  # payloads are aggregated, never kept: bounded memory over an hour-long call

    @_contained
    def udp_end(self, flow: Any) -> None:
        self._emit_udp(flow.id)
        self._defer("udp_end", self._save_flow, flow)

    @_contained
    def udp_error(self, flow: Any) -> None:
        self._emit_udp(flow.id)

    def _emit_udp(self, key: str) -> None:
        agg = self.udp.pop(key, None)
        if agg is not None:
            self._write(agg.record())


def _is_upgrade(flow: Any) -> bool:
    resp = flow.response
    return resp is not None and resp.status_code == 101 and "websocket" in resp.headers.get("upgrade", "").lower()


def _parse_hello(data: bytes, transport: str) -> Any:
    """A ClientHello from the first client bytes of a passed-through connection, or None."""
    from mitmproxy.proxy.layers.tls import parse_client_hello

    if transport != "tcp" or not data or data[0] != 0x16:
        if transport == "udp" and data and data[0] & 0xC0 == 0xC0:
            from mitmproxy.proxy.layers.quic import quic_parse_client_hello_from_datagrams

            try:
                return quic_parse_client_hello_from_datagrams([data])
            except (ValueError, Exception):  # not QUIC after all: nothing to record
                return None
        return None
    try:
        return parse_client_hello(data)
    except ValueError:
        return None

