"""Inputs real tools produce that used to crash (exit 4): non-UTF-8 header bytes in .mitm files, userinfo in
URLs, numbers no double can hold, corrupt gzip, unreadable inputs and unwritable outputs; and compact
evidence JSON. Every exit code is checked through the real CLI in a subprocess."""

from __future__ import annotations

from confaudit.redact import Redactor
import gzip
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import io as mitm_io
from mitmproxy.test import taddons, tflow

from confaudit.errors import InputError
from support.environment import REPO
from support.har_build import har_entry, write_har

CLI = [sys.executable, "-m", "confaudit"]
CLAIMS = REPO / "samples" / "claims" / "example-rooms.yaml"
HOST = "api.example-rooms.test"


def _cli(*args: Any, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *CLI, *map(str, args)], capture_output=True, text=True, timeout=180, cwd=REPO)


def _one_line_error(res: subprocess.CompletedProcess[str], code: int, *names: object) -> str:
    """The single stderr line of a refused run; fails unless the exit code and the named paths are right."""
    assert res.returncode == code, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr and "Usage:" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("confaudit: error:")]
    assert len(errors) == 1, res.stderr
    for name in names:
        assert str(name)[:200] in errors[0], (name, errors[0])
    return errors[0]


def _bundle(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# ---- non-UTF-8 bytes from mitmproxy's own writer ---------------------------------------------------
def _latin1_flow_file(path: Path) -> None:
    flow = tflow.tflow(resp=True)
    flow.request.url = f"https://{HOST}/files/report"
    flow.response.headers[b"content-disposition"] = b'attachment; filename="r\xe9sum\xe9.pdf"'
    with path.open("wb") as fh:
        mitm_io.FlowWriter(fh).add(flow)


def test_latin1_header_in_mitm_file_is_decoded_once_for_json_and_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    flows = tmp_path / "latin1.mitm"
    _latin1_flow_file(flows)
    res = _cli("analyze", flows, "--json", tmp_path / "e.json", "--parquet", tmp_path / "pq", "-q")
    assert res.returncode == 0, res.stderr
    headers = dict(_bundle(tmp_path / "e.json")["http"][0]["response_headers"])
    assert headers["content-disposition"] == 'attachment; filename="r\ufffdsum\ufffd.pdf"'
    row = pq.read_table(tmp_path / "pq" / "http.parquet").to_pylist()[0]
    assert "r\ufffdsum\ufffd.pdf" in row["response_headers"]


def test_undecodable_path_query_and_header_name_reach_no_writer_as_surrogates(tmp_path: Path) -> None:
    flow = tflow.tflow(resp=True)
    flow.request.url = f"https://{HOST}/x"
    flow.request.data.path = b"/caf\xe9/doc?name=\xff\xfe&room=blue"
    flow.request.headers[b"x-caf\xe9"] = b"v\xe9"
    flows = tmp_path / "bytes.mitm"
    with flows.open("wb") as fh:
        mitm_io.FlowWriter(fh).add(flow)
    res = _cli("analyze", flows, "--json", tmp_path / "e.json", "-q")
    assert res.returncode == 0, res.stderr
    rec = _bundle(tmp_path / "e.json")["http"][0]
    assert rec["path"] == "/caf\ufffd/doc" and ["name", "\ufffd\ufffd"] in rec["query"] and ["room", "blue"] in rec["query"]
    assert ["x-caf\ufffd", "v\ufffd"] in rec["request_headers"]


async def test_live_addon_writes_latin1_headers_as_replacement_characters(tmp_path: Path) -> None:
    from confaudit.live.addons import SessionRecorder

    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path), confaudit_vendor="Example Rooms")
        flow = tflow.tflow(resp=True)
        flow.response.headers[b"content-disposition"] = b'attachment; filename="caf\xe9.pdf"'
        await tctx.cycle(addon, flow)
        addon.done()
    records = [json.loads(line) for line in (tmp_path / "observations.jsonl").read_text().splitlines()]
    http_rec = next(r for r in records if r["kind"] == "http")
    assert ["content-disposition", 'attachment; filename="caf\ufffd.pdf"'] in http_rec["response_headers"]
    assert json.loads((tmp_path / "manifest.json").read_text())["hook_errors"] == {}


# ---- userinfo in URLs ----------------------------------------------------------------------------------
def _observation_session(directory: Path, first_url: str) -> Path:
    """A session whose observations an older or foreign addon wrote: two requests with data to two parties."""
    directory.mkdir()
    body = {"content_type": "application/json", "encoding": "identity", "size": 60, "wire_size": 60,
            "truncated": False, "cap": 262144}
    records = [
        {"kind": "http", "flow_uuid": "a", "ts": 1795597220.0, "method": "POST", "url": first_url, "scheme": "https",
         "host": HOST, "port": 443, "path": "/api/join", "query": [], "http_version": "HTTP/1.1", "status": 200,
         "request_headers": [["content-type", "application/json"]], "response_headers": [],
         "request_body": dict(body, text=json.dumps({"roomName": "Orchid", "timezone": "Europe/Berlin"})),
         "response_body": None, "client": None, "server": None, "source": "live", "flow": None, "duration_ms": 3.0,
         "error": None},
        {"kind": "http", "flow_uuid": "b", "ts": 1795597221.0, "method": "POST",
         "url": "https://www.google-analytics.com/collect", "scheme": "https", "host": "www.google-analytics.com",
         "port": 443, "path": "/collect", "query": [], "http_version": "HTTP/1.1", "status": 200,
         "request_headers": [["content-type", "application/json"], ["origin", f"https://{HOST}"]],
         "response_headers": [], "request_body": dict(body, text=json.dumps({"ua": "Mozilla/5.0", "tz": "Europe/Berlin"})),
         "response_body": None, "client": None, "server": None, "source": "live", "flow": None, "duration_ms": 3.0,
         "error": None},
    ]
    (directory / "observations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (directory / "manifest.json").write_text(json.dumps({"format": "confaudit-session", "vendor": "Example Rooms",
                                                         "started": 1795597200.0, "stopped": None}))
    return directory


@pytest.mark.parametrize("url", [
    f"https://[REDACTED userinfo #0123abcd]@{HOST}/api/join",  # an older confaudit's unescaped token
    f"https://auditor:pa[ss]w0rd@{HOST}/api/join",  # brackets urllib reads as an IPv6 host
    f"https://auditor:s3cretpw@{HOST}/api/join",
])
def test_session_record_with_userinfo_keeps_its_parties_and_data_flows(tmp_path: Path, url: str) -> None:
    from urllib.parse import urlsplit

    plain = _observation_session(tmp_path / "plain", f"https://{HOST}/api/join")
    odd = _observation_session(tmp_path / "odd", url)
    for session in (plain, odd):
        res = _cli("analyze", session, "--json", tmp_path / f"{session.name}.json", "-q", "--first-party", "example-rooms.test")
        assert res.returncode == 0, res.stderr
    want, got = _bundle(tmp_path / "plain.json"), _bundle(tmp_path / "odd.json")
    assert got["parties"] and got["data_flows"]
    assert [p["domain"] for p in got["parties"]] == [p["domain"] for p in want["parties"]]
    assert len(got["data_flows"]) == len(want["data_flows"])
    assert not any("telemetry" in w for w in got["warnings"]), got["warnings"]
    first = got["http"][0]["url"]
    assert urlsplit(first).hostname == HOST and "%5BREDACTED%20userinfo%20%23" in first
    text = (tmp_path / "odd.json").read_text()
    assert "pa[ss]w0rd" not in text and "s3cretpw" not in text


def test_record_whose_host_urllib_cannot_split_keeps_every_party(tmp_path: Path) -> None:
    plain = _observation_session(tmp_path / "plain", f"https://{HOST}/api/join")
    odd = _observation_session(tmp_path / "odd", "https://evil.[x]/api/join?room=blue#frag")
    for session in (plain, odd):
        res = _cli("analyze", session, "--json", tmp_path / f"{session.name}.json", "-q")
        assert res.returncode == 0, res.stderr
    want, got = _bundle(tmp_path / "plain.json"), _bundle(tmp_path / "odd.json")
    assert not any("telemetry" in w for w in got["warnings"]), got["warnings"]
    assert [p["domain"] for p in got["parties"]] == [p["domain"] for p in want["parties"]]
    assert got["data_flows"] and len(got["data_flows"]) == len(want["data_flows"])


def test_har_url_with_userinfo_is_redacted_and_read(tmp_path: Path) -> None:
    har = write_har(tmp_path / "u.har", [har_entry(f"https://alice:s3cretpw@{HOST}/api/join",
                                                   '{"roomName": "Orchid"}', "application/json")])
    res = _cli("analyze", har, "--json", tmp_path / "e.json", "-q")
    assert res.returncode == 0, res.stderr
    bundle = _bundle(tmp_path / "e.json")
    assert bundle["http"][0]["host"] == HOST and bundle["parties"]
    assert "s3cretpw" not in (tmp_path / "e.json").read_text()


# ---- numbers out of range ------------------------------------------------------------------------------
BIG_INT = "1" + "0" * 400


def _har_text(time_literal: str = "5", ws_time_literal: str = "1795597220.5") -> str:
    good = har_entry(f"https://{HOST}/ok", '{"a": 1}', "application/json", second=1)
    odd = har_entry(f"https://{HOST}/odd", '{"a": 2}', "application/json", second=2)
    odd["time"] = "@TIME@"
    odd["_webSocketMessages"] = [{"type": "send", "time": "@WS@", "opcode": 1, "data": "hi"}]
    text = json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [good, odd]}})
    return text.replace('"@TIME@"', time_literal).replace('"@WS@"', ws_time_literal)


@pytest.mark.parametrize("time_literal,ws_time_literal,where", [
    ("1e400", "1795597220.5", "$.time"),
    (BIG_INT, "1795597220.5", "$.time"),
    ("5", "1e400", "$._webSocketMessages[0].time"),
    ("5", "-" + BIG_INT, "$._webSocketMessages[0].time"),
])
def test_har_entry_with_number_out_of_range_is_skipped_and_counted(tmp_path: Path, time_literal: str,
                                                                     ws_time_literal: str, where: str) -> None:
    har = tmp_path / "n.har"
    har.write_text(_har_text(time_literal, ws_time_literal))
    res = _cli("analyze", har, "--json", tmp_path / "e.json", "--parquet", tmp_path / "pq", "-q")
    assert res.returncode == 0, res.stderr
    bundle = _bundle(tmp_path / "e.json")
    assert [h["path"] for h in bundle["http"]] == ["/ok"] and bundle["websocket"] == []
    item = bundle["inputs"][0]
    assert bundle["complete"] is False and item["complete"] is False and item["records_skipped"] == 1
    assert any("entry 1" in w and where in w for w in item["warnings"]), item["warnings"]


@pytest.mark.parametrize("literal", ["1e400", BIG_INT, "-1e309"])
def test_observation_with_number_out_of_range_is_skipped_and_counted(tmp_path: Path, literal: str) -> None:
    session = _observation_session(tmp_path / "s", f"https://{HOST}/api/join")
    obs = session / "observations.jsonl"
    obs.write_text(obs.read_text().replace("1795597220.0", literal, 1))
    res = _cli("analyze", session, "--json", tmp_path / "e.json", "-q")
    assert res.returncode == 0, res.stderr
    bundle = _bundle(tmp_path / "e.json")
    assert [h["host"] for h in bundle["http"]] == ["www.google-analytics.com"]
    item = bundle["inputs"][0]
    assert item["records_skipped"] == 1 and bundle["complete"] is False
    assert any("observations.jsonl:1" in w and "$.ts" in w for w in item["warnings"]), item["warnings"]


@pytest.mark.parametrize("literal", ["1e400", BIG_INT])
def test_phase_marker_with_number_out_of_range_is_skipped_and_makes_evidence_incomplete(tmp_path: Path,
                                                                                         literal: str) -> None:
    session = _observation_session(tmp_path / "s", f"https://{HOST}/api/join")
    (session / "phases.jsonl").write_text(f'{{"phase": "joined", "ts": 1795597210.0}}\n{{"phase": "muted", "ts": {literal}}}\n'
                                          '{"phase": "left", "ts": 1795597290.0}\n')
    res = _cli("analyze", session, "--json", tmp_path / "e.json", "-q")
    assert res.returncode == 0, res.stderr
    bundle = _bundle(tmp_path / "e.json")
    assert [p["phase"] for p in bundle["phases"]] == ["joined", "left"]
    assert bundle["complete"] is False
    assert any("phases.jsonl:2" in w and "$.ts" in w for w in bundle["warnings"]), bundle["warnings"]


@pytest.mark.parametrize("literal", ["1e400", BIG_INT])
def test_manifest_with_number_out_of_range_is_refused_naming_the_field(tmp_path: Path, literal: str) -> None:
    session = _observation_session(tmp_path / "s", f"https://{HOST}/api/join")
    manifest = session / "manifest.json"
    manifest.write_text(manifest.read_text().replace("1795597200.0", literal))
    for command in (["analyze", session, "-q"], ["check", session, "--claims", CLAIMS]):
        _one_line_error(_cli(*command), 3, manifest, "$.started")


@pytest.mark.parametrize("literal", ["1e400", BIG_INT])
def test_evidence_json_with_number_out_of_range_is_refused_naming_the_field(shared_captures: Path, tmp_path: Path,
                                                                              literal: str) -> None:
    bundle = tmp_path / "e.json"
    assert _cli("analyze", shared_captures / "stun_google_meet.pcapng", "--json", bundle, "-q").returncode == 0
    doc = _bundle(bundle)
    doc["flows"][0]["packets"] = "@N@"
    bundle.write_text(json.dumps(doc).replace('"@N@"', literal))
    _one_line_error(_cli("check", bundle, "--claims", REPO / "samples" / "claims" / "google-meet.yaml"), 3,
                    bundle, "$.flows[0].packets")


def test_number_validator_covers_what_json_and_streaming_parsers_produce() -> None:
    from confaudit.jsonio import first_bad_number, number_in_range

    assert all(number_in_range(v) for v in (0, -1, 1.5, 1e308, 10 ** 300, Decimal("1e308"), None, "1e400", True))
    assert not any(number_in_range(v) for v in (float("inf"), float("nan"), 10 ** 400, -(10 ** 400),
                                                Decimal("1e400"), Decimal("NaN"), Decimal("-Infinity")))
    assert first_bad_number({"a": [1, {"b": 2.0}], "c": {"d": [0, Decimal("1e999")]}}) == "$.c.d[1]"
    assert first_bad_number({"a": [1, 2.5, "x"]}) is None


# ---- corrupt gzip --------------------------------------------------------------------------------------
def test_gzip_corrupt_in_its_first_deflate_block_is_one_line_exit_3(shared_captures: Path, tmp_path: Path) -> None:
    packed = bytearray(gzip.compress((shared_captures / "sip.pcap").read_bytes()))
    packed[10] |= 0x06  # the first deflate block's BTYPE becomes 11: reserved, invalid
    bad = tmp_path / "call.pcap.gz"
    bad.write_bytes(bytes(packed))
    assert "gzip" in _one_line_error(_cli("analyze", bad, "-q"), 3, bad)


# ---- unreadable inputs ---------------------------------------------------------------------------------
def _unprivileged() -> tuple[str, ...]:
    """A prefix that runs the CLI without root's power to read or write any file (chmod then applies)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


@pytest.fixture
def locked(tmp_path: Path):
    """Paths made unreadable (chmod 000) for the test, restored after it so tmp_path can be removed."""
    paths: list[Path] = []

    def lock(path: Path) -> Path:
        path.chmod(0)
        paths.append(path)
        return path

    yield lock
    for path in paths:
        path.chmod(0o755)


def test_unreadable_inputs_are_one_line_exit_3_not_a_usage_box(tmp_path: Path, locked) -> None:
    prefix = _unprivileged()
    har = write_har(tmp_path / "h.har", [har_entry(f"https://{HOST}/a", "{}", "application/json")])
    locked_har = locked(write_har(tmp_path / "locked.har", [har_entry(f"https://{HOST}/a", "{}", "application/json")]))
    claims = tmp_path / "claims.yaml"
    shutil.copy(CLAIMS, claims)
    locked(claims)
    session = locked(_observation_session(tmp_path / "s", f"https://{HOST}/api/join"))
    cases = [
        (["analyze", locked_har, "-q"], locked_har),
        (["check", har, "--claims", claims], claims),
        (["report", har, "--claims", claims, "--out", tmp_path / "r.html"], claims),
        (["diff", session, har], session),
        (["compare", session, "--claims-dir", CLAIMS.parent, "--json", tmp_path / "c.json"], session),
    ]
    for args, named in cases:
        _one_line_error(_cli(*args, prefix=prefix), 3, named)
    session.chmod(0o755)
    (session / "phases.jsonl").write_text('{"phase": "joined", "ts": 1795597210.0}\n')
    locked(session / "phases.jsonl")
    _one_line_error(_cli("analyze", session, "-q", prefix=prefix), 3, session / "phases.jsonl")


def test_library_readers_raise_input_errors_for_unreadable_paths(tmp_path: Path, locked) -> None:
    prefix = _unprivileged()
    session = _observation_session(tmp_path / "s", f"https://{HOST}/api/join")
    (session / "phases.jsonl").write_text('{"phase": "joined", "ts": 1795597210.0}\n')
    locked(session / "phases.jsonl")
    folder = tmp_path / "folder"
    folder.mkdir()
    locked(folder)
    code = ("import sys\nfrom pathlib import Path\nfrom confaudit.errors import InputError\n"
            "from confaudit.session.directory import read_phase_markers\nfrom confaudit.evidence.build import detect_kind\n"
            "for call, arg in ((read_phase_markers, sys.argv[1]), (detect_kind, sys.argv[2])):\n"
            "    try:\n        call(Path(arg))\n    except InputError as err:\n        print('InputError', err)\n")
    res = subprocess.run([*prefix, sys.executable, "-c", code, str(session / "phases.jsonl"), str(folder / "x.pcap")],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"InputError {session / 'phases.jsonl'}: Permission denied",
                                       f"InputError {folder / 'x.pcap'}: Permission denied"]


def test_directory_where_a_file_is_expected_is_one_line_exit_3(tmp_path: Path) -> None:
    har = write_har(tmp_path / "h.har", [har_entry(f"https://{HOST}/a", "{}", "application/json")])
    folder = tmp_path / "folder"
    folder.mkdir()
    _one_line_error(_cli("check", har, "--claims", folder), 3, folder)
    _one_line_error(_cli("analyze", har, "--entity-list", folder, "-q"), 3, folder)


# ---- unwritable outputs, for every command ------------------------------------------------------------
OUTPUT_COMMANDS = {
    "analyze --json": lambda inp, out: ["analyze", inp, "--json", out, "-q"],
    "analyze --parquet": lambda inp, out: ["analyze", inp, "--parquet", out, "-q"],
    "report --out": lambda inp, out: ["report", inp, "--claims", CLAIMS, "--out", out],
    "check --sarif": lambda inp, out: ["check", inp, "--claims", CLAIMS, "--sarif", out],
    "diff --json": lambda inp, out: ["diff", inp, inp, "--json", out],
    "compare --json": lambda inp, out: ["compare", inp, "--claims-dir", CLAIMS.parent, "--json", out],
}


def _output_case(tmp_path: Path, case: str) -> Path:
    if case == "unwritable directory":
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "out.json"
    if case == "name above NAME_MAX":
        return tmp_path / ("n" * 300 + ".json")
    if case == "path above PATH_MAX":
        return tmp_path.joinpath(*["d" * 200] * 25, "out.json")
    folder = tmp_path / "already-a-directory"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    return folder


@pytest.mark.parametrize("case", ["unwritable directory", "name above NAME_MAX", "path above PATH_MAX", "a directory"])
@pytest.mark.parametrize("command", sorted(OUTPUT_COMMANDS))
def test_output_path_that_cannot_be_written_is_one_line_exit_3(tmp_path: Path, command: str, case: str) -> None:
    if command == "analyze --parquet" and case == "a directory":
        pytest.skip("--parquet writes into a directory")
    session = _observation_session(tmp_path / "s", f"https://{HOST}/api/join")
    out = _output_case(tmp_path, case)
    try:
        res = _cli(*OUTPUT_COMMANDS[command](session, out), prefix=_unprivileged() if case == "unwritable directory" else ())
    finally:
        if case == "unwritable directory":
            out.parent.chmod(0o755)
    _one_line_error(res, 3, str(out)[:200])
    if case == "a directory":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_longest_legal_output_name_is_written(tmp_path: Path) -> None:
    out = tmp_path / ("\u00e9" * 122 + ".json")  # 249 bytes: legal, though a temp name holding all of it is not
    session = _observation_session(tmp_path / "s", f"https://{HOST}/api/join")
    res = _cli("analyze", session, "--json", out, "-q")
    assert res.returncode == 0, res.stderr
    assert _bundle(out)["http"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "s"])  # no temp file left


# ---- evidence JSON without indentation ---------------------------------------------------------------
@pytest.mark.parametrize("layout", [{"separators": (",", ":")}, {}, {"indent": 4}])
def test_evidence_json_in_any_layout_is_recognised_as_a_bundle(shared_captures: Path, tmp_path: Path,
                                                               layout: dict[str, Any]) -> None:
    indented = tmp_path / "indented.json"
    assert _cli("analyze", shared_captures / "stun_google_meet.pcapng", "--json", indented, "-q").returncode == 0
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_bundle(indented), sort_keys=True, **layout))
    claims = REPO / "samples" / "claims" / "google-meet.yaml"
    want = _cli("check", indented, "--claims", claims, "--json", tmp_path / "want.json")
    got = _cli("check", other, "--claims", claims, "--json", tmp_path / "got.json")
    assert got.returncode == want.returncode, got.stderr
    assert (tmp_path / "got.json").read_text() == (tmp_path / "want.json").read_text()


def test_json_kind_is_told_from_top_level_keys_in_the_first_kib(tmp_path: Path) -> None:
    from confaudit.importers.http_sources import sniff_format
    from confaudit.evidence.build import detect_kind

    one_line_har = tmp_path / "one-line.har"
    one_line_har.write_text(json.dumps({"log": {"entries": [{"comment": '"kind": "http"', "kind": 1}]}}))
    assert detect_kind(one_line_har) == "har" and sniff_format(one_line_har) == "har"
    jsonl = tmp_path / "records.txt"
    jsonl.write_text('{"ts": 1, "kind": "dns"}\n{"kind": "dns", "ts": 2}\n')
    assert detect_kind(jsonl) == "observations" and sniff_format(jsonl) == "observations"
    sorted_bundle = tmp_path / "b.json"
    sorted_bundle.write_text(json.dumps({"complete": True, "data_flows": [{"x": "y" * 5000}], "schema_version": "1.0"}))
    assert detect_kind(sorted_bundle) == "bundle"
    nothing = tmp_path / "other.json"
    nothing.write_text('{"domains": {"a.test": "A"}}')
    with pytest.raises(InputError) as err:
        detect_kind(nothing)
    assert str(nothing) in str(err.value)
