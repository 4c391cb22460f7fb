"""``-`` as an input: standard input read into a private temporary file, then detected like any file.

A capture piped in (``tshark -w - | confaudit analyze -``, ``zcat x.pcap.gz | confaudit check - ...``) is
copied to a temporary file (mode 0600, removed when the command ends) so every reader can seek and hash
it as usual; its kind (pcap, pcapng, gzip, HAR, .mitm, observations, evidence JSON) is then found from its
content. Error messages and the evidence bundle name it ``<stdin>``, never the temporary path.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from confaudit.errors import InputError, UsageError

STDIN = "-"
"""How an input (or an output) names the standard stream."""
STDIN_NAME = "<stdin>"
"""How messages and the evidence name a capture read from standard input."""
MAX_STDIN_BYTES = 4 << 30
"""At most this much is read from standard input: the largest cap of any input kind (a ``.mitm`` flow file);
each kind's own, smaller cap (HAR, evidence JSON) applies once the kind is known."""
_CHUNK = 1 << 20

_labels: dict[str, str] = {}
"""Temporary path -> ``<stdin>``, for every standard input read by this process."""


def is_stream(value: object) -> bool:
    """True for ``-`` (as a str or a Path): the standard stream, not a file."""
    return value is not None and str(value) == STDIN


def relabel(text: str) -> str:
    """``text`` with every temporary path of a piped input replaced by ``<stdin>``."""
    for path, label in _labels.items():
        text = text.replace(path, label)
    return text


def relabel_bundle(bundle: MutableMapping[str, Any]) -> None:
    """Name a piped input ``<stdin>`` where a bundle names its inputs (``inputs[]`` and the warnings)."""
    if not _labels:
        return
    for key in ("inputs", "warnings"):
        if key in bundle:
            bundle[key] = _relabel_value(bundle[key])


def _relabel_value(value: Any) -> Any:
    if isinstance(value, str):
        return relabel(value)
    if isinstance(value, list):
        return [_relabel_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _relabel_value(v) for k, v in value.items()}
    return value


@contextmanager
def piped_input(stream: BinaryIO | None = None, limit: int | None = None) -> Iterator[Path]:
    """Copy ``stream`` (standard input) to a private temporary file; yields its path, removes it afterwards."""
    source = stream if stream is not None else sys.stdin.buffer
    if stream is None and sys.stdin.isatty():
        raise UsageError("- reads an input from standard input, and standard input is a terminal; "
                         "pipe a capture into it (or give a file path)")
    cap = MAX_STDIN_BYTES if limit is None else limit
    directory = Path(tempfile.mkdtemp(prefix="confaudit-stdin-"))
    path = directory / "stdin"
    _labels[str(path)] = STDIN_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # captures are sensitive
        with os.fdopen(fd, "wb") as out:
            copied = 0
            while chunk := source.read(_CHUNK):
                copied += len(chunk)
                if copied > cap:
                    raise InputError(STDIN_NAME, f"more than {cap:,} bytes on standard input; save it to a file "
                                                 "and give its path")
                out.write(chunk)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
