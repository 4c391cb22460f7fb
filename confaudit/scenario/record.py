"""Record a scenario into a session: the lab room service (when asked for), the capture (proxy +
sniffer, as ``confaudit capture``), the participants' browsers, then the manifest's ``scenario`` field."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confaudit.session import directory as session
from confaudit.session.directory import SFU_KEYLOG
from confaudit.errors import ConfauditError, ScenarioFailed
from confaudit.redact import Redactor
from confaudit.scenario.model import Scenario
from confaudit.scenario.runner import RunOutcome, ScenarioRunner
from confaudit.scenario.sockets import SocketWatch

SCENARIO_COPY = "scenario.yaml"
LAB_HOSTS_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Recording:
    """The finished session and how the scenario went."""

    manifest: dict[str, Any]
    """Final manifest (with its ``scenario`` field)."""
    outcome: RunOutcome | None
    """What the run did (None when it failed)."""
    failure: ConfauditError | None
    """Why the run stopped early (a failed step names its line), or None."""


async def record_scenario(scenario: Scenario, out: Path, iface: str | None = None,
                          routes: dict[str, int] | None = None, *, redactor: Redactor) -> Recording:
    """Run ``scenario`` into the new session directory ``out``; never leaves a browser or the proxy running.

    ``redactor`` tokenises the secrets the proxy records and the room links' #fragments.

    ``routes`` sends made-up host names to loopback ports (the lab's, or a test's own server) through
    the proxy's LabResolver, which also answers every other host with a local 403.
    """
    async with contextlib.AsyncExitStack() as stack:
        all_routes = dict(routes or {})
        if scenario.lab is not None:
            from confaudit.lab.rooms import LabProfile, LabRoomService

            # In sfu rooms the lab SFU ends the browsers' DTLS: its key log (sealed with the session) opens their
            # SRTP, which Chromium's own SSLKEYLOGFILE cannot (Chromium logs no DTLS secrets).
            sfu_keylog = Path(out) / SFU_KEYLOG if scenario.lab.mode != "p2p" else None
            profile = LabProfile(mode=scenario.lab.mode, fail_to_refuse=scenario.lab.fail_to_refuse,
                                 send_while_muted=scenario.lab.send_while_muted)
            service = LabRoomService(profile, sfu_keylog=sfu_keylog)
            running = await stack.enter_async_context(service.running())
            all_routes.update(running.routes)
        return await _capture(scenario, Path(out), iface, all_routes, redactor)


async def _capture(scenario: Scenario, out: Path, iface: str | None, routes: dict[str, int],
                   redactor: Redactor) -> Recording:
    from confaudit.lab.loopback import LabResolver
    from confaudit.live.run import CaptureConfig, run_capture

    result: dict[str, Any] = {}
    tasks: list[asyncio.Task[Any]] = []

    async def drive(state: Any) -> None:
        try:
            (out / SCENARIO_COPY).write_bytes(scenario.source)
            (out / SCENARIO_COPY).chmod(0o600)
            runner = result["runner"] = ScenarioRunner(scenario, out, state.listen[0][1], _mitmproxy_ca(),
                                                        redactor)
            async with SocketWatch(out):  # which UDP sockets are this run's: other programs' calls are set aside
                result["outcome"] = await runner.run()
        except ConfauditError as exc:
            result["failure"] = exc
        except Exception as exc:  # a confaudit bug: the capture still finishes cleanly, then it is raised (exit 4)
            result["failure"] = ScenarioFailed(scenario.path, 1, f"scenario run stopped by an internal error: "
                                                                 f"{type(exc).__name__}: {str(exc)[:300]}")
            result["bug"] = exc
        finally:
            state.stop.set()

    def ready(state: Any) -> None:
        tasks.append(asyncio.get_running_loop().create_task(drive(state)))

    names = [p.name for p in scenario.participants]
    config = CaptureConfig(
        out=out, vendor=scenario.vendor, listen_port=0, iface=iface,
        scenario=scenario.description or f"scenario {scenario.path.name}", operator="confaudit run",
        ssl_insecure=bool(routes), simulated=scenario.lab is not None,
        extra_addons=(LabResolver(routes),) if routes else (),
        extra_options={"connection_strategy": "lazy"} if routes else {},
        known={"participants": names})
    try:
        manifest = await run_capture(config, redactor, on_ready=ready)
    finally:
        for task in tasks:  # the proxy stopped on its own: end the browsers before anything else
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # drive() keeps every other error
                await task
    failure = result.get("failure")
    if failure is None and "outcome" not in result:  # Ctrl-C, SIGTERM or the proxy stopped under the browsers
        step = getattr(result.get("runner"), "current", None)
        failure = ScenarioFailed(scenario.path, step.line if step else 1,
                                 (f"step '{step.label()}' " if step else "") + "interrupted: the capture stopped "
                                 "before the scenario finished (Ctrl-C, SIGTERM, or the proxy stopped)")
    fields: dict[str, Any] = {"file": scenario.path.name, "sha256": scenario.sha256,
                              "outcome": "failed" if failure else "completed"}
    if failure is not None:
        fields["error"] = str(failure)[:2000]
    manifest = dict(manifest, scenario_run=fields)
    session.write_manifest(out, manifest)
    if "bug" in result:
        raise result["bug"]
    return Recording(manifest, result.get("outcome"), failure)


def _mitmproxy_ca() -> bytes:
    """The capture's CA certificate (PEM), created by mitmproxy in its configuration directory at start."""
    from mitmproxy.options import CONF_BASENAME, CONF_DIR

    return (Path(CONF_DIR).expanduser() / f"{CONF_BASENAME}-ca-cert.pem").read_bytes()
