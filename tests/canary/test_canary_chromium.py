"""Debian's Chromium with the canary as its fake camera and microphone (--use-file-for-fake-*-capture),
in a loopback call; recorded with the sniffer on ``lo`` and analysed as ``confaudit analyze --keylog --canary``.

- With an aiortc answerer whose DTLS key log we write: the DTLS-SRTP keys are shared by both ends, so that
  key log decrypts what Chromium sent, and the canary is found in Chromium's audio (through its echo
  canceller, noise suppressor and AGC) and video (through its VP8 encoder).
- Chromium calling itself with SSLKEYLOGFILE: Chromium logs its TLS secrets there but not the DTLS ones,
  so nothing of the call can be decrypted (docs/e2ee.md, "Browsers and key logs").
"""

from __future__ import annotations

from pathlib import Path

from confaudit.redact import Redactor
import pytest

from support.browser_call import record_chromium_call
from confaudit.canary import write_canary_media
from confaudit.evidence.build import build_evidence
from confaudit.evidence.schema import validate_bundle

pytestmark = pytest.mark.slow


def test_canary_found_in_chromium_audio_and_video(tmp_path: Path) -> None:
    media = write_canary_media(tmp_path / "canary", "chromium-canary", seconds=4.0)
    capture, keylog = record_chromium_call(tmp_path, media, 3.0, peer="aiortc")
    bundle = build_evidence([capture], keylog=keylog, canary=media.spec_json, redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    e2ee = bundle["e2ee"]
    assert [s["keys"] for s in e2ee["sessions"]] == ["found"]
    found = {s["canary"]["kind"]: s for s in e2ee["streams"] if s.get("canary") and s["canary"]["found"]}
    assert set(found) == {"audio", "video"}, [(s["kind"], s["inner"], s["reasons"]) for s in e2ee["streams"]]
    audio, video = found["audio"]["canary"]["figures"], found["video"]["canary"]["figures"]
    assert found["audio"]["inner"] == "codec" and found["audio"]["codec"] == "opus"
    assert audio["match_share"] >= 0.8 and audio["segments_matched"] >= 8 and audio["runner_up_share"] < 0.4
    assert found["video"]["inner"] == "codec" and found["video"]["codec"] in ("vp8", "vp9", "h264")
    assert video["frames_matched"] >= 30 and video["counter_forward"] >= 0.9 * video["counter_steps"]
    assert e2ee["summary"]["conclusion"] == "media_readable_at_transport_end"
    assert e2ee["canaries"][0]["seed"] == "chromium-canary"


def test_chromium_keylog_has_tls_but_no_dtls_secrets(tmp_path: Path) -> None:
    from confaudit.e2ee.keylog import read_keylog

    media = write_canary_media(tmp_path / "canary", "chromium-keylog", seconds=4.0)
    capture, browser_keylog = record_chromium_call(tmp_path, media, 2.0, peer="chromium")
    log = read_keylog(browser_keylog, strict=True)
    assert log.lines > 0, "Chromium wrote its TLS secrets to SSLKEYLOGFILE"
    bundle = build_evidence([capture], keylog=browser_keylog, canary=media.spec_json, redactor=Redactor.default())
    e2ee = bundle["e2ee"]
    assert e2ee["sessions"], "the call's DTLS handshake is in the capture"
    assert all(s["keys"] == "missing" for s in e2ee["sessions"])
    assert all(e["dtls_sessions_matched"] == 0 for e in e2ee["keylogs"])
    # (media moved to another candidate pair is reported only once it authenticates, so only the first flow's show)
    assert e2ee["streams"] and all(s["inner"] == "not_observable" and s["decrypted"] == 0 for s in e2ee["streams"])
    assert not any(s.get("canary") for s in e2ee["streams"])
    assert sum(m["packets"] for m in bundle["media_streams"] if m.get("kind") in ("audio", "video")) >= 50
