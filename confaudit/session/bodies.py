"""Message bodies -> evidence body records: bounded decompression, text/binary split, redaction, cap."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from typing import TYPE_CHECKING, Any, Literal

from confaudit.multipart_body import MAX_NESTING, Part, boundary_of, parse_multipart
from confaudit.redact import Redactor, is_secret_name, latin1_may_hold_secret_pattern, may_hold_secret

if TYPE_CHECKING:
    from confaudit.evidence_model import HttpBody

TEXT_CAP = 256 * 1024
"""Characters of decoded, redacted text kept per body."""
BINARY_CAP = 64 * 1024
"""Bytes of a binary body kept (base64)."""
DECODE_LIMIT = 4 * 1024 * 1024
"""Decompressed bytes examined at most: a small gzip bomb cannot exhaust memory."""

WebSocketType = Literal["text", "binary"]
"""How a WebSocket message's content is held (the schema's ``websocket[].type``): redacted text, or base64."""

_TEXT_TYPES = re.compile(r"^(text/|application/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|sdp|graphql|csp-report|reports\+json|x-ndjson))", re.I)
_BINARY_TYPES = re.compile(r"^(image|audio|video|font)/|application/(?:octet-stream|protobuf|x-protobuf|grpc|zip|gzip|pdf|wasm)", re.I)
_CUT_AT = re.compile(r"[\s&,;\"'<>]")
_FORMISH = re.compile(r"[\w.%+\-\[\]]+=[^\s]*")
_BOUNDARY_LINE = re.compile(r"--([!-~]{1,200})\r?\n")


def decode_content_encoding(raw: bytes, encoding: str, limit: int = DECODE_LIMIT) -> tuple[bytes, str | None]:
    """Undo Content-Encoding (gzip, deflate, br, zstd; chained) up to ``limit`` bytes; returns (data, error)."""
    data = raw
    for enc in [e.strip().lower() for e in reversed(encoding.split(",")) if e.strip()]:
        try:
            if enc in ("gzip", "x-gzip"):
                data = _zlib_bounded(data, 16 + zlib.MAX_WBITS, limit)
            elif enc == "deflate":
                try:
                    data = _zlib_bounded(data, zlib.MAX_WBITS, limit)
                except zlib.error:
                    data = _zlib_bounded(data, -zlib.MAX_WBITS, limit)
            elif enc == "br":
                data = _brotli_bounded(data, limit)
            elif enc == "zstd":
                data = _zstd_bounded(data, limit)
            elif enc in ("identity", "none"):
                continue
            else:
                return raw, f"unknown content-encoding {enc[:40]!r}"
        except Exception as exc:  # corrupt compressed data is evidence too: keep the raw bytes
            return raw, f"cannot decode {enc[:20]}: {type(exc).__name__}"
    return data, None


def _zlib_bounded(data: bytes, wbits: int, limit: int) -> bytes:
    dec = zlib.decompressobj(wbits)
    out = dec.decompress(data, limit + 1)
    return out


def _brotli_bounded(data: bytes, limit: int) -> bytes:
    import brotli

    dec = brotli.Decompressor()
    out = bytearray()
    for start in range(0, len(data), 16384):
        out += dec.process(data[start:start + 16384])
        if len(out) > limit:
            break
    return bytes(out[:limit + 1])


def _zstd_bounded(data: bytes, limit: int) -> bytes:
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    return reader.read(limit + 1)


def looks_textual(data: bytes, content_type: str) -> bool:
    """Text when the type says so, else when the first KiB decodes as UTF-8 without control bytes."""
    if _TEXT_TYPES.match(content_type):
        return True
    if _BINARY_TYPES.match(content_type):
        return False
    head = data[:1024]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return False
    return not any(b < 9 or 13 < b < 32 for b in head)


def redact_text(text: str, content_type: str, redactor: Redactor, _depth: int = 0) -> str:
    """Redact by structure (multipart and form fields by name, JSON and NDJSON keys, base64 of JSON,
    SDP lines) and then by pattern."""
    stripped = text.lstrip()
    low = content_type.lower()
    boundary = _multipart_boundary(stripped, content_type)
    if boundary and _depth < MAX_NESTING:
        redacted = redact_multipart(text.encode("utf-8", "surrogatepass"), boundary, redactor, binary=False, depth=_depth)
        if redacted is not None:
            return redacted.decode("utf-8", "surrogatepass")
    if "x-www-form-urlencoded" in low or (_FORMISH.fullmatch(stripped[:2000]) and "&" in stripped[:2000]):
        return redactor.form(text)  # no pre-check: a bare pin=, sid= or code= names a secret
    if not may_hold_secret(text):
        return text
    if stripped[:1] in ("{", "[") or "json" in low:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            lines = _json_lines(text, redactor)
            if lines is not None:
                return lines
        else:
            return json.dumps(redactor.json(obj), ensure_ascii=False, separators=(",", ":"))
        return redactor.text(text)
    return redactor.string(text)  # base64 of JSON, a URL, or free text


def _json_lines(text: str, redactor: Redactor) -> str | None:
    """NDJSON / JSON Lines with each line redacted as JSON; None when no line is JSON."""
    out, parsed = [], 0
    for line in text.split("\n"):
        try:
            obj = json.loads(line) if line.strip() else None
        except (ValueError, RecursionError):  # e.g. the last line cut by the capture's cap
            out.append(redactor.text(line))
            continue
        if obj is None:
            out.append(line)
            continue
        parsed += 1
        out.append(json.dumps(redactor.json(obj), ensure_ascii=False, separators=(",", ":")))
    return "\n".join(out) if parsed else None


def _multipart_boundary(stripped: str, content_type: str) -> str | None:
    """The boundary from the Content-Type, else from a body that opens with ``--boundary`` and a part header."""
    boundary = boundary_of(content_type)
    if boundary:
        return boundary
    match = _BOUNDARY_LINE.match(stripped)
    if match and "content-disposition:" in stripped[:1000].lower():
        return match.group(1)
    return None


def redact_multipart(raw: bytes, boundary: str, redactor: Redactor, binary: bool, depth: int = 0) -> bytes | None:
    """Each part's value tokenised when its form field name (``name=``, never ``filename=``) is a secret, else
    redacted by its own type; headers, preamble and epilogue by pattern, delimiters kept. What follows a
    break in the structure cannot be told apart by name, so it is withheld whole. None when there are no parts.

    ``binary``: ``raw`` is a binary body (pieces read as latin-1) rather than UTF-8 text.
    """
    lead = len(raw) - len(raw.lstrip())
    body = raw[lead:]
    parsed = parse_multipart(body, boundary)
    if not parsed.parts and parsed.error is None:
        return None  # no delimiter in it: not multipart after all
    out, cursor = [raw[:lead]], 0
    if parsed.parts:
        opening = body.rfind(b"--" + boundary.encode("latin-1", "replace"), 0, parsed.parts[0].head[0])
        out.append(_redact_piece(body[:opening], redactor, binary))
        cursor = opening
    for part in parsed.parts:
        (head_start, head_end), (start, end) = part.head, part.content
        out += [body[cursor:head_start], _redact_piece(body[head_start:head_end], redactor, binary),
                body[head_end:start], _redact_value(part, body[start:end], redactor, binary, depth)]
        cursor = end
    out.append(body[cursor:parsed.end])
    rest = body[parsed.end:]
    if rest and parsed.error is not None:
        out.append(redactor.token("unparsed-multipart", rest).encode("ascii"))
    elif rest:
        out.append(_redact_piece(rest, redactor, binary))
    return b"".join(out)


def _redact_piece(data: bytes, redactor: Redactor, binary: bool) -> bytes:
    if binary:
        return redact_binary(data, redactor)
    return redactor.text(data.decode("utf-8", "surrogatepass")).encode("utf-8", "surrogatepass")


def _redact_value(part: Part, value: bytes, redactor: Redactor, binary: bool, depth: int) -> bytes:
    try:
        text = value.decode("utf-8", "strict" if binary else "surrogatepass")
    except UnicodeDecodeError:
        text = None
    if part.name and value and is_secret_name(part.name):
        return redactor.token(part.name, text if text is not None else value).encode("ascii")
    if text is not None and (not binary or looks_textual(value, part.content_type)):
        return redact_text(text, part.content_type, redactor, depth + 1).encode("utf-8", "surrogatepass")
    nested = boundary_of(part.content_type)
    if nested and depth + 1 < MAX_NESTING:
        redacted = redact_multipart(value, nested, redactor, binary=True, depth=depth + 1)
        if redacted is not None:
            return redacted
    return redact_binary(value, redactor)


def body_record(raw: bytes | None, content_type: str, content_encoding: str, redactor: Redactor,
                text_cap: int = TEXT_CAP, binary_cap: int = BINARY_CAP) -> HttpBody | None:
    """The evidence record of one body, or None when there is no body."""
    if raw is None:
        return None
    content_type = (content_type or "")[:200]
    data, error = decode_content_encoding(raw, content_encoding or "") if content_encoding else (raw, None)
    decoded_truncated = len(data) > DECODE_LIMIT
    data = data[:DECODE_LIMIT]
    record: HttpBody = {
        "content_type": content_type,
        "encoding": (content_encoding or "identity")[:60],
        "size": len(raw) if error else (len(data) if not decoded_truncated else None),
        "wire_size": len(raw),
        "truncated": False,
        "cap": text_cap,
    }
    if error:
        record["decode_error"] = error
    if not data:
        record["text"] = ""
        return record
    if looks_textual(data, content_type):
        text = data.decode("utf-8", "replace")
        truncated = decoded_truncated or len(text) > text_cap
        if truncated:
            # Cut on a delimiter so a half secret at the cap cannot slip past the patterns.
            text = text[:text_cap]
            cut = max((m.start() for m in _CUT_AT.finditer(text, max(0, len(text) - 512))), default=len(text))
            text = text[:cut]
        redacted = redact_text(text, content_type, redactor)
        record["text"] = redacted[:text_cap] if not truncated else redacted
        record["truncated"] = truncated
        return record
    kept = data[:binary_cap]
    boundary = boundary_of(content_type)
    redacted_parts = redact_multipart(kept, boundary, redactor, binary=True) if boundary else None
    record["base64"] = base64.b64encode(redacted_parts if redacted_parts is not None
                                        else redact_binary(kept, redactor)).decode("ascii")
    record["truncated"] = decoded_truncated or len(data) > binary_cap
    record["cap"] = binary_cap
    return record


def redact_base64(value: str, redactor: Redactor, content_type: str = "") -> str:
    """Base64 of a binary payload (as written in observations) redacted like :func:`redact_binary`, or by
    part name when ``content_type`` says it is multipart."""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return redactor.token("unreadable-base64", value)  # cannot be checked, so nothing of it is shown
    boundary = boundary_of(content_type)
    by_part = redact_multipart(data, boundary, redactor, binary=True) if boundary else None
    redacted = by_part if by_part is not None else redact_binary(data, redactor)
    return value if redacted == data else base64.b64encode(redacted).decode("ascii")


def redact_binary(data: bytes, redactor: Redactor) -> bytes:
    """Token patterns inside binary payloads (protobuf strings): redact the ASCII runs that carry them."""
    text = data.decode("latin-1")
    if not latin1_may_hold_secret_pattern(text):
        return data  # what Redactor.text gives back unchanged, known without its case-blind search
    redacted = redactor.text(text)
    return data if redacted == text else redacted.encode("latin-1", "replace")


def message_content(content: bytes, is_text: bool, redactor: Redactor,
                    cap: int = TEXT_CAP) -> tuple[WebSocketType, str, bool]:
    """(type, content, truncated) of a WebSocket message: text redacted+capped, binary base64 capped."""
    if not is_text:
        kept = bytes(content[:BINARY_CAP])
        return "binary", base64.b64encode(redact_binary(kept, redactor)).decode("ascii"), len(content) > BINARY_CAP
    text = content[:DECODE_LIMIT].decode("utf-8", "replace")
    truncated = len(content) > DECODE_LIMIT or len(text) > cap
    if truncated:
        text = text[:cap]
        cut = max((m.start() for m in _CUT_AT.finditer(text, max(0, len(text) - 512))), default=len(text))
        text = text[:cut]
    return "text", redact_text(text, "", redactor), truncated
