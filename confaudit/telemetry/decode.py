"""Decode HTTP/WebSocket payloads into flat field paths (``events[3].device.ua``).

Handles query strings, JSON, NDJSON, form-urlencoded, multipart, JSON nested inside strings,
base64 and percent-encoded values, gzip/deflate/brotli/zstd bodies and batched event arrays.
Binary payloads are reported as opaque with their size; protobuf-like ones are walked for their
printable strings so those can still be classified by value. Every step is bounded (depth, field
count, decompressed size) so hostile payloads cannot hang or exhaust memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import unquote

from confaudit.form_pairs import form_pairs
from confaudit.redact import TOKEN_RE
from confaudit.telemetry.payload_bytes import MAX_DECODED_BYTES, as_text, body_bytes, decompress_payload

__all__ = ["Decoded", "Field", "Opaque", "as_text", "body_bytes", "decode_body", "decode_message", "decode_query",
           "decompress_payload"]

MAX_FIELDS = 5000
MAX_DEPTH = 24
MAX_NESTED_DECODES = 3
MIN_BASE64_LEN = 12

_B64_RE = re.compile(r"^[A-Za-z0-9+/_\-]+={0,2}$")
_NESTING = frozenset(("json-in-string", "base64", "url", "form-in-string"))
_PCT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_\-$@:]{1,128}")
_FORMISH_RE = re.compile(r"^[^=&\s]{1,64}=[^&\s]*(&[^=&\s]{1,64}=[^&\s]*)+$")


class Field(NamedTuple):
    """One scalar value found in a payload (a named tuple: one is built per value of every request)."""

    path: str
    """Field path, e.g. ``body.events[3].device.ua`` or ``query.tz``."""
    keys: tuple[str, ...]
    """Object keys along the path (array indices dropped), nearest last; used to classify by name."""
    value: str
    """The scalar as text (numbers and booleans rendered as JSON)."""
    transforms: tuple[str, ...] = ()
    """Decodings applied to reach this value, outermost first (gzip, json, base64, url, protobuf...)."""


@dataclass(frozen=True)
class Opaque:
    """A payload (or part of one) that could not be decoded into fields."""

    path: str
    """Where the opaque bytes sit (``body``, ``ws``, ``body.blob``)."""
    size: int
    """Size in bytes of the opaque part."""
    kind: str
    """``protobuf-like``, ``binary``, ``compressed-undecodable``, ``over-limit`` or ``malformed-multipart``
    (the rest of a multipart body after the point where its structure broke)."""


@dataclass
class Decoded:
    """Result of decoding one message: flat fields plus opaque parts."""

    fields: list[Field] = field(default_factory=list)
    opaque: list[Opaque] = field(default_factory=list)
    truncated: bool = False
    """True when the source body was cut by the capture's cap or decoding hit a limit."""

    def add(self, item: Field) -> bool:
        if len(self.fields) >= MAX_FIELDS:
            self.truncated = True
            return False
        self.fields.append(item)
        return True


# ---- entry points -------------------------------------------------------------------------
def decode_body(body: Any, prefix: str = "") -> Decoded:
    """Decode a capture body record ``{content_type, encoding, size, truncated, text|base64}``."""
    out = Decoded()
    raw = body_bytes(body)
    if raw is None or not raw:
        return out
    out.truncated = bool(body.get("truncated"))
    data, applied = decompress_payload(raw, str(body.get("encoding") or ""))
    if applied == "failed":
        out.opaque.append(Opaque(prefix or "$", len(raw), "compressed-undecodable"))
        return out
    transforms = (applied,) if applied else ()
    decode_bytes(data, str(body.get("content_type") or ""), prefix, transforms, out)
    return out


def decode_message(content: Any, msg_type: str = "text", prefix: str = "") -> Decoded:
    """Decode a WebSocket message (text, or binary carried as base64 / a ``{base64}`` dict)."""
    out = Decoded()
    if isinstance(content, dict):
        raw = body_bytes(content)
    elif isinstance(content, str) and msg_type == "binary":
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raw = content.encode("utf-8", "surrogatepass")
    elif isinstance(content, str):
        raw = content.encode("utf-8", "surrogatepass")
    else:
        return out
    if not raw:
        return out
    data, applied = decompress_payload(raw)
    if applied == "failed":
        out.opaque.append(Opaque(prefix or "$", len(raw), "compressed-undecodable"))
        return out
    decode_bytes(data, "", prefix, (applied,) if applied and applied != "failed" else (), out)
    return out


def decode_query(pairs: Any, prefix: str = "") -> Decoded:
    """Decode ``[[k, v], ...]`` query pairs (values may themselves be JSON / base64 / encoded)."""
    out = Decoded()
    if not isinstance(pairs, list):
        return out
    for pair in pairs:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            key, value = str(pair[0]), "" if pair[1] is None else str(pair[1])
            _scalar(value, _join(prefix, key), (key,), (), out, 0)
    return out


def decode_bytes(data: bytes, content_type: str, prefix: str, transforms: tuple[str, ...], out: Decoded) -> None:
    """Decode a payload by content type, falling back to sniffing its bytes."""
    ctype = content_type.lower()
    if "multipart/" in ctype and _multipart(data, content_type, prefix, (), transforms, out):
        return
    text = as_text(data)
    if text is None:
        _binary(data, prefix, transforms, out)
        return
    _text(text, ctype, prefix, (), transforms, out, 0)


# ---- structure ----------------------------------------------------------------------------
def _text(text: str, ctype: str, path: str, keys: tuple[str, ...], transforms: tuple[str, ...],
          out: Decoded, depth: int) -> None:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or "json" in ctype:
        parsed = _json(stripped)
        if parsed is not _FAIL:
            _walk(parsed, path, keys, (*transforms, "json"), out, depth + 1)
            return
        lines = [ln for ln in stripped.splitlines() if ln.strip()]
        if len(lines) > 1:  # NDJSON / JSON lines: one event per line
            docs = [_json(ln.strip()) for ln in lines[:MAX_FIELDS]]
            if all(d is not _FAIL for d in docs):
                for i, doc in enumerate(docs):
                    _walk(doc, f"{path}[{i}]", keys, (*transforms, "ndjson"), out, depth + 1)
                return
    if "x-www-form-urlencoded" in ctype or _FORMISH_RE.match(stripped):
        for key, value in form_pairs(stripped):
            _scalar(value, _join(path, key), (*keys, key), (*transforms, "form"), out, depth + 1)
        return
    _scalar(text, path, keys, transforms, out, depth)


_FAIL = object()


def _json(text: str) -> Any:
    if len(text) > MAX_DECODED_BYTES:
        return _FAIL
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _FAIL


def _walk(obj: Any, path: str, keys: tuple[str, ...], transforms: tuple[str, ...], out: Decoded, depth: int) -> None:
    if depth > MAX_DEPTH:
        out.truncated = True
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            skey = str(key)
            sub = _join(path, skey)
            _walk(value, sub, (*keys, skey), transforms, out, depth + 1)
            if len(out.fields) >= MAX_FIELDS:
                out.truncated = True
                return
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            _walk(value, f"{path}[{i}]", keys, transforms, out, depth + 1)
            if len(out.fields) >= MAX_FIELDS:
                out.truncated = True
                return
    elif obj is None:
        return
    elif isinstance(obj, str):
        _scalar(obj, path, keys, transforms, out, depth)
    else:
        out.add(Field(path, keys, _number_text(obj), transforms))


def _number_text(value: Any) -> str:
    """``json.dumps(value)`` of a parsed number or bool, without the encoder's set-up per call."""
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)


def _scalar(value: str, path: str, keys: tuple[str, ...], transforms: tuple[str, ...], out: Decoded, depth: int) -> None:
    """Record a string value, and also whatever it decodes to (nested JSON, base64, percent-encoding)."""
    if not out.add(Field(path, keys, value, transforms)) or value in _PLAIN:
        return
    stripped = value.strip()
    if len(stripped) < 2 or stripped.isdigit() or depth > MAX_DEPTH \
            or sum(map(_NESTING.__contains__, transforms)) >= MAX_NESTED_DECODES:
        return  # digits hold no JSON, percent-encoding, form or base64: ids and counters end here, unremembered
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]") and not TOKEN_RE.fullmatch(stripped):  # no JSON
        parsed = _json(stripped)
        if parsed is not _FAIL and isinstance(parsed, (dict, list)):
            _walk(parsed, path, keys, (*transforms, "json-in-string"), out, depth + 1)
            return
    if _PCT_RE.search(stripped):
        decoded = unquote(stripped, errors="replace")
        if decoded != stripped:
            _scalar(decoded, path, keys, (*transforms, "url"), out, depth + 1)
            return
    if _FORMISH_RE.match(stripped) and len(stripped) < 65536:
        for key, sub in form_pairs(stripped):
            _scalar(sub, _join(path, key), (*keys, key), (*transforms, "form-in-string"), out, depth + 1)
        return
    decoded_b64 = _maybe_base64(stripped)
    if decoded_b64 is not None:
        found = (len(out.fields), len(out.opaque), out.truncated)
        data, applied = decompress_payload(decoded_b64)
        steps = (*transforms, "base64") + ((applied,) if applied and applied != "failed" else ())
        text = as_text(data)
        if text is not None and text.strip():
            _text(text, "", path, keys, steps, out, depth + 1)
        elif text is None and len(data) >= 8:
            _binary(data, path, steps, out, record_opaque=False)
        # a word that is base64 of bytes with nothing readable in them ("call_quality") is as plain as any
        if (len(out.fields), len(out.opaque), out.truncated) == found and len(value) <= MAX_PLAIN_LEN \
                and len(out.fields) < MAX_FIELDS:  # (at the field limit, nothing could have been added)
            if len(_PLAIN) >= MAX_PLAIN:
                _PLAIN.clear()
            _PLAIN.add(value)
    elif len(value) <= MAX_PLAIN_LEN:  # decodes to nothing more, wherever it is: known as such when it recurs
        if len(_PLAIN) >= MAX_PLAIN:
            _PLAIN.clear()
        _PLAIN.add(value)


MAX_PLAIN = 50_000
MAX_PLAIN_LEN = 256
_PLAIN: set[str] = set()
"""Short values :func:`_scalar` found nothing nested in (no JSON, percent-encoding, form or base64)."""


def _maybe_base64(value: str) -> bytes | None:
    """Bytes when ``value`` is plausibly base64 (std or url-safe) of something, else None."""
    if len(value) < MIN_BASE64_LEN or len(value) > MAX_DECODED_BYTES or not _B64_RE.match(value):
        return None
    if value.isdigit() or value.isalpha() and (value.islower() or value.isupper()):
        return None  # plain words and numbers are valid base64 alphabets but are not encodings
    if _HEX_RE.fullmatch(value):
        return None  # hex digests / ids
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _multipart(data: bytes, ctype: str, prefix: str, keys: tuple[str, ...], transforms: tuple[str, ...],
               out: Decoded, nesting: int = 0) -> bool:
    """Parts named by their form field name (``name=``), nameless ones by index; False when not multipart."""
    from confaudit.multipart_body import MAX_NESTING, boundary_of, parse_multipart

    boundary = boundary_of(ctype)
    parsed = parse_multipart(data, boundary) if boundary else None
    if parsed is None or not parsed.parts and parsed.error is None:
        return False  # no boundary, or none of it in the body: read the bytes as what they are
    steps = (*transforms, "multipart")
    for index, part in enumerate(parsed.parts):
        path = _join(prefix, part.name) if part.name is not None else f"{prefix}[{index}]"
        part_keys = (*keys, part.name) if part.name is not None else keys
        if part.filename is not None:  # a file's name is what the user called it: content, never the field's name
            out.add(Field(f"{path};filename", part_keys, part.filename, (*steps, "multipart-filename")))
        content = data[part.content[0]:part.content[1]]
        if nesting < MAX_NESTING and _multipart(content, part.content_type, path, part_keys, steps, out, nesting + 1):
            continue
        text = as_text(content)
        if text is None:
            _binary(content, path, steps, out)
        else:
            _text(text, part.content_type.lower(), path, part_keys, steps, out, 1)
    if not parsed.complete:
        out.truncated = True  # cut by the capture, malformed, or over a limit: what follows was not read
    if parsed.error is not None and len(data) > parsed.end:
        out.opaque.append(Opaque(prefix or "$", len(data) - parsed.end, "malformed-multipart"))
    return True


def _binary(data: bytes, path: str, transforms: tuple[str, ...], out: Decoded, record_opaque: bool = True) -> None:
    from confaudit.telemetry.protobuf import protobuf_strings

    strings = protobuf_strings(data)
    if record_opaque:
        out.opaque.append(Opaque(path or "$", len(data), "protobuf-like" if strings is not None else "binary"))
    for sub_path, text in strings or ():
        if not out.add(Field(f"{path}{sub_path}" if path else sub_path[1:], (), text, (*transforms, "protobuf"))):
            return


def _join(path: str, key: str) -> str:
    return f"{path}.{_key_part(key)}" if path else _key_part(key)


@lru_cache(maxsize=4096)  # payloads repeat their key names
def _key_part(key: str) -> str:
    """A key as it appears in a path; unusual characters are quoted so paths stay unambiguous."""
    if _PLAIN_KEY_RE.fullmatch(key):
        return key
    return json.dumps(key[:128], ensure_ascii=False)
