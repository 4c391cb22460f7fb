"""The mitmproxy addon of an installed confaudit: `mitmdump -s "$(confaudit addon-path)"` from a fresh venv
with the wheel installed records a request into a session."""

from __future__ import annotations

import http.server
import json
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from support.environment import REPO, loopback_http
from support.wheel_support import venv_env

_PROBE_ADDON = """
import json, os, sys
import confaudit

class Probe:
    def running(self):
        with open(os.environ["PROBE_OUT"], "w") as fh:
            json.dump({"package": confaudit.__file__, "sys_path": sys.path}, fh)

addons = [Probe()]
"""


def test_addon_path_names_the_entry_module_of_this_installation() -> None:
    done = subprocess.run([sys.executable, "-m", "confaudit", "addon-path"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert done.stdout.count("\n") == 1 and path.is_absolute() and path.is_file()
    assert path == REPO / "confaudit" / "mitmproxy_addon.py"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_mitmdump_records_with_the_addon_of_a_wheel_install(confaudit_wheel: Path, wheel_venv: Path,
                                                           tmp_path: Path) -> None:
    with zipfile.ZipFile(confaudit_wheel) as zf:
        assert "confaudit/mitmproxy_addon.py" in zf.namelist()
    env = venv_env()
    bindir = wheel_venv / "bin"
    done = subprocess.run([str(bindir / "confaudit"), "addon-path"], capture_output=True, text=True, env=env,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    addon = Path(done.stdout.strip())
    assert addon.is_file() and addon.name == "mitmproxy_addon.py"
    assert wheel_venv in addon.parents  # the installed copy, not this checkout

    from benchmarks.bench_proxy import _free_port

    port, out, probe_out = _free_port(), tmp_path / "sessions" / "s1", tmp_path / "probe.json"
    probe = tmp_path / "probe_addon.py"
    probe.write_text(_PROBE_ADDON)
    proc = subprocess.Popen([str(bindir / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
                             "-s", str(addon), "-s", str(probe), "--set", f"confaudit_session={out}",
                             "--set", "confaudit_vendor=wheel-lab"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=dict(env, PROBE_OUT=str(probe_out)))
    try:
        with loopback_http(http.server.SimpleHTTPRequestHandler) as url:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
            deadline = time.monotonic() + 60
            while True:
                try:
                    opener.open(f"{url}/through-the-wheel?access_token=WHEEL-SECRET", timeout=10).read()
                    break
                except urllib.error.HTTPError as err:
                    assert err.code == 404  # the directory listing handler answered: the proxy path works
                    break
                except OSError:
                    assert proc.poll() is None, proc.communicate()[1][-2000:]
                    assert time.monotonic() < deadline, "mitmdump did not start listening"
                    time.sleep(0.2)
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr and "error" not in stderr.lower(), stderr[-2000:]

    loaded = json.loads(probe_out.read_text())
    assert Path(loaded["package"]).parent == addon.parent  # confaudit imported from the wheel install
    assert str(addon.parent) not in loaded["sys_path"]  # the package directory does not shadow top-level names

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vendor"] == "wheel-lab" and manifest["stopped"] and manifest["stats"]["records"]["http"] == 1
    records = [json.loads(line) for line in (out / "observations.jsonl").read_text().splitlines()]
    http_records = [r for r in records if r["kind"] == "http"]
    assert [r["path"] for r in http_records] == ["/through-the-wheel"]
    assert "WHEEL-SECRET" not in (out / "observations.jsonl").read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())
