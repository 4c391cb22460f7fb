"""Observation records redacted again on import, field by field, whoever wrote them.

Redaction is idempotent, so records of confaudit's own addon come out as they went in. A file written by
an older or foreign addon may hold anything anywhere: headers as a dict or as HAR's ``{name, value}``
objects, a body whose ``text`` is an object or base64 (HAR's ``encoding: base64``), still-compressed
binary bodies, an error object, a URL or Host that is not a string, extra keys. Each field is redacted
by the structure its name promises when its value has it, by the credential its name implies when it is
a key the addon never writes (``session_ticket``, ``cookies``, ``auth``: every string in it becomes a
token), else as JSON (secret names, then patterns in every string); key names are redacted by pattern.

So a record comes out redacted, not reshaped: its fields keep whatever shape the file gave them
(:data:`ObservationLine`), unlike the converters' typed records (``session.records.Observation``).
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any, TypeAlias, TypeVar
from urllib.parse import parse_qsl

from confaudit.session.bodies import TEXT_CAP, looks_textual, redact_base64, redact_binary, redact_text
from confaudit.importers.shared import SharedParts
from confaudit.multipart_body import boundary_of
from confaudit.redact import Redactor, is_secret_container, is_secret_header, is_secret_name

RECORD_FIELDS = frozenset({
    "kind", "flow_uuid", "http_uuid", "ts", "ts_last", "method", "url", "scheme", "host", "port", "path", "query",
    "http_version", "status", "request_headers", "response_headers", "request_body", "response_body", "client",
    "server", "source", "flow", "duration_ms", "error", "initiator", "from_client", "type", "size", "content",
    "truncated", "sni", "alpn", "cipher_count", "transport", "passthrough", "packets", "bytes",
    "first_byte_classes", "stun_attribute_types", "size_min", "size_max", "questions", "answers", "response_code",
})
"""Every field confaudit's addon writes in a record of any kind; other keys are a foreign writer's."""
_IDENTIFIERS = {"kind", "flow_uuid", "http_uuid"}  # joined on import and never written out
_T = TypeVar("_T")

ObservationLine: TypeAlias = dict[str, Any]
"""An observations.jsonl record as the file held it, redacted again (:meth:`Reredactor.record`): the importer checks
its ``kind`` and a few fields' types (``importers.http_sources``); every other field may have any shape (an older or
foreign writer's), which is why the bundle's readers stay type-careful and records lacking a required key are
counted (``evidence_model.records_lacking_keys``)."""


class Reredactor:
    """Redacts the records of one file again, remembering what repeats (the same headers, hosts, URLs and short
    values are in every record): redacted once, and the records share the result (confaudit.importers.shared)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._shared = SharedParts()

    def _remember(self, kind: str, key: Hashable, compute: Callable[[], _T], size: int = 0) -> _T:
        return self._shared.same(kind, key, compute, size)

    def record(self, record: Mapping[str, Any]) -> ObservationLine:
        """A copy of an observation record with every field redacted again (see the module docstring)."""
        redactor = self.redactor
        out: ObservationLine = {}
        for key, value in record.items():
            if key in _IDENTIFIERS:
                out[sys.intern(key)] = value
            elif key in RECORD_FIELDS:
                out[sys.intern(key)] = self._known(key, value, record)
            else:
                name = str(key)
                credential = is_secret_name(name) or is_secret_header(name) or is_secret_container(name)
                out[sys.intern(redactor.text(name))] = self._tidy(_credentials(value, name, redactor) if credential
                                                                  else redactor.json(value))
        return out

    def _known(self, key: str, value: Any, record: Mapping[str, Any]) -> Any:
        redactor = self.redactor
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str) and key not in _BY_CONTENT:
            return self._remember(key, value, lambda: self._known_value(key, value, record), len(value))
        if key in ("request_headers", "response_headers"):
            pairs = header_pairs(value)
            return self._remember("headers", tuple(pairs), lambda: [
                self._remember("header", pair, partial(_redacted_header, redactor, pair), len(pair[0]) + len(pair[1]))
                for pair in pairs], sum(len(a) + len(b) for a, b in pairs))
        if key == "query":
            pairs = query_pairs(value)
            return self._remember("queries", tuple(pairs), lambda: [
                self._remember("query", pair, partial(_redacted_query, redactor, pair), len(pair[0]) + len(pair[1]))
                for pair in pairs], sum(len(a) + len(b) for a, b in pairs))
        if key in ("client", "server") and isinstance(value, dict) and all(_scalar(v) for v in value.values()):
            return self._remember(key, tuple(value.items()), lambda: self._known_value(key, value, record))
        if key == "initiator" and isinstance(value, dict) and len(str(value)) < 4096:
            return self._remember(key, repr(value), lambda: self._known_value(key, value, record))
        return self._known_value(key, value, record)

    def _known_value(self, key: str, value: Any, record: Mapping[str, Any]) -> Any:
        redactor = self.redactor
        if key in ("url", "path"):
            return redactor.url(value) if isinstance(value, str) else _strings(value, redactor.url)
        if key == "host":
            host = lambda s: redactor.authority(redactor.text(s))  # noqa: E731
            return host(value) if isinstance(value, str) else _strings(value, host)
        if key == "error" and isinstance(value, str):
            return redactor.text(value)[:500]
        if key in ("request_body", "response_body") and isinstance(value, dict):
            return self._body(value)
        if key == "content" and isinstance(value, str):
            return redact_base64(value, redactor) if record.get("type") == "binary" else redact_text(value[:TEXT_CAP], "", redactor)
        return self._tidy(redactor.json(value))

    def _body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A body record: ``text`` by its content type, ``base64`` (and HAR-style base64 ``text``) as the bytes
        it carries once decompressed; anything else as JSON."""
        redactor = self.redactor
        content_type = str(body.get("content_type") or "")
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key == "base64" and isinstance(value, str):
                out[sys.intern(key)] = _base64_body(value, str(body.get("encoding") or ""), content_type, redactor)
            elif key == "text" and isinstance(value, str) and str(body.get("encoding")).lower() == "base64":
                out[sys.intern(key)] = _base64_body(value, "", content_type, redactor)
            elif key == "text" and isinstance(value, str):
                out[sys.intern(key)] = redact_text(value[:TEXT_CAP], content_type, redactor)
            else:
                out[sys.intern(redactor.text(str(key)))] = self._tidy(redactor.json(value))
        return out

    def _tidy(self, value: Any) -> Any:
        """``value`` with secret patterns redacted in its object keys too (a token used as a key name), key names
        interned and short strings shared (a parser makes new ones for every record)."""
        if isinstance(value, dict):
            return {sys.intern(self.redactor.text(k)) if isinstance(k, str) else k: self._tidy(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._tidy(v) for v in value]
        return self._shared.text(value) if isinstance(value, str) else value


def _redacted_header(redactor: Redactor, pair: tuple[str, str]) -> list[str]:
    return list(redactor.headers([pair])[0])


def _redacted_query(redactor: Redactor, pair: tuple[str, str]) -> list[str]:
    return redactor.query_pairs([pair])[0]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


_BY_CONTENT = {"content", "request_headers", "response_headers", "query"}  # redacted by the record's type or per pair


def header_pairs(value: Any) -> list[tuple[str, str]]:
    """(name, value) pairs from a list of pairs, HAR's ``{name, value}`` objects, a dict or a header block."""
    if isinstance(value, dict):
        items: list[Any] = list(value.items())
    elif isinstance(value, str):
        items = [line.split(":", 1) for line in value.splitlines() if ":" in line]
    else:
        items = value if isinstance(value, list) else []
    out = []
    for item in items:
        if isinstance(item, dict) and "name" in item:
            item = (item.get("name"), item.get("value", ""))
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str) and item[1] is not None:
            out.append((item[0].strip(), item[1] if isinstance(item[1], str) else str(item[1])))
    return out


def query_pairs(value: Any) -> list[tuple[str, str]]:
    """(name, value) pairs from a list of pairs, a dict or a query string."""
    if isinstance(value, dict):
        items: list[Any] = list(value.items())
    elif isinstance(value, str):
        items = parse_qsl(value.lstrip("?"), keep_blank_values=True)
    else:
        items = value if isinstance(value, list) else []
    return [(str(k), "" if v is None else str(v)) for item in items
            if isinstance(item, (list, tuple)) and len(item) == 2 for k, v in [item]]


def _base64_body(value: str, encoding: str, content_type: str, redactor: Redactor) -> str:
    """Base64 of a body redacted as the bytes it carries: decompressed first when the record names a
    Content-Encoding those bytes still have (a writer that did not undo it), then by multipart part names,
    as text when they are text, else by pattern."""
    from confaudit.session.bodies import decode_content_encoding, redact_multipart

    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return redactor.token("unreadable-base64", value)
    data, decoded = raw, False
    if encoding.strip().lower() not in ("", "identity", "none", "base64"):
        inflated, error = decode_content_encoding(raw, encoding)
        data, decoded = (inflated, True) if error is None else (raw, False)  # else: already decoded, as the addon keeps it
    boundary = boundary_of(content_type)
    by_part = redact_multipart(data, boundary, redactor, binary=True) if boundary else None
    if by_part is not None:
        redacted = by_part
    elif looks_textual(data, content_type):
        redacted = redact_text(data.decode("utf-8", "replace")[:TEXT_CAP], content_type, redactor).encode("utf-8", "surrogatepass")
    else:
        redacted = redact_binary(data, redactor)
    return value if not decoded and redacted == data else base64.b64encode(redacted).decode("ascii")


def _strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string in it (containers kept, other scalars as they are)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v, fn) for v in value]
    return value


def _credentials(value: Any, name: str, redactor: Redactor) -> Any:
    """``value`` with every string and number in it a token (booleans and nulls kept)."""
    if isinstance(value, dict):
        return {k: _credentials(v, name, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_credentials(v, name, redactor) for v in value]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return redactor.token(name, str(value))
    return value
