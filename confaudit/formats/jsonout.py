"""Findings as deterministic JSON (the ``--json`` output of ``check``)."""

from __future__ import annotations

from confaudit import __version__
from confaudit.jsonio import dumps_canonical
from confaudit.formats.schemas import FINDINGS_SCHEMA_VERSION
from confaudit.rules.model import RunResult


def to_dict(run: RunResult) -> dict:
    """The findings document (docs/findings.schema.json)."""
    return {"format": "confaudit-findings", "schema_version": FINDINGS_SCHEMA_VERSION,
            "tool": {"name": "confaudit", "version": __version__}, **run.to_dict()}


def to_json(run: RunResult) -> str:
    """The run as canonical JSON text (sorted keys, UTF-8, trailing newline)."""
    return dumps_canonical(to_dict(run)) + "\n"
