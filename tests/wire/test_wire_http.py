"""Plaintext HTTP heads: crafted, real webex capture, a real local HTTP server's bytes, fuzz."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from confaudit.wire.http import parse_http_request_head, parse_http_response_head
from support.wire_pcap_util import mutations, tcp

WS_REQUEST = (b"GET /signal?room=abc HTTP/1.1\r\nHost: meet.example:8443\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: sid=secret\r\n\r\n")


def test_request_and_websocket_upgrade() -> None:
    head = parse_http_request_head(WS_REQUEST + b"body")
    assert head.is_request and head.method == "GET" and head.target == "/signal?room=abc"
    assert head.version == "HTTP/1.1" and head.host == "meet.example:8443" and head.websocket_upgrade
    assert head.complete and head.header("cookie") == "sid=secret" and len(head.headers) == 5
    partial = parse_http_request_head(WS_REQUEST[:60])
    assert partial is not None and not partial.complete
    resp = parse_http_response_head(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    assert resp.status == 101 and resp.reason == "Switching Protocols" and resp.websocket_upgrade
    assert not parse_http_response_head(b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n").websocket_upgrade
    assert parse_http_request_head(b"\x16\x03\x01\x02\x00") is None
    assert parse_http_response_head(b"GET / HTTP/1.1\r\n\r\n") is None
    assert parse_http_request_head(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 100000).complete is False


def test_content_length_only_from_ascii_digits() -> None:
    def length(value: bytes) -> int | None:
        return parse_http_request_head(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + value + b"\r\n\r\n").content_length

    assert length(b" 12 ") == 12 and length(b"0") == 0
    assert length(b"\xb2") is None  # latin-1 superscript two: str.isdigit() says yes, int() raises
    assert length(b"9" * 5000) is None and length(b"-1") is None and length(b"") is None


def test_real_local_server_bytes() -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(204)
            self.send_header("X-Test", "1")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    with socket.create_connection(server.server_address, timeout=5) as sock:
        sock.sendall(b"GET /probe HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    thread.join(5)
    server.server_close()
    head = parse_http_response_head(data)
    assert head.status == 204 and head.header("x-test") == "1" and head.header("server").startswith("BaseHTTP")


def test_real_capture(shared_captures) -> None:
    segments = tcp(shared_captures / "webex.pcap")
    requests = [h for s in segments if (h := parse_http_request_head(s.payload))]
    responses = [h for s in segments if (h := parse_http_response_head(s.payload))]
    assert [(h.method, h.host, h.target) for h in requests] == [
        ("POST", "cp.pushwoosh.com", "/json/1.3/registerDevice"), ("POST", "cp.pushwoosh.com", "/json/1.3/applicationOpen")]
    assert [h.status for h in responses] == [200, 200] and responses[0].header("server") == "nginx/1.6.3"


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    for data in mutations([WS_REQUEST, b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n"], 4000):
        for head in (parse_http_request_head(data), parse_http_response_head(data)):
            if head:
                head.to_dict()
