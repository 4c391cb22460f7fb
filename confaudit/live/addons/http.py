"""HTTP(S) flows -> ``http`` records (decoded, redacted) and flows.mitm; failed upstreams counted for the panel."""

from __future__ import annotations

from typing import Any

from confaudit.session import records as convert
from confaudit.live.addons.containment import Recorder, contained
from confaudit.live.upstream import failed_connect_error, failed_upstream_error


class HttpRecorder:
    """The ``response``, ``error`` and ``http_connect_error`` hooks."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @contained
    def response(self, flow: Any) -> None:
        self._record(flow)

    @contained
    def error(self, flow: Any) -> None:
        if flow.response is None and getattr(flow, "request", None) is not None:
            self._record(flow)
            failure = failed_upstream_error(flow)
            if failure is not None and not flow.metadata.get("confaudit_ignore"):
                self.recorder.upstream.note(flow.request.pretty_host, failure)

    @contained
    def http_connect_error(self, flow: Any) -> None:
        failure = failed_connect_error(flow)
        if failure is not None and not flow.metadata.get("confaudit_ignore"):
            self.recorder.upstream.note(flow.request.pretty_host, failure)

    def _record(self, flow: Any) -> None:
        rec = self.recorder
        if flow.metadata.get("confaudit_ignore"):  # set by the lab's router for traffic it blocked itself
            rec.counts["ignored"] = rec.counts.get("ignored", 0) + 1
            return
        host = flow.request.pretty_host
        rec.hosts[host] = rec.hosts.get(host, 0) + 1
        rec.defer("response", lambda f: rec.write(convert.http_record(f, rec.redactor, rec.source)), flow)
        if not is_websocket_upgrade(flow):  # WebSocket flows are saved whole at websocket_end
            rec.defer("response", rec.save_flow, flow)


def is_websocket_upgrade(flow: Any) -> bool:
    resp = flow.response
    return resp is not None and resp.status_code == 101 and "websocket" in resp.headers.get("upgrade", "").lower()
