"""File-system steps for replacing outputs atomically: exchange two entries, write and fsync, and find the
temporaries a killed confaudit run left behind.

Temporaries are named ``.<target name>.confaudit-<pid>-<random>.tmp`` beside their target; the pid lets a
later run remove exactly those whose writer is gone, and never those of a writer still at work.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

_STEM_CHARS = 100  # of the target's name inside a temporary's name, which must stay under NAME_MAX
_TEMPORARY = re.compile(r"^\.(?P<stem>.*)\.confaudit-(?P<pid>[0-9]{1,10})-[A-Za-z0-9_]+\.tmp$", re.DOTALL)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def temporary_file(target: Path) -> tuple[int, Path]:
    """A new, empty temporary file beside ``target``: (open descriptor, path)."""
    fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=".tmp", dir=target.parent)
    return fd, Path(name)


def temporary_directory(target: Path) -> Path:
    """A new, empty temporary directory beside ``target`` (private, as mkdtemp makes it)."""
    return Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".tmp", dir=target.parent))


def _prefix(target: Path) -> str:
    return f".{target.name[:_STEM_CHARS]}.confaudit-{os.getpid()}-"


@lru_cache(maxsize=1)
def _renameat2() -> Any:
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing directory entries atomically; False where the system or file system cannot."""
    import ctypes

    func = _renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(second))


def make_parents(directory: Path, created: list[Path]) -> None:
    """Create ``directory`` and its missing parents, appending each one created (top first) to ``created``."""
    missing = []
    while not os.path.isdir(directory) and directory.parent != directory:
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        if os.path.lexists(path):  # a file (or a dangling link) where a directory is needed
            raise NotADirectoryError(errno.ENOTDIR, f"{path} is a file, not a directory", str(path))
        os.mkdir(path)
        created.append(path)


def remove_dead_temporaries(target: Path) -> None:
    """Remove the temporaries of ``target`` left by confaudit runs that died (kill -9, power loss)."""
    try:
        with os.scandir(target.parent) as it:
            stale = [Path(e.path) for e in it if (m := _TEMPORARY.match(e.name))
                     and m["stem"] == target.name[:_STEM_CHARS] and not _alive(int(m["pid"]))]
    except OSError:
        return
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            try:
                with os.scandir(path) as it:  # only what a staged directory output holds: plain files
                    if not all(e.is_file(follow_symlinks=False) for e in it):
                        continue
            except OSError:
                continue
        remove(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except (OverflowError, OSError):
        return False
    return True


def write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never through a link, never over an existing entry), write ``data`` and fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | Iterable[bytes | memoryview]) -> None:
    """Write all of ``data`` (bytes, or pieces of it in order) to ``fd`` and fsync it."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        _write_view(fd, memoryview(data))
    else:
        pending: list[bytes | memoryview] = []
        size = 0
        for piece in data:  # small pieces gathered, so a bundle's many short keys are not a syscall each
            pending.append(piece)
            size += len(piece)
            if size >= 1 << 20 or len(pending) >= _MAX_PIECES:
                _write_pieces(fd, pending)
                pending, size = [], 0
        _write_pieces(fd, pending)
    os.fsync(fd)


_MAX_PIECES = 512
"""Pieces gathered into one ``writev`` (Linux takes up to 1,024)."""


def _write_pieces(fd: int, pieces: list[bytes | memoryview]) -> None:
    """The pieces written in order with ``writev`` (one system call, no joined copy), short writes resumed."""
    views = [memoryview(p) for p in pieces if len(p)]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _write_view(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


def fsync_directory(path: Path) -> None:
    """Make the entries of ``path`` durable (best effort: some file systems cannot sync a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    """Remove a temporary file or directory tree; a failure leaves it for the next run to remove."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def umask() -> int:
    """The process's file-creation mask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
