"""`confaudit run` against the lab room service: Debian's chromium per participant through the capture
proxy and the sniffer on lo, a real P2P call, a lock, a late joiner refused (or admitted by the lab's
fail_to_refuse fault), then the claims checked in the same command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.environment import require_binary

# Only claims the scenario itself settles: the sniffer on lo also records other programs' loopback traffic
# (other test runs on a shared machine), which the traffic-based claims would judge too.
CLAIMS = """vendor: Example Rooms
room_link_pattern: '/r/(?P<id>[A-Za-z0-9]+)'
claims:
  - id: rooms-locked-rooms
    statement: "Lock a room and no one else can join it."
    source: {title: "fixture", url: "https://example.invalid/lock", date: "2026-12-01"}
    check: room_lock
    severity: high
  - id: rooms-links-fresh
    statement: "Every room gets its own hard-to-guess link."
    source: {title: "fixture", url: "https://example.invalid/rooms", date: "2026-12-01"}
    check: room_links
    min_entropy_bits: 64
    fresh_per_room: true
    severity: high
"""
SCENARIO = """vendor: Example Rooms
start_url: https://rooms.example-rooms.test/
lab: {{mode: p2p, fail_to_refuse: {fail}}}
media_seconds: 3
timeout: 15
participants: [Alice, Bob, Carol]
steps:
  - new_room:
  - goto: https://rooms.example-rooms.test/
  - new_room:
  - join:
  - wait_for: {{selector: "#status", text: joined}}
  - try_join: Bob
  - wait_for: {{selector: "#participants", text: Bob}}
  - mute:
  - sleep: 1
  - lock:
  - wait_for: "#locked"
  - try_join: Carol
  - expect: {{request: /api/telemetry}}
  - leave:
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("fail_to_refuse", "verdict", "code"), [(False, "supported", 0), (True, "contradicted", 1)])
def test_lab_scenario_end_to_end_with_room_lock(tmp_path: Path, fail_to_refuse: bool, verdict: str, code: int) -> None:
    require_binary("chromium")
    path = tmp_path / "lab.yaml"
    path.write_text(SCENARIO.format(fail=str(fail_to_refuse).lower()), encoding="utf-8")
    session, findings, claims = tmp_path / "session", tmp_path / "findings.json", tmp_path / "claims.yaml"
    claims.write_text(CLAIMS, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "confaudit", "run", str(path), "--out", str(session),
                           "--claims", str(claims), "--json", str(findings)], capture_output=True, text=True, timeout=280)
    assert done.returncode == code, done.stdout + done.stderr[-3000:]
    assert "scenario lab.yaml: 14 steps done, 2 room links" in done.stdout
    events = {(e["kind"], e.get("participant")): e for e in
              map(json.loads, (session / "scenario_events.jsonl").read_text().splitlines())}
    bob, carol = events[("try_join", "Bob")], events[("try_join", "Carol")]
    assert bob["outcome"] == "admitted" and bob["media_bytes_sent"] > 0 and bob["peer_connections"] >= 1  # a real call
    assert carol["outcome"] == ("admitted" if fail_to_refuse else "refused")
    assert (carol["media_bytes_sent"] > 0) is fail_to_refuse
    phases = [json.loads(line)["phase"] for line in (session / "phases.jsonl").read_text().splitlines()]
    assert phases == ["lobby", "lobby", "joined", "muted", "left"]
    manifest = json.loads((session / "manifest.json").read_text())
    assert manifest["simulated"] is True and manifest["scenario_run"]["outcome"] == "completed"
    assert manifest["stats"]["sniffer"]["iface"] == "lo" and manifest["stats"]["sniffer"]["packets"] > 0
    verdicts = {f["claim_id"]: f for f in json.loads(findings.read_text())["findings"]}
    assert verdicts["rooms-locked-rooms"]["verdict"] == verdict, verdicts["rooms-locked-rooms"]
    assert verdicts["rooms-links-fresh"]["verdict"] == "supported", verdicts["rooms-links-fresh"]
    assert set(verdicts) == {"rooms-locked-rooms", "rooms-links-fresh"}
