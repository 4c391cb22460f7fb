"""--vendor on analyze/check/report/score and VENDOR=PATH on compare: a capture carries no vendor name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.environment import REPO

CLAIMS = REPO / "samples" / "claims"


def confaudit(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "confaudit", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_analyze_records_the_vendor(tmp_path, shared_captures):
    run = confaudit("analyze", shared_captures / "skype-conference-call.pcap", "--vendor", "Skype", "--json", "b.json",
                    "-q", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "b.json").read_text())["vendor"] == {"name": "Skype", "source": "command line"}
    run = confaudit("analyze", shared_captures / "skype-conference-call.pcap", "--json", "n.json", "-q", cwd=tmp_path)
    assert json.loads((tmp_path / "n.json").read_text())["vendor"] is None


def test_check_refuses_a_vendor_that_is_not_the_claims_files(tmp_path, shared_captures):
    run = confaudit("check", shared_captures / "skype-conference-call.pcap", "--claims", CLAIMS / "microsoft-teams.yaml",
                    "--vendor", "Skype", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "is not the vendor of" in run.stderr
    run = confaudit("check", shared_captures / "skype-conference-call.pcap", "--claims", CLAIMS / "skype.yaml",
                    "--vendor", "skype", "--json", "f.json", cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr


def test_compare_takes_vendor_equals_path(tmp_path, shared_captures):
    """Teams and Skype share first-party names: by traffic alone the pairing would be ambiguous."""
    run = confaudit("compare", f"Skype={shared_captures / 'skype-conference-call.pcap'}",
                    f"Microsoft Teams={shared_captures / 'teams.pcap'}", "--claims-dir", CLAIMS, "--json", "c.json",
                    cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    machine = json.loads((tmp_path / "c.json").read_text())
    vendors = [v["name"] for v in machine["vendors"]]
    assert sorted(vendors) == ["Microsoft Teams", "Skype"]
    assert "named on the command line (Skype=...)" in run.stderr
    unknown = confaudit("compare", f"Nobody={shared_captures / 'teams.pcap'}", "--claims-dir", CLAIMS, "--json", "x.json",
                        cwd=tmp_path)
    assert unknown.returncode == 2 and "no claims file has vendor 'Nobody'" in unknown.stderr


def test_a_path_holding_an_equals_sign_is_still_a_path(tmp_path):
    from confaudit.commands.compare import split_vendor

    odd = tmp_path / "a=b.pcap"
    odd.write_bytes(b"x")
    assert split_vendor(str(odd)) == ("", odd)
    assert split_vendor("Zoom=/x/y.pcap") == ("Zoom", Path("/x/y.pcap"))
    assert split_vendor("/x/y.pcap") == ("", Path("/x/y.pcap"))


def test_the_vendor_name_is_a_first_party_entity(tmp_path, shared_captures):
    """--vendor Zoom alone ties Zoom's TLS and media to the vendor (the entity map knows Zoom's domains)."""
    run = confaudit("analyze", shared_captures / "zoom2.pcap", "--vendor", "Zoom", "--json", "z.json", "-q", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    flows = json.loads((tmp_path / "z.json").read_text())["flows"]
    assert {f["attribution"]["role"] for f in flows} == {"vendor"}
