"""Loopback lab pieces for tests, benchmarks and the sample session: a TLS upstream with a
self-signed certificate for made-up hostnames, and an addon routing those hostnames to 127.0.0.1
(no real DNS is ever asked; nothing leaves the machine)."""

from __future__ import annotations

import datetime
import http.server
import json
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Handler = Callable[[str, str, dict[str, str], bytes], tuple[int, str, bytes]]
"""(method, path, headers, body) -> (status, content type, body)."""


def self_signed_cert(hostnames: list[str], directory: Path) -> tuple[Path, Path]:
    """Write cert.pem/key.pem for ``hostnames`` (and 127.0.0.1) into ``directory``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def echo_handler(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
    """Default upstream behaviour: answer JSON describing what was received."""
    return 200, "application/json", json.dumps({"ok": True, "method": method, "path": path, "received": len(body)}).encode()


@dataclass
class TlsUpstream:
    """A threaded HTTPS server on 127.0.0.1 (port 0 = free port) for the given hostnames."""

    hostnames: list[str]
    handler: Handler = echo_handler
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    cert_pem: bytes = b""
    _server: Any = None
    _tmp: Any = None

    def start(self) -> "TlsUpstream":
        self._tmp = tempfile.TemporaryDirectory(prefix="confaudit-lab-")
        cert, key = self_signed_cert(self.hostnames, Path(self._tmp.name))
        self.cert_pem = cert.read_bytes()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.set_alpn_protocols(["http/1.1"])
        upstream = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one send per response: no Nagle/delayed-ACK 40 ms stalls

            def _serve(self) -> None:
                if self.headers.get("upgrade", "").lower() == "websocket":
                    upstream.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": b""})
                    websocket_echo(self)
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                upstream.requests.append({"method": self.command, "path": self.path, "headers": headers, "body": body})
                status, ctype, out = upstream.handler(self.command, self.path, headers, body)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                return

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, name="confaudit-lab-upstream", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()


BLACKHOLE = ("127.0.0.1", 9)
"""Where connections to any other host go: the discard port on loopback (nothing leaves the machine)."""


def websocket_accept(key: str | bytes) -> str:
    """The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    from websockets.utils import accept_key

    return accept_key((key.decode("latin-1") if isinstance(key, bytes) else key).strip())


def websocket_echo(handler: Any) -> None:
    """Serve a WebSocket upgrade received by an ``http.server`` handler with the ``websockets`` library's
    Sans-I/O server: answer each text/binary message with ``echo:`` + it (pings, close: the library)."""
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Request
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    protocol = ServerProtocol(max_size=1 << 20)
    head = handler.requestline + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in handler.headers.items()) + "\r\n"
    protocol.receive_data(head.encode("latin-1"))
    request = next(e for e in protocol.events_received())
    assert isinstance(request, Request)  # a server's first event is the handshake request (websockets does the same)
    protocol.send_response(protocol.accept(request))
    handler.close_connection = True

    def flush() -> bool:
        """Write what the protocol has to send; False once it asks for the TCP connection to end."""
        for data in protocol.data_to_send():
            if not data:
                return False
            handler.wfile.write(data)
        handler.wfile.flush()
        return True

    try:
        while flush() and protocol.state is not State.CLOSED:
            data = handler.rfile.read1(65536)
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            for event in protocol.events_received():
                assert isinstance(event, Frame)  # after the handshake a server receives frames only
                if event.opcode is Opcode.TEXT:
                    protocol.send_text(b"echo:" + event.data)
                elif event.opcode is Opcode.BINARY:
                    protocol.send_binary(b"echo:" + event.data)
    except (OSError, ValueError):  # the peer vanished (ValueError: I/O on a closed file)
        return


def websocket_exchange(proxy_port: int, host: str, path: str, messages: list[str], timeout: float = 20.0) -> list[bytes]:
    """A real WebSocket client (the ``websockets`` library) through the HTTP proxy (CONNECT, TLS,
    upgrade): send each text message, read one reply per message, close. Returns the replies."""
    import socket

    from websockets.sync.client import connect

    raw = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    try:
        raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        if b" 200 " not in raw.recv(4096):
            raise OSError("proxy refused CONNECT")
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # mitmproxy's CA is not trusted here
        replies = []
        with connect(f"wss://{host}{path}", sock=raw, ssl=context, server_hostname=host, open_timeout=timeout,
                     close_timeout=timeout) as ws:
            for text in messages:
                ws.send(text)
                reply = ws.recv(timeout)
                replies.append(reply.encode() if isinstance(reply, str) else reply)
        return replies
    finally:
        raw.close()


class LabResolver:
    """mitmproxy addon: connect made-up lab hostnames to 127.0.0.1:<port> (SNI and Host unchanged);
    every other host (a browser's background requests) gets a local 403 and never a real connection."""

    def __init__(self, routes: dict[str, int]) -> None:
        self.routes = {host.lower(): port for host, port in routes.items()}
        self.blocked: list[str] = []

    def request(self, flow: Any) -> None:
        from mitmproxy import http

        host = flow.request.pretty_host.lower()
        if host not in self.routes and host not in ("127.0.0.1", "localhost", "::1"):
            self.blocked.append(host)
            flow.metadata["confaudit_ignore"] = "lab: browser background request, blocked locally"
            flow.response = http.Response.make(403, b"blocked by the confaudit lab", {"content-type": "text/plain"})

    def server_connect(self, data: Any) -> None:
        host = str(data.server.address[0]).lower() if data.server.address else ""
        if host in self.routes:
            data.server.address = ("127.0.0.1", self.routes[host])
        elif host not in ("127.0.0.1", "localhost", "::1"):
            data.server.address = BLACKHOLE
