"""Run one child process and measure its wall time and its own peak RSS (via wait4)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    """Outcome of one measured child process."""

    wall_s: float
    """Wall-clock seconds from start to exit."""
    peak_rss_mb: float
    """Peak resident set size of the child itself (not its children), in MB (10^6 bytes)."""
    returncode: int
    """Exit code (negative: killed by that signal)."""
    stderr: str
    """Last lines of the child's standard error."""


def run_measured(cmd: list[str], timeout: float = 1800.0, env: dict[str, str] | None = None) -> Measured:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = start + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return Measured(wall, usage.ru_maxrss / 1024 * 1.048576, proc.returncode, "\n".join(err.strip().splitlines()[-3:]))
