"""Flows whose upstream side failed (TLS verification, refused or reset connections): counted per host with
the first error text, so a capture whose every request ends in mitmproxy's own 502 is never silent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_HOSTS = 1000
"""Hosts counted separately; more are pooled under ``OTHER_HOSTS`` (bounded memory)."""
OTHER_HOSTS = "(other hosts)"
_CONNECT_HINT = " If you plan to redirect"
"""Where mitmproxy's 502 text for a failed CONNECT stops describing the error and starts advising."""
_CLIENT_GONE = ": client disconnected"
"""mitmproxy's error when the client closed its CONNECT before the upstream connection was up."""


@dataclass(frozen=True)
class FailureSummary:
    """What the panel and the closing line show about failed upstream flows."""

    flows: int
    """Flows that got no answer from their upstream server."""
    hosts: dict[str, int]
    """Failed flows per host."""
    first_error: str
    """``host: error`` of the first failure ("" when none)."""

    def counts(self) -> str:
        """``3 flows (a.test 2, b.test 1)``: the busiest hosts first."""
        busiest = sorted(self.hosts.items(), key=lambda kv: (-kv[1], kv[0]))
        per_host = ", ".join(f"{host} {count}" for host, count in busiest[:4]) + (" ..." if len(busiest) > 4 else "")
        return f"{self.flows} flow{'s' if self.flows != 1 else ''} ({per_host})"


class UpstreamFailures:
    """Counts failed upstream flows; every error text goes through ``redact`` (it may quote captured bytes)."""

    def __init__(self, redact: Any) -> None:
        self._redact = redact
        self.flows = 0
        self.hosts: dict[str, int] = {}
        self.first_error = ""

    def note(self, host: str, error: str) -> None:
        self.flows += 1
        key = host if host in self.hosts or len(self.hosts) < MAX_HOSTS else OTHER_HOSTS
        self.hosts[key] = self.hosts.get(key, 0) + 1
        if not self.first_error:
            self.first_error = f"{host}: {self._redact(error)[:300]}"

    def summary(self) -> FailureSummary:
        return FailureSummary(self.flows, dict(self.hosts), self.first_error)

    def manifest_fields(self) -> dict[str, Any]:
        """manifest ``stats.upstream_failures``."""
        return {"flows": self.flows, "hosts": dict(sorted(self.hosts.items())), "first_error": self.first_error}


def failed_upstream_error(flow: Any) -> str | None:
    """The error text of an HTTP flow that never got its upstream's answer, or None.

    A flow counts when mitmproxy gave up on the server side: the server connection carries an error (a
    certificate that failed verification), or the client's request was complete yet no response came (a
    refused, reset or timed-out upstream). A client that went away before finishing its request is not an
    upstream failure."""
    if flow.response is not None or flow.error is None:
        return None
    message = str(flow.error.msg)
    if getattr(flow.server_conn, "error", None):
        return message
    if flow.request.timestamp_end is None or message.startswith("Client disconnected"):
        return None
    return message


def failed_connect_error(flow: Any) -> str | None:
    """The error of a CONNECT that mitmproxy answered itself with a 5xx (upstream unreachable), or None: a 407
    asking for proxy credentials is no upstream failure, nor a client that gave up on its CONNECT (browsers
    open spare connections and drop them) while mitmproxy was still connecting."""
    response = flow.response
    if response is None:
        return str(flow.error.msg) if flow.error is not None else "CONNECT failed"
    if response.status_code < 500:
        return None
    text = (response.get_text(strict=False) or f"HTTP {response.status_code}").split(_CONNECT_HINT, 1)[0].strip()
    return None if text.endswith(_CLIENT_GONE) else text
