"""enrich() end to end on fixture bundles, HAR files and real mitmproxy flows; schema; hostile bundles."""

from __future__ import annotations

from confaudit.redact import Redactor
import base64
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from confaudit.evidence import SCHEMA_VERSION
from confaudit.evidence.schema import validate_bundle
from confaudit.telemetry import enrich

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
EMAIL = "auditor@example.org"
ROOM = "Quarterly Board Sync"
PEOPLE = ["Dana Scully", "Fox Mulder"]


def _bundle(**sections: Any) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "tool": {"name": "confaudit", "version": "test"}, "inputs": [],
            "complete": True, "warnings": [], "session": None, "phases": [], **sections}


def _run(bundle: dict[str, Any], **known: Any) -> dict[str, Any]:
    enrich(bundle, first_party=known.get("first_party", ["example-rooms.test"]), room_names=known.get("rooms", [ROOM]),
           participants=known.get("people", PEOPLE), entity_lists=[], redactor=Redactor.default())
    mine = ("parties", "data_flows", "phase_summary", "room_links", "entity_lists", "<root>")
    problems = [p for p in validate_bundle(bundle) if p.startswith(mine)]  # other stages' fixtures are partial
    assert problems == [], problems[:5]
    return bundle


def _explicit(bundle: dict[str, Any]) -> dict[str, set[str]]:
    """party domain -> categories the page chose to send."""
    return {p["domain"]: set(p["categories"]) for p in bundle["parties"]}


def _http(rid: str, ts: float, url: str, body: Any = None, headers: list | None = None, method: str = "POST") -> dict:
    host = url.split("/")[2]
    rec = {"id": rid, "ts": ts, "method": method, "url": url, "scheme": "https", "host": host, "port": 443,
           "path": "/" + url.split("/", 3)[3].split("?")[0] if url.count("/") > 2 else "/", "status": 204,
           "request_headers": headers if headers is not None else [["User-Agent", UA], ["Accept-Language", "en-GB"]],
           "response_headers": [], "request_body": None, "response_body": None, "client": None, "server": None,
           "source": "fixture", "flow": None}
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        rec["request_body"] = {"content_type": "application/json", "encoding": "identity", "size": len(text),
                               "truncated": False, "cap": 262144, "text": text}
    return rec


def test_first_party_gets_device_data_third_party_gets_room_and_people() -> None:
    hashed = hashlib.sha256(EMAIL.encode()).hexdigest()
    bundle = _bundle(session={"accounts": [EMAIL]}, http=[
        _http("h1", 10.0, "https://api.example-rooms.test/v1/telemetry",
              {"events": [{"ua": UA, "screen": {"width": 2560, "height": 1440}, "tz": "Europe/Zurich", "h": hashed}]}),
        _http("h2", 11.0, "https://collect.tracker.test/e?r=" + base64.b64encode(ROOM.encode()).decode(),
              {"batch": [{"p": "Dana Scully"}, {"p": "Fox Mulder"}]}),
        _http("h3", 12.0, "https://api.example-rooms.test/v1/health", {"build": "4.2.1", "ok": True, "seq": 7}),
    ])
    _run(bundle)
    assert _explicit(bundle) == {"example-rooms.test": {"browser", "screen", "timezone", "account", "technical"},
                                 "tracker.test": {"room_name", "participants"}}
    first = next(p for p in bundle["parties"] if p["domain"] == "example-rooms.test")
    third = next(p for p in bundle["parties"] if p["domain"] == "tracker.test")
    assert first["first_party"] is True and third["first_party"] is False
    assert first["implicit_categories"] == ["browser", "locale"]
    assert first["request_count"] == 2 and third["request_count"] == 1 and third["bytes_sent"] > 0
    hashed_flow = next(d for d in bundle["data_flows"] if d["category"] == "account")
    assert hashed_flow["field_path"] == "events[0].h" and hashed_flow["reasons"] == ["known:email sha256"]
    room_flow = next(d for d in bundle["data_flows"] if d["category"] == "room_name")
    assert (room_flow["location"], room_flow["field_path"]) == ("query", "r")
    assert room_flow["reasons"] == ["known:room_name base64", "known:room_name"]  # raw, then decoded
    assert room_flow["evidence"] == [{"kind": "http", "id": "h2"}]
    people = [d for d in bundle["data_flows"] if d["category"] == "participants"]
    assert [d["field_pattern"] for d in people] == ["batch[*].p"] and people[0]["count"] == 2
    # the control request (h3) added nothing but technical fields
    h3 = {d["category"] for d in bundle["data_flows"] if {"kind": "http", "id": "h3"} in d["evidence"] and not d["implicit"]}
    assert h3 == {"technical"}


def test_hashed_email_from_session_accounts() -> None:
    bundle = _bundle(session={"accounts": [EMAIL]}, http=[
        _http("h1", 1.0, "https://api.example-rooms.test/t", {"h": hashlib.sha256(EMAIL.encode()).hexdigest()})])
    _run(bundle)
    flow = next(d for d in bundle["data_flows"] if d["category"] == "account")
    assert flow["reasons"] == ["known:email sha256"] and flow["field_path"] == "h"


def test_email_seen_in_clear_is_traced_when_hashed_elsewhere() -> None:
    bundle = _bundle(http=[
        _http("h1", 1.0, "https://login.example-rooms.test/signin", {"login": EMAIL}),
        _http("h2", 2.0, "https://px.tracker.test/p?ud=" + hashlib.md5(EMAIL.encode()).hexdigest(), method="GET")])
    _run(bundle)
    tracker = [d for d in bundle["data_flows"] if d["party"] == "tracker.test" and d["category"] == "account"]
    assert tracker and tracker[0]["reasons"] == ["known:email md5"]


def test_phone_seen_in_clear_is_traced_when_hashed_as_e164_digits() -> None:
    digits_hash = hashlib.sha256(b"447700900123").hexdigest()
    bundle = _bundle(http=[
        _http("h1", 1.0, "https://api.example-rooms.test/profile", {"phone": "+44 7700 900123"}),
        _http("h2", 2.0, "https://px.tracker.test/tr?ud_ph=" + digits_hash, method="GET")])
    _run(bundle)
    tracker = [d for d in bundle["data_flows"] if d["party"] == "tracker.test" and d["category"] == "account"]
    assert tracker and tracker[0]["reasons"] == ["known:phone sha256-normalised"]
    session = _bundle(session={"phones": ["+1 (415) 555-0100"]}, http=[
        _http("h1", 1.0, "https://px.tracker.test/p?x=" + hashlib.md5(b"+14155550100").hexdigest(), method="GET")])
    _run(session)
    assert [d["reasons"] for d in session["data_flows"] if d["category"] == "account"] == [["known:phone md5-normalised"]]


def test_phases_single_out_audio_metrics_and_audio_rates_while_muted() -> None:
    bundle = _bundle(
        phases=[{"phase": "lobby", "ts": 100.0}, {"phase": "in_call", "ts": 110.0}, {"phase": "muted", "ts": 120.0},
                {"phase": "unmuted", "ts": 140.0}],
        http=[_http("h1", 105.0, "https://api.example-rooms.test/a", {"tz": "UTC"})],
        websocket=[{"id": "w1", "http_id": "h1", "ts": 125.0, "from_client": True, "type": "text", "size": 40,
                    "content": json.dumps({"stats": {"audioLevel": 0.02, "speaking": True}}),
                    "host": "api.example-rooms.test", "url": "wss://api.example-rooms.test/ws"},
                   {"id": "w2", "http_id": "h1", "ts": 126.0, "from_client": False, "type": "text", "size": 40,
                    "content": json.dumps({"participants": PEOPLE}), "host": "api.example-rooms.test", "url": ""}],
        flows=[{"id": "f1", "first_seen": 110.0, "last_seen": 150.0}],  # streams take their span from the flow
        media_streams=[{"id": "m1", "flow": "f1", "kind": "audio", "packets": 2000, "bytes": 200000, "direction": "forward"},
                       {"id": "m2", "flow": "f2", "kind": "video", "packets": 9, "bytes": 9,
                        "first_seen": 110.0, "last_seen": 150.0}],
    )
    _run(bundle)
    summary = {s["phase"]: s for s in bundle["phase_summary"]}
    assert [s["phase"] for s in bundle["phase_summary"]] == ["lobby", "in_call", "muted", "unmuted"]
    muted = summary["muted"]
    assert muted["muted"] is True and summary["unmuted"]["muted"] is False
    audio_ids = set(muted["audio_metrics_flows"])
    audio_flows = [d for d in bundle["data_flows"] if d["id"] in audio_ids]
    assert {d["field_path"] for d in audio_flows} == {"stats.audioLevel", "stats.speaking"}
    assert all(d["phase"] == "muted" for d in audio_flows)
    assert summary["lobby"]["categories"] == {"timezone": 1} and summary["lobby"]["requests"] == 1
    assert muted["messages"] == 1  # server->client messages are not data sent to the party
    assert (muted["duration"], muted["bytes_sent"]) == (20.0, 40)
    assert summary["unmuted"]["duration"] == 10.0  # until the last event seen (media last_seen 150)
    media = muted["audio_media"]
    assert [(m["stream"], m["estimated"]) for m in media] == [("m1", True)]
    assert media[0]["packets"] == pytest.approx(1000) and media[0]["packets_per_s"] == pytest.approx(50)
    assert summary["unmuted"]["end"] is None and summary["unmuted"]["audio_media"][0]["packets_per_s"] == pytest.approx(50)
    assert "participants" not in {d["category"] for d in bundle["data_flows"]}


def test_secrets_never_reach_examples_and_examples_are_capped() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    bundle = _bundle(http=[_http("h1", 1.0, "https://api.example-rooms.test/x?access_token=PLAINTOKEN123",
                                 {"password": "hunter2hunter2", "note": f"Bearer {jwt}", "long": "z" * 500,
                                  "sdp": "v=0\r\na=ice-pwd:ICEPWDSECRET0123456789\r\n"},
                                 headers=[["Cookie", "sid=COOKIESECRET"], ["X-Api-Key", "APIKEYSECRET"]])])
    _run(bundle)
    dumped = json.dumps(bundle["data_flows"])
    for secret in ("PLAINTOKEN123", "hunter2hunter2", jwt, "COOKIESECRET", "APIKEYSECRET", "ICEPWDSECRET"):
        assert secret not in dumped
    assert all(len(d["example"]) <= 120 for d in bundle["data_flows"])


def test_opaque_and_truncated_payloads_fail_closed() -> None:
    rec = _http("h1", 1.0, "https://api.example-rooms.test/bin")
    rec["request_body"] = {"content_type": "application/octet-stream", "encoding": "identity", "size": 300,
                           "truncated": True, "cap": 64, "base64": base64.b64encode(bytes(range(200, 256)) * 5).decode()}
    bundle = _run(_bundle(http=[rec]))
    party = bundle["parties"][0]
    assert party["opaque_payloads"] == 1 and party["opaque_bytes"] == 280 and party["truncated_payloads"] == 1
    assert any("truncated" in w for w in bundle["warnings"])


def test_cleartext_http_from_packet_captures_is_decoded_too() -> None:
    bundle = _bundle(flows=[{"id": "f3", "first_seen": 5.0, "last_seen": 6.0, "bytes": 900}],
                     http_plain=[{"flow": "f3", "method": "GET", "host": "beacon.tracker.test:8080",
                                  "target": "/b?tz=Europe%2FLisbon&room=Quarterly%20Board%20Sync"},
                                 {"flow": "f9", "method": "GET", "host": None, "target": "/x"}])
    _run(bundle)
    party = bundle["parties"][0]
    assert (party["domain"], party["sources"], party["request_count"], party["flow_bytes"]) == (
        "tracker.test", ["http_plain"], 1, 900)
    assert party["categories"] == ["room_name", "timezone"]
    assert bundle["data_flows"][0]["evidence"] == [{"kind": "flow", "id": "f3"}]


def test_room_links_from_session_pattern() -> None:
    bundle = _bundle(session={"room_link_pattern": r"https://example-rooms\.test/r/(?P<id>[A-Za-z0-9]{10})"}, http=[
        _http("h1", 1.0, "https://example-rooms.test/r/Ab3dE6gH9k", method="GET"),
        _http("h2", 2.0, "https://api.example-rooms.test/create", {"x": 1},
              headers=[["Referer", "https://example-rooms.test/r/Zz1Yy2Xx3W"]])])
    bundle["http"][1]["response_body"] = {"content_type": "application/json", "text": '{"link":"https://example-rooms.test/r/Q1w2E3r4T5"}'}
    _run(bundle)
    links = bundle["room_links"]
    assert links["samples"] == 3 and links["distinct_ids"] == 3 and links["alphabet_size"] == 62
    assert links["candidate_urls"] == ["https://example-rooms.test/r/Ab3dE6gH9k", "https://api.example-rooms.test/create"]
    bad = _run(_bundle(session={"room_link_pattern": "(unclosed"}))
    assert bad["room_links"] == {"candidate_urls": []} and any("room links not analysed" in w and "RE2" in w for w in bad["warnings"])


def test_room_link_candidates_without_a_session_pattern() -> None:
    """The check applies a claims file's pattern to candidate_urls: every HTTP then WebSocket URL, each once."""
    bundle = _bundle(http=[_http("h1", 1.0, "https://example-rooms.test/r/Ab3dE6gH9k", method="GET"),
                           _http("h2", 2.0, "https://example-rooms.test/r/Ab3dE6gH9k", method="GET")])
    bundle["websocket"] = [{"id": "w1", "ts": 3.0, "url": "wss://example-rooms.test/signal?room=Zz1Yy2Xx3W"},
                           {"id": "w2", "ts": 4.0, "url": None}]
    assert _run(bundle)["room_links"] == {"candidate_urls": ["https://example-rooms.test/r/Ab3dE6gH9k",
                                                             "wss://example-rooms.test/signal?room=Zz1Yy2Xx3W"]}


def test_room_link_scan_cut_short_by_a_limit_is_a_warning() -> None:
    bundle = _run(_bundle(session={"room_link_pattern": "(x)?a"},
                          http=[_http("h1", 1.0, "https://rooms.test/r/" + "a" * 99_000, method="GET")]))
    assert bundle["room_links"]["stopped"] == "matches" and bundle["room_links"]["complete"] is False
    assert "telemetry: room-link matching stopped by its matches limit after 0 of 1 texts" in bundle["warnings"]


def test_har_through_the_capture_importer(tmp_path: Path) -> None:
    from confaudit.importers import http_sources as importers
    body = json.dumps({"device": {"ua": UA}, "tz": "Asia/Tokyo", "room": ROOM})
    har = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [{
        "startedDateTime": "2026-11-25T08:00:01.000Z", "time": 5,
        "request": {"method": "POST", "url": "https://events.tracker.test/v2?lang=fr-FR", "httpVersion": "HTTP/2",
                    "headers": [{"name": "User-Agent", "value": UA}, {"name": "Content-Type", "value": "application/json"}],
                    "queryString": [{"name": "lang", "value": "fr-FR"}], "cookies": [], "headersSize": -1, "bodySize": len(body),
                    "postData": {"mimeType": "application/json", "text": body}},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/2", "headers": [], "cookies": [],
                     "content": {"size": 0, "mimeType": "text/plain", "text": ""}, "redirectURL": "", "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}, "serverIPAddress": "::1"}]}}
    path = tmp_path / "call.har"
    path.write_text(json.dumps(har))
    partial = importers.load_http_sources([path], redactor=Redactor.default())
    bundle = _bundle(**{k: v for k, v in partial.items() if k not in ("complete", "inputs")})
    _run(bundle, first_party=["example-rooms.test"])
    assert _explicit(bundle) == {"tracker.test": {"browser", "timezone", "room_name", "locale"}}
    lang = next(d for d in bundle["data_flows"] if d["category"] == "locale" and not d["implicit"])
    assert (lang["location"], lang["field_path"], lang["example"]) == ("query", "lang", "fr-FR")


def test_mitmproxy_flows_through_the_flow_file_importer(tmp_path: Path) -> None:
    from confaudit.importers import http_sources as importers
    from mitmproxy import io as mio
    from mitmproxy.test import tflow

    http_flow = tflow.tflow(resp=True)
    http_flow.request.url = "https://api.example-rooms.test/beacon"
    http_flow.request.method = "POST"
    http_flow.request.headers["content-type"] = "application/x-www-form-urlencoded"
    http_flow.request.content = b"sr=1280x720&tz=Europe%2FMadrid&email=" + EMAIL.encode()
    ws_flow = tflow.twebsocketflow()
    ws_flow.request.url = "https://sig.tracker.test/ws"
    from mitmproxy.websocket import WebSocketMessage

    ws_flow.websocket.messages = [WebSocketMessage(1, True, json.dumps({"roster": PEOPLE, "audioLevel": 3}).encode(), 5.0)]
    path = tmp_path / "flows.mitm"
    with path.open("wb") as fh:
        writer = mio.FlowWriter(fh)
        writer.add(http_flow)
        writer.add(ws_flow)
    partial = importers.load_http_sources([path], redactor=Redactor.default())
    bundle = _bundle(**{k: v for k, v in partial.items() if k not in ("complete", "inputs")})
    _run(bundle, first_party=["example-rooms.test"])
    explicit = _explicit(bundle)
    assert explicit["example-rooms.test"] - {"technical"} == {"screen", "timezone", "account"}
    assert explicit["tracker.test"] >= {"participants", "audio_metrics"}


HOSTILE_VALUES: list[Any] = [None, 0, -1, 1e308, True, "x", "", [], {}, [None], [1, "a"], [{}], {"a": None},
                             [{"id": 3, "ts": "NaN", "host": 5}], [{"host": "\x00" * 300, "ts": float("inf")}]]
SECTIONS = ["http", "websocket", "tls", "quic", "dns", "dns_queries", "flows", "media_streams", "phases", "session",
            "tls_clienthello", "stun", "ice_candidates", "http_plain"]


def test_any_malformed_bundle_gives_empty_results_not_a_crash() -> None:
    rng = random.Random(11)
    for _ in range(300):
        bundle: dict[str, Any] = {"warnings": []}
        for section in rng.sample(SECTIONS, k=rng.randint(1, len(SECTIONS))):
            bundle[section] = rng.choice(HOSTILE_VALUES)
        enrich(bundle, first_party=rng.choice([[], ["x"], ["", " "]]), room_names=rng.choice([[], ["a"], ["abc"]]),
               participants=[], entity_lists=[], redactor=Redactor.default())
        assert isinstance(bundle["parties"], list) and isinstance(bundle["data_flows"], list)
        assert not any("analysis failed" in w for w in bundle["warnings"]), bundle
    empty: dict[str, Any] = {}
    enrich(empty, first_party=[], room_names=[], participants=[], entity_lists=[], redactor=Redactor.default())
    assert empty["parties"] == [] and empty["data_flows"] == [] and empty["room_links"] == {"candidate_urls": []}


def _mutate(obj: Any, rng: random.Random) -> Any:
    if isinstance(obj, dict):
        return {k: (_mutate(v, rng) if rng.random() > 0.15 else rng.choice(HOSTILE_VALUES)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mutate(v, rng) for v in obj if rng.random() > 0.1]
    if isinstance(obj, str) and rng.random() < 0.2:
        return rng.choice(["", "\ud800"[:0] + "\x00", obj * 50, obj[::-1], "{" * 300, "%" * 5])
    return obj


def test_mutated_realistic_bundles_never_fail_the_analysis() -> None:
    rng = random.Random(5)
    base = _bundle(
        session={"accounts": [EMAIL], "room_link_pattern": r"/r/(?P<id>\w+)"},
        phases=[{"phase": "lobby", "ts": 1.0}, {"phase": "muted", "ts": 2.0}],
        http=[_http("h1", 1.5, "https://api.example-rooms.test/r/AbC?x=1", {"events": [{"ua": UA, "tz": "UTC"}]}),
              _http("h2", 2.5, "https://t.tracker.test/e", {"r": ROOM, "p": PEOPLE})],
        websocket=[{"id": "w1", "http_id": "h1", "ts": 2.2, "from_client": True, "type": "text", "size": 9,
                    "content": json.dumps({"audioLevel": 1}), "host": "api.example-rooms.test"}],
        tls=[{"flow": "f1", "sni": "meet.google.com", "certificate_names": ["*.google.com"]}],
        dns=[{"name": "t.tracker.test", "answers": ["192.0.2.1"], "cnames": ["x.sentry.io"]}],
        flows=[{"id": "f1", "dst": "192.0.2.1", "bytes": 10, "first_seen": 1.0, "last_seen": 3.0}],
        media_streams=[{"id": "m1", "flow": "f1", "kind": "audio", "packets": 10, "bytes": 100}],
        http_plain=[{"flow": "f1", "method": "GET", "host": "a.tracker.test", "target": "/p?tz=UTC"}],
        stun=[{"flow": "f1", "realms": ["turner.facebook"]}])
    for _ in range(int(os.environ.get("CONFAUDIT_FUZZ_ROUNDS", "150"))):
        bundle = _mutate(json.loads(json.dumps(base)), rng)
        bundle["warnings"] = []
        enrich(bundle, first_party=["example-rooms.test"], room_names=[ROOM], participants=PEOPLE, entity_lists=[], redactor=Redactor.default())
        assert not any("analysis failed" in w for w in bundle["warnings"])
        json.dumps({k: bundle[k] for k in ("parties", "data_flows", "phase_summary", "room_links", "entity_lists")},
                   allow_nan=False)


def test_output_is_deterministic() -> None:
    def build() -> str:
        bundle = _bundle(http=[_http(f"h{i}", float(i), f"https://s{i % 3}.tracker.test/e", {"ua": UA, "n": i})
                               for i in range(30)])
        _run(bundle)
        return json.dumps(bundle, sort_keys=True)

    assert build() == build()


def test_data_flow_references_are_counted_once_each_without_holding_them() -> None:
    """A field in many events: each (kind, id) counts once, also when several events share one (plain HTTP
    requests on one flow) or one event carries the field twice; the data flow is as close to the vendor as the
    closest record that carried it, named by the first such record in (kind, id) order."""
    flows = [{"id": f, "transport": "tcp", "src": "10.0.0.2", "sport": 40000 + n, "dst": "203.0.113.5", "dport": 80,
              "first_seen": 1795597200.0 + n, "last_seen": 1795597201.0 + n} for n, f in enumerate(("f1", "f2"))]
    plain = [{"host": "beacon.tracker.test", "target": f"/p?email={EMAIL}&n={n}", "flow": flow}
             for n, flow in enumerate(("f1", "f1", "f2", "f1"))]
    twice = _http("h3", 1795597204.0, f"https://beacon.tracker.test/q?email={EMAIL}&email=second@example.org&mail={EMAIL}")
    requests = [_http(h, 1795597203.0, f"https://beacon.tracker.test/q?email={EMAIL}") for h in ("h1", "h2")]
    bundle = _run(_bundle(flows=flows, http_plain=plain, http=[*requests, twice],
                          tls=[{"id": "t1", "sni": "beacon.tracker.test", "flow": None}]))
    email = [d for d in bundle["data_flows"] if d["category"] == "account" and d["location"] == "query"]
    by_path = {d["field_pattern"]: d for d in email}
    assert sorted(by_path) == ["email", "mail"]
    assert by_path["email"]["count"] == 8 and by_path["email"]["evidence_count"] == 5
    assert by_path["email"]["evidence"] == [{"kind": "http", "id": "h1"}, {"kind": "http", "id": "h2"},
                                            {"kind": "http", "id": "h3"}, {"kind": "flow", "id": "f1"},
                                            {"kind": "flow", "id": "f2"}]
    assert by_path["mail"]["evidence_count"] == 1
    reason = by_path["email"]["attribution"]["reasons"][0]
    assert reason.startswith("sent in flow f1: ")  # all unknown alike: the first in (kind, id) order speaks


def test_a_bundle_whose_warnings_are_no_list_still_gets_its_warnings() -> None:
    """A hostile bundle's ``warnings`` string is replaced by a list, so the room-link warning is not an AttributeError."""
    bundle = _bundle(session={"room_link_pattern": "(unclosed"})
    bundle["warnings"] = "not a list"
    enrich(bundle, first_party=[], room_names=[], participants=[], entity_lists=[], redactor=Redactor.default())
    assert any("room links not analysed" in w for w in bundle["warnings"])


def test_a_websocket_size_that_is_no_byte_count_counts_nothing() -> None:
    """A bool or negative ``size`` is no byte count (as for an HTTP body's declared size): it adds 0 bytes, never subtracts."""
    def sent(size: Any) -> int:
        bundle = _bundle(http=[_http("h1", 1.0, "https://vendor.test/ws", method="GET")])
        bundle["websocket"] = [{"id": "w1", "ts": 2.0, "http_id": "h1", "from_client": True, "type": "text",
                                "size": size, "content": '{"a": 1}', "truncated": False, "host": "vendor.test",
                                "url": "wss://vendor.test/ws", "flow": None, "source": "fixture"}]
        _run(bundle, first_party=["vendor.test"])
        return next(p["bytes_sent"] for p in bundle["parties"] if p["domain"] == "vendor.test")

    honest = sent(8)
    assert sent(-1_000_000) == sent(True) == sent(0) == honest - 8 >= 0


def test_a_party_keeps_its_first_field_patterns_per_category_and_counts_the_fields_left_out() -> None:
    from confaudit.telemetry.fold import MAX_PATTERNS_PER_CATEGORY

    extra = 7
    # every request sends one header no list knows (a "technical" field) under a name of its own, and the same
    # known header twice: the first MAX_PATTERNS_PER_CATEGORY names become data flows, the rest are counted
    recs = [_http(f"h{i}", 1000.0 + i, "https://api.example-rooms.test/x", method="GET",
                  headers=[[f"X-Probe-{i}", "on"], ["Accept-Language", "en-GB"], ["Accept-Language", "en-GB"]])
            for i in range(MAX_PATTERNS_PER_CATEGORY + extra)]
    bundle = _run(_bundle(http=recs))
    [party] = [p for p in bundle["parties"] if p["domain"] == "example-rooms.test"]
    probes = [f for f in bundle["data_flows"] if f["field_pattern"].startswith("x-probe-")]
    assert len(probes) == MAX_PATTERNS_PER_CATEGORY
    assert {f["field_pattern"] for f in probes} == {f"x-probe-{i}" for i in range(MAX_PATTERNS_PER_CATEGORY)}
    assert all(f["count"] == 1 and f["evidence_count"] == 1 for f in probes)
    assert party["omitted_fields"] == extra
    [language] = [f for f in bundle["data_flows"] if f["field_pattern"] == "accept-language"]
    assert language["count"] == 2 * len(recs)  # every hit counted
    assert language["evidence_count"] == len(recs)  # each request once
    assert language["evidence"] == [{"kind": "http", "id": f"h{i}"} for i in range(20)]
