"""A report that is read right: the vendor's words before our finding, media kind and codec in words, keys named.

No browser here (tests/report/test_report_layout.py looks at the same pages in Chromium).
"""

from __future__ import annotations

from confaudit.redact import Redactor
import copy
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from confaudit.evidence.build import build_evidence
from confaudit.report.html import render_audit, render_comparison
from confaudit.report.keys_text import ROLE_BROWSER, ROLE_GIVEN, ROLE_PROXY, ROLE_SFU, keys_used
from confaudit.report.media_labels import stream_label
from benchmarks.synth_report import synthetic_bundle, synthetic_run
from confaudit.commands.pipeline import run_claims

from support.bundles import complete_bundle
from support.environment import REPO

ROOT = REPO
SESSION = ROOT / "samples" / "sessions" / "example-rooms"
CLAIMS = ROOT / "samples" / "claims" / "example-rooms.yaml"


class _Cards(HTMLParser):
    """Per claim card (<article class="finding">): text in document order, tagged quote / verdict / inside <details>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[dict] = []
        self._stack: list[tuple[str, str]] = []
        self.links: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            return
        cls = a.get("class") or ""
        if tag == "article" and "finding" in cls.split():
            self.cards.append({"id": a.get("id"), "parts": []})
        if tag == "a" and self.cards and self._inside("claim-source"):
            self.links.append(a)
        self._stack.append((tag, cls))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def _inside(self, cls: str) -> bool:
        return any(cls in c.split() for _, c in self._stack)

    def handle_data(self, data: str) -> None:
        if not self.cards or not self._inside("finding") or not data.strip():
            return
        where = ("details" if any(t == "details" for t, _ in self._stack) else
                 "quote" if self._inside("claim-quote") else "source" if self._inside("claim-source") else
                 "verdict" if self._inside("our-finding") else "head")
        self.cards[-1]["parts"].append((where, data.strip()))


def _cards(html: str) -> _Cards:
    parser = _Cards()
    parser.feed(html)
    return parser


def test_quote_and_source_come_before_the_verdict_outside_the_collapsed_evidence() -> None:
    run, bundle = run_claims([SESSION], CLAIMS, redactor=Redactor.default())
    html = render_audit(run, bundle, redactor=Redactor.default())
    parsed = _cards(html)
    findings = {f.claim_id: f for f in run.findings}
    assert len(parsed.cards) == len(findings) > 5
    for card in parsed.cards:
        finding = findings[card["id"].removeprefix("finding-")]
        kinds = [k for k, _ in card["parts"]]
        quote = " ".join(t for k, t in card["parts"] if k == "quote")
        assert quote == finding.statement.strip()  # the vendor's exact words, outside every <details>
        assert "quote" not in [k for k, _ in card["parts"] if k == "details"]
        assert kinds.index("quote") < kinds.index("source") < kinds.index("verdict") < kinds.index("details")
        verdict_text = " ".join(t for k, t in card["parts"] if k == "verdict")
        assert finding.explanation.strip()[:40] in verdict_text
    assert '<details class="evidence" open' not in html  # evidence stays collapsed; the quote does not need it
    assert parsed.links and all(link["rel"] == "noopener noreferrer nofollow" and link["href"].startswith("https://")
                                for link in parsed.links)


def test_quote_is_escaped_and_a_javascript_source_never_becomes_a_link() -> None:
    bundle = synthetic_bundle(50, hosts=5)
    run = synthetic_run(bundle, claims=2, evidence_per_finding=1)
    run["findings"][0]["statement"] = 'We <b>never</b> "listen" <script>x()</script>'
    run["findings"][0]["source"] = {"title": "Policy <i>page</i>", "url": "javascript:alert(1)"}
    html = render_audit(run, bundle, redactor=Redactor.default())
    card = next(c for c in _cards(html).cards if c["id"] == "finding-claim-0")
    assert ("quote", 'We <b>never</b> "listen" <script>x()</script>') in card["parts"]
    assert "javascript:" not in html.split('id="finding-claim-0"')[1].split("</figure>")[0].replace("&#", "")
    assert "Policy &lt;i&gt;page&lt;/i&gt;" in html


@pytest.mark.parametrize("stream, sdp, summary, basis, reason", [
    ({"kind": "audio", "codec": "PCMA", "clock_rate": 8000, "payload_type": 8, "encryption": "plain",
      "kind_reasons": ["SDP rtpmap: payload type 8 = pcma/8000"]}, True,
     "audio, G.711 A-law (PCMA), 8 kHz", "named by the call's SDP", None),
    ({"kind": "audio", "codec": "PCMU", "clock_rate": 8000, "payload_type": 0, "encryption": "srtp",
      "kind_reasons": ["RFC 3551 static payload type 0 = PCMU/8000"]}, False,
     "audio, G.711 µ-law (PCMU), 8 kHz", "fixed to this codec by the RTP standard", None),
    ({"kind": "audio", "codec": "opus", "clock_rate": 48000, "payload_type": 111, "encryption": "plain",
      "kind_reasons": ["timestamp step 960"]}, False, "audio, Opus, 48 kHz", "structure of its unencrypted payload", None),
    ({"kind": "video", "codec": None, "clock_rate": 90000, "payload_type": 97, "encryption": "srtp",
      "kind_reasons": ["fits 90000 Hz"]}, False, "video, codec unknown, 90 kHz", "RTP timing",
     "Codec unknown: no SDP (the call's set-up) was captured and payload type 97 is dynamic"),
    ({"kind": "unknown", "codec": None, "clock_rate": None, "payload_type": 111, "encryption": "srtp", "packets": 4,
      "kind_reasons": ["4 packets: too few to judge timing"]}, False, "unknown", None,
     "too few packets were captured to judge its timing"),
    ({"kind": "unknown", "codec": None, "payload_type": 96, "encryption": "unknown",
      "kind_reasons": ["jitter too large to tell the clock", "no clock rate measured and no video frame pattern"]}, True,
     "unknown", None, "the SDP in the capture does not describe this stream; its payload matches no codec"),
])
def test_stream_label_names_what_is_known_and_why_the_rest_is_not(stream, sdp, summary, basis, reason) -> None:
    label = stream_label(stream, sdp_captured=sdp)
    assert label.summary == summary
    assert (basis is None and label.basis is None) or basis in label.basis
    assert (reason is None and label.unknown_reason is None) or reason in label.unknown_reason


@pytest.mark.parametrize("capture, expected, basis, reason", [
    ("sip.pcap", "audio, G.711 A-law (PCMA), 8 kHz", "named by the call's SDP (payload type 8)", None),
    ("teams.pcap", "audio, codec unknown, 16 kHz", "from the RTP timing",
     "no SDP (the call's set-up) was captured and payload type 104 is dynamic"),
])
def test_real_captures_with_and_without_sdp(capture: str, expected: str, basis: str, reason: str | None, shared_captures: Path) -> None:
    path = shared_captures / capture
    bundle = build_evidence([path], redactor=Redactor.default())
    html = render_audit(synthetic_run(bundle, claims=1, evidence_per_finding=0), bundle, redactor=Redactor.default())
    media = unescape(html[html.index('id="media"'):html.index('<h3>Media path</h3>')])
    assert expected in media and basis in media
    if reason:
        assert reason in media and "SRTP" in media
    else:
        assert "unknown" not in media.split("<tbody>")[1].split("</tbody>")[0]


def _bundle(**e2ee) -> dict:
    base = {"inputs": [{"path": "sessions/s1/capture.pcapng"}], "dtls": [{"id": "x1"}, {"id": "x2"}],
            "http": [{"source": "live"}] * 3, "websocket": [{"source": "live"}]}
    if e2ee:
        base["e2ee"] = {"keylogs": [], "sessions": [], "streams": [], **e2ee}
    return complete_bundle(base)


def test_keys_no_key_log() -> None:
    used = keys_used(_bundle())
    assert used.case == "no_keylog"
    assert used.headline == "No key log; no DTLS keys, so media content was not examined."
    assert "none of the 2 DTLS handshakes" in used.media
    assert used.https.startswith("HTTPS content was read by the intercepting proxy during the capture (4 requests and messages)")


def test_keys_tls_only_from_the_session_proxy() -> None:
    used = keys_used(_bundle(keylogs=[{"path": "sessions/s1/sslkeys.log", "lines": 85, "dtls_sessions_matched": 0,
                                      "kinds": {"CLIENT_TRAFFIC_SECRET_0": 17, "EXPORTER_SECRET": 17}}],
                             sessions=[{"keys": "missing"}, {"keys": "missing"}]))
    assert used.case == "tls_only" and used.keylogs[0].role == ROLE_PROXY
    assert used.headline == "TLS keys of HTTPS connections only (sslkeys.log); no DTLS keys, so media content was not examined."
    assert "none of the 2 DTLS handshakes" in used.media


def test_keys_dtls_used_counts_streams_decrypted() -> None:
    used = keys_used(_bundle(keylogs=[{"path": "/home/a/keys.log", "lines": 12, "dtls_sessions_matched": 1,
                                      "kinds": {"CLIENT_RANDOM": 12}}],
                             sessions=[{"keys": "found"}, {"keys": "missing"}],
                             streams=[{"decrypted": 300}, {"decrypted": 200}, {"decrypted": 0}]))
    assert used.case == "dtls_used" and used.keylogs[0].role == ROLE_GIVEN
    assert used.headline == "DTLS keys from keys.log opened 1 of 2 DTLS handshakes: 2 media streams decrypted and examined."
    assert "(500 packets)" in used.media and "1 stream stayed closed" in used.media


def test_keys_of_a_lab_run_name_the_sfu_key_log_as_the_transport_end() -> None:
    tls = {"CLIENT_TRAFFIC_SECRET_0": 14, "EXPORTER_SECRET": 14}
    logs = [{"path": "sessions/s1/sslkeys.log", "lines": 85, "dtls_sessions_matched": 0, "kinds": tls},
            {"path": "sessions/s1/browser-keys.log", "lines": 70, "dtls_sessions_matched": 0, "kinds": tls},
            {"path": "sessions/s1/sfu-keys.log", "lines": 2, "dtls_sessions_matched": 2, "kinds": {"CLIENT_RANDOM": 2}}]
    used = keys_used(_bundle(keylogs=logs, sessions=[{"keys": "found"}] * 2, streams=[{"decrypted": 300}]))
    assert [k.role for k in used.keylogs] == [ROLE_PROXY, ROLE_BROWSER, ROLE_SFU]
    assert used.headline == ("DTLS keys from the lab SFU's key log (transport end) (sfu-keys.log) opened 2 of 2 DTLS "
                             "handshakes: 1 media stream decrypted and examined.")
    # Without the SFU's (a p2p lab room), Chromium's own key log holds TLS keys only: said so, not "no match".
    used = keys_used(_bundle(keylogs=logs[:2], sessions=[{"keys": "missing"}] * 2))
    assert used.case == "tls_only" and used.media.startswith(
        "sslkeys.log, browser-keys.log hold the intercepting proxy's and the browsers' own TLS keys of HTTPS "
        "connections, not keys of the call's media (Chromium logs no DTLS secrets); none of the 2 DTLS handshakes")
    # A file of that name outside the analysed session is the auditor's own key log.
    assert keys_used(_bundle(keylogs=[dict(logs[2], path="/elsewhere/sfu-keys.log")])).keylogs[0].role == ROLE_GIVEN


def test_keys_present_but_none_matched() -> None:
    used = keys_used(_bundle(keylogs=[{"path": "keys.log", "lines": 40, "dtls_sessions_matched": 0, "kinds": {"CLIENT_RANDOM": 40}}],
                             sessions=[{"keys": "missing"}, {"keys": "missing"}]))
    assert used.case == "no_match"
    assert used.headline == "Key log present (keys.log), but none of its keys matched the 2 DTLS handshakes, so media content was not examined."
    assert "40 secrets" in used.media


def test_keys_matched_but_nothing_decrypted() -> None:
    used = keys_used(_bundle(keylogs=[{"path": "keys.log", "lines": 4, "dtls_sessions_matched": 1, "kinds": {"CLIENT_RANDOM": 4}}],
                             sessions=[{"keys": "found"}], streams=[{"decrypted": 0}]))
    assert used.case == "dtls_unusable" and "no media packet" in used.headline


def test_keys_embedded_and_har_sources_are_named() -> None:
    bundle = _bundle(keylogs=[{"path": "call.pcapng#dsb0", "lines": 2, "dtls_sessions_matched": 0, "kinds": {}}])
    bundle["http"] = [{"source": "har"}] * 2
    bundle["websocket"] = []
    used = keys_used(bundle)
    assert used.keylogs[0].name == "call.pcapng (secrets embedded in the capture)"
    assert "the browser's HAR export (2 requests and messages)" in used.https
    assert keys_used({}).https.startswith("No HTTPS content was decoded")


def test_audit_and_comparison_say_which_keys_were_used() -> None:
    run, bundle = run_claims([SESSION], CLAIMS, redactor=Redactor.default())
    html = render_audit(run, bundle, redactor=Redactor.default())
    assert "TLS keys of HTTPS connections only (sslkeys.log); no DTLS keys, so media content was not examined." in html
    assert "key log used" not in html and "key logs used" not in html
    other = copy.deepcopy(bundle)
    other.pop("e2ee")
    comparison = render_comparison([{"run": run.to_dict(), "bundle": bundle, "report_href": "a.html"},
                                    {"run": run.to_dict(), "bundle": other, "report_href": "b.html"}], redactor=Redactor.default())
    assert "TLS keys of HTTPS connections only (sslkeys.log)" in comparison
    assert "No key log; no DTLS keys, so media content was not examined." in comparison
