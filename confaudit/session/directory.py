"""Session bundle directories: manifest writing, phase markers, reading a session for analysis."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confaudit import __version__
from confaudit.errors import InputError
from confaudit.session.layout import (BROWSER_KEYLOG, FLOWS, KEYLOG, MANIFEST, MANIFEST_TEMP, MEDIA_KEYLOGS,  # noqa: F401
                                      OBSERVATIONS, PCAP, PHASES, SENSITIVE, SFU_KEYLOG)

if TYPE_CHECKING:
    from confaudit.evidence_model import Phase, SessionProvenance, SessionProvenanceSession, SessionProvenanceSessionFile

KNOWN_PHASES = ("lobby", "joined", "muted", "unmuted", "camera-off", "camera-on", "screen-share", "left")
MAX_PHASE_LINES = 100_000
_DEPENDENCIES = ("mitmproxy", "scapy", "aiortc", "av", "cryptography", "pyOpenSSL")


@dataclass(frozen=True)
class SessionInputs:
    """What one session directory contributes to an analysis."""

    path: Path
    """The session directory."""
    manifest: dict[str, Any]
    """Parsed manifest.json (empty when the session has none yet)."""
    vendor: str
    """Vendor recorded at capture time."""
    captures: list[Path]
    """Packet captures (capture.pcapng when non-empty)."""
    http_sources: list[Path]
    """observations.jsonl if present, else flows.mitm: never both (no double counting)."""
    phases: list[Phase]
    """Timeline markers ``{"phase", "ts"}`` in file order."""
    phases_skipped: list[str]
    """One problem per phase marker skipped (a number out of range): the evidence is then incomplete."""
    keylog: Path | None
    """mitmproxy's NSS key log, when non-empty."""
    media_keylogs: list[Path] = field(default_factory=list)
    """The call endpoints' key logs a scenario run sealed (MEDIA_KEYLOGS present as regular files): the
    browsers' own and, in sfu lab runs, the lab SFU's DTLS keys."""
    room_names: list[str] = field(default_factory=list)
    """Room names the auditor recorded in the manifest."""
    participants: list[str] = field(default_factory=list)
    """Participant names the auditor recorded."""
    first_party: list[str] = field(default_factory=list)
    """The vendor's own domains, when recorded."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def dependency_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    import platform

    out = {"python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def new_manifest(vendor: str, scenario: str = "", operator: str = "", mode: str = "", simulated: bool = False,
                 known: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The manifest of a session that starts now (``stopped`` is filled by :func:`finish_manifest`)."""
    return {
        "format": "confaudit-session", "format_version": 1,
        "tool": {"name": "confaudit", "version": __version__}, "dependencies": dependency_versions(),
        "vendor": vendor, "scenario": scenario, "operator": operator, "mode": mode,
        "simulated": bool(simulated), "started": time.time(), "stopped": None,
        "known": {k: list(v) for k, v in (known or {}).items()},
        "files": {}, "hook_errors": {}, "hook_error_samples": [], "stats": {},
    }


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    from confaudit.jsonstream import write_json

    write_json(Path(directory) / MANIFEST, manifest, private=True)


def make_private_directory(directory: Path) -> None:
    """Create the session directory (and missing parents) readable by its owner only: a session holds
    personal data (decrypted traffic, TLS keys, names). An existing directory is made 0700 too."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)


def open_private(path: Path, mode: str = "ab") -> Any:
    """Open a session file for writing, created 0600 whatever the umask (an existing file is made 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def finish_manifest(directory: Path, manifest: dict[str, Any], stopped: float | None = None) -> dict[str, Any]:
    """Hash every file (dotfiles too: anything unlisted reads as added later), mark raw ones sensitive,
    stamp the stop time and write atomically."""
    directory = Path(directory)
    files = {}
    for path in sorted(directory.iterdir()):
        if path.is_symlink() or not path.is_file() or path.name == MANIFEST or MANIFEST_TEMP.match(path.name):
            continue
        files[path.name] = {"sha256": sha256_file(path), "size": path.stat().st_size,
                            "sensitive": path.name in SENSITIVE}
        if path.name in SENSITIVE:
            files[path.name]["why_sensitive"] = SENSITIVE[path.name]
    done = dict(manifest, files=files, stopped=stopped if stopped is not None else time.time())
    write_manifest(directory, done)
    return done


def append_phase(directory: Path, phase: str, ts: float | None = None) -> Phase:
    """Append ``{"phase", "ts"}`` to phases.jsonl with fsync (safe from another terminal).

    Refused once the session is finished: its manifest has sealed phases.jsonl by its hash.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "session directory does not exist")
    label = phase.strip()
    if not label or len(label) > 64 or not all(ch.isprintable() for ch in label):
        raise InputError(directory, "phase must be 1-64 printable characters")
    stopped = _stopped(directory)
    if stopped is not None:
        raise InputError(directory, f"session finished at {iso_time(stopped)}: its files are sealed by the manifest's "
                                    "hashes, so markers can only be added while it is recording")
    entry: Phase = {"phase": label, "ts": time.time() if ts is None else float(ts)}
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(directory / PHASES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # personal data: owner only
    try:
        os.write(fd, line)  # one write() of a short line under O_APPEND: concurrent markers never interleave
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def iso_time(ts: float) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-25T14:03:07.123+00:00."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


def _stopped(directory: Path) -> float | None:
    """The manifest's stop time; None while recording (or without a manifest). InputError when corrupt."""
    if not (directory / MANIFEST).is_file():
        return None
    stopped = _load_manifest(directory / MANIFEST).get("stopped")
    if stopped is None:
        return None
    if isinstance(stopped, bool) or not isinstance(stopped, (int, float)):
        raise InputError(directory / MANIFEST, "manifest field 'stopped' must be a number or null")
    return float(stopped)


def read_phases(path: Path) -> list[Phase]:
    """Phase markers; a torn last line (crash mid-write) is skipped, anything else malformed is an error."""
    return read_phase_markers(path)[0]


def read_phase_markers(path: Path) -> tuple[list[Phase], list[str]]:
    """(markers, one problem per marker skipped): a marker whose time no double can hold (``1e400``) is
    skipped and reported, a torn last line skipped silently (a crash mid-write), anything else malformed
    is an InputError."""
    from confaudit.jsonio import first_bad_number

    try:
        if not path.is_file():
            return [], []
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise InputError(path, exc.strerror or "cannot read phase markers") from None
    if len(lines) > MAX_PHASE_LINES:
        raise InputError(path, f"more than {MAX_PHASE_LINES} phase markers")
    out: list[Phase] = []
    skipped: list[str] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"), parse_constant=_reject)
            ok = isinstance(entry, dict) and isinstance(entry.get("phase"), str) \
                and isinstance(entry.get("ts"), (int, float)) and not isinstance(entry.get("ts"), bool)
        except (ValueError, UnicodeDecodeError, RecursionError):
            ok = False
        bad = first_bad_number(entry) if ok else None
        if bad is not None:
            skipped.append(f"{path.name}:{number}: phase marker skipped: number out of range at {bad[:100]}")
            continue
        if not ok:
            if number == len(lines):
                continue
            raise InputError(path, f"line {number}: not a phase marker {{\"phase\": str, \"ts\": number}}")
        out.append({"phase": entry["phase"][:64], "ts": float(entry["ts"])})
    return out, skipped


def _reject(name: str) -> Any:
    raise ValueError(name)


def _load_manifest(path: Path) -> dict[str, Any]:
    from confaudit.jsonio import load_json_file

    loaded = load_json_file(path, max_bytes=16 * 1024 * 1024)
    if not isinstance(loaded, dict) or loaded.get("format") not in (None, "confaudit-session"):
        raise InputError(path, "not a confaudit session manifest")
    if not isinstance(loaded.get("files", {}), dict) or not isinstance(loaded.get("known", {}), dict):
        raise InputError(path, "manifest fields 'files'/'known' must be objects")
    return loaded


def read_session(directory: Path) -> SessionInputs:
    """Everything a session directory holds for analysis; InputError on a corrupt manifest."""
    directory = Path(directory)
    if os.path.lexists(directory / MANIFEST) and _regular(directory / MANIFEST) is None:
        raise InputError(directory / MANIFEST, "not a regular file (a link, directory, pipe or device): a session's "
                                               "manifest is read only from inside its directory")
    manifest = _load_manifest(directory / MANIFEST) if os.path.lexists(directory / MANIFEST) else {}
    pcap = directory / PCAP
    observations, flows, keylog = directory / OBSERVATIONS, directory / FLOWS, directory / KEYLOG
    if _regular(observations):
        http_sources = [observations]
    elif _regular(flows):
        http_sources = [flows]
    else:
        http_sources = []
    known = manifest.get("known", {})

    def names(key: str) -> list[str]:
        value = known.get(key, [])
        return [str(v) for v in value if isinstance(v, (str, int))] if isinstance(value, list) else []

    vendor = manifest.get("vendor")
    phases, phases_skipped = (
        read_phase_markers(directory / PHASES) if _regular(directory / PHASES) is not None else ([], [])
    )
    return SessionInputs(
        path=directory, manifest=manifest, vendor=vendor if isinstance(vendor, str) else "",
        captures=[pcap] if _regular(pcap) else [],
        http_sources=http_sources, phases=phases, phases_skipped=phases_skipped,
        keylog=keylog if _regular(keylog) else None,
        media_keylogs=[directory / name for name in MEDIA_KEYLOGS if _regular(directory / name)],
        room_names=names("room_names"), participants=names("participants"), first_party=names("first_party"),
    )


def _regular(path: Path) -> int | None:
    """Size of ``path`` when it is a regular file itself, else None: a session's files are read only from inside
    the directory, never through a symlink (its integrity check names such an entry) or from a FIFO or device."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def session_provenance(sessions: list[SessionInputs], known_digests: dict[Path, str] | None = None) -> SessionProvenance:
    """bundle["session"]: who/what/when, versions, file hashes, and the integrity verdict per session.

    ``known_digests``: SHA-256 of files already hashed while read as inputs (resolved path -> hex).
    """
    from confaudit.session.integrity import check_session

    entries: list[SessionProvenanceSession] = []
    problems: list[str] = []
    for sess in sessions:
        m = sess.manifest
        integrity = check_session(sess.path, m, known_digests)
        files: list[SessionProvenanceSessionFile] = [
            {"name": f.name, "sha256": f.sha256, "sensitive": f.sensitive, "present": f.present, "matches": f.matches}
            for f in integrity.files]
        recorded_hook_errors = m.get("hook_errors")
        hook_errors: dict[str, object] = recorded_hook_errors if isinstance(recorded_hook_errors, dict) else {}
        recorded_tool, recorded_dependencies = m.get("tool"), m.get("dependencies")
        # Passed through as the manifest records them: confaudit writes name -> version strings (the schema's
        # type), but an edited or foreign manifest may hold other values, which nothing here checks.
        dependencies: dict[str, str] = recorded_dependencies if isinstance(recorded_dependencies, dict) else {}
        problems.extend(f"{sess.path}: {p}" for p in integrity.problems)
        entry: SessionProvenanceSession = {
            "path": sess.path.name, "vendor": sess.vendor, "scenario": _s(m.get("scenario")),
            "operator": _s(m.get("operator")), "mode": _s(m.get("mode")),
            "started": _num(m.get("started")), "stopped": _num(m.get("stopped")),
            "tool": recorded_tool if isinstance(recorded_tool, dict) else None,
            "dependencies": dependencies,
            "simulated": bool(m.get("simulated", False)), "files": files,
            "sensitive_files": [f["name"] for f in files if f["sensitive"]],
            "hook_errors": hook_errors, "has_manifest": bool(m),
            "finished": m.get("stopped") is not None, "files_match": integrity.files_match,
            "hashes_recorded": integrity.hashes_recorded,
            "integrity": {"verified": integrity.verified, "problems": list(integrity.problems)},
        }
        run = m.get("scenario_run")
        if isinstance(run, dict):  # recorded by `confaudit run`: which scenario, byte for byte, and how it ended
            entry["scenario_run"] = {"file": _s(run.get("file")), "sha256": _s(run.get("sha256")),
                                     "outcome": _s(run.get("outcome"))}
        entries.append(entry)
    first: SessionProvenanceSession = entries[0] if entries else {}
    provenance: SessionProvenance = {
        "vendor": first.get("vendor", ""), "scenario": first.get("scenario", ""), "operator": first.get("operator", ""),
        "started": min((e["started"] for e in entries if e["started"] is not None), default=None),
        "stopped": max((e["stopped"] for e in entries if e["stopped"] is not None), default=None),
        "simulated": any(e["simulated"] for e in entries),
        "files_match": bool(entries) and all(e["files_match"] for e in entries),
        "hashes_recorded": bool(entries) and all(e["hashes_recorded"] for e in entries),
        "hook_errors": sum(int(v) for e in entries for v in e["hook_errors"].values() if isinstance(v, int)),
        "integrity": {"verified": bool(entries) and not problems, "problems": problems},
        "sessions": entries,
    }
    return provenance


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
