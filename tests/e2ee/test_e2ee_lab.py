"""Real aiortc calls on loopback, recorded with the sniffer and a key log: E2EE off and on, P2P."""

from __future__ import annotations

from pathlib import Path

import pytest

from confaudit.e2ee import enrich


def _record(tmp_path: Path, transform) -> tuple[object, dict]:
    from confaudit.lab.call import run_call

    keylog, capture = tmp_path / "keys.log", tmp_path / "call.pcapng"
    record = run_call(2.5, keylog_path=keylog, capture_path=capture, payload_transform=transform)
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
    return record, bundle


def _verdicts(record, bundle: dict) -> dict[int, dict]:
    streams = {s["ssrc"]: s for s in bundle["e2ee"]["streams"]}
    sent = {s.ssrc: s for s in record.streams}
    assert set(sent) <= set(streams), "every stream the lab sent is in the capture"
    return {ssrc: streams[ssrc] for ssrc in sent}


@pytest.mark.slow
def test_lab_p2p_without_e2ee_is_readable(tmp_path: Path) -> None:
    record, bundle = _record(tmp_path, None)
    for ssrc, stream in _verdicts(record, bundle).items():
        assert stream["decrypted"] > 0 and stream["auth_failed"] == 0, stream
        assert stream["inner"] == "codec", stream
        assert stream["codec"] == {"audio": "opus", "video": "vp8"}[next(s.kind for s in record.streams if s.ssrc == ssrc)]
    session = bundle["e2ee"]["sessions"][0]
    assert session["keys"] == "found" and session["version"] == "DTLS 1.2"
    assert session["profile"] == record.peers[0].srtp_profile.replace("SRTP_AES128_CM_SHA1", "SRTP_AES128_CM_HMAC_SHA1")
    assert bundle["e2ee"]["summary"]["conclusion"] == "media_readable_at_transport_end"


@pytest.mark.slow
def test_lab_p2p_with_e2ee_is_encrypted_inside(tmp_path: Path) -> None:
    from confaudit.lab.e2ee_transform import FrameEncryptor

    transform = FrameEncryptor()
    record, bundle = _record(tmp_path, transform)
    assert transform.encrypted > 0
    for stream in _verdicts(record, bundle).values():
        assert stream["decrypted"] > 0 and stream["auth_failed"] == 0, stream
        assert stream["inner"] == "encrypted", stream
    assert bundle["e2ee"]["summary"]["conclusion"] == "inner_encryption_observed"


def _sfu(tmp_path: Path, transform) -> tuple[object, dict]:
    from confaudit.lab.sfu import run_sfu_call

    keylog, capture = tmp_path / "alice-keys.log", tmp_path / "sfu.pcapng"
    record = run_sfu_call(2.5, keylog_path=keylog, capture_path=capture, payload_transform=transform)
    bundle = {"warnings": [], "complete": True, "media_path": {"topology": "server"}}
    enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
    return record, bundle


def _sfu_check(record, bundle: dict, expected_inner: str) -> None:
    streams = {s["ssrc"]: s for s in bundle["e2ee"]["streams"]}
    alice = list(record.sent["alice"].values()) + list(record.forwarded["alice"].values())
    bob = list(record.sent["bob"].values()) + list(record.forwarded["bob"].values())
    for ssrc in alice:  # the auditor's own session: sent media and what the SFU forwarded to them
        s = streams[ssrc]
        assert s["decrypted"] > 0 and s["auth_failed"] == 0 and s["inner"] == expected_inner, s
        assert s["path"] == "server"
    for ssrc in bob:  # the other participant's session: no keys, so no verdict
        s = streams[ssrc]
        assert s["inner"] == "not_observable" and s["decrypted"] == 0 and s["auth_failed"] == 0, s
    keys = sorted(s["keys"] for s in bundle["e2ee"]["sessions"])
    assert keys == ["found", "missing"]
    assert record.forwarded_frames > 0 and record.keylog_lines == 1


@pytest.mark.slow
def test_lab_sfu_without_e2ee_media_readable_at_server(tmp_path: Path) -> None:
    record, bundle = _sfu(tmp_path, None)
    _sfu_check(record, bundle, "codec")
    assert bundle["e2ee"]["summary"]["conclusion"] == "media_readable_at_transport_end"
    assert bundle["e2ee"]["summary"]["paths"] == ["server"]


@pytest.mark.slow
def test_lab_sfu_with_e2ee_inner_layer_found(tmp_path: Path) -> None:
    from confaudit.lab.e2ee_transform import FrameEncryptor

    record, bundle = _sfu(tmp_path, FrameEncryptor())
    _sfu_check(record, bundle, "encrypted")
    assert bundle["e2ee"]["summary"]["conclusion"] == "inner_encryption_observed"
