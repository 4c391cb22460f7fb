"""DNS answers -> ``dns`` records; UDP flows -> ``udp_flow`` aggregates (payloads are counted, never kept)."""

from __future__ import annotations

from typing import Any

from confaudit.session import records as convert
from confaudit.live.addons.containment import Recorder, contained

MAX_OPEN_UDP_FLOWS = 20_000
"""Open UDP aggregates; the oldest is written out when more flows are open."""


class UdpDnsRecorder:
    """The ``dns_response``/``dns_error`` and ``udp_message``/``udp_end``/``udp_error`` hooks."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.udp: dict[str, convert.UdpAggregate] = {}
        self.udp_bytes = 0

    @contained
    def dns_response(self, flow: Any) -> None:
        self.recorder.write(convert.dns_record(flow, self.recorder.redactor))
        self.recorder.defer("dns_response", self.recorder.save_flow, flow)

    @contained
    def dns_error(self, flow: Any) -> None:
        self.recorder.write(convert.dns_record(flow, self.recorder.redactor))

    @contained
    def udp_message(self, flow: Any) -> None:
        message = flow.messages[-1]
        agg = self.udp.get(flow.id)
        if agg is None:
            if len(self.udp) >= MAX_OPEN_UDP_FLOWS:
                self._emit(next(iter(self.udp)))
            agg = self.udp[flow.id] = convert.UdpAggregate(flow.client_conn.peername, flow.server_conn.address,
                                                           message.timestamp)
        agg.add(message.content, message.from_client, message.timestamp)
        self.udp_bytes += len(message.content)
        del flow.messages[:-1]  # payloads are aggregated, never kept: bounded memory over an hour-long call

    @contained
    def udp_end(self, flow: Any) -> None:
        self._emit(flow.id)
        self.recorder.defer("udp_end", self.recorder.save_flow, flow)

    @contained
    def udp_error(self, flow: Any) -> None:
        self._emit(flow.id)

    def flush(self) -> None:
        """Write every open aggregate (the session is closing)."""
        for key in list(self.udp):
            self._emit(key)

    def _emit(self, key: str) -> None:
        agg = self.udp.pop(key, None)
        if agg is not None:
            self.recorder.write(agg.record())
