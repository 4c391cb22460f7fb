"""Findings (``check --json``) and diffs (``diff --json``) as deterministic JSON documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confaudit import __version__
from confaudit.jsonio import dumps_canonical
from confaudit.formats.schemas import DIFF_SCHEMA_VERSION, FINDINGS_SCHEMA_VERSION
from confaudit.rules.model import RunResult


def to_dict(run: RunResult) -> dict:
    """The findings document (docs/findings.schema.json)."""
    return {"format": "confaudit-findings", "schema_version": FINDINGS_SCHEMA_VERSION,
            "tool": {"name": "confaudit", "version": __version__}, **run.to_dict()}


def to_json(run: RunResult) -> str:
    """The run as canonical JSON text (sorted keys, UTF-8, trailing newline)."""
    return dumps_canonical(to_dict(run)) + "\n"


def diff_document(result: Mapping[str, Any]) -> dict[str, Any]:
    """A ``rules.diff.diff_bundles`` result as the ``diff --json`` document (docs/diff.schema.json)."""
    return {"format": "confaudit-diff", "schema_version": DIFF_SCHEMA_VERSION,
            "tool": {"name": "confaudit", "version": __version__}, **result}
