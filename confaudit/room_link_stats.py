"""Room-link statistics: a room_link_pattern matched over texts -> alphabet, length, estimated entropy, an
empirical uniformity check and reuse. Pure (texts in, a dict out): telemetry writes the bundle's ``room_links``
section with it, and the room_links check applies a claims file's pattern to that section's ``candidate_urls``.

The founding claim to test is a "random mixed-case alphanumeric suffix, new link per room". From
observed links we report what the samples show; with few samples the alphabet is a lower bound and
the uniformity check says so instead of passing.

The pattern comes from a claims file someone else wrote: it is compiled and matched by RE2
(confaudit.user_regex), never by Python's backtracking ``re``, within a budget of matches and time;
a scan that a limit stopped says so (``stopped``) and is ``complete: false``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from confaudit.user_regex import PatternError, ScanBudget, UserMatch, UserPattern, compile_user_pattern, scan

if TYPE_CHECKING:
    from confaudit.evidence_model import RoomLinks

MAX_SAMPLES = 5000
"""Room ids collected at most; the scan stops there (``stopped: "samples"``)."""
MAX_MATCHES = 20000
"""Pattern matches examined at most, with or without an id: a pattern matching nearly everywhere
(``(x)?a``) stops here (``stopped: "matches"``) instead of rescanning long texts per match."""
MAX_TEXT_CHARS = 100000
"""Characters of one text (URL, header, body) that are searched."""
TIME_BUDGET_S = 10.0
"""Wall-clock seconds one analysis may spend matching (``stopped: "time"``): the last bound, for
patterns RE2 cannot run on its fast path over a large capture."""
MAX_ID_LEN = 512
CLASS_SIZES = {"lower": 26, "upper": 26, "digit": 10, "-": 1, "_": 1}


def char_class(ch: str) -> str:
    if "a" <= ch <= "z":
        return "lower"
    if "A" <= ch <= "Z":
        return "upper"
    if "0" <= ch <= "9":
        return "digit"
    if ch in "-_":
        return ch
    return "other"


def compile_pattern(pattern: str | UserPattern) -> UserPattern:
    """Compile a room-link pattern with RE2; the id is the named group ``id``, else the first group that matched.

    ValueError (one line) when RE2 refuses the pattern, it is too large, has no group at all, or
    matches the empty string.
    """
    if isinstance(pattern, UserPattern):
        compiled = pattern
    else:
        try:
            compiled = compile_user_pattern(pattern)
        except PatternError as exc:
            raise ValueError(f"room_link_pattern {exc}") from None
    if "id" not in compiled.named and compiled.groups == 0:
        raise ValueError("room_link_pattern needs a group for the room id: (?P<id>...) or (...)")
    if compiled.matches_empty_text():
        raise ValueError("room_link_pattern matches the empty string, so it would match everywhere; "
                         "make the room id group need at least one character")
    return compiled


def _match_id(match: UserMatch) -> str | None:
    if "id" in match.named:
        return match.group("id")
    return next((g for g in match.groups if g), None)


def _samples(urls: Any, compiled: UserPattern, budget: ScanBudget) -> tuple[list[tuple[str, str, str | None]], int, int]:
    """(id, url, context) for every match, texts given, texts read to the end (the rest cut by a limit).

    context = room/session label when items are dicts.
    """
    out: list[tuple[str, str, str | None]] = []
    items = urls if isinstance(urls, (list, tuple)) else ()
    texts = read = 0
    for item in items:
        context = None
        if isinstance(item, dict):
            context = item.get("room") or item.get("session")
            context = str(context) if context is not None else None
            item = item.get("url")
        if not isinstance(item, str):
            continue
        texts += 1
        if budget.stopped is not None:
            continue
        for match in scan(compiled, item[:MAX_TEXT_CHARS], budget):
            ident = _match_id(match)
            if ident and len(ident) <= MAX_ID_LEN:
                out.append((ident, match.text[:300], context))
                if len(out) >= MAX_SAMPLES:
                    budget.stopped = "samples"
                    break
        if budget.stopped is None:
            read += 1
    return out, texts, read


def _alphabet_size(classes: set[str], others: set[str]) -> int:
    return sum(CLASS_SIZES.get(c, 0) for c in classes) + len(others)


def _uniformity(ids: list[str], classes: set[str], others: set[str]) -> dict[str, Any]:
    """Chi-square of character frequencies against a uniform draw from the observed alphabet."""
    alphabet = _alphabet_size(classes, others)
    counts = Counter(ch for ident in ids for ch in ident)
    total = sum(counts.values())
    if alphabet < 2 or total < 5 * alphabet:
        return {"verdict": "insufficient_samples", "characters": total, "needed": 5 * max(alphabet, 2),
                "chi_square": None, "p_value": None}
    expected = total / alphabet
    chi2 = sum((counts.get(ch, 0) - expected) ** 2 / expected for ch in _alphabet_chars(classes, others))
    p_value = _chi2_sf(chi2, alphabet - 1)
    return {"verdict": "consistent_with_uniform" if p_value >= 0.001 else "not_uniform",
            "characters": total, "needed": 5 * alphabet, "chi_square": round(chi2, 3), "p_value": round(p_value, 6)}


def _alphabet_chars(classes: set[str], others: set[str]) -> list[str]:
    chars = list(others)
    if "lower" in classes:
        chars += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    if "upper" in classes:
        chars += [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    if "digit" in classes:
        chars += [str(d) for d in range(10)]
    chars += [c for c in "-_" if c in classes]
    return chars


def _chi2_sf(x: float, df: int) -> float:
    """Upper tail of chi-square (Wilson-Hilferty normal approximation; fine for df >= 2)."""
    if x <= 0:
        return 1.0
    z = ((x / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


def _min_distance(ids: list[str]) -> int | None:
    """Smallest Hamming distance between distinct same-length ids (first 400 ids; None if no pair)."""
    distinct = sorted(set(ids))[:400]
    best = None
    for i, a in enumerate(distinct):
        for b in distinct[i + 1:]:
            if len(a) == len(b):
                d = sum(x != y for x, y in zip(a, b))
                best = d if best is None else min(best, d)
    return best


def analyze_room_links(urls: Any, pattern: str | UserPattern, time_budget_s: float = TIME_BUDGET_S) -> RoomLinks:
    """Analyse room links in ``urls`` (strings, or dicts ``{url, room|session}``) with ``pattern``.

    Raises ValueError for an invalid pattern (the caller maps it to a claims error). Matching stops at
    the first limit reached (samples, matches, ``time_budget_s``), named in ``stopped``.
    """
    compiled = compile_pattern(pattern)
    budget = ScanBudget.start(time_budget_s, MAX_MATCHES)
    samples, texts, texts_read = _samples(urls, compiled, budget)
    ids = [s[0] for s in samples]
    distinct = sorted(set(ids))
    classes: set[str] = set()
    others: set[str] = set()
    lengths = [len(i) for i in distinct]
    width = max(lengths, default=0)
    positional: list[set[str]] = [set() for _ in range(width)]
    for ident in distinct:
        for pos, ch in enumerate(ident):
            cls = char_class(ch)
            classes.add(cls)
            positional[pos].add(cls)
            if cls == "other":
                others.add(ch)
    alphabet = _alphabet_size(classes, others)
    min_len = min(lengths, default=0)
    uniform_bits = min_len * math.log2(alphabet) if alphabet > 1 else 0.0
    positional_bits = 0.0
    for pos in range(min_len):
        here_others = {i[pos] for i in distinct if char_class(i[pos]) == "other"}
        positional_bits += math.log2(max(_alphabet_size(positional[pos], here_others), 1))
    contexts: dict[str, set[str]] = {}
    for ident, _url, ctx in samples:
        if ctx is not None:
            contexts.setdefault(ident, set()).add(ctx)
    occurrences = Counter(ids)
    analysis: RoomLinks = {
        "pattern": compiled.source,
        "texts": texts,
        "texts_read": texts_read,
        "samples": len(samples),
        "distinct_ids": len(distinct),
        "examples": [s[1] for s in samples[:5]],
        "length": {"min": min_len, "max": max(lengths, default=0)},
        "alphabet_classes": sorted(classes),
        "alphabet_size": alphabet,
        "position_classes": [sorted(p) for p in positional],
        "entropy_bits": round(uniform_bits, 2),
        "entropy_bits_positional": round(positional_bits, 2),
        "entropy_basis": "log2(alphabet_size ** min_length), alphabet = character classes seen in the samples",
        "uniformity": _uniformity(distinct, classes, others),
        "min_hamming_distance": _min_distance(distinct),
        "reused_ids": sorted(i for i, ctx in contexts.items() if len(ctx) > 1),
        "repeated_ids": sorted(i for i, n in occurrences.items() if n > 1)[:100],
        "stopped": budget.stopped,
        "complete": budget.stopped is None,
    }
    return analysis
