"""Another program's call on the recording machine (another lab run on lo): the UDP socket owners a scenario run
recorded set its flows aside, and the mute check judges the run's own call only. Unowned ports fail closed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from confaudit.rules.checks.rooms import no_audio_while_muted
from confaudit.rules.engine import with_first_party
from confaudit.scenario.events import read_events
from confaudit.scenario.sockets import SocketWatch

from support.bundles import complete_bundle

RUN_SFU, RUN_BROWSER, OTHER_SFU, OTHER_BROWSER, NOBODY_A, NOBODY_B = 40001, 40002, 40003, 40004, 40005, 40006


def _socket(owner: str, port: int, address: str = "127.0.0.1", process: str = "chromium") -> dict:
    return {"ts": 1.0, "line": 0, "kind": "udp_socket", "step": "udp socket watch", "owner": owner,
            "address": address, "port": port, "process": process}


def _flow(fid: str, sport: int, dport: int) -> dict:
    return {"id": fid, "transport": "udp", "src": "127.0.0.1", "sport": sport, "dst": "127.0.0.1", "dport": dport}


def _audio(stream: str, fid: str, bytes_per_s: float) -> dict:
    return {"stream": stream, "flow": fid, "direction": "forward", "packets": 100.0, "bytes": bytes_per_s * 4,
            "packets_per_s": 25.0, "bytes_per_s": bytes_per_s, "estimated": False}


def _bundle(other_call_bytes_per_s: float, unowned_bytes_per_s: float = 0.0, wildcard: bool = False) -> dict:
    """The run's own call (its browser to its SFU) muted and silent; another call between other programs' sockets."""
    flows = [_flow("f1", RUN_BROWSER, RUN_SFU), _flow("f2", OTHER_BROWSER, OTHER_SFU), _flow("f3", NOBODY_A, NOBODY_B)]
    audio = [_audio("m1", "f1", 120.0), _audio("m2", "f2", other_call_bytes_per_s),
             _audio("m3", "f3", unowned_bytes_per_s)]
    other_address = "0.0.0.0" if wildcard else "127.0.0.1"
    return complete_bundle({
        "complete": True, "inputs": [], "flows": flows,
        "media_streams": [{"id": a["stream"], "flow": a["flow"], "kind": "audio", "ssrc": f"0x0000000{i}",
                           "encryption": "srtp"} for i, a in enumerate(audio, 1)],
        "phases": [{"ts": 10.0, "phase": "muted"}],
        "phase_summary": [{"phase": "muted", "muted": True, "audio_media": audio}],
        "scenario_events": [_socket("run", RUN_SFU, process="python"), _socket("run", RUN_BROWSER),
                            _socket("other", OTHER_SFU, other_address, "python"),
                            _socket("other", OTHER_BROWSER, other_address)],
    })


def _judge(bundle: dict):
    return no_audio_while_muted(with_first_party(bundle, ()), {"max_audio_bps": 12000})


@pytest.mark.parametrize("wildcard", [False, True])
def test_another_programs_call_on_lo_does_not_contradict_the_mute(wildcard: bool) -> None:
    outcome = _judge(_bundle(other_call_bytes_per_s=4000.0, wildcard=wildcard))
    assert outcome.verdict == "supported", outcome.explanation
    assert "another program's call" in outcome.explanation
    left_out = [r for r in outcome.evidence if r["kind"] == "flow"]
    assert [r["id"] for r in left_out] == ["f2"] and "socket of chromium" in left_out[0]["detail"], left_out
    roles = {f["id"]: f["attribution"] for f in with_first_party(_bundle(4000.0), ())["flows"]}
    assert roles["f1"]["role"] == "vendor" and roles["f3"]["role"] == "vendor", roles


def test_audio_on_ports_no_program_was_seen_owning_is_still_judged() -> None:
    """Fail closed: only a socket positively owned by another program sets a flow aside."""
    outcome = _judge(_bundle(other_call_bytes_per_s=0.0, unowned_bytes_per_s=4000.0))
    assert outcome.verdict == "contradicted", outcome.explanation


def test_a_flow_with_one_end_of_the_run_stays_the_runs_own() -> None:
    bundle = _bundle(other_call_bytes_per_s=0.0)
    bundle["flows"][0]["dport"] = OTHER_SFU  # the run's browser to a port another program once held
    bundle["phase_summary"][0]["audio_media"][0]["bytes_per_s"] = 4000.0
    assert _judge(bundle).verdict == "contradicted"


def test_without_socket_events_every_call_is_judged() -> None:
    bundle = _bundle(other_call_bytes_per_s=4000.0)
    bundle["scenario_events"] = []
    assert _judge(bundle).verdict == "contradicted"


def test_socket_watch_tells_the_runs_sockets_from_another_programs(tmp_path: Path) -> None:
    """Real processes: a child of this process (the run's) and a daemonised one (another program's), each with a
    UDP socket on loopback."""
    holder = ("import socket, sys, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              "s.bind(('127.0.0.1', 0)); print(s.getsockname()[1], flush=True); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    # setsid + the shell exits at once: the holder is re-parented away from this process tree
    other = subprocess.run(["sh", "-c", f'setsid {sys.executable} -c "{holder}" > {tmp_path}/port 2>/dev/null </dev/null & echo $!'],
                           capture_output=True, text=True, check=True)
    other_pid = int(other.stdout.strip())
    try:
        child_port = int(child.stdout.readline())
        deadline = time.monotonic() + 10
        while not (tmp_path / "port").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        other_port = int((tmp_path / "port").read_text())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as own:
            own.bind(("127.0.0.1", 0))
            own_port = own.getsockname()[1]
            watch = SocketWatch(tmp_path)
            watch.sample()
            watch.sample()  # a socket is recorded once
        events, problems = read_events(tmp_path / "scenario_events.jsonl")
        assert problems == []
        owners = {(e["owner"], e["port"]) for e in events if e["address"] == "127.0.0.1"}
        assert {("run", child_port), ("run", own_port), ("other", other_port)} <= owners, owners
        assert len(events) == len({(e["owner"], e["address"], e["port"]) for e in events})
        assert os.stat(tmp_path / "scenario_events.jsonl").st_mode & 0o077 == 0
    finally:
        child.kill()
        child.wait()
        os.kill(other_pid, 9)


def test_a_malformed_socket_event_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "scenario_events.jsonl"
    path.write_text('{"ts": 1, "line": 0, "kind": "udp_socket", "owner": "mine", "address": "127.0.0.1", "port": 1}\n'
                    '{"ts": 1, "line": 0, "kind": "udp_socket", "owner": "run", "address": "127.0.0.1", "port": 70000}\n'
                    '{"ts": 1, "line": 0, "kind": "udp_socket", "owner": "run", "address": "127.0.0.1", "port": 5}\n')
    events, problems = read_events(path)
    assert [e["port"] for e in events] == [5] and len(problems) == 2 and "udp_socket needs" in problems[0], problems


def test_the_reports_key_headline_counts_the_runs_handshakes_only() -> None:
    from confaudit.report.keys_text import keys_used

    bundle = dict(with_first_party(_bundle(other_call_bytes_per_s=4000.0), ()))
    bundle["e2ee"] = {"keylogs": [{"path": "session/sfu-keys.log", "lines": 4, "kinds": {"CLIENT_RANDOM": 4},
                                   "dtls_sessions_matched": 1}],
                      "sessions": [{"flow": "f1", "keys": "found"}, {"flow": "f2", "keys": "missing"}],
                      "streams": [{"flow": "f1", "decrypted": 10}, {"flow": "f2", "decrypted": 0}]}
    used = keys_used(complete_bundle(bundle))
    assert "opened 1 of 1 DTLS handshake:" in used.headline, used.headline
    assert "1 DTLS handshake of another call in the same capture" in used.media and "stayed closed" not in used.media
