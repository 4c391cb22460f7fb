"""Run every ``benchmarks/bench_*.py`` module in its own process; print a table, write out/bench.json.

Each module exposes ``main() -> list[dict]`` with rows
``{name, value, unit, peer, peer_value, ratio, target, ok}``. One module failing never hides the
others: its failure becomes a row with ``ok: false``.
Usage: ``python -m benchmarks.run [--only SUBSTRING] [--timeout SECONDS]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out" / "bench.json"
MARKER = "@@BENCH-ROWS@@"
FIELDS = ("name", "value", "unit", "peer", "peer_value", "ratio", "target", "ok")
_CHILD = ("import importlib, json, sys\n"
          "rows = importlib.import_module(sys.argv[1]).main()\n"
          f"print({MARKER!r} + json.dumps(rows, default=str), flush=True)\n")


def discover() -> list[str]:
    return sorted(f"benchmarks.{p.stem}" for p in (REPO / "benchmarks").glob("bench_*.py"))


def run_module(module: str, timeout: float) -> list[dict]:
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, module], cwd=REPO, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [_failure(module, f"timed out after {timeout:.0f} s")]
    rows_line = next((line for line in reversed(proc.stdout.splitlines()) if line.startswith(MARKER)), None)
    if proc.returncode != 0 or rows_line is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [_failure(module, f"exit {proc.returncode}: {tail}")]
    try:
        rows = json.loads(rows_line[len(MARKER):])
    except ValueError as exc:
        return [_failure(module, f"unreadable rows: {exc}")]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return [_failure(module, "main() did not return a list of dicts")]
    for row in rows:
        row.setdefault("module", module)
        row.setdefault("seconds", round(time.monotonic() - start, 1))
        for key in FIELDS:
            row.setdefault(key, None)
    return rows


def _failure(module: str, problem: str) -> dict:
    return {"name": module, "value": None, "unit": None, "peer": None, "peer_value": None, "ratio": None,
            "target": problem, "ok": False, "module": module, "error": problem}


def print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="confaudit benchmarks")
    for col in ("name", "value", "unit", "peer", "peer value", "ratio", "target", "ok"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["name"]), _fmt(r["value"]), str(r["unit"] or ""), str(r["peer"] or ""),
                      _fmt(r["peer_value"]), _fmt(r["ratio"]), str(r["target"] or ""),
                      "[green]yes[/green]" if r["ok"] else "[red]NO[/red]")
    Console(width=max(Console().width, 150)).print(table)


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run confaudit's benchmarks.")
    parser.add_argument("--only", help="run only modules whose name contains this")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per-module time limit (s)")
    args = parser.parse_args(argv)
    modules = [m for m in discover() if not args.only or args.only in m]
    rows: list[dict] = []
    for module in modules:
        print(f"running {module} ...", file=sys.stderr, flush=True)
        rows.extend(run_module(module, args.timeout))
    print_table(rows)
    sys.path.insert(0, str(REPO))
    from confaudit.jsonstream import write_json

    write_json(OUT, {"rows": rows, "modules": modules, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    print(f"wrote {OUT}", file=sys.stderr)
    return 0 if all(not r.get("error") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
