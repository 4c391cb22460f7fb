"""Thin typer shell: parses options, calls one command module, maps errors to exit codes.

Only this module exits. Command bodies live in ``confaudit.commands.<name>`` and are imported
lazily so ``confaudit --help`` never imports scapy, mitmproxy or pandas.
"""

from __future__ import annotations

import errno
import importlib
import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from confaudit.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, ConfauditError

# Every path parameter is declared readable=False: click would otherwise refuse an unreadable input with its
# usage box and exit 2; the command reports it as one line naming the file, exit 3, like any bad input.
app = typer.Typer(
    name="confaudit",
    help="Audit what video-conference platforms actually do against what they claim.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_SEVERITIES = ("info", "low", "medium", "high", "critical")
_PATH_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EROFS}


def _one_line(text: str) -> str:
    # Captured bytes can reach error text: strip control characters so nothing forges output.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text.replace("\n", " "))
    return cleaned[:2000]


def _run(command: str, **kwargs: object) -> None:
    """Import ``confaudit.commands.<command>`` and call its ``run``; translate failures."""
    try:
        module = importlib.import_module(f"confaudit.commands.{command}")
        code = module.run(**kwargs)
    except ConfauditError as err:
        sys.stderr.write(f"confaudit: error: {_one_line(str(err))}\n")
        raise typer.Exit(err.exit_code) from None
    except OSError as err:
        if err.filename is None or err.errno not in _PATH_ERRNOS:
            _internal_error(err)
        # A path the OS refuses (unreadable, unwritable, too long, a directory in the way) wherever a
        # command meets it: the user's input, not a confaudit bug.
        sys.stderr.write(f"confaudit: error: {_one_line(str(err.filename))}: {_one_line(err.strerror or 'cannot use this path')}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        sys.stderr.write("confaudit: interrupted\n")
        raise typer.Exit(130) from None
    except (typer.Exit, SystemExit):
        raise
    except BaseException as err:
        _internal_error(err)
    raise typer.Exit(int(code or 0))


def _internal_error(err: BaseException) -> NoReturn:
    """One line, no traceback, a distinct exit code."""
    sys.stderr.write(f"confaudit: internal error: {type(err).__name__}: {_one_line(str(err))}\n")
    raise typer.Exit(EXIT_INTERNAL) from None


@app.command()
def analyze(
    inputs: Annotated[list[Path], typer.Argument(help="Captures (pcap, pcapng, .gz), session directories, .mitm flow files, HAR files.", readable=False)],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the evidence bundle (JSON) here.", readable=False)] = None,
    parquet: Annotated[Optional[Path], typer.Option("--parquet", help="Also write the bundle's tables as Parquet files into this directory.", readable=False)] = None,
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log (SSLKEYLOGFILE format) of the auditor's own endpoint: decrypt its SRTP and test for an inner E2EE layer.", readable=False)] = None,
    first_party: Annotated[Optional[list[str]], typer.Option("--first-party", help="Domain or entity of the vendor (repeatable).")] = None,
    room_name: Annotated[Optional[list[str]], typer.Option("--room-name", help="Known room name, to find it in outgoing data (repeatable).")] = None,
    participant: Annotated[Optional[list[str]], typer.Option("--participant", help="Known participant name, to find it in outgoing data (repeatable).")] = None,
    account: Annotated[Optional[list[str]], typer.Option("--account", help="The auditor's own e-mail or phone used in the call, to find it in outgoing data even when hashed (repeatable).")] = None,
    entity_list: Annotated[Optional[list[Path]], typer.Option("--entity-list", help="Extra entity map (JSON) of domains to companies; its name and licence are recorded.", readable=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on the terminal.")] = False,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name).")] = None,
    canary: Annotated[Optional[Path], typer.Option("--canary", help="Canary spec (canary.json) the auditor's fake devices played: looked for in the media decrypted with --keylog (a session's own canary.json is read too).", readable=False)] = None,
) -> None:
    """Turn captures and recorded sessions into one evidence bundle."""
    _run("analyze", inputs=inputs, json_out=json_out, parquet=parquet, keylog=keylog,
         first_party=first_party or [], room_names=room_name or [], participants=participant or [],
         accounts=account or [], entity_lists=entity_list or [], quiet=quiet, vendor=vendor, canary=canary)


@app.command()
def capture(
    out: Annotated[Path, typer.Option("--out", help="Session directory to create.", readable=False)],
    vendor: Annotated[str, typer.Option("--vendor", help="Vendor being audited.")],
    mode: Annotated[str, typer.Option("--mode", help="mitmproxy mode: regular, wireguard, local, reverse:..., socks5, ...")] = "regular",
    listen_host: Annotated[str, typer.Option("--listen-host", help="Address the proxy listens on.")] = "127.0.0.1",
    listen_port: Annotated[int, typer.Option("--listen-port", help="Port the proxy listens on (0: pick a free one).")] = 8080,
    iface: Annotated[Optional[str], typer.Option("--iface", help="Interface for the packet sniffer (default: none).")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Stop after this many seconds.")] = None,
    scenario: Annotated[str, typer.Option("--scenario", help="Free text: what the auditor does in this session.")] = "",
    operator: Annotated[str, typer.Option("--operator", help="Who ran the capture.")] = "",
    ignore_host: Annotated[Optional[list[str]], typer.Option("--ignore-host", help="Regex of hosts passed through untouched (metadata only).")] = None,
    no_panel: Annotated[bool, typer.Option("--no-panel", help="No live panel (for scripts and CI).")] = False,
    ssl_insecure: Annotated[bool, typer.Option("--ssl-insecure", help="Do not verify upstream certificates (a lab or a private CA you cannot pass with --upstream-ca).")] = False,
    upstream_ca: Annotated[Optional[Path], typer.Option("--upstream-ca", help="PEM file of CA certificates to trust for upstream servers (e.g. a company's private CA).", readable=False)] = None,
    set_option: Annotated[Optional[list[str]], typer.Option("--set", help="key=value: set a mitmproxy option (repeatable; names as in `mitmdump --options`).")] = None,
) -> None:
    """Record a live call: mitmproxy with the confaudit addon plus a packet sniffer."""
    _run("capture", out=out, vendor=vendor, mode=mode, listen_host=listen_host, listen_port=listen_port,
         iface=iface, duration=duration, scenario=scenario, operator=operator,
         ignore_hosts=ignore_host or [], panel=not no_panel, ssl_insecure=ssl_insecure, upstream_ca=upstream_ca,
         option_specs=set_option or [])


@app.command("run")
def run_scenario(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML, docs/scenarios.md).", readable=False)],
    out: Annotated[Path, typer.Option("--out", help="Session directory to create.", readable=False)],
    claims: Annotated[Optional[Path], typer.Option("--claims", help="Claims file: analyze, check and report the session once recorded.", readable=False)] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="HTML audit report (needs --claims).", readable=False)] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", help="Lowest severity of a contradicted claim that fails: info|low|medium|high|critical.")] = "high",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Findings as JSON (needs --claims).", readable=False)] = None,
    sarif: Annotated[Optional[Path], typer.Option("--sarif", help="SARIF 2.1.0 (needs --claims).", readable=False)] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="JUnit XML (needs --claims).", readable=False)] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown summary (needs --claims).", readable=False)] = None,
    iface: Annotated[Optional[str], typer.Option("--iface", help="Interface for the packet sniffer (default: lo for lab scenarios, else none).")] = None,
) -> None:
    """Record a scenario in real browsers through the capture; with --claims, check it (exit codes as check)."""
    if fail_on not in _SEVERITIES:
        sys.stderr.write(f"confaudit: error: --fail-on must be one of {', '.join(_SEVERITIES)}\n")
        raise typer.Exit(2)
    _run("run", scenario=scenario, out=out, claims=claims, report=report, fail_on=fail_on, json_out=json_out,
         sarif=sarif, junit=junit, markdown=markdown, iface=iface)


@app.command()
def mark(
    session: Annotated[Path, typer.Argument(help="Session directory being recorded.", readable=False)],
    phase: Annotated[str, typer.Argument(help="lobby, joined, muted, unmuted, camera-off, camera-on, screen-share, left, or your own label.")],
) -> None:
    """Add a phase marker to a session's timeline (from another terminal)."""
    _run("mark", session=session, phase=phase)


@app.command("addon-path")
def addon_path() -> None:
    """Print the path of the mitmproxy addon file: mitmdump -s "$(confaudit addon-path)" --set confaudit_session=DIR."""
    _run("addon_path")


@app.command()
def score(
    sessions: Annotated[list[Path], typer.Argument(help="Anything analyze accepts, combined into one evidence bundle (or an evidence JSON).", readable=False)],
    claims: Annotated[Path, typer.Option("--claims", help="Claims file (YAML).", readable=False)],
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log of the auditor's endpoint.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name); must be the claims file's vendor.")] = None,
) -> None:
    """Score evidence against a vendor's claims: a table per claim and category."""
    _run("score", sessions=sessions, claims=claims, keylog=keylog, vendor=vendor)


@app.command()
def check(
    sessions: Annotated[list[Path], typer.Argument(help="Anything analyze accepts (or an evidence JSON).", readable=False)],
    claims: Annotated[Path, typer.Option("--claims", help="Claims file (YAML).", readable=False)],
    fail_on: Annotated[str, typer.Option("--fail-on", help="Lowest severity of a contradicted claim that fails: info|low|medium|high|critical.")] = "high",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Findings as JSON.", readable=False)] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="JUnit XML, one testcase per claim.", readable=False)] = None,
    sarif: Annotated[Optional[Path], typer.Option("--sarif", help="SARIF 2.1.0, results located at each claim's line.", readable=False)] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown summary (PR comment, step summary).", readable=False)] = None,
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log of the auditor's endpoint.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name); must be the claims file's vendor.")] = None,
) -> None:
    """CI gate: exit 0 pass, 1 contradicted at/above --fail-on, 2 usage, 3 bad input, 4 internal."""
    if fail_on not in _SEVERITIES:
        sys.stderr.write(f"confaudit: error: --fail-on must be one of {', '.join(_SEVERITIES)}\n")
        raise typer.Exit(2)
    _run("check", sessions=sessions, claims=claims, fail_on=fail_on, json_out=json_out,
         junit=junit, sarif=sarif, markdown=markdown, keylog=keylog, vendor=vendor)


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="Earlier session, capture or evidence JSON.", readable=False)],
    new: Annotated[Path, typer.Argument(help="Later session, capture or evidence JSON.", readable=False)],
    claims: Annotated[Optional[Path], typer.Option("--claims", help="Claims file, to diff verdicts too.", readable=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the diff as JSON.", readable=False)] = None,
) -> None:
    """What changed between two sessions or app versions."""
    _run("diff", old=old, new=new, claims=claims, json_out=json_out)


@app.command()
def report(
    sessions: Annotated[list[Path], typer.Argument(help="Anything analyze accepts (or an evidence JSON).", readable=False)],
    claims: Annotated[Path, typer.Option("--claims", help="Claims file (YAML).", readable=False)],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.", readable=False)],
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log of the auditor's endpoint.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name); must be the claims file's vendor.")] = None,
) -> None:
    """Write a self-contained HTML audit report."""
    _run("report", sessions=sessions, claims=claims, out=out, keylog=keylog, vendor=vendor)


@app.command()
def compare(
    sessions: Annotated[list[str], typer.Argument(help="One session, capture or evidence JSON per vendor; VENDOR=PATH names the vendor (captures carry none).")],
    claims_dir: Annotated[Path, typer.Option("--claims-dir", help="Directory of claims files; matched to sessions by vendor.", readable=False)],
    out: Annotated[Optional[Path], typer.Option("--out", help="Comparison HTML to write.", readable=False)] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown matrix.", readable=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Comparison as JSON.", readable=False)] = None,
) -> None:
    """Compare vendors: claims x verdicts, data categories, third parties, media encryption."""
    _run("compare", sessions=sessions, claims_dir=claims_dir, out=out, markdown=markdown, json_out=json_out)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
