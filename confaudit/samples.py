"""The sample claims files (and scenarios, where the checkout has them) shipped with confaudit.

An installed wheel carries them as ``confaudit/_samples/<kind>/`` (pyproject ``force-include``); a source
checkout reads ``samples/<kind>/`` at the repository root. ``confaudit samples list`` shows them and
``confaudit samples copy DIR`` writes editable copies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SAMPLES_ENV = "CONFAUDIT_SAMPLES"
"""Environment variable naming a samples directory that overrides the built-in one (tests, packagers)."""
KINDS = ("claims", "scenarios")
"""Sub-directories that hold samples, in listing order."""
_PACKAGE_DIR = Path(__file__).resolve().parent
_SUFFIXES = {".yaml", ".yml", ".json"}


@dataclass(frozen=True)
class Sample:
    """One shipped sample file."""

    kind: str
    """``claims`` or ``scenarios``: its sub-directory."""
    name: str
    """File name inside it (``zoom.yaml``, ``example-rooms.entities.json``)."""
    path: Path
    """Where it is installed."""
    vendor: str
    """The vendor a claims file names ('' for other files)."""
    claims: int
    """How many claims it holds (0 for other files)."""


def samples_dir() -> Path:
    """``$CONFAUDIT_SAMPLES``, the wheel's ``confaudit/_samples``, else ``<repo>/samples`` of a source checkout."""
    if os.environ.get(SAMPLES_ENV):
        candidates = [Path(os.environ[SAMPLES_ENV])]
    else:
        candidates = [_PACKAGE_DIR / "_samples", _PACKAGE_DIR.parent / "samples"]
    for candidate in candidates:
        if (candidate / "claims").is_dir():
            return candidate
    raise FileNotFoundError(f"sample claims not found (looked in {', '.join(str(c) for c in candidates)})")


def list_samples() -> list[Sample]:
    """Every sample file, by kind then name; claims files parsed (a broken one raises ClaimsError)."""
    from confaudit.rules.claims import load_claims

    root = samples_dir()
    out = []
    for kind in KINDS:
        directory = root / kind
        if not directory.is_dir():
            continue
        for path in sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in _SUFFIXES):
            vendor, count = "", 0
            if kind == "claims" and path.suffix in (".yaml", ".yml"):
                parsed = load_claims(path)
                vendor, count = parsed.vendor, len(parsed.claims)
            out.append(Sample(kind, path.name, path, vendor, count))
    return out
