"""Which page asked for an HTTP request: its Origin and Referer headers and, from Chrome HAR exports, the
initiator (``initiator.origins``). Only origins (scheme, host, port) are kept: paths can hold room names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from confaudit.evidence_model import HttpExchangeInitiator

FRAME_DESTINATIONS = frozenset({"iframe", "frame", "embed", "object"})
"""Sec-Fetch-Dest values of documents that run inside the requesting page (their own requests carry their origin)."""


@dataclass(frozen=True)
class Initiator:
    """A page origin a request names as its initiator."""

    origin: str
    """``scheme://host[:port]``, lower-case."""
    how: str
    """Where it came from: ``Origin``, ``Referer`` or ``initiator`` (HAR)."""


def origin_of(url: Any) -> str | None:
    """``scheme://host[:port]`` of an http(s)/ws(s) URL, None for ``null``, opaque or malformed values."""
    if not isinstance(url, str) or "://" not in url:
        return None
    return _origin_of_url(url)


@lru_cache(maxsize=8192)  # every request of a page names the same Origin, Referer and scripts
def _origin_of_url(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss") or not host:
        return None
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port and port != default else "")


def host_of_origin(origin: str) -> str:
    host = origin.split("://", 1)[-1]
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def header(rec: Mapping[str, Any], name: str) -> str | None:
    """First value of request header ``name`` (lower-case; matched case-insensitively), None when absent."""
    return _header_index(rec.get("request_headers")).get(name)


def _header_index(pairs: Any) -> dict[str, str]:
    """Lower-case name -> first value of a request's header pairs."""
    index: dict[str, str] = {}
    for pair in pairs if isinstance(pairs, list) else ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            index.setdefault(str(pair[0]).lower(), str(pair[1]))
    return index


class RequestHeaders:
    """:func:`header` for many records: each header list is read once. An import shares equal header lists
    between its records (confaudit.importers.shared) and nothing modifies them after, so a list is known by
    its identity while the memo holds it alive (its id cannot be reused)."""

    LIMIT = 4096
    """Lists remembered: a bundle read from JSON shares none, and an index per record would cost memory."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, dict[str, str], list[Initiator], str]] = {}

    def _read(self, rec: Mapping[str, Any]) -> tuple[Any, dict[str, str], list[Initiator], str]:
        """(pairs, index, the initiators its Origin and Referer name, its destination) of the record's header list."""
        pairs = rec.get("request_headers")
        found = self._memo.get(id(pairs))
        if found is None or found[0] is not pairs:
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            index = _header_index(pairs)
            found = self._memo[id(pairs)] = (pairs, index, _header_initiators(index.get("origin"), index.get("referer")),
                                             (index.get("sec-fetch-dest") or "").strip().lower())
        return found

    def destination(self, rec: Mapping[str, Any]) -> str:
        """:func:`destination` of ``rec``, worked out once per header list."""
        return self._read(rec)[3]

    def __call__(self, rec: Mapping[str, Any], name: str) -> str | None:
        return self._read(rec)[1].get(name)

    def initiators(self, rec: Mapping[str, Any]) -> list[Initiator]:
        """The Origin and Referer initiators of :func:`initiators` (never modified: callers copy)."""
        return self._read(rec)[2]


HeaderReader = Callable[[Mapping[str, Any], str], "str | None"]
"""How a request header is read: :func:`header`, or a :class:`RequestHeaders`."""


def _header_initiators(origin: str | None, referer: str | None) -> list[Initiator]:
    out: list[Initiator] = []
    for how, value in (("Origin", origin), ("Referer", referer)):
        found = origin_of(value)
        if found is not None and all(i.origin != found for i in out):
            out.append(Initiator(found, how))
    return out


def initiators(rec: Mapping[str, Any], header: HeaderReader = header) -> list[Initiator]:
    """The page origins that asked for request ``rec``, most direct first, without repeats."""
    if isinstance(header, RequestHeaders):
        out = list(header.initiators(rec))  # its header list read once for all the records sharing it
    else:
        out = _header_initiators(header(rec, "origin"), header(rec, "referer"))
    initiator = rec.get("initiator")
    origins = initiator.get("origins") if type(initiator) is dict or isinstance(initiator, Mapping) else None
    if not isinstance(origins, list) or not origins:
        return out
    seen = {i.origin for i in out}
    for value in origins[:20]:
        origin = origin_of(value)
        if origin is not None and origin not in seen:
            seen.add(origin)
            out.append(Initiator(origin, "initiator"))
    return out


def destination(rec: Mapping[str, Any], header: HeaderReader = header) -> str:
    """The request's Sec-Fetch-Dest (``document``, ``iframe``, ``script``, ``empty`` ...), '' when not sent."""
    if isinstance(header, RequestHeaders):
        return header.destination(rec)
    return (header(rec, "sec-fetch-dest") or "").strip().lower()


def har_initiator(entry: Mapping[str, Any]) -> HttpExchangeInitiator | None:
    """Chrome's HAR ``_initiator`` reduced to its type and the origins of the page/scripts on its stack."""
    raw = entry.get("_initiator")
    if raw is None or not (type(raw) is dict or isinstance(raw, Mapping)):
        return None
    urls: list[Any] = [raw.get("url")]
    stack, depth = raw.get("stack"), 0
    while stack is not None and isinstance(stack, Mapping) and depth < 16:
        frames = stack.get("callFrames")
        urls += [f.get("url") for f in frames[:50] if isinstance(f, Mapping)] if isinstance(frames, list) else []
        stack, depth = stack.get("parent"), depth + 1
    origins = list(dict.fromkeys(o for o in (origin_of(u) for u in urls) if o is not None))[:20]
    kind = raw.get("type")
    initiator: HttpExchangeInitiator = {"type": str(kind)[:40] if isinstance(kind, str) else None, "origins": origins}
    return initiator
