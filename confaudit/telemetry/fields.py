"""Turn one HTTP request or client WebSocket message into classified fields (pure).

Request headers the browser adds by itself (User-Agent, Accept-Language, client hints, cookies)
are reported as *implicit*: every request carries them, so they are kept apart from data the page
chose to send, except when they carry a known value (a room name in the Referer is a real leak).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from confaudit.form_pairs import form_pairs
from confaudit.telemetry.decode import MAX_FIELDS, Decoded, Field, decode_body, decode_message, decode_query
from confaudit.telemetry.known import KnownMatcher
from confaudit.telemetry.taxonomy import Match, classify_key, classify_value

if TYPE_CHECKING:
    from confaudit.evidence_model import DataCategory

Location = Literal["query", "path", "fragment", "header", "body", "message"]
"""Where in a request or message a field sat (the schema's ``telemetry_data_flow.location``)."""

IMPLICIT_HEADERS: dict[str, tuple[DataCategory, ...]] = {
    "user-agent": ("browser",), "accept-language": ("locale",), "sec-ch-ua": ("browser",),
    "sec-ch-ua-full-version": ("browser",), "sec-ch-ua-full-version-list": ("browser",),
    "sec-ch-ua-platform": ("os",), "sec-ch-ua-platform-version": ("os",), "sec-ch-ua-mobile": ("device",),
    "sec-ch-ua-model": ("device",), "sec-ch-ua-arch": ("device",), "sec-ch-ua-bitness": ("device",),
    "sec-ch-ua-wow64": ("device",), "sec-ch-ua-form-factors": ("device",), "sec-ch-viewport-width": ("screen",),
    "sec-ch-dpr": ("screen",), "viewport-width": ("screen",), "dpr": ("screen",), "device-memory": ("device",),
    "sec-ch-device-memory": ("device",), "ect": ("network",), "rtt": ("network",), "downlink": ("network",),
    "sec-ch-prefers-color-scheme": ("technical",), "cookie": ("identifier",),
}
# Headers that carry no data the page chose; only known values found in them are reported.
TRANSPORT_HEADERS = {
    "accept", "accept-encoding", "connection", "host", "content-type", "content-length", "origin", "referer",
    "cache-control", "pragma", "upgrade-insecure-requests", "priority", "te", "dnt", "sec-gpc", "upgrade",
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
    "if-none-match", "if-modified-since", "range", "keep-alive", "transfer-encoding", "expect", "via",
    "x-requested-with", "purpose", "sec-purpose", "content-encoding", "proxy-connection", "authorization",
    "proxy-authorization", "traceparent", "tracestate", "sec-purpose", "service-worker", "x-forwarded-for",
    "x-forwarded-proto", "x-forwarded-host", "forwarded", "early-data", "cdn-loop",
}


@dataclass(frozen=True)
class ClassifiedField:
    """A field with its categories."""

    location: Location
    """``query``, ``path``, ``header``, ``body`` or ``message``."""
    field: Field
    """The decoded field."""
    matches: tuple[Match, ...]
    """Why each category applies (several per field possible; ``technical`` when none)."""
    implicit: bool
    """True for data every browser request carries by itself (User-Agent, Accept-Language, cookies)."""


FILENAME_MATCH = Match("content", "multipart:filename")
"""A multipart part's ``filename``: the name a person gave a file (``ada_passport.jpg``) is content."""


def classify_field(field: Field, matcher: KnownMatcher) -> list[Match]:
    """Key-name, value-shape and known-value matches, deduplicated by category (first reason kept)."""
    found: dict[str, Match] = {}
    structural = (FILENAME_MATCH,) if field.transforms[-1:] == ("multipart-filename",) else ()
    for match in (*structural, *matcher.match(field.value), *classify_key(field.keys),
                  *classify_value(field.value, field.keys)):
        found.setdefault(match.category, match)
    return list(found.values()) or [Match("technical", "default")]


def _pairs(value: Any) -> list[tuple[str, str]]:
    out = []
    for item in value if isinstance(value, list) else ():
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((str(item[0]), "" if item[1] is None else str(item[1])))
    return out


@dataclass(frozen=True)
class Located:
    """A decoded field and where in the message it sat."""

    location: Location
    """``query``, ``path``, ``fragment``, ``header``, ``body`` or ``message``."""
    field: Field
    """The decoded field."""


def _split_url(url: str) -> tuple[str, str, str]:
    """(path, query, fragment) of a URL; one urllib cannot split (a client-controlled host such as
    ``evil.[x]``) still gives its query and fragment, so its request is read like any other."""
    try:
        parts = urlsplit(url)
    except ValueError:
        head, _, fragment = url.partition("#")
        return "", head.partition("?")[2], fragment
    return parts.path, parts.query, parts.fragment


FieldAt = tuple[Location, str, tuple[str, ...], str, tuple[str, ...]]
"""A decoded field where it sat: (location, path, keys, value, transforms), what :class:`Located` holds as a plain
tuple (built for every field of every request: a frozen dataclass costs several times more)."""


def _url_part(location: Location, text: str) -> FieldAt:
    """A URL's path or fragment as one field (percent-decoded, up to any ``?``)."""
    return (location, "$", (), unquote(text.split("?", 1)[0], errors="replace"), ())


def _at(location: Location, item: Field) -> FieldAt:
    return (location, item.path, item.keys, item.value, item.transforms)


class SharedLists:
    """Decoded fields of the header and query lists an import shares between its records (every request of a
    session repeats its headers: confaudit.importers.shared), decoded once per list object; a query list that
    is new (most URLs are) from its pairs, each decoded once per (name, value)."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, list[FieldAt]]] = {}
        self._pairs: dict[tuple[str, str], list[FieldAt]] = {}
        self._sizes: dict[int, tuple[Any, int]] = {}
        self._paths: dict[str, FieldAt] = {}

    def path_field(self, path: str) -> FieldAt:
        """The ``path`` field of a URL path, one per distinct path (requests repeat their paths)."""
        found = self._paths.get(path)
        if found is None:
            if len(self._paths) >= self.LIMIT:
                self._paths.clear()
            found = self._paths[path] = _url_part("path", path)
        return found

    def size(self, value: Any, measure: Callable[[Any], int]) -> int:
        """``measure(value)`` of a shared list, measured once per list object."""
        found = self._sizes.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        if len(self._sizes) >= self.LIMIT:
            self._sizes.clear()
        size = measure(value)
        self._sizes[id(value)] = (value, size)
        return size

    def fields(self, kind: str, value: Any) -> list[FieldAt]:
        found = self._memo.get(id(value))
        if found is not None and found[0] is value:  # the list held alive in the memo: its id is not reused
            return found[1]
        if len(self._memo) >= self.LIMIT:
            self._memo.clear()
        fields = self._query_fields(value) if kind == "query" else _list_fields(kind, value)
        self._memo[id(value)] = (value, fields)
        return fields

    def _query_fields(self, value: Any) -> list[FieldAt]:
        """``_list_fields("query", value)``: a pair decodes alone to the same fields (path and keys from its own
        name) unless the query reaches the decoder's field limit, which is then left to decode_query."""
        out: list[FieldAt] = []
        for pair in value if isinstance(value, list) else ():
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                continue
            key = (str(pair[0]), "" if pair[1] is None else str(pair[1]))
            found = self._pairs.get(key)
            if found is None:
                if len(self._pairs) >= self.LIMIT:
                    self._pairs.clear()
                found = self._pairs[key] = [_at("query", f) for f in decode_query([key]).fields]
            out += found
            if len(out) >= MAX_FIELDS:
                return _list_fields("query", value)
        return out


def _list_fields(kind: str, value: Any) -> list[FieldAt]:
    if kind == "query":
        return [_at("query", f) for f in decode_query(value).fields]
    out: list[FieldAt] = []
    for name, text in _pairs(value):
        if not name.startswith(":"):
            low = name.strip().lower()
            out.append(("header", low, (low,), text, ()))
    return out


def request_fields(rec: dict[str, Any], shared: SharedLists | None = None) -> tuple[list[FieldAt], Decoded]:
    """Decoded fields of one HTTP request record, plus the body's decode result (opaque parts)."""
    raw_url = rec.get("url")
    url = raw_url if isinstance(raw_url, str) else ""
    query, path = rec.get("query"), rec.get("path")
    if isinstance(query, list) and isinstance(path, str) and "#" not in url:
        fragment = ""  # the record's own path and query: the URL has nothing more to give (no fragment)
    else:
        url_path, url_query, fragment = _split_url(url)
        if not isinstance(query, list):
            query = [list(p) for p in form_pairs(url_query)]
        if not isinstance(path, str):
            path = url_path
    headers = rec.get("request_headers")
    if not query:
        out: list[FieldAt] = []
    else:
        out = list(shared.fields("query", query)) if shared is not None else _list_fields("query", query)
    if path:
        out.append(shared.path_field(path) if shared is not None else _url_part("path", path))
    if fragment:
        out.append(_url_part("fragment", fragment))
    if shared is not None and isinstance(headers, list) and headers:
        out.extend(shared.fields("header", headers))
    else:
        out.extend(_list_fields("header", headers))
    raw_body = rec.get("request_body")
    body = decode_body(raw_body) if raw_body is not None else Decoded()
    if body.fields:
        out.extend([("body", f.path, f.keys, f.value, f.transforms) for f in body.fields])
    return out, body


def message_fields(rec: dict[str, Any]) -> tuple[list[FieldAt], Decoded]:
    """Decoded fields of one client->server WebSocket message."""
    decoded = decode_message(rec.get("content"), str(rec.get("type") or "text"))
    decoded.truncated = decoded.truncated or rec.get("truncated") is True
    return [_at("message", f) for f in decoded.fields], decoded


def classify_located(item: Located, matcher: KnownMatcher) -> list[ClassifiedField]:
    """Categories of one located field (URL path and fragment: known values only)."""
    if item.location in ("path", "fragment"):
        hits = matcher.match(item.field.value)
        return [ClassifiedField(item.location, item.field, tuple(hits), False)] if hits else []
    if item.location == "header":
        return _header_fields(item.field.path, item.field.value, matcher)
    return [ClassifiedField(item.location, item.field, tuple(classify_field(item.field, matcher)), False)]


def _header_fields(low: str, value: str, matcher: KnownMatcher) -> list[ClassifiedField]:
    field = Field(low, (low,), value, ())
    known = matcher.match(value)
    if low in IMPLICIT_HEADERS:
        cats = [Match(c, f"header:{low}") for c in IMPLICIT_HEADERS[low]]
        out = [ClassifiedField("header", field, tuple(cats), True)]
        extra = tuple(m for m in known if m.category not in IMPLICIT_HEADERS[low])
        if extra:
            out.append(ClassifiedField("header", field, extra, False))
        return out
    if low in TRANSPORT_HEADERS or low.startswith(("sec-fetch-", "sec-ch-", "access-control-")):
        return [ClassifiedField("header", field, tuple(known), False)] if known else []
    matches: dict[str, Match] = {m.category: m for m in reversed(
        [*known, *classify_key((re.sub(r"^x-", "", low),)), *classify_value(value, (low,))])}
    return [ClassifiedField("header", field, tuple(matches.values()) or (Match("technical", "default"),), False)]
