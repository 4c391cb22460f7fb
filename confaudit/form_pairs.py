"""``urllib.parse.parse_qsl(text, keep_blank_values=True)``, without its per-pair unquoting when there is nothing
to unquote: a query or form without ``%`` and ``+`` splits into the same pairs with two string methods (every
request of a capture has one, and the stdlib's generality costs several microseconds each)."""

from __future__ import annotations

from urllib.parse import parse_qsl


def form_pairs(text: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of an ``a=1&b=2`` string, blank values kept, exactly as ``parse_qsl`` gives them."""
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True)
    return [(name, value) for name, _, value in (piece.partition("=") for piece in text.split("&") if piece)]
