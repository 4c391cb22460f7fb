"""Orchestrate every input into one evidence bundle (the only place stages meet).

Input kinds, detected by content (never by file name alone):
- session directory (``manifest.json`` inside): its capture, flows, observations, phases, key log;
- packet capture: pcap, pcapng, either gzip-compressed;
- HTTP side: ``.mitm`` flow file (tnetstring), HAR (JSON with ``log.entries``),
  observations JSONL written by the addon;
- a finished evidence bundle (JSON with ``schema_version``): used as is.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from confaudit import __version__, terminal
from confaudit.errors import InputError, UsageError
from confaudit.gcpause import records_held
from confaudit.evidence import SCHEMA_VERSION
from confaudit.redact import Redactor
from confaudit.stdin_input import relabel_bundle

if TYPE_CHECKING:
    from confaudit.analysis.countries import CountryTable
    from confaudit.evidence_model import EvidenceBundle

PCAP_MAGICS = {b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
OTHER_OUTPUTS = {"confaudit-findings": "confaudit findings (check --json)",
                 "confaudit-comparison": "a confaudit comparison (compare --json)",
                 "confaudit-diff": "a confaudit diff (diff --json)"}
"""JSON outputs of confaudit that carry ``schema_version`` too, by their ``format``."""
PROBE_BYTES = 4096
"""Bytes read to tell an input's kind: never the whole file."""

Progress = Callable[[str, int, int], None]
"""progress(label, done, total) — called by long-running stages."""


@dataclass
class _Sorted:
    captures: list[Path] = field(default_factory=list)
    http_sources: list[Path] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)
    bundles: list[Path] = field(default_factory=list)
    keylogs: list[Path] = field(default_factory=list)


def detect_kind(path: Path) -> str:
    """Return 'session', 'capture', 'mitm', 'har', 'observations' or 'bundle'; raise InputError."""
    try:
        return _detect_kind(path)
    except OSError as exc:  # e.g. a directory or file the OS will not let us read
        raise InputError(exc.filename or path, exc.strerror or "cannot read file") from None


def _detect_kind(path: Path) -> str:
    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.is_dir():
        if (path / "manifest.json").is_file() or (path / "observations.jsonl").is_file():
            return "session"
        raise InputError(path, "directory is not a confaudit session (no manifest.json)")
    if not path.is_file():
        raise InputError(path, "not a regular file (pipes, devices and sockets are not read)")
    with path.open("rb") as fh:
        probe = fh.read(PROBE_BYTES)
    if not probe:
        raise InputError(path, "file is empty")
    if probe[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                inner = gz.read(4)
        except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupt from the first deflate block on
            raise InputError(path, f"corrupt gzip data ({exc})") from None
        if inner in PCAP_MAGICS or inner == PCAPNG_MAGIC:
            return "capture"
        raise InputError(path, "gzip file does not contain a pcap or pcapng capture")
    if probe[:4] in PCAP_MAGICS or probe[:4] == PCAPNG_MAGIC:
        return "capture"
    stripped = probe.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{":
        return _json_kind(path, stripped)
    if probe[:1].isdigit() and b":" in probe[:16]:
        return "mitm"
    raise InputError(path, "not a recognised input (expected pcap, pcapng, gzip capture, session directory, .mitm, HAR or evidence JSON)")


def _json_kind(path: Path, head: bytes) -> str:
    """'bundle', 'har' or 'observations' from the top-level keys of the first object in ``head``.

    A HAR opens with ``log`` and observation records with ``kind``; a bundle's sorted keys put
    ``schema_version`` past the first KiBs, indented or not, so an object naming neither is read as a
    bundle (whose loader checks its version and schema) without scanning the file twice.
    """
    from confaudit.jsonio import top_level_keys

    keys, end = top_level_keys(head)
    if b"schema_version" in keys:
        return "bundle"
    if b"log" in keys:
        return "har"
    if b"kind" in keys or path.suffix == ".jsonl" or (end is not None and head[end:].lstrip()[:1] == b"{"):
        return "observations"
    if end is not None:
        raise InputError(path, "JSON object is neither a HAR (log), observation records (kind) nor an evidence "
                               "bundle (schema_version)")
    return "bundle"


def _sort_inputs(paths: Sequence[Path]) -> _Sorted:
    from confaudit.session.directory import read_session

    out = _Sorted()
    for raw in paths:
        path = Path(raw)
        kind = detect_kind(path)
        if kind == "session":
            sess = read_session(path)
            out.sessions.append(sess)
            out.captures.extend(sess.captures)
            out.http_sources.extend(sess.http_sources)
            if sess.keylog is not None:
                out.keylogs.append(sess.keylog)
            out.keylogs.extend(sess.media_keylogs)
        elif kind == "capture":
            out.captures.append(path)
        elif kind == "bundle":
            out.bundles.append(path)
        else:
            out.http_sources.append(path)
    if out.bundles and (len(paths) > 1):
        raise UsageError("an evidence JSON cannot be combined with other inputs; pass the raw inputs instead")
    return out


def load_bundle(path: Path) -> EvidenceBundle:
    """Read a previously written evidence bundle, checking its version and schema."""
    from confaudit.evidence.schema import validate_bundle
    from confaudit.jsonio import load_json_file

    bundle = load_json_file(path)
    if not isinstance(bundle, dict) or "schema_version" not in bundle:
        raise InputError(path, "not a confaudit evidence bundle")
    if bundle.get("format") in OTHER_OUTPUTS:  # they share the version key, not the shape
        raise InputError(path, f"{OTHER_OUTPUTS[bundle['format']]}, not an evidence bundle (give the bundle or the raw inputs)")
    major = str(bundle["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise InputError(path, f"evidence schema {bundle['schema_version']} is not supported (this confaudit reads {SCHEMA_VERSION})")
    problems = validate_bundle(bundle)
    if problems:
        raise InputError(path, f"evidence bundle does not match the schema: {problems[0]}")
    from confaudit.quick_exit import hold

    return hold(cast("EvidenceBundle", bundle))


@records_held
def build_evidence(
    paths: Sequence[Path],
    *,
    keylog: Path | None = None,
    canary: Path | None = None,
    first_party: Iterable[str] = (),
    room_names: Iterable[str] = (),
    participants: Iterable[str] = (),
    accounts: Iterable[str] = (),
    entity_lists: Iterable[Path] = (),
    country_table: Path | None = None,
    progress: Progress | None = None,
    vendor: str | None = None,
    redactor: Redactor,
) -> EvidenceBundle:
    """Analyse every input and fold the results into one bundle dict (deterministic).

    ``vendor`` names the audited vendor when the inputs do not (a capture carries no vendor name,
    and vendors such as Teams and Skype share first-party names); it wins over a session manifest's.
    ``redactor`` (made once by the command) tokenises every secret the stages meet. ``country_table`` (the
    auditor's offline address -> country file) is read before any analysis, so a bad one fails fast; it locates the
    flows, media path endpoints and parties, also of a finished evidence bundle given as the input.
    """
    if not paths:
        raise UsageError("no inputs given")
    table = _country_table(country_table)
    with terminal.stage("inputs detected") as counts:
        sorted_inputs = _sort_inputs(paths)
        counts.update(captures=len(sorted_inputs.captures), **{"HTTP-side files": len(sorted_inputs.http_sources)},
                      sessions=len(sorted_inputs.sessions))
    if sorted_inputs.bundles:
        if keylog is not None or canary is not None:
            raise UsageError(f"{'--keylog' if keylog is not None else '--canary'} needs the raw capture, not an evidence JSON")
        with terminal.stage("evidence JSON loaded"):
            loaded = load_bundle(sorted_inputs.bundles[0])
        if table is not None:
            _locate(cast("dict[str, Any]", loaded), table)
        return loaded

    bundle: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "confaudit", "version": __version__},
        "inputs": [],
        "complete": True,
        "warnings": [],
        "session": None,
        "phases": [],
    }

    if sorted_inputs.captures:
        from confaudit.analysis.packet_side import analyze_captures

        with terminal.stage("packets analysed") as counts:
            phase_starts = [p["ts"] for s in sorted_inputs.sessions for p in s.phases] if sorted_inputs.sessions else None
            _fold(bundle, analyze_captures(sorted_inputs.captures, progress=progress, phase_starts=phase_starts,
                                            redactor=redactor))
            counts.update(packets=sum(int(i.get("records_read") or 0) for i in bundle["inputs"]),
                          flows=len(bundle.get("flows") or []), **{"media streams": len(bundle.get("media_streams") or [])})

    if sorted_inputs.http_sources:
        from confaudit.importers.http_sources import link_http_to_flows, load_http_sources

        with terminal.stage("HTTP side imported") as counts:
            _fold(bundle, load_http_sources(sorted_inputs.http_sources, redactor))
            link_http_to_flows(bundle)
            counts.update(**{"HTTP requests": len(bundle.get("http") or []),
                             "WebSocket messages": len(bundle.get("websocket") or [])})

    bundle["vendor"] = _vendor(vendor, sorted_inputs.sessions, bundle["warnings"])
    if sorted_inputs.sessions:
        from confaudit.session.directory import session_provenance

        bundle["session"] = session_provenance(sorted_inputs.sessions, _input_digests(bundle["inputs"]))
        integrity = bundle["session"]["integrity"]
        if not integrity["verified"]:  # lost or altered session files: nothing absent from them proves anything
            bundle["complete"] = False
            bundle["warnings"].extend(f"session {problem}" for problem in integrity["problems"])
        phases = [p for s in sorted_inputs.sessions for p in s.phases]
        skipped_markers = [f"session {s.path}: {problem}" for s in sorted_inputs.sessions for problem in s.phases_skipped]
        if skipped_markers:  # a lost "muted" marker would hide audio sent while muted
            bundle["complete"] = False
            bundle["warnings"].extend(skipped_markers)
        bundle["phases"] = sorted(phases, key=lambda p: (p["ts"], p["phase"]))
        from confaudit.scenario.events import session_events

        events, skipped_events = session_events([s.path for s in sorted_inputs.sessions])
        if events or skipped_events:  # recorded by `confaudit run`: room links created, join attempts, locks
            bundle["scenario_events"] = events
        if skipped_events:  # a lost try_join would leave room_lock judged on part of what happened
            bundle["complete"] = False
            bundle["warnings"].extend(skipped_events)

    vendor_name = [bundle["vendor"]["name"]] if bundle.get("vendor") else []  # "Zoom" is also an entity name
    known = _known_values(sorted_inputs.sessions, [*first_party, *vendor_name], room_names, participants)

    from confaudit.telemetry import enrich as telemetry_enrich

    with terminal.stage("telemetry decoded and attributed") as counts:
        telemetry_enrich(bundle, entity_lists=list(entity_lists), accounts=list(accounts), redactor=redactor, **known)
        counts.update(parties=len(bundle.get("parties") or []), **{"data flows": len(bundle.get("data_flows") or [])})
    if table is not None:
        _locate(bundle, table)

    keylogs = ([keylog] if keylog is not None else []) + sorted_inputs.keylogs
    if keylog is not None and not sorted_inputs.captures:
        raise UsageError("--keylog needs at least one packet capture")
    if canary is not None and not sorted_inputs.captures:
        raise UsageError("--canary needs at least one packet capture")
    if sorted_inputs.captures:
        from confaudit.canary.spec import read_specs
        from confaudit.e2ee import enrich as e2ee_enrich

        canaries = read_specs(canary, [s.path for s in sorted_inputs.sessions])
        with terminal.stage("E2EE test"):
            e2ee_enrich(bundle, captures=sorted_inputs.captures, keylogs=keylogs, explicit_keylog=keylog, canaries=canaries)

    relabel_bundle(bundle)
    _mark_partial_records(bundle)
    bundle["complete"] = bundle["complete"] is True and all(i.get("complete") is True for i in bundle["inputs"])
    from confaudit.quick_exit import hold

    return hold(cast("EvidenceBundle", bundle))  # freed by the process's end, not object by object


def _country_table(path: Path | None) -> CountryTable | None:
    if path is None:
        return None
    from confaudit.analysis.countries import load_country_table

    with terminal.stage("country table read") as counts:
        table = load_country_table(path)
        counts.update(rows=table.rows)
    return table


def _locate(bundle: dict[str, Any], table: CountryTable) -> None:
    from confaudit.evidence.countries import apply_country_table

    with terminal.stage("addresses located") as counts:
        apply_country_table(bundle, table)
        counts.update(located=bundle["country_table"]["located"], **{"not located": bundle["country_table"]["not_located"]})


def _mark_partial_records(bundle: dict[str, Any]) -> None:
    """Records that lack a key their schema requires (a session written by an older or foreign addon can hold
    them) are kept as read, but the checks will not read them: the bundle says so and is incomplete."""
    from confaudit.evidence_model import records_lacking_keys

    for section, (count, keys) in records_lacking_keys(bundle).items():
        bundle["warnings"].append(f"{count} {section} record{'s' if count != 1 else ''} lack required fields "
                                  f"({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}): not judged by the checks")
        bundle["complete"] = False


def _input_digests(inputs: list[dict[str, Any]]) -> dict[Path, str]:
    """SHA-256 of every input file as it was read (resolved path -> hex), so sessions verify those bytes."""
    return {Path(i["path"]).resolve(): i["sha256"] for i in inputs
            if isinstance(i.get("path"), str) and isinstance(i.get("sha256"), str) and len(i["sha256"]) == 64}


def _vendor(given: str | None, sessions: list[Any], warnings: list[str]) -> dict[str, str] | None:
    """``{"name", "source"}`` of the audited vendor: the command line, else the session manifests, else None."""
    recorded = sorted({s.vendor.strip() for s in sessions if s.vendor.strip()})
    name = (given or "").strip()
    if name:
        if recorded and recorded != [name]:
            warnings.append(f"--vendor {name} overrides the vendor recorded in the session manifest ({', '.join(recorded)})")
        return {"name": name[:200], "source": "command line"}
    if len(recorded) == 1:
        return {"name": recorded[0][:200], "source": "session manifest"}
    if recorded:
        warnings.append(f"the sessions name different vendors ({', '.join(recorded)}): the bundle names none "
                        "(pass --vendor to name one)")
    return None


def _known_values(sessions: list[Any], first_party: Iterable[str], room_names: Iterable[str],
                  participants: Iterable[str]) -> dict[str, list[str]]:
    """Values given on the command line plus those recorded in session manifests, deduplicated in order."""
    known = {"first_party": list(first_party), "room_names": list(room_names), "participants": list(participants)}
    for sess in sessions:
        for key in known:
            known[key].extend(str(v) for v in (getattr(sess, key, None) or ()))
    return {key: list(dict.fromkeys(v for v in values if v)) for key, values in known.items()}


def _fold(bundle: dict[str, Any], part: Mapping[str, object]) -> None:
    """Add one stage's sections to the bundle: its ``inputs`` and ``warnings`` are appended, ``complete`` ANDs, and
    every other section is the stage's own (two stages writing one section would be a confaudit bug)."""
    for key, value in part.items():
        if key == "complete":
            bundle["complete"] = bundle["complete"] is True and value is True
        elif key in ("inputs", "warnings"):
            bundle[key].extend(value)
        elif key in bundle:
            raise RuntimeError(f"two pipeline stages wrote the bundle's {key!r} section")
        else:
            bundle[key] = value
