"""What a scenario file says, once validated: frozen values the runner executes step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from confaudit.lab.rooms.state import Mode

STATE_PHASES = {"join": "joined", "mute": "muted", "unmute": "unmuted", "camera_off": "camera-off",
                "camera_on": "camera-on", "screen_share": "screen-share", "leave": "left"}
"""Steps that change the call's state, and the phase marker each writes once it succeeded."""

ACTION_STEPS = (*STATE_PHASES, "lock")
"""Steps that click the control named after them (``selectors``) and record what they did."""

STEP_KINDS = ("goto", "click", "fill", "press", "wait_for", "sleep", "phase", "screenshot", "expect",
              "new_room", "try_join", *ACTION_STEPS)
"""Every step a scenario may use (docs/scenarios.md describes each)."""

DEFAULT_SELECTORS = {
    "new_room": "#new-room", "name": "#name", "join": "#join", "mute": "#mic", "unmute": "#mic",
    "camera_off": "#camera", "camera_on": "#camera", "screen_share": "#screen", "leave": "#leave",
    "lock": "#lock", "status": "#status",
}
"""The controls the action steps click: the lab room service's DOM; a scenario for another service
overrides them in its ``selectors`` block."""

DEFAULT_OUTCOMES = {"admitted": "joined", "refused": "refused"}
"""Text of the ``status`` element that tells whether a ``try_join`` was admitted or refused."""

LAB_MODES: tuple[Mode, ...] = ("p2p", "sfu", "sfu-e2ee")
BROWSERS = ("chromium", "firefox")


def is_lab_mode(value: str) -> TypeGuard[Mode]:
    """``value`` is one of LAB_MODES (what the lab room service's LabProfile takes)."""
    return value in LAB_MODES


@dataclass(frozen=True)
class Participant:
    """One browser of the call: its own process, profile and canary media."""

    name: str
    """Display name (typed into the name field by ``join``/``try_join``; unique in the scenario)."""
    line: int
    """Line of its entry in the scenario file."""
    browser: str = "chromium"
    """Engine of its browser: chromium (Playwright; canary media) or firefox (WebDriver BiDi; Firefox's own fake devices)."""


@dataclass(frozen=True)
class Wait:
    """What ``wait_for``/``expect`` wait for: exactly one of selector (optionally with text), text, url, request."""

    selector: str | None = None
    """CSS/Playwright selector of an element that must be visible."""
    text: str | None = None
    """Text that must appear (inside ``selector`` when given, else anywhere on the page)."""
    url: str | None = None
    """Glob (``**/r/*``) or substring the page's URL must match."""
    request: str | None = None
    """Substring of the URL of a request the browser sent (``wait_for``: from this step on; ``expect``: at any time)."""

    def describe(self) -> str:
        if self.request is not None:
            return f"request {self.request}"
        if self.url is not None:
            return f"url {self.url}"
        if self.selector is not None:
            return self.selector + (f" with text {self.text!r}" if self.text is not None else "")
        return f"text {self.text!r}"


@dataclass(frozen=True)
class Step:
    """One step, where it is in the file, and how it is run."""

    kind: str
    """One of STEP_KINDS."""
    line: int
    """1-based line of the step in the scenario file (errors cite it)."""
    participant: str
    """Name of the participant whose browser runs the step (default: the first)."""
    timeout: float
    """Seconds the step may take before it fails."""
    selector: str | None = None
    """Element to act on (click, fill, press, the action steps, new_room)."""
    value: str | None = None
    """goto: URL; fill: text; press: key; phase: label; screenshot: name."""
    seconds: float | None = None
    """sleep: how long."""
    wait: Wait | None = None
    """wait_for/expect: the condition."""
    phase: str | None = None
    """Phase marker written once the step succeeded (the action steps' own, or a ``phase:`` modifier)."""
    joiner: str | None = None
    """try_join: the participant who tries to join."""
    link: int | None = None
    """try_join: which recorded room link (1-based, None: the latest)."""
    value_env: str | None = None
    """fill: environment variable holding the text (a password), read when the step runs, never recorded."""

    def label(self) -> str:
        """How errors name the step: ``click #join``, ``wait_for request /api/telemetry``."""
        if self.kind == "try_join":
            return f"try_join {self.joiner}"
        if self.wait is not None:
            return f"{self.kind} {self.wait.describe()}"
        detail = self.selector if self.kind in ("click", "fill", "new_room", *ACTION_STEPS) else self.value
        if self.kind == "press":
            detail = f"{self.value}" + (f" in {self.selector}" if self.selector else "")
        if self.kind == "sleep":
            detail = f"{self.seconds:g} s"
        return f"{self.kind} {detail}" if detail else self.kind


@dataclass(frozen=True)
class LabSpec:
    """The ``lab:`` block: start the loopback lab room service and route its hosts through the proxy."""

    mode: Mode
    """p2p | sfu | sfu-e2ee."""
    fail_to_refuse: bool = False
    """Make the lab admit a late joiner to a locked room (tests the contradicted path)."""
    send_while_muted: bool = False
    """Make the lab's pages keep sending audio (silence frames) while muted (tests the contradicted path)."""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    path: Path
    """The scenario file."""
    source: bytes
    """The text validated (UTF-8): copied into the session as scenario.yaml."""
    sha256: str
    """SHA-256 of ``source`` (recorded in the session manifest)."""
    vendor: str
    """Vendor audited (recorded in the session)."""
    start_url: str
    """First page every participant opens."""
    participants: tuple[Participant, ...]
    """Browsers of the call, the first being the auditor's own endpoint."""
    steps: tuple[Step, ...]
    """What to do, in order."""
    browser: str = "chromium"
    """Default engine of the participants' browsers."""
    media_seconds: float = 10.0
    """Length of the canary media loop each fake device plays."""
    lab: LabSpec | None = None
    """Lab room service to start, if any."""
    description: str = ""
    """Free text recorded in the manifest's ``scenario`` field."""
    selectors: dict[str, str] = field(default_factory=dict)
    """Controls of the action steps (DEFAULT_SELECTORS overridden by the file)."""
    outcomes: dict[str, str] = field(default_factory=dict)
    """Status texts of admitted/refused (DEFAULT_OUTCOMES overridden by the file)."""
    settle_seconds: float = 2.0
    """try_join: how long media may flow after the outcome before the joiner's media counters are read."""

    def participant(self, name: str) -> Participant:
        return next(p for p in self.participants if p.name == name)
