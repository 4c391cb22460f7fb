"""The claims ``scope`` option (vendor traffic by default, the whole device on request) and what the data checks
cite when they pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from confaudit.errors import ClaimsError
from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate

from support.bundles import complete_bundle

SOURCE = '{title: t, url: "https://vendor.example/p", date: "2024-01-01"}'
RC4 = {"version": "TLS 1.2", "cipher": "0x0004", "cipher_name": "TLS_RSA_WITH_RC4_128_MD5", "weak_cipher": True}
BUNDLE = {"complete": True, "inputs": [{"complete": True}], "tls": [
    {"flow": "f1", "sni": "chat.vendor.example", "version": "TLS 1.3"},
    {"flow": "f2", "sni": "p53-buy.itunes.apple.com", **RC4}]}


def _claims(tmp_path: Path, top: str = "", claim: str = "", check: str = "transport_encryption") -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(f"vendor: V\nfirst_party: [vendor.example]\n{top}claims:\n  - id: c1\n    statement: s\n"
                    f"    source: {SOURCE}\n    check: {check}\n{claim}    severity: high\n", encoding="utf-8")
    return path


def _verdict(path: Path, bundle: dict = BUNDLE) -> str:
    return evaluate(load_claims(path), complete_bundle(bundle)).findings[0].verdict


def test_default_scope_is_the_vendor_and_device_scope_judges_everything(tmp_path: Path) -> None:
    assert "scope" not in load_claims(_claims(tmp_path)).claims[0].params
    assert _verdict(_claims(tmp_path)) == "supported"
    assert _verdict(_claims(tmp_path, claim="    scope: vendor\n")) == "supported"
    assert _verdict(_claims(tmp_path, claim="    scope: device\n")) == "contradicted"
    assert _verdict(_claims(tmp_path, top="scope: device\n")) == "contradicted"
    # the claim's own scope beats the file's
    assert _verdict(_claims(tmp_path, top="scope: device\n", claim="    scope: vendor\n")) == "supported"


def test_file_scope_leaves_checks_without_a_scope_alone(tmp_path: Path) -> None:
    params = load_claims(_claims(tmp_path, top="scope: device\n", check="media_encryption")).claims[0].params
    assert "scope" not in params


@pytest.mark.parametrize(("top", "claim", "check", "where", "message"), [
    ("", "    scope: everything\n", "transport_encryption", (8, 12), "scope 'everything' is not one of vendor, device"),
    ("scope: [device]\n", "", "transport_encryption", (3, 8), "scope must be a single value"),
    ("scope: world\n", "", "transport_encryption", (3, 8), "scope 'world' is not one of vendor, device"),
    ("", "    scope: device\n", "media_encryption", (8, 5), "scope applies only to transport_encryption, data_collection"),
])
def test_bad_scopes_fail_at_their_line_and_column(tmp_path: Path, top: str, claim: str, check: str,
                                                  where: tuple[int, int], message: str) -> None:
    with pytest.raises(ClaimsError) as info:
        load_claims(_claims(tmp_path, top=top, claim=claim, check=check))
    assert (info.value.line, info.value.column) == where and message in str(info.value)


def test_no_advertising_cites_every_party_it_checked(tmp_path: Path) -> None:
    page = [["origin", "https://app.vendor.example"]]
    bundle = complete_bundle({"complete": True, "inputs": [{"complete": True}],
              "http": [{"id": "h1", "host": "cdn.partner.example", "url": "https://cdn.partner.example/x", "request_headers": page},
                       {"id": "h2", "host": "clients2.google.com", "url": "https://clients2.google.com/service/update2/crx"}],
              "parties": [{"id": "p1", "domain": "vendor.example", "first_party": True, "hosts": ["app.vendor.example"]},
                          {"id": "p2", "domain": "partner.example", "entity": "Partner", "first_party": False,
                           "hosts": ["cdn.partner.example"], "entity_categories": ["cdn"]},
                          {"id": "p3", "domain": "google.com", "entity": "Google", "first_party": False,
                           "hosts": ["clients2.google.com"], "entity_categories": ["cdn"]}]})
    finding = evaluate(load_claims(_claims(tmp_path, check="no_advertising")), bundle).findings[0]
    assert finding.verdict == "supported" and "vendor.example and partner.example" in finding.explanation
    cited = {(e["kind"], e["id"]) for e in finding.evidence}
    assert cited == {("party", "p1"), ("party", "p2")}, "the background party (Chrome's updater) is not a party checked"
    device = evaluate(load_claims(_claims(tmp_path, check="no_advertising", claim="    scope: device\n")), bundle).findings[0]
    assert {(e["kind"], e["id"]) for e in device.evidence} == {("party", "p1"), ("party", "p2"), ("party", "p3")}
