"""TLS and QUIC ClientHellos -> ``tls_clienthello`` records, for intercepted and passed-through connections."""

from __future__ import annotations

import time
from typing import Any

from confaudit.session import records as convert
from confaudit.live.addons.containment import Recorder, contained

MAX_PASSTHROUGH_REMEMBERED = 100_000
"""Passed-through client connections remembered (each ClientHello recorded once); the set is then cleared."""


class ClientHelloRecorder:
    """The ``tls_clienthello`` hook (intercepted TLS) and ``next_layer`` (connections passed through untouched)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._passthrough_seen: set[int] = set()

    @contained
    def tls_clienthello(self, data: Any) -> None:
        ctx_ = data.context
        self.recorder.write(convert.clienthello_record(time.time(), data.client_hello, ctx_.client.peername,
                                                       ctx_.server.address, ctx_.client.transport_protocol,
                                                       bool(data.ignore_connection)))

    @contained
    def next_layer(self, nextlayer: Any) -> None:
        layer = nextlayer.layer
        if layer is None or getattr(layer, "flow", True) is not None:
            return
        context = nextlayer.context
        key = id(context.client)
        if key in self._passthrough_seen:
            return
        self._passthrough_seen.add(key)
        if len(self._passthrough_seen) > MAX_PASSTHROUGH_REMEMBERED:
            self._passthrough_seen.clear()
        hello = parse_first_hello(nextlayer.data_client(), context.client.transport_protocol)
        if hello is not None:
            self.recorder.write(convert.clienthello_record(time.time(), hello, context.client.peername,
                                                           context.server.address, context.client.transport_protocol,
                                                           True))


def parse_first_hello(data: bytes, transport: str) -> Any:
    """A ClientHello from the first client bytes of a passed-through connection, or None."""
    from mitmproxy.proxy.layers.tls import parse_client_hello

    if transport != "tcp" or not data or data[0] != 0x16:
        if transport == "udp" and data and data[0] & 0xC0 == 0xC0:
            from mitmproxy.proxy.layers.quic import quic_parse_client_hello_from_datagrams

            try:
                return quic_parse_client_hello_from_datagrams([data])
            except (ValueError, AssertionError):  # not QUIC after all: mitmproxy's documented ValueError, its parser's asserts
                return None
        return None
    try:
        return parse_client_hello(data)
    except ValueError:
        return None
