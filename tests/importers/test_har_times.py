"""HAR startedDateTime: read as fromisoformat reads it, and refused (one line, the entry named) when it is no time."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from confaudit.errors import InputError
from confaudit.importers.har import _timestamp


def test_started_times_are_what_fromisoformat_gives() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        when = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=rng.randrange(200 * 365 * 86400 * 10**6))
        for spec in ("seconds", "milliseconds", "microseconds"):
            text = when.isoformat(timespec=spec)
            for form in (text, text.replace("+00:00", "Z"), text.replace("+00:00", "+02:00")):
                expected = datetime.fromisoformat(form.replace("Z", "+00:00")).timestamp()
                assert _timestamp(form, Path("x.har"), "entry 0") == expected, form
    for fraction in ("1", "12", "123", "1234", "12345", "123456"):
        text = f"2026-11-25T09:00:00.{fraction}Z"
        assert _timestamp(text, Path("x.har"), "entry 0") == datetime.fromisoformat(text[:-1] + "+00:00").timestamp()


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00.5Z", "2026-11-25T24:00:00Z",
                                  "2026-11-25T23:59:60Z", "x"])
def test_a_time_that_is_no_time_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="startedDateTime is not an ISO 8601 time"):
        _timestamp(text, Path("x.har"), "entry 0")
