"""Write a command's outputs all or none, each replacing its target atomically.

Every output is rendered in full before :func:`write_outputs` is called. It stages each one beside its
target (a temporary file, or a temporary directory for a directory output), fsynced; then moves them into
place one by one, each by an atomic exchange with what is there (Linux ``renameat2(RENAME_EXCHANGE)``):
a reader, or a kill -9 at any instant, finds each target as it was or as it is now, never half written
and never a mix of two runs' files. If staging or moving any output fails, the outputs already moved are
exchanged back and every temporary is removed: nothing new is left and existing files are as they were.
Temporary names carry the writer's pid, so a later run removes those of writers that died.

An output named ``-`` goes to standard output (at most one per command, refused earlier by
:mod:`confaudit.output_paths`): it is staged like the others (in an unlinked temporary file), and written
to stdout last, after every file output is in place. A reader closing the pipe early leaves the files
written, and the command fails with a one-line error.

A directory output (``--parquet DIR``) is owned by confaudit: afterwards it holds exactly this run's files
and a marker listing them. An existing directory is replaced only when it is empty, or holds that marker
of the same kind and nothing but the files the marker lists (or files the output recognises as written by
an older confaudit, before the marker existed).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confaudit import atomic_fs
from confaudit.errors import OutputError
from confaudit.stdin_input import is_stream

STDOUT_NAME = "<stdout>"
"""How messages name an output written to standard output."""

MARKER = ".confaudit-output.json"
"""Marks a directory as a confaudit output and lists the files it holds (hidden: dataset readers skip it)."""


def _never(name: str) -> bool:
    return False


@dataclass(frozen=True)
class FileOutput:
    """One output file, rendered in full."""

    option: str
    """The option that names it, for messages (``--json``)."""
    path: Path
    """Where it goes."""
    data: bytes | Iterable[bytes | memoryview]
    """Its complete content, or its pieces in order (a large bundle is never held whole); consumed once, while
    it is staged, before anything is moved into place."""


@dataclass(frozen=True)
class DirectoryOutput:
    """A directory confaudit owns: afterwards it holds exactly ``files`` and the marker."""

    option: str
    """The option that names it, for messages (``--parquet``)."""
    path: Path
    """Where it goes."""
    kind: str
    """What the directory holds (``parquet``), recorded in its marker: another kind is never replaced."""
    files: Mapping[str, bytes]
    """Plain file names (no ``/``, not hidden) and their complete content."""
    earlier_output: Callable[[str], bool] = _never
    """Recognises by name a file of this kind that confaudit wrote before directories carried a marker."""


class _Move:
    """One staged output on its way into place (internal, mutable: it records how far it went)."""

    def __init__(self, output: FileOutput | DirectoryOutput, target: Path, temporary: Path) -> None:
        self.output = output
        self.target = target
        self.temporary = temporary
        self.state = "staged"  # -> "created" (target was absent), "exchanged" (temporary holds the old one),
        # "replaced" (no exchange on this system: the old file is gone), "aside" then "swapped" (a directory
        # moved aside, then the new one into place, where there is no exchange)
        self.aside: Path | None = None


def write_outputs(outputs: Sequence[FileOutput | DirectoryOutput]) -> list[Path]:
    """Put every output in place, or none; returns the targets. OutputError (nothing new left) on failure."""
    moves: list[_Move] = []
    created: list[Path] = []
    current: FileOutput | DirectoryOutput | None = None
    streamed: Any = None  # the staged stdout output, an unlinked temporary file
    try:
        for current in outputs:
            if is_stream(current.path):
                streamed = _stage_stream(current)
            else:
                _stage(current, moves, created)
        for move in moves:
            current = move.output
            _commit(move)
    except BaseException as exc:
        if streamed is not None:
            streamed.close()
        stuck = [m for m in reversed(moves) if m.state != "staged" and not _undo(m)]
        _discard([m for m in moves if m not in stuck])  # a move that could not be undone keeps the old content
        for directory in reversed(created):
            _quietly(os.rmdir, directory)
        if isinstance(exc, OSError) and current is not None:
            outcome = "; ".join(map(_not_restored, stuck)) or "no output was written"
            raise OutputError(_shown(current.path), f"cannot write the {current.option} output: {_reason(exc)}; "
                                                    f"{outcome}") from None
        raise
    for parent in sorted({m.target.parent for m in moves}):
        atomic_fs.fsync_directory(parent)
    _discard(moves)  # the previous content now sits at the temporary name (or aside)
    if streamed is not None:
        _emit(streamed, next(o.option for o in outputs if is_stream(o.path)), written=bool(moves))
    from confaudit import terminal

    for output in outputs:
        terminal.detail(f"wrote {output.option} to {_shown(output.path)}")
    return [m.target for m in moves]


def _shown(path: Path) -> Path | str:
    return STDOUT_NAME if is_stream(path) else path


def _stage_stream(output: FileOutput | DirectoryOutput) -> Any:
    if not isinstance(output, FileOutput):
        raise ValueError(f"{output.option} is a directory output and cannot go to standard output")
    staged = tempfile.TemporaryFile(prefix="confaudit-stdout-")
    try:
        atomic_fs.write_all(staged.fileno(), output.data)
    except BaseException:
        staged.close()
        raise
    return staged


def _emit(staged: Any, option: str, written: bool) -> None:
    """Copy the staged stdout output to standard output, last."""
    try:
        with staged:
            staged.seek(0)
            sys.stdout.flush()  # nothing printed earlier may land inside the output
            shutil.copyfileobj(staged, sys.stdout.buffer, 1 << 20)
            sys.stdout.buffer.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # keep the interpreter from failing again on its final flush
            _quietly(os.dup2, os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        files = "the file outputs were written" if written else "no file output was requested"
        raise OutputError(STDOUT_NAME, f"cannot write the {option} output: {_reason(exc)}; {files}") from None


def check_file_target(option: str, path: Path) -> None:
    """Refuse, before any work, a file output whose path is a directory, a device, a FIFO or a socket (an output
    file is replaced whole, which a stream such as /dev/stdout cannot be)."""
    if is_stream(path):
        return  # standard output: written as a stream, last
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # absent (or unusable: staging names the problem)
    if stat.S_ISDIR(mode):
        raise OutputError(path, f"{option} needs a file path, and this path is a directory")
    if not stat.S_ISREG(mode):
        raise OutputError(path, f"{option} is not a regular file (a device, pipe or socket): outputs are files "
                                "replaced whole; give a file path")


def check_directory_target(output: DirectoryOutput) -> None:
    """Refuse, before any work, a directory output whose path is a file or a directory this run may not replace."""
    target = _real_path(output.path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(output.path, f"cannot use it for {output.option}: {_reason(exc)}") from None
    if not stat.S_ISDIR(mode):
        raise OutputError(output.path, f"{output.option} needs a directory, and this path is a file")
    try:
        with os.scandir(target) as it:
            entries = [(e.name, e.is_file(follow_symlinks=False)) for e in it]
    except OSError as exc:
        raise OutputError(output.path, f"cannot list it for {output.option}: {_reason(exc)}") from None
    listed = _marker_listing(target, output.kind) if (MARKER, True) in entries else None
    recognised = output.earlier_output if listed is None else (listed | {MARKER}).__contains__
    foreign = sorted(name for name, regular in entries if not (regular and recognised(name)))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        what = "entry" if len(foreign) == 1 else "entries"
        raise OutputError(output.path, f"{output.option} replaces this whole directory, and it holds {len(foreign)} "
                                       f"{what} confaudit did not write there ({shown}); choose a new or empty directory")


def _marker_listing(directory: Path, kind: str) -> set[str] | None:
    """The file names a valid marker of ``kind`` lists; None when the marker is unreadable or of another kind."""
    try:
        fd = os.open(directory / MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            marker = json.loads(fh.read(1 << 20).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != "confaudit-output" or marker.get("kind") != kind:
        return None
    files = marker.get("files")
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else None


def _stage(output: FileOutput | DirectoryOutput, moves: list[_Move], created: list[Path]) -> None:
    """Write ``output`` to a temporary sibling of its target; the move is recorded in ``moves`` as soon as the
    temporary exists, so a failure part-way still removes it."""
    if isinstance(output, DirectoryOutput):
        target = _real_path(output.path)
        check_directory_target(output)
    else:
        check_file_target(output.option, output.path)
        target = _real_path(output.path)  # through a symlink: the file it names is replaced, never the link
    atomic_fs.make_parents(target.parent, created)
    atomic_fs.remove_dead_temporaries(target)
    if isinstance(output, FileOutput):
        fd, temporary = atomic_fs.temporary_file(target)
        moves.append(_Move(output, target, temporary))
        try:
            os.fchmod(fd, 0o666 & ~atomic_fs.umask())
            atomic_fs.write_all(fd, output.data)
        finally:
            os.close(fd)
        return
    move = _Move(output, target, atomic_fs.temporary_directory(target))
    moves.append(move)
    names = sorted(output.files)
    for name in names:
        if not name or name.startswith(".") or "/" in name or "\0" in name:
            raise ValueError(f"not a plain file name for {output.option}: {name!r}")
        atomic_fs.write_new(move.temporary / name, output.files[name])
    marker = {"format": "confaudit-output", "kind": output.kind, "files": names}
    atomic_fs.write_new(move.temporary / MARKER, (json.dumps(marker, indent=1) + "\n").encode("utf-8"))
    os.chmod(move.temporary, 0o777 & ~atomic_fs.umask())  # mkdtemp makes it private; an output directory is not
    atomic_fs.fsync_directory(move.temporary)


def _commit(move: _Move) -> None:
    target, temporary = move.target, move.temporary
    if not os.path.lexists(target):
        os.rename(temporary, target)
        move.state = "created"
    elif atomic_fs.exchange(temporary, target):
        move.state = "exchanged"
    elif isinstance(move.output, FileOutput):
        os.replace(temporary, target)
        move.state = "replaced"
    else:  # no atomic exchange on this system: the directory is briefly absent
        move.aside = atomic_fs.temporary_directory(target)
        os.rename(target, move.aside)
        move.state = "aside"
        os.rename(temporary, target)
        move.state = "swapped"


def _not_restored(move: _Move) -> str:
    if move.state == "replaced":
        return f"{move.target} was already replaced (this system has no atomic exchange to undo it)"
    return f"{move.target} could not be restored: its previous content is in {move.aside or move.temporary}"


def _undo(move: _Move) -> bool:
    """Put the previous content (or absence) back; False when that failed (or cannot be done)."""
    try:
        if move.state == "created":
            os.rename(move.target, move.temporary)
        elif move.state == "exchanged":
            return atomic_fs.exchange(move.temporary, move.target)
        elif move.state in ("aside", "swapped") and move.aside is not None:
            if move.state == "swapped":
                os.rename(move.target, move.temporary)
            os.rename(move.aside, move.target)
            move.aside = None
        elif move.state == "replaced":
            return False
    except OSError:
        return False
    return True


def _real_path(path: Path) -> Path:
    """Absolute, with symlinks resolved: an output replaces the file or directory a link names, not the link."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _discard(moves: Sequence[_Move]) -> None:
    for move in moves:
        atomic_fs.remove(move.temporary)
        if move.aside is not None:
            atomic_fs.remove(move.aside)


def _quietly(func: Callable[..., Any], *args: Any) -> None:
    try:
        func(*args)
    except OSError:
        pass


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
