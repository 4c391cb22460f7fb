"""Files the user owns, through the real CLI: an output never overwrites an input, several outputs are written
all or none, and ``--parquet DIR`` holds exactly one run's tables even when the writer is killed mid-write."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.environment import REPO

CONFAUDIT = str(Path(sys.executable).with_name("confaudit"))
SAMPLE = REPO / "samples" / "sessions" / "example-rooms"
CLAIMS = REPO / "samples" / "claims" / "example-rooms.yaml"
MARKER = ".confaudit-output.json"


def confaudit(*args: object, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CONFAUDIT, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("confaudit: error: "), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every entry of a directory and its bytes (an entry that is not a regular file fails the test)."""
    out = {}
    for entry in sorted(directory.iterdir()):
        assert entry.is_file() and not entry.is_symlink(), entry
        out[entry.name] = entry.read_bytes()
    return out


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".confaudit-" in p.name and p.name.endswith(".tmp"))


@pytest.fixture
def capture(shared_captures: Path, tmp_path: Path) -> Path:
    """A private, writable copy of a real capture (a refusal must leave it byte for byte)."""
    return Path(shutil.copy(shared_captures / "sip.pcap", tmp_path / "sip.pcap"))


# --- an output is never one of the inputs -------------------------------------------------------------------

def test_json_over_the_input_capture_is_refused_by_every_spelling(capture: Path, tmp_path: Path) -> None:
    original = capture.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.pcap").symlink_to(capture)
    os.link(capture, tmp_path / "hard.pcap")
    (tmp_path / "dirlink").symlink_to(tmp_path / "sub")
    for spelling in ("sip.pcap", "sub/../sip.pcap", "link.pcap", "hard.pcap", str(capture), "dirlink/../sip.pcap"):
        done = confaudit("analyze", "sip.pcap", "--json", spelling, "-q", cwd=tmp_path)
        one_line_error(done, 2, f"--json {spelling} is the input sip.pcap (the same file)")
        assert capture.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dirlink", "hard.pcap", "link.pcap", "sip.pcap", "sub"]


@pytest.mark.parametrize("case", ["check-json-claims", "check-sarif-keylog", "analyze-entity-list", "report-evidence",
                                  "diff-new", "compare-claims-file", "check-two-outputs-one-file",
                                  "analyze-json-in-parquet", "analyze-parquet-holds-input"])
def test_outputs_that_would_overwrite_what_is_read_are_refused(case: str, capture: Path, tmp_path: Path) -> None:
    claims = Path(shutil.copy(CLAIMS, tmp_path / "claims.yaml"))
    keylog = tmp_path / "keys.log"
    keylog.write_text("CLIENT_RANDOM " + "00" * 32 + " " + "11" * 48 + "\n")
    entities = tmp_path / "entities.json"
    entities.write_text('{"name": "mine", "entities": {}}')
    evidence = tmp_path / "evidence.json"
    evidence.write_text("{}")
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir()
    vendor_claims = Path(shutil.copy(CLAIMS, claims_dir / "example-rooms.yaml"))
    args, needle = {
        "check-json-claims": (["check", capture, "--claims", claims, "--json", claims], "is the --claims"),
        "check-sarif-keylog": (["check", capture, "--claims", claims, "--keylog", keylog, "--sarif", keylog],
                               "is the --keylog"),
        "analyze-entity-list": (["analyze", capture, "--entity-list", entities, "--json", entities], "is the --entity-list"),
        "report-evidence": (["report", evidence, "--claims", claims, "--out", evidence], "is the input"),
        "diff-new": (["diff", capture, evidence, "--json", evidence], "is the new"),
        "compare-claims-file": (["compare", capture, "--claims-dir", claims_dir, "--markdown", vendor_claims],
                                "is the claims file"),
        "check-two-outputs-one-file": (["check", capture, "--claims", claims, "--json", tmp_path / "out",
                                        "--junit", tmp_path / "out"], "--json and --junit both name"),
        "analyze-json-in-parquet": (["analyze", capture, "--json", tmp_path / "pq" / "e.json", "--parquet", tmp_path / "pq"],
                                    "lies inside --parquet"),
        "analyze-parquet-holds-input": (["analyze", capture, "--parquet", tmp_path], "holds the input"),
    }[case]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    done = confaudit(*args, timeout=60)
    one_line_error(done, 2, needle)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_an_output_inside_an_input_session_is_refused(tmp_path: Path) -> None:
    session = Path(shutil.copytree(SAMPLE, tmp_path / "session"))
    names = sorted(p.name for p in session.iterdir())
    done = confaudit("analyze", session, "--json", session / "evidence.json", "-q", timeout=60)
    one_line_error(done, 2, "lies inside the input", "session is sealed by its manifest")
    done = confaudit("check", session, "--claims", CLAIMS, "--markdown", session / ".." / "session" / "summary.md", timeout=60)
    one_line_error(done, 2, "lies inside the input")
    assert sorted(p.name for p in session.iterdir()) == names


# --- several outputs: all or none ----------------------------------------------------------------------------

def test_check_writes_no_report_when_one_cannot_be_written(capture: Path, tmp_path: Path) -> None:
    """Staging fails for --sarif (its directory is a file): the earlier --json is not left, the old --junit stays."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory is needed")
    junit = tmp_path / "reports" / "junit.xml"
    junit.parent.mkdir()
    junit.write_text("old junit")
    done = confaudit("check", capture, "--claims", CLAIMS, "--vendor", "Example Rooms", "--json", tmp_path / "new" / "f.json",
                     "--junit", junit, "--sarif", blocker / "r.sarif")
    one_line_error(done, 3, "blocker/r.sarif: cannot write the --sarif output", "is a file, not a directory",
                   "no output was written")
    assert done.stdout == ""
    assert junit.read_text() == "old junit"
    assert not (tmp_path / "new").exists()  # the directory created for --json is removed again
    assert temporaries(tmp_path) == [] and temporaries(junit.parent) == []


def test_check_restores_reports_already_moved_when_a_later_one_fails(capture: Path, tmp_path: Path) -> None:
    """A file name longer than the file system allows fails only when moved into place, after --json was:
    --json is exchanged back to its old content."""
    findings = tmp_path / "findings.json"
    findings.write_text("old findings")
    too_long = tmp_path / ("s" * 300 + ".sarif")
    done = confaudit("check", capture, "--claims", CLAIMS, "--vendor", "Example Rooms", "--json", findings,
                     "--junit", tmp_path / "junit.xml", "--sarif", too_long)
    one_line_error(done, 3, "cannot write the --sarif output: File name too long", "no output was written")
    assert findings.read_text() == "old findings"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.json", "sip.pcap"]


def test_check_replaces_every_report_when_all_can_be_written(capture: Path, tmp_path: Path) -> None:
    paths = {opt: tmp_path / name for opt, name in (("--json", "f.json"), ("--junit", "j.xml"), ("--sarif", "r.sarif"),
                                                    ("--markdown", "s.md"))}
    for path in paths.values():
        path.write_text("old")
    done = confaudit("check", capture, "--claims", CLAIMS, "--vendor", "Example Rooms",
                     *[x for opt, path in paths.items() for x in (opt, path)])
    assert done.returncode in (0, 1, 3), done.stderr
    assert all(path.read_text() != "old" for path in paths.values())
    assert json.loads(paths["--json"].read_text())["findings"]
    assert temporaries(tmp_path) == []


def test_compare_leaves_no_report_when_its_json_cannot_be_written(shared_captures: Path, tmp_path: Path) -> None:
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir()
    shutil.copy(REPO / "samples" / "claims" / "zoom.yaml", claims_dir / "zoom.yaml")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = tmp_path / "out" / "comparison.html"
    done = confaudit("compare", f"Zoom={shared_captures / 'zoom2.pcap'}", "--claims-dir", claims_dir,
                     "--out", out, "--json", blocker / "comparison.json")
    assert done.returncode == 3, done.stderr
    assert "blocker/comparison.json: cannot write the --json output" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert not out.parent.exists()  # neither the per-vendor report nor the comparison, nor their new directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "claims"]


def test_analyze_keeps_the_old_json_when_the_parquet_directory_is_unusable(capture: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.json"
    evidence.write_text("old evidence")
    done = confaudit("analyze", capture, "--json", evidence, "--parquet", tmp_path / ("p" * 300), "-q")
    one_line_error(done, 3, "--parquet", "File name too long")
    assert evidence.read_text() == "old evidence"


@pytest.mark.parametrize("command", ["analyze", "report", "diff"])
def test_unwritable_outputs_are_one_line_exit_3(command: str, capture: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    args = {"analyze": ["analyze", capture, "-q", "--json"], "report": ["report", capture, "--claims", CLAIMS,
                                                                        "--vendor", "Example Rooms", "--out"],
            "diff": ["diff", capture, capture, "--json"]}[command]
    done = confaudit(*args, blocker / "out")
    one_line_error(done, 3, "blocker/out: cannot write the", "is a file, not a directory")
    done = confaudit(*args, tmp_path / ("o" * 300))
    one_line_error(done, 3, "File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "sip.pcap"]


def test_an_output_through_a_symlink_replaces_the_file_it_names_not_the_link(capture: Path, tmp_path: Path) -> None:
    real = tmp_path / "kept" / "evidence.json"
    real.parent.mkdir()
    real.write_text("old")
    (tmp_path / "link.json").symlink_to(real)
    done = confaudit("analyze", capture, "--json", tmp_path / "link.json", "-q")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.json").is_symlink() and json.loads(real.read_text())["inputs"]
    assert temporaries(tmp_path) == [] and temporaries(real.parent) == []


def test_a_pipe_as_output_is_refused_not_replaced(capture: Path, tmp_path: Path) -> None:
    import stat

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    one_line_error(confaudit("analyze", capture, "--json", fifo, "-q"), 3, "--json is not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- --parquet DIR: exactly this run's tables ----------------------------------------------------------------

def test_parquet_directory_holds_only_the_tables_of_the_last_run(capture: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "tables"
    done = confaudit("analyze", SAMPLE, "--parquet", target, "-q")
    assert done.returncode == 0, done.stderr
    session_tables = set(snapshot(target)) - {MARKER}
    assert {"http.parquet", "websocket.parquet", "session_sessions.parquet"} <= session_tables
    done = confaudit("analyze", capture, "--parquet", target, "--json", tmp_path / "sip.json", "-q")
    assert done.returncode == 0, done.stderr
    tables = set(snapshot(target)) - {MARKER}
    assert tables == session_tables  # every bundle has the same tables ...
    for stale in ("http", "websocket", "session_sessions"):  # ... and none keeps a row of the session
        assert pq.read_table(target / f"{stale}.parquet").num_rows == 0, stale
    bundle = json.loads((tmp_path / "sip.json").read_text())
    expected = {f"{k}.parquet" for k, v in bundle.items() if isinstance(v, list)}
    assert expected <= tables
    assert json.loads((target / MARKER).read_text()) == {"format": "confaudit-output", "kind": "parquet",
                                                        "files": sorted(tables)}
    assert pq.read_table(target / "flows.parquet").num_rows == len(bundle["flows"])
    assert temporaries(tmp_path) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~_umask())  # not mkdtemp's private 0700


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_parquet_refuses_a_directory_confaudit_did_not_write(capture: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the auditor's notes")
    (mine / "flows.parquet").write_text("looks like a table")
    done = confaudit("analyze", capture, "--parquet", mine, "--json", tmp_path / "e.json", "-q")
    one_line_error(done, 3, "--parquet replaces this whole directory", "1 entry confaudit did not write there (notes.txt)")
    assert snapshot(mine) == {"flows.parquet": b"looks like a table", "notes.txt": b"the auditor's notes"}
    assert not (tmp_path / "e.json").exists()
    # a directory of our own tables with something added to it is refused the same way
    ours = tmp_path / "ours"
    assert confaudit("analyze", capture, "--parquet", ours, "-q").returncode == 0
    (ours / "analysis.ipynb").write_text("{}")
    one_line_error(confaudit("analyze", capture, "--parquet", ours, "-q"), 3, "(analysis.ipynb)")
    assert (ours / "analysis.ipynb").read_text() == "{}"


def _http_rows(directory: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_table(directory / "http.parquet").num_rows


def test_parquet_replaces_tables_an_older_confaudit_wrote_without_a_marker(capture: Path, tmp_path: Path) -> None:
    older = tmp_path / "older"
    assert confaudit("analyze", SAMPLE, "--parquet", older, "-q").returncode == 0
    (older / MARKER).unlink()
    assert confaudit("analyze", capture, "--parquet", older, "-q").returncode == 0
    assert _http_rows(older) == 0 and MARKER in snapshot(older)  # the sample session's requests are gone


def test_parquet_symlink_keeps_pointing_at_the_new_tables(capture: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    assert confaudit("analyze", SAMPLE, "--parquet", real, "-q").returncode == 0
    (tmp_path / "link").symlink_to(real)
    assert confaudit("analyze", capture, "--parquet", tmp_path / "link", "-q").returncode == 0
    assert (tmp_path / "link").is_symlink() and _http_rows(real) == 0
    assert temporaries(tmp_path) == []


@pytest.mark.timeout(280)
def test_killed_parquet_writer_leaves_the_old_or_the_new_complete_set(capture: Path, tmp_path: Path) -> None:
    """SIGKILL a real `confaudit analyze --parquet` at random points, most of them while it writes: the directory
    always holds one run's complete set (marker included), never a mix; the next run removes the dead writer's
    temporaries."""
    sources = {"session": SAMPLE, "sip": capture}
    expected = {}
    for name, source in sources.items():
        assert confaudit("analyze", source, "--parquet", tmp_path / f"ref-{name}", "-q").returncode == 0
        expected[name] = snapshot(tmp_path / f"ref-{name}")
    assert set(expected["session"]) == set(expected["sip"]) and expected["session"] != expected["sip"]
    parent = tmp_path / "work"
    target = parent / "tables"
    assert confaudit("analyze", SAMPLE, "--parquet", target, "-q").returncode == 0
    current, rng, outcomes, deadline = "session", random.Random(1414), {"old": 0, "new": 0, "mid-write": 0}, time.monotonic() + 200
    for attempt in range(14):
        if time.monotonic() > deadline:
            break
        new = "sip" if current == "session" else "session"
        proc = subprocess.Popen([CONFAUDIT, "analyze", str(sources[new]), "--parquet", str(target), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if attempt % 4 == 3:  # anywhere in the run
                time.sleep(rng.uniform(0.0, 2.0))
            else:  # while it writes: once its temporary directory exists
                while proc.poll() is None and not temporaries(parent):
                    time.sleep(0.0005)
                outcomes["mid-write"] += proc.poll() is None
                time.sleep(rng.uniform(0.0, 0.8))  # staging, fsyncs, the exchange, removing the old set, exit
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        found = snapshot(target)
        assert found in (expected[current], expected[new]), f"attempt {attempt}: a mix of two runs: {sorted(found)}"
        outcomes["new" if found == expected[new] else "old"] += 1
        current = new if found == expected[new] else current
    assert outcomes["mid-write"] >= 5, outcomes
    final = "sip" if current == "session" else "session"
    assert confaudit("analyze", sources[final], "--parquet", target, "-q").returncode == 0
    assert snapshot(target) == expected[final]
    assert sorted(p.name for p in parent.iterdir()) == ["tables"]  # the killed writers' temporaries are gone


# --- the writer itself ---------------------------------------------------------------------------------------

def test_without_an_atomic_exchange_outputs_are_replaced_whole_and_restored_on_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where renameat2(RENAME_EXCHANGE) is missing, a directory is moved aside and back on failure."""
    from confaudit import atomic_fs
    from confaudit.errors import OutputError
    from confaudit.output_set import DirectoryOutput, FileOutput, write_outputs

    monkeypatch.setattr(atomic_fs, "exchange", lambda first, second: False)
    evidence, tables = tmp_path / "e.json", tmp_path / "pq"
    evidence.write_bytes(b"old")
    write_outputs([DirectoryOutput("--parquet", tables, "parquet", {"a.parquet": b"1", "b.parquet": b"2"})])
    old_tables = snapshot(tables)
    with pytest.raises(OutputError, match="File name too long; no output was written"):
        write_outputs([DirectoryOutput("--parquet", tables, "parquet", {"c.parquet": b"3"}),
                       FileOutput("--sarif", tmp_path / ("s" * 300), b"x")])
    assert snapshot(tables) == old_tables and evidence.read_bytes() == b"old"
    write_outputs([FileOutput("--json", evidence, b"new"), DirectoryOutput("--parquet", tables, "parquet", {"c.parquet": b"3"})])
    assert evidence.read_bytes() == b"new" and set(snapshot(tables)) == {MARKER, "c.parquet"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.json", "pq"]


def test_temporaries_of_dead_writers_are_removed_and_no_others(tmp_path: Path) -> None:
    from confaudit.output_set import DirectoryOutput, FileOutput, write_outputs

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale_file = tmp_path / f".e.json.confaudit-{dead.pid}-k3j2x9.tmp"
    stale_file.write_text("half written")
    stale_dir = tmp_path / f".pq.confaudit-{dead.pid}-a8f0q1.tmp"
    stale_dir.mkdir()
    (stale_dir / "flows.parquet").write_bytes(b"part")
    kept = [tmp_path / f".e.json.confaudit-{os.getppid()}-livewr.tmp",  # a writer still running
            tmp_path / f".other.json.confaudit-{dead.pid}-q1w2e3.tmp",  # another target's
            tmp_path / f".pq.confaudit-{dead.pid}-nested.tmp"]  # holds a directory: not what a writer stages
    kept[0].write_text("in progress")
    kept[1].write_text("not ours to judge")
    (kept[2] / "sub").mkdir(parents=True)
    write_outputs([FileOutput("--json", tmp_path / "e.json", b"{}"),
                   DirectoryOutput("--parquet", tmp_path / "pq", "parquet", {"t.parquet": b"x"})])
    assert not stale_file.exists() and not stale_dir.exists()
    assert all(p.exists() for p in kept)
