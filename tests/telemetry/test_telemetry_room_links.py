"""Room links: alphabet, length, entropy, empirical uniformity and reuse."""

from __future__ import annotations

import random
import string
import time

import pytest

from confaudit.room_link_stats import MAX_SAMPLES, analyze_room_links

PATTERN = r"https://rooms\.test/r/(?P<id>[A-Za-z0-9_-]+)"


def _links(ids: list[str]) -> list[str]:
    return [f"https://rooms.test/r/{i}?lang=en" for i in ids]


def test_random_mixed_case_suffix_is_about_59_bits_and_uniform() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    ids = ["".join(rng.choice(alphabet) for _ in range(10)) for _ in range(300)]
    result = analyze_room_links(_links(ids), PATTERN)
    assert result["samples"] == 300 and result["distinct_ids"] == 300
    assert result["alphabet_classes"] == ["digit", "lower", "upper"] and result["alphabet_size"] == 62
    assert result["length"] == {"min": 10, "max": 10}
    assert result["entropy_bits"] == pytest.approx(59.54, abs=0.01)
    assert result["uniformity"]["verdict"] == "consistent_with_uniform"
    assert result["min_hamming_distance"] >= 5
    assert result["reused_ids"] == [] and result["repeated_ids"] == []


def test_sequential_ids_are_not_uniform_and_close_together() -> None:
    ids = [f"room{n:06d}" for n in range(1000, 1400)]
    result = analyze_room_links(_links(ids), PATTERN)
    assert result["uniformity"]["verdict"] == "not_uniform"
    assert result["min_hamming_distance"] == 1
    assert result["position_classes"][0] == ["lower"] and result["position_classes"][5] == ["digit"]
    assert result["entropy_bits_positional"] < result["entropy_bits"]


def test_few_samples_say_insufficient_instead_of_passing() -> None:
    result = analyze_room_links(_links(["AbC123xyZ9", "QwErTy1234"]), PATTERN)
    assert result["uniformity"]["verdict"] == "insufficient_samples"


def test_reuse_across_rooms_and_sessions() -> None:
    items = [{"url": "https://rooms.test/r/SAME1234", "room": "alpha"},
             {"url": "https://rooms.test/r/SAME1234", "room": "beta"},
             {"url": "https://rooms.test/r/Other999", "session": "s1"},
             {"url": "https://rooms.test/r/Other999", "session": "s1"},
             "text https://rooms.test/r/Inline77 inside a body", 42, None]
    result = analyze_room_links(items, PATTERN)
    assert result["reused_ids"] == ["SAME1234"]
    assert result["repeated_ids"] == ["Other999", "SAME1234"]
    assert result["samples"] == 5


def test_bad_patterns_raise_value_error() -> None:
    with pytest.raises(ValueError, match="group for the room id"):
        analyze_room_links([], r"https://rooms\.test/r/[a-z]+")
    with pytest.raises(ValueError, match="not accepted by RE2.*missing \\]"):
        analyze_room_links([], r"(?P<id>[a-z")


def test_no_samples_is_an_empty_result_not_a_crash() -> None:
    result = analyze_room_links(["https://elsewhere.test/"], PATTERN)
    assert result["samples"] == 0 and result["entropy_bits"] == 0 and result["min_hamming_distance"] is None


def test_unnamed_group_is_the_room_id_as_in_claims_files() -> None:
    result = analyze_room_links(["https://rooms.test/r/AbCdEf1234", "https://rooms.test/x/zz"],
                                r"rooms\.test/r/([A-Za-z0-9]+)")
    assert result["samples"] == 1 and result["distinct_ids"] == 1


# Classic catastrophic-backtracking patterns, each with a text that makes Python's re run for ever.
HOSTILE = [
    (r"(a+)+$", "a" * 99_000 + "!"),
    (r"(a|aa)+$", "a" * 99_000 + "!"),
    (r"(\w+\s?)+$", "word " * 19_800 + "!"),
    (r"(.*a){20}", "x" * 99_000 + "a" * 19),
    (r"((a|b|ab)*)*c", "ab" * 49_500),
    (r"(?P<id>(a|a?)+)+b", "a" * 99_000),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pattern, hostile", HOSTILE, ids=[p for p, _ in HOSTILE])
def test_backtracking_patterns_finish_on_100_kb_urls(pattern: str, hostile: str) -> None:
    urls = [f"https://rooms.test/r/{hostile}", "https://rooms.test/r/AbCdEf1234"]
    started = time.monotonic()
    result = analyze_room_links(urls, pattern)
    assert time.monotonic() - started < 10
    assert result["stopped"] is None and result["complete"] is True and result["texts_read"] == 2


def test_python_only_syntax_and_oversized_patterns_are_refused_with_re2s_reason() -> None:
    for pattern, reason in ((r"(?=x)(?P<id>a+)", "invalid perl operator: (?="), (r"(a)\1", "invalid escape sequence: \\1"),
                            (r"(?<!x)(a)", "invalid perl operator: (?<!"), (r"(a{2000})", "invalid repetition size")):
        with pytest.raises(ValueError, match="not accepted by RE2") as info:
            analyze_room_links([], pattern)
        assert reason in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"too large to match in bounded time \(\d+ RE2 instructions, limit 2000\)"):
        analyze_room_links([], r"(.{999}.{999}.{999}x)")
    with pytest.raises(ValueError, match="matches the empty string"):
        analyze_room_links([], r"/r/|(x*)")
    with pytest.raises(ValueError, match="lone surrogate"):
        analyze_room_links([], "(a)\ud800")


def test_a_pattern_matching_nearly_everywhere_stops_at_the_match_limit() -> None:
    """(x)?a matches every 'a' without an id: counted, and the scan stops instead of running on."""
    urls = ["https://rooms.test/r/" + "a" * 99_000] * 3
    result = analyze_room_links(urls, r"(x)?a")
    assert result["stopped"] == "matches" and result["complete"] is False
    assert result["texts"] == 3 and result["texts_read"] == 0 and result["samples"] == 0


@pytest.mark.timeout(60)
def test_rescanning_pattern_stops_at_the_sample_limit_in_bounded_time() -> None:
    """(.*c|a): every match of 'a' first looks for a 'c' to the end of the text (quadratic over 100 KB)."""
    started = time.monotonic()
    result = analyze_room_links(["https://rooms.test/r/" + "a" * 99_000], r"(.*c|a)")
    assert time.monotonic() - started < 20
    assert result["stopped"] == "samples" and result["samples"] == MAX_SAMPLES and result["texts_read"] == 0


@pytest.mark.timeout(120)
def test_slow_pattern_stops_at_the_time_budget() -> None:
    """Within the size cap, RE2's fallback simulation of [ab]{999} costs about a second per 100 KB text."""
    rng = random.Random(3)
    urls = ["https://rooms.test/r/" + "".join(rng.choice("ab") for _ in range(99_000)) for _ in range(40)]
    started = time.monotonic()
    result = analyze_room_links(urls, r"([ab]*a[ab]{999}x)", time_budget_s=0.2)
    assert time.monotonic() - started < 30
    assert result["stopped"] == "time" and result["complete"] is False
    assert result["texts"] == 40 and result["texts_read"] < 10


def test_lone_surrogates_in_captured_text_match_nothing_and_do_not_crash() -> None:
    result = analyze_room_links(["https://rooms.test/r/Ab\ud800Cd", "https://rooms.test/r/\udcffXyZ123"],
                                r"rooms\.test/r/(?P<id>[A-Za-z0-9]+)")
    assert sorted(s for s in result["examples"]) == ["rooms.test/r/Ab"]
    assert result["texts_read"] == 2
