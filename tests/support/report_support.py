"""Helpers for the report tests: injection payloads, a headless Chromium runner, static HTML checks."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

MARKER = "data-pw" + "ned"
"""Attribute an executed payload sets on <html>; never present in any payload's source text."""


def _js(n: int) -> str:
    # No quotes, so the same code works inside single- and double-quoted attribute breakouts.
    return f"document.documentElement.setAttribute(`data-pw`+`ned-{n}`,1)"


PAYLOADS: tuple[str, ...] = (
    f"<script>{_js(0)}</script>",
    f"<img src=x onerror={_js(1)}>",
    f"\"><img src=x onerror={_js(2)}>",
    f"'><svg onload={_js(3)}>",
    f"</script><script>{_js(4)}</script>",
    f"<details open ontoggle={_js(5)}>",
    f"\u2028</SCRIPT ><script>{_js(6)}</script>",
    f"<iframe srcdoc=\"<script>parent.{_js(7)}</script>\"></iframe>",
    f"<svg><animate onbegin={_js(8)} attributeName=x dur=1s></svg>",
    f"<video><source onerror={_js(9)}></video>",
    f"<input autofocus onfocus={_js(10)}>",
    f"javascript:{_js(11)}//",
)
"""Each runs on its own once parsed as HTML (javascript: needs a click: checked statically instead)."""
AUTO_RUNNING = tuple(range(11))
TEMPLATE_SYNTAX = "{{ 7*7 }}{% raw %}"


def run_chromium(chromium: str, page: Path, profile: Path, screenshot: Path | None = None, pdf: Path | None = None) -> str:
    """Load ``page`` over file:// in a fresh headless profile; the DOM after 3 s of virtual time."""
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--window-size=1280,2000"]
    if pdf:
        args += [f"--print-to-pdf={pdf}", "--no-pdf-header-footer"]
    else:
        args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run(args + [page.resolve().as_uri()], capture_output=True, text=True, timeout=90)
    return done.stdout


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.first_head_tag: str | None = None
        self.csp: str | None = None
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "head":
            self._in_head = True
        elif self._in_head and self.first_head_tag is None:
            self.first_head_tag = tag
            if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
                self.csp = a.get("content")
        if tag == "script":
            self.scripts.append(a)
        self.handlers += [k for k, _ in attrs if k.lower().startswith("on")]
        if "href" in a:
            self.hrefs.append(a["href"] or "")
        for key in ("src", "srcdoc", "formaction", "action", "xlink:href"):
            if key in a:
                self.srcs.append(f"{key}={a[key]}")


def static_scan(html: str) -> _Scan:
    """Parse a report: CSP position, scripts, event-handler attributes, link targets."""
    scan = _Scan()
    scan.feed(html)
    return scan


def embedded_json(html: str, data_id: str = "confaudit-findings") -> object:
    """The machine-readable block, parsed."""
    m = re.search(rf'<script type="application/json" id="{data_id}">(.*?)</script>', html, re.S)
    assert m, "embedded JSON block missing"
    return json.loads(m.group(1))
