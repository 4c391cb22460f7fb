"""Room links: alphabet, length, entropy, empirical uniformity and reuse."""

from __future__ import annotations

import random
import string

import pytest

from confaudit.telemetry.room_links import analyze_room_links

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
    with pytest.raises(ValueError, match="regular expression"):
        analyze_room_links([], r"(?P<id>[a-z")


def test_no_samples_is_an_empty_result_not_a_crash() -> None:
    result = analyze_room_links(["https://elsewhere.test/"], PATTERN)
    assert result["samples"] == 0 and result["entropy_bits"] == 0 and result["min_hamming_distance"] is None


def test_unnamed_group_is_the_room_id_as_in_claims_files() -> None:
    result = analyze_room_links(["https://rooms.test/r/AbCdEf1234", "https://rooms.test/x/zz"],
                                r"rooms\.test/r/([A-Za-z0-9]+)")
    assert result["samples"] == 1 and result["distinct_ids"] == 1
