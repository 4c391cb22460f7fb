"""The bundle as Parquet tables whose names, columns and types come from the bundle's JSON Schema.

Every bundle yields the same tables with the same arrow schemas, whatever it holds (an empty section is
an empty table with its real columns, so ``select ssrc from media_streams`` works on a call without media):

- ``<key>`` for every top-level list (``flows``, ``media_streams`` ...); a list of scalars (``warnings``)
  has one column, ``value``;
- ``<key>_<sub>`` for every list of records inside a top-level object (``media_path_endpoints``,
  ``e2ee_streams`` ...);
- ``bundle``: one row with every other top-level property (``schema_version``, ``complete`` ...).

Columns are the record schema's ``properties`` in name order. Types: integer -> int64, number ->
float64, boolean -> bool, string or enum -> string, a timestamp (``$ref: #/$defs/timestamp``, epoch
seconds) -> ``timestamp[us, tz=UTC]`` (a value a column cannot hold is null there, exact in the JSON);
anything nested (objects, lists, mixed types) -> canonical JSON text (DuckDB: ``json_extract``). A record key the schema does not list still gets a JSON-text column
after the schema's (never silently dropped); a test keeps real bundles free of them.

``--parquet DIR`` is owned by confaudit: each run replaces the whole directory atomically (see
:mod:`confaudit.output_set`), so it never holds a stale table of an earlier run or a mix of two runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from confaudit.jsonio import dumps_canonical
from confaudit.output_set import DirectoryOutput

BUNDLE_TABLE = "bundle"
"""The one-row table of the bundle's top-level scalars and objects."""
SCALAR_COLUMN = "value"
"""The single column of a table made from a list of scalars."""
TIMESTAMP_REF = "#/$defs/timestamp"
KINDS = ("int", "float", "bool", "string", "timestamp", "json")


@dataclass(frozen=True)
class Column:
    """One typed column of a table."""

    name: str
    """Column name: the record key."""
    kind: str
    """One of KINDS: how values are converted to arrow."""


@dataclass(frozen=True)
class TableSpec:
    """Where a table's rows live in the bundle and what columns they have."""

    name: str
    """Table (and file stem) name."""
    path: tuple[str, ...]
    """Keys from the bundle to the list of rows (one or two); empty for the one-row ``bundle`` table."""
    columns: tuple[Column, ...]
    """Columns in order."""
    scalars: bool
    """True when the rows are scalars (one ``value`` column), not records."""


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"] != TIMESTAMP_REF:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _variants(node: Any, defs: dict[str, Any]) -> list[Any]:
    """The non-null alternatives a property may take (anyOf/oneOf flattened, null dropped)."""
    node = _resolve(node, defs)
    if not isinstance(node, dict):
        return [node]
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            return [v for alt in node[key] for v in _variants(alt, defs)]
    if node.get("type") == "null":
        return []
    return [node]


def _types(node: dict[str, Any]) -> set[str]:
    if "$ref" in node:
        return {"timestamp"}
    if "enum" in node or "const" in node:
        values = [v for v in node.get("enum", [node.get("const")]) if v is not None]
        return {"string" if isinstance(v, str) else "json" for v in values} or {"string"}
    declared = node.get("type")
    names = [declared] if isinstance(declared, str) else list(declared or ["json"])
    return {n for n in names if n != "null"}


def column_kind(node: Any, defs: dict[str, Any]) -> str:
    """The column kind of one property schema."""
    kinds = set()
    for variant in _variants(node, defs):
        kinds |= _types(variant) if isinstance(variant, dict) else {"json"}
    if kinds == {"integer"}:
        return "int"
    if kinds and kinds <= {"integer", "number"}:
        return "float"
    if kinds in ({"boolean"}, {"string"}, {"timestamp"}):
        return {"boolean": "bool", "string": "string", "timestamp": "timestamp"}[kinds.pop()]
    return "json"


def _record(node: Any, defs: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema of a property's non-null form, when it is one."""
    variants = [v for v in _variants(node, defs) if isinstance(v, dict)]
    objects = [v for v in variants if "object" in _types(v) or "properties" in v]
    return objects[0] if len(objects) == 1 and len(variants) == 1 else None


def _list_items(node: Any, defs: dict[str, Any]) -> Any:
    """The item schema of a property that is a list, else None."""
    variants = [v for v in _variants(node, defs) if isinstance(v, dict)]
    if len(variants) == 1 and _types(variants[0]) == {"array"}:
        return variants[0].get("items", {})
    return None


def _table(name: str, path: tuple[str, ...], items: Any, defs: dict[str, Any]) -> TableSpec:
    record = _record(items, defs)
    if record is None:
        return TableSpec(name, path, (Column(SCALAR_COLUMN, column_kind(items, defs)),), True)
    props = record.get("properties", {})
    return TableSpec(name, path, tuple(Column(k, column_kind(props[k], defs)) for k in sorted(props)), False)


@lru_cache(maxsize=1)
def table_specs() -> tuple[TableSpec, ...]:
    """Every table, from the bundle schema (the same set for every bundle), in name order."""
    from confaudit.evidence.schema import bundle_schema

    schema = bundle_schema()
    defs, props = schema["$defs"], schema["properties"]
    specs, bundle_columns = [], []
    for key in sorted(props):
        items = _list_items(props[key], defs)
        if items is not None:
            specs.append(_table(key, (key,), items, defs))
            continue
        bundle_columns.append(Column(key, column_kind(props[key], defs)))
        record = _record(props[key], defs)
        for sub, sub_schema in sorted((record or {}).get("properties", {}).items()):
            sub_items = _list_items(sub_schema, defs)
            if sub_items is not None and _record(sub_items, defs) is not None:
                specs.append(_table(f"{key}_{sub}", (key, sub), sub_items, defs))
    specs.append(TableSpec(BUNDLE_TABLE, (), tuple(bundle_columns), False))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):  # e.g. a top-level key "media_path_flows" beside media_path.flows
        raise ValueError(f"bundle schema yields two Parquet tables of one name: {sorted(names)}")
    return tuple(sorted(specs, key=lambda s: s.name))


def _rows(bundle: Mapping[str, Any], spec: TableSpec) -> list[Any]:
    if not spec.path:
        return [{c.name: bundle.get(c.name) for c in spec.columns}]
    value: Any = bundle
    for key in spec.path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, list) else []


INT64 = range(-(1 << 63), 1 << 63)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _convert(kind: str, value: Any) -> Any:
    """A JSON value as its column's arrow value. A value its column cannot hold (an integer past 64 bits, a time
    past year 294,000, a string in a number column from a foreign observations writer) is null there, and
    a non-string value in a string column is JSON text; the bundle JSON keeps every value exact."""
    if value is None:
        return None
    if kind == "json" or (kind == "string" and not isinstance(value, str)):
        return dumps_canonical(value, indent=None)
    if kind == "string":
        return value
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if not _number(value):
        return None
    if kind == "float":
        return float(value)
    if kind == "timestamp":
        value = round(value * 1_000_000)
    elif isinstance(value, float):  # JSON Schema: 3.0 is an integer; 3.5 is not
        value = int(value) if value.is_integer() else None
    return value if value is None or value in INT64 else None


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
            "timestamp": pa.timestamp("us", tz="UTC"), "json": pa.string()}[kind]


def arrow_schema(spec: TableSpec) -> Any:
    """The arrow schema of a table (schema columns only)."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, _arrow_type(c.kind)) for c in spec.columns])


def table(bundle: Mapping[str, Any], spec: TableSpec) -> Any:
    """One table of ``bundle`` as a pyarrow Table (a value of the wrong type raises: a confaudit bug)."""
    import pyarrow as pa

    rows = _rows(bundle, spec)
    if spec.scalars:
        rows = [{SCALAR_COLUMN: r} for r in rows]
    columns = list(spec.columns)
    known = {c.name for c in columns}
    columns += [Column(k, "json") for k in sorted({k for r in rows if isinstance(r, dict) for k in r} - known)]
    arrays = [pa.array([_convert(c.kind, r.get(c.name) if isinstance(r, dict) else None) for r in rows],
                       type=_arrow_type(c.kind)) for c in columns]
    return pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(c.name, _arrow_type(c.kind)) for c in columns]))


def parquet_files(bundle: Mapping[str, Any]) -> dict[str, bytes]:
    """``<table>.parquet`` for every table of :func:`table_specs`, each rendered in full (a bad table raises
    before anything is written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = {}
    for spec in table_specs():
        sink = pa.BufferOutputStream()
        pq.write_table(table(bundle, spec), sink, compression="zstd")
        files[f"{spec.name}.parquet"] = sink.getvalue().to_pybytes()
    return files


def is_table_file(name: str) -> bool:
    """A file name :func:`parquet_files` could have written (recognises output of confaudit versions that left
    no marker in the directory): ``<key>.parquet`` or ``<key>_<sub>.parquet`` for a key of the bundle schema,
    or ``bundle.parquet``."""
    from confaudit.evidence.schema import bundle_schema

    stem, dot, ext = name.rpartition(".")
    if not dot or ext != "parquet" or not stem:
        return False
    keys = bundle_schema()["properties"]
    return stem == BUNDLE_TABLE or stem in keys or any(stem.startswith(f"{key}_") and len(stem) > len(key) + 1
                                                       for key in keys)


def parquet_output(directory: str | os.PathLike[str], files: dict[str, bytes] | None = None) -> DirectoryOutput:
    """The ``--parquet DIR`` output: after writing, DIR holds exactly ``files`` (no stale table of an earlier run)."""
    return DirectoryOutput("--parquet", Path(directory), "parquet", files or {}, is_table_file)


def write_parquet(bundle: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Replace ``directory`` with this bundle's tables, atomically as a whole; returns the paths written."""
    from confaudit.output_set import write_outputs

    files = parquet_files(bundle)
    target = write_outputs([parquet_output(directory, files)])[0]
    return [target / name for name in sorted(files)]
