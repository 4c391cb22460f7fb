"""Parquet tables typed from the bundle schema: one table set and one arrow schema per table for every bundle,
real columns when empty, Parquet timestamps, read back by DuckDB through the real CLI."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from support.environment import REPO

SAMPLE_SESSION = REPO / "samples" / "sessions" / "example-rooms"
CAPTURES = ("stun_google_meet.pcapng", "teams.pcap", "zoom2.pcap", "sip.pcap", "quic-v2.pcapng",
            "skype-conference-call.pcap", "whatsapp_login_call.pcap")
ENV = {"CONFAUDIT_REDACTION_KEY": "test-redaction-key-not-secret", "CONFAUDIT_STRICT_PARSERS": "1"}


def _analyze(tmp: Path, name: str, *inputs: Path) -> tuple[dict, Path]:
    """The CLI's own --json and --parquet for ``inputs``: (bundle, parquet dir)."""
    import os

    out, tables = tmp / f"{name}.json", tmp / f"{name}-pq"
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", *map(str, inputs), "--json", str(out),
                           "--parquet", str(tables), "-q"], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, **ENV})
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text()), tables


def _empty_pcap(path: Path) -> Path:
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, shared_captures: Path) -> dict[str, tuple[dict, Path]]:
    tmp = tmp_path_factory.mktemp("parquet")
    return {"session": _analyze(tmp, "session", SAMPLE_SESSION),
            "pcap": _analyze(tmp, "pcap", shared_captures / "stun_google_meet.pcapng"),
            "empty": _analyze(tmp, "empty", _empty_pcap(tmp / "empty.pcap"))}


def _schemas(directory: Path) -> dict[str, object]:
    import pyarrow.parquet as pq

    return {p.stem: pq.read_schema(p) for p in sorted(directory.glob("*.parquet"))}


def test_every_bundle_has_the_same_tables_with_the_same_arrow_schemas(outputs: dict[str, tuple[dict, Path]]) -> None:
    from confaudit.evidence.parquet import arrow_schema, table_specs

    expected = {spec.name: arrow_schema(spec) for spec in table_specs()}
    assert {"flows", "media_streams", "http", "e2ee_streams", "media_path_endpoints", "warnings", "bundle"} <= set(expected)
    for name, (_bundle, directory) in outputs.items():
        found = _schemas(directory)
        assert set(found) == set(expected), name
        for table, schema in found.items():
            assert schema.equals(expected[table]), (name, table, schema, expected[table])


def test_types_come_from_the_schema_even_for_empty_tables(outputs: dict[str, tuple[dict, Path]]) -> None:
    import pyarrow as pa

    schemas = _schemas(outputs["empty"][1])
    media = schemas["media_streams"]
    assert media.field("ssrc").type == pa.string() and media.field("packets").type == pa.int64()
    assert media.field("first_seen").type == pa.timestamp("us", tz="UTC")
    assert schemas["flows"].field("last_seen").type == pa.timestamp("us", tz="UTC")
    assert schemas["http"].field("ts").type == pa.timestamp("us", tz="UTC")
    assert schemas["http"].field("status").type == pa.int64()
    assert schemas["tls"].field("weak").type == pa.bool_()
    assert schemas["flows"].field("labels").type == pa.string()  # nested -> JSON text
    assert schemas["warnings"].names == ["value"]
    assert schemas["bundle"].field("complete").type == pa.bool_()


def _duckdb(directory: Path, sql: str) -> list[tuple]:
    import duckdb

    con = duckdb.connect()
    try:
        for table in directory.glob("*.parquet"):
            con.execute(f"create view {table.stem} as select * from read_parquet('{table.as_posix()}')")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_duckdb_queries_media_columns_on_a_bundle_without_media(outputs: dict[str, tuple[dict, Path]]) -> None:
    bundle, directory = outputs["empty"]
    assert not bundle.get("media_streams")
    assert _duckdb(directory, "select ssrc, first_seen from media_streams") == []
    assert _duckdb(directory, "select complete, schema_version from bundle") == [(True, bundle["schema_version"])]


def test_duckdb_reads_real_call_data_with_timestamps(outputs: dict[str, tuple[dict, Path]]) -> None:
    bundle, directory = outputs["pcap"]
    assert bundle["media_streams"]
    rows = _duckdb(directory, "select id, ssrc, packets, first_seen from media_streams order by id")
    expected = sorted((s["id"], s["ssrc"], s["packets"], s["first_seen"]) for s in bundle["media_streams"])
    assert [(i, s, p) for i, s, p, _ in rows] == [(i, s, p) for i, s, p, _ in expected]
    for (_i, _s, _p, seen), (_ei, _es, _ep, epoch) in zip(rows, expected):
        assert seen.tzinfo is not None and abs(seen.timestamp() - epoch) < 1e-6
    first = _duckdb(directory, "select min(first_seen) from flows")[0][0]
    assert abs(first.timestamp() - min(f["first_seen"] for f in bundle["flows"])) < 1e-6
    labels = _duckdb(directory, "select labels from flows where id = 'f1'")[0][0]
    assert json.loads(labels) == bundle["flows"][0]["labels"]


def test_duckdb_joins_the_sample_session_http_with_parties(outputs: dict[str, tuple[dict, Path]]) -> None:
    bundle, directory = outputs["session"]
    hosts = _duckdb(directory, "select distinct host from http order by host")
    assert [h for (h,) in hosts] == sorted({r["host"] for r in bundle["http"]})
    phases = _duckdb(directory, "select phase, ts from phases order by ts")
    assert [p for p, _ in phases] == [p["phase"] for p in sorted(bundle["phases"], key=lambda p: p["ts"])]
    assert all(ts.tzinfo is not None for _p, ts in phases)


@pytest.mark.parametrize("capture", CAPTURES)
def test_real_bundles_have_no_key_the_schema_does_not_type(shared_captures: Path, tmp_path: Path, capture: str) -> None:
    """A record key missing from the schema would land as an untyped extra column: the schema must list it."""
    from confaudit.evidence.parquet import table, table_specs

    bundle, _directory = _analyze(tmp_path, "b", shared_captures / capture)
    for spec in table_specs():
        extra = set(table(bundle, spec).schema.names) - {c.name for c in spec.columns}
        assert not extra, (spec.name, extra)


def test_sample_session_has_no_key_the_schema_does_not_type(outputs: dict[str, tuple[dict, Path]]) -> None:
    from confaudit.evidence.parquet import table, table_specs

    bundle = outputs["session"][0]
    for spec in table_specs():
        extra = set(table(bundle, spec).schema.names) - {c.name for c in spec.columns}
        assert not extra, (spec.name, extra)


def test_an_unknown_key_is_kept_as_json_text_not_dropped() -> None:
    from confaudit.evidence.parquet import table, table_specs

    spec = next(s for s in table_specs() if s.name == "phases")
    got = table({"phases": [{"phase": "joined", "ts": 1.5, "zz_new": {"a": 1}}]}, spec).to_pylist()
    assert got[0]["zz_new"] == '{"a":1}' and got[0]["ts"] == datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=timezone.utc)


def test_a_value_of_another_type_keeps_the_column_type() -> None:
    """Foreign observation writers put odd shapes in typed fields: the column keeps its type (string columns
    take JSON text, others null) instead of failing the run or changing the table's schema."""
    import pyarrow as pa

    from confaudit.evidence.parquet import arrow_schema, table, table_specs

    spec = next(s for s in table_specs() if s.name == "http")
    got = table({"http": [{"id": "h1", "status": "two hundred", "port": 44.0, "ts": "noon", "error": {"code": 7},
                           "duration_ms": True}]}, spec)
    assert got.schema.equals(arrow_schema(spec))
    row = got.to_pylist()[0]
    assert row["status"] is None and row["port"] == 44 and row["ts"] is None and row["duration_ms"] is None
    assert row["error"] == '{"code":7}'
    assert got.schema.field("port").type == pa.int64()


def test_foreign_observations_with_odd_types_still_give_typed_tables(tmp_path: Path) -> None:
    import os

    import pyarrow.parquet as pq

    records = [{"kind": "header", "format": "confaudit-observations", "version": 1, "tool": "foreign 0.0"},
               {"kind": "http", "flow_uuid": "x1", "ts": 1795597220.0, "method": "GET", "url": "https://a.example/x",
                "scheme": "https", "host": "a.example", "port": "443", "path": "/x", "query": [], "status": "OK",
                "request_headers": [], "response_headers": [], "request_body": None, "response_body": None,
                "client": None, "server": None, "source": "live", "flow": None, "duration_ms": "3", "error": None}]
    observations = tmp_path / "observations.jsonl"
    observations.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(observations), "--json", str(tmp_path / "e.json"),
                           "--parquet", str(tmp_path / "pq"), "-q"], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={**os.environ, **ENV})
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "pq" / "http.parquet")
    row = table.to_pylist()[0]
    assert row["url"] == "https://a.example/x" and row["status"] is None and row["port"] is None
    assert row["ts"].timestamp() == 1795597220.0


def test_docs_list_every_table_and_its_timestamps() -> None:
    from confaudit.evidence.parquet import table_specs

    doc = (REPO / "docs" / "outputs.md").read_text(encoding="utf-8")
    for spec in table_specs():
        stamps = ", ".join(f"`{c.name}`" for c in spec.columns if c.kind == "timestamp") or "—"
        assert f"| `{spec.name}` |" in doc and doc.split(f"| `{spec.name}` |")[1].split("\n")[0].endswith(f"| {stamps} |"), spec.name


def test_numbers_a_column_cannot_hold_are_null_not_a_crash(shared_captures: Path, tmp_path: Path) -> None:
    """An evidence JSON whose integers pass 64 bits or whose times pass what timestamp[us] holds (valid JSON
    numbers): the tables keep their types, those cells are null, the JSON keeps the exact values."""
    import os

    import pyarrow.parquet as pq

    bundle, _directory = _analyze(tmp_path, "base", shared_captures / "teams.pcap")
    bundle["flows"][0]["bytes"] = 2 ** 70
    bundle["flows"][1]["first_seen"] = 1e300
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(bundle))
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(hostile), "--parquet", str(tmp_path / "pq"),
                           "--json", str(tmp_path / "again.json"), "-q"],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, **ENV})
    assert done.returncode == 0, done.stderr
    rows = pq.read_table(tmp_path / "pq" / "flows.parquet").to_pylist()
    assert rows[0]["bytes"] is None and rows[1]["first_seen"] is None
    assert rows[2]["first_seen"] is not None and rows[1]["bytes"] == bundle["flows"][1]["bytes"]
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["flows"][0]["bytes"] == 2 ** 70 and again["flows"][1]["first_seen"] == 1e300
