"""HTML audit and comparison reports (Jinja templates in top-level ``reports/templates/``).

Entry points: :func:`confaudit.report.html.render_audit` and
:func:`confaudit.report.html.render_comparison`. Nothing here imports jinja2 at module top.
"""
