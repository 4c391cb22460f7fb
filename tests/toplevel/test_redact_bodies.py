"""Bodies and observation records are redacted by structure: multipart parts, NDJSON lines, bare forms,
base64 bodies, binary payloads, and every field of a record an older or foreign addon wrote."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from confaudit.session.bodies import redact_base64, redact_text
from confaudit.importers.http_sources import load_http_sources
from confaudit.redact import Redactor

R = Redactor(b"unit-test-key")


def test_multipart_parts_by_field_name_and_by_their_own_type() -> None:
    boundary = "----WebKitFormBoundaryAbC123xYz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"room\"\r\n\r\nblue\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\nmp-tok-1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n"
            "{\"pin\":\"4711\",\"lang\":\"en\"}\r\n"
            f"--{boundary}--\r\n")
    for content_type in (f"multipart/form-data; boundary={boundary}", ""):  # "": found from the opening line
        out = redact_text(body, content_type, R)
        assert "mp-tok-1" not in out and "4711" not in out, content_type
        assert out.count(f"--{boundary}") == 4 and "\r\n\r\nblue\r\n" in out and '"lang":"en"' in out
        assert redact_text(out, content_type, R) == out


def test_ndjson_lines_bare_forms_and_base64_bodies() -> None:
    ndjson = '{"event":"join"}\n{"event":"ping","sid":"nd-sid-1"}\n{"cut":'
    out = redact_text(ndjson, "application/x-ndjson", R)
    assert "nd-sid-1" not in out and out.startswith('{"event":"join"}\n') and out.endswith('\n{"cut":')
    form = redact_text("name=Ada&pin=fm-4711", "application/x-www-form-urlencoded", R)
    assert form.startswith("name=Ada&pin=") and "fm-4711" not in form
    blob = base64.b64encode(json.dumps({"refresh_token": "b64-rt-1", "v": 1}).encode()).decode()
    out = redact_text(blob, "text/plain", R)
    assert json.loads(base64.b64decode(out))["v"] == 1 and "b64-rt-1" not in base64.b64decode(out).decode()


def test_binary_base64_is_redacted_and_unreadable_base64_is_withheld() -> None:
    raw = base64.b64encode(b"\x00\x01password=bin-pw-1\x02").decode()
    out = redact_base64(raw, R)
    assert b"bin-pw-1" not in base64.b64decode(out) and base64.b64decode(out).startswith(b"\x00\x01password=")
    assert redact_base64(out, R) == out
    assert redact_base64("not base64 password=x!", R).startswith("[REDACTED unreadable-base64 #")


def test_every_field_of_a_foreign_observation_record_is_redacted(tmp_path: Path) -> None:
    records = [
        {"kind": "http", "flow_uuid": "a", "ts": 1.0, "method": "GET", "url": "https://h.test/p?x=1",
         "host": "u:host-pw-1@h.test", "path": "/p?code=path-code-1", "error": "reset; password=err-pw-1",
         "query": [], "request_headers": [], "response_headers": [], "note": {"api_key": "extra-key-1"},
         "response_body": {"content_type": "application/octet-stream", "base64": base64.b64encode(b"\x00token=body-tok-1").decode()}},
        {"kind": "websocket", "http_uuid": "a", "ts": 2.0, "from_client": True, "type": "binary", "size": 9,
         "url": "wss://h.test/s?token=ws-url-1", "content": base64.b64encode(b'\x01{"secret":"ws-bin-1"}').decode()},
        {"kind": "dns", "ts": 3.0, "answers": [{"name": "h.test", "type": 16, "data": "password=dns-pw-1"}]},
    ]
    path = tmp_path / "observations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    bundle = load_http_sources([path], R)
    dumped = json.dumps(bundle)
    decoded = dumped + "".join(base64.b64decode(x).decode("latin-1") for x in
                               (bundle["http"][0]["response_body"]["base64"], bundle["websocket"][0]["content"]))
    for secret in ("host-pw-1", "path-code-1", "err-pw-1", "extra-key-1", "body-tok-1", "ws-url-1", "ws-bin-1", "dns-pw-1"):
        assert secret not in decoded, secret
    assert bundle["http"][0]["host"].endswith("@h.test") and bundle["http"][0]["path"].startswith("/p?code=")


def test_proxy_records_redact_host_userinfo_and_the_path_of_an_unparseable_url() -> None:
    from mitmproxy.test import tflow

    from confaudit.session.records import http_record, websocket_record

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwYXRoIn0.c2lnbmF0dXJlLXBhdGgtand0"
    flow = tflow.tflow(resp=True)
    flow.request.host_header = "auditor:hdr-pw-1@h.test"
    record = http_record(flow, R, "live")
    assert "hdr-pw-1" not in json.dumps(record) and record["host"].endswith("@h.test")
    hostile = tflow.tflow(resp=True)
    hostile.request.host = "evil.[/b]"
    hostile.request.path = f"/r/{jwt}/join?x=1"
    record = http_record(hostile, R, "live")
    assert jwt not in json.dumps(record) and record["path"].startswith("/r/") and record["path"].endswith("/join")
    socket = tflow.twebsocketflow()
    socket.request.host_header = "auditor:ws-pw-1@h.test"
    assert "ws-pw-1" not in json.dumps(websocket_record(socket, socket.websocket.messages[0], R, "live"))
