"""A wheel of this checkout, and a fresh venv with it installed: what a user of `pip install confaudit` has.

The venv gets confaudit only from the wheel (`pip install --no-deps`); its dependencies (mitmproxy, scapy,
pandas...) come from the test venv through a path entry, so no index is asked and nothing is copied. That
path entry is a plain directory: the test venv's editable-install hook (a .pth file there) is not run, so
the source checkout can never stand in for the installed package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        raise AssertionError(f"pip wheel failed: {built.stderr[-2000:]}")
    return next(out.glob("confaudit-*.whl"))


def fresh_venv_with(wheel: Path, venv: Path) -> Path:
    """Create ``venv`` (no pip of its own), install ``wheel`` into it and make the test venv's dependencies
    importable; returns the venv directory. ``bin/mitmdump`` is written as pip would write it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        raise AssertionError(f"pip install of the wheel failed: {installed.stderr[-2000:]}")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    mitmdump = venv / "bin" / "mitmdump"
    mitmdump.write_text(f"#!{python}\nimport sys\nfrom mitmproxy.tools.main import mitmdump\nsys.exit(mitmdump())\n")
    mitmdump.chmod(0o755)
    return venv


def venv_env() -> dict[str, str]:
    """The environment for commands run from the fresh venv: nothing pointing back at this checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CONFAUDIT_TEMPLATES", "VIRTUAL_ENV")}
