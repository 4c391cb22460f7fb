"""Attribution rules on crafted bundles: names, initiator chains, special-use names, published ranges, the
background list, and re-attribution at check time."""

from __future__ import annotations

from confaudit.redact import Redactor
import copy
import json
from pathlib import Path

import pytest

from confaudit.errors import InputError
from confaudit.telemetry import enrich
from confaudit.telemetry.attributed import attributed_view, builtin_entities
from confaudit.telemetry.attribution import attribute
from confaudit.telemetry.background import background_list
from confaudit.telemetry.entities import load_entity_maps, special_use_name
from confaudit.telemetry.initiators import har_initiator, origin_of
from confaudit.telemetry.names import vendor_names

PAGE = "https://rooms.vendor.example/room/blue-lagoon"


def _enrich(bundle: dict, first_party: list[str]) -> dict:
    bundle.setdefault("warnings", [])
    enrich(bundle, first_party=first_party, room_names=[], participants=[], entity_lists=[], redactor=Redactor.default())
    return bundle


def _req(rid: str, url: str, *, referer: str | None = PAGE, dest: str = "empty", flow: str | None = None) -> dict:
    host = url.split("/")[2]
    headers = [["sec-fetch-dest", dest]] + ([["referer", referer]] if referer else [])
    return {"id": rid, "host": host, "url": url, "scheme": url.split(":")[0], "method": "GET", "request_headers": headers,
            "flow": flow}


def _roles(bundle: dict, key: str, field: str) -> dict[str, str]:
    return {str(r.get(field)): r["attribution"]["role"] for r in bundle[key]}


@pytest.mark.parametrize("name", ["lucas-imac.local", "_googlecast._tcp.local", "4.2.0.192.in-addr.arpa", "cansaqcq",
                                  "ssl.gstatic.com.lan", "b._dns-sd._udp.ntop.org", "router.home.arpa", "x.localhost",
                                  "nothing.invalid", "printer.internal"])
def test_special_use_names_are_never_parties_and_are_background(name: str) -> None:
    assert special_use_name(name)
    bundle = _enrich({"dns": [{"name": name, "answers": ["192.0.2.7"]}],
                      "tls": [{"flow": "f1", "sni": "api.vendor.example", "version": "TLS 1.3"}]}, ["vendor.example"])
    assert [p["domain"] for p in bundle["parties"]] == ["vendor.example"]
    attribution = bundle["dns"][0]["attribution"]
    assert attribution["role"] == "background" and "never a party" in attribution["reasons"][0]


@pytest.mark.parametrize("name", ["www.facebook.com", "api.example-rooms.test", "vendor.example", "192.0.2.1"])
def test_real_names_are_not_special(name: str) -> None:
    assert special_use_name(name) is None


def test_published_ranges_longest_prefix_and_user_lists(tmp_path: Path) -> None:
    emap = load_entity_maps([])
    assert emap.lookup_address("52.114.250.152").entity == "Microsoft"  # Teams media 52.112.0.0/14
    assert emap.lookup_address("2603:1063::7").entity == "Microsoft"
    assert emap.lookup_address("91.108.8.8").entity == "Telegram"
    assert emap.lookup_address("31.13.93.48").entity == "Meta"  # WhatsApp relay in whatsapp_login_call.pcap
    assert emap.lookup_address("192.0.2.1") is None and emap.lookup_address("not-an-address") is None
    party = _enrich({"tls": [{"flow": "f1", "sni": "91.108.8.8", "version": "TLS 1.2"}]}, ["Telegram"])["parties"][0]
    assert (party["entity"], party["entity_source"], party["first_party"]) == ("Telegram", "network", True)
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"name": "mine", "licence": "CC0", "entities": [
        {"entity": "Narrow Co", "domains": [], "networks": ["52.114.250.0/24"], "source": "test"}]}))
    assert load_entity_maps([mine]).lookup_address("52.114.250.152").entity == "Narrow Co"
    mine.write_text(json.dumps({"entities": [{"entity": "X", "domains": [], "networks": ["300.1.2.0/24"]}]}))
    with pytest.raises(InputError, match="invalid network '300.1.2.0/24'"):
        load_entity_maps([mine])


def test_every_background_entry_cites_its_documentation() -> None:
    services = background_list().services
    ids = [s.id for s in services]
    assert len(ids) == len(set(ids)) and len(services) >= 30
    for service in services:
        assert service.source.startswith("https://"), service
        assert service.domains or service.ports, service
        assert all(d == d.lower().strip(".") and "." in d for d in service.domains), service
    assert background_list().match_host("query.ess.apple.com").service.id == "apple-identity"
    assert background_list().match_host("update.googleapis.com").service.id == "google-chrome-update"
    assert background_list().match_host("www.apple.com") is None


def test_a_first_party_name_more_specific_than_the_background_entry_wins() -> None:
    bundle = {"tls": [{"flow": "f1", "sni": "courier.push.apple.com", "version": "TLS 1.2"},
                      {"flow": "f2", "sni": "gs-loc.apple.com", "version": "TLS 1.2"}]}
    emap = builtin_entities()
    by_entity = attribute(bundle, vendor_names(["Apple"], emap), emap).records["tls"]
    assert [a.role for a in by_entity] == ["background", "background"]  # an entity is less specific than any entry
    explicit = attribute(bundle, vendor_names(["push.apple.com"], emap), emap).records["tls"]
    assert [a.role for a in explicit] == ["vendor", "background"]


def test_frames_the_vendor_page_loaded_carry_the_chain_other_pages_do_not() -> None:
    bundle = _enrich({"http": [
        _req("h1", PAGE, referer=None, dest="document"),
        _req("h2", "https://widget.partner.example/embed", dest="iframe"),
        _req("h3", "https://beacon.adnet.example/b", referer="https://widget.partner.example/embed"),
        _req("h4", "https://news.unrelated.example/", referer=None, dest="document"),
        _req("h5", "https://beacon.other.example/b", referer="https://news.unrelated.example/"),
        _req("h6", "https://update.googleapis.com/service/update2/json", referer=None),
        _req("h7", "https://mystery.example/x", referer=None),
    ]}, ["vendor.example"])
    roles = _roles(bundle, "http", "id")
    assert roles == {"h1": "vendor", "h2": "third_party_of_vendor", "h3": "third_party_of_vendor", "h4": "unknown",
                     "h5": "background", "h6": "background", "h7": "unknown"}
    reasons = {r["id"]: r["attribution"]["reasons"][0] for r in bundle["http"]}
    assert "vendor's page https://widget.partner.example (Referer)" in reasons["h3"]
    assert "https://news.unrelated.example (Referer), which is not the vendor's" in reasons["h5"]
    assert "google-chrome-update" in reasons["h6"]
    assert "/room/" not in json.dumps(bundle["traffic_attribution"]), "a page path (room name) leaked into reasons"
    # The frame was not loaded by the vendor: its own requests are another page's.
    unframed = _enrich({"http": [_req("h3", "https://beacon.adnet.example/b", referer="https://widget.partner.example/x")]},
                       ["vendor.example"])
    assert unframed["http"][0]["attribution"]["role"] == "background"


def test_flows_follow_their_requests_names_media_and_ports() -> None:
    bundle = _enrich({
        "flows": [{"id": "f1", "transport": "tcp", "src": "10.0.0.2", "sport": 50001, "dst": "198.51.100.1", "dport": 443},
                  {"id": "f2", "transport": "tcp", "src": "10.0.0.2", "sport": 50002, "dst": "198.51.100.2", "dport": 443},
                  {"id": "f3", "transport": "udp", "src": "10.0.0.2", "sport": 50008, "dst": "203.0.113.9", "dport": 3478,
                   "protocol": "turn"},
                  {"id": "f10", "transport": "udp", "src": "10.0.0.2", "sport": 50010, "dst": "203.0.113.10", "dport": 3478,
                   "protocol": "turn"},
                  {"id": "f4", "transport": "udp", "src": "10.0.0.2", "sport": 123, "dst": "203.0.113.50", "dport": 123},
                  {"id": "f5", "transport": "udp", "src": "10.0.0.2", "sport": 5353, "dst": "224.0.0.251", "dport": 5353},
                  {"id": "f6", "transport": "tcp", "src": "10.0.0.2", "sport": 50006, "dst": "203.0.113.77", "dport": 443,
                   "protocol": "tls"},
                  {"id": "f7", "transport": "tcp", "src": "10.0.0.2", "sport": 50007, "dst": "198.51.100.3", "dport": 443},
                  {"id": "f8", "transport": "udp", "src": "10.0.0.2", "sport": 50008, "dst": "203.0.113.8", "dport": 50008},
                  {"id": "f9", "transport": "udp", "src": "10.0.0.2", "sport": 50009, "dst": "203.0.113.9", "dport": 3480}],
        "media_streams": [{"id": "m1", "flow": "f8"}],
        "media_path": {"endpoints": [{"address": "203.0.113.9", "role": "server", "flows": ["f9"]}]},
        "http": [_req("h1", "https://cdn.thirdparty.example/lib.js", flow="f1")],
        "dns": [{"name": "api.vendor.example", "answers": ["198.51.100.2"]}],
        "stun": [{"flow": "f3", "messages": 4, "classic": 0}, {"flow": "f6", "messages": 2, "classic": 2},
                 {"flow": "f10", "messages": 4, "classic": 0}],
        "tls": [{"flow": "f6", "sni": None, "version": "TLS 1.2", "certificate_names": []}],
    }, ["vendor.example"])
    roles = _roles(bundle, "flows", "id")
    # f3's TURN shares the socket 10.0.0.2:50008 with the call's media; f10's TURN exchange is tied to no media
    assert roles == {"f1": "third_party_of_vendor", "f2": "vendor", "f3": "vendor", "f4": "background",
                     "f5": "background", "f6": "unknown", "f7": "unknown", "f8": "vendor", "f9": "vendor",
                     "f10": "unknown"}
    reasons = {f["id"]: f["attribution"]["reasons"][0] for f in bundle["flows"]}
    assert "api.vendor.example" in reasons["f2"] and "STUN/TURN" in reasons["f3"] and "udp/123" in reasons["f4"]
    assert "10.0.0.2:50008" in reasons["f3"]
    assert "multicast" in reasons["f5"] and "media stream m1" in reasons["f8"] and "media path (server" in reasons["f9"]
    # TLS application data reads as "classic" STUN: it must not make a TLS flow the call's
    assert "STUN" not in reasons["f6"] and bundle["tls"][0]["attribution"]["role"] == "unknown"


def test_har_initiator_origins_only() -> None:
    entry = {"_initiator": {"type": "script", "stack": {"callFrames": [
        {"url": "https://cdn.vendor.example/app.js?room=secret-room", "lineNumber": 3}],
        "parent": {"callFrames": [{"url": "https://rooms.vendor.example/room/secret-room"}]}}}}
    assert har_initiator(entry) == {"type": "script", "origins": ["https://cdn.vendor.example", "https://rooms.vendor.example"]}
    assert har_initiator({"_initiator": {"type": "parser", "url": "javascript:void(0)"}}) == {"type": "parser", "origins": []}
    assert har_initiator({}) is None and origin_of("null") is None and origin_of("https://[::1]:8443/x") == "https://[::1]:8443"
    bundle = _enrich({"http": [dict(_req("h1", "https://t.tracker.example/p", referer=None),
                                    initiator=har_initiator(entry))]}, ["vendor.example"])
    assert bundle["http"][0]["attribution"]["role"] == "third_party_of_vendor"
    assert "(initiator)" in bundle["http"][0]["attribution"]["reasons"][0]


def test_har_import_keeps_the_initiator(tmp_path: Path) -> None:
    from confaudit.importers.http_sources import load_http_sources

    har = {"log": {"version": "1.2", "entries": [{
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
        "_initiator": {"type": "parser", "url": "https://rooms.vendor.example/room/x", "lineNumber": 9},
        "request": {"method": "GET", "url": "https://t.tracker.example/p.gif", "httpVersion": "HTTP/2", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"size": 0, "mimeType": "image/gif"}}}]}}
    path = tmp_path / "s.har"
    path.write_text(json.dumps(har))
    rec = load_http_sources([path], redactor=Redactor.default())["http"][0]
    assert rec["initiator"] == {"type": "parser", "origins": ["https://rooms.vendor.example"]}


def test_check_time_names_more_of_the_vendor_and_keeps_stored_roles() -> None:
    bundle = _enrich({"tls": [{"flow": "f1", "sni": "chat.vendor.example", "version": "TLS 1.2"},
                              {"flow": "f2", "sni": "edge.other.example", "version": "TLS 1.2"}]}, [])
    assert [t["attribution"]["role"] for t in bundle["tls"]] == ["unknown", "unknown"]
    assert bundle["traffic_attribution"]["first_party"] == []
    view = attributed_view(bundle, ["vendor.example"])
    assert [t["attribution"]["role"] for t in view["tls"]] == ["vendor", "unknown"]
    assert bundle["tls"][0]["attribution"]["role"] == "unknown", "the view must not mutate the bundle"
    assert view["traffic_attribution"]["first_party"] == ["vendor.example"]
    stored = copy.deepcopy(bundle)
    stored["tls"][1]["attribution"] = {"role": "vendor", "reasons": ["built with --first-party other.example"]}
    assert attributed_view(stored, ["vendor.example"])["tls"][1]["attribution"]["role"] == "vendor"
    stored["tls"][0]["attribution"] = {"role": "background", "reasons": ["a forged role"]}
    assert attributed_view(stored, ["vendor.example"])["tls"][0]["attribution"]["role"] == "vendor"


def test_hostile_sections_never_break_attribution() -> None:
    junk: list = [None, 1, "x", [], {"flow": 3, "sni": ["a"]}, {"host": {"a": 1}, "request_headers": "oops"},
                  {"request_headers": [["origin"], ["referer", 5], 7]}, {"name": "\x00\u202e.example"}]
    bundle = {key: list(junk) for key in ("flows", "http", "websocket", "http_plain", "tls", "quic", "dns",
                                          "tls_clienthello", "dns_queries", "stun", "dtls", "media_streams", "sdp")}
    bundle["media_path"] = {"endpoints": junk}
    view = attributed_view(bundle, ["vendor.example", "", "x y"])
    for key in ("tls", "http", "dns"):
        assert len(view[key]) == len(junk)
        assert all(r.get("attribution", {}).get("role") in ("vendor", "third_party_of_vendor", "background", "unknown")
                   for r in view[key] if isinstance(r, dict))
    assert attributed_view({}, [])["traffic_attribution"]["hosts"] == []


def test_request_headers_read_as_the_first_matching_pair() -> None:
    """``RequestHeaders`` (each shared header list indexed once) gives what a scan of the pairs gives: the
    first pair whose name matches case-insensitively, for shared, unshared and malformed lists alike."""
    from confaudit.telemetry.initiators import RequestHeaders, header

    def scanned(rec: dict, name: str) -> str | None:
        pairs = rec.get("request_headers")
        for pair in pairs if isinstance(pairs, list) else ():
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and str(pair[0]).lower() == name:
                return str(pair[1])
        return None

    shared = [["Origin", "https://a.example"], ["origin", "https://b.example"], ["Sec-Fetch-Dest", " IFrame "]]
    records = [{"request_headers": shared}, {"request_headers": shared},
               {"request_headers": [["REFERER", "https://c.example/x"], ["Referer", "https://d.example/"]]},
               {"request_headers": [["origin"], ["origin", "https://e.example", "extra"], ("Origin", 7), None]},
               {"request_headers": ("not", "a list")}, {"request_headers": None}, {}]
    reader = RequestHeaders()
    for _ in range(2):  # the second round answers from the memo
        for rec in records:
            for name in ("origin", "referer", "sec-fetch-dest", "cookie"):
                assert reader(rec, name) == header(rec, name) == scanned(rec, name), (rec, name)
    assert reader(records[0], "origin") == "https://a.example" and reader(records[3], "origin") == "7"
