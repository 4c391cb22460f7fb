"""Another app's call in the same capture is not the vendor's: media checks leave it out, and say so."""

from __future__ import annotations


from confaudit.redact import Redactor
from confaudit.rules.checks.e2ee import end_to_end_encryption
from confaudit.rules.checks.media import media_encryption
from confaudit.rules.checks.path import media_path

from support.bundles import complete_bundle
from support.environment import REPO

FOREIGN = {"role": "background", "reasons": ["flow f2 carries another operator's call traffic: 142.250.82.99 is in "
                                             "Google's published media network, not the vendor's"]}


def bundle(foreign_role: dict | None) -> dict:
    flow = {"id": "f2", "transport": "udp", "src": "10.0.0.1", "sport": 5000, "dst": "142.250.82.99", "dport": 3478}
    if foreign_role is not None:
        flow["attribution"] = foreign_role
    return complete_bundle({
        "complete": True, "inputs": [], "flows": [flow],
        "media_streams": [{"id": "m1", "flow": "f2", "ssrc": "0x00000001", "encryption": "plain", "kind": "audio"}],
        "dtls": [], "sdp": [],
        "media_path": {"topology": "server", "endpoints": [{"address": "142.250.82.99", "port": 3478, "role": "server",
                                                            "names": [], "flows": ["f2"]}],
                       "reasons": ["f2: media to a vendor server"], "flows": [{"flow": "f2", "topology": "server",
                                                                                "packets": 40, "bytes": 4000}]},
    })


def test_plain_rtp_of_another_operators_call_does_not_contradict():
    outcome = media_encryption(bundle(FOREIGN), {})
    assert outcome.verdict == "not_observable"
    assert "another operator's call" in outcome.explanation
    assert any(r["kind"] == "flow" and r["id"] == "f2" and r["detail"].startswith("not judged") for r in outcome.evidence)
    assert end_to_end_encryption(bundle(FOREIGN), {"expect": True}).verdict == "not_observable"
    assert media_path(bundle(FOREIGN), {"allowed": ["p2p"]}).verdict == "not_observable"


def test_unattributed_media_is_still_judged():
    """Only a positive attribution to another operator leaves media out: missing attribution fails closed."""
    assert media_encryption(bundle(None), {}).verdict == "contradicted"
    assert media_path(bundle(None), {"allowed": ["p2p"]}).verdict == "contradicted"
    other_background = {"role": "background", "reasons": ["udp/5353 is mDNS"]}
    assert media_encryption(bundle(other_background), {}).verdict == "contradicted"


def test_messenger_claims_on_the_mixed_stun_trace(shared_captures):
    """stun.pcap: the only RTP goes to a Meet SFU (Google's network); Messenger's own relay carried none."""
    from confaudit.commands.pipeline import run_claims

    result, evidence = run_claims([shared_captures / "stun.pcap"], REPO / "samples" / "claims" / "messenger-rooms.yaml", redactor=Redactor.default())
    findings = {f.claim_id: f for f in result.findings}
    media = findings["rooms-media-encrypted"]
    assert media.verdict == "not_observable" and "another operator's call" in media.explanation
    roles = {f["id"]: f["attribution"]["role"] for f in evidence["flows"]}
    relay = next(s["flow"] for s in evidence["stun"] if "turner.facebook" in s["realms"])
    assert roles[relay] == "vendor"
    google_turn = next(s["flow"] for s in evidence["stun"] if "turn.l.google.com" in s["realms"])
    assert roles[google_turn] == "background"
