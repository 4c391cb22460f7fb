"""Parties: registrable domains, entity maps (built-in and user lists), CNAME cloaking, certificates."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
from pathlib import Path

import pytest

from confaudit.errors import InputError
from confaudit.telemetry import enrich
from confaudit.telemetry.entities import load_entity_maps, registrable_domain
from confaudit.telemetry.parties import first_party_from

from support.environment import REPO


def _enrich(bundle: dict, first_party: list[str] | None = None, lists: list[Path] | None = None) -> dict:
    bundle.setdefault("warnings", [])
    enrich(bundle, first_party=first_party or [], room_names=[], participants=[], entity_lists=lists or [], redactor=Redactor.default())
    return bundle


def _party(bundle: dict, domain: str) -> dict:
    found = [p for p in bundle["parties"] if p["domain"] == domain]
    assert len(found) == 1, [p["domain"] for p in bundle["parties"]]
    return found[0]


@pytest.mark.parametrize(("host", "domain"), [
    ("www.facebook.com", "facebook.com"), ("a.b.c.bbc.co.uk", "bbc.co.uk"), ("graph.facebook.com.", "facebook.com"),
    ("static.xx.fbcdn.net", "fbcdn.net"), ("api.example-rooms.test", "example-rooms.test"),
    ("d111111abcdef8.cloudfront.net", "d111111abcdef8.cloudfront.net"), ("192.0.2.1", "192.0.2.1"),
    ("[2001:db8::1]", "2001:db8::1"), ("co.uk", "co.uk"),
])
def test_registrable_domain_offline(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain


def test_builtin_map_longest_suffix_wins() -> None:
    emap = load_entity_maps([])
    assert emap.lookup("web.facebook.com").entity == "Meta"
    assert "advertising" in emap.lookup("connect.facebook.net").categories
    teams = emap.lookup("teams.microsoft.com")
    aria = emap.lookup("mobile.pipe.aria.microsoft.com")
    assert teams.entity == aria.entity == "Microsoft"
    assert "telemetry" in aria.categories and "telemetry" not in teams.categories
    assert emap.lookup("www.googletagmanager.com").categories == ("analytics", "telemetry")
    assert emap.lookup("nothing.invalid") is None
    for entry in emap._by_domain.values():
        assert entry.source, entry


def test_flows_only_bundle_parties_from_sni_and_dns_with_cname_cloaking() -> None:
    bundle = {
        "tls": [{"id": "tls1", "flow": "f1", "sni": "meet.google.com", "certificate_names": ["*.google.com"]},
                {"id": "tls2", "flow": "f2", "sni": "metrics.vendor.test", "certificate_names": []},
                {"id": "tls3", "flow": "f3", "sni": "edge.unknown.test", "certificate_names": ["*.zoom.us", "zoom.us"]}],
        "quic": [{"flow": "f4", "sni": "www.google-analytics.com"}],
        "dns": [{"id": "dns1", "name": "metrics.vendor.test", "answers": ["198.51.100.4"],
                 "cnames": ["metrics.vendor.test.sc.omtrdc.net"]},
                {"id": "dns2", "name": "cdn.vendor.test", "answers": ["198.51.100.9"], "cnames": []}],
        "flows": [{"id": "f1", "dst": "142.250.1.1", "bytes": 1000}, {"id": "f2", "dst": "198.51.100.4", "bytes": 50},
                  {"id": "f5", "dst": "198.51.100.9", "bytes": 70}, {"id": "f3", "bytes": 5}, {"id": "f4", "bytes": 9}],
    }
    _enrich(bundle, first_party=["vendor.test"])
    assert bundle["data_flows"] == [] and bundle["phase_summary"] == []
    google = _party(bundle, "google.com")
    assert google["entity"] == "Google" and google["sources"] == ["tls_sni"] and google["flow_bytes"] == 1000
    assert google["first_party"] is False and google["evidence"][0] == {"kind": "tls", "id": "tls1"}
    cloaked = [p for p in bundle["parties"] if p["domain"] == "vendor.test" and p["entity"] == "Adobe"]
    assert len(cloaked) == 1 and cloaked[0]["entity_source"] == "cname"
    assert cloaked[0]["cname_target"] == "metrics.vendor.test.sc.omtrdc.net" and cloaked[0]["first_party"] is False
    own = [p for p in bundle["parties"] if p["domain"] == "vendor.test" and p["entity"] is None]
    assert own[0]["first_party"] is True and own[0]["flow_bytes"] == 70 and own[0]["hosts"] == ["cdn.vendor.test"]
    by_cert = _party(bundle, "unknown.test")
    assert by_cert["entity"] == "Zoom" and by_cert["entity_source"] == "certificate"
    ga = _party(bundle, "google-analytics.com")
    assert ga["entity"] == "Google" and "analytics" in ga["entity_categories"] and ga["sources"] == ["quic_sni"]


def test_proxy_dns_queries_reveal_cname_chain() -> None:
    bundle = {"dns_queries": [{"id": "d1", "questions": [{"name": "t.rooms.test", "type": 1}],
                               "answers": [{"name": "t.rooms.test", "type": 5, "data": "x.rooms.test"},
                                           {"name": "x.rooms.test", "type": 5, "data": "abc.sentry.io"},
                                           {"name": "abc.sentry.io", "type": 1, "data": "203.0.113.5"}]}]}
    _enrich(bundle)
    party = bundle["parties"][0]
    assert (party["domain"], party["entity"], party["cname_target"]) == ("rooms.test", "Sentry", "abc.sentry.io")
    assert party["cname_chain"] == ["abc.sentry.io", "x.rooms.test"] and party["first_party"] is None


def test_cdn_cname_is_hosting_not_cloaking_and_alias_names_are_not_parties() -> None:
    bundle = {"dns": [{"name": "teams.microsoft.com", "answers": ["203.0.113.9"], "cnames": ["e123.dscb.akamaiedge.net"]},
                      {"name": "e123.dscb.akamaiedge.net", "answers": ["203.0.113.9"], "cnames": []}],
              "stun": [{"flow": "f9", "realms": ["turner.facebook", "not a host"]}],
              "flows": [{"id": "f9", "dst": "31.13.86.54", "bytes": 4000}]}
    _enrich(bundle, first_party=["Microsoft"])
    assert [(p["domain"], p["entity"], p["entity_source"]) for p in bundle["parties"]] == [
        ("microsoft.com", "Microsoft", "host"), ("turner.facebook", "Meta", "host")]
    assert bundle["parties"][0]["cname_chain"] == ["e123.dscb.akamaiedge.net"]
    relay = bundle["parties"][1]
    assert relay["sources"] == ["stun_realm"] and relay["flow_bytes"] == 4000 and relay["first_party"] is False
    assert relay["entity_categories"] == ["relay"]


def test_user_list_overrides_and_is_recorded_with_licence(tmp_path: Path) -> None:
    user = tmp_path / "corp.json"
    user.write_text(json.dumps({"name": "Corp trackers", "licence": "CC-BY-4.0", "entities": [
        {"entity": "Corp Analytics", "domains": ["collect.vendor.test"], "categories": ["analytics"], "source": "corp wiki"}]}))
    disconnect = tmp_path / "services.json"
    disconnect.write_text(json.dumps({"license": "GPL-3.0", "categories": {"Advertising": [
        {"AdCo": {"https://adco.test/": ["adco.test", "adco-cdn.test"]}}]}}))
    ddg = tmp_path / "entity_map.json"
    ddg.write_text(json.dumps({"Pixel Inc": {"properties": ["pixel.test"], "resources": ["px-cdn.test"]}}))
    bundle = {"http": [
        {"id": "h1", "ts": 1, "method": "POST", "url": "https://collect.vendor.test/e", "host": "collect.vendor.test",
         "request_body": {"text": '{"tz":"UTC"}'}},
        {"id": "h2", "ts": 2, "method": "GET", "url": "https://x.adco-cdn.test/p", "host": "x.adco-cdn.test"},
        {"id": "h3", "ts": 3, "method": "GET", "url": "https://px-cdn.test/p", "host": "px-cdn.test"}]}
    _enrich(bundle, first_party=["vendor.test"], lists=[user, disconnect, ddg])
    assert [(e["name"], e["licence"], e["entries"]) for e in bundle["entity_lists"]][1:] == [
        ("Corp trackers", "CC-BY-4.0", 1), ("services", "GPL-3.0", 2), ("entity_map", "unknown", 2)]
    corp = _party(bundle, "vendor.test")
    assert corp["entity"] == "Corp Analytics" and corp["entity_list"] == {"name": "Corp trackers", "licence": "CC-BY-4.0"}
    assert corp["first_party"] is False  # the domain is the vendor's, but the list says a third party runs it
    flow = next(d for d in bundle["data_flows"] if d["party"] == "vendor.test")
    assert flow["entity_list"] == {"name": "Corp trackers", "licence": "CC-BY-4.0"} and flow["category"] == "timezone"
    assert _party(bundle, "adco-cdn.test")["entity"] == "AdCo"
    assert _party(bundle, "px-cdn.test")["entity"] == "Pixel Inc"


@pytest.mark.parametrize("content", ["[]", "{\"entities\": 3}", "{\"name\": \"only a name\"}", "{\"entities\": [{\"entity\": 1}]}", "not json",
                                     "{\"entities\": [{\"entity\": \"x\", \"domains\": [\"bad domain/\"]}]}", ""])
def test_bad_user_list_is_one_line_input_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "list.json"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        _enrich({}, lists=[path])
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError):
        _enrich({}, lists=[tmp_path / "missing.json"])


def test_first_party_by_entity_name_or_domain_or_url() -> None:
    lab = REPO / "samples" / "claims" / "example-rooms.entities.json"
    assert first_party_from(["https://example-rooms.test/room/x"], load_entity_maps([])).entities == set()
    emap = load_entity_maps([lab])  # the lab's hosts are in its own list, never in the built-in map
    fp = first_party_from(["meta", "https://example-rooms.test:8443/room/x", "rooms.example"], emap)
    assert fp.entities == {"meta", "lab fixture: example-rooms"}
    assert fp.domains == {"example-rooms.test", "rooms.example"}
    bundle = _enrich({"tls": [{"sni": "static.xx.fbcdn.net"}, {"sni": "api.rooms.example"}, {"sni": "x.sentry.io"}]},
                     first_party=["Meta", "rooms.example"])
    assert {p["domain"]: p["first_party"] for p in bundle["parties"]} == {
        "fbcdn.net": True, "rooms.example": True, "sentry.io": False}


def test_real_capture_sni_parties(shared_captures: Path) -> None:
    from confaudit.analysis.packet_side import analyze_captures

    bundle = analyze_captures([shared_captures / "teams.pcap"], progress=None, redactor=Redactor.default())
    assert bundle.get("tls"), "the packet analysis reports no TLS SNI for teams.pcap"
    _enrich(bundle, first_party=["Microsoft"])
    parties = {p["domain"]: p for p in bundle["parties"]}
    # tshark: 39 ClientHellos; 9 to mobile.pipe.aria.microsoft.com, 2 to gate.hockeyapp.net, 2 to dati.ntop.org
    assert "telemetry" in parties["microsoft.com"]["entity_categories"] or any(
        "telemetry" in p["entity_categories"] for p in bundle["parties"] if p["entity"] == "Microsoft")
    assert parties["hockeyapp.net"]["entity"] == "Microsoft" and "telemetry" in parties["hockeyapp.net"]["entity_categories"]
    assert parties["microsoftstream.com"]["first_party"] is True and parties["skype.com"]["first_party"] is True
    assert parties["ntop.org"]["entity"] is None and parties["ntop.org"]["first_party"] is False
    assert all(p["sources"] for p in bundle["parties"]) and bundle["data_flows"] == []


@pytest.mark.parametrize(("raw", "host"), [
    ("[::1]", "::1"), ("[2001:DB8::7]:8443", "2001:db8::7"), (" Meet.Google.com. ", "meet.google.com"),
    ("[vendor.test]tracker.test", "[vendor.test]tracker.test"), ("[bold red]x.example", "[bold red]x.example"),
    ("[::1]x.test", "[::1]x.test"), ("[::1]:80x", "[::1]:80x"), (None, ""),
])
def test_brackets_come_off_ipv6_literals_only(raw: str, host: str) -> None:
    from confaudit.telemetry.entities import normalise_host

    assert normalise_host(raw) == host


def test_a_bracketed_host_header_cannot_pass_for_the_vendor() -> None:
    bundle = {"tls": [{"id": "tls1", "flow": "f1", "sni": "rooms.vendor.test", "certificate_names": []}],
              "flows": [{"id": "f1", "dst": "198.51.100.4", "bytes": 10}, {"id": "f2", "dst": "203.0.113.9", "bytes": 20}],
              "http_plain": [{"flow": "f2", "method": "GET", "host": "[rooms.vendor.test]beacon.tracker.test",
                              "target": "/b?email=someone%40example.com"}]}
    _enrich(bundle, first_party=["vendor.test"])
    vendor = [p for p in bundle["parties"] if p["domain"] == "vendor.test"]
    assert len(vendor) == 1 and vendor[0]["hosts"] == ["rooms.vendor.test"] and vendor[0]["request_count"] == 0
    assert all(f["party"] != "vendor.test" for f in bundle["data_flows"])
