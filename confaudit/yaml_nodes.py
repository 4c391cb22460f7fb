"""YAML files other people write (claims, scenarios), read safely and walked with file:line:col errors.

The text is composed into nodes, never constructed into objects; aliases (billion laughs), merge keys,
duplicate keys and deep flow nesting (PyYAML's scanner is quadratic there) are refused; the size is
capped. Every problem is raised as the caller's ``ClaimsError`` subclass at the offending node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confaudit.errors import ClaimsError

class NodeReader:
    """Walks composed YAML nodes, raising ``error`` (a ClaimsError subclass) at the offending node."""

    def __init__(self, path: str, error: type[ClaimsError] = ClaimsError) -> None:
        self.path = path
        self.error = error

    def fail(self, node: Any, problem: str) -> ClaimsError:
        mark = getattr(node, "start_mark", None)
        return self.error(self.path, problem, mark.line + 1 if mark else None, mark.column + 1 if mark else None)

    def mapping(self, node: Any, what: str, allowed: set[str] | None = None) -> dict[str, tuple[Any, Any]]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, f"{what}: keys must be plain names")
            key = key_node.value
            if key == "<<":
                raise self.fail(key_node, f"{what}: YAML merge keys are not allowed")
            if key in out:
                raise self.fail(key_node, f"{what}: duplicate key '{key}'")
            if allowed is not None and key not in allowed:
                raise self.fail(key_node, f"{what}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")
            out[key] = (key_node, value_node)
        return out

    def scalar(self, node: Any, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return node.value

    def string(self, node: Any, what: str, allow_empty: bool = False) -> str:
        value = self.scalar(node, what).strip()
        if not value and not allow_empty:
            raise self.fail(node, f"{what} must not be empty")
        if len(value) > 10_000:
            raise self.fail(node, f"{what} is longer than 10000 characters")
        return value

    def string_list(self, node: Any, what: str) -> list[str]:
        import yaml

        if isinstance(node, yaml.ScalarNode):
            return [self.string(node, what)]
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return [self.string(item, f"{what} item") for item in node.value]


MAX_FLOW_DEPTH = 64


def flow_depth_problem(text: str) -> tuple[int, int] | None:
    """(line, column) where ``[``/``{`` nesting passes MAX_FLOW_DEPTH (PyYAML's scanner is quadratic there)."""
    depth, line, col, quote = 0, 1, 0, ""
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            if quote == "'":
                continue
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'" and depth:
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return line, col
        elif ch in "]}" and depth:
            depth -= 1
    return None


def parse_yaml(path: Path, error: type[ClaimsError], what: str, max_bytes: int) -> tuple[Any, str]:
    """The composed YAML root node of ``path`` (never constructed objects) and its text; ``error`` at file:line:col."""
    import yaml

    from confaudit.jsonio import read_capped

    raw = read_capped(path, max_bytes, what, error=error)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(path, f"not UTF-8 text (byte {exc.start})") from None
    deep = flow_depth_problem(text)
    if deep is not None:
        raise error(path, f"brackets nested deeper than {MAX_FLOW_DEPTH} levels", *deep)
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise error(path, f"YAML aliases (*name) are not allowed in {what}s",
                            event.start_mark.line + 1, event.start_mark.column + 1)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise error(path, f"invalid YAML: {problem}", mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise error(path, f"invalid YAML: {type(exc).__name__}") from None
    if root is None:
        raise error(path, "file is empty")
    return root, text
