"""The golden claims run (tests/golden) and an understated run, shared by the output-format tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

from confaudit.rules.claims import load_claims
from confaudit.rules.engine import evaluate

from support.bundles import complete_bundle

GOLDEN = Path(__file__).parents[1] / "golden"
UNDERSTATED = Path(__file__).parents[1] / "rules" / "end_to_end_encryption.expect-false"


def golden_run(bundle: dict | None = None):
    claims = load_claims(GOLDEN / "claims.yaml")
    if bundle is None:
        bundle = json.loads((GOLDEN / "bundle.json").read_text(encoding="utf-8"))
    return evaluate(claims, complete_bundle(bundle))


def understated_run():
    """A high-severity "not end-to-end encrypted" claim on a peer-to-peer DTLS-SRTP call: understated."""
    bundle = json.loads((UNDERSTATED / "understated--p2p-dtls.json").read_text(encoding="utf-8"))
    return evaluate(load_claims(UNDERSTATED / "rule.yaml"), bundle)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CONFAUDIT_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; rerun with CONFAUDIT_UPDATE_GOLDEN=1 if intended"
