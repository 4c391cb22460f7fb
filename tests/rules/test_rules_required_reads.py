"""Checks, scores, reports, diff and compare index the fields their section's schema requires instead of
``.get``-ing them.

The typed readers (``section_records``/``section_object`` of confaudit.evidence_model) leave out records
lacking a required key, so a ``.get("ssrc")`` on a media stream could only hide a default; a required field
read with ``.get(key, default)`` would fail open the day the reader changed. This walks the check modules and
the modules that read a bundle after them (confaudit/rules, report, formats, commands), recognises the readers
under whatever names each module imports them as (``from confaudit.evidence_model import section_records as
records``, the checks' ``records``/``obj`` re-exported by confaudit/rules/checks/_common.py, a module imported
as a name), and follows the names bound to a section's records: ``for s in records(bundle, "media_streams")
or []``, ``enumerate(...)``, comprehensions, names assigned (plainly, annotated or with ``:=``) from a reader,
a slice or a filtering comprehension of its records, and ``rows[0]``.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from confaudit.evidence_model import REQUIRED_KEYS

from support.environment import REPO

PACKAGE = REPO / "confaudit"
SCANNED = sorted({*(PACKAGE / "rules" / "checks").glob("*.py"), *(PACKAGE / "rules").glob("*.py"),
                  *(PACKAGE / "report").glob("*.py"), *(PACKAGE / "formats").glob("*.py"),
                  *(PACKAGE / "commands").glob("*.py")})
"""The modules whose reads of a bundle's records are checked."""

MODEL = "confaudit.evidence_model"
LIST, OBJECT = "list", "object"
READERS = {"section_records": LIST, "section_object": OBJECT}
"""The typed readers as the model defines them: a list section's records, an object section."""

Readers = dict[str, str]
"""Local name -> LIST/OBJECT: the names a module can call a typed reader by."""
Modules = dict[str, str]
"""Local (dotted) name -> module: the confaudit modules a module imported as names."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_from(node: ast.ImportFrom, module: str) -> str | None:
    """The absolute module a ``from ... import`` in ``module`` names (a relative import resolved from there)."""
    if not node.level:
        return node.module
    source = _source(module)
    parts = module.split(".") if source is not None and source.name == "__init__.py" else module.split(".")[:-1]
    parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, node.module] if node.module else parts) or None


@cache
def _tree(module: str) -> ast.Module | None:
    path = _source(module) if module.startswith("confaudit") else None
    return ast.parse(path.read_text(encoding="utf-8")) if path is not None else None


_CHASING: set[tuple[str, str]] = set()


@cache
def offered(module: str, name: str) -> str | None:
    """The typed reader (LIST/OBJECT) that attribute ``name`` of ``module`` is, following the module's
    top-level imports (``from confaudit.evidence_model import section_records as records``) and re-exports
    (``records = section_records``); None when it is no reader. A chain of re-exports is finite unless it
    loops, which makes no reader."""
    if module == MODEL:
        return READERS.get(name)
    tree = _tree(module)
    if tree is None or (module, name) in _CHASING:
        return None
    _CHASING.add((module, name))
    try:
        for stmt in reversed(tree.body):  # the last top-level binding of the name is the module's attribute
            if isinstance(stmt, ast.ImportFrom):
                base = _imported_from(stmt, module)
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name:
                        return offered(base, alias.name) if base else None
            elif (isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Name)
                  and name in [t.id for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                               if isinstance(t, ast.Name)]):
                return offered(module, stmt.value.id)
        return None
    finally:
        _CHASING.discard((module, name))


def reader_names(tree: ast.Module, module: str) -> tuple[Readers, Modules]:
    """The names ``tree`` (the source of ``module``) calls the typed readers by, resolved from its imports
    (at any depth: commands import inside functions) and its top-level ``name = reader`` re-exports; and the
    confaudit modules it imported as names (``import confaudit.evidence_model as model``)."""
    readers: Readers = {}
    modules: Modules = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _imported_from(node, module)
            if not base or not base.startswith("confaudit"):
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if (kind := offered(base, alias.name)) is not None:
                    readers[local] = kind
                elif _source(f"{base}.{alias.name}") is not None:
                    modules[local] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("confaudit"):
                    modules[alias.asname or alias.name] = alias.name
    changed = True
    while changed:  # records = section_records; rows = records
        changed = False
        for stmt in tree.body:
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and stmt.value.id in readers
                    and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id not in readers):
                readers[stmt.targets[0].id] = readers[stmt.value.id]
                changed = True
    return readers, modules


def _dotted(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        head = _dotted(expr.value)
        return f"{head}.{expr.attr}" if head else None
    return None


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class _Scope:
    """One Python scope (the module, a function, a lambda, a comprehension): the AST nodes evaluated in it,
    the names it binds, and which of them hold a section's record list (``lists``) or record (``bound``).
    A name not bound here is looked up in the enclosing scopes, as Python does."""

    def __init__(self, node: ast.AST, parent: _Scope | None, readers: Readers, modules: Modules) -> None:
        self.node, self.parent = node, parent
        self.readers, self.modules = readers, modules
        self.nodes: list[ast.AST] = []
        self.locals: set[str] = set()
        self.lists: dict[str, str | None] = {}
        self.bound: dict[str, str | None] = {}
        self.recognised: set[int] = set()
        """The targets (Name or arg nodes, by id) a binding form below bound to a section."""
        self.changed = False

    @property
    def function(self) -> _Scope:
        """Where ``:=`` in a comprehension binds: the nearest enclosing non-comprehension scope."""
        return self.parent.function if isinstance(self.node, _COMPREHENSIONS) and self.parent else self

    def owner(self, name: str) -> _Scope | None:
        scope: _Scope | None = self
        while scope is not None and name not in scope.locals:
            scope = scope.parent
        return scope

    def lookup(self, names: str, name: str) -> str | None:
        owner = self.owner(name)
        return getattr(owner, names).get(name) if owner is not None else None

    def bind(self, names: str, target: ast.Name | ast.arg, section: str) -> None:
        """Bind ``target`` to ``section``; a name bound to two sections in one scope is left alone (None)."""
        name = target.id if isinstance(target, ast.Name) else target.arg
        table: dict[str, str | None] = getattr(self, names)
        value = section if table.get(name, section) == section else None
        self.recognised.add(id(target))
        if name not in table or table[name] != value:
            table[name] = value
            self.changed = True

    def reader_call(self, expr: ast.expr) -> tuple[str, str] | None:
        """(kind, section) of a typed reader call ``reader(bundle, "x")`` under any name this module has for it."""
        if not (isinstance(expr, ast.Call) and len(expr.args) == 2 and isinstance(expr.args[1], ast.Constant)
                and isinstance(expr.args[1].value, str)):
            return None
        kind = None
        if isinstance(expr.func, ast.Name):
            kind = self.readers.get(expr.func.id) if self.owner(expr.func.id) in (None, self.root) else None
        elif isinstance(expr.func, ast.Attribute):
            owner = _dotted(expr.func.value)
            module = self.modules.get(owner) if owner else None
            kind = offered(module, expr.func.attr) if module else None
        return (kind, expr.args[1].value) if kind else None

    @property
    def root(self) -> _Scope:
        return self.parent.root if self.parent else self

    def list_section(self, expr: ast.expr) -> str | None:
        """The section whose records list ``expr`` is: a reader call (``or []``), a name bound to one, a slice
        of one, ``sorted``/``list``/``reversed`` of one, or a comprehension filtering one's records."""
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):  # ``or []`` adds no record
            empty = all(isinstance(v, (ast.List, ast.Tuple)) and not v.elts for v in expr.values[1:])
            return self.list_section(expr.values[0]) if empty else None
        if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Slice):
            return self.list_section(expr.value)
        if isinstance(expr, ast.Name):
            return self.lookup("lists", expr.id)
        if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("sorted", "list", "reversed")
                and expr.args):
            return self.list_section(expr.args[0])
        if (isinstance(expr, ast.ListComp) and len(expr.generators) == 1 and isinstance(expr.elt, ast.Name)
                and isinstance(expr.generators[0].target, ast.Name) and expr.generators[0].target.id == expr.elt.id):
            return self.list_section(expr.generators[0].iter)
        call = self.reader_call(expr)
        return call[1] if call and call[0] == LIST else None

    def record_section(self, expr: ast.expr) -> str | None:
        """The section whose record ``expr`` is: a name bound to one, an object reader call, or an item of a
        records list. Not ``obj(...) or {}``: the stand-in for an absent section lacks every key, so reading it
        with ``.get`` is the absent section's default, not a required field's."""
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            # ``obj(...) or {}`` may be the empty stand-in for an absent section, which has none of the keys
            fallbacks = all(isinstance(v, ast.Constant) and v.value is None for v in expr.values[1:])
            return self.record_section(expr.values[0]) if fallbacks else None
        if isinstance(expr, ast.Name):
            return self.lookup("bound", expr.id)
        if isinstance(expr, ast.Subscript) and not isinstance(expr.slice, ast.Slice):
            return self.list_section(expr.value)
        call = self.reader_call(expr)
        return call[1] if call and call[0] == OBJECT else None

    def assign(self, target: ast.expr, value: ast.expr, into: _Scope) -> None:
        """``target = value``: ``value`` read here, ``target`` bound in ``into``."""
        if not isinstance(target, ast.Name):
            return
        if (section := self.list_section(value)) is not None:
            into.bind("lists", target, section)
        elif (section := self.record_section(value)) is not None:
            into.bind("bound", target, section)

    def loop(self, target: ast.expr, source: ast.expr, into: _Scope) -> None:
        """``for target in source`` (directly, or through ``enumerate(...)``): ``source`` read here, ``target``
        bound in ``into``."""
        if isinstance(source, ast.Call) and isinstance(source.func, ast.Name) and source.func.id == "enumerate" and source.args:
            if isinstance(target, ast.Tuple) and len(target.elts) == 2:
                self.loop(target.elts[1], source.args[0], into)
            return
        section = self.list_section(source)
        if section is not None and isinstance(target, ast.Name):
            into.bind("bound", target, section)

    def keyed(self, node: ast.Call) -> None:
        """``sorted(rows, key=lambda r: ...)``, ``min``/``max`` likewise, ``rows.sort(key=...)``: ``r`` is a record."""
        key = next((k.value for k in node.keywords if k.arg == "key"), None)
        if not isinstance(key, ast.Lambda) or not key.args.args:
            return
        if isinstance(node.func, ast.Name) and node.func.id in ("sorted", "min", "max") and node.args:
            rows: ast.expr | None = node.args[0]
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "sort":
            rows = node.func.value
        else:
            return
        section = self.list_section(rows)
        if section is not None:
            _SCOPE_OF[id(key)].bind("bound", key.args.args[0], section)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            self.assign(node.targets[0], node.value, self)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, node.value, self)
        elif isinstance(node, ast.NamedExpr):
            self.assign(node.target, node.value, self.function)
        elif isinstance(node, ast.For):
            self.loop(node.target, node.iter, self)
        elif isinstance(node, _COMPREHENSIONS) and node is not self.node:
            inner = _SCOPE_OF[id(node)]
            for n, generator in enumerate(node.generators):  # the first source is read in the enclosing scope
                (self if n == 0 else inner).loop(generator.target, generator.iter, inner)
        elif isinstance(node, ast.Call):
            self.keyed(node)

    def poison(self) -> None:
        """A name also bound otherwise in this scope (a parameter, another loop or assignment, ``with``,
        ``except`` or tuple targets) may hold anything there: it is left alone (None)."""
        for node in self.nodes:
            if isinstance(node, (ast.Name, ast.arg)) and id(node) not in self.recognised:
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
                    continue
                name = node.id if isinstance(node, ast.Name) else node.arg
                self.lists[name] = self.bound[name] = None


_SCOPE_OF: dict[int, _Scope] = {}
"""A scope-opening node (by id) -> its scope, for the tree being scanned."""


def _scopes(tree: ast.Module, readers: Readers, modules: Modules) -> list[_Scope]:
    """Every scope of ``tree``, each with the nodes evaluated in it (a function's decorators, defaults and
    annotations, and a comprehension's first source, are evaluated in the enclosing scope)."""
    scopes: list[_Scope] = []

    def open_scope(node: ast.AST, parent: _Scope | None) -> _Scope:
        scope = _Scope(node, parent, readers, modules)
        _SCOPE_OF[id(node)] = scope
        scopes.append(scope)
        return scope

    def walk(node: ast.AST, scope: _Scope) -> None:
        scope.nodes.append(node)
        if isinstance(node, _FUNCTIONS):
            inner = open_scope(node, scope)
            args = node.args
            for outer in [*args.defaults, *(d for d in args.kw_defaults if d is not None),
                          *getattr(node, "decorator_list", []), *([node.returns] if getattr(node, "returns", None) else []),
                          *(a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation)]:
                walk(outer, scope)
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, *([args.vararg] if args.vararg else []),
                        *([args.kwarg] if args.kwarg else [])]:
                inner.nodes.append(arg)
            for stmt in node.body if isinstance(node.body, list) else [node.body]:
                walk(stmt, inner)
        elif isinstance(node, _COMPREHENSIONS):
            inner = open_scope(node, scope)
            walk(node.generators[0].iter, scope)
            for n, generator in enumerate(node.generators):
                for part in [generator.target, *([generator.iter] if n else []), *generator.ifs]:
                    walk(part, inner)
            for part in [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]:
                walk(part, inner)
        elif isinstance(node, ast.NamedExpr):
            walk(node.value, scope)
            scope.function.nodes.append(node.target)
        else:
            for child in ast.iter_child_nodes(node):
                walk(child, scope)

    module = open_scope(tree, None)
    for stmt in tree.body:
        walk(stmt, module)
    for scope in scopes:
        scope.locals = {n.id if isinstance(n, ast.Name) else n.arg for n in scope.nodes
                        if isinstance(n, ast.arg) or (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))}
    return scopes


GET, INDEX, HELPER = "get", "index", "helper"
"""How a key of a record is read: ``record.get("key")``, ``record["key"]``, or by a helper given the record."""
HELPER_READS = {"record_id": ("id",), "party_names": ("domain", "entity")}
"""The keys the checks' helpers (confaudit/rules/checks/_common.py) read of the record they are given."""


def record_reads(tree: ast.Module, module: str = "confaudit.rules.checks.example") -> list[tuple[int, str, str, str]]:
    """(line, section, key, GET/INDEX) of each ``record.get("key")`` and ``record["key"]`` where ``record`` is a
    record of a section; ``module`` is the name ``tree`` is imported by (its imports are resolved from there)."""
    readers, modules = reader_names(tree, module)
    _SCOPE_OF.clear()
    scopes = _scopes(tree, readers, modules)
    for _ in range(20):  # a name bound in a nested block may be used before (in walk order) it is bound
        for scope in scopes:
            scope.changed = False
        for scope in scopes:
            for node in scope.nodes:
                scope.visit(node)
        if not any(scope.changed for scope in scopes):
            break
    for scope in scopes:
        scope.poison()
    found = []
    for scope in scopes:
        for node in scope.nodes:
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                section, key = scope.record_section(node.func.value), node.args[0].value
                if section is not None:
                    found.append((node.lineno, section, key, GET))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in HELPER_READS
                    and node.args and (section := scope.record_section(node.args[0])) is not None):
                found.extend((node.lineno, section, key, HELPER) for key in HELPER_READS[node.func.id])
            elif (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                    and isinstance(node.slice.value, str)):
                section, key = scope.record_section(node.value), node.slice.value
                if section is not None:
                    found.append((node.lineno, section, key, INDEX))
    return sorted(set(found))


def required_gets(tree: ast.Module, module: str = "confaudit.rules.checks.example") -> list[tuple[int, str, str]]:
    """(line, section, key) of each ``record.get("key")`` where ``record`` is a record of a section requiring
    key; ``module`` is the name ``tree`` is imported by (its imports are resolved from there)."""
    return sorted({(line, section, key) for line, section, key, how in record_reads(tree, module)
                   if how == GET and key in REQUIRED_KEYS.get(section, ())})


def offences(paths: list[Path]) -> list[str]:
    return [f"{path.relative_to(REPO)}:{line}: {section}[].{key} is required: index it"
            for path in paths
            for line, section, key in required_gets(ast.parse(path.read_text(encoding="utf-8")), _module_name(path))]


def test_scanned_modules_index_required_fields() -> None:
    found = offences(SCANNED)
    assert not found, "\n".join(found)


def test_the_scan_covers_the_readers_of_a_bundle() -> None:
    """Each scanned folder is there, and the modules known to read sections are recognised as doing so."""
    folders = {path.parent.relative_to(PACKAGE).as_posix() for path in SCANNED}
    assert folders == {"rules", "rules/checks", "report", "formats", "commands"}
    for module in ("confaudit.rules.checks._common", "confaudit.report.view", "confaudit.report.media_view",
                   "confaudit.report.compare_view", "confaudit.rules.diff", "confaudit.rules.engine"):
        path = _source(module)
        assert path is not None
        readers, _ = reader_names(ast.parse(path.read_text(encoding="utf-8")), module)
        assert LIST in readers.values(), f"{module}: no typed list reader recognised"


def test_the_scan_finds_a_required_get() -> None:
    """The walker itself: each binding form it follows is found; a NotRequired key and params are not."""
    source = '''
from confaudit.rules.checks._common import obj, records

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


def test_the_scan_resolves_the_readers_from_imports() -> None:
    """Readers imported under another name or as a module attribute are followed, through the binding forms
    (slices, filtering comprehensions, ``:=``, ``sorted(..., key=lambda)``, a name bound in a nested block);
    a local function that merely shares a reader's name is not a reader; ``obj(...) or {}`` (the stand-in
    for an absent section) is no record; a name also bound to something else, or shadowed by a lambda's
    parameter, is left alone."""
    source = '''
from confaudit.evidence_model import section_object as section, section_records as rows
import confaudit.evidence_model as model

def report(bundle):
    for p in (rows(bundle, "parties") or [])[:100]:
        p.get("domain")
        p.get("flow_bytes")
    tool: ToolInfo | None = section(bundle, "tool")
    tool.get("version") if tool else None
    (section(bundle, "media_path") or None).get("topology")
    e2ee: Mapping[str, Any] = (section(bundle, "e2ee") or {})
    e2ee.get("summary")
    (section(bundle, "e2ee") or {}).get("streams")
    kept = [q for q in (model.section_records(bundle, "quic") or []) if q]
    [q.get("sni") for q in kept]
    if (first := (rows(bundle, "phases") or [])[0]):
        first.get("ts")
    (rows(bundle, "phases") or [{}])[0].get("phase")
    [p.get("phase") for p in rows(bundle, "phases") or [{}]]
    for d in rows(bundle, "dtls") or []:
        d.get("srtp_profile")
    for d in other:
        d.get("srtp_profile")
    sorted(kept, key=lambda k: k.get("alpn"))
    [lambda d: d.get("srtp_profile") for d in rows(bundle, "dtls") or []]
    if bundle:
        late = rows(bundle, "sip") or []
    for m in late:
        m.get("first_line")

def records(bundle, key):
    return []

def elsewhere(bundle):
    for f in records(bundle, "flows") or []:
        f.get("dst")
    for f in obj(bundle, "flows") or []:
        f.get("dst")
'''
    found = {(section, key) for _, section, key in required_gets(ast.parse(source), "confaudit.report.example")}
    assert found == {("parties", "domain"), ("tool", "version"), ("media_path", "topology"), ("quic", "sni"),
                     ("phases", "ts"), ("sip", "first_line"), ("quic", "alpn")}
    relative = ("from ..evidence_model import section_records as recs\n"
                "def f(b):\n    return [s.get('ssrc') for s in recs(b, 'media_streams') or []]\n")
    assert required_gets(ast.parse(relative), "confaudit.report.example") == [(3, "media_streams", "ssrc")]


def test_the_scan_follows_a_re_export() -> None:
    """A module re-exporting a reader (``records = section_records``) offers it to the modules importing it."""
    assert (offered("confaudit.rules.checks._common", "records"), offered("confaudit.rules.checks._common", "obj")) \
        == (LIST, OBJECT)
    assert offered("confaudit.rules.checks._common", "as_list") is None
    tree = ast.parse("from confaudit.rules.checks._common import records as rs\n"
                     "def f(b):\n    return [d.get('srtp_profile') for d in rs(b, 'dtls') or []]\n")
    assert required_gets(tree, "confaudit.rules.diff") == [(3, "dtls", "srtp_profile")]


@cache
def declared_keys() -> dict[str, frozenset[str]]:
    """Section -> the keys its schema declares for a record (the TypedDict the typed readers' overloads give
    the section: a list section's record, or an object section)."""
    import typing

    from confaudit import evidence_model

    out: dict[str, frozenset[str]] = {}
    for reader in (evidence_model.section_records, evidence_model.section_object):
        for overload in typing.get_overloads(reader):
            hints = typing.get_type_hints(overload)
            (section,) = typing.get_args(hints["key"])
            record = next(a for a in typing.get_args(hints["return"]) if a is not type(None))
            if typing.get_origin(record) is list:
                (record,) = typing.get_args(record)
            out[section] = frozenset(typing.get_type_hints(record))
    return out


DECLARED_SCANNED = SCANNED
"""The modules whose reads of a record are held to the keys its schema declares: rules/ (checks included),
report/, formats/ and commands/."""


def undeclared_reads(tree: ast.Module, module: str) -> list[tuple[int, str, str]]:
    """(line, section, key) of each ``record.get("key")`` or ``record["key"]`` of a key the schema does not
    declare for the record's section: a key no producer writes, whose read only a hand-made bundle can reach."""
    declared = declared_keys()
    return sorted({(line, section, key) for line, section, key, _ in record_reads(tree, module)
                   if section in declared and key not in declared[section]})


PENDING: set[tuple[str, str, str]] = set()
"""Undeclared reads a change in flight is to remove, as (module, section, key): empty once it has landed."""


def _undeclared_found() -> set[tuple[str, int, str, str]]:
    return {(path.relative_to(REPO).as_posix(), line, section, key)
            for path in DECLARED_SCANNED
            for line, section, key in undeclared_reads(ast.parse(path.read_text(encoding="utf-8")), _module_name(path))}


def test_scanned_modules_read_declared_keys_only() -> None:
    found = [f"{where}:{line}: {section} declares no {key!r}: read a declared key"
             for where, line, section, key in sorted(_undeclared_found()) if (where, section, key) not in PENDING]
    assert not found, "\n".join(found)


def test_pending_undeclared_reads_are_still_there() -> None:
    """An entry of PENDING whose read is gone is dropped from it, so the guard covers that module again."""
    still = {(where, section, key) for where, _, section, key in _undeclared_found()}
    assert PENDING <= still, f"no longer read, drop from PENDING: {sorted(PENDING - still)}"


def test_the_declared_keys_are_the_models() -> None:
    declared = declared_keys()
    assert set(declared) >= {"flows", "sdp", "sip", "tls", "room_links", "session", "media_path"}
    assert {"crypto_present", "media", "candidates", "source"} <= declared["sdp"]
    assert "crypto" not in declared["sdp"]


def test_the_scan_finds_an_undeclared_read() -> None:
    """Both forms of a read are found, through the walker's binding forms; declared keys are not."""
    source = '''
from confaudit.rules.checks._common import obj, records

def check(bundle, params):
    for s in records(bundle, "sdp") or []:
        s.get("crypto")
        s["crypto_present"]
    links = obj(bundle, "room_links")
    links.get("links")
    links["distinct_ids"]
    [m["transport"] for m in records(bundle, "sip") or []]
    params.get("links")
    for i, t in enumerate(records(bundle, "tls") or []):
        record_id(t, f"tls{i}")
    for i, f in enumerate(records(bundle, "flows") or []):
        record_id(f, f"f{i}")
'''
    assert [(s, k) for _, s, k in undeclared_reads(ast.parse(source), "confaudit.rules.checks.example")] \
        == [("sdp", "crypto"), ("room_links", "links"), ("sip", "transport"), ("tls", "id")]
