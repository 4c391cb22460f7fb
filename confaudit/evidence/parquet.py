"""The bundle's list tables as Parquet files (one per top-level list), nested values as JSON text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from confaudit.jsonio import dumps_canonical


def table_rows(rows: list[Any]) -> tuple[list[str], dict[str, list[Any]]]:
    """(column names, columns) for a list of dicts; scalars kept, lists/dicts as canonical JSON strings."""
    names: list[str] = sorted({k for r in rows if isinstance(r, dict) for k in r})
    if not names:
        names = ["value"]
        rows = [{"value": r} for r in rows]
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for row in rows:
        for n in names:
            value = row.get(n) if isinstance(row, dict) else None
            if isinstance(value, (dict, list, tuple)):
                value = dumps_canonical(value, indent=None)
            columns[n].append(value)
    return names, columns


def _column_array(values: list[Any]) -> Any:
    import pyarrow as pa

    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pa.array(values, type=pa.bool_())
    if kinds and kinds <= {int}:
        if all(v is None or -(1 << 63) <= v < (1 << 63) for v in values):
            return pa.array(values, type=pa.int64())
    if kinds and kinds <= {int, float} and bool not in kinds:
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else (v if isinstance(v, str) else dumps_canonical(v, indent=None))
                     for v in values], type=pa.string())


def write_parquet(bundle: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``<key>.parquet`` for every list in the bundle, and ``<key>_<sub>.parquet`` for lists of
    records inside top-level objects (atomically each); returns the paths written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from confaudit.jsonio import atomic_write_bytes

    from confaudit.errors import InputError

    out_dir = Path(directory)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(out_dir, "--parquet needs a directory, and this path is a file") from None
    except OSError as exc:
        raise InputError(out_dir, exc.strerror or "cannot create the Parquet directory") from None
    tables = {}
    lists = {key: value for key, value in bundle.items() if isinstance(value, list)}
    for key, value in bundle.items():  # one level down too: media_path.endpoints -> media_path_endpoints
        if isinstance(value, dict):
            lists.update({f"{key}_{sub}": v for sub, v in value.items() if isinstance(v, list) and v and isinstance(v[0], dict)})
    for key in sorted(lists):
        names, columns = table_rows(lists[key])
        tables[key] = pa.table({n: _column_array(columns[n]) for n in names})
    written = []
    for key, table in tables.items():  # build every table first: a bad one leaves no partial set
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        path = out_dir / f"{key}.parquet"
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
        written.append(path)
    return written
