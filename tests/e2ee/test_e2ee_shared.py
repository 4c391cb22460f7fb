"""The E2EE stage on real public captures (no key logs exist for them): sessions found, nothing guessed."""

from __future__ import annotations

from pathlib import Path

from confaudit.e2ee import enrich


def _e2ee(path: Path) -> dict:
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[path], keylogs=[], explicit_keylog=None)
    assert bundle["complete"] is True
    return bundle["e2ee"]


def test_google_meet_sessions_without_keys(shared_captures: Path) -> None:
    e2ee = _e2ee(shared_captures / "stun_google_meet.pcapng")
    assert len(e2ee["sessions"]) == 2  # IPv4 and IPv6 legs to 19305
    for session in e2ee["sessions"]:
        assert session["version"] == "DTLS 1.2" and session["keys"] == "missing"
        assert session["profiles_offered"] == ["0x0001", "0x0008", "0x0007"]
        assert session["profile"] == "SRTP_AEAD_AES_256_GCM" and session["profile_source"] == "server_hello"
    assert e2ee["streams"] and {s["inner"] for s in e2ee["streams"]} == {"not_observable"}
    assert all(s["auth_failed"] == 0 and s["decrypted"] == 0 for s in e2ee["streams"])
    assert sum(s["packets"] for s in e2ee["streams"]) >= 150  # SOURCES.md: 191 SRTP packets
    assert e2ee["summary"]["conclusion"] == "not_observable"


def test_zoom_webrtc_hellos_without_server_hello(shared_captures: Path) -> None:
    e2ee = _e2ee(shared_captures / "stun_zoom.pcapng")
    assert e2ee["sessions"]
    for session in e2ee["sessions"]:
        assert session["profiles_offered"] == ["0x0007", "0x0008", "0x0001", "0x0002"]
        assert session["keys"] == "missing" and session["note"]


def test_a_session_without_server_hello_has_no_version(shared_captures: Path) -> None:
    """The version is read off the ServerHello; with none captured it is not guessed (it read "DTLS 1.2" before)."""
    sessions = _e2ee(shared_captures / "stun.pcap")["sessions"]
    unseen = [s for s in sessions if s["note"] == "ServerHello not in the capture: keys cannot be derived"]
    assert unseen and all(s["version"] is None for s in unseen)
    assert all(s["version"] == "DTLS 1.2" for s in sessions if s not in unseen)


def test_dsb_key_log_of_a_quic_capture_is_read_but_matches_no_dtls(shared_captures: Path) -> None:
    e2ee = _e2ee(shared_captures / "quic-v2.pcapng")
    [log] = e2ee["keylogs"]
    assert log["path"].endswith("quic-v2.pcapng#dsb0") and log["lines"] > 0
    assert log["kinds"].get("CLIENT_TRAFFIC_SECRET_0", 0) > 0 and log["dtls_sessions_matched"] == 0
    assert e2ee["sessions"] == [] and e2ee["streams"] == []


def test_every_shared_capture_is_survived(shared_captures: Path) -> None:
    for path in sorted(shared_captures.glob("*.pcap*")):
        e2ee = _e2ee(path)
        assert all(s["inner"] == "not_observable" for s in e2ee["streams"]), path
