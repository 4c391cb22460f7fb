"""The typer plumbing every confaudit command shares: the conventional options, help that shows flags as flags,
and ``-`` as an input (standard input, read once into a temporary file).

``confaudit.cli`` declares the commands with these and maps their failures to exit codes.
"""

from __future__ import annotations

import importlib
import re
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from confaudit.errors import UsageError
from confaudit.stdin_input import is_stream

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also print each stage's time and counts (stderr).")]
Debug = Annotated[bool, typer.Option("--debug", help="On an internal error (exit 4), print its traceback.")]

_INPUT_OPTIONS = ("inputs", "sessions", "old", "new")
"""The parameters that name inputs: ``-`` there reads standard input."""
_LIST_TYPE = re.compile(r"^list\[(\w+)\]$")


def _plain_metavars(params: list[Any]) -> None:
    """Help shows a flag as a flag (no ``<bool>``) and a repeatable option or argument by its item (``<str>``,
    not ``<list[str]>``)."""
    for param in params:
        kind = getattr(param, "param_type_name", "")
        if kind == "argument" and param.nargs != 1 and hasattr(param, "bare_type"):
            match = _LIST_TYPE.match(param.bare_type())
            if match:  # typer has no metavar for an argument's type column alone
                param.display_type = lambda ctx, label=f"<{match.group(1).lower()}>": label
            continue
        if kind != "option" or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "multiple", False) and hasattr(param, "bare_type"):
            match = _LIST_TYPE.match(param.bare_type())
            if match:
                param.metavar = f"<{match.group(1).lower()}>"


class ConventionalCommand(TyperCommand):
    """A confaudit command: help shows its flags as flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # with the --help option, made on demand
        _plain_metavars(params)
        return params


class ConventionalGroup(TyperGroup):
    """The ``confaudit`` group: its own flags (--version, the completion ones) shown as flags too."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _plain_metavars(params)
        return params


class ConventionalApp(typer.Typer):
    """Every command registered on it (``@app.command()``) is a :class:`ConventionalCommand`."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", ConventionalCommand)
        return super().command(*args, **kwargs)


def _stdin_argument(kwargs: dict[str, Any]) -> tuple[str, int | None, str] | None:
    """(parameter, index in its list or None, vendor prefix) of the one input given as ``-``; None if none."""
    found = []
    for key in _INPUT_OPTIONS:
        value = kwargs.get(key)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            text = "" if item is None else str(item)
            prefix = text[:-1] if text.endswith("=-") and isinstance(item, str) else ""
            if is_stream(text) or prefix:
                found.append((key, index if isinstance(value, list) else None, prefix))
    if len(found) > 1:
        raise UsageError("- (standard input) is given for more than one input; it can be read once")
    return found[0] if found else None


def call_command(command: str, kwargs: dict[str, Any]) -> int:
    """Import ``confaudit.commands.<command>`` and run it; an input given as ``-`` is read from stdin first."""
    module = importlib.import_module(f"confaudit.commands.{command}")
    piped = _stdin_argument(kwargs)
    if piped is None:
        return module.run(**kwargs)
    from confaudit.stdin_input import piped_input

    key, index, prefix = piped
    with piped_input() as path:
        value: Any = f"{prefix}{path}" if prefix else path
        if index is not None:
            value = [*kwargs[key][:index], value, *kwargs[key][index + 1:]]
        return module.run(**{**kwargs, key: value})
