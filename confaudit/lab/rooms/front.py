"""The lab's HTTPS front: HTTP/1.1 parsed by ``h11`` (keep-alive, bodies, pipelining rules), every
WebSocket upgrade handed byte for byte to the ``websockets`` server behind it (on a Unix socket, so
the internal hop never shows in a loopback capture), the way nginx fronts a WebSocket backend."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import h11

MAX_BODY = 1 << 20
"""Largest request body the lab accepts (telemetry beacons are small)."""


@dataclass(frozen=True)
class HttpRequest:
    """One request the front received."""

    method: str
    """Upper-case method."""
    host: str
    """Host header without port, lower-case."""
    path: str
    """Request target (path and query)."""
    headers: dict[str, str]
    """Lower-case header name -> value (last one wins)."""
    body: bytes
    """Request body."""


@dataclass(frozen=True)
class HttpResponse:
    """What a handler answers."""

    status: int
    """HTTP status code."""
    content_type: str = "text/plain; charset=utf-8"
    """Content-Type header."""
    body: bytes = b""
    """Response body."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers."""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass
class HttpsFront:
    """asyncio client callback (``asyncio.start_server(front.client, ...)``) serving ``handler`` and
    relaying upgrades to the WebSocket server listening on ``websocket_socket``."""

    handler: Handler
    websocket_socket: str
    websocket_paths: tuple[str, ...] = ("/ws",)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h11

        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        try:
            while True:
                event = await _next_event(conn, reader)
                if not isinstance(event, h11.Request):
                    return
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
                target, method = event.target.decode("latin-1"), event.method.decode("latin-1")
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._relay_upgrade(conn, event, target, reader, writer)
                    return
                body = bytearray()
                while not isinstance(event := await _next_event(conn, reader), h11.EndOfMessage):
                    if not isinstance(event, h11.Data) or len(body) + len(event.data) > MAX_BODY:
                        return
                    body += event.data
                response = await self.handler(HttpRequest(method, _host(headers.get("host", "")), target, headers,
                                                          bytes(body)))
                out = [("content-type", response.content_type), ("content-length", str(len(response.body))),
                       ("cache-control", "no-store"), *response.headers]
                writer.write(conn.send(h11.Response(status_code=response.status, headers=out)))
                writer.write(conn.send(h11.Data(data=response.body)) if response.body else b"")
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, h11.LocalProtocolError, ConnectionError, ssl.SSLError,
                asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _relay_upgrade(self, conn: h11.Connection, request: h11.Request, target: str, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        import h11

        if target.split("?", 1)[0] not in self.websocket_paths:
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
            return
        event = conn.next_event()  # h11 ends the request's (empty) body, then pauses at the upgrade
        if isinstance(event, h11.EndOfMessage):
            event = conn.next_event()
        if event is not h11.PAUSED:
            return
        head = b"".join([b"GET ", request.target, b" HTTP/1.1\r\n",
                         *(name + b": " + value + b"\r\n" for name, value in request.headers.raw_items()), b"\r\n"])
        backend_reader, backend_writer = await asyncio.open_unix_connection(self.websocket_socket)
        backend_writer.write(head + conn.trailing_data[0])
        try:
            await asyncio.gather(_pump(reader, backend_writer), _pump(backend_reader, writer))
        finally:
            backend_writer.close()

    async def close_clients(self) -> None:
        """Close every open client connection (asyncio.Server.close leaves them open on Python 3.12)."""
        for writer in list(self._writers):
            writer.close()


def _host(value: str) -> str:
    """The Host header's name without its port, lower-case."""
    name, _, port = value.rpartition(":")
    return (name if name and port.isdigit() else value).lower()


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    import h11

    while (event := conn.next_event()) is h11.NEED_DATA:
        conn.receive_data(await reader.read(65536))
    return event


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if sink.can_write_eof():
                sink.write_eof()
            else:
                sink.close()
