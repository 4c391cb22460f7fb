"""``confaudit compare``: one audit report per vendor plus a comparison (HTML, Markdown, JSON).

Sessions are matched to claims files by the rule in :mod:`confaudit.report.matching`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confaudit.errors import InputError, UsageError
from confaudit.redact import Redactor

MAX_CLAIMS_FILES = 200


def _claims_files(claims_dir: Path) -> list[Any]:
    from confaudit.rules.claims import load_claims

    if not claims_dir.is_dir():
        raise InputError(claims_dir, "--claims-dir is not a directory")
    paths = sorted(p for p in claims_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not paths:
        raise InputError(claims_dir, "no claims files (*.yaml, *.yml) in --claims-dir")
    if len(paths) > MAX_CLAIMS_FILES:
        raise InputError(claims_dir, f"{len(paths)} claims files; at most {MAX_CLAIMS_FILES} are read")
    return [load_claims(p) for p in paths]


def _session_vendor(path: Path) -> str:
    """Vendor named in a session directory's manifest, without analysing anything ('' if none)."""
    manifest = path / "manifest.json"
    if not (path.is_dir() and manifest.is_file()):
        return ""
    from confaudit.jsonio import load_json_file

    data = load_json_file(manifest, max_bytes=16 * 1024 * 1024)
    vendor = data.get("vendor") if isinstance(data, dict) else None
    return vendor.strip() if isinstance(vendor, str) else ""


def split_vendor(arg: str) -> tuple[str, Path]:
    """``VENDOR=PATH`` -> (vendor, path); a plain path (even one holding '=') -> ("", path)."""
    name, sep, rest = arg.partition("=")
    if sep and name.strip() and rest and not Path(arg).exists():
        return name.strip(), Path(rest)
    return "", Path(arg)


def _evaluate(session: Path, claims_files: list[Any], redactor: Redactor, given_vendor: str = "") -> tuple[Any, Any, str]:
    """(RunResult, bundle with the vendor's first parties marked, why this claims file)."""
    from confaudit.evidence.build import build_evidence
    from confaudit.report.matching import ClaimsCandidate, MatchError, manifest_vendor, match_claims
    from confaudit.rules.engine import evaluate, with_first_party

    candidates = [ClaimsCandidate(cf.path, cf.vendor, tuple(cf.first_party)) for cf in claims_files]
    vendor = given_vendor or _session_vendor(session)
    if vendor:
        bundle: Any = None
    else:  # raw captures or an evidence JSON: analyse once, then match on the parties seen
        bundle = build_evidence([session], redactor=redactor)
        vendor = manifest_vendor(bundle)
    try:
        match = match_claims(vendor, bundle or {}, candidates)
    except MatchError as err:
        raise UsageError(f"{session}: {err}") from None
    chosen = claims_files[candidates.index(match.candidate)]
    if bundle is None:
        bundle = build_evidence([session], first_party=chosen.first_party, vendor=given_vendor or None,
                                entity_lists=[Path(p) for p in chosen.entity_lists],
                                country_table=Path(chosen.country_table) if chosen.country_table else None,
                                redactor=redactor)
    reason = f"named on the command line ({given_vendor}=...)" if given_vendor else match.reason
    return evaluate(chosen, bundle), with_first_party(bundle, tuple(chosen.first_party)), reason


def report_name(vendor: str, taken: set[str]) -> str:
    """audit-<vendor>.html, unique within one comparison, safe as a file name and a link."""
    from confaudit.report.filters import anchor

    base = anchor("audit", vendor.lower()).strip("._-") or "audit"
    name, n = f"{base}.html", 2
    while name in taken:
        name, n = f"{base}-{n}.html", n + 1
    taken.add(name)
    return name


def run(sessions: list[Path | str], claims_dir: Path, out: Path | None = None, markdown: Path | None = None,
        json_out: Path | None = None) -> int:
    """Evaluate every session, then write all outputs or none (each rendered fully before any is written)."""
    from confaudit import __version__, terminal
    from confaudit.jsonio import dumps_canonical
    from confaudit.output_paths import NamedPath, refuse_bad_outputs, refuse_overlaps, refuse_stream
    from confaudit.stdin_input import is_stream, relabel
    from confaudit.output_set import FileOutput, write_outputs
    from confaudit.report.compare_view import comparison_view
    from confaudit.report.html import render_audit, render_comparison
    from confaudit.report.markdown import comparison_markdown

    if out is None and markdown is None and json_out is None:
        raise UsageError("give at least one of --out, --markdown, --json")
    if len(sessions) < 1:
        raise UsageError("give at least one session")
    refuse_stream("--out", out, "the per-vendor reports it links are written beside it; give --markdown - or --json -")
    named_sessions = [split_vendor(str(arg)) for arg in sessions]
    claims_files = _claims_files(Path(claims_dir))
    inputs = {"input": [session for _, session in named_sessions], "claims file": [Path(cf.path) for cf in claims_files]}
    refuse_bad_outputs({"--out": out, "--markdown": markdown, "--json": json_out}, inputs)
    redactor = Redactor.default()
    entries: list[Any] = []
    taken: set[str] = set()
    seen_vendors: dict[str, Path] = {}
    for vendor, session in named_sessions:
        result, bundle, reason = _evaluate(session, claims_files, redactor, vendor)
        if result.vendor in seen_vendors:
            raise UsageError(f"{session} and {seen_vendors[result.vendor]} both match vendor {result.vendor!r}; "
                             "compare one session per vendor")
        seen_vendors[result.vendor] = session
        terminal.note(f"confaudit: {relabel(str(session))}: {result.vendor} ({reason})")
        entries.append({"run": result.to_dict(), "bundle": bundle, "report_href": report_name(result.vendor, taken)})

    outputs: list[FileOutput] = []
    if out is not None and Path(out).name in taken:
        raise UsageError(f"--out {out} has the name of a per-vendor report written beside it; choose another name")
    if out is not None:
        for e in entries:
            outputs.append(FileOutput("per-vendor report", Path(out).parent / e["report_href"],
                                      render_audit(e["run"], e["bundle"], redactor=redactor).encode("utf-8")))
        outputs.append(FileOutput("--out", Path(out), render_comparison(entries, redactor=redactor).encode("utf-8")))
    view = comparison_view([dict(e, report_href=e["report_href"] if out is not None else "") for e in entries],
                           redactor)
    if markdown is not None:
        outputs.append(FileOutput("--markdown", Path(markdown), comparison_markdown(view).encode("utf-8")))
    if json_out is not None:
        outputs.append(FileOutput("--json", Path(json_out), (dumps_canonical({"tool": {"name": "confaudit", "version": __version__}, **view["machine"]}) + "\n").encode("utf-8")))
    refuse_overlaps([NamedPath(o.option, o.path) for o in outputs],  # the per-vendor reports too
                    [NamedPath(role, path) for role, paths in inputs.items() for path in paths])
    write_outputs(outputs)
    terminal.note(f"confaudit: wrote {', '.join('stdout' if is_stream(o.path) else str(o.path) for o in outputs)}")
    return 0
