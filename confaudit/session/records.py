"""mitmproxy flows -> observation records: the one converter the live addon and the .mitm importer share.

Records carry no bundle ids yet (``importers`` numbers them); an HTTP record and its WebSocket
messages are joined by ``flow_uuid`` (mitmproxy's flow id).

Each kind of record has a ``TypedDict`` below: the bundle record the schema describes (``HttpExchange``,
``WebSocketMessage``, ``ClientHello``, ``ProxyUdpFlow``, ``DnsQuery``) without what the import adds (``id``;
``http_id`` and ``flow`` of a WebSocket message) and with what it takes away (``kind``; the ``flow_uuid`` /
``http_uuid`` join). Their fields carry the model's types (tests/session/test_observation_records.py checks
that they line up), so a converter writing a key or value the schema does not have fails mypy here, and
``importers.http_sources.http_side_sections`` turns them into bundle records in place.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypeAlias, TypedDict
from urllib.parse import urlsplit

from confaudit.session.bodies import WebSocketType, body_record, message_content
from confaudit.redact import Redactor

if TYPE_CHECKING:
    from confaudit.evidence_model import (DnsQueryAnswer, DnsQueryQuestion, HttpBody, HttpEndpoint,
                                          HttpExchangeInitiator, HttpPairs, Timestamp)

STUN_MAGIC = b"\x21\x12\xa4\x42"
STUN_USERNAME = 0x0006
MAX_STUN_ATTR_TYPES = 64

HttpSource = Literal["live", "mitm", "har"]
"""Who saw an exchange or message (the schema's ``source``): the live addon, a .mitm file, a HAR."""


class HttpObservation(TypedDict):
    """An ``http`` record: the bundle's ``HttpExchange`` before the import numbers it."""

    kind: Literal["http"]
    flow_uuid: str
    """The flow's id in its source (mitmproxy's, ``har-<entry>``): its WebSocket messages name it."""
    ts: Timestamp
    method: str
    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: HttpPairs
    http_version: str | None
    status: int | None
    request_headers: HttpPairs
    response_headers: HttpPairs
    request_body: HttpBody | None
    response_body: HttpBody | None
    client: HttpEndpoint | None
    server: HttpEndpoint | None
    source: HttpSource
    flow: str | None
    duration_ms: float | None
    error: str | None
    initiator: NotRequired[HttpExchangeInitiator]


class WebSocketObservation(TypedDict):
    """A ``websocket`` record: the bundle's ``WebSocketMessage`` before the import numbers it and joins it to its
    upgrade request (``http_id``, ``flow``)."""

    kind: Literal["websocket"]
    http_uuid: str
    """``flow_uuid`` of the upgrade request."""
    ts: Timestamp
    from_client: bool
    type: WebSocketType
    size: int
    content: str
    truncated: bool
    host: str
    url: str
    source: HttpSource


class ClientHelloObservation(TypedDict):
    """A ``tls_clienthello`` record: the bundle's ``ClientHello`` before the import numbers it."""

    kind: Literal["tls_clienthello"]
    ts: Timestamp
    sni: str | None
    alpn: list[str]
    cipher_count: int
    client: HttpEndpoint | None
    server: HttpEndpoint | None
    transport: str
    passthrough: bool


class UdpFlowObservation(TypedDict):
    """A ``udp_flow`` record: the bundle's ``ProxyUdpFlow`` before the import numbers it."""

    kind: Literal["udp_flow"]
    ts: Timestamp
    ts_last: Timestamp
    client: HttpEndpoint | None
    server: HttpEndpoint | None
    packets: dict[str, Any]
    bytes: dict[str, Any]
    first_byte_classes: dict[str, int]
    stun_attribute_types: list[int]
    size_min: int | None
    size_max: int


class DnsObservation(TypedDict):
    """A ``dns`` record: the bundle's ``DnsQuery`` before the import numbers it."""

    kind: Literal["dns"]
    ts: Timestamp | None
    questions: list[DnsQueryQuestion]
    answers: list[DnsQueryAnswer]
    client: HttpEndpoint | None
    server: HttpEndpoint | None
    response_code: int | None


Observation: TypeAlias = (HttpObservation | WebSocketObservation | ClientHelloObservation | UdpFlowObservation
                          | DnsObservation)
"""Any record the converters (and the HAR importer) write."""


def address(addr: Any) -> HttpEndpoint | None:
    """``{"ip", "port"}`` from a socket address tuple, or None."""
    if not addr or not isinstance(addr, (tuple, list)) or len(addr) < 2:
        return None
    return {"ip": str(addr[0]), "port": int(addr[1]) if isinstance(addr[1], int) else None}


def valid_text(value: Any) -> str:
    """A string from mitmproxy as valid Unicode: the bytes it could not decode (kept as lone surrogates by
    its ``surrogateescape``) become U+FFFD, so no JSON or Parquet writer meets them."""
    value = value if isinstance(value, str) else str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def _headers(headers: Any) -> list[tuple[str, str]]:
    """Header names and values decoded once from their raw bytes (a Latin-1 file name becomes U+FFFD)."""
    return [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in headers.fields]


def _header(pairs: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in pairs if k.lower() == name), "")


def _query_pairs(req: Any) -> list[tuple[str, str]]:
    try:
        pairs = list(req.query.items(multi=True))
    except ValueError:  # mitmproxy parses the whole URL, which a hostile Host can make invalid
        from urllib.parse import parse_qsl

        pairs = parse_qsl(valid_text(req.path).partition("?")[2].partition("#")[0], keep_blank_values=True)
    return [(valid_text(k), valid_text(v)) for k, v in pairs]


def _path_of(url: str, raw_path: str, redactor: Redactor) -> str:
    """The (redacted) URL's path; a client-controlled Host such as ``evil.[x]`` must not make the record vanish."""
    try:
        return urlsplit(url).path
    except ValueError:
        return redactor.url(str(raw_path).split("?", 1)[0].split("#", 1)[0])


def http_record(flow: Any, redactor: Redactor, source: HttpSource) -> HttpObservation:
    """One HTTPFlow -> an ``http[]`` record (without id): redacted URL, headers and decoded bodies."""
    req, resp = flow.request, flow.response
    url = redactor.url(valid_text(req.pretty_url))
    req_headers = _headers(req.headers)
    resp_headers = _headers(resp.headers) if resp is not None else []
    record: HttpObservation = {
        "kind": "http",
        "flow_uuid": flow.id,
        "ts": req.timestamp_start,
        "method": valid_text(req.method),
        "url": url,
        "scheme": valid_text(req.scheme),
        "host": redactor.authority(valid_text(req.pretty_host)),
        "port": req.port,
        "path": _path_of(url, valid_text(req.path), redactor),
        "query": redactor.query_pairs(_query_pairs(req)),
        "http_version": valid_text(req.http_version),
        "status": resp.status_code if resp is not None else None,
        "request_headers": [list(p) for p in redactor.headers(req_headers)],
        "response_headers": [list(p) for p in redactor.headers(resp_headers)] if resp is not None else [],
        "request_body": body_record(req.raw_content, _header(req_headers, "content-type"),
                                    _header(req_headers, "content-encoding"), redactor) if req.raw_content else None,
        "response_body": body_record(resp.raw_content, _header(resp_headers, "content-type"),
                                     _header(resp_headers, "content-encoding"), redactor)
        if resp is not None and resp.raw_content else None,
        "client": address(flow.client_conn.peername),
        "server": address(flow.server_conn.peername),
        "source": source,
        "flow": None,
        "duration_ms": _duration_ms(req, resp),
        "error": redactor.text(valid_text(flow.error.msg))[:500] if flow.error else None,
    }
    return record


def _duration_ms(req: Any, resp: Any) -> float | None:
    end = getattr(resp, "timestamp_end", None) if resp is not None else None
    if end is None or req.timestamp_start is None:
        return None
    return round(max(0.0, end - req.timestamp_start) * 1000.0, 3)


def websocket_record(flow: Any, message: Any, redactor: Redactor, source: HttpSource) -> WebSocketObservation:
    """One WebSocket message -> a ``websocket[]`` record (without id)."""
    kind, content, truncated = message_content(bytes(message.content), bool(message.is_text), redactor)
    record: WebSocketObservation = {
        "kind": "websocket",
        "http_uuid": flow.id,
        "ts": message.timestamp,
        "from_client": bool(message.from_client),
        "type": kind,
        "size": len(message.content),
        "content": content,
        "truncated": truncated,
        "host": redactor.authority(valid_text(flow.request.pretty_host)),
        "url": redactor.url(valid_text(flow.request.pretty_url)),
        "source": source,
    }
    return record


def clienthello_record(ts: float, client_hello: Any, client: Any, server: Any, transport: str,
                       passthrough: bool) -> ClientHelloObservation:
    """TLS/DTLS/QUIC ClientHello metadata (SNI, ALPN) for one connection, intercepted or not."""
    alpn = [a.decode("ascii", "replace") if isinstance(a, bytes) else str(a) for a in (client_hello.alpn_protocols or [])]
    record: ClientHelloObservation = {
        "kind": "tls_clienthello",
        "ts": ts,
        "sni": valid_text(client_hello.sni) if client_hello.sni is not None else None,
        "alpn": alpn[:16],
        "cipher_count": len(client_hello.cipher_suites or []),
        "client": address(client),
        "server": address(server),
        "transport": transport,
        "passthrough": passthrough,
    }
    return record


def first_byte_class(payload: bytes) -> str:
    """RFC 7983 demultiplexing class of a datagram, by its first byte (and STUN magic cookie)."""
    if not payload:
        return "empty"
    b = payload[0]
    if b <= 3:
        return "stun" if payload[4:8] == STUN_MAGIC else "other"
    if 16 <= b <= 19:
        return "zrtp"
    if 20 <= b <= 63:
        return "dtls"
    if 64 <= b <= 79:
        return "turn-channel"
    if 128 <= b <= 191:
        return "rtp-rtcp"
    if b >= 192:
        return "quic-long"
    return "other"


def stun_attribute_types(payload: bytes, limit: int = 32) -> list[int]:
    """Attribute types of a STUN message (never their values)."""
    if len(payload) < 20 or payload[4:8] != STUN_MAGIC:
        return []
    out: list[int] = []
    pos = 20
    end = min(len(payload), 20 + struct.unpack("!H", payload[2:4])[0])
    while pos + 4 <= end and len(out) < limit:
        attr_type, attr_len = struct.unpack("!HH", payload[pos:pos + 4])
        out.append(attr_type)
        pos += 4 + attr_len + (-attr_len % 4)
    return out


class _Sizes(TypedDict):
    """Smallest and largest payload of a UDP flow so far (min is None before the first)."""

    min: int | None
    max: int


class UdpAggregate:
    """Running counters for one UDP flow; holds no payloads."""

    __slots__ = ("first_ts", "last_ts", "client", "server", "packets", "bytes", "classes", "stun_attrs", "sizes")

    def __init__(self, client: Any, server: Any, ts: float) -> None:
        self.first_ts = ts
        self.last_ts = ts
        self.client = address(client)
        self.server = address(server)
        self.packets = {"from_client": 0, "to_client": 0}
        self.bytes = {"from_client": 0, "to_client": 0}
        self.classes: dict[str, int] = {}
        self.stun_attrs: set[int] = set()
        self.sizes: _Sizes = {"min": None, "max": 0}

    def add(self, payload: bytes, from_client: bool, ts: float) -> None:
        side = "from_client" if from_client else "to_client"
        self.packets[side] += 1
        self.bytes[side] += len(payload)
        self.last_ts = max(self.last_ts, ts)
        cls = first_byte_class(payload)
        self.classes[cls] = self.classes.get(cls, 0) + 1
        if cls == "stun" and len(self.stun_attrs) < MAX_STUN_ATTR_TYPES:
            self.stun_attrs.update(stun_attribute_types(payload))
        self.sizes["min"] = len(payload) if self.sizes["min"] is None else min(self.sizes["min"], len(payload))
        self.sizes["max"] = max(self.sizes["max"], len(payload))

    def record(self) -> UdpFlowObservation:
        record: UdpFlowObservation = {
            "kind": "udp_flow",
            "ts": self.first_ts,
            "ts_last": self.last_ts,
            "client": self.client,
            "server": self.server,
            "packets": dict(self.packets),
            "bytes": dict(self.bytes),
            "first_byte_classes": dict(sorted(self.classes.items())),
            "stun_attribute_types": sorted(self.stun_attrs),
            "size_min": self.sizes["min"],
            "size_max": self.sizes["max"],
        }
        return record


def dns_record(flow: Any, redactor: Redactor) -> DnsObservation:
    """A DNS flow's questions and answers (names and types; the answers' data as text)."""
    req, resp = flow.request, flow.response
    every_question: list[DnsQueryQuestion] = [{"name": valid_text(q.name), "type": int(q.type)}
                                              for q in (req.questions if req else [])]
    questions = every_question[:16]
    answers: list[DnsQueryAnswer] = []
    for ans in (resp.answers if resp else [])[:64]:
        try:
            data = str(ans)
        except Exception:  # an answer mitmproxy cannot render is still counted
            data = ""
        answers.append({"name": valid_text(ans.name), "type": int(ans.type),
                        "data": redactor.text(valid_text(data))[:300]})
    record: DnsObservation = {
        "kind": "dns",
        "ts": req.timestamp if req else None,
        "questions": questions,
        "answers": answers,
        "client": address(flow.client_conn.peername),
        "server": address(flow.server_conn.address),
        "response_code": int(resp.response_code) if resp else None,
    }
    return record
