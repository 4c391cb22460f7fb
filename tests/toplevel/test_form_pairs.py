"""form_pairs is parse_qsl(keep_blank_values=True), byte for byte, on any string."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest

from confaudit.form_pairs import form_pairs


@pytest.mark.parametrize("text", ["", "&", "&&a", "a", "a=", "=b", "a=b=c", "a=1&b=2", "v=1&tid=UA-3&cid=42&ul=en-US",
                                  "a=1;b=2", "a b=c d", "x=%41&y=+", "é=ü&ß", "a==&&=&"])
def test_known_shapes(text: str) -> None:
    assert form_pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_random_strings_split_as_parse_qsl_splits_them() -> None:
    rng = random.Random(11)
    alphabet = "ab=&;%+ 2Fé\u2028\t"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        assert form_pairs(text) == parse_qsl(text, keep_blank_values=True), text
