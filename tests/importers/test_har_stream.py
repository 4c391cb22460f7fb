"""HAR files streamed entry by entry: the records json.load would give, bounded memory, hostile shapes refused."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from confaudit.importers import har
from confaudit.importers import har_stream
from confaudit.importers.http_sources import load_http_sources
from confaudit.errors import InputError
from confaudit.redact import Redactor

from support.environment import REPO


def _entry(n: int, **extra: object) -> dict:
    body = json.dumps({"event": f"beacon {n}", "note": 'quote " bracket [ brace { backslash \\ é 𝄞', "ids": [n, n + 1]})
    entry = {"startedDateTime": f"2026-11-25T09:00:{n % 60:02d}.{n:03d}Z", "time": 5.25 + n, "serverIPAddress": "203.0.113.7",
             "request": {"method": "POST", "url": f"https://api.rooms.test/v1/beacon?n={n}&access_token=tok{n % 3}",
                         "httpVersion": "h2", "headers": [{"name": "Cookie", "value": f"sid=s{n % 2}"},
                                                          {"name": "Content-Type", "value": "application/json"}],
                         "postData": {"mimeType": "application/json", "text": body}},
             "response": {"status": 200, "headers": [{"name": "content-type", "value": "application/octet-stream"}],
                          "content": {"mimeType": "application/octet-stream", "encoding": "base64",
                                      "text": base64.b64encode(bytes(range(n % 7, 40))).decode()}},
             "_initiator": {"type": "script", "url": "https://rooms.test/app.js"}}
    if n % 4 == 3:
        entry["_webSocketMessages"] = [{"type": "send", "time": 1795597200.5 + n, "opcode": 1, "data": '{"join": "[room]"}'},
                                       {"type": "receive", "time": 1795597200.75 + n, "opcode": 2,
                                        "data": base64.b64encode(b"\x00\x01bin").decode()}]
    entry.update(extra)
    return entry


def _write(path: Path, entries: list[dict], bom: bool = False) -> Path:
    text = json.dumps({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                               "entries": entries}}, ensure_ascii=False, indent=1)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("chunk", [1, 7, 500, 1 << 20])
def test_streamed_records_are_those_of_the_parsed_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    path = _write(tmp_path / "devtools.har", [_entry(n) for n in range(12)], bom=True)
    redactor = Redactor(b"k" * 32)
    parsed = json.loads(path.read_text(encoding="utf-8-sig"))["log"]["entries"]
    expected = har.har_records(parsed, path, redactor)
    monkeypatch.setattr(har_stream, "CHUNK_BYTES", chunk)
    records, read, skipped, warnings = har.read_har(path, redactor)
    assert (records, skipped, warnings) == expected and read == 12
    assert len(records) == 12 + 3 * 2 and "[REDACTED" in records[0]["url"] and records[0]["duration_ms"] == 5.25


def test_numbers_no_double_holds_skip_their_entry_and_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps({"log": {"entries": [_entry(n) for n in range(6)]}})
    for good, bad in (("6.25", "1e400"), ("8.25", "9" * 400), ("1795597203.5", "2.5e308"), ("10.25", "-1E+999")):
        assert f'"time": {good},' in text
        text = text.replace(f'"time": {good},', f'"time": {bad},')  # entries 1, 3 (twice: its WebSocket message), 5
    path = tmp_path / "numbers.har"
    path.write_text(text)
    for chunk in (3, 1 << 20):
        monkeypatch.setattr(har_stream, "CHUNK_BYTES", chunk)
        bundle = load_http_sources([path], redactor=Redactor.default())
        source = bundle["inputs"][0]
        assert (source["records_read"], source["records_skipped"], bundle["complete"]) == (3, 3, False)
        assert [w.split(" at $")[0] for w in source["warnings"]] == [
            f"numbers.har: entry {n} skipped: number out of range" for n in (1, 3, 5)]
        assert {h["duration_ms"] for h in bundle["http"]} == {5.25, 7.25, 9.25} and bundle["websocket"] == []


def test_a_number_just_above_the_largest_double_is_out_of_range_though_float_rounds_it_down(tmp_path: Path) -> None:
    text = json.dumps({"log": {"entries": [_entry(n) for n in range(3)]}})
    text = text.replace('"time": 5.25,', '"time": 1.7976931348623157e308,').replace('"time": 6.25,', '"time": 1.7976931348623158e308,')
    path = tmp_path / "edge.har"
    path.write_text(text)
    source = load_http_sources([path], redactor=Redactor.default())["inputs"][0]
    assert (source["records_read"], source["records_skipped"]) == (2, 1)
    assert source["warnings"] == ["edge.har: entry 1 skipped: number out of range at $.time"]


def test_nesting_deeper_than_the_decoder_goes_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """Nesting past what the C decoder goes (about 1,500 levels) ends the file there, in bounded memory."""
    path = tmp_path / "deep.har"
    path.write_text('{"log": {"entries": [{"x": ' + "[" * 3000 + "]" * 3000 + "}, " + json.dumps(_entry(1)) + "]}}")
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            load_http_sources([path], redactor=Redactor.default())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == f"{path}: invalid JSON: nesting deeper than 200 levels"
    assert peak < 8_000_000


@pytest.mark.parametrize(("text", "problem"), [
    ('{"log": {"entries": [{"startedDateTime": "\\udc00"}]}}', "invalid JSON: a string holds a lone UTF-16 surrogate"),
    ('{"log": {"entries": [], "x": Infinity}}', "invalid JSON: non-finite number Infinity is not allowed"),
    ('{"log": {"entries": [{"a": 1', "invalid JSON: the file ends before the JSON does"),
    ('{"log": {"entries": [}', "invalid JSON: Expecting value at character 21"),
    ('{"log": {"entries": [{"a": tx}]}}', "invalid JSON: Expecting value at character 27"),
    ('{"log": {"entries": []}} x', "invalid JSON: extra data after the document at character 25"),
    ('{"log": {"entries": [NaN]}}', "invalid JSON: non-finite number NaN is not allowed"),
    ('{"log": []}', "HAR document: no 'log' object"),
    ('{"entries": [], "version": "1.2"}', "HAR document: no 'log' object"),
    ('{"log": {"pages": [], "entries": "none"}}', "HAR log: 'entries' must be a list"),
])
def test_malformed_documents_are_one_line_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.har"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_http_sources([path], redactor=Redactor.default())
    assert str(err.value) == f"{path}: {problem}"


@pytest.mark.parametrize("damage", ["cut", "garbage", "unbalanced", "too deep to decode"])
def test_a_har_damaged_after_some_entries_is_read_up_to_the_damage(tmp_path: Path, damage: str) -> None:
    text = json.dumps({"log": {"entries": [_entry(n) for n in range(6)]}})
    sixth = text.index('{"startedDateTime": "2026-11-25T09:00:05')
    text = {"cut": text[:sixth + 200], "garbage": text[:sixth] + "\x00\x01" + text[sixth:],
            "unbalanced": text[:sixth] + "[" * 500 + text[sixth:],
            "too deep to decode": text[:sixth] + "[" * 5000 + "]" * 5000 + ", " + text[sixth:]}[damage]
    path = tmp_path / "damaged.har"
    path.write_text(text)
    bundle = load_http_sources([path], redactor=Redactor.default())
    source = bundle["inputs"][0]
    assert (source["records_read"], source["records_skipped"], bundle["complete"]) == (5, 1, False)
    problem = {"cut": "the file ends before the JSON does", "garbage": f"Expecting value at character {sixth}",
               "unbalanced": f"Expecting ',' delimiter at character {len(text) - 2}",
               "too deep to decode": "nesting deeper than 200 levels"}[damage]
    assert source["warnings"] == [f"damaged.har: not JSON after entry 4 ({problem}); the rest of the file is not read"]
    assert [h["duration_ms"] for h in bundle["http"]] == [5.25, 6.25, 7.25, 8.25, 9.25]


def test_an_entry_nested_too_deep_is_skipped_and_counted(tmp_path: Path) -> None:
    """Nesting past 200 levels in the document (197 inside an entry) skips that entry; 197 levels are read."""
    entries = [_entry(n) for n in range(4)]
    entries[1]["_deep"] = json.loads("[" * 196 + "]" * 196)  # the entry object + 196 arrays: 197 levels
    entries[2]["_deep"] = json.loads("[" * 197 + "]" * 197)
    entries[3]["request"]["comment"] = "[" * 300 + "{" * 300  # brackets in a string do not nest
    path = _write(tmp_path / "deep.har", entries)
    bundle = load_http_sources([path], redactor=Redactor.default())
    source = bundle["inputs"][0]
    assert (source["records_read"], source["records_skipped"], bundle["complete"]) == (3, 1, False)
    assert source["warnings"] == ["deep.har: entry 2 skipped: nesting deeper than 200 levels"]
    assert [h["duration_ms"] for h in bundle["http"]] == [5.25, 6.25, 8.25]


def test_the_cli_reads_a_damaged_har_and_refuses_a_hostile_one(tmp_path: Path) -> None:
    damaged, deep = tmp_path / "cut.har", tmp_path / "deep.har"
    damaged.write_text(json.dumps({"log": {"entries": [_entry(n) for n in range(3)]}})[:-40])
    deep.write_text('{"log": {"entries": [' + "[" * 100_000 + "]" * 100_000 + "]}}")
    read = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(damaged), "--json", str(tmp_path / "e.json")],
                          capture_output=True, text=True, timeout=120)
    printed = " ".join(read.stderr.split())
    assert read.returncode == 0 and "INCOMPLETE" in printed and "not JSON after entry 1" in printed
    assert json.loads((tmp_path / "e.json").read_text())["complete"] is False
    refused = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(deep), "--json", str(tmp_path / "d.json")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 3 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [f"confaudit: error: {deep}: invalid JSON: nesting deeper than 200 levels"]
    assert not (tmp_path / "d.json").exists()


def test_invalid_utf8_is_a_one_line_error_and_an_empty_log_is_empty(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.har"
    bad.write_bytes(b'{"log": {"entries": [{"x": "caf\xe9"}]}}')
    with pytest.raises(InputError, match="bytes that are not UTF-8 at byte 31") as err:
        load_http_sources([bad], redactor=Redactor.default())
    assert "\n" not in str(err.value) and "caf" not in str(err.value)
    empty = tmp_path / "empty.har"
    empty.write_text('{"log": {"version": "1.2", "entries": []}}')
    bundle = load_http_sources([empty], redactor=Redactor.default())
    assert bundle["http"] == [] and bundle["complete"] is True and bundle["inputs"][0]["records_read"] == 0


def test_analyze_of_a_large_har_stays_in_bounded_memory(tmp_path: Path) -> None:
    """20,000 entries (15 MB): with the document held whole the run peaked at 324 MB; streamed, about 130 MB."""
    from benchmarks.synth_har import write_har

    path, out = tmp_path / "large.har", tmp_path / "evidence.json"
    write_har(path, 20_000)
    # VmHWM, not ru_maxrss: the latter keeps the peak of the forked test process across exec.
    script = ("import sys\nfrom confaudit.cli import main\nsys.argv = ['confaudit', 'analyze', sys.argv[1], "
              "'--json', sys.argv[2], '-q']\ntry:\n    main()\nfinally:\n    with open('/proc/self/status') as fh:\n"
              "        print(next(line.split()[1] for line in fh if line.startswith('VmHWM:')), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script, str(path), str(out)], capture_output=True, text=True,
                          timeout=240, cwd=REPO)
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
    bundle = json.loads(out.read_text())
    assert len(bundle["http"]) == 20_000 and bundle["inputs"][0]["records_read"] == 20_000 and bundle["complete"]
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"
