"""Render the self-contained HTML audit and comparison reports."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from confaudit import __version__
from confaudit.redact import Redactor
from confaudit.report.loader import make_environment, read_static, template_dir

DATA_ID = "confaudit-findings"
"""id of the embedded JSON block (machines read the findings from it)."""


def csp_hash(text: str) -> str:
    """CSP source expression (without quotes) allowing exactly this inline script or style."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def as_dict(run: Any) -> Mapping[str, Any]:
    """A RunResult (anything with ``to_dict``) or an already plain dict."""
    return run.to_dict() if hasattr(run, "to_dict") else run


def _render(template: str, context: Mapping[str, Any], templates: str | Path | None) -> str:
    from markupsafe import Markup

    directory = template_dir(templates)
    env = make_environment(directory)
    css, js = read_static(directory, "report.css"), read_static(directory, "report.js")
    # Markup only for our own static files (hashed into the CSP), never for captured data.
    return env.get_template(template).render(
        css=Markup(css), js=Markup(js), csp={"script": csp_hash(js), "style": csp_hash(css)},
        generator_version=__version__, data_id=DATA_ID, **context)


def render_audit(run: Any, bundle: Mapping[str, Any], *, redactor: Redactor, templates: str | Path | None = None) -> str:
    """One vendor's audit report as a complete HTML document; ``redactor`` tokenises what the page shows."""
    from confaudit.evidence_model import sections_read_once
    from confaudit.report.view import audit_view

    with sections_read_once():  # the views read the same sections again and again
        view = audit_view(as_dict(run), bundle, redactor)
    return _render("audit.html.j2", {"v": view, "machine": view["machine"]}, templates)


def render_comparison(entries: Sequence[Mapping[str, Any]], *, redactor: Redactor,
                      templates: str | Path | None = None) -> str:
    """The vendors comparison as HTML; ``entries`` are ``{run, bundle, report_href}`` per vendor."""
    from confaudit.report.compare_view import comparison_view

    view = comparison_view(entries, redactor)
    return _render("comparison.html.j2", {"c": view, "machine": view["machine"]}, templates)
