"""Known-plaintext E2EE test on real aiortc calls: both peers play the canary (MediaPlayer on its WAV and
Y4M), the sniffer records ``lo`` and the lab writes the DTLS key log; ``analyze`` looks for the canary."""

from __future__ import annotations

from pathlib import Path

import pytest

from confaudit.canary import write_canary_media
from confaudit.canary.spec import read_specs
from confaudit.e2ee import enrich


def _record(tmp_path: Path, transform) -> tuple[object, dict[int, dict]]:
    from confaudit.lab.call import run_call

    media = write_canary_media(tmp_path / "canary", "lab-call-seed", seconds=4.0)
    keylog, capture = tmp_path / "keys.log", tmp_path / "call.pcapng"
    record = run_call(3.0, keylog_path=keylog, capture_path=capture, payload_transform=transform, canary=media)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog, canaries=read_specs(media.spec_json, []))
    streams = {s["ssrc"]: s for s in bundle["e2ee"]["streams"]}
    assert {s.ssrc for s in record.streams} <= set(streams)
    return record, {s.ssrc: streams[s.ssrc] for s in record.streams}


@pytest.mark.slow
def test_canary_found_in_a_plain_p2p_call(tmp_path: Path) -> None:
    record, streams = _record(tmp_path, None)
    kinds = {s.ssrc: s.kind for s in record.streams}
    for ssrc, stream in streams.items():
        assert stream["inner"] == "codec", stream["reasons"]
        canary = stream["canary"]
        assert canary["found"] is True and canary["kind"] == kinds[ssrc] and canary["seed"] == "lab-call-seed"
        if kinds[ssrc] == "audio":
            assert canary["figures"]["match_share"] >= 0.8 and canary["figures"]["segments_matched"] >= 8
        else:
            assert canary["figures"]["frames_matched"] >= 30
            assert canary["figures"]["counter_forward"] >= 0.9 * canary["figures"]["counter_steps"]


@pytest.mark.slow
def test_canary_absent_under_the_lab_inner_e2ee(tmp_path: Path) -> None:
    from confaudit.lab.e2ee_transform import FrameEncryptor

    transform = FrameEncryptor()
    record, streams = _record(tmp_path, transform)
    assert transform.encrypted > 0
    kinds = {s.ssrc: s.kind for s in record.streams}
    for ssrc, stream in streams.items():
        assert stream["decrypted"] > 0 and stream["inner"] == "encrypted", stream["reasons"]
        canary = stream["canary"]
        assert canary["found"] is False and canary["kind"] == kinds[ssrc]
        if kinds[ssrc] == "video":
            assert canary["figures"]["frames_matched"] == 0
        else:
            assert (canary["figures"]["match_share"] or 0) < 0.4


def _sfu(tmp_path: Path, transform) -> tuple[object, dict[int, dict]]:
    from confaudit.lab.sfu import run_sfu_call

    media = write_canary_media(tmp_path / "canary", "lab-sfu-seed", seconds=4.0)
    keylog, capture = tmp_path / "alice-keys.log", tmp_path / "sfu.pcapng"
    record = run_sfu_call(3.0, keylog_path=keylog, capture_path=capture, payload_transform=transform, canary=media)
    bundle = {"warnings": [], "complete": True, "media_path": {"topology": "server"}}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog, canaries=read_specs(media.spec_json, []))
    streams = {s["ssrc"]: s for s in bundle["e2ee"]["streams"]}
    alice = list(record.sent["alice"].values()) + list(record.forwarded["alice"].values())
    return record, {ssrc: streams[ssrc] for ssrc in alice}


@pytest.mark.slow
def test_canary_read_by_the_sfu_without_e2ee(tmp_path: Path) -> None:
    """The auditor's leg carries their own media and bob's as forwarded: both canaries are readable at the server."""
    _record, streams = _sfu(tmp_path, None)
    assert len(streams) == 4
    for stream in streams.values():
        assert stream["path"] == "server" and stream["inner"] == "codec", stream["reasons"]
        assert stream["canary"]["found"] is True, stream["reasons"]
    assert sorted(s["canary"]["kind"] for s in streams.values()) == ["audio", "audio", "video", "video"]


@pytest.mark.slow
def test_canary_absent_at_the_sfu_with_inner_e2ee(tmp_path: Path) -> None:
    from confaudit.lab.e2ee_transform import FrameEncryptor

    _record, streams = _sfu(tmp_path, FrameEncryptor())
    assert len(streams) == 4
    for stream in streams.values():
        assert stream["inner"] == "encrypted" and stream["canary"]["found"] is False, stream["reasons"]
