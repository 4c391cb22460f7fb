"""The built wheel ships the templates as confaudit/_templates, and an installed copy renders from them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.environment import REPO

_PROBE = """
import json, sys
import confaudit
from confaudit.report.loader import template_dir
from confaudit.redact import Redactor
from confaudit.report.html import render_audit, render_comparison
from benchmarks.synth_report import synthetic_bundle, synthetic_run
b = synthetic_bundle(50, hosts=6)
r = synthetic_run(b, claims=3)
html = render_audit(r, b, redactor=Redactor.default())
cmp = render_comparison([{"run": r, "bundle": b, "report_href": "audit-vendor.html"}], redactor=Redactor.default())
print(json.dumps({"package": confaudit.__file__, "templates": str(template_dir()), "ok": "id=\\"verdicts\\"" in html,
                  "cmp": "id=\\"claims\\"" in cmp}))
"""


@pytest.mark.slow
def test_wheel_contains_templates_and_renders_from_them(tmp_path: Path, confaudit_wheel: Path) -> None:
    with zipfile.ZipFile(confaudit_wheel) as zf:
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


# --- packaging: what the wheel ships, and what a user of the installed wheel can do --------------------------

def test_wheel_ships_licence_notice_samples_and_no_test_code(confaudit_wheel: Path) -> None:
    import json

    with zipfile.ZipFile(confaudit_wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        assert zf.read(f"{dist_info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
        assert zf.read(f"{dist_info}/licenses/NOTICE") == (REPO / "NOTICE").read_bytes()
        builtin = json.loads(zf.read("confaudit/telemetry/data/entities.json"))
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata
    assert "Provides-Extra: lab" in metadata and "Requires-Dist: aiortc>=1.9; extra == 'lab'" in metadata
    assert not any(line.startswith("Requires-Dist: aiortc") and "extra" not in line for line in metadata.splitlines())
    claims = {p.name for p in (REPO / "samples" / "claims").iterdir()}
    assert {f"confaudit/_samples/claims/{name}" for name in claims} <= names and "zoom.yaml" in claims
    assert not any(n.startswith(("tests/", "benchmarks/", "samples/", "scripts/")) for n in names)
    assert not any(Path(n).stem.startswith(("synth", "test_")) for n in names), sorted(n for n in names if "synth" in n)
    assert not any(n.startswith("confaudit/_samples/captures") or n.endswith((".pcap", ".pcapng")) for n in names)
    # the lab's made-up hosts are in the sample's own list, not in every user's entity map
    domains = [d for e in builtin["entities"] for d in e["domains"]]
    assert domains and not [d for d in domains if d.endswith(".test")]
    assert not [e for e in builtin["entities"] if "lab" in e["entity"].lower()]


def _venv_confaudit(venv: Path, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    from support.wheel_support import venv_env

    return subprocess.run([str(venv / "bin" / "confaudit"), *map(str, args)], capture_output=True, text=True,
                          env={**venv_env(), "COLUMNS": "200"}, cwd=cwd, timeout=240)


@pytest.mark.slow
def test_installed_wheel_lists_copies_and_uses_its_samples(wheel_venv: Path, tmp_path: Path) -> None:
    import json
    from importlib.metadata import version

    assert _venv_confaudit(wheel_venv, "--version", cwd=tmp_path).stdout == f"confaudit {version('confaudit')}\n"
    listed = _venv_confaudit(wheel_venv, "samples", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    head, *rows = listed.stdout.splitlines()
    assert head.startswith(f"samples in {wheel_venv}") and "/confaudit/_samples " in head
    assert any(row.split()[0] == "claims/zoom.yaml" and "Zoom, " in row for row in rows)
    assert len([row for row in rows if row.strip().startswith("claims/") and row.strip().split()[0].endswith(".yaml")]) == 8
    copied = _venv_confaudit(wheel_venv, "samples", "copy", tmp_path / "mine", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert (tmp_path / "mine" / "claims" / "zoom.yaml").read_bytes() == (REPO / "samples" / "claims" / "zoom.yaml").read_bytes()
    claims_dir = tmp_path / "mine" / "claims"
    captures = REPO / "samples" / "captures"

    report = _venv_confaudit(wheel_venv, "report", captures / "teams.pcap", "--claims", claims_dir / "microsoft-teams.yaml",
                             "--vendor", "Microsoft Teams", "--out", tmp_path / "teams.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Microsoft Teams" in (tmp_path / "teams.html").read_text()
    compared = _venv_confaudit(wheel_venv, "compare", f"Microsoft Teams={captures / 'teams.pcap'}",
                               f"Zoom={captures / 'zoom2.pcap'}", "--claims-dir", claims_dir,
                               "--out", tmp_path / "cmp" / "comparison.html", "--json", "-", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    machine = json.loads(compared.stdout)
    assert machine["tool"]["version"] == version("confaudit") and len(machine["vendors"]) == 2
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == {"comparison.html", "audit-microsoft_teams.html", "audit-zoom.html"}
    # the sample session, audited with the copied sample claims: the lab's hosts come from the copied entity list
    session = REPO / "samples" / "sessions" / "example-rooms"
    audit = _venv_confaudit(wheel_venv, "report", session, "--claims", claims_dir / "example-rooms.yaml",
                            "--out", tmp_path / "lab.html", cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr
    assert "Lab fixture: tracker" in (tmp_path / "lab.html").read_text()
    from support.wheel_support import venv_env

    # without the caller's PYTHONPATH (a worktree run sets it to the checkout, which holds benchmarks/)
    leaked = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", "import benchmarks"], capture_output=True,
                            text=True, cwd=tmp_path, env=venv_env())
    assert leaked.returncode != 0  # nothing of the checkout is importable from the installed wheel
