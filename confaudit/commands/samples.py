"""``confaudit samples list`` / ``confaudit samples copy DIR``: the shipped sample claims, to read or to edit."""

from __future__ import annotations

from pathlib import Path

from confaudit import terminal
from confaudit.errors import UsageError


def run(*, action: str, directory: Path | None = None, force: bool = False) -> int:
    from confaudit.samples import list_samples, samples_dir

    try:
        samples = list_samples()
    except FileNotFoundError as err:  # a broken installation, not the user's input
        raise RuntimeError(str(err)) from None
    if action == "list":
        terminal.say(f"samples in {samples_dir()} (copy them with: confaudit samples copy DIR)")
        for s in samples:
            what = f"{s.vendor}, {s.claims} claims" if s.vendor else "used by the claims file of the same name"
            terminal.say(f"  {s.kind}/{s.name:<34} {what}")
        return 0
    if directory is None:
        raise UsageError("samples copy needs a directory")
    return _copy(samples, Path(directory), force)


def _copy(samples: list, directory: Path, force: bool) -> int:
    """Every sample into DIR/<kind>/, all or none; an existing different file is replaced only with --force."""
    from confaudit.output_paths import refuse_stream
    from confaudit.output_set import FileOutput, write_outputs

    refuse_stream("DIR", directory, "samples are written as files into a directory")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    outputs = []
    for s in samples:
        target = directory / s.kind / s.name
        data = s.path.read_bytes()
        if target.is_file() and not force and target.read_bytes() != data:
            raise UsageError(f"{target} exists and differs from the sample; give another directory or --force to "
                             "replace it")
        outputs.append(FileOutput(f"{s.kind}/{s.name}", target, data))
    write_outputs(outputs)
    terminal.note(f"confaudit: copied {len(outputs)} sample files to {directory} "
                  f"(e.g. confaudit check CAPTURE --claims {directory / 'claims' / 'zoom.yaml'})")
    return 0
