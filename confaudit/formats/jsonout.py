"""Findings as deterministic JSON (the ``--json`` output of ``check``)."""

from __future__ import annotations

from confaudit import __version__
from confaudit.jsonio import dumps_canonical
from confaudit.rules.model import RunResult

FORMAT_VERSION = "1.0"


def to_dict(run: RunResult) -> dict:
    return {"format": "confaudit-findings", "format_version": FORMAT_VERSION,
            "tool": {"name": "confaudit", "version": __version__}, **run.to_dict()}


def to_json(run: RunResult) -> str:
    """The run as canonical JSON text (sorted keys, UTF-8, trailing newline)."""
    return dumps_canonical(to_dict(run)) + "\n"
