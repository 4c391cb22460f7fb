"""Write docs/evidence.schema.json: the bundle schema merged from confaudit/evidence/schema/*.json."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def merged_schema_text() -> str:
    from confaudit.evidence.schema import bundle_schema
    from confaudit.jsonio import dumps_canonical

    return dumps_canonical(bundle_schema(), indent=2) + "\n"


def main() -> int:
    from confaudit.jsonio import atomic_write_text

    target = REPO / "docs" / "evidence.schema.json"
    atomic_write_text(target, merged_schema_text())
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
