"""Write the published schemas: docs/evidence.schema.json (the bundle schema merged from
confaudit/evidence/schema/*.json) and docs/{findings,comparison,diff}.schema.json (copies of
confaudit/formats/schema/*.schema.json)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def merged_schema_text() -> str:
    from confaudit.evidence.schema import bundle_schema
    from confaudit.jsonio import dumps_canonical

    return dumps_canonical(bundle_schema(), indent=2) + "\n"


def main() -> int:
    from confaudit.formats.schemas import OUTPUTS
    from confaudit.jsonio import atomic_write_text

    texts = {REPO / "docs" / "evidence.schema.json": merged_schema_text()}
    for name in OUTPUTS:
        source = REPO / "confaudit" / "formats" / "schema" / f"{name}.schema.json"
        texts[REPO / "docs" / f"{name}.schema.json"] = source.read_text(encoding="utf-8")
    for target, text in texts.items():
        atomic_write_text(target, text)
        sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
