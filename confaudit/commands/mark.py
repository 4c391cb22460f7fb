"""`confaudit mark DIR PHASE`: append a timeline marker to a session being recorded (never a finished one)."""

from __future__ import annotations

from pathlib import Path

from confaudit import terminal
from confaudit.session.directory import KNOWN_PHASES, append_phase, iso_time


def run(session: Path, phase: str) -> int:
    entry = append_phase(Path(session), phase)
    note = "" if entry["phase"] in KNOWN_PHASES else " (custom label)"
    terminal.say(f"marked {entry['phase']} at {iso_time(entry['ts'])}{note}")
    return 0
