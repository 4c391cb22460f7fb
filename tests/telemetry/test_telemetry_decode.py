"""Payload decoding: every supported encoding flattened to field paths, bounded on hostile input."""

from __future__ import annotations

import base64
import gzip
import json
import random
import time
import zlib

import brotli
import pytest
import zstandard

from confaudit.telemetry.decode import MAX_FIELDS, decode_body, decode_message, decode_query
from confaudit.telemetry.protobuf import protobuf_strings


def _paths(decoded) -> dict[str, str]:
    return {f.path: f.value for f in decoded.fields}


def _b64body(data: bytes, content_type: str = "", encoding: str = "identity") -> dict:
    return {"content_type": content_type, "encoding": encoding, "size": len(data), "truncated": False,
            "base64": base64.b64encode(data).decode()}


def test_batched_events_flatten_to_indexed_paths() -> None:
    events = [{"name": "join", "device": {"ua": f"UA{i}", "screen": {"w": 1920}}} for i in range(5)]
    decoded = decode_body({"content_type": "application/json", "text": json.dumps({"events": events})})
    paths = _paths(decoded)
    assert paths["events[3].device.ua"] == "UA3"
    assert paths["events[4].device.screen.w"] == "1920"
    field = next(f for f in decoded.fields if f.path == "events[3].device.ua")
    assert field.keys == ("events", "device", "ua") and field.transforms == ("json",)


def test_json_inside_string_inside_base64_inside_query() -> None:
    inner = json.dumps({"ctx": json.dumps({"tz": "Europe/Oslo"})}).encode()
    decoded = decode_query([["d", base64.urlsafe_b64encode(inner).decode().rstrip("=")], ["plain", "x"]])
    field = next(f for f in decoded.fields if f.path == "d.ctx.tz")
    assert field.value == "Europe/Oslo"
    assert field.transforms == ("base64", "json", "json-in-string")


def test_percent_encoded_and_form_values() -> None:
    body = {"content_type": "application/x-www-form-urlencoded", "text": "a=1&room=My%20Room&meta=%7B%22lang%22%3A%22fr%22%7D"}
    paths = _paths(decode_body(body))
    assert paths["room"] == "My Room" and paths["meta.lang"] == "fr"
    nested = _paths(decode_query([["u", "x%3D1%26tz%3DAsia%252FTokyo"]]))
    assert nested["u.tz"] == "Asia/Tokyo"


def test_every_compression_is_undone_by_magic_or_by_header() -> None:
    payload = json.dumps({"locale": "de-DE"}).encode()
    bodies = [
        _b64body(gzip.compress(payload), "application/json", "gzip"),
        _b64body(zstandard.ZstdCompressor().compress(payload), "application/json", "zstd"),
        _b64body(brotli.compress(payload), "application/json", "br"),
        _b64body(zlib.compress(payload), "application/json", "deflate"),
    ]
    for body in bodies:
        decoded = decode_body(body)
        assert _paths(decoded) == {"locale": "de-DE"}, body["encoding"]
        assert decoded.fields[0].transforms[0] == body["encoding"]


def test_already_decoded_text_with_encoding_label_is_read_as_is() -> None:
    # capture body records keep the original Content-Encoding name next to decoded text
    decoded = decode_body({"content_type": "application/json", "encoding": "gzip", "text": '{"a": "b"}'})
    assert _paths(decoded) == {"a": "b"} and not decoded.opaque


def test_multipart_text_parts_decoded_binary_parts_opaque() -> None:
    raw = (b'--Bnd7\r\nContent-Disposition: form-data; name="meta"\r\nContent-Type: application/json\r\n\r\n'
           b'{"timezone":"UTC"}\r\n--Bnd7\r\nContent-Disposition: form-data; name="blob"; filename="x"\r\n\r\n'
           b'\x00\x01\xfe\xff\x80\r\n--Bnd7--\r\n')
    decoded = decode_body(_b64body(raw, "multipart/form-data; boundary=Bnd7"))
    assert _paths(decoded) == {"meta.timezone": "UTC", "blob;filename": "x"}
    assert [(o.path, o.size, o.kind) for o in decoded.opaque] == [("blob", 5, "binary")]


def test_ndjson_batches_are_indexed_per_line() -> None:
    decoded = decode_body({"text": '{"e":"join"}\n{"e":"mute"}\n'})
    assert _paths(decoded) == {"[0].e": "join", "[1].e": "mute"}


def _pb_field(number: int, payload: bytes) -> bytes:
    return bytes([(number << 3) | 2, len(payload)]) + payload


def test_protobuf_like_payload_is_opaque_with_size_and_its_strings_are_exposed() -> None:
    inner = _pb_field(1, b"alice@example.org") + bytes([0x10, 0x96, 0x01])
    message = _pb_field(1, b"Mozilla/5.0 (X11)") + _pb_field(4, inner) + bytes([0x28, 0x07])
    decoded = decode_body(_b64body(message, "application/x-protobuf"))
    assert [(o.path, o.size, o.kind) for o in decoded.opaque] == [("$", len(message), "protobuf-like")]
    assert _paths(decoded) == {"#1": "Mozilla/5.0 (X11)", "#4.#1": "alice@example.org"}
    assert protobuf_strings(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff") is None


def test_websocket_binary_and_text_messages() -> None:
    text = decode_message('{"type":"stats","audioLevel":0.4}', "text")
    assert _paths(text) == {"type": "stats", "audioLevel": "0.4"}
    binary = decode_message(base64.b64encode(bytes(range(256))).decode(), "binary")
    assert binary.opaque and binary.opaque[0].size == 256 and binary.opaque[0].kind == "binary"


def test_hostile_payloads_are_bounded() -> None:
    deep = "[" * 5000 + "]" * 5000
    started = time.monotonic()
    assert decode_body({"text": deep}).fields is not None
    wide = json.dumps({f"k{i}": i for i in range(MAX_FIELDS * 3)})
    decoded = decode_body({"text": wide})
    assert len(decoded.fields) == MAX_FIELDS and decoded.truncated
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KiB compressed
    decoded = decode_body(_b64body(bomb, "", "gzip"))
    assert decoded.opaque and decoded.opaque[0].size <= 8 * 1024 * 1024
    nested_b64 = "x"
    for _ in range(12):  # base64 of base64 of ... : decoding depth is capped
        nested_b64 = base64.b64encode(json.dumps({"v": nested_b64}).encode()).decode()
    assert len(decode_query([["q", nested_b64]]).fields) < 20
    corrupt = b"\x1f\x8b\x08\x00" + bytes(100)
    assert decode_body(_b64body(corrupt)).opaque[0].kind == "compressed-undecodable"
    assert time.monotonic() - started < 20


def test_random_bytes_never_raise() -> None:
    rng = random.Random(4)
    for size in list(range(0, 64)) + [1000, 5000]:
        blob = bytes(rng.randrange(256) for _ in range(size))
        decode_body(_b64body(blob, rng.choice(["", "application/json", "multipart/form-data; boundary=a"])))
        decode_message(blob.decode("latin-1"), "text")
        protobuf_strings(blob)
    for bad in (None, 3, "x", {"base64": "!!!"}, {"text": None}, {"base64": 5}):
        decode_body(bad)
    decode_query("not a list")
    decode_query([["only-one"], None, ["k", None]])


@pytest.mark.parametrize("value", [True, False, 0, -7, 10**40, 1.5, -0.0, 1e16, 1e-05, 0.1 + 0.2,
                                   float("nan"), float("inf"), float("-inf")])
def test_number_fields_read_as_json_writes_them(value: object) -> None:
    body = {"content_type": "application/json", "text": json.dumps({"n": value})}
    [field] = decode_body(body).fields
    assert field.value == json.dumps(value)


def test_a_word_that_is_base64_of_nothing_readable_decodes_the_same_every_time() -> None:
    from confaudit.telemetry import decode

    word = "call_quality"  # url-safe base64 of bytes with no text and no protobuf strings in them
    decode._PLAIN.discard(word)
    first = decode_body({"content_type": "application/json", "text": json.dumps({"event": word})})
    assert word in decode._PLAIN
    again = decode_body({"content_type": "application/json", "text": json.dumps({"event": word})})
    assert first.fields == again.fields and first.opaque == again.opaque == []
    # a base64 value that does hold text is never taken for plain
    inner = base64.b64encode(b'{"email":"ada@example.org"}').decode()
    decode._PLAIN.discard(inner)
    for _ in range(2):
        found = decode_body({"content_type": "application/json", "text": json.dumps({"blob": inner})})
        assert any(f.value == "ada@example.org" for f in found.fields) and inner not in decode._PLAIN
