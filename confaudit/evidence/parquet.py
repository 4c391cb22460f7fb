"""The bundle's list tables as Parquet files (one per top-level list), nested values as JSON text.

``--parquet DIR`` is owned by confaudit: each run replaces the whole directory atomically (see
:mod:`confaudit.output_set`), so it never holds a stale table of an earlier run or a mix of two runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from confaudit.jsonio import dumps_canonical
from confaudit.output_set import DirectoryOutput


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


def parquet_files(bundle: dict[str, Any]) -> dict[str, bytes]:
    """``<key>.parquet`` for every list in the bundle and ``<key>_<sub>.parquet`` for lists of records inside
    top-level objects, each rendered in full (a bad table raises before anything is written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lists = {key: value for key, value in bundle.items() if isinstance(value, list)}
    for key, value in bundle.items():  # one level down too: media_path.endpoints -> media_path_endpoints
        if isinstance(value, dict):
            lists.update({f"{key}_{sub}": v for sub, v in value.items() if isinstance(v, list) and v and isinstance(v[0], dict)})
    files = {}
    for key in sorted(lists):
        names, columns = table_rows(lists[key])
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({n: _column_array(columns[n]) for n in names}), sink, compression="zstd")
        files[f"{key}.parquet"] = sink.getvalue().to_pybytes()
    return files


def is_table_file(name: str) -> bool:
    """A file name :func:`parquet_files` could have written (recognises output of confaudit versions that left
    no marker in the directory): ``<key>.parquet`` or ``<key>_<sub>.parquet`` for a key of the bundle schema."""
    from confaudit.evidence.schema import bundle_schema

    stem, dot, ext = name.rpartition(".")
    if not dot or ext != "parquet" or not stem:
        return False
    keys = bundle_schema()["properties"]
    return stem in keys or any(stem.startswith(f"{key}_") and len(stem) > len(key) + 1 for key in keys)


def parquet_output(directory: str | os.PathLike[str], files: dict[str, bytes] | None = None) -> DirectoryOutput:
    """The ``--parquet DIR`` output: after writing, DIR holds exactly ``files`` (no stale table of an earlier run)."""
    return DirectoryOutput("--parquet", Path(directory), "parquet", files or {}, is_table_file)


def write_parquet(bundle: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Replace ``directory`` with this bundle's tables, atomically as a whole; returns the paths written."""
    from confaudit.output_set import write_outputs

    files = parquet_files(bundle)
    target = write_outputs([parquet_output(directory, files)])[0]
    return [target / name for name in sorted(files)]
