"""The HTTP addon (mitmproxy's own test helpers): records decoded, redacted requests; contains hook errors."""

from __future__ import annotations

from confaudit.redact import Redactor
import gzip
import json
from pathlib import Path

from mitmproxy import http
from mitmproxy.test import taddons, tflow

from confaudit.live.addons import SessionRecorder
from confaudit.importers.http_sources import load_http_sources
from confaudit.session.directory import read_session

def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def _secret_flow() -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.url = "https://api.rooms.test/v1/join?access_token=AT-123&room=blue"
    flow.request.headers["Cookie"] = "sid=COOKIE-SECRET"
    flow.request.headers["Authorization"] = f"Bearer {JWT}"
    flow.request.headers["content-type"] = "application/json"
    flow.request.content = json.dumps({"password": "PW-456", "displayName": "Alice", "tz": "Europe/Berlin"}).encode()
    flow.response.headers["Set-Cookie"] = "sid=COOKIE-SECRET; Path=/"
    flow.response.headers["content-type"] = "application/json"
    flow.response.headers["content-encoding"] = "gzip"
    flow.response.raw_content = gzip.compress(b'{"ok": true, "iceServers": [{"urls": "turn:t.test", "username": "u", "credential": "TURN-PW"}]}')
    return flow


async def test_http_flow_is_recorded_decoded_and_redacted(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path), confaudit_vendor="rooms")
        flow = _secret_flow()
        await tctx.cycle(addon, flow)
        assert flow.request.headers["Cookie"] == "sid=COOKIE-SECRET"  # live traffic untouched
        addon.done()
    raw = (tmp_path / "observations.jsonl").read_text()
    for secret in ("AT-123", "COOKIE-SECRET", JWT, "PW-456", "TURN-PW"):
        assert secret not in raw
    http_rec = [r for r in _lines(tmp_path / "observations.jsonl") if r["kind"] == "http"][0]
    assert http_rec["host"] == "api.rooms.test" and http_rec["method"] == "GET" and http_rec["status"] == 200
    assert json.loads(http_rec["request_body"]["text"])["displayName"] == "Alice"
    assert json.loads(http_rec["response_body"]["text"])["ok"] is True
    assert http_rec["response_body"]["encoding"] == "gzip"
    assert ["room", "blue"] in http_rec["query"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["vendor"] == "rooms" and manifest["stopped"] is not None
    assert manifest["files"]["observations.jsonl"]["sensitive"] is False
    bundle = load_http_sources(read_session(tmp_path).http_sources, redactor=Redactor.default())
    assert [h["id"] for h in bundle["http"]] == ["h1"] and bundle["inputs"][0]["format"] == "observations"


async def test_hook_exception_is_contained_counted_and_in_manifest(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        broken = tflow.tflow(resp=True)
        broken.request = None  # type: ignore[assignment]
        addon.http.response(broken)
        addon.http.response(_secret_flow())
        addon.done()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["hook_errors"] == {"response": 1}
    assert "AttributeError" in manifest["hook_error_samples"][0]
    assert manifest["stats"]["records"]["http"] == 1


def test_hostile_host_header_cannot_hide_a_request_or_leak_its_token() -> None:
    from confaudit.session.records import http_record
    from confaudit.redact import Redactor

    flow = tflow.tflow(resp=True)
    flow.request.host = "evil.[/b]"
    flow.request.path = "/collect?access_token=s3cr3t-t0ken-value&event=join"
    record = http_record(flow, Redactor(b"test-key"), "live")
    assert record["host"] == "evil.[/b]" and record["path"] == "/collect"
    assert "s3cr3t-t0ken-value" not in json.dumps(record)
    assert ["event", "join"] in [list(p) for p in record["query"]]
