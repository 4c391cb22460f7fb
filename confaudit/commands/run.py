"""``confaudit run``: record a scenario (browsers driven through the capture), then, with ``--claims``,
analyze, check and report it like ``check`` and ``report`` would."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from confaudit import terminal
from confaudit.redact import Redactor


def run(scenario: Path, out: Path, claims: Path | None = None, report: Path | None = None, fail_on: str = "high",
        json_out: Path | None = None, sarif: Path | None = None, junit: Path | None = None,
        markdown: Path | None = None, iface: str | None = None) -> int:
    from confaudit.errors import UsageError
    from confaudit.output_paths import refuse_bad_outputs
    from confaudit.scenario.loader import load_scenario

    outputs = {"--report": report, "--json": json_out, "--sarif": sarif, "--junit": junit, "--markdown": markdown}
    if claims is None and any(v is not None for v in outputs.values()):
        raise UsageError("--report, --json, --sarif, --junit and --markdown need --claims")
    refuse_bad_outputs(dict(outputs, **{"--out": out}), {"input": [scenario], "--claims": [claims]})
    loaded = load_scenario(scenario)  # exit 3 with file:line:column before anything starts
    if claims is not None:
        from confaudit.rules.claims import load_claims

        load_claims(claims)  # a broken claims file fails before minutes of recording
    from confaudit.scenario.record import record_scenario

    if Path(out).exists() and (not Path(out).is_dir() or any(Path(out).iterdir())):
        raise UsageError(f"{out}: session directory exists and is not empty; choose a new --out")
    if iface is None and loaded.lab is not None:
        iface = "lo"  # the lab's media never leaves loopback
    redactor = Redactor.default()  # one key for the recording and the reports
    recording = asyncio.run(record_scenario(loaded, Path(out), iface=iface, redactor=redactor))
    outcome = recording.outcome
    if recording.failure is not None or outcome is None:  # no outcome comes only with a failure
        sys.stderr.write(f"confaudit: session {out} is marked incomplete (manifest scenario_run)\n")
        raise recording.failure or RuntimeError("the scenario run gave no outcome")
    terminal.say(f"scenario {loaded.path.name}: {outcome.steps_done} steps done, {len(outcome.links)} room links, "
                 f"{len(outcome.screenshots)} screenshots; session written to {out}")
    if claims is None:
        return 0
    return _judge(Path(out), claims, fail_on, report, json_out, sarif, junit, markdown, redactor)


def _judge(session: Path, claims: Path, fail_on: str, report: Path | None, json_out: Path | None,
           sarif: Path | None, junit: Path | None, markdown: Path | None, redactor: Redactor) -> int:
    """check's gate and reports, plus report's HTML, written all or none."""
    from confaudit.commands.check import gate, say_summary, write_reports
    from confaudit.output_set import FileOutput
    from confaudit.commands.pipeline import display_path, run_claims

    # The session's key logs are read with it (session.directory.read_session): the proxy's and the browsers' for TLS,
    # and in sfu lab runs the lab SFU's for the DTLS of the media; `confaudit analyze SESSION` reads the same.
    result, bundle = run_claims([session], claims, redactor=redactor)
    code = gate(result, fail_on)
    uri = display_path(claims)
    extra = []
    if report is not None:
        from confaudit.report.html import render_audit

        extra.append(FileOutput("--report", report, render_audit(result, bundle, redactor=redactor).encode("utf-8")))
    write_reports(result, json_out=json_out, junit=junit, sarif=sarif, markdown=markdown, claims_uri=uri,
                  extra=tuple(extra))
    say_summary(result, fail_on, code, uri)
    return code

