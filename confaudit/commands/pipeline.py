"""Orchestration shared by ``score``, ``check``, ``report``, ``run`` and ``diff``: claims file + inputs -> evidence
bundle -> (RunResult, bundle). It calls several stages, so it lives with the commands, not in ``rules``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confaudit.redact import Redactor
from confaudit.rules.model import ClaimsFile, RunResult

if TYPE_CHECKING:
    from confaudit.evidence_model import EvidenceBundle


def build_bundle(inputs: Sequence[Path], claims: ClaimsFile | None, keylog: Path | None = None,
                 vendor: str | None = None, *, redactor: Redactor) -> EvidenceBundle:
    from confaudit.evidence.build import build_evidence

    first_party = claims.first_party if claims is not None else ()
    entity_lists = [Path(p) for p in claims.entity_lists] if claims is not None else []
    country_table = Path(claims.country_table) if claims is not None and claims.country_table else None
    return build_evidence([Path(p) for p in inputs], keylog=keylog, first_party=first_party, vendor=vendor,
                          entity_lists=entity_lists, country_table=country_table, redactor=redactor)


def run_claims(inputs: Sequence[Path], claims_path: Path, keylog: Path | None = None,
               vendor: str | None = None, *, redactor: Redactor) -> tuple[RunResult, EvidenceBundle]:
    """Validate the claims file first (cheap, exit 3 before any heavy analysis), then build and evaluate.

    ``vendor`` (``--vendor``) must name the claims file's vendor: a Skype capture is never scored
    against Teams' claims by accident.
    """
    from confaudit.errors import UsageError
    from confaudit.report.matching import normalise_vendor
    from confaudit.rules.claims import load_claims
    from confaudit.rules.engine import evaluate

    from confaudit import terminal

    claims = load_claims(claims_path)
    if vendor and normalise_vendor(vendor) != normalise_vendor(claims.vendor):
        raise UsageError(f"--vendor {vendor!r} is not the vendor of {claims_path} ({claims.vendor!r})")
    bundle = build_bundle(inputs, claims, keylog, vendor=vendor, redactor=redactor)
    with terminal.stage("claims evaluated") as counts:
        result = evaluate(claims, bundle)
        counts["claims"] = len(result.findings)
    return result, bundle


def display_path(path: Path) -> str:
    """Path relative to the working directory when inside it (stable SARIF URIs), else as given."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
