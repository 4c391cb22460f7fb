"""Load and validate a scenario file (YAML) into a Scenario; every problem is ``file:line:column: problem``.

Scenario files are YAML composed into nodes (never constructed objects), with the claims loader's limits:
no aliases or merge keys, no duplicate or unknown keys, brackets nested at most 64 deep, at most 1 MiB.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from confaudit.errors import ScenarioError
from confaudit.scenario.model import (ACTION_STEPS, BROWSERS, DEFAULT_OUTCOMES, DEFAULT_SELECTORS, LAB_MODES,
                                      STATE_PHASES, STEP_KINDS, LabSpec, Participant, Scenario, Step, Wait,
                                      is_lab_mode)
from confaudit.yaml_nodes import NodeReader, parse_yaml

MAX_SCENARIO_BYTES = 1024 * 1024
MAX_STEPS = 2000
MAX_PARTICIPANTS = 8
MAX_TIMEOUT_S = 600.0
TOP_KEYS = {"vendor", "start_url", "participants", "steps", "browser", "timeout", "media_seconds", "lab",
            "description", "selectors", "outcomes", "settle_seconds"}
MODIFIERS = {"participant", "timeout", "phase"}
WAIT_KEYS = {"selector", "text", "url", "request"}
DEFAULT_TIMEOUT_S = 10.0
BROWSER_STEP_TIMEOUT_S = 30.0
"""Least default timeout of the steps that open a page in another browser and join a call (try_join) and of each
browser's start: a loaded machine can take longer than DEFAULT_TIMEOUT_S for that."""


def load_scenario(path: str | Path) -> Scenario:
    """Parse and validate ``path``; ScenarioError(file, problem, line, column) on any problem."""
    p = Path(path)
    root, text = parse_yaml(p, ScenarioError, "scenario file", MAX_SCENARIO_BYTES)
    source = text.encode("utf-8")  # the bytes validated are the bytes hashed and copied into the session
    ld = NodeReader(str(path), error=ScenarioError)
    top = ld.mapping(root, "scenario", TOP_KEYS)
    for required in ("vendor", "start_url", "steps"):
        if required not in top:
            raise ld.fail(root, f"missing required key '{required}'")
    start_url = _url(ld, top["start_url"][1], "start_url")
    timeout = _seconds(ld, top["timeout"][1], "timeout", MAX_TIMEOUT_S) if "timeout" in top else DEFAULT_TIMEOUT_S
    browser = "chromium"
    if "browser" in top:
        browser = _browser(ld, top["browser"][1])
    participants = _participants(ld, top.get("participants"), browser)
    names = [p.name for p in participants]
    selectors = dict(DEFAULT_SELECTORS)
    if "selectors" in top:
        for key, (_, node) in ld.mapping(top["selectors"][1], "selectors", set(DEFAULT_SELECTORS)).items():
            selectors[key] = ld.string(node, f"selectors.{key}")
    outcomes = dict(DEFAULT_OUTCOMES)
    if "outcomes" in top:
        for key, (_, node) in ld.mapping(top["outcomes"][1], "outcomes", set(DEFAULT_OUTCOMES)).items():
            outcomes[key] = ld.string(node, f"outcomes.{key}")
    import yaml

    steps_node = top["steps"][1]
    if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
        raise ld.fail(steps_node, "steps must be a non-empty list")
    if len(steps_node.value) > MAX_STEPS:
        raise ld.fail(steps_node, f"more than {MAX_STEPS} steps")
    settle = _seconds(ld, top["settle_seconds"][1], "settle_seconds", 60.0) if "settle_seconds" in top else 2.0
    steps = tuple(_step(ld, node, names, timeout, selectors, settle) for node in steps_node.value)
    _check_links(ld, steps, steps_node)
    return Scenario(
        path=p, source=source, sha256=hashlib.sha256(source).hexdigest(),
        vendor=ld.string(top["vendor"][1], "vendor"), start_url=start_url, participants=participants, steps=steps,
        browser=browser,
        media_seconds=_seconds(ld, top["media_seconds"][1], "media_seconds", 120.0) if "media_seconds" in top else 10.0,
        lab=_lab(ld, top["lab"][1]) if "lab" in top else None,
        description=ld.string(top["description"][1], "description", allow_empty=True) if "description" in top else "",
        selectors=selectors, outcomes=outcomes,
        settle_seconds=settle,
    )


def _url(ld: NodeReader, node: Any, what: str) -> str:
    value = ld.string(node, what)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ld.fail(node, f"{what} must be an http(s) URL with a host, not '{value[:200]}'")
    return value


def _seconds(ld: NodeReader, node: Any, what: str, maximum: float) -> float:
    raw = ld.scalar(node, what)
    try:
        value = float(raw)
    except ValueError:
        raise ld.fail(node, f"{what} must be a number of seconds, not '{raw[:100]}'") from None
    if not math.isfinite(value) or value <= 0 or value > maximum:
        raise ld.fail(node, f"{what} must be more than 0 and at most {maximum:g} seconds")
    return value


def _browser(ld: NodeReader, node: Any) -> str:
    browser = ld.string(node, "browser")
    if browser not in BROWSERS:
        raise ld.fail(node, f"browser must be one of {', '.join(BROWSERS)}")
    return browser


def _participants(ld: NodeReader, entry: tuple[Any, Any] | None, browser: str) -> tuple[Participant, ...]:
    import yaml

    if entry is None:
        return (Participant("Auditor", 1, browser),)
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise ld.fail(node, "participants must be a non-empty list")
    if len(node.value) > MAX_PARTICIPANTS:
        raise ld.fail(node, f"more than {MAX_PARTICIPANTS} participants (one browser each)")
    out: list[Participant] = []
    for item in node.value:
        own = browser
        if isinstance(item, yaml.ScalarNode):
            name = ld.string(item, "participant")
        else:
            fields = ld.mapping(item, "participant", {"name", "browser"})
            if "name" not in fields:
                raise ld.fail(item, "participant: missing required key 'name'")
            name = ld.string(fields["name"][1], "participant name")
            if "browser" in fields:
                own = _browser(ld, fields["browser"][1])
        if len(name) > 100 or not name.isprintable():
            raise ld.fail(item, "participant name must be 1-100 printable characters")
        if any(p.name == name for p in out):
            raise ld.fail(item, f"duplicate participant '{name}'")
        out.append(Participant(name, item.start_mark.line + 1, own))
    return tuple(out)


def _lab(ld: NodeReader, node: Any) -> LabSpec:
    faults = ("fail_to_refuse", "send_while_muted")
    fields = ld.mapping(node, "lab", {"mode", *faults})
    mode = ld.string(fields["mode"][1], "lab.mode") if "mode" in fields else "p2p"
    if not is_lab_mode(mode):
        raise ld.fail(fields["mode"][1], f"lab.mode must be one of {', '.join(LAB_MODES)}")
    flags = {}
    for key in faults:
        if key in fields:
            raw = ld.scalar(fields[key][1], f"lab.{key}").lower()
            if raw not in ("true", "false"):
                raise ld.fail(fields[key][1], f"lab.{key} must be true or false")
            flags[key] = raw == "true"
    return LabSpec(mode, **flags)


def _step(ld: NodeReader, node: Any, names: list[str], default_timeout: float, selectors: dict[str, str],
          settle_seconds: float) -> Step:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ld.fail(node, "a step must be a mapping such as '- click: \"#join\"'")
    fields = ld.mapping(node, "step", set(STEP_KINDS) | MODIFIERS)
    kinds = [k for k in fields if k in STEP_KINDS]
    if len(kinds) == 2 and "phase" in kinds:  # `phase:` beside another step is that step's marker
        kinds.remove("phase")
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else "found none"
        raise ld.fail(node, f"a step needs exactly one of {', '.join(STEP_KINDS)} ({found})")
    kind = kinds[0]
    line = node.start_mark.line + 1
    participant = names[0]
    if "participant" in fields:
        participant = _participant_ref(ld, fields["participant"][1], names)
    timeout = _seconds(ld, fields["timeout"][1], "timeout", MAX_TIMEOUT_S) if "timeout" in fields else default_timeout
    phase = _phase(ld, fields["phase"][1]) if "phase" in fields and kinds[0] != "phase" else None
    base = {"kind": kind, "line": line, "participant": participant, "timeout": timeout, "phase": phase}
    body = fields[kind][1]
    if kind in ACTION_STEPS:
        selector = selectors[kind]
        if not _empty(body):
            selector = ld.string(body, f"{kind} selector")
        if phase is None and kind in STATE_PHASES:
            base["phase"] = STATE_PHASES[kind]
        return Step(**base, selector=selector)
    if kind == "goto":
        return Step(**base, value=_url(ld, body, "goto"))
    if kind == "click":
        return Step(**base, selector=ld.string(body, "click selector"))
    if kind == "fill":
        args = ld.mapping(body, "fill", {"selector", "value", "env"})
        _need(ld, body, args, "fill", ("selector",))
        if ("value" in args) == ("env" in args):
            raise ld.fail(body, "fill needs exactly one of value or env (the name of an environment variable)")
        selector = ld.string(args["selector"][1], "fill selector")
        if "env" in args:  # passwords and accounts stay out of the file; checked now, read when the step runs
            name = ld.string(args["env"][1], "fill env")
            if name not in os.environ:
                raise ld.fail(args["env"][1], f"environment variable {name} is not set")
            return Step(**base, selector=selector, value_env=name)
        return Step(**base, selector=selector, value=ld.string(args["value"][1], "fill value", allow_empty=True))
    if kind == "press":
        if isinstance(body, yaml.ScalarNode):
            return Step(**base, value=ld.string(body, "press key"))
        args = ld.mapping(body, "press", {"selector", "key"})
        _need(ld, body, args, "press", ("key",))
        sel = ld.string(args["selector"][1], "press selector") if "selector" in args else None
        return Step(**base, selector=sel, value=ld.string(args["key"][1], "press key"))
    if kind in ("wait_for", "expect"):
        return Step(**base, wait=_wait(ld, body, kind))
    if kind == "sleep":
        seconds = _seconds(ld, body, "sleep", MAX_TIMEOUT_S)
        return Step(**dict(base, timeout=max(timeout, seconds + 5)), seconds=seconds)
    if kind == "phase":
        return Step(**dict(base, phase=_phase(ld, body)), value=_phase(ld, body))
    if kind == "screenshot":
        name = ld.string(body, "screenshot name")
        if not all(ch.isalnum() or ch in "-_" for ch in name) or len(name) > 64:
            raise ld.fail(body, "screenshot name: letters, digits, - and _ only (at most 64)")
        return Step(**base, value=name)
    if kind == "new_room":
        return Step(**base, selector=selectors["new_room"] if _empty(body) else ld.string(body, "new_room selector"))
    # try_join: the participant who tries, optionally which recorded link. Its default timeout covers another
    # browser loading the room, joining the call and the settle wait; a step's own `timeout:` is taken as given.
    if "timeout" not in fields:
        base["timeout"] = max(default_timeout, BROWSER_STEP_TIMEOUT_S) + settle_seconds
    if isinstance(body, yaml.ScalarNode):
        return Step(**base, joiner=_participant_ref(ld, body, names))
    args = ld.mapping(body, "try_join", {"participant", "link"})
    _need(ld, body, args, "try_join", ("participant",))
    link = None
    if "link" in args:
        raw = ld.scalar(args["link"][1], "try_join link")
        if not raw.isdigit() or int(raw) < 1:
            raise ld.fail(args["link"][1], "try_join link must be the number of a new_room step's link (1, 2, ...)")
        link = int(raw)
    return Step(**base, joiner=_participant_ref(ld, args["participant"][1], names), link=link)


def _empty(node: Any) -> bool:
    import yaml

    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _need(ld: NodeReader, node: Any, args: dict[str, Any], what: str, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key not in args:
            raise ld.fail(node, f"{what}: missing required key '{key}'")


def _participant_ref(ld: NodeReader, node: Any, names: list[str]) -> str:
    name = ld.string(node, "participant")
    if name not in names:
        raise ld.fail(node, f"unknown participant '{name[:100]}' (participants: {', '.join(names)})")
    return name


def _phase(ld: NodeReader, node: Any) -> str:
    label = ld.string(node, "phase")
    if len(label) > 64 or not label.isprintable():
        raise ld.fail(node, "phase must be 1-64 printable characters")
    return label


def _wait(ld: NodeReader, node: Any, kind: str) -> Wait:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return Wait(selector=ld.string(node, f"{kind} selector"))
    args = ld.mapping(node, kind, WAIT_KEYS)
    given = {k: ld.string(v[1], f"{kind} {k}") for k, v in args.items()}
    alone = [k for k in ("url", "request") if k in given]
    if not given or (alone and len(given) > 1):
        raise ld.fail(node, f"{kind} needs one of selector (optionally with text), text, url or request")
    return Wait(**given)


def _check_links(ld: NodeReader, steps: tuple[Step, ...], node: Any) -> None:
    """A try_join needs a link recorded by an earlier new_room step (its own number, when given)."""
    recorded = 0
    for step, step_node in zip(steps, node.value):
        if step.kind == "new_room":
            recorded += 1
        elif step.kind == "try_join" and (recorded == 0 or (step.link or 0) > recorded):
            raise ld.fail(step_node, f"try_join needs a room link recorded by an earlier new_room step "
                                     f"({recorded} recorded before line {step.line})")
