"""docs/capture.md's browser recipe, followed to the letter: a fresh NSS database made with Debian's certutil
trusting mitmproxy's CA, Debian's Chromium with its background networking off and
``--proxy-bypass-list=<-loopback>``, a loopback HTTPS target whose private CA the capture trusts with
--upstream-ca. No --ignore-certificate-errors anywhere: every certificate is verified, by the browser and by
the proxy."""

from __future__ import annotations

from confaudit.redact import Redactor
import asyncio
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from support.environment import require_binary
from confaudit.lab.loopback import TlsUpstream
from confaudit.live.run import CaptureConfig, run_capture
from confaudit.importers.http_sources import load_http_sources

PAGE = b"""<!doctype html><html><body><script>
fetch("/loaded?from=page").then(r => r.text()).then(t => fetch("/finished?got=" + encodeURIComponent(t)));
</script></body></html>"""

BACKGROUND_OFF = ["--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-features=NetworkTimeServiceQuerying"]
"""The documented flags that keep most of Chromium's own traffic (updates, sync, time queries) out of the capture."""


def _handler(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
    if path == "/":
        return 200, "text/html; charset=utf-8", PAGE
    return 200, "text/plain", b"loaded-ok"


def _nss_profile(home: Path, ca_pem: Path) -> None:
    """The two certutil commands of docs/capture.md, on a fresh database."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    certutil = require_binary("certutil")
    subprocess.run([certutil, "-N", "--empty-password", "-d", f"sql:{nssdb}"], check=True, capture_output=True, timeout=30)
    subprocess.run([certutil, "-A", "-n", "mitmproxy", "-t", "C,,", "-i", str(ca_pem), "-d", f"sql:{nssdb}"],
                   check=True, capture_output=True, timeout=30)


def _record(tmp_path: Path, bypass_loopback: bool) -> tuple[list[str], dict[str, Any], str]:
    chromium = require_binary("chromium")
    upstream = TlsUpstream(["localhost"], handler=_handler).start()
    ca = tmp_path / "upstream-ca.pem"
    ca.write_bytes(upstream.cert_pem)
    confdir, home, out = tmp_path / "mitmproxy", tmp_path / "home", tmp_path / "session"
    log = tempfile.TemporaryFile()

    async def scenario(state: Any) -> None:
        try:
            _nss_profile(home, confdir / "mitmproxy-ca-cert.pem")  # written by mitmproxy at startup
            command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", *BACKGROUND_OFF,
                       f"--user-data-dir={tmp_path / 'profile'}", f"--proxy-server=http://127.0.0.1:{state.listen[0][1]}",
                       *(["--proxy-bypass-list=<-loopback>"] if bypass_loopback else []),
                       f"https://127.0.0.1:{upstream.port}/"]
            browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, HOME=str(home)))
            try:
                for _ in range(100 if bypass_loopback else 25):  # without the flag nothing comes: wait 5 s only
                    if any(r["path"].startswith("/finished") for r in upstream.requests) or browser.poll() is not None:
                        break
                    await asyncio.sleep(0.2)
            finally:
                browser.terminate()
                await asyncio.to_thread(browser.wait, 15)
        finally:
            state.stop.set()

    config = CaptureConfig(out=out, vendor="v", listen_port=0, duration=120, upstream_ca=ca,
                           option_specs=(f"confdir={confdir}",))
    try:
        manifest = asyncio.run(run_capture(config, on_ready=lambda s: asyncio.get_running_loop().create_task(scenario(s)), redactor=Redactor.default()))
    finally:
        upstream.stop()
    log.seek(0)
    tail = log.read()[-800:].decode("utf-8", "replace")
    log.close()
    return [r["path"] for r in upstream.requests], manifest, tail


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_documented_recipe_records_a_loopback_https_page(tmp_path: Path) -> None:
    paths, manifest, browser_log = _record(tmp_path, bypass_loopback=True)
    paths = [p for p in paths if p != "/favicon.ico"]
    assert paths == ["/", "/loaded?from=page", "/finished?got=loaded-ok"], (paths, browser_log)
    http = load_http_sources([tmp_path / "session" / "observations.jsonl"], redactor=Redactor.default())["http"]
    recorded = [(h["path"], h["status"]) for h in http if h["host"] == "127.0.0.1" and h["path"] != "/favicon.ico"]
    assert recorded == [("/", 200), ("/loaded", 200), ("/finished", 200)], recorded
    # What the flags do not silence is Chromium's own Google traffic (Chromium 156: an on-demand component
    # check at update.googleapis.com, accounts.google.com), never anything of the page; only such requests
    # fail upstream here (no route to the Internet), and the loopback target never does.
    others = {h["host"] for h in http if h["host"] != "127.0.0.1"}
    failed = set(manifest["stats"]["upstream_failures"]["hosts"])
    assert "127.0.0.1" not in failed, [(h["path"], h["status"], h["error"]) for h in http]
    for host in others | failed:
        assert host.endswith((".google.com", ".googleapis.com", ".gstatic.com")), (host, others, failed)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_without_the_loopback_rule_chromium_goes_around_the_proxy(tmp_path: Path) -> None:
    """Why the docs insist: Chromium never proxies loopback by default, so the session stays empty (and the
    upstream's private certificate, which the browser does not trust, stops the page)."""
    paths, manifest, _ = _record(tmp_path, bypass_loopback=False)
    http = load_http_sources([tmp_path / "session" / "observations.jsonl"], redactor=Redactor.default())["http"]
    assert not [h for h in http if h["host"] == "127.0.0.1"] and manifest["stats"]["records"]["tls_clienthello"] == 0
    assert not any(p.startswith("/loaded") for p in paths)
