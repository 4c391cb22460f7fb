"""The I/O edge shared by ``score``, ``check`` and ``diff``: claims file + inputs -> (RunResult, bundle)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from confaudit.rules.model import ClaimsFile, RunResult


def build_bundle(inputs: Sequence[Path], claims: ClaimsFile | None, keylog: Path | None = None) -> dict[str, Any]:
    from confaudit.evidence.build import build_evidence

    first_party = claims.first_party if claims is not None else ()
    return build_evidence([Path(p) for p in inputs], keylog=keylog, first_party=first_party)


def run_claims(inputs: Sequence[Path], claims_path: Path, keylog: Path | None = None) -> tuple[RunResult, dict[str, Any]]:
    """Validate the claims file first (cheap, exit 3 before any heavy analysis), then build and evaluate."""
    from confaudit.rules.claims import load_claims
    from confaudit.rules.engine import evaluate

    claims = load_claims(claims_path)
    bundle = build_bundle(inputs, claims, keylog)
    return evaluate(claims, bundle), bundle


def display_path(path: Path) -> str:
    """Path relative to the working directory when inside it (stable SARIF URIs), else as given."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
