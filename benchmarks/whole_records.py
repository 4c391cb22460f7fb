"""Whole records for hand-built bundles (tests, synthetic benchmark bundles): the keys a builder does not care
about, filled from the evidence schema.

Checks and reports read only records that carry every key their section's schema requires (a record without
one is left out and the evidence marked incomplete, see confaudit.evidence_model). A builder names the fields
its case is about and lets :func:`complete_bundle` give the rest the schema's most neutral value: null where
the schema allows it, ``unknown`` where the enum has it, otherwise empty or zero. The rule fixtures under
tests/rules/ were completed this way once and are kept whole on disk (tests/rules/test_rules_checks.py).
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from confaudit.evidence.schema import bundle_schema


@cache
def _schema() -> dict[str, Any]:
    return bundle_schema()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def neutral(node: dict[str, Any]) -> Any:
    """The most neutral value the schema node allows (what a missing field is filled with)."""
    node = _resolve(node)
    for combinator in ("oneOf", "anyOf"):
        if combinator in node:
            options = [_resolve(sub) for sub in node[combinator]]
            if any(sub.get("type") == "null" for sub in options):
                return None
            return neutral(options[0])
    if "enum" in node:
        values = node["enum"]
        return None if None in values else "unknown" if "unknown" in values else values[0]
    if "const" in node:
        return node["const"]
    kinds = node.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "null" in kinds:
        return None
    kind = kinds[0]
    if kind == "array":
        return ["filled in by the test"] * node.get("minItems", 0)
    if kind == "object":
        return {key: neutral(node["properties"][key]) for key in node.get("required", [])}
    if kind == "string" and "pattern" in node:
        return _pattern_neutral(node["pattern"])
    return {"string": "", "integer": node.get("minimum", 0), "number": node.get("minimum", 0),
            "boolean": False}[kind]


_CLASS_RUN = re.compile(r"\[(0-9a-f|0-9)\](\{(\d+)\}|\+)")


@cache
def _pattern_neutral(pattern: str) -> str:
    """The all-zero string a ``pattern`` of the schema's shapes accepts: ``^f[0-9]+$`` -> ``f0``, ``^0x[0-9a-f]{8}$``
    -> ``0x00000000``, ``^[0-9a-f]{64}$`` -> 64 zeros. A pattern of another shape is a ValueError (teach this one)."""
    value = _CLASS_RUN.sub(lambda m: "0" * int(m.group(3) or 1), pattern.removeprefix("^").removesuffix("$"))
    if re.escape(value) != value or not re.fullmatch(pattern, value):
        raise ValueError(f"no neutral value for the schema pattern {pattern!r}")
    return value


def _record_schema(section: str) -> dict[str, Any] | None:
    node = _schema()["properties"].get(section)
    if node is None:
        return None
    node = _resolve(node)
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        node = _resolve(node["items"])
    return node if node.get("properties") else None


def complete_record(section: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` of ``section`` with its missing required keys (and those of its required sub-objects) filled."""
    schema = _record_schema(section)
    return _fill(schema, record) if schema is not None else record


def _fill(schema: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for key in schema.get("required", []):
        sub = _resolve(schema["properties"][key])
        if key not in out:
            out[key] = neutral(sub)
        elif isinstance(out[key], dict) and sub.get("properties"):
            out[key] = _fill(sub, out[key])
    return out


def complete_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``bundle`` whose list records and object sections carry every required key."""
    out = copy.deepcopy(bundle)
    for section, value in out.items():
        if _record_schema(section) is None:
            continue
        if isinstance(value, list):
            out[section] = [complete_record(section, r) if isinstance(r, dict) else r for r in value]
        elif isinstance(value, dict):
            out[section] = complete_record(section, value)
    return out
