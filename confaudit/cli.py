"""Thin typer shell: parses options, calls one command module, maps errors to exit codes.

Only this module exits. Command bodies live in ``confaudit.commands.<name>`` and are imported
lazily so ``confaudit --help`` never imports scapy, mitmproxy or pandas.

Conventions every command follows (tests/commands/test_cli_conventions.py checks each registered command):
``-q/--quiet``, ``-v/--verbose`` and ``--debug`` (also accepted before the command name), ``-`` as an
output option's value for stdout and as an input for stdin, and one-line errors with the exit codes of
:mod:`confaudit.errors` (0 ok, 1 a claim contradicted, 2 usage, 3 bad input or unwritable output,
4 internal error, 130 interrupted).
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional, Protocol, cast

import typer

from confaudit import terminal
from confaudit.cli_conventions import ConventionalApp, ConventionalGroup, Debug, Quiet, Verbose, call_command
from confaudit.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_USAGE, ConfauditError
from confaudit.stdin_input import relabel

# Every path parameter is declared readable=False: click would otherwise refuse an unreadable input with its
# usage box and exit 2; the command reports it as one line naming the file, exit 3, like any bad input.
app = ConventionalApp(
    name="confaudit",
    help="Audit what video-conference platforms actually do against what they claim.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=ConventionalGroup,
    epilog="Exit codes: 0 ok, 1 a claim contradicted (check), 2 usage, 3 bad input or unwritable output, "
           "4 internal error (--debug shows its traceback). An output option given - writes to stdout; "
           "an input given - reads stdin.",
)

_SEVERITIES = ("info", "low", "medium", "high", "critical")

FailOn = Annotated[str, typer.Option("--fail-on", help="Lowest severity of a contradicted claim that fails: info|low|medium|high|critical.")]
"""``--fail-on`` of ``check`` and ``run``."""


def _require_severity(fail_on: str) -> None:
    if fail_on not in _SEVERITIES:
        sys.stderr.write(f"confaudit: error: --fail-on must be one of {', '.join(_SEVERITIES)}\n")
        raise typer.Exit(2)


_PATH_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EROFS}
_OPTIONAL_PARTS = {"aiortc": "lab", "aioice": "lab"}
"""Modules that only an optional part (a pip extra) installs, and that part's name."""


def _one_line(text: str) -> str:
    # Captured bytes can reach error text: strip control characters so nothing forges output.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in relabel(text).replace("\n", " "))
    return cleaned[:2000]


def _version(value: bool) -> None:
    if value:
        from confaudit import __version__

        sys.stdout.write(f"confaudit {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def conventions(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                          is_eager=True)] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Audit what video-conference platforms actually do against what they claim."""
    terminal.configure()  # a fresh command: nothing left from an earlier in-process run
    _conventions(quiet, verbose, debug)


def _conventions(quiet: bool, verbose: bool, debug: bool) -> None:
    """A command's own -q/-v/--debug, added to those given before its name."""
    before = terminal.settings()
    quiet, verbose, debug = quiet or before.quiet, verbose or before.verbose, debug or before.debug
    if quiet and verbose:
        sys.stderr.write("confaudit: error: -q/--quiet and -v/--verbose contradict each other; give one\n")
        raise typer.Exit(EXIT_USAGE)
    terminal.configure(quiet=quiet, verbose=verbose, debug=debug)


def _run(command: str, **kwargs: object) -> None:
    """Import ``confaudit.commands.<command>`` and call its ``run``; translate failures."""
    try:
        code = call_command(command, kwargs)
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
    except ModuleNotFoundError as err:
        if err.name not in _OPTIONAL_PARTS:
            _internal_error(err)
        part = _OPTIONAL_PARTS[err.name]
        sys.stderr.write(f"confaudit: error: this needs confaudit's optional {part} part ({err.name} is not installed): "
                         f"pip install 'confaudit[{part}]'\n")
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        sys.stderr.write("confaudit: interrupted\n")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except SystemExit as err:  # a library ended the process itself (mitmproxy: "Error logged during startup")
        _internal_error(RuntimeError(f"a library exited with status {err.code!r} instead of raising an error"))
    except BaseException as err:
        _internal_error(err)
    finally:
        terminal.configure()  # an in-process caller (tests, scripts) gets the defaults back
    raise typer.Exit(int(code or 0))


def _internal_error(err: BaseException) -> NoReturn:
    """One line, no traceback (unless --debug), a distinct exit code."""
    if terminal.settings().debug:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    hint = "" if terminal.settings().debug else " (--debug shows the traceback)"
    sys.stderr.write(f"confaudit: internal error: {type(err).__name__}: {_one_line(str(err))}{hint}\n")
    raise typer.Exit(EXIT_INTERNAL) from None


@app.command()
def analyze(
    inputs: Annotated[list[Path], typer.Argument(help="Captures (pcap, pcapng, .gz), session directories, .mitm flow files, HAR files; - reads one from stdin.", readable=False)],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the evidence bundle (JSON) here (- for stdout).", readable=False)] = None,
    parquet: Annotated[Optional[Path], typer.Option("--parquet", help="Also write the bundle's tables as Parquet files into this directory.", readable=False)] = None,
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log (SSLKEYLOGFILE format) of the auditor's own endpoint: decrypt its SRTP and test for an inner E2EE layer.", readable=False)] = None,
    first_party: Annotated[Optional[list[str]], typer.Option("--first-party", help="Domain or entity of the vendor (repeatable).")] = None,
    room_name: Annotated[Optional[list[str]], typer.Option("--room-name", help="Known room name, to find it in outgoing data (repeatable).")] = None,
    participant: Annotated[Optional[list[str]], typer.Option("--participant", help="Known participant name, to find it in outgoing data (repeatable).")] = None,
    account: Annotated[Optional[list[str]], typer.Option("--account", help="The auditor's own e-mail or phone used in the call, to find it in outgoing data even when hashed (repeatable).")] = None,
    entity_list: Annotated[Optional[list[Path]], typer.Option("--entity-list", help="Extra entity map (JSON) of domains to companies; its name and licence are recorded.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name).")] = None,
    canary: Annotated[Optional[Path], typer.Option("--canary", help="Canary spec (canary.json) the auditor's fake devices played: looked for in the media decrypted with --keylog (a session's own canary.json is read too).", readable=False)] = None,
    country_table: Annotated[Optional[Path], typer.Option("--country-table", help="Offline address -> country table (RIR delegated statistics file, or CSV network,country): locates flows, media path endpoints and parties; its path and SHA-256 are recorded. Nothing is fetched.", readable=False)] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Turn captures and recorded sessions into one evidence bundle."""
    _conventions(quiet, verbose, debug)
    _run("analyze", inputs=inputs, json_out=json_out, parquet=parquet, keylog=keylog,
         first_party=first_party or [], room_names=room_name or [], participants=participant or [],
         accounts=account or [], entity_lists=entity_list or [], vendor=vendor, canary=canary,
         country_table=country_table)


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
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Record a live call: mitmproxy with the confaudit addon plus a packet sniffer."""
    _conventions(quiet, verbose, debug)
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
    fail_on: FailOn = "high",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Findings as JSON (needs --claims).", readable=False)] = None,
    sarif: Annotated[Optional[Path], typer.Option("--sarif", help="SARIF 2.1.0 (needs --claims).", readable=False)] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="JUnit XML (needs --claims).", readable=False)] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown summary (needs --claims).", readable=False)] = None,
    iface: Annotated[Optional[str], typer.Option("--iface", help="Interface for the packet sniffer (default: lo for lab scenarios, else none).")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Record a scenario in real browsers through the capture; with --claims, check it (exit codes as check)."""
    _conventions(quiet, verbose, debug)
    _require_severity(fail_on)
    _run("run", scenario=scenario, out=out, claims=claims, report=report, fail_on=fail_on, json_out=json_out,
         sarif=sarif, junit=junit, markdown=markdown, iface=iface)


@app.command()
def mark(
    session: Annotated[Path, typer.Argument(help="Session directory being recorded.", readable=False)],
    phase: Annotated[str, typer.Argument(help="lobby, joined, muted, unmuted, camera-off, camera-on, screen-share, left, or your own label.")],
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Add a phase marker to a session's timeline (from another terminal)."""
    _conventions(quiet, verbose, debug)
    _run("mark", session=session, phase=phase)


@app.command("addon-path")
def addon_path(quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Print the path of the mitmproxy addon file: mitmdump -s "$(confaudit addon-path)" --set confaudit_session=DIR."""
    _conventions(quiet, verbose, debug)
    _run("addon_path")


@app.command()
def score(
    sessions: Annotated[list[Path], typer.Argument(help="Anything analyze accepts, combined into one evidence bundle (or an evidence JSON).", readable=False)],
    claims: Annotated[Path, typer.Option("--claims", help="Claims file (YAML).", readable=False)],
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log of the auditor's endpoint.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name); must be the claims file's vendor.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Score evidence against a vendor's claims: a table per claim and category."""
    _conventions(quiet, verbose, debug)
    _run("score", sessions=sessions, claims=claims, keylog=keylog, vendor=vendor)


@app.command()
def check(
    sessions: Annotated[list[Path], typer.Argument(help="Anything analyze accepts (or an evidence JSON).", readable=False)],
    claims: Annotated[Path, typer.Option("--claims", help="Claims file (YAML).", readable=False)],
    fail_on: FailOn = "high",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Findings as JSON (- for stdout).", readable=False)] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="JUnit XML, one testcase per claim (- for stdout).", readable=False)] = None,
    sarif: Annotated[Optional[Path], typer.Option("--sarif", help="SARIF 2.1.0, results located at each claim's line (- for stdout).", readable=False)] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown summary (PR comment, step summary; - for stdout).", readable=False)] = None,
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log of the auditor's endpoint.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name); must be the claims file's vendor.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """CI gate: exit 0 pass, 1 contradicted at/above --fail-on, 2 usage, 3 bad input, 4 internal."""
    _conventions(quiet, verbose, debug)
    _require_severity(fail_on)
    _run("check", sessions=sessions, claims=claims, fail_on=fail_on, json_out=json_out,
         junit=junit, sarif=sarif, markdown=markdown, keylog=keylog, vendor=vendor)


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="Earlier session, capture or evidence JSON.", readable=False)],
    new: Annotated[Path, typer.Argument(help="Later session, capture or evidence JSON.", readable=False)],
    claims: Annotated[Optional[Path], typer.Option("--claims", help="Claims file, to diff verdicts too.", readable=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the diff as JSON (- for stdout).", readable=False)] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """What changed between two sessions or app versions."""
    _conventions(quiet, verbose, debug)
    _run("diff", old=old, new=new, claims=claims, json_out=json_out)


@app.command()
def report(
    sessions: Annotated[list[Path], typer.Argument(help="Anything analyze accepts (or an evidence JSON).", readable=False)],
    claims: Annotated[Path, typer.Option("--claims", help="Claims file (YAML).", readable=False)],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (- for stdout).", readable=False)],
    keylog: Annotated[Optional[Path], typer.Option("--keylog", help="NSS key log of the auditor's endpoint.", readable=False)] = None,
    vendor: Annotated[Optional[str], typer.Option("--vendor", help="The vendor audited, recorded in the evidence (a capture carries no vendor name); must be the claims file's vendor.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Write a self-contained HTML audit report."""
    _conventions(quiet, verbose, debug)
    _run("report", sessions=sessions, claims=claims, out=out, keylog=keylog, vendor=vendor)


@app.command()
def compare(
    sessions: Annotated[list[str], typer.Argument(help="One session, capture or evidence JSON per vendor; VENDOR=PATH names the vendor (captures carry none).")],
    claims_dir: Annotated[Path, typer.Option("--claims-dir", help="Directory of claims files; matched to sessions by vendor.", readable=False)],
    out: Annotated[Optional[Path], typer.Option("--out", help="Comparison HTML to write.", readable=False)] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown matrix (- for stdout).", readable=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Comparison as JSON (- for stdout).", readable=False)] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Compare vendors: claims x verdicts, data categories, third parties, media encryption."""
    _conventions(quiet, verbose, debug)
    _run("compare", sessions=sessions, claims_dir=claims_dir, out=out, markdown=markdown, json_out=json_out)


samples_app = ConventionalApp(name="samples", help="The sample claims files shipped with confaudit: list them, or copy them to edit.",
                   no_args_is_help=True, cls=ConventionalGroup)
app.add_typer(samples_app)


@samples_app.command("list")
def samples_list(
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """List the sample claims files (vendor, number of claims) and where they are installed."""
    _conventions(quiet, verbose, debug)
    _run("samples", action="list")


@samples_app.command("copy")
def samples_copy(
    directory: Annotated[Path, typer.Argument(help="Directory to copy them into (claims/ inside it).", readable=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace files there that differ from the samples.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Copy the sample claims files into a directory, to edit them (all or none)."""
    _conventions(quiet, verbose, debug)
    _run("samples", action="copy", directory=directory, force=force)


def _click_exception() -> type[Exception]:
    # typer's click (vendored from typer 0.2x, the click package before): found from a public exception
    # class, so this works with either.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _ClickError(Protocol):
    """What :func:`main` reads of a ClickException (typer's vendored click has no public type to name)."""

    exit_code: int
    ctx: Any

    def format_message(self) -> str: ...


def main(args: list[str] | None = None) -> NoReturn:
    """Run the CLI; a usage error is one line (the option and the reason) and exit 2, not click's box."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="confaudit", standalone_mode=False)
    except _click_exception() as caught:
        err = cast("_ClickError", caught)  # the class caught is click's ClickException
        if not err.format_message():  # no arguments at all: the help was shown
            sys.exit(err.exit_code)
        where = f"confaudit {err.ctx.info_name}" if getattr(err, "ctx", None) is not None and err.ctx.parent else "confaudit"
        sys.stderr.write(f"confaudit: error: {_one_line(err.format_message())} (see {where} --help)\n")
        code = err.exit_code
    except typer.Abort:
        sys.stderr.write("confaudit: aborted\n")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def entry() -> NoReturn:
    """The ``confaudit`` program: :func:`main`, then an exit that leaves the evidence to the operating system
    instead of freeing it object by object (confaudit.quick_exit)."""
    from confaudit import quick_exit

    quick_exit.arm()
    try:
        main()
    except SystemExit as done:
        quick_exit.leave(done.code)


if __name__ == "__main__":
    entry()
