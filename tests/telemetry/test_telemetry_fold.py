"""The fold's classification shortcut for digits gives what classify_located gives, field for field."""

from __future__ import annotations

import pytest

from confaudit.redact import Redactor
from confaudit.telemetry.decode import Field
from confaudit.telemetry.fields import Located, classify_located
from confaudit.telemetry.fold import EventFold
from confaudit.telemetry.known import KnownMatcher, KnownValue
from confaudit.telemetry.phases import PhaseIndex


def _fold(known: list[KnownValue]) -> EventFold:
    return EventFold({}, {}, PhaseIndex([]), {}, KnownMatcher(known), Redactor(b"k"), set(), None)


PLACES = [("query", "seq", ("seq",), ()), ("body", "device.cores", ("device", "cores"), ("json",)),
          ("header", "x-request-id", ("x-request-id",), ()), ("body", "file;filename", ("file",), ("multipart", "multipart-filename")),
          ("path", "$", (), ()), ("body", "phone", ("phone",), ("form",)), ("message", "ts", ("ts",), ("json",))]


@pytest.mark.parametrize("place", PLACES)
def test_digits_classify_as_classify_located_classifies_them(place: tuple) -> None:
    location, path, keys, transforms = place
    fold = _fold([KnownValue("account", "phone", "15551234567")])
    for value in ["7", "42", "1795597200", "3735928559", "15551234567", "0015551234567", "8" * 30]:
        expected = classify_located(Located(location, Field(path, keys, value, transforms)), fold.matcher)
        assert fold._classify((location, path, keys, value, transforms)) == expected, value
    assert len(fold._digit_places) == 1  # one classification served the ids that match no known value
