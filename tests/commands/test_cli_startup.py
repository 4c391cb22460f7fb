"""`confaudit --help` stays instant: no heavy library is imported at start-up."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scapy", "mitmproxy", "pandas", "numpy", "pyarrow", "jinja2", "av", "aiortc", "yaml")


def test_cli_import_does_not_pull_heavy_libraries() -> None:
    code = (
        "import sys, confaudit.cli\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "confaudit", "--help"], capture_output=True, text=True, check=True)
    for command in ("analyze", "capture", "mark", "score", "check", "diff", "report", "compare"):
        assert command in out.stdout


def test_unknown_input_is_one_line_exit_3(tmp_path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not a capture\n")
    out = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(bogus)], capture_output=True, text=True)
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bogus) in lines[0] and "Traceback" not in out.stderr


def test_missing_input_is_exit_3(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(tmp_path / "nope.pcap")],
                         capture_output=True, text=True)
    assert out.returncode == 3
    assert "no such file" in out.stderr
