"""Find the report templates and build the one Jinja environment every report uses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TEMPLATES_ENV = "CONFAUDIT_TEMPLATES"
"""Environment variable naming a template directory that overrides the built-in ones."""

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def template_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The template directory: explicit override, $CONFAUDIT_TEMPLATES, the wheel's
    ``confaudit/_templates``, else ``<repo>/reports/templates`` of a source checkout."""
    candidates = []
    if override is not None:
        candidates.append(Path(override))
    elif os.environ.get(TEMPLATES_ENV):
        candidates.append(Path(os.environ[TEMPLATES_ENV]))
    else:
        candidates.append(_PACKAGE_DIR / "_templates")
        candidates.append(_PACKAGE_DIR.parent / "reports" / "templates")
    for cand in candidates:
        if (cand / "audit.html.j2").is_file():
            return cand
    raise FileNotFoundError(f"report templates not found (looked in {', '.join(str(c) for c in candidates)})")


def make_environment(directory: Path) -> Any:
    """Jinja environment: autoescape for every template name, undefined names are errors."""
    import jinja2

    from confaudit.report import filters

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=True,  # never select_autoescape: it leaves "*.html.j2" unescaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters.FILTERS)
    return env


def read_static(directory: Path, name: str) -> str:
    """Our own CSS/JS shipped beside the templates (trusted, inlined verbatim and hashed for the CSP)."""
    return (directory / "static" / name).read_text(encoding="utf-8")
