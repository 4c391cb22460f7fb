"""A Redactor reads or creates the key file: only the edges (commands, the mitmproxy addon entry) make one and
hand it down; library stages take it as a parameter. An AST scan of confaudit/ finds every construction."""

from __future__ import annotations

import ast
from pathlib import Path

from support.environment import REPO

PACKAGE = REPO / "confaudit"
EDGES = {"confaudit/commands", "confaudit/mitmproxy_addon.py"}
"""Where a Redactor may be made: each command (one per run) and the file ``mitmdump -s`` loads."""


def _is_edge(relative: str) -> bool:
    return any(relative == edge or relative.startswith(edge + "/") for edge in EDGES)


def _constructions(tree: ast.AST) -> list[int]:
    """Lines that call ``Redactor(...)``, ``Redactor.default()`` or ``<module>.Redactor(...)``, under any alias."""
    names = {"Redactor"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "confaudit.redact":
            names.update(a.asname for a in node.names if a.name == "Redactor" and a.asname)
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "default":
            func = func.value
        if (isinstance(func, ast.Name) and func.id in names) or (isinstance(func, ast.Attribute) and func.attr == "Redactor"):
            lines.append(node.lineno)
    return lines


def constructions_outside_edges(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).as_posix()
        if _is_edge(relative):
            continue
        found += [f"{relative}:{line}" for line in _constructions(ast.parse(path.read_text(encoding="utf-8")))]
    return found


def test_only_the_edges_construct_a_redactor() -> None:
    assert constructions_outside_edges(PACKAGE) == []


def test_the_scan_sees_every_spelling(tmp_path: Path) -> None:
    package = tmp_path / "confaudit"
    (package / "commands").mkdir(parents=True)
    (package / "commands" / "x.py").write_text("from confaudit.redact import Redactor\nr = Redactor.default()\n")
    (package / "stage.py").write_text(
        "from confaudit.redact import Redactor as R\nfrom confaudit import redact\n"
        "a = R.default()\nb = R(b'k')\nc = redact.Redactor(b'k')\nd = redact.Redactor.default()\n"
        "def f(redactor: R) -> None:\n    redactor.token('k', 'v')\n")
    assert constructions_outside_edges(package) == ["confaudit/stage.py:3", "confaudit/stage.py:4",
                                                    "confaudit/stage.py:5", "confaudit/stage.py:6"]


def test_the_edges_make_one() -> None:
    """The addon entries (installed and source checkout) hand their one Redactor to the recorder; every command
    that reads inputs makes one."""
    for addon in (PACKAGE / "mitmproxy_addon.py", PACKAGE.parent / "addons" / "confaudit.py"):
        assert _constructions(ast.parse(addon.read_text(encoding="utf-8"))), addon
    for command in ("analyze", "capture", "check", "compare", "diff", "report", "run", "score"):
        assert _constructions(ast.parse((PACKAGE / "commands" / f"{command}.py").read_text(encoding="utf-8"))), command
