"""The report's "Background and unattributed traffic" section: apart from the parties matrix, escaped, redacted."""

from __future__ import annotations

from confaudit.redact import Redactor
import re

import pytest

from support.environment import TESTS
from support.report_support import PAYLOADS, static_scan
from confaudit.report.html import render_audit
from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate, with_first_party

CLAIMS = TESTS / "rules" / "transport_encryption" / "rule.yaml"


def _section(html: str) -> str:
    start = html.index('<h2 id="background">')
    return html[start:html.index("<h2", start + 10)]


def _bundle(host: str) -> dict:
    return {"schema_version": "1.0", "tool": {"name": "confaudit", "version": "test"}, "inputs": [], "complete": True,
            "warnings": [], "session": None, "phases": [],
            "tls": [{"flow": "f1", "sni": "chat.vendor.example", "version": "TLS 1.3"},
                    {"flow": "f2", "sni": "p53-buy.itunes.apple.com", "version": "TLS 1.2", "weak_cipher": True},
                    {"flow": "f3", "sni": host, "version": "TLS 1.2"}],
            "dns": [{"name": "lucas-imac.local", "answers": []}]}


def _render(bundle: dict) -> str:
    claims = load_claims(CLAIMS)
    return render_audit(evaluate(claims, bundle), with_first_party(bundle, claims.first_party), redactor=Redactor.default())


def test_background_hosts_are_listed_with_their_reasons_apart_from_parties() -> None:
    html = _render(_bundle("api.unrelated-sdk.example"))
    section = _section(html)
    assert '<a href="#background">' in html
    for host, why in (("p53-buy.itunes.apple.com", "background.json: apple-app-store"),
                      ("lucas-imac.local", "mDNS name on the local link"),
                      ("api.unrelated-sdk.example", "nothing ties it to the vendor")):
        row = re.search(rf"<tr class=\"(\w+)\"><td class=\"mono\">{re.escape(host)}</td>.*?</tr>", section, re.S)
        assert row and why in row.group(0), host
    assert "chat.vendor.example" not in section  # the vendor's own traffic is not background
    assert "<code>vendor.example</code>" in section


def test_section_says_when_evidence_has_no_attribution() -> None:
    bundle = _bundle("x.example")
    html = render_audit(evaluate(load_claims(CLAIMS), bundle), bundle, redactor=Redactor.default())  # the bundle itself was never attributed
    assert "No traffic attribution in this evidence" in _section(html)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_captured_names_and_reasons_are_escaped(payload: str) -> None:
    bundle = _bundle("evil.example")
    view = with_first_party(bundle, ("vendor.example",))
    view["traffic_attribution"]["hosts"].append({"host": payload, "role": "unknown", "reasons": [payload],
                                                 "records": {payload: 1}})
    view["traffic_attribution"]["first_party"].append(payload)
    html = render_audit(evaluate(load_claims(CLAIMS), bundle), view, redactor=Redactor.default())
    scan = static_scan(html)
    assert scan.handlers == [] and scan.srcs == [] and html.count("<script") == 2
    section = _section(html)
    if "<" in payload:
        assert payload not in section and "&lt;" in section
