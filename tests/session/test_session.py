"""Session directories: manifest, no double counting, tamper detection, phase markers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from confaudit.session.directory import (append_phase, finish_manifest, new_manifest, read_session,
                                       session_provenance, write_manifest)
from confaudit.errors import InputError


def _session(tmp_path: Path) -> Path:
    d = tmp_path / "s"
    d.mkdir()
    (d / "observations.jsonl").write_text('{"kind":"header"}\n')
    (d / "flows.mitm").write_bytes(b"0:~")
    (d / "capture.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 24)
    (d / "sslkeys.log").write_text("CLIENT_RANDOM aa bb\n")
    finish_manifest(d, new_manifest("rooms", scenario="s", operator="o", simulated=True,
                                    known={"room_names": ["blue"], "participants": ["Alice"]}))
    return d


def test_read_session_prefers_observations_never_both(tmp_path: Path) -> None:
    d = _session(tmp_path)
    sess = read_session(d)
    assert sess.http_sources == [d / "observations.jsonl"] and sess.captures == [d / "capture.pcapng"]
    assert sess.keylog == d / "sslkeys.log" and sess.room_names == ["blue"] and sess.participants == ["Alice"]
    (d / "observations.jsonl").unlink()
    assert read_session(d).http_sources == [d / "flows.mitm"]


def test_a_scenario_runs_browser_and_sfu_key_logs_are_read_sealed_and_sensitive(tmp_path: Path) -> None:
    d = tmp_path / "s"
    d.mkdir()
    assert read_session(d).media_keylogs == []
    (d / "sfu-keys.log").write_text("CLIENT_RANDOM aa bb\n")
    (d / "browser-keys.log").write_text("CLIENT_RANDOM cc dd\n")
    manifest = finish_manifest(d, new_manifest("rooms"))
    assert read_session(d).media_keylogs == [d / "browser-keys.log", d / "sfu-keys.log"]
    assert manifest["files"]["sfu-keys.log"]["sensitive"] and manifest["files"]["browser-keys.log"]["sensitive"]
    (d / "sfu-keys.log").write_text("CLIENT_RANDOM aa ee\n")  # keys swapped after the capture: no longer verified
    problems = session_provenance([read_session(d)])["integrity"]["problems"]
    assert any("sfu-keys.log" in p for p in problems), problems


def test_manifest_marks_raw_files_sensitive_and_provenance_detects_tampering(tmp_path: Path) -> None:
    d = _session(tmp_path)
    manifest = json.loads((d / "manifest.json").read_text())
    assert {n for n, f in manifest["files"].items() if f["sensitive"]} == {"flows.mitm", "capture.pcapng", "sslkeys.log"}
    assert os.stat(d / "manifest.json").st_size > 0 and manifest["stopped"] >= manifest["started"]
    prov = session_provenance([read_session(d)])
    assert prov["files_match"] and prov["simulated"] and prov["vendor"] == "rooms"
    assert sorted(prov["sessions"][0]["sensitive_files"]) == ["capture.pcapng", "flows.mitm", "sslkeys.log"]
    (d / "capture.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a" + b"\1" * 24)
    prov = session_provenance([read_session(d)])
    assert not prov["files_match"]
    assert [f["matches"] for f in prov["sessions"][0]["files"] if f["name"] == "capture.pcapng"] == [False]


@pytest.mark.parametrize("content", ["{", "[1, 2]", '{"format": "something-else"}', '{"files": []}', '{"a": NaN}'])
def test_corrupt_manifest_is_input_error(tmp_path: Path, content: str) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / "manifest.json").write_text(content)
    with pytest.raises(InputError) as err:
        read_session(d)
    assert "manifest.json" in str(err.value) and "\n" not in str(err.value)


def test_phases_torn_tail_skipped_garbage_rejected(tmp_path: Path) -> None:
    d = tmp_path / "s"
    d.mkdir()
    write_manifest(d, new_manifest("v"))
    append_phase(d, "joined", ts=10.0)
    append_phase(d, "muted", ts=20.0)
    with (d / "phases.jsonl").open("a") as fh:
        fh.write('{"phase": "unmu')
    assert [p["phase"] for p in read_session(d).phases] == ["joined", "muted"]
    (d / "phases.jsonl").write_text('{"phase": 1, "ts": 2}\n{"phase": "left", "ts": 3}\n')
    with pytest.raises(InputError):
        read_session(d)


def test_phase_labels_are_validated(tmp_path: Path) -> None:
    for bad in ("", "x" * 65, "line\nbreak"):
        with pytest.raises(InputError):
            append_phase(tmp_path, bad)
    assert append_phase(tmp_path, "  camera-off ")["phase"] == "camera-off"
