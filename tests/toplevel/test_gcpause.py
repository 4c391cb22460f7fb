"""Records built by a reader are kept out of the cyclic collector's sight only while a build holds them."""

from __future__ import annotations

import gc

import pytest

from confaudit.gcpause import gc_paused, records_held


def _read(keep: bool) -> list[dict[str, int]]:
    with gc_paused(keep=keep):
        assert not gc.isenabled()
        return [{"n": n} for n in range(1000)]


def test_a_reader_inside_a_build_freezes_its_records_until_the_build_ends() -> None:
    seen: list[int] = []

    @records_held
    def build() -> list[dict[str, int]]:
        records = _read(keep=True)
        seen.append(gc.get_freeze_count())
        assert gc.isenabled()
        return records

    before = gc.get_freeze_count()  # the interpreter freezes a few hundred objects of its own at start-up
    records = build()
    assert seen and seen[0] >= before + len(records)
    assert gc.get_freeze_count() <= before


def test_a_reader_outside_a_build_freezes_nothing() -> None:
    before = gc.get_freeze_count()
    _read(keep=True)
    assert gc.get_freeze_count() == before
    assert gc.isenabled()


def test_nested_builds_thaw_at_the_outermost_and_after_a_failure() -> None:
    counts: list[int] = []
    before = gc.get_freeze_count()

    @records_held
    def inner() -> None:
        _read(keep=True)

    @records_held
    def outer() -> None:
        inner()
        counts.append(gc.get_freeze_count())
        raise RuntimeError("analysis failed")

    with pytest.raises(RuntimeError):
        outer()
    assert counts[0] >= before + 1000
    assert gc.get_freeze_count() <= before


def test_a_paused_block_restores_a_disabled_collector() -> None:
    gc.disable()
    try:
        _read(keep=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_process_about_to_end_keeps_the_records_frozen_after_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from confaudit import gcpause

    monkeypatch.setattr(gcpause, "_thaw", True)
    gcpause.keep_frozen()
    try:
        @records_held
        def build() -> list[dict[str, int]]:
            return _read(keep=True)

        before = gc.get_freeze_count()
        records = build()
        assert gc.get_freeze_count() >= before + len(records)  # a later full collection will not traverse them
    finally:
        gc.unfreeze()  # the test process goes on: nothing stays frozen
