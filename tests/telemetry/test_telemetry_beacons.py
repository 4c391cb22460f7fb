"""Widespread beacon formats, written from their vendors' public API docs, come out per category."""

from __future__ import annotations

from confaudit.redact import Redactor
import base64
import json
from urllib.parse import parse_qsl, urlencode, urlsplit

from confaudit.telemetry import enrich

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"


def _req(rid: str, url: str, body: str | None = None, ctype: str = "text/plain") -> dict:
    parts = urlsplit(url)
    rec = {"id": rid, "ts": 1.0, "method": "POST" if body else "GET", "url": url, "host": parts.hostname,
           "path": parts.path, "query": [list(p) for p in parse_qsl(parts.query, keep_blank_values=True)],
           "request_headers": [["User-Agent", UA]]}
    if body is not None:
        rec["request_body"] = {"content_type": ctype, "encoding": "identity", "size": len(body), "text": body}
    return rec


def _categories(*records: dict) -> dict[str, set[str]]:
    bundle = {"warnings": [], "http": list(records)}
    enrich(bundle, first_party=[], room_names=[], participants=[], entity_lists=[], redactor=Redactor.default())
    return {d["field_path"]: {x["category"] for x in bundle["data_flows"] if x["field_path"] == d["field_path"]
                              and x["location"] == d["location"] and not x["implicit"]}
            for d in bundle["data_flows"] if not d["implicit"]}


def test_ga4_collect_query() -> None:
    query = urlencode({"v": "2", "tid": "G-ABC123", "cid": "1234567.1700000000", "ul": "en-gb", "sr": "1440x900",
                       "uap": "macOS", "uapv": "14.1.0", "uafvl": "Chromium;131.0", "en": "page_view",
                       "dl": "https://meet.example/", "_p": "42"})
    cats = _categories(_req("h1", f"https://region1.google-analytics.com/g/collect?{query}"))
    assert cats["cid"] == {"identifier"} and cats["ul"] == {"locale"} and cats["sr"] == {"screen"}
    assert cats["uap"] == cats["uapv"] == {"os"} and cats["uafvl"] == {"browser"} and cats["en"] == {"usage"}
    assert cats["tid"] == cats["_p"] == {"technical"}


def test_segment_track_call() -> None:
    body = json.dumps({"type": "track", "event": "Joined Call", "anonymousId": "507f191e810c19729de860ea",
                       "context": {"userAgent": UA, "locale": "fr-FR", "timezone": "Europe/Paris", "ip": "198.51.100.23",
                                   "screen": {"width": 1920, "height": 1080, "density": 2}},
                       "properties": {"duration": 311}})
    cats = _categories(_req("h1", "https://api.segment.io/v1/t", body, "application/json"))
    assert cats["anonymousId"] == {"identifier"} and cats["context.userAgent"] == {"browser"}
    assert cats["context.locale"] == {"locale"} and cats["context.timezone"] == {"timezone"}
    assert cats["context.ip"] == {"network"} and cats["context.screen.width"] == {"screen"}
    assert cats["event"] == {"usage"} and cats["properties.duration"] == {"usage"} and cats["type"] == {"technical"}


def test_amplitude_form_with_json_event_array() -> None:
    events = [{"device_id": "C8F9E604-F01A-4BD9-95C6-8E5357DF265D", "event_type": "mute", "os_name": "iOS",
               "device_model": "iPhone14,2", "language": "en", "city": "Lisbon"}] * 3
    body = urlencode({"client": "0123456789abcdef", "e": json.dumps(events), "v": "2"})
    cats = _categories(_req("h1", "https://api.amplitude.com/", body, "application/x-www-form-urlencoded"))
    assert cats["e[0].device_id"] == {"identifier"} and cats["e[0].event_type"] == {"usage"}
    assert cats["e[0].os_name"] == {"os"} and cats["e[0].device_model"] == {"device"}
    assert cats["e[0].language"] == {"locale"} and cats["e[0].city"] == {"location"}


def test_mixpanel_base64_data_parameter() -> None:
    data = base64.b64encode(json.dumps([{"event": "call_end", "properties": {
        "distinct_id": "u-42", "$os": "Windows", "$browser": "Chrome", "$screen_height": 1080,
        "mp_country_code": "PT"}}]).encode()).decode()
    cats = _categories(_req("h1", "https://api-js.mixpanel.com/track/", urlencode({"data": data}),
                            "application/x-www-form-urlencoded"))
    assert cats["data[0].properties.distinct_id"] == {"identifier"}
    assert cats["data[0].properties.$os"] == {"os"} and cats["data[0].properties.$browser"] == {"browser"}
    assert cats["data[0].properties.$screen_height"] == {"screen"}
    assert cats["data[0].properties.mp_country_code"] == {"location"}


def test_sentry_envelope_ndjson() -> None:
    lines = [{"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "sent_at": "2026-11-25T08:00:00Z"},
             {"type": "event"},
             {"contexts": {"browser": {"name": "Chrome", "version": "131"}, "os": {"name": "Linux"}},
              "user": {"ip_address": "203.0.113.77", "email": "someone@example.net"},
              "request": {"headers": {"User-Agent": UA}}}]
    body = "\n".join(json.dumps(line) for line in lines)
    cats = _categories(_req("h1", "https://o1.ingest.sentry.io/api/1/envelope/", body))
    assert cats["[2].contexts.browser.name"] == {"browser"} and cats["[2].contexts.os.name"] == {"os"}
    assert cats["[2].user.ip_address"] == {"network"} and cats["[2].user.email"] == {"account"}
    assert cats["[2].request.headers.User-Agent"] == {"browser"}


def test_meta_pixel_advanced_matching() -> None:
    query = urlencode({"id": "123456789", "ev": "PageView", "sw": "1512", "sh": "982", "fbp": "fb.1.1700000000.123",
                       "ud[em]": "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b", "ud[ct]": "lisbon"})
    cats = _categories(_req("h1", f"https://www.facebook.com/tr/?{query}"))
    assert cats["ev"] == {"usage"} and cats["sw"] == cats["sh"] == {"screen"} and cats["fbp"] == {"identifier"}
    assert cats['"ud[em]"'] == {"account", "identifier"} and cats['"ud[ct]"'] == {"location"}
