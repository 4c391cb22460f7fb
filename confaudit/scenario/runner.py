"""Execute a scenario's steps in its participants' browsers, each step under its own timeout.

A step that fails stops the run: a screenshot of that participant's page, a ``step_failed`` event, and
``ScenarioFailed`` naming the step and its line. The browsers are always closed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confaudit.session.directory import BROWSER_KEYLOG, append_phase
from confaudit.errors import ScenarioFailed, UsageError
from confaudit.redact import Redactor
from confaudit.scenario.browser import ParticipantBrowser, ca_spki_hash, launch_chromium
from confaudit.scenario.events import append_event
from confaudit.scenario.loader import BROWSER_STEP_TIMEOUT_S
from confaudit.scenario.model import Scenario, Step

CANARY = "canary.json"
POLL_S = 0.1


@dataclass(frozen=True)
class RunOutcome:
    """What the run did."""

    steps_done: int
    """Steps that completed."""
    links: tuple[str, ...]
    """Room links recorded by new_room steps, in order."""
    screenshots: tuple[str, ...]
    """Screenshot files written into the session."""


def canary_seed(scenario: Scenario, index: int) -> str:
    """Each participant's canary seed: new per run (so a replayed capture cannot pass), tied to its name."""
    import secrets

    return f"{scenario.sha256[:12]}-{index}-{secrets.token_hex(8)}"


class ScenarioRunner:
    """Runs one scenario into one session directory while the capture records."""

    def __init__(self, scenario: Scenario, session: Path, proxy_port: int, ca_pem: bytes, redactor: Redactor) -> None:
        self.scenario = scenario
        self.redactor = redactor
        self.session = Path(session)
        self.proxy_port = proxy_port
        self.ca_pem = ca_pem
        self.ca_spki = ca_spki_hash(ca_pem)
        self.browsers: dict[str, ParticipantBrowser] = {}
        self.current: Step | None = None
        self.links: list[str] = []
        self.screenshots: list[str] = []

    async def run(self) -> RunOutcome:
        from playwright.async_api import async_playwright

        work = tempfile.TemporaryDirectory(prefix="confaudit-run-")
        done = 0
        try:
            async with async_playwright() as playwright:
                try:
                    await self._launch_all(playwright, Path(work.name))
                    for step in self.scenario.steps:
                        await self._run_step(step)
                        done += 1
                finally:
                    await self._close_all()  # also when cancelled: the cancellation was delivered already
        finally:
            work.cleanup()
        return RunOutcome(done, tuple(self.links), tuple(self.screenshots))

    async def _launch_all(self, playwright: Any, work: Path) -> None:
        keylog = self.session / BROWSER_KEYLOG
        keylog.touch(mode=0o600)
        for index, participant in enumerate(self.scenario.participants):
            step = Step("open", participant.line, participant.name, BROWSER_STEP_TIMEOUT_S, value=self.scenario.start_url)
            self.current = step
            try:
                browser = await asyncio.wait_for(self._launch(playwright, work, index, keylog, step.timeout), step.timeout)
            except _launch_errors() as exc:
                error = f"participant '{participant.name}': {participant.browser} did not start: {_why(exc, step.timeout)}"
                append_event(self.session, "step_failed", step.label(), step.line, participant=participant.name,
                             error=error, screenshot=None)
                raise ScenarioFailed(self.scenario.path, participant.line, error) from None
            self.browsers[participant.name] = browser
            await self._guarded(step, browser.goto(self.scenario.start_url, step.timeout * 1000))

    async def _launch(self, playwright: Any, work: Path, index: int, keylog: Path, timeout: float) -> ParticipantBrowser:
        participant = self.scenario.participants[index]
        profile = work / f"profile-{index}"
        if participant.browser == "firefox":  # Firefox's fake devices take no file: no canary for it
            from confaudit.scenario.firefox import launch_firefox

            return await launch_firefox(participant.name, profile, self.proxy_port, self.ca_pem, keylog, timeout)
        from confaudit.canary import write_canary_media

        media = write_canary_media(work / f"media-{index}", canary_seed(self.scenario, index), self.scenario.media_seconds)
        target = self.session / (CANARY if index == 0 else f"canary-{index + 1}.json")
        shutil.copyfile(media.spec_json, target)
        target.chmod(0o600)
        return await launch_chromium(playwright, participant.name, profile, self.proxy_port, self.ca_spki,
                                     media.audio_wav, media.video_y4m, keylog, timeout)

    async def _close_all(self) -> None:
        for browser in self.browsers.values():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(browser.close(), 15)

    async def _guarded(self, step: Step, action: Any) -> Any:
        try:
            return await asyncio.wait_for(action, step.timeout)
        except step_errors() as exc:
            await self._fail(step, _why(exc, step.timeout))

    async def _run_step(self, step: Step) -> None:
        self.current = step
        await self._guarded(step, self._execute(step))
        if step.phase is not None and self._writes_phase(step):  # (_writes_phase is False without a phase)
            append_phase(self.session, step.phase)

    def _writes_phase(self, step: Step) -> bool:
        """Explicit phases always; an action step's own phase only for the first participant (the auditor's
        endpoint, whose traffic the phases describe): Bob muting does not make the auditor muted."""
        if step.phase is None:
            return False
        explicit = step.kind == "phase" or step.phase != _auto_phase(step)
        return explicit or step.participant == self.scenario.participants[0].name

    async def _fail(self, step: Step, why: str) -> None:
        error = f"step '{step.label()}' {why}"
        shot = None
        browser = self.browsers.get(step.participant)
        if browser is not None:
            name = f"screenshot-failed-line{step.line}.png"
            with contextlib.suppress(*step_errors()):  # the page may be the thing that broke
                await asyncio.wait_for(browser.screenshot(self.session / name, 5000), 8)
                (self.session / name).chmod(0o600)
                shot = name
                self.screenshots.append(name)
        append_event(self.session, "step_failed", step.label(), step.line, participant=step.participant,
                     error=error, screenshot=shot)
        raise ScenarioFailed(self.scenario.path, step.line, error)

    async def _execute(self, step: Step) -> None:
        # load_scenario gives every step the fields its kind needs (Step's docstrings say which): the asserts
        # state that to mypy. A step without them would be a confaudit bug (exit 4), not a scenario file's fault.
        browser = self.browsers[step.participant]
        ms = step.timeout * 1000
        kind = step.kind
        if kind == "goto":
            assert step.value is not None
            await browser.goto(step.value, ms)
        elif kind in ("click", "mute", "unmute", "camera_off", "camera_on", "screen_share", "leave"):
            assert step.selector is not None
            await browser.click(step.selector, ms)
        elif kind == "lock":
            assert step.selector is not None
            await browser.click(step.selector, ms)
            append_event(self.session, "lock", step.label(), step.line, participant=step.participant)
        elif kind == "join":
            assert step.selector is not None
            await self._join(browser, step.selector, ms)
        elif kind == "fill":
            text = os.environ.get(step.value_env, "") if step.value_env else step.value
            assert step.selector is not None and text is not None
            await browser.fill(step.selector, text, ms)
        elif kind == "press":
            assert step.value is not None
            await browser.press(step.selector, step.value, ms)
        elif kind == "sleep":
            assert step.seconds is not None
            await asyncio.sleep(step.seconds)
        elif kind == "screenshot":
            name = f"screenshot-{len(self.screenshots) + 1:02d}-{step.value}.png"
            await browser.screenshot(self.session / name, ms)
            (self.session / name).chmod(0o600)  # like every session file: screenshots show the call
            self.screenshots.append(name)
        elif kind in ("wait_for", "expect"):
            await self._wait(browser, step, ms)
        elif kind == "new_room":
            await self._new_room(browser, step, ms)
        elif kind == "try_join":
            await self._try_join(step, ms)

    async def _join(self, browser: ParticipantBrowser, join_selector: str, ms: float) -> None:
        await browser.wait_visible(join_selector, None, ms)
        if await browser.count(self.scenario.selectors["name"]):
            await browser.fill(self.scenario.selectors["name"], browser.name, ms)
        await browser.click(join_selector, ms)

    async def _wait(self, browser: ParticipantBrowser, step: Step, ms: float) -> None:
        wait = step.wait
        assert wait is not None  # load_scenario gives every wait_for/expect step its condition
        if wait.request is not None:
            since = 0 if step.kind == "expect" else len(browser.requests.entries)
            while browser.requests.find(wait.request, since) is None:
                await asyncio.sleep(POLL_S)
        elif wait.url is not None:
            pattern = wait.url
            if step.kind == "expect" and _url_matches(await browser.current_url(), pattern):
                return
            await browser.wait_url(lambda url: _url_matches(url, pattern), ms)
        elif wait.selector is not None:
            await browser.wait_visible(wait.selector, wait.text, ms)
        else:
            assert wait.text is not None  # a condition has one of selector, text, url, request (load_scenario)
            await browser.wait_text(wait.text, ms)

    async def _new_room(self, browser: ParticipantBrowser, step: Step, ms: float) -> None:
        before = await browser.current_url()
        assert step.selector is not None  # new_room's default control or the file's (load_scenario)
        await browser.click(step.selector, ms)
        # A navigating Firefox reports its interim about:blank document first: a room link is an http(s) URL.
        await browser.wait_url(lambda url: url != before and url.startswith(("https://", "http://")), ms)
        link = await browser.current_url()
        self.links.append(link)  # used whole by try_join; recorded without its fragment (below)
        append_event(self.session, "new_room", step.label(), step.line, participant=step.participant,
                     link=recorded_link(link, self.redactor), link_index=len(self.links))
        if step.participant == self.scenario.participants[0].name and step.phase is None:
            append_phase(self.session, "lobby")

    async def _try_join(self, step: Step, ms: float) -> None:
        assert step.joiner is not None  # load_scenario: a try_join names a known participant
        joiner = self.browsers[step.joiner]
        link = self.links[(step.link or len(self.links)) - 1]
        await joiner.goto(link, ms)
        await self._join(joiner, self.scenario.selectors["join"], ms)
        status = self.scenario.selectors["status"]
        admitted, refused = self.scenario.outcomes["admitted"], self.scenario.outcomes["refused"]
        outcome = None
        while outcome is None:
            text = (await joiner.inner_text(status, ms)).strip() if await joiner.count(status) else ""
            outcome = "admitted" if text == admitted else "refused" if text == refused else None
            if outcome is None:
                await asyncio.sleep(POLL_S)
        await asyncio.sleep(self.scenario.settle_seconds)  # media would flow now if the room let it in
        counters = await joiner.media_counters()
        append_event(self.session, "try_join", step.label(), step.line, participant=step.joiner, outcome=outcome,
                     link_index=self.links.index(link) + 1, media_bytes_sent=int(counters.get("sent", 0)),
                     media_bytes_received=int(counters.get("received", 0)),
                     peer_connections=int(counters.get("connections", 0)))


def recorded_link(link: str, redactor: Redactor) -> str:
    """The link as the session records it: a #fragment never reaches a server and often carries the room's
    end-to-end key, so it is replaced by a keyed token (the room id stays: the room_links check measures it)."""
    head, sep, fragment = link.partition("#")
    return head + ("#" + redactor.token("room-link-fragment", fragment) if sep and fragment else "")


def step_errors() -> tuple[type[BaseException], ...]:
    """What a browser action raises when the page or the browser does not do what the step asks: a timeout,
    Playwright's error, a BiDi error or a closed connection. Anything else is a confaudit bug (exit 4)."""
    from playwright.async_api import Error as PlaywrightError
    from websockets.exceptions import WebSocketException

    return (TimeoutError, PlaywrightError, WebSocketException, RuntimeError, ConnectionError, OSError)


def _launch_errors() -> tuple[type[BaseException], ...]:
    """What a browser's start raises when it does not start: a step error, or UsageError (not installed)."""
    return (*step_errors(), UsageError)


def _auto_phase(step: Step) -> str | None:
    from confaudit.scenario.model import STATE_PHASES

    return STATE_PHASES.get(step.kind)


def _url_matches(url: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(url, pattern) if any(ch in pattern for ch in "*?[") else pattern in url


def _why(exc: BaseException, timeout: float) -> str:
    """A step's failure in words, one line, without Playwright's multi-line call log."""
    name = type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError) or name == "TimeoutError":
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ScenarioFailed):
        return exc.problem
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    return f"failed: {message[:300]}"
