"""``confaudit analyze``: inputs -> one evidence bundle (JSON, optional Parquet) + a terminal summary."""

from __future__ import annotations

import sys
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any


def run(inputs: Sequence[Path], json_out: Path | None = None, parquet: Path | None = None, keylog: Path | None = None,
        first_party: Sequence[str] = (), room_names: Sequence[str] = (), participants: Sequence[str] = (),
        entity_lists: Sequence[Path] = (), quiet: bool = False, accounts: Sequence[str] = (),
        vendor: str | None = None, canary: Path | None = None, country_table: Path | None = None) -> int:
    """Build the bundle, write the requested outputs all or none, print the summary; 0 even when incomplete."""
    from confaudit import terminal
    from confaudit.evidence.build import build_evidence
    from confaudit.redact import Redactor
    from confaudit.evidence.parquet import parquet_files, parquet_output
    from confaudit.jsonstream import canonical_chunks
    from confaudit.output_paths import NamedPath, refuse_overlaps, refuse_stream
    from confaudit.output_set import (DirectoryOutput, FileOutput, check_directory_target, check_file_target,
                                      write_outputs)

    quiet = quiet or terminal.settings().quiet
    refuse_stream("--parquet", parquet, "it names a directory of tables")
    read = [NamedPath("input", p) for p in inputs] + [NamedPath("--entity-list", p) for p in entity_lists]
    if keylog is not None:
        read.append(NamedPath("--keylog", keylog))
    if canary is not None:
        read.append(NamedPath("--canary", canary))
    if country_table is not None:
        read.append(NamedPath("--country-table", country_table))
    refuse_overlaps([NamedPath(o, p) for o, p in (("--json", json_out), ("--parquet", parquet)) if p is not None], read)
    if parquet is not None:  # before the analysis: a directory this run may not replace fails fast
        check_directory_target(parquet_output(parquet))
    if json_out is not None:
        check_file_target("--json", json_out)
    with _progress(enabled=not quiet and sys.stderr.isatty()) as progress:
        bundle = build_evidence(list(inputs), keylog=keylog, canary=canary, first_party=first_party, room_names=room_names,
                                participants=participants, accounts=accounts, entity_lists=entity_lists,
                                country_table=country_table, progress=progress, vendor=vendor, redactor=Redactor.default())
    outputs: list[FileOutput | DirectoryOutput] = []
    if json_out is not None:
        outputs.append(FileOutput("--json", json_out, canonical_chunks(bundle)))
    if parquet is not None:
        outputs.append(parquet_output(parquet, parquet_files(bundle)))
    write_outputs(outputs)
    complete = bundle.get("complete") is True
    if quiet and complete:
        return 0
    console = _console()  # rich is slow to import: only when something is printed
    if not quiet:
        from confaudit.commands.analyze_summary import render_summary

        render_summary(bundle, console)
    if not complete:
        from confaudit.commands.analyze_summary import clean
        from rich.text import Text

        console.print(Text("WARNING: the evidence is INCOMPLETE (an input could not be read to the end, a session's "
                           "files do not match its manifest, or a parser failed); absence of a finding is not evidence "
                           "of absence.", style="bold yellow"))
        for item in bundle.get("inputs", []):
            for warning in item.get("warnings", [])[:5]:
                console.print(Text(f"  {clean(item.get('path'), 200)}: {clean(warning, 300)}"))
        for warning in bundle.get("warnings", [])[:10]:
            console.print(Text(f"  {clean(warning, 300)}"))
    return 0


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=False)


class _progress:
    """A rich progress bar on a TTY; otherwise a no-op callback. Yields the callback or None."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                             console=_console(), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("reading", total=None)
        return self.update

    def update(self, label: str, done: int, total: int) -> None:
        from confaudit.commands.analyze_summary import clean

        self._bar.update(self._task, description=clean(label, 40), completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
