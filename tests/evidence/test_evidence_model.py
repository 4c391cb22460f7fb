"""The typed evidence model (confaudit/evidence_model.py) matches the schema and the readers that use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import typing

import pytest

from confaudit import evidence_model as model
from confaudit.evidence.build import build_evidence
from confaudit.evidence.schema import bundle_schema
from confaudit.redact import Redactor
from support.environment import REPO, SAMPLE_SESSION


def test_model_is_generated_from_the_current_schema() -> None:
    """Editing a schema fragment without regenerating the model (or editing the model by hand) fails here."""
    result = subprocess.run([sys.executable, "scripts/gen_evidence_model.py", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _required(cls: type) -> frozenset[str]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return frozenset(k for k, h in hints.items() if typing.get_origin(h) is not typing.NotRequired)


def test_every_section_and_record_key_of_the_schema_is_typed() -> None:
    schema = bundle_schema()
    assert set(typing.get_type_hints(model.EvidenceBundle)) == set(schema["properties"])
    assert _required(model.EvidenceBundle) == frozenset(schema["required"])
    for name, cls in [("pkt_flow", model.Flow), ("pkt_media_stream", model.MediaStream), ("http_record", model.HttpExchange),
                      ("telemetry_party", model.Party), ("telemetry_data_flow", model.DataFlow)]:
        definition = schema["$defs"][name]
        assert set(typing.get_type_hints(cls)) == set(definition["properties"]), name
        assert _required(cls) == frozenset(definition["required"]), name


def _unknown_keys(bundle: dict) -> dict[str, set[str]]:
    """Per list section: record keys that its TypedDict does not declare."""
    out: dict[str, set[str]] = {}
    for key, hint in typing.get_type_hints(model.EvidenceBundle, include_extras=True).items():
        item_type = _item_type(hint)
        section = bundle.get(key)
        if item_type is None or not isinstance(section, list):
            continue
        extra = {k for record in section if isinstance(record, dict) for k in record} - set(typing.get_type_hints(item_type))
        if extra:
            out[key] = extra
    return out


def _item_type(hint: object) -> type | None:
    """The TypedDict of a ``NotRequired[list[X]]`` / ``list[X]`` section, else None."""
    while typing.get_origin(hint) is typing.NotRequired:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is not list:
        return None
    (item,) = typing.get_args(hint)
    return item if typing.is_typeddict(item) else None


def test_producers_write_no_key_the_model_lacks(tmp_path) -> None:
    """A producer that adds a record key without a schema (and model) entry fails here."""
    bundle = build_evidence([SAMPLE_SESSION], redactor=Redactor.default())
    json.loads(json.dumps(bundle))
    assert _unknown_keys(dict(bundle)) == {}
    broken = json.loads(json.dumps(bundle))
    broken["flows"][0]["surprise"] = 1
    assert _unknown_keys(broken) == {"flows": {"surprise"}}


@pytest.mark.skipif(shutil.which("mypy", path=str(REPO / ".venv" / "bin")) is None and
                    subprocess.run([sys.executable, "-c", "import mypy"], capture_output=True).returncode != 0,
                    reason="mypy is a dev dependency (make test installs it)")
def test_typed_core_passes_mypy() -> None:
    """The whole package passes mypy: producers build the model's records, checks and reports read them through the typed readers."""
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]


def test_sections_read_once_filters_a_list_once_and_still_sees_a_changed_one(monkeypatch) -> None:
    from confaudit import evidence_model
    from confaudit.evidence_model import section_records, sections_read_once

    calls = []
    real = evidence_model._REQUIRED_SETS

    class Counting(dict):
        def get(self, key, default=None):
            calls.append(key)
            return real.get(key, default)

    monkeypatch.setattr(evidence_model, "_REQUIRED_SETS", Counting())
    flows = [{"id": "f1"}]
    bundle = {"flows": flows}
    with sections_read_once():
        first, second = section_records(bundle, "flows"), section_records(bundle, "flows")
        assert first == second and first is not second  # each caller its own list
        assert calls == ["flows"]  # filtered once
        flows.append({"id": "f2"})  # a list that changed is read again
        assert len(section_records(bundle, "flows") or []) == len(section_records({"flows": list(flows)}, "flows") or [])
        assert len(calls) == 3
    section_records(bundle, "flows")
    section_records(bundle, "flows")
    assert len(calls) == 5  # outside, every call reads
