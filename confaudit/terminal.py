"""What a command prints besides its outputs, and where: the one place ``-q``, ``-v`` and ``-`` (stdout) meet.

Commands never write to ``sys.stdout`` themselves. Their text is one of four kinds:

- ``say``: the command's own result for a reader (check's summary, score's table, diff's changes) — on
  stdout, or on stderr when an output (``--json -``) owns stdout, so stdout holds that output alone;
- ``note``: progress and "wrote ..." lines — stderr;
- ``detail``: per-stage timings and counts — stderr, with ``-v`` only;
- ``warn``: what the user must know (incomplete evidence) — stderr, even with ``-q``.

``-q`` silences ``say``, ``note`` and ``detail``; errors are printed by the CLI and never silenced.
The settings are process-wide (set once by the CLI before a command runs), like the streams they govern.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TextIO


@dataclass(frozen=True)
class Settings:
    """How talkative the running command is, and who owns stdout."""

    quiet: bool = False
    """``-q``: nothing but errors and warnings."""
    verbose: bool = False
    """``-v``: per-stage timings and counts on stderr."""
    debug: bool = False
    """``--debug``: an internal error (exit 4) prints its traceback."""
    stdout_output: str | None = None
    """The option whose output goes to stdout (``--json`` given ``-``), if any."""


_settings = Settings()


def configure(*, quiet: bool = False, verbose: bool = False, debug: bool = False) -> Settings:
    """Set the verbosity for this process (a fresh command: stdout is nobody's yet)."""
    global _settings
    _settings = Settings(quiet=quiet, verbose=verbose and not quiet, debug=debug)
    return _settings


def settings() -> Settings:
    return _settings


def claim_stdout(option: str) -> None:
    """An output named ``-`` goes to stdout: from now on ``say`` writes to stderr."""
    global _settings
    _settings = replace(_settings, stdout_output=option)


def say_stream() -> TextIO | None:
    """Where the command's own result text goes: None with ``-q``; stderr when an output owns stdout."""
    if _settings.quiet:
        return None
    return sys.stderr if _settings.stdout_output else sys.stdout


def say(text: str) -> None:
    stream = say_stream()
    if stream is not None:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()


def note(text: str) -> None:
    if not _settings.quiet:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")


def detail(text: str) -> None:
    if _settings.verbose and not _settings.quiet:
        sys.stderr.write(f"confaudit: {text}\n")


def warn(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


@contextmanager
def stage(name: str) -> Iterator[dict[str, object]]:
    """Time a stage for ``-v``: ``with stage("captures") as counts: ...; counts["packets"] = n``."""
    counts: dict[str, object] = {}
    start = time.perf_counter()
    yield counts
    if _settings.verbose:  # a stage that failed is reported by its error, not timed
        shown = "".join(f", {value} {key}" for key, value in counts.items())
        detail(f"{name}: {time.perf_counter() - start:.2f} s{shown}")
