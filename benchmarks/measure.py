"""Run one child process and measure its wall time and peak RSS.

Peak RSS is the larger of the process's own peak (wait4) and the peak of its whole process tree
(the sum of every descendant's resident set, sampled every 10 ms from /proc), so a tool that
forks helpers is charged for them too.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measured:
    """Outcome of one measured child process."""

    wall_s: float
    """Wall-clock seconds from start to exit."""
    peak_rss_mb: float
    """Peak resident set size in MB (10^6 bytes): the process's own, or its sampled tree's if larger."""
    returncode: int
    """Exit code (negative: killed by that signal)."""
    stderr: str
    """Last lines of the child's standard error."""
    cpu_s: float = 0.0
    """User plus system CPU seconds of the child and the children it waited for: on a shared machine it
    varies far less with the load than the wall time does."""


def run_measured(cmd: list[str], timeout: float = 1800.0, env: dict[str, str] | None = None,
                 stdout: Path | None = None) -> Measured:
    """``stdout``: a file to keep the child's standard output in (the output a benchmark checks), else discarded."""
    start = time.perf_counter()
    with open(stdout, "wb") if stdout is not None else open(os.devnull, "wb") as sink:
        return _run(cmd, timeout, env, sink, start)


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None, sink: Any, start: float) -> Measured:
    proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, env=env)
    deadline = start + timeout
    status, usage = 0, None
    tree_peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tree_peak = max(tree_peak, _tree_rss_bytes(proc.pid))
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
    peak = max(usage.ru_maxrss * 1024, tree_peak) / 1e6
    return Measured(wall, peak, proc.returncode, "\n".join(err.strip().splitlines()[-3:]),
                    usage.ru_utime + usage.ru_stime)


def _tree_rss_bytes(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants now (0 where /proc cannot tell)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                total += next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total
