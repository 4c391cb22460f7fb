"""Auditor-endpoint E2EE verification: decrypt our own SRTP with our own DTLS keys, look inside.

Entry point ``enrich(bundle, captures=, keylogs=, explicit_keylog=)`` adds the bundle's ``e2ee`` object
(documented in docs/e2ee.md, schema in confaudit/evidence/schema/40-e2ee.json). Without usable keys
every stream stays ``not_observable``; SDES evidence is reported either way.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from confaudit.errors import InputError

if TYPE_CHECKING:
    from confaudit.canary.spec import SpecSource
    from confaudit.e2ee.keylog import KeyLog
    from confaudit.evidence_model import E2eeTest


def enrich(bundle: dict[str, Any], *, captures: list[Path], keylogs: list[Path],
           explicit_keylog: Path | None, canaries: Sequence[SpecSource] = ()) -> None:
    """Add ``bundle["e2ee"]``; raises InputError only for a bad ``explicit_keylog``. ``canaries``: canary specs
    (confaudit.canary) to look for in decrypted media."""
    from confaudit.e2ee.keylog import read_keylog

    loaded: list[KeyLog] = []
    warnings: list[str] = []
    if explicit_keylog is not None:
        loaded.append(read_keylog(Path(explicit_keylog), strict=True))
    for path in keylogs:
        if explicit_keylog is not None and Path(path) == Path(explicit_keylog):
            continue
        try:
            loaded.append(read_keylog(Path(path), strict=False))
        except InputError as exc:
            warnings.append(f"e2ee: session key log skipped: {exc}")
    from confaudit.e2ee.section import build_e2ee

    e2ee: E2eeTest
    try:
        e2ee, complete = build_e2ee(bundle, [Path(c) for c in captures], loaded, canaries)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - enrichment must never take the whole analysis down
        from confaudit.wire.errors import strict_from_env

        if strict_from_env():  # a bug, not bad input: the test suite must see it
            raise
        from confaudit.e2ee.section import empty_e2ee
        from confaudit.e2ee.sdes import find_sdes

        e2ee, complete = empty_e2ee(loaded, find_sdes(bundle)), False  # no canary verdicts: the search never ran
        warnings.append(f"e2ee: analysis stopped ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                        "streams left not_observable")
    bundle["e2ee"] = e2ee
    e2ee["warnings"] = e2ee.get("warnings", []) + warnings
    if e2ee["warnings"]:
        bundle.setdefault("warnings", []).extend(e2ee["warnings"])
    if not complete:
        bundle["complete"] = False
