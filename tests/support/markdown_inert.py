"""Is rendered Markdown inert on GitHub? Rendered with cmark-gfm, GitHub's own renderer."""

from __future__ import annotations

import re

# What GitHub would link, mention or reference in a comment or step summary if it reached the Markdown raw.
AUTOLINKABLE = ("www.evil.example/beacon", "write to admin@evil.example", "cc @octocat and @acme/security-team",
                "fixes #123, acme/rooms#45 and GH-67", "mailto:x@evil.example", "xmpp:x@evil.example/r",
                "https://evil.example/x", "ftp://evil.example/x", "Www.Evil.Example", "acme@0123456789abcdef01")
GITHUB_REFERENCE = re.compile(r"(?:^|[^\w])@[a-z0-9]|#[0-9]|\bgh-[0-9]|\bwww\.|://|[a-z0-9]@[a-z0-9]", re.I)
"""In rendered text, what github.com's mention, reference and autolink filters would still link."""


def render_gfm(markdown: str) -> tuple[str, str]:
    """(HTML, visible text) from cmark-gfm, GitHub's own renderer, with its autolink and table extensions."""
    import html

    import cmarkgfm

    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown)
    return rendered, html.unescape(re.sub(r"<[^>]*>", " ", rendered))


def assert_inert(markdown: str, *originals: str) -> None:
    rendered, visible = render_gfm(markdown)
    assert "<a " not in rendered and "<img" not in rendered, rendered
    assert not GITHUB_REFERENCE.search(visible), GITHUB_REFERENCE.search(visible)
    readable = " ".join(visible.replace("\u200b", "").split())
    for original in originals:  # the text reads the same: only zero-width spaces were added
        assert " ".join(original.split()) in readable, (original, readable[:400])
