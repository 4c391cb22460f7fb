"""The bundle's JSON Schema, assembled from one fragment per stage (schema/*.json).

Each fragment is a JSON Schema object whose ``properties`` and ``$defs`` are merged into the
top-level bundle schema; ``required`` lists are concatenated. ``docs/evidence.schema.json`` is the
published merged copy (a test keeps it in sync).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def bundle_schema() -> dict[str, Any]:
    merged: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://confaudit.invalid/schema/evidence-bundle.json",
        "title": "confaudit evidence bundle",
        "type": "object",
        "properties": {},
        "required": [],
        "$defs": {},
    }
    folder = resources.files("confaudit.evidence").joinpath("schema")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        fragment = json.loads(entry.read_text(encoding="utf-8"))
        merged["properties"].update(fragment.get("properties", {}))
        merged["$defs"].update(fragment.get("$defs", {}))
        for key in fragment.get("required", []):
            if key not in merged["required"]:
                merged["required"].append(key)
    return merged


def validate_bundle(bundle: dict[str, Any]) -> list[str]:
    """Return the schema violations of ``bundle`` (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(bundle_schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(bundle)]
