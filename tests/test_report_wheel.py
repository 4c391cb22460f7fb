"""The built wheel ships the templates as confaudit/_templates, and an installed copy renders from them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
import confaudit
from confaudit.report.loader import template_dir
from confaudit.report.html import render_audit, render_comparison
from benchmarks.synth_report import synthetic_bundle, synthetic_run
b = synthetic_bundle(50, hosts=6)
r = synthetic_run(b, claims=3)
html = render_audit(r, b)
cmp = render_comparison([{"run": r, "bundle": b, "report_href": "audit-vendor.html"}])
print(json.dumps({"package": confaudit.__file__, "templates": str(template_dir()), "ok": "id=\\"verdicts\\"" in html,
                  "cmp": "id=\\"claims\\"" in cmp}))
"""


@pytest.mark.slow
def test_wheel_contains_templates_and_renders_from_them(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(out.glob("confaudit-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for needed in ("audit.html.j2", "comparison.html.j2", "_layout.html.j2", "_macros.html.j2",
                       "static/report.css", "static/report.js"):
            assert f"confaudit/_templates/{needed}" in names, needed
        assert not any(n.startswith("reports/") for n in names)
        site = tmp_path / "site"
        zf.extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "CONFAUDIT_TEMPLATES"}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(site))  # the unpacked wheel, not the source checkout
    assert result["templates"] == str(site / "confaudit" / "_templates")
    assert result["ok"] and result["cmp"]


def test_source_checkout_falls_back_to_reports_templates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from confaudit.report import loader

    monkeypatch.delenv(loader.TEMPLATES_ENV, raising=False)
    assert loader.template_dir() == REPO / "reports" / "templates"
    monkeypatch.setenv(loader.TEMPLATES_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError):
        loader.template_dir()  # an override without templates is an error, not a silent fallback
