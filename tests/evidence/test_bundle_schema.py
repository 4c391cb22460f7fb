"""Bundles validate against the merged schema, and docs/evidence.schema.json is that schema."""

from __future__ import annotations

from confaudit.redact import Redactor
import importlib.util
from pathlib import Path

import pytest

from confaudit.evidence.schema import validate_bundle

from support.environment import REPO


def _export_module():
    spec = importlib.util.spec_from_file_location("export_schema", REPO / "scripts" / "export_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_published_schema_is_the_merged_schema() -> None:
    published = (REPO / "docs" / "evidence.schema.json").read_text(encoding="utf-8")
    assert published == _export_module().merged_schema_text(), "run: python scripts/export_schema.py"


def test_packet_fragment_declares_every_analysis_key() -> None:
    from confaudit.evidence.schema import bundle_schema

    props = bundle_schema()["properties"]
    for key in ("flows", "protocol_counts", "media_streams", "tls", "quic", "dtls", "stun", "dns", "sip", "sdp",
                "ice_candidates", "zoom", "media_path", "http_plain"):
        assert key in props, key


def test_schema_rejects_a_broken_packet_bundle(shared_captures: Path) -> None:
    from confaudit.evidence.build import build_evidence

    bundle = build_evidence([shared_captures / "sip.pcap"], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    bundle["flows"][0]["transport"] = "carrier-pigeon"
    bundle["media_path"]["topology"] = "mesh"
    problems = validate_bundle(bundle)
    assert any("flows/0/transport" in p for p in problems)
    assert any("media_path/topology" in p for p in problems)


@pytest.mark.parametrize("name", ["google_meet.pcapng", "quic-v2.pcapng", "sip.pcap", "skype-conference-call.pcap",
                                  "stun.pcap", "stun_google_meet.pcapng", "stun_zoom.pcapng", "teams.pcap",
                                  "webex.pcap", "whatsapp_login_call.pcap", "zoom2.pcap", "zoom_p2p.pcapng"])
def test_every_shared_capture_bundle_validates(shared_captures: Path, name: str) -> None:
    from confaudit.evidence.build import build_evidence

    bundle = build_evidence([shared_captures / name], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    assert bundle["flows"] and bundle["complete"] is True


def test_merged_multi_input_bundle_validates(shared_captures: Path) -> None:
    from confaudit.evidence.build import build_evidence

    bundle = build_evidence([shared_captures / "stun.pcap", shared_captures / "teams.pcap", shared_captures / "zoom2.pcap"], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    assert len(bundle["inputs"]) == 3
    ids = [f["id"] for f in bundle["flows"]]
    assert ids == [f"f{i}" for i in range(1, len(ids) + 1)]
