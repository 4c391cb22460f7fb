"""Does a session directory still hold exactly what its manifest sealed, and did the capture lose anything?

Every way it may not is named as one problem line: a file changed, missing or added after the
capture; a manifest that never sealed the files (capture killed: no hashes recorded) or lacks the
counters that would show losses; a listed name that is not a plain name in the directory (a path,
``..``, an absolute path: never opened; nor is a listed symlink followed); losses the capture itself
recorded (proxy hook errors, observation write errors or dropped records, kernel packet drops). A
session with any problem is not verified, and evidence built from it is incomplete.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confaudit.session.layout import FLOWS, MANIFEST, MANIFEST_TEMP, OBSERVATIONS, PCAP

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class FileCheck:
    """One file the manifest lists, compared with the directory."""

    name: str
    """File name inside the session directory."""
    sha256: str | None
    """SHA-256 the manifest recorded (None when it recorded none usable)."""
    sensitive: bool
    """The manifest marks the file as holding unredacted data."""
    present: bool
    """A regular file of that name exists."""
    matches: bool
    """Present, and its size and SHA-256 equal what the manifest recorded."""


@dataclass(frozen=True)
class SessionIntegrity:
    """The verdict on one session directory."""

    files: tuple[FileCheck, ...]
    """The files the manifest lists, in name order."""
    problems: tuple[str, ...]
    """One line per reason the session cannot be trusted to be whole (empty when verified)."""
    files_match: bool
    """The manifest sealed at least one file, every listed file matches and nothing was added."""
    hashes_recorded: bool
    """The manifest is finished and records a valid SHA-256 for every file it lists (at least one): without
    them nothing can be verified, and a report says "no hashes recorded", never that the files still match."""

    @property
    def verified(self) -> bool:
        """True only when nothing at all is in doubt."""
        return not self.problems


def check_session(directory: Path, manifest: Mapping[str, Any], known_digests: Mapping[Path, str] | None = None) -> SessionIntegrity:
    """Verify ``directory`` against its parsed ``manifest`` (empty mapping: the session has none).

    ``known_digests`` maps resolved paths to SHA-256 digests already computed while reading them as
    inputs, so the bytes that were analysed are the bytes that are verified (and hashed once).
    """
    directory = Path(directory)
    if not manifest:
        return SessionIntegrity((), ("no manifest.json (or an empty one): nothing seals the session's files, so none "
                                     "can be verified",), False, False)
    if manifest.get("stopped") is None:
        return SessionIntegrity((), ("manifest.json has no stop time: the capture never finished (killed or still "
                                     "running), so no hashes were recorded and its files cannot be verified",), False, False)
    files = manifest.get("files")
    listed: Mapping[object, object] = files if isinstance(files, Mapping) else {}
    problems: list[str] = []
    checks: list[FileCheck] = []
    for name, info in sorted(listed.items(), key=lambda item: str(item[0])):
        check, problem = _check_listed(directory, str(name), info, known_digests or {})
        if check is not None:
            checks.append(check)
        if problem:
            problems.append(problem)
    added = _unlisted_entries(directory, {str(n) for n in listed})
    if not listed:
        names = ", ".join(name for name, _ in added[:10])
        what = f": {len(added)} files in the directory cannot be verified ({names})" if added else ""
        problems.append(f"manifest.json records no file hashes (no hashes recorded){what}")
    else:
        problems.extend(f"{name}: not listed in manifest.json{kind}: added after the capture" for name, kind in added)
    problems.extend(recorded_losses(manifest, set(map(str, listed))))
    files_match = bool(checks) and all(c.matches for c in checks) and not added and len(checks) == len(listed)
    hashes_recorded = bool(listed) and len(checks) == len(listed) and all(c.sha256 is not None for c in checks)
    return SessionIntegrity(tuple(checks), tuple(problems), files_match, hashes_recorded)


def recorded_losses(manifest: Mapping[str, Any], listed: set[str]) -> list[str]:
    """Losses the capture recorded in a finished manifest, and counters it should have recorded but did not."""
    problems: list[str] = []
    hook_errors = manifest.get("hook_errors")
    if not isinstance(hook_errors, Mapping) or any(_count(v) is None for v in hook_errors.values()):
        problems.append("manifest.json does not record the proxy addon's hook errors as counts: unverifiable")
    elif sum(hook_errors.values()):
        per_hook = ", ".join(f"{k}: {v}" for k, v in sorted(hook_errors.items()) if v)
        problems.append(f"manifest.json records {sum(hook_errors.values())} proxy hook errors ({per_hook}): "
                        "records of that traffic may be missing")
    run = manifest.get("scenario_run")
    if isinstance(run, Mapping) and run.get("outcome") != "completed":
        recorded = run.get("error")
        error = recorded if isinstance(recorded, str) else "no reason recorded"
        problems.append(f"the scenario run did not complete ({error[:300]}): the session holds only the steps before it")
    recorded_stats = manifest.get("stats")
    stats: Mapping[object, object] = recorded_stats if isinstance(recorded_stats, Mapping) else {}
    if listed & {OBSERVATIONS, FLOWS}:
        for key, what in (("write_errors", "observation records that failed to write (write errors)"),
                          ("dropped_records", "observation records queued but never written (dropped)")):
            value = _count(stats.get(key))
            if value is None:
                problems.append(f"manifest.json does not record the number of {what}: unverifiable")
            elif value:
                problems.append(f"manifest.json records {value} {what}: {OBSERVATIONS} is missing them")
    if PCAP in listed:
        problems.extend(_sniffer_losses(stats.get("sniffer")))
    return problems


def _sniffer_losses(sniffer: Any) -> list[str]:
    if not isinstance(sniffer, Mapping):
        return [f"manifest.json records no packet sniffer statistics for {PCAP}: its kernel drops are unknown"]
    iface = sniffer.get("iface") if isinstance(sniffer.get("iface"), str) else "?"
    problems = []
    if isinstance(sniffer.get("error"), str):
        problems.append(f"the packet sniffer on {iface} failed ({sniffer['error'][:200]}): {PCAP} ends early")
    drops, received = _count(sniffer.get("kernel_drops")), _count(sniffer.get("kernel_packets"))
    if drops is None:
        problems.append(f"manifest.json does not record the packet sniffer's kernel drops (PACKET_STATISTICS): "
                        f"{PCAP} may be missing packets")
    elif drops:
        of = f" of {received}" if received is not None else ""
        problems.append(f"the kernel dropped {drops}{of} packets the sniffer on {iface} should have received "
                        f"(PACKET_STATISTICS): {PCAP} is missing them")
    return problems


def _check_listed(directory: Path, name: str, info: Any, known_digests: Mapping[Path, str]) -> tuple[FileCheck | None, str | None]:
    why_not = _not_a_file_name(name)
    if why_not:
        return None, f"manifest.json lists {name[:80]!r}, {why_not}: never read, so the session cannot be verified"
    info = info if isinstance(info, Mapping) else {}
    recorded = info.get("sha256") if isinstance(info.get("sha256"), str) and _SHA256.match(info["sha256"]) else None
    size = _count(info.get("size"))
    sensitive = bool(info.get("sensitive"))
    path = directory / name
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        return FileCheck(name, recorded, sensitive, False, False), f"{name}: listed in manifest.json but missing"
    except OSError as exc:
        return FileCheck(name, recorded, sensitive, False, False), f"{name}: cannot be examined ({exc.strerror or exc})"
    if not stat.S_ISREG(before.st_mode):  # never follow a link or open a FIFO/device in place of the sealed file
        return FileCheck(name, recorded, sensitive, False, False), f"{name}: not a regular file ({_kind(before.st_mode)})"
    if recorded is None:
        return (FileCheck(name, None, sensitive, True, False),
                f"{name}: no hash recorded in manifest.json (no valid SHA-256): unverifiable")
    if size is not None and before.st_size != size:
        return (FileCheck(name, recorded, sensitive, True, False),
                f"{name}: {before.st_size} bytes, manifest.json recorded {size}: changed after the capture")
    try:
        digest = known_digests.get(path.resolve()) or _sha256_of_entry(path, before)
    except OSError as exc:
        return FileCheck(name, recorded, sensitive, True, False), f"{name}: cannot be read ({exc.strerror or exc})"
    if digest != recorded:
        return (FileCheck(name, recorded, sensitive, True, False),
                f"{name}: SHA-256 differs from manifest.json: changed after the capture")
    return FileCheck(name, recorded, sensitive, True, True), None


def _not_a_file_name(name: str) -> str | None:
    """Why ``name`` is not the name of an entry directly inside the session directory (None when it is)."""
    if not name:
        return "an empty file name"
    if "\0" in name:
        return "a name with a NUL character"
    if name in (".", ".."):
        return "a directory reference, not a file name"
    if name.startswith(("/", "\\")):
        return "an absolute path outside the session directory"
    if "/" in name or "\\" in name:
        parts = name.replace("\\", "/").split("/")
        return ("a path leading out of the session directory ('..')" if ".." in parts
                else "a path, not a file name in the session directory")
    return None


def _sha256_of_entry(path: Path, seen: os.stat_result) -> str:
    """SHA-256 of the regular file ``seen`` by lstat, opened without following a link; OSError if it was
    replaced in between (so a swapped-in link or FIFO is never read or waited on)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fh.fileno())
        if (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino) or not stat.S_ISREG(now.st_mode):
            raise OSError(errno.ESTALE, "replaced while it was being verified")
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _unlisted_entries(directory: Path, listed: set[str]) -> list[tuple[str, str]]:
    """(name, " (what it is)" unless a regular file) of every entry the manifest does not account for."""
    with os.scandir(directory) as entries:
        return sorted((e.name, "" if e.is_file(follow_symlinks=False) else f" ({_kind(e.stat(follow_symlinks=False).st_mode)})")
                      for e in entries
                      if e.name != MANIFEST and e.name not in listed and not MANIFEST_TEMP.match(e.name))


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a pipe, socket or device"


def _count(value: Any) -> int | None:
    """A non-negative integer counter, or None when absent or not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
