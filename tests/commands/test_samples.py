"""Sample claims from the source checkout (the wheel's copy: tests/report/test_report_wheel.py), and claims files naming
entity lists (the lab's made-up hosts live in the sample's own list, never in the built-in map)."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
import subprocess
import sys
from pathlib import Path

import pytest

from confaudit.errors import ClaimsError, InputError

from support.environment import REPO

SESSION = REPO / "samples" / "sessions" / "example-rooms"


def confaudit(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=240)


def test_samples_list_names_every_claims_file_with_its_vendor() -> None:
    out = confaudit("samples", "list")
    assert out.returncode == 0 and out.stderr == ""
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    yamls = sorted(p.name for p in (REPO / "samples" / "claims").glob("*.yaml"))
    assert sorted(k.removeprefix("claims/") for k in rows if k.startswith("claims/") and k.endswith(".yaml")) == yamls
    scenarios = sorted(p.name for p in (REPO / "samples" / "scenarios").glob("*.yaml"))
    assert sorted(k.removeprefix("scenarios/") for k in rows if k.startswith("scenarios/")) == scenarios
    assert "Example Rooms, 10 claims" in rows["claims/example-rooms.yaml"]
    assert "claims/example-rooms.entities.json" in rows


def test_samples_copy_is_all_or_none_and_never_overwrites_edits(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    assert confaudit("samples", "copy", target).returncode == 0
    copied = sorted(p.name for p in (target / "claims").iterdir())
    assert copied == sorted(p.name for p in (REPO / "samples" / "claims").iterdir())
    assert confaudit("samples", "copy", target, "-q").returncode == 0  # same content: nothing to refuse
    edited = target / "claims" / "zoom.yaml"
    edited.write_text(edited.read_text() + "# my notes\n")
    (target / "claims" / "skype.yaml").unlink()
    refused = confaudit("samples", "copy", target)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "zoom.yaml exists and differs" in refused.stderr
    assert edited.read_text().endswith("# my notes\n") and not (target / "claims" / "skype.yaml").exists()
    assert confaudit("samples", "copy", target, "--force").returncode == 0
    assert edited.read_bytes() == (REPO / "samples" / "claims" / "zoom.yaml").read_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert confaudit("samples", "copy", blocker).returncode == 2


def test_claims_entity_lists_attribute_the_lab_hosts(tmp_path: Path) -> None:
    claims = REPO / "samples" / "claims" / "example-rooms.yaml"
    out = confaudit("check", SESSION, "--claims", claims, "--json", tmp_path / "f.json")
    assert out.returncode == 1  # the sample's two contradictions, unchanged by the move
    assert confaudit("analyze", SESSION, "--json", tmp_path / "plain.json", "-q").returncode == 0
    plain = {p["domain"]: p for p in json.loads((tmp_path / "plain.json").read_text())["parties"]}
    assert plain["tracker.test"].get("entity") in (None, "")  # not in the built-in map any more
    report = confaudit("report", SESSION, "--claims", claims, "--out", tmp_path / "a.html")
    assert report.returncode == 0 and "Lab fixture: tracker" in (tmp_path / "a.html").read_text()
    from confaudit.commands.pipeline import run_claims

    _result, bundle = run_claims([SESSION], claims, redactor=Redactor.default())
    parties = {p["domain"]: p for p in bundle["parties"]}
    assert parties["tracker.test"]["entity"] == "Lab fixture: tracker"
    assert [e["name"] for e in bundle["entity_lists"]] == ["confaudit-builtin", "example-rooms-lab"]


@pytest.mark.parametrize("value, problem", [("[/etc/entities.json]", "must be a path relative to the claims file"),
                                            ("[../x.json]", "must be a path relative to the claims file"),
                                            ("{a: b}", "entity_lists must be a list")])
def test_claims_entity_lists_stay_beside_the_claims_file(tmp_path: Path, value: str, problem: str) -> None:
    from confaudit.rules.claims import load_claims

    path = tmp_path / "c.yaml"
    path.write_text(f"vendor: V\nentity_lists: {value}\nclaims:\n  - id: a\n    statement: s\n"
                    "    source: {title: t, url: 'https://x', date: '2020-01-01'}\n    check: document_only\n"
                    "    category: content_use\n    severity: low\n")
    with pytest.raises(ClaimsError) as err:
        load_claims(path)
    assert problem in str(err.value) and str(err.value).startswith(f"{path}:2:")


def test_a_missing_entity_list_is_bad_input_naming_it(tmp_path: Path) -> None:
    claims = tmp_path / "c.yaml"
    claims.write_text((REPO / "samples" / "claims" / "example-rooms.yaml").read_text())
    out = confaudit("check", SESSION, "--claims", claims)
    assert out.returncode == 3 and str(tmp_path / "example-rooms.entities.json") in out.stderr
    assert out.stderr.count("\n") == 1
    from confaudit.commands.pipeline import build_bundle
    from confaudit.rules.claims import load_claims

    with pytest.raises(InputError):
        build_bundle([SESSION], load_claims(claims), redactor=Redactor.default())
