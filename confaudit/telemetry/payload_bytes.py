"""Bytes of a captured body or message: base64/text extraction, bounded decompression, text sniffing."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from typing import Any

MAX_DECODED_BYTES = 8 * 1024 * 1024
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def body_bytes(body: Any) -> bytes | None:
    """Raw bytes of a capture body record (``text`` or ``base64``); None when absent or malformed."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("text"), str):
        return body["text"].encode("utf-8", "surrogatepass")
    if isinstance(body.get("base64"), str):
        try:
            return base64.b64decode(body["base64"], validate=False)
        except (binascii.Error, ValueError):
            return None
    return None


def decompress_payload(data: bytes, encoding: str = "") -> tuple[bytes, str | None]:
    """Undo compression, bounded; returns (bytes, name applied | ``failed`` | None).

    Capture body records usually hold already-decoded bytes while still naming the original
    Content-Encoding, so the header is only trusted when the bytes are not readable text;
    gzip and zstd are recognised by their magic bytes.
    """
    enc = (encoding or "").lower().strip()
    if data[:2] == b"\x1f\x8b":
        return _attempt(data, "gzip", strict=True)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return _attempt(data, "zstd", strict=True)
    if enc in ("gzip", "x-gzip", "deflate", "br", "zstd") and as_text(data[:4096]) is None:
        return _attempt(data, "gzip" if enc == "x-gzip" else enc, strict=False)
    return data, None


def _attempt(data: bytes, codec: str, strict: bool) -> tuple[bytes, str | None]:
    try:
        if codec == "gzip":
            return _bounded_zlib(data, 16 + zlib.MAX_WBITS), "gzip"
        if codec == "zstd":
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
            return reader.read(MAX_DECODED_BYTES), "zstd"
        if codec == "deflate":
            try:
                return _bounded_zlib(data, zlib.MAX_WBITS), "deflate"
            except zlib.error:
                return _bounded_zlib(data, -zlib.MAX_WBITS), "deflate"
        import brotli

        dec = brotli.Decompressor()
        out = bytearray()
        for start in range(0, len(data), 16384):
            out += dec.process(data[start:start + 16384])
            if len(out) >= MAX_DECODED_BYTES:
                break
        return bytes(out[:MAX_DECODED_BYTES]), "br"
    except Exception:  # noqa: BLE001 - any codec failure means "could not decode"
        return data, "failed" if strict else None


def _bounded_zlib(data: bytes, wbits: int) -> bytes:
    dec = zlib.decompressobj(wbits)
    out = dec.decompress(data, MAX_DECODED_BYTES)
    return out


def as_text(data: bytes) -> str | None:
    """UTF-8 text when ``data`` is mostly printable text, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return text
    sample = text[:4096]
    bad = len(_CONTROL_RE.findall(sample))
    return text if bad <= len(sample) // 50 else None
