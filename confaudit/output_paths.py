"""Refuse, before anything is read or written, an output that would overwrite what the command reads.

Paths are compared after resolving symlinks and ``..``, and by device and inode where they exist (hard
links, bind mounts). An output may not be an input, lie inside an input directory (a session directory is
sealed by its manifest), hold an input (a directory output is replaced whole), or be, hold or lie inside
another output of the same command.

An output named ``-`` is standard output: it overlaps no file, but only one output of a command may use it,
and from then on the command's own text goes to stderr (:mod:`confaudit.terminal`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from confaudit.errors import UsageError
from confaudit.stdin_input import is_stream


@dataclass(frozen=True)
class NamedPath:
    """A path as the command line named it."""

    role: str
    """Its option or argument, for messages: ``--json``, ``input``, ``--claims``."""
    path: Path
    """As given."""


@dataclass(frozen=True)
class _Place:
    """Where a path really is."""

    named: NamedPath
    """The path as given."""
    real: Path
    """Absolute, symlinks and ``..`` resolved as far as the path exists."""
    identity: tuple[int, int] | None
    """(device, inode) when it exists."""
    ancestors: frozenset[tuple[int, int]]
    """(device, inode) of every existing directory above it."""
    is_file: bool
    """It exists and is not a directory (nothing can lie inside it)."""


def refuse_bad_outputs(outputs: Mapping[str, Path | None], inputs: Mapping[str, Sequence[Path | None]]) -> None:
    """Before any analysis, so nothing is written: UsageError (exit 2) for an output file that is an input,
    lies inside an input directory or repeats another output; OutputError (exit 3) for one that is a directory.

    ``outputs`` maps an option (``--json``) to its path or None; ``inputs`` a role (``input``, ``--claims``)
    to the paths it names (None entries skipped)."""
    from confaudit.output_set import check_file_target

    named = [NamedPath(option, Path(path)) for option, path in outputs.items() if path is not None]
    refuse_overlaps(named, [NamedPath(role, Path(p)) for role, paths in inputs.items() for p in paths if p is not None])
    for out in named:
        check_file_target(out.role, out.path)


def refuse_stream(option: str, path: Path | None, why: str) -> None:
    """UsageError (exit 2) for ``-`` given to an output that cannot be a stream (``why`` says what it is)."""
    if is_stream(path):
        raise UsageError(f"{option} cannot be - (standard output): {why}")


def refuse_overlaps(outputs: Sequence[NamedPath], inputs: Sequence[NamedPath]) -> None:
    """UsageError (exit 2, one line) when an output would overwrite an input or another output, or when two
    outputs name ``-``; a single ``-`` output claims stdout for the command."""
    streamed = [o.role for o in outputs if is_stream(o.path)]
    if len(streamed) > 1:
        raise UsageError(f"{' and '.join(streamed)} both name - (standard output); only one output can go there")
    if streamed:
        from confaudit import terminal

        terminal.claim_stdout(streamed[0])
    outs = [_place(o) for o in outputs if not is_stream(o.path)]
    ins = [_place(i) for i in inputs if not is_stream(i.path)]
    for out in outs:
        for inp in ins:
            if _same(out, inp):
                raise UsageError(f"{_named(out)} is the {_named(inp)} (the same file): an output never overwrites "
                                 "an input; choose another path")
            if inp.identity is not None and _inside(out, inp):
                raise UsageError(f"{_named(out)} lies inside the {_named(inp)} directory: an output never changes "
                                 "an input (a session is sealed by its manifest); choose a path outside it")
            if _inside(inp, out):
                raise UsageError(f"{_named(out)} holds the {_named(inp)}, and that output replaces it; "
                                 "choose another path")
    for n, first in enumerate(outs):
        for second in outs[n + 1:]:
            if _same(first, second):
                raise UsageError(f"{first.named.role} and {second.named.role} both name {first.named.path}; "
                                 "give each output its own path")
            for outer, inner in ((first, second), (second, first)):
                if _inside(inner, outer):
                    raise UsageError(f"{_named(inner)} lies inside {_named(outer)}, which is replaced whole; "
                                     "choose a path outside it")


def _named(place: _Place) -> str:
    return f"{place.named.role} {place.named.path}"


def _place(named: NamedPath) -> _Place:
    try:
        real = Path(named.path).resolve()  # ".." after a symlink is the link target's parent, as for the kernel
    except (OSError, RuntimeError):  # a symlink loop or an over-long path: compare as written
        real = Path(os.path.abspath(named.path))
    ancestors = frozenset(i for i in map(_identity, real.parents) if i is not None)
    return _Place(named, real, _identity(real), ancestors, os.path.exists(real) and not os.path.isdir(real))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _same(a: _Place, b: _Place) -> bool:
    return a.real == b.real or (a.identity is not None and a.identity == b.identity)


def _inside(inner: _Place, outer: _Place) -> bool:
    """``inner`` lies somewhere below the directory (or future directory) ``outer``."""
    if outer.is_file:
        return False
    return outer.real in inner.real.parents or (outer.identity is not None and outer.identity in inner.ancestors)
