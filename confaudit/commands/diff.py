"""``confaudit diff OLD NEW``: new third parties, data categories per party, encryption, media path, verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def summary_lines(result: dict[str, Any]) -> list[str]:
    from confaudit.formats._safe import clean

    lines = []
    for p in result["third_parties"]["added"]:
        lines.append(f"+ third party {clean(p['domain'], 200)} ({clean(p.get('entity') or 'unknown entity', 100)})")
    for p in result["third_parties"]["removed"]:
        lines.append(f"- third party {clean(p['domain'], 200)}")
    for party, change in result["data_categories"].items():
        if change["added"]:
            lines.append(f"+ {clean(party, 200)} now receives {', '.join(change['added'])}")
        if change["removed"]:
            lines.append(f"- {clean(party, 200)} no longer receives {', '.join(change['removed'])}")
    if result["encryption"]:
        old, new = result["encryption"]["old"], result["encryption"]["new"]
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                lines.append(f"~ {key.replace('_', ' ')}: {_value(old.get(key))} -> {_value(new.get(key))}")
    if result["media_path"]:
        lines.append(f"~ media path: {result['media_path']['old']} -> {result['media_path']['new']}")
    for v in result["verdicts"]:
        lines.append(f"~ claim {clean(v['claim_id'], 128)}: {v['old'] or 'absent'} -> {v['new']}")
    if result.get("score"):
        from confaudit.rules.scoring import coverage_text

        cov = result["coverage"]
        lines.append(f"~ score: {result['score']['old']} ({coverage_text(cov['old'])}) -> "
                     f"{result['score']['new']} ({coverage_text(cov['new'])})")
    if not all(result["complete"].values()):
        lines.append("warning: an input was read only partly; absent items may be missing evidence, not changes")
    return (lines or ["no changes"]) + _scenario_lines(result.get("scenario"))


def _scenario_lines(scenario: dict[str, Any] | None) -> list[str]:
    """Whether both sides ran the same scenario file, byte for byte (sessions of `confaudit run`)."""
    from confaudit.formats._safe import clean

    if not scenario:
        return []

    def runs(side: str) -> str:
        return ", ".join(f"{clean(r['file'], 100)} (sha256 {r['sha256'][:12]}, {r['outcome']})"
                         for r in scenario[side]) or "no scenario"

    if scenario["same"]:
        return [f"= same scenario on both sides: {runs('new')}"]
    return [f"~ scenario: {runs('old')} -> {runs('new')} (different scenarios: changes may come from them)"]


def run(*, old: Path, new: Path, claims: Path | None = None, json_out: Path | None = None) -> int:
    from confaudit import __version__, terminal
    from confaudit.jsonio import dumps_canonical
    from confaudit.output_paths import refuse_bad_outputs
    from confaudit.output_set import FileOutput, write_outputs
    from confaudit.formats.jsonout import diff_document
    from confaudit.rules.diff import diff_bundles
    from confaudit.commands.pipeline import build_bundle
    from confaudit.redact import Redactor

    refuse_bad_outputs({"--json": json_out}, {"old": [old], "new": [new], "--claims": [claims]})
    claims_file = None
    if claims is not None:
        from confaudit.rules.claims import load_claims

        claims_file = load_claims(claims)
    redactor = Redactor.default()
    old_bundle = build_bundle([old], claims_file, redactor=redactor)
    new_bundle = build_bundle([new], claims_file, redactor=redactor)
    old_run = new_run = None
    if claims_file is not None:
        from confaudit.rules.engine import evaluate

        old_run, new_run = evaluate(claims_file, old_bundle), evaluate(claims_file, new_bundle)
    result = diff_bundles(old_bundle, new_bundle, old_run, new_run)
    if json_out is not None:
        write_outputs([FileOutput("--json", json_out, (dumps_canonical(diff_document(result)) + "\n").encode("utf-8"))])
    terminal.say("\n".join(summary_lines(result)))
    return 0
