"""Layout checks of rendered reports in Debian's Chromium (driven by Playwright, never a downloaded browser).

Screen: 1400 px wide. Print: the CSS width of an A4 page's printable area (210 mm minus the stylesheet's
2 x 12 mm margins = 186 mm = 703 px) with print media emulated, which is the width Chromium lays the
page out at when it prints; a PDF is printed as well. Screenshots and PDFs are kept as test artefacts.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SCREEN_WIDTH = 1400
PRINT_WIDTH = round((210 - 2 * 12) / 25.4 * 96)
"""CSS px of the printable width of A4 with the print stylesheet's 12 mm side margins (703)."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("CONFAUDIT_TEST_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))
"""Where screenshots are kept (git-ignored); override with $CONFAUDIT_TEST_ARTIFACTS."""

# Elements whose right edge passes the page column (the window, or <main>'s content box when that is
# narrower); on screen, boxes inside a scroll container
# (overflow-x auto/scroll) are allowed to (the container scrolls), in print nothing is.
_OVERFLOW_JS = """(allowScroll) => {
  const width = document.documentElement.clientWidth;
  // The page column: content may not leave it (on screen it is narrower than the window).
  const main = document.querySelector('main');
  const ms = getComputedStyle(main);
  const limit = Math.min(width, main.getBoundingClientRect().right - parseFloat(ms.paddingRight));
  const inScroller = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > limit + 1 && !(allowScroll && inScroller(el))) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)} "${(el.textContent || '').trim().slice(0, 40)}"`);
    }
  }
  const cut = [];
  for (const box of document.querySelectorAll('.table-wrap')) {
    if (box.scrollWidth > box.clientWidth + 1) cut.push(`${box.firstElementChild.className || 'table'} ${box.scrollWidth}>${box.clientWidth}`);
  }
  return {width, limit, scrollWidth: document.documentElement.scrollWidth, overflowing: out.slice(0, 20),
          overflowCount: out.length, scrolledTables: cut};
}"""

# Per claim card: the quote's box (visible without opening anything) and its order against our finding.
_QUOTES_JS = """() => Array.from(document.querySelectorAll('article.finding')).map((card) => {
  const quote = card.querySelector('.claim-quote');
  const finding = card.querySelector('.our-finding');
  const q = quote ? quote.getBoundingClientRect() : null;
  const f = finding ? finding.getBoundingClientRect() : null;
  return {id: card.id, text: quote ? quote.innerText : null, width: q ? q.width : 0, height: q ? q.height : 0,
          inClosedDetails: quote ? !!quote.closest('details:not([open])') : null,
          visibility: quote ? getComputedStyle(quote).visibility : null,
          quoteBottom: q ? q.bottom : null, findingTop: f ? f.top : null,
          evidenceOpen: !!card.querySelector('details[open]')};
})"""


@contextmanager
def chromium_page(width: int = SCREEN_WIDTH) -> Iterator[Any]:
    """A fresh Playwright page in /usr/bin/chromium (its own temporary profile), closed afterwards."""
    from playwright import sync_api
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            yield page
        finally:
            browser.close()


def overflow(page: Any, *, allow_scroll: bool) -> dict[str, Any]:
    """Elements past the viewport's right edge, and tables wider than their box."""
    return page.evaluate(_OVERFLOW_JS, allow_scroll)


def quotes(page: Any) -> list[dict[str, Any]]:
    """Each claim card's quote: text, box size, whether a closed <details> hides it, position vs our finding."""
    return page.evaluate(_QUOTES_JS)


def artifact_dir(name: str) -> Path:
    """A fresh folder for one test's screenshots (kept after the run for a human to look at)."""
    path = ARTIFACTS / name
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*"):
        if old.is_file():
            old.unlink()
    return path


def screenshots(page: Any, out: Path, name: str, part_height: int = 1300) -> None:
    """The whole page in one PNG, and in parts of ``part_height`` px (readable at full size)."""
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    width = page.viewport_size["width"]
    height = page.evaluate("document.documentElement.scrollHeight")
    for n, top in enumerate(range(0, height, part_height), 1):
        page.screenshot(path=str(out / f"{name}-part{n:02d}.png"), full_page=True,
                        clip={"x": 0, "y": top, "width": width, "height": min(part_height, height - top)})
