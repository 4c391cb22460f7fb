"""Provenance of a session directory: a manifest without hashes never reads as "files still match", and a
manifest never makes confaudit read anything outside its session directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from confaudit.session.directory import read_session, session_provenance

from support.environment import REPO

CLAIMS = REPO / "samples" / "claims" / "example-rooms.yaml"
CONFAUDIT = str(Path(sys.executable).with_name("confaudit"))
MATCH_ROW = "<th>Files still match their manifest hashes</th><td>"


@pytest.fixture
def session(sample_session_copy: Path) -> Path:
    return sample_session_copy


def provenance(directory: Path) -> dict:
    return session_provenance([read_session(directory)])


def edit_manifest(directory: Path, **fields: object) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(fields)
    path.write_text(json.dumps(manifest))


def report_match_cell(directory: Path, tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    done = subprocess.run([CONFAUDIT, "report", directory, "--claims", CLAIMS, "--out", out], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    start = html.index(MATCH_ROW) + len(MATCH_ROW)
    return html[start:html.index("</td>", start)]


# --- no hashes recorded --------------------------------------------------------------------------------------

def test_a_sealed_session_records_its_hashes(session: Path, tmp_path: Path) -> None:
    prov = provenance(session)
    assert prov["hashes_recorded"] is True and prov["sessions"][0]["hashes_recorded"] is True
    assert report_match_cell(session, tmp_path) == "yes"


def test_a_finished_manifest_without_hashes_says_so_and_never_matches(session: Path, tmp_path: Path) -> None:
    edit_manifest(session, files={})
    prov = provenance(session)
    assert prov["hashes_recorded"] is False and prov["files_match"] is False
    assert prov["integrity"] == {"verified": False, "problems": [
        f"{session}: manifest.json records no file hashes (no hashes recorded): 5 files in the directory cannot be "
        "verified (capture.pcapng, flows.mitm, observations.jsonl, phases.jsonl, sslkeys.log)"]}
    cell = report_match_cell(session, tmp_path)
    assert "no hashes recorded" in cell and "yes" not in cell


def test_the_manifest_a_killed_capture_leaves_reads_as_no_hashes_recorded(session: Path, tmp_path: Path) -> None:
    edit_manifest(session, files={}, stopped=None)  # what `capture` leaves when killed (test_session_integrity kills one)
    prov = provenance(session)
    assert prov["hashes_recorded"] is False and prov["files_match"] is False
    assert prov["integrity"]["problems"] == [
        f"{session}: manifest.json has no stop time: the capture never finished (killed or still running), so no "
        "hashes were recorded and its files cannot be verified"]
    assert "no hashes recorded" in report_match_cell(session, tmp_path)


def test_a_listed_file_without_a_valid_hash_is_named(session: Path) -> None:
    manifest = json.loads((session / "manifest.json").read_text())
    manifest["files"]["phases.jsonl"]["sha256"] = "not-a-digest"
    (session / "manifest.json").write_text(json.dumps(manifest))
    prov = provenance(session)
    assert prov["hashes_recorded"] is False and prov["files_match"] is False
    assert prov["integrity"]["problems"] == [
        f"{session}: phases.jsonl: no hash recorded in manifest.json (no valid SHA-256): unverifiable"]


# --- nothing outside the session directory is read because a manifest names it ------------------------------

@pytest.fixture
def outside_fifo(tmp_path: Path) -> Path:
    """A FIFO beside the session: opening it for reading would block the test until its timeout."""
    fifo = tmp_path / "outside.fifo"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize("name,why", [
    ("../outside.bin", "a path leading out of the session directory ('..')"),
    ("ABSOLUTE", "an absolute path outside the session directory"),
    ("sub/../../outside.bin", "a path leading out of the session directory ('..')"),
    ("..\\outside.bin", "a path leading out of the session directory ('..')"),
    ("linked-dir/outside.bin", "a path, not a file name in the session directory"),
    ("..", "a directory reference, not a file name"),
    ("nul\0name", "a name with a NUL character"),
], ids=["dotdot", "absolute", "nested-dotdot", "backslash", "through-a-linked-directory", "parent", "nul"])
def test_a_manifest_name_outside_the_directory_is_refused_and_never_read(session: Path, tmp_path: Path, name: str,
                                                                        why: str) -> None:
    """The manifest lists a file outside with its true hash: were it read, it would verify."""
    import hashlib

    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"a file of the auditor's, outside the session")
    os.symlink(tmp_path, session / "linked-dir")
    (session / "sub").mkdir()
    name = str(outside) if name == "ABSOLUTE" else name
    manifest = json.loads((session / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(outside.read_bytes()).hexdigest(),
                               "size": outside.stat().st_size, "sensitive": False}
    (session / "manifest.json").write_text(json.dumps(manifest))
    prov = provenance(session)
    assert prov["integrity"]["verified"] is False and prov["files_match"] is False and prov["hashes_recorded"] is False
    assert f"{session}: manifest.json lists {name[:80]!r}, {why}: never read, so the session cannot be verified" \
        in prov["integrity"]["problems"]


@pytest.mark.timeout(60)
def test_a_listed_file_replaced_by_a_link_out_of_the_directory_is_never_followed(session: Path, outside_fifo: Path) -> None:
    (session / "phases.jsonl").unlink()
    os.symlink(outside_fifo, session / "phases.jsonl")
    prov = provenance(session)
    assert f"{session}: phases.jsonl: not a regular file (a symbolic link)" in prov["integrity"]["problems"]


def test_a_session_file_linked_to_a_capture_outside_is_not_analysed(session: Path, shared_captures: Path,
                                                                   tmp_path: Path) -> None:
    """capture.pcapng pointing at another capture: its packets never enter the evidence, and the link is named."""
    (session / "capture.pcapng").unlink()
    os.symlink(shared_captures / "sip.pcap", session / "capture.pcapng")
    out = tmp_path / "evidence.json"
    done = subprocess.run([CONFAUDIT, "analyze", session, "--json", out, "-q"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out.read_text())
    assert not any(i["path"].endswith(("capture.pcapng", "sip.pcap")) for i in bundle["inputs"]), bundle["inputs"]
    assert not bundle.get("flows") and not bundle.get("sip")
    assert bundle["complete"] is False
    assert f"{session}: capture.pcapng: not a regular file (a symbolic link)" in bundle["session"]["integrity"]["problems"]


def test_a_linked_manifest_is_refused_with_one_line(session: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    (session / "manifest.json").rename(real)
    os.symlink(real, session / "manifest.json")
    done = subprocess.run([CONFAUDIT, "analyze", session, "-q"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 3 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "manifest.json: not a regular file" in done.stderr


def test_a_file_swapped_after_it_was_examined_is_not_hashed(tmp_path: Path) -> None:
    from confaudit.session.integrity import _sha256_of_entry

    examined, swapped_in = tmp_path / "a", tmp_path / "b"
    examined.write_bytes(b"sealed")
    swapped_in.write_bytes(b"other")
    with pytest.raises(OSError, match="replaced while it was being verified"):
        _sha256_of_entry(swapped_in, os.lstat(examined))
