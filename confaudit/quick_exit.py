"""Ending the process without freeing what the command built, object by object.

A command that analysed a capture of 100,000 requests holds millions of objects. Freeing them when the
command returns, and again while the interpreter shuts down, takes most of a second (measured: 0.7-0.9 s
of 12 for ``analyze`` of such a HAR) for memory the operating system takes back at once when the process
ends. The console entry point (:func:`confaudit.cli.entry`) :func:`arm`\\ s this module: the evidence a
command builds is then :func:`hold`\\ -ed to the end instead of freed, and :func:`leave` ends the process with
``os._exit`` once the standard streams are flushed and the exit handlers (temporary directories' clean-up
among them) have run. Anything else that could lose work -- another thread still running, a stream that
cannot be flushed -- leaves the normal way. Tests and library callers that run :func:`confaudit.cli.main`
in-process never arm it, so nothing is held there.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn, TypeVar

_T = TypeVar("_T")
_armed = False
_held: list[object] = []


def arm() -> None:
    """From now on :func:`hold` keeps what it is given until the process ends, and the records an evidence
    build froze out of the cyclic collector stay frozen (confaudit.gcpause) -- the console entry point only."""
    from confaudit.gcpause import keep_frozen

    global _armed
    _armed = True
    keep_frozen()


def hold(obj: _T) -> _T:
    """``obj``, kept alive to the end of the process when armed (so never freed piece by piece)."""
    if _armed:
        _held.append(obj)
    return obj


def status_of(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives (a message is written to standard error and gives 1)."""
    if code is None:
        return 0
    if isinstance(code, int):  # bool too: sys.exit(True) is status 1, nothing written
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def leave(code: object) -> NoReturn:
    """End the process with ``code`` as ``sys.exit`` would, skipping the interpreter's teardown when that is safe."""
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if not _armed or threading.active_count() > 1 or run_exit_handlers is None:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: the interpreter's exit reports it as always
        raise SystemExit(code) from None
    status = status_of(code)
    run_exit_handlers()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # the handlers' own output: the status is decided already
    os._exit(status)
