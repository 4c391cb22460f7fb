"""``scenario_events.jsonl``: what a scenario run did that the traffic alone cannot tell (room links it
created, join attempts and their outcome, room locks, the step that failed, which program owned each UDP
socket), one JSON object a line."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

EVENTS = "scenario_events.jsonl"
EVENT_KINDS = ("new_room", "try_join", "lock", "step_failed", "udp_socket")
MAX_EVENT_LINES = 100_000


def append_event(directory: Path, kind: str, step: str, line: int, **fields: Any) -> dict[str, Any]:
    """Append ``{ts, step, line, kind, ...}`` with one write() and fsync (the file is sealed by the manifest later)."""
    event = {"ts": time.time(), "step": step, "line": line, "kind": kind, **fields}
    data = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(Path(directory) / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return event


def session_events(sessions: list[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every session's scenario events (with ``session``: the directory's name), in time order, and the problems."""
    import os
    import stat as stat_mod

    events: list[dict[str, Any]] = []
    problems: list[str] = []
    for directory in sessions:
        path = Path(directory) / EVENTS
        try:
            regular = stat_mod.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            continue
        if not regular:  # never follow a link out of the session (the integrity check names it)
            problems.append(f"session {directory}: {EVENTS} is not a regular file: not read")
            continue
        found, skipped = read_events(path)
        events.extend(dict(e, session=Path(directory).name) for e in found)
        problems.extend(f"session {directory}: {p}" for p in skipped)
    events.sort(key=lambda e: (e["ts"], e["line"], e["kind"]))
    return events, problems


def read_events(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(events, one problem per line skipped): a torn last line is skipped silently (a crash mid-write);
    a line that is not an event of a known kind is skipped and named, and makes the evidence incomplete."""
    from confaudit.errors import InputError
    from confaudit.jsonio import first_bad_number

    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise InputError(path, exc.strerror or "cannot read scenario events") from None
    if len(lines) > MAX_EVENT_LINES:
        raise InputError(path, f"more than {MAX_EVENT_LINES} scenario events")
    events, problems = [], []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"), parse_constant=_reject)
        except (ValueError, UnicodeDecodeError, RecursionError):
            entry = None
        if entry is None and number == len(lines):
            continue
        problem = _problem(entry)
        if problem is None and first_bad_number(entry) is not None:
            problem = "a number out of range"
        if problem:
            problems.append(f"{path.name}:{number}: scenario event skipped: {problem}")
            continue
        events.append(_clean(entry))
    return events, problems


def _reject(name: str) -> Any:
    raise ValueError(name)


def _problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "not a JSON object"
    if entry.get("kind") not in EVENT_KINDS:
        return f"unknown kind {str(entry.get('kind'))[:40]!r}"
    ts, line = entry.get("ts"), entry.get("line")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or isinstance(line, bool) or not isinstance(line, int):
        return "needs a number 'ts' and an integer 'line'"
    if entry["kind"] == "try_join" and entry.get("outcome") not in ("admitted", "refused"):
        return "try_join needs outcome 'admitted' or 'refused'"
    if entry["kind"] == "new_room" and not isinstance(entry.get("link"), str):
        return "new_room needs a string 'link'"
    if entry["kind"] == "udp_socket":
        port = entry.get("port")
        if entry.get("owner") not in ("run", "other") or not isinstance(entry.get("address"), str) \
                or isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            return "udp_socket needs owner 'run' or 'other', a string 'address' and a 'port' 0-65535"
    return None


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "ts": (int, float), "line": int, "kind": str, "step": str, "participant": str, "link": str, "outcome": str,
    "error": str, "screenshot": str, "media_bytes_sent": int, "media_bytes_received": int,
    "peer_connections": int, "link_index": int, "session": str, "owner": str, "address": str, "port": int,
    "process": str}


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    """Known fields of the right type only, strings capped: the file is input like any other."""
    out: dict[str, Any] = {}
    for key, kinds in _FIELDS.items():
        value = entry.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kinds):
            continue
        out[key] = value[:4000] if isinstance(value, str) else value
    return out
