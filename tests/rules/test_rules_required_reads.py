"""Checks index the fields their section's schema requires instead of ``.get``-ing them.

The typed readers (``records``/``obj``) leave out records lacking a required key, so a ``.get("ssrc")`` on a
media stream could only hide a default; a required field read with ``.get(key, default)`` would fail open
the day the reader changed. This walks every check module and follows the names bound to a section's records
(``for s in records(bundle, "media_streams") or []``, ``enumerate(...)``, comprehensions, and names
assigned from ``records(...)``/``obj(...)``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from confaudit.evidence_model import REQUIRED_KEYS

from support.environment import REPO

CHECKS = sorted((REPO / "confaudit" / "rules" / "checks").glob("*.py"))


def _section_of(call: ast.expr) -> str | None:
    """The section a ``records(bundle, "x")``/``obj(bundle, "x")`` call (or ``... or []``) reads."""
    if isinstance(call, ast.BoolOp):
        call = call.values[0]
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("records", "obj")
            and len(call.args) == 2 and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str)):
        return call.args[1].value
    return None


def _iterated(source: ast.expr, lists: dict[str, str | None]) -> str | None:
    """The section whose records ``source`` iterates (directly, through enumerate, or through a name)."""
    if isinstance(source, ast.Call) and isinstance(source.func, ast.Name) and source.func.id == "enumerate" and source.args:
        return _iterated(source.args[0], lists)
    if isinstance(source, ast.BoolOp):
        source = source.values[0]
    if isinstance(source, ast.Subscript):  # records(...)[:10]
        source = source.value
    if isinstance(source, ast.Name):
        return lists.get(source.id)
    return _section_of(source)


def _target_name(target: ast.expr, through_enumerate: bool) -> str | None:
    if through_enumerate and isinstance(target, ast.Tuple) and len(target.elts) == 2:
        target = target.elts[1]
    return target.id if isinstance(target, ast.Name) else None


def _bind(names: dict[str, str | None], name: str, section: str) -> None:
    """Bind ``name`` to ``section``; a name bound to two sections in one function is left alone (None)."""
    names[name] = section if names.get(name, section) == section else None


def required_gets(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, section, key) of each ``name.get("key")`` where ``name`` is a record of a section requiring key."""
    found = []
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        lists: dict[str, str | None] = {}
        bound: dict[str, str | None] = {}
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                section = _section_of(node.value)
                if section is not None:
                    is_obj = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "obj"
                    _bind(bound if is_obj else lists, node.targets[0].id, section)
            loops = [(node.target, node.iter)] if isinstance(node, ast.For) else \
                [(g.target, g.iter) for g in node.generators] if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)) else []
            for target, source in loops:
                section = _iterated(source, lists)
                enumerated = isinstance(source, ast.Call) and getattr(source.func, "id", "") == "enumerate"
                name = _target_name(target, enumerated)
                if section is not None and name is not None:
                    _bind(bound, name, section)
        for node in ast.walk(func):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in bound and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                section, key = bound[node.func.value.id], node.args[0].value
                if section is not None and key in REQUIRED_KEYS.get(section, ()):
                    found.append((node.lineno, section, key))
    return found


def test_checks_index_required_fields() -> None:
    offences = [f"{path.relative_to(REPO)}:{line}: {section}[].{key} is required: index it"
                for path in CHECKS for line, section, key in required_gets(ast.parse(path.read_text(encoding="utf-8")))]
    assert not offences, "\n".join(offences)


def test_the_scan_finds_a_required_get() -> None:
    """The walker itself: each binding form it follows is found; a NotRequired key and params are not."""
    source = '''
def check(bundle, params):
    for s in records(bundle, "media_streams") or []:
        s.get("ssrc")
        s.get("encryption")
        s.get("turn_channel")
    for i, d in enumerate(records(bundle, "dtls") or []):
        d.get("flow")
    tls = records(bundle, "tls")
    names = [t.get("sni") for t in tls or []]
    path = obj(bundle, "media_path")
    path.get("reasons")
    params.get("ssrc")
    for item in records(bundle, "http") or []:
        item.get("url")
    for item in records(bundle, "flows") or []:
        item.get("dst")
'''
    found = {(section, key) for _, section, key in required_gets(ast.parse(source))}
    assert found == {("media_streams", "ssrc"), ("media_streams", "encryption"), ("dtls", "flow"), ("tls", "sni"),
                     ("media_path", "reasons")}
