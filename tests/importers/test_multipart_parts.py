"""Multipart bodies through the real import and analysis: parts are named by ``name=`` (never by
``filename=``), the file name is content, RFC 7578 edge cases decode, cut and broken bodies fail closed,
and a part named like a secret is redacted whatever the body looks like."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from support.har_build import analyse_har, explicit_flows, har_entry, write_har

from confaudit.session.bodies import TEXT_CAP, redact_text
from confaudit.redact import Redactor
from confaudit.telemetry.decode import decode_body

URL = "https://upload.tracker.test/v1/profile"
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + bytes(range(256)) + b"\xff\xd9"
B = "----WebKitFormBoundaryQ7c2Lx9Zr"


def _part(disposition: str, value: bytes, ctype: str | None = None, nl: bytes = b"\r\n") -> bytes:
    head = b"Content-Disposition: " + disposition.encode()
    if ctype:
        head += nl + b"Content-Type: " + ctype.encode()
    return b"--" + B.encode() + nl + head + nl + nl + value + nl


def _body(*parts: bytes, nl: bytes = b"\r\n") -> bytes:
    return b"".join(parts) + b"--" + B.encode() + b"--" + nl


def _analyse(tmp_path: Path, body: bytes | str, mime: str = f"multipart/form-data; boundary={B}") -> dict:
    return analyse_har(write_har(tmp_path / "upload.har", [har_entry(URL, body, mime)]))


def test_parts_are_named_by_name_and_the_filename_is_content(tmp_path: Path) -> None:
    body = _body(
        _part('form-data; filename="ada_passport.jpg"; name="avatar"', JPEG, "image/jpeg"),  # filename first
        _part('form-data; name="device"', b'{"cores":8,"memory":16}', "application/json"),
        _part('form-data; name="tz"', b"Europe/Lisbon"))
    bundle = _analyse(tmp_path, body)
    flows = explicit_flows(bundle)
    assert flows["avatar;filename"] == {"content": ["multipart:filename"], "account": ["key:avatar"]}
    assert "ada_passport.jpg" not in flows and "ada_passport.jpg;filename" not in flows
    assert flows["device.cores"] == {"device": ["key:device>cores"]}
    assert flows["tz"] == {"timezone": ["key:tz"]}
    party = bundle["parties"][0]
    assert (party["opaque_payloads"], party["opaque_bytes"], party["truncated_payloads"]) == (1, len(JPEG), 0)
    flow = next(f for f in bundle["data_flows"] if f["field_path"] == "avatar;filename")
    assert flow["transforms"] == ["multipart", "multipart-filename"] and flow["example"] == "ada_passport.jpg"


def test_quoted_escaped_and_encoded_names(tmp_path: Path) -> None:
    body = _body(
        _part('form-data; name="say \\"hi\\""', b"hello"),                    # legacy backslash escapes
        _part('form-data; name="caption%22s"', b"x"),                        # WHATWG percent-encoded quote
        _part("form-data; name*=UTF-8''%C3%BCser%5Fcountry", b"PT"),         # RFC 5987, forbidden but sent
        _part("form-data; name=\"decoy\"; name*=utf-8''timezone", b"Asia/Tokyo"),  # name* wins over name
        _part('form-data; name="gerät"', b"iPhone14,2"),                      # raw UTF-8 as browsers send it
        _part("form-data; name*0*=utf-8''screen%5F; name*1=w", b"1512"))     # RFC 2231 continuations
    flows = explicit_flows(_analyse(tmp_path, body))
    assert set(flows) == {'"say \\"hi\\""', '"caption\\"s"', '"üser_country"', "timezone", '"gerät"', "screen_w"}
    assert flows['"üser_country"'] == {"location": ["key:üser_country"]}  # non-ASCII keys are quoted in paths
    assert flows["timezone"] == {"timezone": ["key:timezone"]}
    assert flows["screen_w"] == {"screen": ["key:screen_w"]}


def test_bare_lf_line_breaks_read_like_crlf(tmp_path: Path) -> None:
    crlf = _body(_part('form-data; name="device"', b'{"cores":8}', "application/json"),
                 _part('form-data; name="note"', b"line one\nline two"))
    lf = crlf.replace(b"\r\n", b"\n")
    for name, body in (("crlf", crlf), ("lf", lf)):
        (tmp_path / name).mkdir()
        flows = explicit_flows(_analyse(tmp_path / name, body))
        assert flows["device.cores"] == {"device": ["key:device>cores"]}, name
    decoded = decode_body({"content_type": f"multipart/form-data; boundary={B}", "text": lf.decode()})
    assert {f.path: f.value for f in decoded.fields} == {"device.cores": "8", "note": "line one\nline two"}
    assert not decoded.truncated and not decoded.opaque


def test_nameless_parts_are_indexed_and_nested_multipart_is_followed(tmp_path: Path) -> None:
    related = (b"--" + B.encode() + b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
               b'{"title":"Quarterly notes","device":{"model":"Pixel 8"}}\r\n'
               b"--" + B.encode() + b"\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--" + B.encode() + b"--\r\n")
    flows = explicit_flows(_analyse(tmp_path, related, f"multipart/related; boundary={B}"))
    assert flows["[0].device.model"] == {"device": ["key:model"]} and "[0].title" in flows
    inner = b'--in\r\nContent-Disposition: file; filename="notes.txt"\r\n\r\ntz=Europe/Oslo&lang=nb\r\n--in--'
    nested = _body(_part('form-data; name="files"', inner, "multipart/mixed; boundary=in"))
    decoded = decode_body({"content_type": f"multipart/form-data; boundary={B}", "text": nested.decode()})
    assert {f.path: f.value for f in decoded.fields} == {"files[0];filename": "notes.txt", "files[0].tz": "Europe/Oslo",
                                                     "files[0].lang": "nb"}


def test_a_body_cut_by_the_capture_keeps_its_parts_and_counts_as_truncated(tmp_path: Path) -> None:
    body = _body(_part('form-data; name="device"', b'{"cores":8}', "application/json"),
                 _part('form-data; name="notes"', b"n" * (TEXT_CAP + 1000)),
                 _part('form-data; name="tz"', b"Europe/Lisbon"))
    bundle = _analyse(tmp_path, body.decode())
    flows = explicit_flows(bundle)
    assert flows["device.cores"] == {"device": ["key:device>cores"]} and "notes" in flows and "tz" not in flows
    assert bundle["http"][0]["request_body"]["truncated"] is True
    assert bundle["parties"][0]["truncated_payloads"] == 1
    assert any("truncated" in w for w in bundle["warnings"])
    cut = decode_body({"content_type": f"multipart/form-data; boundary={B}", "text": body.decode()[:-len(B) - 10]})
    assert cut.truncated and [f.path for f in cut.fields] == ["device.cores", "notes", "tz"]


def test_a_break_in_the_structure_keeps_what_came_before_and_the_rest_is_opaque() -> None:
    broken = _body(_part('form-data; name="device"', b'{"cores":8}', "application/json"),
                   b"--" + B.encode() + b"\r\nthis header has no colon\r\n\r\nsecret-after-break\r\n")
    decoded = decode_body({"content_type": f"multipart/form-data; boundary={B}", "text": broken.decode()})
    assert [f.path for f in decoded.fields] == ["device.cores"] and decoded.truncated
    rest = len(broken) - broken.index(b"this header")
    assert [(o.path, o.size, o.kind) for o in decoded.opaque] == [("$", rest, "malformed-multipart")]


def test_hostile_multipart_is_bounded() -> None:
    many = b"".join(_part(f'form-data; name="k{i}"', b"v") for i in range(5000)) + b"--" + B.encode() + b"--"
    started = time.monotonic()
    decoded = decode_body({"content_type": f"multipart/form-data; boundary={B}", "text": many.decode()})
    assert len(decoded.fields) == 1000 and decoded.truncated and decoded.opaque[0].kind == "malformed-multipart"
    headers = b"--" + B.encode() + b"\r\n" + b"X-A: b\r\n" * 100 + b"\r\nvalue\r\n--" + B.encode() + b"--"
    assert decode_body({"content_type": f"multipart/form-data; boundary={B}", "text": headers.decode()}).truncated
    deep = b"v"
    for level in range(10):  # multipart inside multipart: followed four levels, not ten
        deep = (f"--b{level}\r\nContent-Disposition: form-data; name=\"p{level}\"\r\n"
                f"Content-Type: multipart/form-data; boundary=b{level - 1}\r\n\r\n").encode() + deep + f"\r\n--b{level}--".encode()
    decoded = decode_body({"content_type": "multipart/form-data; boundary=b9", "text": deep.decode()})
    assert [f.path.count(".") for f in decoded.fields] == [4]
    assert time.monotonic() - started < 10


R = Redactor(b"unit-test-key")


def test_secret_part_names_are_redacted_however_they_are_written(tmp_path: Path) -> None:
    secrets = {"enc": "mp-enc-tok-9f3a", "lf": "mp-lf-pw-77c1", "bin": "mp-bin-pw-5e2d", "cut": "mp-cut-pw-1b9c"}
    encoded = _body(_part("form-data; name*=UTF-8''access%5Ftoken", secrets["enc"].encode()))
    lf = _body(_part('form-data; name="password"', secrets["lf"].encode(), nl=b"\n"), nl=b"\n")
    binary = _body(_part('form-data; name="avatar"; filename="a.jpg"', JPEG, "image/jpeg"),
                   _part('form-data; name="password"', secrets["bin"].encode()))
    broken = _body(_part('form-data; name="room"', b"blue"),
                   b"--" + B.encode() + b"\r\nContent-Disposition form-data name=password\r\n\r\n"
                   + secrets["cut"].encode() + b"\r\n")
    entries = [har_entry(URL, body, f"multipart/form-data; boundary={B}", second)
               for second, body in enumerate((encoded.decode(), lf.decode(), binary, broken.decode()), 1)]
    bundle = analyse_har(write_har(tmp_path / "secrets.har", entries))
    binary_body = base64.b64decode(bundle["http"][2]["request_body"]["base64"])  # kept, redacted by part name
    dumped = json.dumps(bundle) + binary_body.decode("latin-1")
    for name, secret in secrets.items():
        assert secret not in dumped, name
    assert JPEG in binary_body and b'name="password"\r\n\r\n[REDACTED password #' in binary_body
    assert "blue" in bundle["http"][3]["request_body"]["text"]  # what came before the break stays readable
    again = redact_text(bundle["http"][0]["request_body"]["text"], f"multipart/form-data; boundary={B}", R)
    assert again.count("[REDACTED") == 1 and redact_text(again, f"multipart/form-data; boundary={B}", R) == again


def test_mutated_bodies_never_raise_and_parts_stay_inside_the_body() -> None:
    import random

    from confaudit.session.bodies import body_record, redact_multipart
    from confaudit.multipart_body import parse_multipart

    seed = (b'pre\r\n--bnd\r\nContent-Disposition: form-data; name="password"; filename="a.jpg"\r\n'
            b'Content-Type: application/json\r\n\r\n{"a":"b","token":"x"}\r\n'
            b"--bnd\r\nContent-Disposition: form-data; name*=utf-8''access%5Ftoken\r\n\r\n\x00\xff\r\n--bnd\r\n\r\nzz\n"
            b"--bnd\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\r\nq\r\n--in--\r\n--bnd--\r\nepi")
    pieces = [b"\r", b"\n", b"-", b"--bnd", b"\r\n--bnd", b'"', b"\\", b";", b"*", b"'", b"=", b":", b"\x00", b"\xff",
              b"%", b"name=", b"\r\n\r\n"]
    rng = random.Random(7)
    for _ in range(3000):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 6)):
            pos, op = rng.randrange(len(data) + 1), rng.random()
            if op < 0.4:
                data[pos:pos] = rng.choice(pieces)
            elif op < 0.7:
                del data[pos:pos + rng.randint(1, 8)]
            else:
                data[pos:pos + 1] = bytes([rng.randrange(256)])
        body = bytes(data).replace(b"\r\n", b"\n") if rng.random() < 0.3 else bytes(data)
        body = body[:rng.randrange(len(body) + 1)] if rng.random() < 0.2 else body
        parsed = parse_multipart(body, "bnd")
        assert 0 <= parsed.end <= len(body)
        for part in parsed.parts:
            assert 0 <= part.head[0] <= part.head[1] <= part.content[0] <= part.content[1] <= len(body)
        redact_multipart(body, "bnd", R, binary=True)
        body_record(body, "multipart/form-data; boundary=bnd", "", R)
        decode_body({"content_type": "multipart/form-data; boundary=bnd", "text": body.decode("utf-8", "replace")})
