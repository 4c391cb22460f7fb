"""Every output stays byte-identical: bundle JSON, findings JSON, SARIF, JUnit, Markdown and the HTML report of
every shared capture and of the sample session, checked against the hashes in ``snapshots/outputs.json``.

A refactor (issue 15: the typed evidence model) or a library swap must not change what a reader sees. A change
that is meant must say so: regenerate the hashes and name the reason in the commit.

    CONFAUDIT_SNAPSHOT_UPDATE=1 pytest tests/commands/test_output_snapshots.py   # rewrite the hashes after a deliberate change
    CONFAUDIT_SNAPSHOT_DIR=/tmp/before pytest tests/commands/test_output_snapshots.py  # also keep every output, to diff -r

On a mismatch the outputs of the failing case are kept under ``tests/artifacts/snapshots/<case>/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from confaudit.cli import app

from support.environment import REPO, TESTS

HASHES = TESTS / "snapshots" / "outputs.json"
ARTIFACTS = TESTS / "artifacts" / "snapshots"
CLAIMS = REPO / "samples" / "claims"
OUTPUTS = ("bundle.json", "findings.json", "findings.sarif", "findings.junit.xml", "findings.md", "report.html")

VENDOR_CLAIMS = {
    "google_meet.pcapng": "google-meet.yaml", "stun_google_meet.pcapng": "google-meet.yaml",
    "teams.pcap": "microsoft-teams.yaml", "skype-conference-call.pcap": "skype.yaml",
    "whatsapp_login_call.pcap": "whatsapp.yaml", "zoom2.pcap": "zoom.yaml", "zoom_p2p.pcapng": "zoom.yaml",
    "stun_zoom.pcapng": "zoom.yaml", "stun.pcap": "messenger-rooms.yaml",
}
"""The vendor claims file each shared capture is judged against; every other capture gets example-rooms.yaml."""

SHARED_TOP = ("google_meet.pcapng", "quic-v2.pcapng", "sip.pcap", "skype-conference-call.pcap", "stun.pcap",
              "stun_google_meet.pcapng", "stun_zoom.pcapng", "teams.pcap", "webex.pcap", "whatsapp_login_call.pcap",
              "zoom2.pcap", "zoom_p2p.pcapng")
NDPI_DEVSET = ("KakaoTalk_chat.pcap", "dtls_session_id_and_coockie_both.pcap", "facebook.pcap",
               "gquic_only_from_server.pcap", "h323.pcap", "http-lines-split.pcap", "iax.pcap", "imo.pcap",
               "linecall_falsepositve.pcap", "mgcp.pcap", "mumble.pcapng", "quic-28.pcap", "quic-mvfst-22.pcap",
               "quic046.pcap", "quic_frags_ch_in_multiple_packets.pcapng", "quic_q50.pcap", "snapchat.pcap",
               "snapchat_call_v1.pcapng", "teamspeak3.pcap", "telegram.pcap", "threema.pcap", "tls_2_reasms_b.pcapng",
               "wechat.pcap", "whatsapp.pcap", "whatsapp_login_chat.pcap", "youtube_quic.pcap")
CASES = ([f"shared/{n}" for n in SHARED_TOP] + [f"ndpi-devset/{n}" for n in NDPI_DEVSET]
         + ["sample-session/example-rooms", "synthetic-har/example-rooms-2000.har"])

runner = CliRunner()


def _invoke(*args: object) -> None:
    result = runner.invoke(app, ["-q", *(str(a) for a in args)], catch_exceptions=False)
    assert result.exit_code in (0, 1), f"confaudit {' '.join(map(str, args))}: exit {result.exit_code}\n{result.output}"


def render_case(case: str, shared: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Run analyze, check and report on one case; inputs are named relative to their directory, so the
    outputs do not depend on where the repository or ../shared sit."""
    group, name = case.split("/", 1)
    if group == "sample-session":
        where, claims = REPO / "samples" / "sessions", CLAIMS / "example-rooms.yaml"
    elif group == "synthetic-har":  # the HTTP side at some size: the benchmark's deterministic HAR
        from benchmarks.synth_har import write_har

        where, claims = out.parent, CLAIMS / "example-rooms.yaml"
        write_har(where / name, 2000)
    else:
        where = shared if group == "shared" else shared / "ndpi-devset"
        claims = CLAIMS / VENDOR_CLAIMS.get(name, "example-rooms.yaml")
    monkeypatch.chdir(where)
    bundle = out / "bundle.json"
    _invoke("analyze", name, "--json", bundle)
    _invoke("check", bundle, "--claims", claims, "--fail-on", "critical", "--json", out / "findings.json",
            "--sarif", out / "findings.sarif", "--junit", out / "findings.junit.xml", "--markdown", out / "findings.md")
    _invoke("report", bundle, "--claims", claims, "--out", out / "report.html")
    return {o: (out / o).read_bytes() for o in OUTPUTS}


def _normalise(data: bytes, out: Path) -> bytes:
    # Outputs name the evidence JSON and the claims file by absolute path; the snapshot must not depend on it.
    return data.replace(str(out).encode("utf-8"), b"<out>").replace(str(REPO).encode("utf-8"), b"<repo>")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", CASES)
def test_outputs_match_snapshot(case: str, shared_captures: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    rendered = {n: _normalise(d, out) for n, d in render_case(case, shared_captures, out, monkeypatch).items()}
    actual = {n: _digest(d) for n, d in rendered.items()}
    keep = os.environ.get("CONFAUDIT_SNAPSHOT_DIR")
    if keep:
        _write_all(Path(keep) / case.replace("/", "__"), rendered)
    if os.environ.get("CONFAUDIT_SNAPSHOT_UPDATE") == "1":
        _update_hashes(case, actual)
        return
    expected = json.loads(HASHES.read_text(encoding="utf-8")).get(case)
    assert expected is not None, f"no snapshot for {case}: run with CONFAUDIT_SNAPSHOT_UPDATE=1"
    changed = sorted(n for n in OUTPUTS if expected.get(n) != actual[n])
    if changed:
        _write_all(ARTIFACTS / case.replace("/", "__"), rendered)
    assert not changed, (f"{case}: {', '.join(changed)} changed (outputs kept in {ARTIFACTS}); "
                         "if the change is deliberate, rerun with CONFAUDIT_SNAPSHOT_UPDATE=1 and say why in the commit")


def test_every_case_has_a_snapshot_and_nothing_else() -> None:
    recorded = json.loads(HASHES.read_text(encoding="utf-8"))
    assert sorted(recorded) == sorted(CASES)
    assert all(sorted(v) == sorted(OUTPUTS) for v in recorded.values())


def _write_all(directory: Path, rendered: dict[str, bytes]) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, data in rendered.items():
        (directory / name).write_bytes(data)


def _update_hashes(case: str, actual: dict[str, str]) -> None:
    recorded = json.loads(HASHES.read_text(encoding="utf-8")) if HASHES.is_file() else {}
    recorded[case] = actual
    HASHES.parent.mkdir(exist_ok=True)
    HASHES.write_text(json.dumps(dict(sorted(recorded.items())), indent=1, sort_keys=True) + "\n", encoding="utf-8")
