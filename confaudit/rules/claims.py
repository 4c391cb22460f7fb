"""Load and validate a claims file (YAML) into a ClaimsFile, keeping each claim's line and column.

Claims files come from other people: the loader composes YAML nodes (never constructs arbitrary
objects), refuses aliases (no billion-laughs), caps size, rejects duplicate and unknown keys, and
reports every problem as ``ClaimsError(path, problem, line, column)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from confaudit.errors import ClaimsError
from confaudit.rules.checks import CHECK_KINDS, DOCUMENT_ONLY, Param
from confaudit.rules.checks._common import SCOPES
from confaudit.rules.model import SEVERITIES, Claim, ClaimsFile
from confaudit.yaml_nodes import NodeReader, parse_yaml

MAX_CLAIMS_BYTES = 2 * 1024 * 1024
MAX_CLAIMS = 1000
TOP_KEYS = {"vendor", "first_party", "entity_lists", "country_table", "room_link_pattern", "scope", "claims", "schema",
            "notes", "description"}
CLAIM_KEYS = {"id", "statement", "source", "check", "severity", "category", "notes", "scope"}
SCOPED_CHECKS = ("transport_encryption", "data_collection", "third_party_sharing", "no_advertising", "data_location")
"""Checks whose traffic ``scope`` can widen from the vendor's traffic (default) to the whole device."""
SOURCE_KEYS = {"title", "url", "date", "quote", "retrieved", "archive"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


class _Loader(NodeReader):
    """The claims file's node reader: also reads a check's parameters."""

    def param(self, spec: Param, node: Any, check: str) -> Any:
        what = f"parameter '{spec.name}' of check '{check}'"
        if spec.kind == "bool":
            raw = self.scalar(node, what).lower()
            if raw in _TRUE or raw in _FALSE:
                return raw in _TRUE
            raise self.fail(node, f"{what} must be true or false, not '{raw}'")
        if spec.kind == "number":
            raw = self.scalar(node, what)
            try:
                value = float(raw)
            except ValueError:
                raise self.fail(node, f"{what} must be a number, not '{raw}'") from None
            if value != value or value in (float("inf"), float("-inf")) or value < 0:
                raise self.fail(node, f"{what} must be a finite non-negative number")
            return value
        values: list[str] = self.string_list(node, what) if spec.kind == "str_list" else [self.string(node, what)]
        if spec.choices:
            for choice in values:
                if choice not in spec.choices:
                    raise self.fail(node, f"{what}: '{choice}' is not one of {', '.join(spec.choices)}")
        if spec.kind == "str_list":
            if spec.required and not values:
                raise self.fail(node, f"{what} must list at least one value")
            return tuple(values)
        return values[0]


def load_claims(path: str | Path) -> ClaimsFile:
    """Parse and validate ``path``; raise ClaimsError(file, problem, line, column) on any problem."""
    from confaudit.rules.scoring import rubric

    p = Path(path)
    root, _ = parse_yaml(p, ClaimsError, "claims file", MAX_CLAIMS_BYTES)
    ld = _Loader(str(path))
    top = ld.mapping(root, "claims file", TOP_KEYS)
    for required in ("vendor", "claims"):
        if required not in top:
            raise ld.fail(root, f"missing required key '{required}'")
    vendor = ld.string(top["vendor"][1], "vendor")
    first_party = tuple(ld.string_list(top["first_party"][1], "first_party")) if "first_party" in top else ()
    entity_lists = _entity_lists(ld, top["entity_lists"][1], p) if "entity_lists" in top else ()
    country_table = None
    if "country_table" in top:
        node = top["country_table"][1]
        country_table = _beside(ld, node, p, "country_table", ld.string(node, "country_table"))
    pattern = None
    if "room_link_pattern" in top:
        pattern = _room_link_pattern(ld, top["room_link_pattern"][1])
    scope = _scope(ld, top["scope"][1], "scope") if "scope" in top else None
    import yaml

    claims_node = top["claims"][1]
    if not isinstance(claims_node, yaml.SequenceNode) or not claims_node.value:
        raise ld.fail(claims_node, "claims must be a non-empty list")
    if len(claims_node.value) > MAX_CLAIMS:
        raise ld.fail(claims_node, f"more than {MAX_CLAIMS} claims")
    categories = rubric()
    claims: list[Claim] = []
    seen: set[str] = set()
    for node in claims_node.value:
        claim = _claim(ld, node, categories, scope)
        if claim.id in seen:
            raise ld.fail(node, f"duplicate claim id '{claim.id}'")
        seen.add(claim.id)
        claims.append(claim)
    return ClaimsFile(path=str(path), vendor=vendor, first_party=first_party, room_link_pattern=pattern,
                      claims=tuple(claims), entity_lists=entity_lists, country_table=country_table)


def _entity_lists(ld: _Loader, node: Any, claims_path: Path) -> tuple[str, ...]:
    """Entity maps the claims file names, as paths beside it (plain relative names: the file stays portable)."""
    return tuple(_beside(ld, node, claims_path, "entity_lists", name) for name in ld.string_list(node, "entity_lists"))


def _beside(ld: _Loader, node: Any, claims_path: Path, key: str, name: str) -> str:
    """A file the claims file names: a plain relative path inside its directory (the file stays portable)."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ld.fail(node, f"{key}: {name!r} must be a path relative to the claims file, inside its directory")
    return str(claims_path.parent / relative)


def _room_link_pattern(ld: _Loader, node: Any) -> str:
    """The pattern, compiled here by RE2 as the check will run it: a pattern RE2 refuses, one too large to
    match in bounded time, or one without the room id group fails at its own line and column."""
    from confaudit.room_link_stats import compile_pattern

    pattern = ld.string(node, "room_link_pattern")
    try:
        compile_pattern(pattern)
    except ValueError as exc:
        raise ld.fail(node, str(exc)) from None
    return pattern


def _scope(ld: _Loader, node: Any, what: str) -> str:
    value = ld.string(node, what)
    if value not in SCOPES:
        raise ld.fail(node, f"{what} '{value}' is not one of {', '.join(SCOPES)}")
    return value


def _claim(ld: _Loader, node: Any, categories: dict[str, Any], file_scope: str | None = None) -> Claim:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ld.fail(node, "each claim must be a mapping with id, statement, source, check and severity")
    keys = ld.mapping(node, "claim")
    for required in ("id", "statement", "source", "check", "severity"):
        if required not in keys:
            raise ld.fail(node, f"claim is missing required key '{required}'")
    claim_id = ld.string(keys["id"][1], "claim id")
    if not _ID.match(claim_id):
        raise ld.fail(keys["id"][1], f"claim id '{claim_id}' must be letters, digits, '.', '_' or '-' (max 128)")
    check_node = keys["check"][1]
    check = ld.string(check_node, f"claim '{claim_id}': check")
    kind = CHECK_KINDS.get(check)
    if kind is None:
        raise ld.fail(check_node, f"claim '{claim_id}': unknown check kind '{check}' (known: {', '.join(CHECK_KINDS)})")
    specs = {p.name: p for p in kind.params}
    params: dict[str, Any] = {}
    for key, (key_node, value_node) in keys.items():
        if key in CLAIM_KEYS:
            continue
        if key not in specs:
            allowed = ", ".join(specs) or "none"
            raise ld.fail(key_node, f"claim '{claim_id}': unknown parameter '{key}' for check '{check}' (allowed: {allowed})")
        params[key] = ld.param(specs[key], value_node, check)
    for spec in kind.params:
        if spec.name not in params:
            if spec.required:
                raise ld.fail(check_node, f"claim '{claim_id}': check '{check}' needs parameter '{spec.name}'")
            params[spec.name] = spec.default
    if "scope" in keys:
        key_node, value_node = keys["scope"]
        if check not in SCOPED_CHECKS:
            raise ld.fail(key_node, f"claim '{claim_id}': scope applies only to {', '.join(SCOPED_CHECKS)}, not '{check}'")
        params["scope"] = _scope(ld, value_node, f"claim '{claim_id}': scope")
    elif file_scope is not None and check in SCOPED_CHECKS:
        params["scope"] = file_scope
    if check == "room_links" and not params["min_entropy_bits"] and not params["fresh_per_room"]:
        raise ld.fail(check_node, f"claim '{claim_id}': room_links needs min_entropy_bits and/or fresh_per_room: true")
    severity = ld.string(keys["severity"][1], "severity")
    if severity not in SEVERITIES:
        raise ld.fail(keys["severity"][1], f"claim '{claim_id}': severity '{severity}' is not one of {', '.join(SEVERITIES)}")
    source = _source(ld, keys["source"][1], claim_id)
    category = kind.category
    if "category" in keys:
        category = ld.string(keys["category"][1], "category")
        if category not in categories:
            raise ld.fail(keys["category"][1], f"claim '{claim_id}': category '{category}' is not in the rubric "
                          f"({', '.join(categories)})")
    return Claim(id=claim_id, statement=ld.string(keys["statement"][1], "statement"), source=source, check=check,
                 params=params, severity=severity, category=category, line=node.start_mark.line + 1,
                 column=node.start_mark.column + 1, document_only=check == DOCUMENT_ONLY)


def _source(ld: _Loader, node: Any, claim_id: str) -> dict[str, str]:
    fields = ld.mapping(node, f"claim '{claim_id}': source", SOURCE_KEYS)
    for required in ("title", "url", "date"):
        if required not in fields:
            raise ld.fail(node, f"claim '{claim_id}': source needs '{required}'")
    source = {k: ld.string(v, f"source {k}") for k, (_, v) in fields.items()}
    if not re.match(r"^https?://[^\s]+$", source["url"]):
        raise ld.fail(fields["url"][1], f"claim '{claim_id}': source url must be an http(s) URL")
    return source
