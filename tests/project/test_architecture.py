"""The layering in docs/architecture.md holds: import-linter's contracts in pyproject.toml (stages import only the
stages below them; no import cycles between sibling modules or packages, function-level imports included)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.environment import REPO, TESTS


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a dev dependency (make test installs it)"
    result = subprocess.run([lint, "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_test_modules_import_shared_helpers_only_from_tests_support() -> None:
    import ast

    tests = TESTS
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top == "conftest" or top.startswith("test_") or (tests / f"{top}.py").is_file():
                    offenders.append(f"{path.relative_to(tests)}:{node.lineno} imports {name}")
    assert not offenders, offenders
    assert not [p.name for p in tests.glob("*.py") if not p.name.startswith("test_") and p.name != "conftest.py"], \
        "shared test helpers belong in tests/support/"
    assert not list(tests.glob("test_*.py")), "test files live in the folder of the package they test (tests/<package>/)"
