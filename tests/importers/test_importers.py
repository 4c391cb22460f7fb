"""HAR, .mitm and observations importers: one record shape, deterministic ids, hostile files -> InputError."""

from __future__ import annotations

from confaudit.redact import Redactor
import base64
import json
from pathlib import Path

import pytest
from mitmproxy import io as mio
from mitmproxy.test import tflow

from confaudit.importers.http_sources import link_http_to_flows, load_http_sources
from confaudit.errors import InputError

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def _har(entries: list) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "entries": entries}}


def _entry(url: str, started: str, **extra) -> dict:
    entry = {
        "startedDateTime": started, "time": 12.5, "serverIPAddress": "[::1]",
        "request": {"method": "POST", "url": url, "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Cookie", "value": "sid=C00KIE"}, {"name": ":authority", "value": "t.test"}],
                    "postData": {"mimeType": "application/json", "text": json.dumps({"screen": "1920x1080", "api_key": "K3Y"})}},
        "response": {"status": 204, "headers": [], "content": {"size": 0, "mimeType": "text/plain"}},
    }
    entry.update(extra)
    return entry


def test_chrome_har_with_websocket(tmp_path: Path) -> None:
    ws_entry = _entry("wss://rooms.test/socket?token=WS-TOK", "2026-11-25T08:00:02.000Z",
                      _webSocketMessages=[
                          {"type": "send", "time": 1795593602.5, "opcode": 1, "data": json.dumps({"password": "WS-PW"})},
                          {"type": "receive", "time": 1795593602.6, "opcode": 2, "data": base64.b64encode(b"\x00\x01bin").decode()},
                      ])
    later = _entry("https://telemetry.tracker.test/b?uid=7", "2026-11-25T08:00:05.000Z")
    earlier = _entry("https://rooms.test/api", "2026-11-25T08:00:01+00:00")
    path = tmp_path / "chrome.har"
    path.write_text(json.dumps(_har([later, ws_entry, earlier])))
    bundle = load_http_sources([path], redactor=Redactor.default())
    hosts = [h["host"] for h in bundle["http"]]
    assert hosts == ["rooms.test", "rooms.test", "telemetry.tracker.test"]  # ordered by time, ids follow
    assert [h["id"] for h in bundle["http"]] == ["h1", "h2", "h3"]
    assert bundle["http"][0]["server"] == {"ip": "::1", "port": 443} and bundle["http"][0]["source"] == "har"
    assert json.loads(bundle["http"][0]["request_body"]["text"])["screen"] == "1920x1080"
    ws = bundle["websocket"]
    assert [(w["id"], w["http_id"], w["from_client"], w["type"]) for w in ws] == [("w1", "h2", True, "text"), ("w2", "h2", False, "binary")]
    dumped = json.dumps(bundle)
    for secret in ("C00KIE", "K3Y", "WS-TOK", "WS-PW"):
        assert secret not in dumped
    assert bundle["inputs"][0]["format"] == "har" and bundle["inputs"][0]["records_read"] == 3


def test_mitm_flow_file_uses_the_same_converter(tmp_path: Path) -> None:
    path = tmp_path / "flows.mitm"
    flows = [tflow.tflow(resp=True), tflow.twebsocketflow(), tflow.tudpflow(), tflow.ttcpflow()]
    flows[0].request.url = f"https://api.rooms.test/x?session={JWT}"
    with path.open("wb") as fh:
        writer = mio.FlowWriter(fh)
        for flow in flows:
            writer.add(flow)
    bundle = load_http_sources([path], redactor=Redactor.default())
    assert len(bundle["http"]) == 2 and len(bundle["websocket"]) == 3 and len(bundle["udp_flows"]) == 1
    assert JWT not in json.dumps(bundle) and all(h["source"] == "mitm" for h in bundle["http"])
    assert bundle["inputs"][0]["format"] == "mitm" and "raw TCP" in bundle["inputs"][0]["warnings"][0]


def test_observations_torn_tail_is_partial_not_silent(tmp_path: Path) -> None:
    path = tmp_path / "observations.jsonl"
    good = {"kind": "http", "flow_uuid": "a", "ts": 5.0, "method": "GET", "url": f"https://x.test/?access_token={JWT}"}
    path.write_text('{"kind":"header","format":"confaudit-observations"}\n' + json.dumps(good) + '\n{"kind":"http","ts":')
    bundle = load_http_sources([path], redactor=Redactor.default())
    assert bundle["complete"] is False and bundle["inputs"][0]["records_skipped"] == 1
    assert JWT not in bundle["http"][0]["url"]  # re-redacted on import


def test_link_http_to_pcap_flows_by_tuple_and_time() -> None:
    bundle = {"http": [{"id": "h1", "ts": 100.0, "client": {"ip": "127.0.0.1", "port": 50000}, "server": None}],
              "websocket": [{"id": "w1", "http_id": "h1"}],
              "flows": [{"id": "f1", "transport": "tcp", "src": "127.0.0.1", "sport": 50001, "dst": "127.0.0.1", "dport": 8080, "first_seen": 99.0, "last_seen": 101.0},
                        {"id": "f3", "transport": "tcp", "src": "127.0.0.1", "sport": 50000, "dst": "127.0.0.1", "dport": 8080, "first_seen": 10.0, "last_seen": 11.0},
                        {"id": "f2", "transport": "tcp", "src": "127.0.0.1", "sport": 50000, "dst": "127.0.0.1", "dport": 8080, "first_seen": 99.5, "last_seen": 100.5}]}
    link_http_to_flows(bundle)
    assert bundle["http"][0]["flow"] == "f2" and bundle["websocket"][0]["flow"] == "f2"


def test_a_wrong_typed_port_links_to_no_flow_instead_of_crashing() -> None:
    """An imported record's port that is a list or a float (a foreign observations.jsonl) matches no pcap flow; it
    used to stop the analysis with "unhashable type: 'list'"."""
    flows = [{"id": "f1", "transport": "tcp", "src": "10.0.0.2", "sport": 50000, "dst": "1.2.3.4", "dport": 443,
              "first_seen": 99.0, "last_seen": 101.0}]
    for port in ([443], {"n": 443}, 443.0, "443", True):
        bundle = {"http": [{"id": "h1", "ts": 100.0, "client": None, "server": {"ip": "1.2.3.4", "port": port}}],
                  "websocket": [], "flows": [dict(f) for f in flows]}
        link_http_to_flows(bundle)
        assert bundle["http"][0]["flow"] is None, port
    bundle = {"http": [{"id": "h1", "ts": 100.0, "client": None, "server": {"ip": "1.2.3.4", "port": 443}}],
              "websocket": [], "flows": flows}
    link_http_to_flows(bundle)
    assert bundle["http"][0]["flow"] == "f1"


HOSTILE = {
    "deep.har": "[" * 100000 + "]" * 100000,
    "nan.har": '{"log": {"entries": [{"time": NaN}]}}',
    "inf.har": '{"log": {"entries": [], "x": Infinity}}',
    "surrogate.har": '{"log": {"entries": [{"startedDateTime": "\\ud800"}]}}',
    "wrongtype.har": '{"log": {"entries": [{"request": "GET /", "response": {}}]}}',
    "entries-not-list.har": '{"log": {"entries": {"a": 1}}}',
    "headers-wrong.har": json.dumps(_har([_entry("https://x.test/", "2026-01-01T00:00:00Z", request={"method": "GET", "url": "https://x.test/", "headers": "Cookie: a"})])),
    "bad-base64.har": json.dumps(_har([_entry("https://x.test/", "2026-01-01T00:00:00Z", response={"status": 200, "headers": [], "content": {"text": "!!!", "encoding": "base64"}})])),
    "bad-date.har": json.dumps(_har([_entry("https://x.test/", "yesterday")])),
    "truncated.mitm": "",
    "deep.mitm": "",
    "garbage.mitm": "12:not a tnetstring",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_one_line_input_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "truncated.mitm":
        with path.open("wb") as fh:
            mio.FlowWriter(fh).add(tflow.tflow(resp=True))
        path.write_bytes(path.read_bytes()[:-40])
    elif name == "deep.mitm":
        path.write_bytes(b"".join(b"%d:" % (2 * (50000 - i)) for i in range(1)) + b"[" * 0 + _deep_tnetstring(20000))
    else:
        path.write_text(HOSTILE[name])
    with pytest.raises(InputError) as err:
        load_http_sources([path], redactor=Redactor.default())
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message


def _deep_tnetstring(depth: int) -> bytes:
    inner = b"0:]"
    for _ in range(depth):
        inner = b"%d:%s]" % (len(inner), inner)
    return inner


def test_huge_har_body_is_capped(tmp_path: Path) -> None:
    big = "A" * (6 * 1024 * 1024)
    path = tmp_path / "big.har"
    entry = _entry("https://x.test/", "2026-01-01T00:00:00Z", response={"status": 200, "headers": [], "content": {"text": big, "mimeType": "text/plain"}})
    path.write_text(json.dumps(_har([entry])))
    body = load_http_sources([path], redactor=Redactor.default())["http"][0]["response_body"]
    assert body["truncated"] is True and len(body["text"]) <= body["cap"]


def test_equal_parts_of_records_are_held_once(tmp_path: Path) -> None:
    """HAR, observations and .mitm: two requests with the same headers, server and User-Agent share those
    parts instead of each holding a copy (memory for 100,000 requests), and stay equal to what was read."""
    har = tmp_path / "same.har"
    har.write_text(json.dumps(_har([_entry(f"https://x.test/{n}", f"2026-01-01T00:00:0{n}Z") for n in range(2)])))
    obs = tmp_path / "observations.jsonl"
    line = {"kind": "http", "ts": 1.0, "method": "GET", "url": "https://x.test/a", "server": {"ip": "::1", "port": 443},
            "request_headers": [["User-Agent", "UA/1"], ["Cookie", "sid=C00KIE"]], "response_headers": [["a", "b"]]}
    obs.write_text("".join(json.dumps(dict(line, flow_uuid=f"u{n}", ts=float(n))) + "\n" for n in range(2)))
    flows = tmp_path / "same.mitm"
    with flows.open("wb") as fh:
        writer = mio.FlowWriter(fh)
        for _ in range(2):
            writer.add(tflow.tflow(resp=True))
    for path in (har, obs, flows):
        first, second = load_http_sources([path], redactor=Redactor.default())["http"][:2]
        assert first["request_headers"] == second["request_headers"] and "C00KIE" not in json.dumps(first)
        assert first["request_headers"] is second["request_headers"], path.name
        assert first["request_headers"][0] is second["request_headers"][0]
        assert first["server"] is second["server"] and first["method"] is second["method"]


def test_shared_parts_hold_equal_short_strings_once_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from confaudit.importers import shared

    monkeypatch.setattr(shared, "MAX_REMEMBERED", 3)
    parts = shared.SharedParts()
    first = "".join(["appli", "cation/json"])
    again = "".join(["application", "/json"])
    assert first is not again and parts.text(first) is first and parts.text(again) is first
    long_text = "x" * 256
    assert parts.text(long_text) is long_text and long_text not in parts._texts  # long strings are not held
    for n in range(3):
        parts.text(f"v{n}")
    assert len(parts._texts) <= 3 and parts.text(again) is again  # started over: held no longer


def test_a_message_that_sorts_before_its_upgrade_is_still_joined_to_it() -> None:
    from confaudit.importers.http_sources import http_side_sections

    upgrade = {"kind": "http", "flow_uuid": "u1", "ts": 20.0, "host": "a.test"}
    other = {"kind": "http", "flow_uuid": "u2", "ts": 5.0, "host": "b.test"}
    early = {"kind": "websocket", "http_uuid": "u1", "ts": 10.0}  # a clock step put it first
    late = {"kind": "websocket", "http_uuid": "u1", "ts": 30.0}
    stray = {"kind": "websocket", "http_uuid": "nowhere", "ts": 31.0}
    out = http_side_sections([(0, 0, upgrade), (0, 1, other), (0, 2, early), (0, 3, late), (0, 4, stray)])
    assert [(r["id"], r["host"]) for r in out["http"]] == [("h1", "b.test"), ("h2", "a.test")]
    assert [(m["id"], m["http_id"], list(m)) for m in out["websocket"]] == [
        ("w1", "h2", ["ts", "id", "http_id", "flow"]), ("w2", "h2", ["ts", "id", "http_id", "flow"]),
        ("w3", None, ["ts", "id", "http_id", "flow"])]
    assert all("flow_uuid" not in r for r in out["http"])
