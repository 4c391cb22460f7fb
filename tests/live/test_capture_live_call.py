"""End to end: lab room over HTTPS, beacons through the real proxy, a WebRTC call in headless Chromium
and one between two aiortc peers, the sniffer on lo; then `confaudit analyze` on the session."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.environment import require_binary
from confaudit.lab.recorded_room import PARTICIPANT, ROOM_HOST, ROOM_NAME, TRACKER_HOST, record_lab_session


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lab_call_end_to_end(tmp_path: Path) -> None:
    require_binary("chromium")
    session = tmp_path / "session"
    run = record_lab_session(session, media_seconds=2.0, aiortc_call=True, timeout=120, redactor=Redactor.default())
    assert run.page_error is None, run.page_error
    assert "/phase/left" in run.upstream_paths and run.aiortc_streams == 4
    out = tmp_path / "evidence.json"
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(session), "--json", str(out), "-q"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out.read_text())
    hosts = {h["host"] for h in bundle["http"]}
    assert {ROOM_HOST, TRACKER_HOST} <= hosts
    beacons = [json.loads(h["request_body"]["text"]) for h in bundle["http"]
               if h["host"] == TRACKER_HOST and h["request_body"]]
    page_view = next(b for b in beacons if b.get("event") == "page_view")
    assert "HeadlessChrome" in page_view["ua"] or "Chrome" in page_view["ua"]
    assert page_view["room"] == ROOM_NAME and "x" in page_view["screen"] and page_view["tz"]
    assert any(b.get("participant") == PARTICIPANT for b in beacons)
    join = next(h for h in bundle["http"] if h["path"] == "/api/join")
    assert "a=ice-pwd:[REDACTED ice-pwd #" in join["request_body"]["text"]
    ws = bundle["websocket"]
    sent = [w for w in ws if w["from_client"]]
    assert sent and sent[0]["type"] == "text" and json.loads(sent[0]["content"])["room"] == ROOM_NAME
    assert "a=ice-pwd:[REDACTED ice-pwd #" in sent[0]["content"]
    assert any(not w["from_client"] and w["content"].startswith("echo:") for w in ws)
    ws_http = next(h for h in bundle["http"] if h["id"] == sent[0]["http_id"])
    assert ws_http["status"] == 101 and ws_http["path"] == "/signal"
    # Chromium's own signalling WebSocket (not only the Python peer's) went through the proxy, both ways
    browser_ws = [h["id"] for h in bundle["http"] if h["status"] == 101 and "HeadlessChrome" in
                  next((v for k, v in h["request_headers"] if k.lower() == "user-agent"), "")]
    assert browser_ws, "Chromium's WebSocket upgrade was not recorded"
    from_browser = [w for w in ws if w["http_id"] in browser_ws]
    assert {w["from_client"] for w in from_browser} == {True, False}
    offer = json.loads(next(w["content"] for w in from_browser if w["from_client"]))
    assert offer["type"] == "offer" and offer["participant"] == PARTICIPANT
    assert "a=ice-pwd:[REDACTED ice-pwd #" in offer["sdp"]
    assert [p["phase"] for p in bundle["phases"]] == ["lobby", "joined", "muted", "left"]
    assert bundle["session"]["simulated"] is True and bundle["session"]["files_match"] is True
    # media: the packet side found the RTP/SRTP streams of both calls on lo
    assert len(bundle["media_streams"]) >= 4
    assert any(h["flow"] for h in bundle["http"]), "no HTTP exchange was linked to a pcap flow"
    assert "lab-turn-credential" not in out.read_text()
