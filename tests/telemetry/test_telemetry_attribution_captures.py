"""Whose traffic it is, on real captures: Apple's RC4 servers in a WhatsApp call, a Telegram data centre and
Apple's captive-portal check in a Teams session, the Webex app's SDKs, and the lab browser session's tracker."""

from __future__ import annotations

from confaudit.redact import Redactor
import copy
import json
from functools import lru_cache
from pathlib import Path

import pytest

from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate, with_first_party

from support.environment import REPO

SAMPLE_SESSION = REPO / "samples" / "sessions" / "example-rooms"


@lru_cache(maxsize=8)
def _bundle_json(path: str) -> str:
    from confaudit.evidence.build import build_evidence

    return json.dumps(build_evidence([Path(path)], redactor=Redactor.default()))


def _bundle(path: Path) -> dict:
    """Evidence built without any first party (as ``analyze`` without --first-party): the claims file adds it."""
    return json.loads(_bundle_json(str(path)))


def _finding(bundle: dict, claims: Path, claim_id: str):
    return next(f for f in evaluate(load_claims(claims), bundle).findings if f.claim_id == claim_id)


def _by_sni(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in records:
        out.setdefault(rec.get("sni") or "", []).append(rec)
    return out


def test_whatsapp_call_apple_rc4_servers_are_background_not_a_contradiction(shared_captures: Path) -> None:
    bundle = _bundle(shared_captures / "whatsapp_login_call.pcap")
    claims = REPO / "samples" / "claims" / "whatsapp.yaml"
    view = with_first_party(bundle, load_claims(claims).first_party)
    tls = _by_sni(view["tls"])
    # tshark -Y 'tls.handshake.type==2': 17.178.104.14 (query.ess.apple.com) and p53-buy.itunes.apple.com choose RC4-MD5
    for sni, service in (("query.ess.apple.com", "apple-identity"), ("p53-buy.itunes.apple.com", "apple-app-store")):
        assert tls[sni] and all(t["weak_cipher"] is True for t in tls[sni])
        for rec in tls[sni]:
            assert rec["attribution"]["role"] == "background", rec["attribution"]
            assert f"background.json: {service}, source https://" in rec["attribution"]["reasons"][0]
    flows = {f["id"]: f for f in view["flows"]}
    relays = [e for e in view["media_path"]["endpoints"] if e["role"] == "relay"]
    assert relays and all(flows[fid]["attribution"]["role"] == "vendor" for e in relays for fid in e["flows"])
    for rec in view["dns"]:
        expected = {"e13.whatsapp.net": "vendor", "query.ess.apple.com": "background", "lucas-imac.local": "background"}
        assert rec["attribution"]["role"] == expected[rec["name"]], rec
    assert not [p for p in view["parties"] if p["domain"].endswith(".local")], "an mDNS name became a party"
    # TLS to Apple's push port whose records parse as "classic" STUN: not the call's, and in Apple's 17.0.0.0/8
    push = next(h for h in view["traffic_attribution"]["hosts"] if h["host"] == "17.110.229.14:5223/tcp")
    assert push["role"] == "unknown" and "Apple's published range 17.0.0.0/8" in push["reasons"][0]
    finding = _finding(bundle, claims, "whatsapp-transport")
    assert finding.verdict == "not_observable", finding.explanation
    assert "p53-buy.itunes.apple.com" in finding.explanation and "not judged" in finding.explanation
    assert {e["detail"].split(":", 1)[0] for e in finding.evidence} == {"not judged (background)"}
    # The same capture judged for the whole device: Apple's RC4 is then on the device and contradicts.
    device = load_claims(claims)
    claim = next(c for c in device.claims if c.id == "whatsapp-transport")
    device_claim = type(claim)(**{**claim.__dict__, "params": {**claim.params, "scope": "device"}})
    widened = evaluate(type(device)(**{**device.__dict__, "claims": (device_claim,)}), bundle).findings[0]
    assert widened.verdict == "contradicted" and "query.ess.apple.com" in widened.explanation


def test_teams_session_telegram_and_apple_background_are_not_the_vendor(shared_captures: Path) -> None:
    bundle = _bundle(shared_captures / "teams.pcap")
    claims = REPO / "samples" / "claims" / "microsoft-teams.yaml"
    view = with_first_party(bundle, load_claims(claims).first_party)
    hosts = {h["host"]: h for h in view["traffic_attribution"]["hosts"]}
    telegram = hosts["149.154.167.91:443/tcp"]  # a Telegram data centre (core.telegram.org/resources/cidr.txt)
    assert telegram["role"] == "unknown" and "Telegram's published range 149.154.160.0/20" in telegram["reasons"][0]
    assert hosts["captive.apple.com.edgekey.net"]["role"] == "background"
    assert "apple-captive-portal" in hosts["captive.apple.com.edgekey.net"]["reasons"][0]
    assert hosts["b._dns-sd._udp.ntop.org"]["role"] == "background"
    assert hosts["dati.ntop.org"]["role"] == "unknown"  # the capturer's own ntop tool: on no list, tied to nothing
    for name in ("teams.microsoft.com", "gate.hockeyapp.net", "mobile.pipe.aria.microsoft.com"):
        assert hosts[name]["role"] == "vendor", hosts[name]
    # TURN-over-TLS to an address SNI: the certificate (*.relay.teams.microsoft.com) and the published range decide
    assert hosts["52.114.250.152"]["role"] == "vendor"
    assert _finding(bundle, claims, "teams-tls").verdict == "supported"
    ads = _finding(bundle, claims, "teams-no-ads")
    assert ads.verdict == "supported" and ads.evidence
    assert all(e["kind"] == "party" and e["detail"].startswith("checked: ") for e in ads.evidence)
    assert not any("ntop" in e["detail"] and "background" in e["detail"] for e in ads.evidence)


def _webex_claims(tmp_path: Path, extra: str = "") -> Path:
    source = '{title: "Webex security", url: "https://www.webex.com/security.html", date: "2024-01-01"}'
    path = tmp_path / "webex.yaml"
    path.write_text(f"""vendor: Webex
first_party: [webex.com, Cisco Webex]
claims:
  - id: tls
    statement: "Webex encrypts signalling with TLS 1.2 or newer."
    source: {source}
    check: transport_encryption
    severity: high
  - id: sharing
    statement: "We do not share your data."
    source: {source}
    check: third_party_sharing
    severity: high
  - id: no-analytics
    statement: "No tracking."
    source: {source}
    check: no_advertising
    include_analytics: true
    severity: low{extra}
""", encoding="utf-8")
    return path


def test_webex_app_sdks_cannot_be_tied_to_the_app_from_packets(shared_captures: Path, tmp_path: Path) -> None:
    bundle = _bundle(shared_captures / "webex.pcap")
    claims = _webex_claims(tmp_path)
    view = with_first_party(bundle, load_claims(claims).first_party)
    tls = _by_sni(view["tls"])
    assert all(t["attribution"]["role"] == "vendor" for t in tls["radcom.webex.com"])
    # Handshakes without SNI: the certificate *.webex.com, else the Webex range the server address is in
    no_sni = [t for t in tls[""] if t.get("version")]
    assert no_sni and all(t["attribution"]["role"] == "vendor" for t in no_sni if t["certificate_names"])
    assert any("certificate name webex.com" in t["attribution"]["reasons"][0] for t in no_sni)
    for sdk in ("api.crittercism.com", "ssl.google-analytics.com"):
        assert tls[sdk][0]["attribution"]["role"] == "unknown", tls[sdk][0]["attribution"]
    assert {r["attribution"]["role"] for r in view["http_plain"]} == {"unknown"}  # cp.pushwoosh.com
    findings = {f.claim_id: f for f in evaluate(load_claims(claims), bundle).findings}
    tls_finding = findings["tls"]
    assert tls_finding.verdict == "contradicted" and "radcom.webex.com" in tls_finding.explanation
    judged_part, not_judged = tls_finding.explanation.split(" attributable to the vendor.", 1)
    assert "crittercism" not in judged_part and "api.crittercism.com" in not_judged
    assert any(e["detail"].startswith("not judged (unknown)") for e in tls_finding.evidence)
    assert findings["sharing"].verdict == "inconclusive"  # no decoded requests: never supported
    assert "crittercism.com" in findings["sharing"].explanation
    assert findings["no-analytics"].verdict == "inconclusive" and "google-analytics.com" in findings["no-analytics"].explanation


def test_browser_session_tracker_is_the_vendors_third_party_by_origin() -> None:
    bundle = _bundle(SAMPLE_SESSION)
    tracker = [h for h in bundle["http"] if h["host"] == "telemetry.tracker.test"]
    assert tracker and all(h["attribution"]["role"] == "third_party_of_vendor" for h in tracker)
    assert "vendor's page https://rooms.example-rooms.test (Origin)" in tracker[0]["attribution"]["reasons"][0]
    assert all(h["attribution"]["role"] == "vendor" for h in bundle["http"] if h["host"] == "rooms.example-rooms.test")
    to_tracker = [d for d in bundle["data_flows"] if d["party"] == "tracker.test"]
    assert to_tracker and {d["attribution"]["role"] for d in to_tracker} == {"third_party_of_vendor"}
    tls = _by_sni(bundle["tls"])
    assert {t["attribution"]["role"] for t in tls["telemetry.tracker.test"]} == {"third_party_of_vendor"}
    claims = REPO / "samples" / "claims" / "example-rooms.yaml"
    assert _finding(bundle, claims, "rooms-vendors-get-room-name").verdict == "contradicted"


def test_same_session_with_the_tracker_called_by_another_page_is_background() -> None:
    bundle = _bundle(SAMPLE_SESSION)
    moved = copy.deepcopy(bundle)
    for rec in moved["http"]:
        if rec["host"] == "telemetry.tracker.test":
            rec["request_headers"] = [[k, "https://news.unrelated.test/" if k.lower() in ("origin", "referer") else v]
                                      for k, v in rec["request_headers"]]
        rec.pop("attribution", None)
    for key in ("data_flows", "parties", "tls", "flows", "http_plain", "tls_clienthello"):
        for rec in moved.get(key) or []:
            rec.pop("attribution", None)
    claims = REPO / "samples" / "claims" / "example-rooms.yaml"
    view = with_first_party(moved, load_claims(claims).first_party)
    tracker = [h for h in view["http"] if h["host"] == "telemetry.tracker.test"]
    assert {h["attribution"]["role"] for h in tracker} == {"background"}
    assert "news.unrelated.test" in tracker[0]["attribution"]["reasons"][0]
    finding = _finding(moved, claims, "rooms-vendors-get-room-name")
    assert finding.verdict == "supported", finding.explanation
    assert "not judged" in finding.explanation


@pytest.mark.parametrize(("capture", "names"), [
    # nDPI's development captures: the messaging companies a real capture shows
    ("KakaoTalk_chat.pcap", {"katalk.kakao.com": "Kakao", "booking.loco.kakao.com": "Kakao"}),
    ("wechat.pcap", {"res.wx.qq.com": "Tencent (WeChat)", "webpush.web.wechat.com": "Tencent (WeChat)"}),
    ("snapchat_call_v1.pcapng", {"str1-euwest1-34-246-231-140.addlive.io": "Snap"}),
    ("snapchat.pcap", {"feelinsonice-hrd.appspot.com": "Snap"}),
])
def test_messaging_companies_of_real_captures_are_on_the_entity_map(shared_captures: Path, capture: str,
                                                                    names: dict[str, str]) -> None:
    bundle = _bundle(shared_captures / "ndpi-devset" / capture)
    entity_of = {h: p["entity"] for p in bundle["parties"] for h in p["hosts"]}
    for host, entity in names.items():
        assert entity_of.get(host) == entity, (host, entity_of.get(host))
    special = [h for p in bundle["parties"] for h in p["hosts"] if h.endswith((".local", ".lan", ".arpa")) or "." not in h]
    assert special == [], "special-use names became parties"


def test_telegram_data_centres_and_lan_noise(shared_captures: Path) -> None:
    bundle = _bundle(shared_captures / "ndpi-devset" / "telegram.pcap")
    view = with_first_party(bundle, ("Telegram",))
    dc = [f for f in view["flows"] if f["dst"].startswith("91.108.")]
    assert len(dc) >= 10 and {f["attribution"]["role"] for f in dc} == {"vendor"}
    assert "Telegram's published range" in dc[0]["attribution"]["reasons"][0]
    by_port = {f["dport"]: f["attribution"] for f in view["flows"] if f["dport"] in (1900, 5353, 67, 137, 53)}
    assert {a["role"] for a in by_port.values()} == {"background"}, by_port
    assert not any(p["domain"].endswith(".local") for p in view["parties"])
