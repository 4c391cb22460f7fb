"""Record the sample session samples/sessions/example-rooms/ with our own tools (lab, loopback only).

A room page over HTTPS on loopback, beacons (UA, screen, timezone, room name) to the first-party host
rooms.example-rooms.test and the third-party-like telemetry.tracker.test, a WebRTC call in headless
Chromium and one between two aiortc peers, the sniffer on lo, phase markers lobby/joined/muted/left.
The manifest says ``simulated: true``. Needs root (sniffer) and Debian's chromium.
"""

from __future__ import annotations

from confaudit.redact import Redactor
import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "samples" / "sessions" / "example-rooms"
MAX_BYTES = 1_500_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--media-seconds", type=float, default=1.5)
    args = parser.parse_args(argv)
    from confaudit.lab.recorded_room import record_lab_session

    out: Path = args.out
    if out.exists():
        if not (out / "manifest.json").is_file():
            sys.stderr.write(f"{out} exists and is not a session directory; not touching it\n")
            return 2
        shutil.rmtree(out)
    run = record_lab_session(out, media_seconds=args.media_seconds, aiortc_call=True, redactor=Redactor.default())
    if run.page_error:
        sys.stderr.write(f"the room page failed: {run.page_error}\n")
        return 1
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    sys.stdout.write(f"recorded {out}: {total} bytes, {len(run.upstream_paths)} lab requests, "
                     f"{run.aiortc_streams} aiortc streams\n")
    if total > MAX_BYTES:
        sys.stderr.write(f"sample is {total} bytes, above {MAX_BYTES}: lower --media-seconds\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
