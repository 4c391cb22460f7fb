"""Decode every HTTP request and client WebSocket message of a bundle, and gather the known values.

The decoded events go to an anonymous temporary file as they are made (:class:`EventSpool`), which gathers
the values they carry in clear on the way (:class:`ClearValues`), and are read back once to be classified:
the known values need every event before any can be classified, and 100,000 decoded requests held in
memory take about 300 MB.
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

from confaudit.telemetry.decode import Decoded, body_bytes
from confaudit.telemetry.entities import normalise_host
from confaudit.telemetry.fields import FieldAt, SharedLists, message_fields, request_fields
from confaudit.telemetry.known import KnownValue
from confaudit.telemetry.taxonomy import EMAIL_RE
from confaudit.telemetry.taxonomy import is_phone as is_phone_value

SPOOL_BATCH = 1000
MAX_REMEMBERED = 50_000


EventRow: TypeAlias = "tuple[str, str, Any, str, list[FieldAt], list[int], bool, int]"
"""One request or client message, decoded, before classification -- a plain tuple (made, spooled and read
back 100,000 times: a NamedTuple costs a Python call each time and an attribute lookup per field):

- ``kind``: evidence kind, ``http``, ``websocket``, or ``flow`` (cleartext HTTP seen in a packet capture);
- ``rec_id``: the record's bundle id (h<N> / w<N>);
- ``ts``: timestamp as recorded (may be missing or ill-typed in hostile bundles);
- ``host``: host the message went to (normalised), '' when unknown;
- ``located``: decoded fields with their locations;
- ``opaque_sizes``: sizes in bytes of the parts the decoder could not read (protobuf-like, binary, over a limit);
- ``truncated``: True when the payload was cut by the capture's cap or a decoding limit;
- ``bytes_sent``: request or message size in bytes.
"""


def _event(kind: str, rec_id: str, ts: Any, host: str, located: list[FieldAt], decoded: Decoded, size: int) -> EventRow:
    return (kind, rec_id, ts, host, located, [o.size for o in decoded.opaque] if decoded.opaque else [],
            decoded.truncated, size)


class EventSpool:
    """Events written once to an anonymous temporary file (marshal, in batches) and read back per pass."""

    def __init__(self, events: Iterable[EventRow]) -> None:
        self._file = tempfile.TemporaryFile(prefix="confaudit-events-")
        self.count = 0
        self.latest_ts: float | None = None
        """The latest numeric timestamp of any event (None when none has one)."""
        self.hosts: dict[str, str] = {}
        """Every host an event went to, in order of appearance, with the kind of the first such event."""
        self.repeated: set[tuple[str, str]] = set()
        """(kind, record id) of the events that share it with another event (plain HTTP requests on one flow)."""
        self.clear_values = ClearValues()
        """E-mails, phone numbers and User-Agents the events carry in clear."""
        try:
            self._write(events)
        except BaseException:
            self._file.close()
            raise

    def _write(self, events: Iterable[EventRow]) -> None:
        batch: list[EventRow] = []
        seen: set[tuple[str, str]] = set()
        for event in events:
            kind, rec_id, ts, host, located, _, _, _ = event
            self.count += 1
            ref = (kind, rec_id)
            if ref in seen:
                self.repeated.add(ref)
            seen.add(ref)
            if host:
                self.hosts.setdefault(host, kind)
            self.clear_values.add(located)
            if isinstance(ts, (int, float)) and not isinstance(ts, bool) and (self.latest_ts is None or ts > self.latest_ts):
                self.latest_ts = ts
            batch.append(event)
            if len(batch) >= SPOOL_BATCH:
                self._dump(batch)
                batch = []
        if batch:
            self._dump(batch)
        self._file.flush()

    def _dump(self, batch: list[EventRow]) -> None:
        blob = marshal.dumps(batch)  # read back whole: marshal.load on a file reads it piece by piece
        self._file.write(len(blob).to_bytes(8, "little") + blob)

    def __iter__(self) -> Iterator[EventRow]:
        self._file.seek(0)
        read = 0
        while read < self.count:
            size = int.from_bytes(self._file.read(8), "little")
            batch: list[EventRow] = marshal.loads(self._file.read(size))
            read += len(batch)
            yield from batch

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EventSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dicts(bundle: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def headers_size(headers: Any) -> int:
    """Bytes of a request's header pairs as sent (name, value, ': ' and CRLF each)."""
    size = 0
    for pair in headers if isinstance(headers, list) else ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            size += len(str(pair[0])) + len(str(pair[1])) + 4
    return size


def _request_bytes(rec: dict[str, Any], shared: SharedLists | None = None) -> int:
    headers = rec.get("request_headers")
    size = len(str(rec.get("method") or "")) + len(str(rec.get("url") or "")) + 12
    size += shared.size(headers, headers_size) if shared is not None and isinstance(headers, list) else headers_size(headers)
    body = rec.get("request_body")
    if isinstance(body, dict):
        declared = body.get("size")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 0:
            size += declared
        else:
            size += len(body_bytes(body) or b"")
    return size


_NO_HOSTS: dict[str, str] = {}


def _host_of(rec: dict[str, Any], http_hosts: dict[str, str]) -> str:
    host = rec.get("host")
    if isinstance(host, str) and host:
        return normalise_host(host)
    if isinstance(rec.get("http_id"), str) and rec["http_id"] in http_hosts:
        return http_hosts[rec["http_id"]]
    url = rec.get("url")
    if isinstance(url, str) and "://" in url:
        from urllib.parse import urlsplit

        try:
            return normalise_host(urlsplit(url).hostname or "")
        except ValueError:
            return ""
    return ""


def collect_events(bundle: dict[str, Any]) -> EventSpool:
    """Decode every HTTP request and client->server WebSocket message (order: as in the bundle)."""
    return EventSpool(iter_events(bundle))


def iter_events(bundle: dict[str, Any]) -> Iterator[EventRow]:
    """The events of :func:`collect_events`, decoded one at a time."""
    http_hosts: dict[str, str] = {}
    shared = SharedLists()
    for rec in _dicts(bundle, "http"):
        host = _host_of(rec, _NO_HOSTS)
        if isinstance(rec.get("id"), str):
            http_hosts[rec["id"]] = host
        located, decoded = request_fields(rec, shared)
        yield _event("http", str(rec.get("id", "")), rec.get("ts"), host, located, decoded, _request_bytes(rec, shared))
    for rec in _dicts(bundle, "websocket"):
        if rec.get("from_client") is not True:
            continue
        located, decoded = message_fields(rec)
        raw_size = rec.get("size")
        # as for an HTTP body's declared size: a bool or a negative count is no byte count
        size = raw_size if isinstance(raw_size, int) and not isinstance(raw_size, bool) and raw_size >= 0 else 0
        yield _event("websocket", str(rec.get("id", "")), rec.get("ts"), _host_of(rec, http_hosts), located, decoded, size)
    yield from _plain_http_events(bundle)


def _plain_http_events(bundle: dict[str, Any]) -> Iterator[EventRow]:
    """Cleartext HTTP requests the packet analysis saw (request line and Host only): query and path fields."""
    starts = {r["id"]: r.get("first_seen") for r in _dicts(bundle, "flows") if isinstance(r.get("id"), str)}
    for rec in _dicts(bundle, "http_plain"):
        host, target, flow = rec.get("host"), rec.get("target"), rec.get("flow")
        if not isinstance(host, str) or not host or not isinstance(target, str) or not isinstance(flow, str):
            continue
        url = target if "://" in target[:12] else f"http://{host}{target if target.startswith('/') else '/' + target}"
        located, decoded = request_fields({"url": url})
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        yield _event("flow", flow, starts.get(flow), normalise_host(name), located, decoded, len(target) + len(host))


class ClearValues:
    """E-mail addresses, phone numbers and User-Agents the events carry in clear, gathered as they pass (:meth:`add`)."""

    def __init__(self) -> None:
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.user_agents: set[str] = set()
        self._phone: dict[tuple[str, tuple[str, ...]], bool] = {}  # the same short values recur in every request

    def add(self, located: list[FieldAt]) -> None:
        """Gather from one event's fields."""
        for location, path, keys, value, _ in located:
            if location == "header":  # of the headers, only the User-Agent
                if path == "user-agent" and len(self.user_agents) < 20:
                    self.user_agents.add(value)
            elif location not in ("query", "body", "message"):
                continue
            elif "@" in value and len(self.emails) < 200:
                self.emails.update(m.group(0) for m in EMAIL_RE.finditer(value[:2000]))
            elif len(value) <= 24 and len(self.phones) < 200:
                is_phone = self._phone.get((value, keys))
                if is_phone is None:
                    if len(self._phone) >= MAX_REMEMBERED:
                        self._phone.clear()
                    is_phone = self._phone[(value, keys)] = is_phone_value(value, keys)
                if is_phone:
                    self.phones.add(value.strip())

    def known(self, room_names: list[str], participants: list[str], accounts: list[str]) -> list[KnownValue]:
        """The auditor's known values plus the e-mails, phone numbers and User-Agents seen in clear in the traffic."""
        known = [KnownValue("room_name", "room_name", v) for v in room_names]
        known += [KnownValue("participants", "participant", v) for v in participants]
        known += [KnownValue("account", _account_label(v), v) for v in accounts]
        known += [KnownValue("browser", "user-agent", v) for v in sorted(self.user_agents)]
        known += [KnownValue("account", "email", v) for v in sorted(self.emails) if v not in accounts]
        known += [KnownValue("account", "phone", v) for v in sorted(self.phones) if v not in accounts]
        return known


def _account_label(value: str) -> str:
    if "@" in value:
        return "email"
    return "phone" if sum(ch.isdigit() for ch in value) >= 8 and not any(ch.isalpha() for ch in value) else "account"
