"""Validate SARIF with the official OASIS SARIF 2.1.0 schema (tests/data/sarif/, draft-04), then with what GitHub
code scanning needs beyond it."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).parents[1] / "data" / "sarif" / "sarif-schema-2.1.0.json"


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    assert "uri" in jsonschema.Draft4Validator.FORMAT_CHECKER.checkers, "install rfc3986-validator (dev extra)"
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def sarif_problems(doc: object) -> list[str]:
    """Every violation of the OASIS schema, as 'path: message'."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in _validator().iter_errors(doc)]


def assert_valid_sarif(doc: dict) -> None:
    """The OASIS schema, plus GitHub code scanning's own requirements: every result located at a uri and a
    startLine, every rule with a numeric security-severity."""
    assert sarif_problems(doc) == []
    for run in doc["runs"]:
        for result in run.get("results", []):
            location = result["locations"][0]["physicalLocation"]
            assert location["artifactLocation"]["uri"] and location["region"]["startLine"] >= 1
        for rule in run["tool"]["driver"].get("rules", []):
            float(rule["properties"]["security-severity"])
