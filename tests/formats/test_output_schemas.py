"""The JSON outputs (findings, comparison, diff) validate against their published schemas, real outputs from the
sample session and the bundled real captures through the real CLI; a mistyped key fails; one version key."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from confaudit.formats.schemas import OUTPUTS, output_schema, validate_output

from support.environment import REPO

SAMPLE = REPO / "samples" / "sessions" / "example-rooms"
CLAIMS = REPO / "samples" / "claims"
CAPTURES = REPO / "samples" / "captures"
ENV = {"CONFAUDIT_REDACTION_KEY": "test-redaction-key-not-secret", "CONFAUDIT_STRICT_PARSERS": "1"}


def confaudit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={**os.environ, **ENV})


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every JSON output of the sample session and of real captures, written by the CLI once."""
    tmp = tmp_path_factory.mktemp("outputs")
    done = confaudit("check", SAMPLE, "--claims", CLAIMS / "example-rooms.yaml", "--json", tmp / "findings.json")
    assert done.returncode == 1, done.stderr  # two claims contradicted
    done = confaudit("check", CAPTURES / "zoom2.pcap", "--claims", CLAIMS / "zoom.yaml", "--vendor", "Zoom",
                     "--json", tmp / "findings-zoom.json")
    assert done.returncode in (0, 1), done.stderr
    done = confaudit("report", SAMPLE, "--claims", CLAIMS / "example-rooms.yaml", "--out", tmp / "audit.html")
    assert done.returncode == 0, done.stderr
    done = confaudit("compare", SAMPLE, "Zoom=" + str(CAPTURES / "zoom2.pcap"), "Skype=" + str(CAPTURES / "skype-conference-call.pcap"),
                     "Microsoft Teams=" + str(CAPTURES / "teams.pcap"), "--claims-dir", CLAIMS, "--json", tmp / "comparison.json")
    assert done.returncode == 0, done.stderr
    done = confaudit("diff", CAPTURES / "teams.pcap", SAMPLE, "--json", tmp / "diff.json")
    assert done.returncode == 0, done.stderr
    done = confaudit("diff", SAMPLE, CAPTURES / "stun_google_meet.pcapng", "--claims", CLAIMS / "example-rooms.yaml",
                     "--json", tmp / "diff-claims.json")
    assert done.returncode == 0, done.stderr
    return tmp


def _load(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text(encoding="utf-8"))


def _embedded(out: Path) -> dict:
    html = (out / "audit.html").read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="confaudit-findings">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.mark.parametrize("name", OUTPUTS)
def test_schemas_are_valid_2020_12_and_published_in_docs(name: str) -> None:
    import jsonschema

    schema = output_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    published = (REPO / "docs" / f"{name}.schema.json").read_text(encoding="utf-8")
    assert json.loads(published) == schema, "run: python scripts/export_schema.py"


@pytest.mark.slow
def test_schemas_ship_in_the_wheel(tmp_path: Path) -> None:
    import zipfile

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    with zipfile.ZipFile(next(tmp_path.glob("confaudit-*.whl"))) as zf:
        names = set(zf.namelist())
        for name in OUTPUTS:
            assert json.loads(zf.read(f"confaudit/formats/schema/{name}.schema.json")) == output_schema(name)
    assert {f"confaudit/evidence/schema/{n}" for n in ("00-core.json", "10-packet.json")} <= names


@pytest.mark.parametrize(("name", "kind"), [("findings.json", "findings"), ("findings-zoom.json", "findings"),
                                            ("comparison.json", "comparison"), ("diff.json", "diff"),
                                            ("diff-claims.json", "diff")])
def test_real_outputs_validate(out: Path, name: str, kind: str) -> None:
    doc = _load(out, name)
    assert validate_output(kind, doc) == []
    assert doc["format"] == f"confaudit-{kind}"


def test_outputs_carry_what_their_schema_makes_optional(out: Path) -> None:
    """The runs behind the fixtures exercise the optional parts (else the validation above proves less)."""
    diff = _load(out, "diff-claims.json")
    assert diff["verdicts"] and "coverage" in diff and diff["encryption"] is not None
    comparison = _load(out, "comparison.json")
    cells = [c for row in comparison["third_party_rows"] for c in row["cells"]]
    assert any(c is None for c in cells) or any(c and c.get("captured") is False for c in cells)
    assert any(c and c.get("captured") is True for c in cells)
    assert any(not cell["captured"] for row in comparison["data_rows"] for cell in row["cells"])
    findings = _load(out, "findings.json")
    assert {f["verdict"] for f in findings["findings"]} >= {"contradicted", "supported"}


def test_report_embedded_findings_validate(out: Path) -> None:
    doc = _embedded(out)
    assert validate_output("findings", doc) == []
    assert doc["schema_version"] == _load(out, "findings.json")["schema_version"]


@pytest.mark.parametrize(("name", "kind", "path"), [
    ("findings.json", "findings", ["evidence_complete"]),
    ("findings.json", "findings", ["findings", 0, "verdict"]),
    ("findings.json", "findings", ["score", "coverage", "claims_tested"]),
    ("comparison.json", "comparison", ["vendors", 0, "planes", "web"]),
    ("comparison.json", "comparison", ["media", 0, "topology"]),
    ("diff.json", "diff", ["third_parties"]),
    ("diff-claims.json", "diff", ["verdicts", 0, "claim_id"]),
])
def test_a_mistyped_key_fails_validation(out: Path, name: str, kind: str, path: list) -> None:
    doc = copy.deepcopy(_load(out, name))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1] + "_"] = parent.pop(path[-1])  # e.g. "evidence_complete_"
    problems = validate_output(kind, doc)
    assert any(f"'{path[-1]}_' was unexpected" in p for p in problems), problems  # the unknown key itself is named


def test_a_wrong_value_fails_validation(out: Path) -> None:
    doc = _load(out, "findings.json")
    doc["findings"][0]["verdict"] = "passed"
    assert validate_output("findings", doc)
    doc = _load(out, "diff.json")
    doc["schema_version"] = "2.0"
    assert validate_output("diff", doc)


def test_one_version_key_across_every_json_output(out: Path, tmp_path: Path) -> None:
    done = confaudit("analyze", CAPTURES / "teams.pcap", "--json", tmp_path / "evidence.json", "-q")
    assert done.returncode == 0, done.stderr
    docs = {"bundle": json.loads((tmp_path / "evidence.json").read_text()), "embedded": _embedded(out),
            **{n: _load(out, f"{n}.json") for n in ("findings", "comparison", "diff")}}
    for name, doc in docs.items():
        assert re.fullmatch(r"[0-9]+\.[0-9]+", doc["schema_version"]), name
        assert "version" not in doc and "format_version" not in doc, name


@pytest.mark.parametrize("name", ["findings.json", "comparison.json", "diff.json"])
def test_another_output_given_as_evidence_is_refused_by_name(out: Path, name: str) -> None:
    done = confaudit("check", out / name, "--claims", CLAIMS / "example-rooms.yaml")
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out / name) in lines[0] and "not an evidence bundle" in lines[0], done.stderr
