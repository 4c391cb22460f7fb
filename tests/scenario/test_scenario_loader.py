"""Scenario files: what validates, and every mistake named with its file:line."""

from __future__ import annotations

from confaudit.redact import Redactor
import subprocess
import sys
from pathlib import Path

import pytest

from confaudit.errors import ScenarioError
from confaudit.scenario.loader import load_scenario

GOOD = """vendor: Example Rooms
start_url: https://rooms.example-rooms.test/
lab: {mode: p2p, fail_to_refuse: true}
timeout: 8
participants:
  - name: Alice
  - Bob
steps:
  - new_room:
  - join:
  - wait_for: {selector: "#status", text: joined}
  - mute:
  - phase: whispering
  - fill: {selector: "#chat", value: hello}
  - press: {selector: "#chat", key: Enter}
  - lock: "#lock-button"
  - try_join: {participant: Bob, link: 1}
  - expect: {request: /api/telemetry}
  - click: "#leave"
    participant: Bob
    timeout: 3
    phase: bob-left
  - sleep: 0.5
  - screenshot: end
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_scenario_becomes_steps_with_lines_phases_and_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    assert scenario.lab is not None and scenario.lab.mode == "p2p" and scenario.lab.fail_to_refuse
    assert [p.name for p in scenario.participants] == ["Alice", "Bob"]
    steps = {s.line: s for s in scenario.steps}
    assert steps[9].kind == "new_room" and steps[9].selector == "#new-room" and steps[9].timeout == 8
    assert steps[10].phase == "joined" and steps[12].phase == "muted" and steps[13].phase == "whispering"
    assert steps[16].selector == "#lock-button" and steps[16].phase is None
    assert steps[17].joiner == "Bob" and steps[17].link == 1 and steps[17].label() == "try_join Bob"
    assert steps[18].wait.request == "/api/telemetry"
    leave = steps[19]
    assert (leave.participant, leave.timeout, leave.phase, leave.label()) == ("Bob", 3, "bob-left", "click #leave")
    assert steps[17].timeout == 30 + 2  # try_join: another browser loads the room and joins, then settles 2 s
    assert not scenario.lab.send_while_muted
    assert steps[23].label() == "sleep 0.5 s" and steps[24].value == "end"
    import hashlib

    assert scenario.sha256 == hashlib.sha256(GOOD.encode()).hexdigest()


@pytest.mark.parametrize(("mistake", "line", "words"), [
    ("  - clik: '#join'\n", 25, "unknown key 'clik'"),
    ("  - click: '#a'\n    fill: {selector: x, value: y}\n", 25, "exactly one of"),
    ("  - click: '#a'\n    participant: Carol\n", 26, "unknown participant 'Carol'"),
    ("  - sleep: soon\n", 25, "sleep must be a number of seconds"),
    ("  - click: '#a'\n    timeout: -1\n", 26, "timeout must be more than 0"),
    ("  - wait_for: {url: '**/r/*', request: /x}\n", 25, "needs one of selector"),
    ("  - fill: {selector: '#name'}\n", 25, "exactly one of value or env"),
    ("  - fill: {value: x}\n", 25, "missing required key 'selector'"),
    ("  - try_join: {participant: Bob, link: 3}\n", 25, "try_join needs a room link recorded"),
    ("  - screenshot: ../../etc/x\n", 25, "screenshot name"),
    ("  - goto: file:///etc/passwd\n", 25, "goto must be an http(s) URL"),
    ("  - click: [unclosed\n", 26, "invalid YAML"),
    ("  - fill: {selector: '#pw', value: x, env: PW}\n", 25, "exactly one of value or env"),
    ("  - fill: {selector: '#pw', env: CONFAUDIT_TEST_UNSET_VARIABLE}\n", 25, "CONFAUDIT_TEST_UNSET_VARIABLE is not set"),
])
def test_a_mistake_is_named_with_its_line(tmp_path: Path, mistake: str, line: int, words: str) -> None:
    path = _write(tmp_path, GOOD + mistake)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value) and str(caught.value).startswith(f"{path}:{line}:")


@pytest.mark.parametrize(("text", "line", "words"), [
    (GOOD.replace("start_url: https://rooms.example-rooms.test/\n", ""), 1, "missing required key 'start_url'"),
    (GOOD.replace("  - Bob\n", "  - Alice\n"), 7, "duplicate participant 'Alice'"),
    (GOOD.replace("mode: p2p", "mode: mesh"), 3, "lab.mode must be one of"),
    (GOOD.replace("timeout: 8", "timeout: 8\nbrowser: safari"), 5, "browser must be one of chromium, firefox"),
    (GOOD.replace("vendor: Example Rooms", "vendor: &v Example Rooms\ndescription: *v"), 2, "aliases"),
    (GOOD.replace("steps:\n", "steps: []\nx:\n"), 9, "unknown key 'x'"),
    (GOOD.replace("  - new_room:\n", "  - try_join: Bob\n  - new_room:\n"), 9, "try_join needs a room link"),
])
def test_top_level_mistakes_are_named_with_their_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, text))
    assert caught.value.line == line and words in str(caught.value), str(caught.value)


def test_cli_refuses_a_broken_scenario_before_starting_anything(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "  - click: '#a'\n    participant: Carol\n")
    out = tmp_path / "session"
    done = subprocess.run([sys.executable, "-m", "confaudit", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == (f"confaudit: error: {path}:26:18: unknown participant 'Carol' (participants: "
                                   "Alice, Bob)")
    assert not out.exists() and "Traceback" not in done.stderr


def test_cli_run_options_that_need_claims_are_usage_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    done = subprocess.run([sys.executable, "-m", "confaudit", "run", str(path), "--out", str(tmp_path / "s"),
                           "--report", str(tmp_path / "a.html")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "need --claims" in done.stderr
    done = subprocess.run([sys.executable, "-m", "confaudit", "run", str(path), "--out", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr


def test_a_recorded_room_link_keeps_its_id_but_not_its_fragment() -> None:
    """The #fragment (an E2EE room's key in the lab) never reaches the session; the id still gets judged."""
    from confaudit.rules.checks.rooms import scenario_link_summary
    from confaudit.scenario.runner import recorded_link

    link = recorded_link("https://rooms.example-rooms.test/r/Xk3vQ9mZpL2aTr7w#key=c2VjcmV0LWtleQ", redactor=Redactor.default())
    assert link.startswith("https://rooms.example-rooms.test/r/Xk3vQ9mZpL2aTr7w#[REDACTED room-link-fragment #")
    assert "c2VjcmV0" not in link and recorded_link("https://a.test/r/x", redactor=Redactor.default()) == "https://a.test/r/x"
    events = [{"kind": "new_room", "link": link, "line": 5, "ts": 1.0, "session": "s"},
              {"kind": "new_room", "link": recorded_link("https://rooms.example-rooms.test/r/b7YtRw2QzMn4Kp8s#k=other", redactor=Redactor.default()),
               "line": 8, "ts": 2.0, "session": "s"}]
    summary = scenario_link_summary({"scenario_events": events}, None)
    assert summary["distinct_ids"] == 2 and summary["length"] == {"min": 16, "max": 16} and not summary["reused_ids"]


def test_try_join_default_timeout_covers_a_loaded_machine_and_a_step_timeout_overrides_it(tmp_path: Path) -> None:
    text = GOOD.replace("timeout: 8\n", "timeout: 45\nsettle_seconds: 4\n").replace(
        "lab: {mode: p2p, fail_to_refuse: true}", "lab: {mode: sfu, send_while_muted: true}")
    scenario = load_scenario(_write(tmp_path, text))
    assert scenario.lab is not None and scenario.lab.send_while_muted and not scenario.lab.fail_to_refuse
    try_join = next(s for s in scenario.steps if s.kind == "try_join")
    assert try_join.timeout == 45 + 4  # the file's own larger timeout, plus the settle wait
    text = text.replace("  - try_join: {participant: Bob, link: 1}\n", "  - try_join: {participant: Bob, link: 1}\n    timeout: 12\n")
    assert next(s for s in load_scenario(_write(tmp_path, text)).steps if s.kind == "try_join").timeout == 12
    with pytest.raises(ScenarioError, match="lab.send_while_muted must be true or false"):
        load_scenario(_write(tmp_path, GOOD.replace("fail_to_refuse: true", "send_while_muted: maybe")))
