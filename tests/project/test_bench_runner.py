"""benchmarks/run.py: every module runs in its own process and a broken one becomes a failing row."""

from __future__ import annotations

from benchmarks.run import FIELDS, discover, run_module


def test_discovers_bench_modules():
    modules = discover()
    assert "benchmarks.bench_analyze" in modules and all(m.startswith("benchmarks.bench_") for m in modules)


def test_a_broken_module_is_a_failing_row_not_a_crash():
    rows = run_module("benchmarks.bench_does_not_exist", timeout=120)
    assert len(rows) == 1 and rows[0]["ok"] is False and "ModuleNotFoundError" in rows[0]["error"]
    assert set(FIELDS) <= set(rows[0])
