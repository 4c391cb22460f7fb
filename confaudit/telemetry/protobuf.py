"""Schema-less walk of protobuf wire format: is it protobuf-like, and which printable strings it carries.

Without the vendor's .proto we cannot name fields, but length-delimited fields that are readable
text (user agents, e-mails, room names) can still be classified by value. Paths use field numbers:
``.#1.#3``. Bounded by depth, field count and input size; never raises.
"""

from __future__ import annotations

MAX_PROTO_BYTES = 4 * 1024 * 1024
MAX_PROTO_FIELDS = 2000
MAX_PROTO_DEPTH = 8


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            return None
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
    return None


def _parse(data: bytes, depth: int, budget: list[int]) -> list[tuple[str, bytes | None]] | None:
    """Fields as (path, bytes-or-None) when ``data`` parses completely as a message, else None."""
    pos = 0
    fields: list[tuple[str, bytes | None]] = []
    while pos < len(data):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        tag = _varint(data, pos)
        if tag is None:
            return None
        key, pos = tag
        number, wire = key >> 3, key & 7
        if number == 0 or number > 536870911:
            return None
        if wire == 0:
            val = _varint(data, pos)
            if val is None:
                return None
            pos = val[1]
            fields.append((f".#{number}", None))
        elif wire == 1:
            pos += 8
            fields.append((f".#{number}", None))
        elif wire == 5:
            pos += 4
            fields.append((f".#{number}", None))
        elif wire == 2:
            length = _varint(data, pos)
            if length is None:
                return None
            size, pos = length
            if pos + size > len(data):
                return None
            fields.append((f".#{number}", data[pos:pos + size]))
            pos += size
        else:
            return None
        if pos > len(data):
            return None
    return fields


def _printable(chunk: bytes) -> str | None:
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        return None
    return text


def protobuf_strings(data: bytes) -> list[tuple[str, str]] | None:
    """Printable strings inside ``data`` as (path, text) when it parses as protobuf; None otherwise."""
    if not data or len(data) > MAX_PROTO_BYTES:
        return None
    budget = [MAX_PROTO_FIELDS]
    top = _parse(data, 0, budget)
    if not top:
        return None
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, list[tuple[str, bytes | None]], int]] = [("", top, 0)]
    while stack:
        prefix, fields, depth = stack.pop()
        for sub, chunk in fields:
            if chunk is None:
                continue
            path = prefix + sub
            text = _printable(chunk)
            if text is not None and len(text) >= 2:
                found.append((path, text))
                continue
            if depth < MAX_PROTO_DEPTH and budget[0] > 0:
                inner = _parse(chunk, depth + 1, budget)
                if inner:
                    stack.append((path, inner, depth + 1))
    found.sort()
    return found
