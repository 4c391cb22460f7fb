"""Decode every HTTP request and client WebSocket message of a bundle, and gather the known values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.telemetry.decode import Decoded, body_bytes
from confaudit.telemetry.entities import normalise_host
from confaudit.telemetry.fields import Located, message_located, request_located
from confaudit.telemetry.known import KnownValue
from confaudit.telemetry.taxonomy import EMAIL_RE, classify_value


@dataclass(frozen=True)
class Event:
    """One request or client message, decoded, before classification."""

    kind: str
    """Evidence kind: ``http``, ``websocket``, or ``flow`` (cleartext HTTP seen in a packet capture)."""
    rec_id: str
    """The record's bundle id (h<N> / w<N>)."""
    ts: Any
    """Timestamp as recorded (may be missing or ill-typed in hostile bundles)."""
    host: str
    """Host the message went to (normalised), '' when unknown."""
    located: list[Located]
    """Decoded fields with their locations."""
    decoded: Decoded
    """Body/message decode result (opaque parts, truncation)."""
    bytes_sent: int
    """Request or message size in bytes."""


def _dicts(bundle: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _request_bytes(rec: dict[str, Any]) -> int:
    size = len(str(rec.get("method") or "")) + len(str(rec.get("url") or "")) + 12
    for pair in rec.get("request_headers") if isinstance(rec.get("request_headers"), list) else ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            size += len(str(pair[0])) + len(str(pair[1])) + 4
    body = rec.get("request_body")
    if isinstance(body, dict):
        declared = body.get("size")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 0:
            size += declared
        else:
            size += len(body_bytes(body) or b"")
    return size


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


def collect_events(bundle: dict[str, Any]) -> list[Event]:
    """Decode every HTTP request and client->server WebSocket message (order: as in the bundle)."""
    events: list[Event] = []
    http_hosts: dict[str, str] = {}
    for rec in _dicts(bundle, "http"):
        host = _host_of(rec, {})
        if isinstance(rec.get("id"), str):
            http_hosts[rec["id"]] = host
        located, decoded = request_located(rec)
        events.append(Event("http", str(rec.get("id", "")), rec.get("ts"), host, located, decoded, _request_bytes(rec)))
    for rec in _dicts(bundle, "websocket"):
        if rec.get("from_client") is not True:
            continue
        located, decoded = message_located(rec)
        size = rec.get("size") if isinstance(rec.get("size"), int) else 0
        events.append(Event("websocket", str(rec.get("id", "")), rec.get("ts"), _host_of(rec, http_hosts),
                            located, decoded, size))
    events.extend(_plain_http_events(bundle))
    return events


def _plain_http_events(bundle: dict[str, Any]) -> list[Event]:
    """Cleartext HTTP requests the packet analysis saw (request line and Host only): query and path fields."""
    starts = {r["id"]: r.get("first_seen") for r in _dicts(bundle, "flows") if isinstance(r.get("id"), str)}
    out = []
    for rec in _dicts(bundle, "http_plain"):
        host, target, flow = rec.get("host"), rec.get("target"), rec.get("flow")
        if not isinstance(host, str) or not host or not isinstance(target, str) or not isinstance(flow, str):
            continue
        url = target if "://" in target[:12] else f"http://{host}{target if target.startswith('/') else '/' + target}"
        located, decoded = request_located({"url": url})
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        out.append(Event("flow", flow, starts.get(flow), normalise_host(name), located, decoded,
                         len(target) + len(host)))
    return out


def known_values(events: list[Event], room_names: list[str], participants: list[str],
                 accounts: list[str]) -> list[KnownValue]:
    """The auditor's known values plus e-mails, phone numbers and User-Agents seen in clear in the traffic."""
    known = [KnownValue("room_name", "room_name", v) for v in room_names]
    known += [KnownValue("participants", "participant", v) for v in participants]
    known += [KnownValue("account", _account_label(v), v) for v in accounts]
    seen_emails: set[str] = set()
    seen_phones: set[str] = set()
    seen_ua: set[str] = set()
    for event in events:
        for item in event.located:
            if item.location == "header" and item.field.path == "user-agent" and len(seen_ua) < 20:
                seen_ua.add(item.field.value)
            elif item.location in ("query", "body", "message") and "@" in item.field.value and len(seen_emails) < 200:
                seen_emails.update(m.group(0) for m in EMAIL_RE.finditer(item.field.value[:2000]))
            elif item.location in ("query", "body", "message") and len(item.field.value) <= 24 and len(seen_phones) < 200 \
                    and any(m.reason == "value:phone" for m in classify_value(item.field.value, item.field.keys)):
                seen_phones.add(item.field.value.strip())
    known += [KnownValue("browser", "user-agent", v) for v in sorted(seen_ua)]
    known += [KnownValue("account", "email", v) for v in sorted(seen_emails) if v not in accounts]
    known += [KnownValue("account", "phone", v) for v in sorted(seen_phones) if v not in accounts]
    return known


def _account_label(value: str) -> str:
    if "@" in value:
        return "email"
    return "phone" if sum(ch.isdigit() for ch in value) >= 8 and not any(ch.isalpha() for ch in value) else "account"
