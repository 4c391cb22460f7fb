"""`confaudit run` of an SFU lab call, judged on its media: the lab SFU's key log (sealed in the session) opens the
browsers' SRTP, the canary the browsers' fake devices played is found in an sfu room and absent behind the inner
E2EE of an sfu-e2ee room, the lab's mute stops the audio RTP (or, with send_while_muted, does not), and the
browsers contact no Google service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.environment import require_binary

CLAIMS = """vendor: Example Rooms
claims:
  - id: rooms-mute
    statement: "When you mute yourself, your microphone audio is not sent."
    source: {title: "fixture", url: "https://example.invalid/mute", date: "2026-12-01"}
    check: no_audio_while_muted
    severity: high
"""
SCENARIO = """vendor: Example Rooms
start_url: https://rooms.example-rooms.test/
lab: {{mode: {mode}, send_while_muted: {send_while_muted}}}
media_seconds: 4
participants: [Alice, Bob]
steps:
  - new_room:
  - join:
  - wait_for: {{selector: "#status", text: joined}}
  - try_join: Bob
  - wait_for: {{selector: "#participants", text: Bob}}
  - sleep: 3
  - mute:                     # every audio stream of the muted phase is measured: Bob's too
    participant: Bob
  - mute:
  - sleep: 4
  - unmute:
  - sleep: 1
  - leave:
"""


def _run(tmp_path: Path, mode: str, send_while_muted: bool) -> tuple[subprocess.CompletedProcess[str], Path, dict]:
    scenario, claims = tmp_path / "lab.yaml", tmp_path / "claims.yaml"
    scenario.write_text(SCENARIO.format(mode=mode, send_while_muted=str(send_while_muted).lower()), encoding="utf-8")
    claims.write_text(CLAIMS, encoding="utf-8")
    session, findings, report = tmp_path / "session", tmp_path / "findings.json", tmp_path / "audit.html"
    done = subprocess.run([sys.executable, "-m", "confaudit", "run", str(scenario), "--out", str(session),
                           "--claims", str(claims), "--json", str(findings), "--report", str(report)],
                          capture_output=True, text=True, timeout=240)
    return done, session, json.loads(findings.read_text()) if findings.exists() else {}


def _evidence(tmp_path: Path, session: Path) -> dict:
    evidence = tmp_path / "evidence.json"
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(session), "--json", str(evidence), "-q"],
                          capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(evidence.read_text())


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize(("mode", "send_while_muted"), [("sfu", False), ("sfu-e2ee", True)])
def test_lab_sfu_run_decrypts_with_the_sfu_key_log_and_measures_mute(tmp_path: Path, mode: str,
                                                                     send_while_muted: bool) -> None:
    require_binary("chromium")
    done, session, findings = _run(tmp_path, mode, send_while_muted)
    if done.returncode != (1 if send_while_muted else 0) and (session / "manifest.json").exists():
        # Name the streams behind a wrong verdict (with their flows' attribution).
        muted = [p["audio_media"] for p in _evidence(tmp_path, session)["phase_summary"] if p["muted"]]
        pytest.fail(f"exit {done.returncode}: {done.stdout[-1500:]} {done.stderr[-1500:]}; muted-phase audio: {muted}")
    assert done.returncode == (1 if send_while_muted else 0), done.stdout + done.stderr[-3000:]

    # The SFU's key log is a sealed, sensitive session file, and the session verifies.
    manifest = json.loads((session / "manifest.json").read_text())
    sealed = manifest["files"]["sfu-keys.log"]
    assert sealed["sensitive"] and sealed["size"] == (session / "sfu-keys.log").stat().st_size > 0
    assert manifest["files"]["browser-keys.log"]["sensitive"]
    bundle = _evidence(tmp_path, session)
    assert bundle["session"]["integrity"]["verified"], bundle["session"]["integrity"]

    # DTLS keys from the SFU's key log open both browsers' DTLS sessions; the browsers' own key log opens none.
    e2ee = bundle["e2ee"]
    matched = {Path(k["path"]).name: k["dtls_sessions_matched"] for k in e2ee["keylogs"]}
    assert matched["sfu-keys.log"] == 2 and matched["browser-keys.log"] == 0, matched
    assert e2ee["summary"]["sessions_with_keys"] == 2, e2ee["summary"]
    report = (tmp_path / "audit.html").read_text()
    assert "DTLS keys from the lab SFU&#39;s key log (transport end) (sfu-keys.log) opened 2 of 2" in report

    # The known-plaintext test: the canary is readable at the transport end of an sfu room, and nowhere in an
    # sfu-e2ee room, whose audio and video are then judged encrypted.
    canaries = {(s["kind"], s["inner"], bool(s["canary"] and s["canary"]["found"])) for s in e2ee["streams"]}
    if mode == "sfu":
        assert e2ee["summary"]["conclusion"] == "media_readable_at_transport_end", e2ee["summary"]
        assert {("audio", "codec", True), ("video", "codec", True)} <= canaries, canaries
    else:
        assert e2ee["summary"]["conclusion"] == "inner_encryption_observed", e2ee["summary"]
        assert {("audio", "encrypted", False), ("video", "encrypted", False)} <= canaries, canaries
        assert not any(found for _, _, found in canaries), canaries

    # Mute: measured packet by packet in the muted phase, on every audio stream of this run's call. A sniffer on lo
    # also records other programs' calls (another run of this test on the machine): the run recorded which program
    # owned each UDP socket, and attribution sets aside flows between other programs' sockets.
    other_calls = {f["id"] for f in bundle["flows"] if "another program's call" in " ".join(f["attribution"]["reasons"])}
    run_sockets = {(e["process"], e["port"]) for e in bundle["scenario_events"] if e["kind"] == "udp_socket" and e["owner"] == "run"}
    assert all(any(p.startswith(name) for p, _ in run_sockets) for name in ("chrom", "python")), run_sockets  # browsers, SFU
    own_flows = {s["flow"] for s in e2ee["sessions"] if s["keys"] == "found"}  # the SFU's keys open only this run's
    assert own_flows and not own_flows & other_calls, (own_flows, other_calls)
    muted = [p for p in bundle["phase_summary"] if p["phase"] == "muted"]
    own = [m for m in muted[0]["audio_media"] if m["flow"] not in other_calls]
    assert len(muted) == 1 and len(own) >= 4, muted
    assert not any(m["estimated"] for m in own), muted
    bits_per_s = sum(m["bytes_per_s"] for m in own) * 8
    verdict = {f["claim_id"]: f["verdict"] for f in findings["findings"]}["rooms-mute"]
    if send_while_muted:  # silence frames: about 25 kbit/s per stream
        assert verdict == "contradicted" and bits_per_s > 4 * 12000, (verdict, bits_per_s)
    else:  # at most the packets in flight when the mute was clicked
        assert verdict == "supported" and bits_per_s < 12000, (verdict, bits_per_s)

    # The browsers' own services stay quiet: no Google host reaches the proxy.
    hosts = {r.get("sni") for r in bundle.get("tls_clienthello") or []} | {r.get("host") for r in bundle.get("http") or []}
    assert not any(h and (h.endswith("google.com") or h.endswith("googleapis.com")) for h in hosts), sorted(map(str, hosts))
