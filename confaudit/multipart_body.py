"""Multipart bodies (``multipart/form-data``, ``/mixed``, ``/related``) split into parts with byte spans.

Parsing is done by the ``multipart`` package (RFC 7578, WHATWG and legacy quoting of ``name`` and
``filename``, bounded header size/count and part count). What it leaves to the caller is done here:
parts are named by ``Content-Disposition: name=`` (RFC 2231/5987 ``name*=`` preferred when present,
which RFC 7578 forbids but libraries emit), never by ``filename=``; parts of other multipart types
(no Content-Disposition) are accepted; a body with bare-LF line breaks is read after turning them
into CRLF; a body without its final delimiter (cut by a capture) yields the parts that are there and
says it is incomplete; malformed input stops the parse where it went wrong and says why. Every part
carries the byte spans of its header block and content in the original body, so callers can decode
or redact the content and rebuild the body around it.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from typing import overload

MAX_PARTS = 1000
"""Parts read at most per body (more: the parse stops with a limit error)."""
MAX_HEADER_BYTES = 8192
"""Longest part header line accepted."""
MAX_HEADERS = 32
"""Most header lines per part (RFC 7578 needs three; multipart/mixed batches use a few more)."""
MAX_NESTING = 4
"""Multipart parts inside multipart parts are followed this deep."""

_BARE_LF = re.compile(rb"(?<!\r)\n")
_CHARSET_RE = re.compile(r"[A-Za-z0-9._:+\-]{1,40}")


@dataclass(frozen=True)
class Part:
    """One part of a multipart body."""

    name: str | None
    """Form field name from ``Content-Disposition`` (``name*=`` decoded when present); None when absent."""
    filename: str | None
    """The ``filename``/``filename*`` parameter: metadata of the part, never its name."""
    content_type: str
    """The part's ``Content-Type`` header value with its parameters; "" when the part has none."""
    head: tuple[int, int]
    """Byte span of the part's header lines in the body (empty when the part has no headers)."""
    content: tuple[int, int]
    """Byte span of the part's content in the body."""
    complete: bool
    """True when the delimiter after the content was seen (False: the body ends inside this part)."""


@dataclass(frozen=True)
class Multipart:
    """The parts of one multipart body and how far parsing got."""

    parts: tuple[Part, ...]
    """Parts in body order."""
    complete: bool
    """True when the final delimiter was reached (False: body cut short, or an error)."""
    error: str | None
    """Why parsing stopped early (malformed structure or a limit), None when it did not."""
    end: int
    """Offset in the body where what was understood ends (after the final delimiter when complete)."""


def boundary_of(content_type: str) -> str | None:
    """The ``boundary`` parameter of a multipart Content-Type (quoted or not), else None."""
    from multipart import parse_options_header

    if "multipart/" not in content_type.lower():
        return None
    boundary = parse_options_header(content_type[:2000])[1].get("boundary")
    return boundary if boundary and len(boundary) <= 200 and "\n" not in boundary and "\r" not in boundary else None


def parse_multipart(data: bytes, boundary: str) -> Multipart:
    """Split ``data`` into parts; never raises on malformed input (see :class:`Multipart`)."""
    delimiter = boundary.encode("latin-1", "replace")
    result = _parse(data, delimiter)
    if result.error is not None and _BARE_LF.search(data):
        # bare-LF bodies (hand-written clients, line endings normalised on the way): read them as CRLF
        inserted = array("q", (m.start() + i for i, m in enumerate(_BARE_LF.finditer(data))))
        converted = _parse(_BARE_LF.sub(b"\r\n", data), delimiter)
        if len(converted.parts) > len(result.parts) or converted.error is None:
            result = _map_back(converted, inserted)
    return result


def _parse(data: bytes, boundary: bytes) -> Multipart:
    import multipart

    parser = _parser_class()(boundary, max_header_size=MAX_HEADER_BYTES, max_header_count=MAX_HEADERS,
                            max_segment_count=MAX_PARTS, header_charset="latin-1")
    segments: list[multipart.MultipartSegment] = []
    error: str | None = None
    complete = False
    if data:
        try:
            for event in parser.parse(data):
                if isinstance(event, multipart.MultipartSegment):
                    segments.append(event)
        except (multipart.ParserError, multipart.ParserLimitReached) as exc:  # malformed input, or over a limit
            error = f"{type(exc).__name__}: {exc}"[:200]
        else:
            try:
                parser.close(check_complete=True)
                complete = True
            except multipart.ParserError:  # no final delimiter: the body was cut short
                complete = False
    return _located(data, boundary, segments, complete, error)


def _located(data: bytes, boundary: bytes, segments: list, complete: bool, error: str | None) -> Multipart:
    """Byte spans of the parsed segments: the parser validated the structure, this walk finds where it lies."""
    delimiter = b"\r\n--" + boundary
    parts: list[Part] = []
    end = 0
    if segments:
        head_start = data.find(delimiter[2:]) + len(delimiter)  # after the first "--boundary" and its CRLF
        for segment in segments:
            if data.startswith(b"\r\n", head_start):
                head_end, content_start = head_start, head_start + 2
            else:
                head_end = data.index(b"\r\n\r\n", head_start)
                content_start = head_end + 4
            content_end = content_start + segment.bytes_received
            name, filename = _names(segment.headerlist)
            parts.append(Part(name, filename, _utf8(segment.header("Content-Type", "")), (head_start, head_end),
                              (content_start, content_end), segment.complete))
            end = content_end
            if segment.complete:  # the parser consumed CRLF--boundary and then CRLF or "--"
                end = head_start = content_end + len(delimiter) + 2
    elif complete:  # "--boundary--" alone: an empty multipart body
        end = data.find(b"--" + boundary) + len(boundary) + 4
    return Multipart(tuple(parts), complete, error, end)


def _map_back(result: Multipart, inserted: array) -> Multipart:
    """Spans in the CRLF-converted body -> spans in the original (``inserted``: where a CR was added)."""
    def orig(pos: int) -> int:
        return pos - bisect_left(inserted, pos)

    parts = tuple(Part(p.name, p.filename, p.content_type, (orig(p.head[0]), orig(p.head[1])),
                       (orig(p.content[0]), orig(p.content[1])), p.complete) for p in result.parts)
    return Multipart(parts, result.complete, result.error, orig(result.end))


def _names(headers: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(name, filename) from the Content-Disposition header; extended ``*=`` parameters win."""
    import email.message
    import email.utils

    from multipart import parse_content_disposition

    value = next((v for k, v in headers if k == "Content-Disposition"), None)
    if value is None:
        return None, None
    _, name, filename = parse_content_disposition(value)
    name, filename = _utf8(name), _utf8(filename)
    if "*" in value:  # RFC 2231 / 5987: name*=utf-8''%C3%A4, continuations name*0*= ...
        holder = email.message.Message()
        holder["Content-Disposition"] = value
        for key, param in holder.get_params(header="content-disposition", failobj=[])[1:]:
            if isinstance(param, tuple) and key in ("name", "filename"):
                charset, language, text = param
                if not _CHARSET_RE.fullmatch(charset or ""):  # codec lookup raises on a NUL in the name
                    charset = "us-ascii"
                decoded = email.utils.collapse_rfc2231_value((charset, language, text), errors="replace")
                if key == "name":
                    name = decoded
                else:
                    filename = decoded
    return name, filename


@overload
def _utf8(value: str) -> str: ...
@overload
def _utf8(value: str | None) -> str | None: ...
def _utf8(value: str | None) -> str | None:
    """Header text was read as latin-1 (every byte kept); browsers send UTF-8, so read it as such when it is."""
    if value is None or value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


@cache
def _parser_class() -> type:
    import multipart

    class AnyPartParser(multipart.PushMultipartParser):
        """Accepts parts without ``form-data`` disposition (multipart/mixed, /related) and without a name."""

        def _create_segment(self, headerlist: list[tuple[str, str]]) -> multipart.MultipartSegment:
            return multipart.MultipartSegment(headerlist)  # the documented hook for other multipart types

    return AnyPartParser
