"""The console entry point's exit: the status, every byte written and every exit handler kept, the teardown skipped
only when nothing can be lost by it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from confaudit import quick_exit

REPO = Path(__file__).resolve().parents[2]


BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
"""The environment with standard output buffered, as it is by default (this machine sets PYTHONUNBUFFERED)."""


def _script(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from confaudit import quick_exit\n" + body], capture_output=True,
                          text=True, timeout=60, env=BUFFERED)


def test_buffered_output_and_exit_handlers_survive_the_quick_exit(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    done = _script(f"""
import atexit, os, sys, tempfile
workdir = tempfile.TemporaryDirectory()  # cleaned up by weakref.finalize's exit handler
atexit.register(lambda: (print("handler ran"), open({str(marker)!r}, "w").close()))
print("buffered", end=" ")
sys.stderr.write("to stderr")
quick_exit.arm()
held = quick_exit.hold([object() for _ in range(10)])
print(os.path.isdir(workdir.name), file=open({str(tmp_path / "dir")!r}, "w"))
with open({str(tmp_path / "name")!r}, "w") as fh:
    fh.write(workdir.name)
quick_exit.leave(5)
print("never")
""")
    assert done.returncode == 5
    assert done.stdout == "buffered handler ran\n" and done.stderr == "to stderr"
    assert marker.exists()
    assert not Path((tmp_path / "name").read_text()).exists()  # the temporary directory was removed


@pytest.mark.parametrize(("code", "status", "stderr"), [(None, 0, ""), (0, 0, ""), (3, 3, ""), (256 + 4, 4, ""),
                                                        (True, 1, ""), ("a message", 1, "a message\n")])
def test_the_status_is_what_sys_exit_gives(code: object, status: int, stderr: str) -> None:
    done = _script(f"quick_exit.arm()\nquick_exit.leave({code!r})")
    assert (done.returncode, done.stderr) == (status, stderr)
    plain = subprocess.run([sys.executable, "-c", f"import sys\nsys.exit({code!r})"], capture_output=True, text=True)
    assert (plain.returncode, plain.stderr) == (status, stderr)


def test_a_thread_still_running_makes_it_leave_the_normal_way(tmp_path: Path) -> None:
    out = tmp_path / "late"
    done = _script(f"""
import threading, time
def late():
    time.sleep(0.5)
    open({str(out)!r}, "w").write("written")
threading.Thread(target=late).start()
quick_exit.arm()
quick_exit.leave(2)
""")
    assert done.returncode == 2 and out.read_text() == "written"  # the interpreter waited for the thread


def test_unarmed_it_is_sys_exit_and_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quick_exit, "_held", [])
    big = [1, 2, 3]
    assert quick_exit.hold(big) is big and quick_exit._held == []
    with pytest.raises(SystemExit) as leaving:
        quick_exit.leave(3)
    assert leaving.value.code == 3


def test_the_console_script_exits_with_the_command_status_and_complete_outputs(tmp_path: Path) -> None:
    capture = REPO / "samples" / "captures" / "zoom2.pcap"
    out = tmp_path / "evidence.json"
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(capture), "--json", str(out)],
                          capture_output=True, text=True, timeout=300, env=BUFFERED)
    in_process = subprocess.run([sys.executable, "-c", "import sys\nfrom confaudit.cli import main\nmain(sys.argv[1:])",
                                 "analyze", str(capture)], capture_output=True, text=True, timeout=300)
    assert done.returncode == in_process.returncode == 0
    assert done.stderr == in_process.stderr and done.stderr.count("\n") > 5  # the summary printed in full
    assert out.read_bytes().endswith(b"}\n")
    missing = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(tmp_path / "absent.pcap")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
