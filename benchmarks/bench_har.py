"""A 100,000-entry HAR (77 MB, benchmarks/synth_har.py) analysed and reported, against loading it with ``json``.

Measured in one run, warm page cache, each tool in its own process (wall time, peak RSS of the tree):
- ``confaudit analyze FILE --json OUT -q``: target < 10 s and < 300 MB; the bundle must hold every
  request and WebSocket message of the file, read completely, with every request and client message
  counted by a party and data flows found;
- ``confaudit report FILE --claims samples/claims/example-rooms.yaml --out OUT``: same targets; the
  report's transport finding must have judged every request;
- the peers: ``json.load`` of the same file (what holding the document costs before any work is done)
  and ``jq empty`` when jq is installed.
CONFAUDIT_BENCH_HAR_ENTRIES changes the size (default 100,000).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import Measured, run_measured
from benchmarks.synth_har import cached_har

REPO = Path(__file__).resolve().parents[1]
ENTRIES = int(os.environ.get("CONFAUDIT_BENCH_HAR_ENTRIES", "100000"))
WEBSOCKET_MESSAGES = ENTRIES // 50 * 2
TARGET_S = 10.0
TARGET_MB = 300.0
JSON_LOAD = "import json, sys\nwith open(sys.argv[1], 'rb') as fh:\n    json.load(fh)\n"


def _confaudit() -> str:
    exe = Path(sys.executable).with_name("confaudit")
    return str(exe) if exe.exists() else shutil.which("confaudit") or "confaudit"


def _warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as fh:
        while fh.read(16 << 20):
            pass


def _bundle_problem(out: Path) -> str | None:
    """Why the evidence written is not the whole file, or None."""
    bundle = json.loads(out.read_text(encoding="utf-8"))
    source = bundle["inputs"][0]
    counts = (source["records_read"], source["records_skipped"], len(bundle["http"]), len(bundle["websocket"]))
    if counts != (ENTRIES, 0, ENTRIES, WEBSOCKET_MESSAGES) or bundle["complete"] is not True:
        return f"read/skipped/http/websocket {counts}, complete {bundle['complete']}"
    # Telemetry classified the whole file: the parties account for every request and client message
    # (half the WebSocket messages are sent by the client), and data flows were found.
    parties = bundle["parties"]
    counted = (sum(p["request_count"] for p in parties), sum(p["message_count"] for p in parties))
    if counted != (ENTRIES, WEBSOCKET_MESSAGES // 2) or not bundle["data_flows"]:
        return f"parties count requests/messages {counted}, {len(bundle['data_flows'])} data flows"
    return None


def _report_problem(out: Path) -> str | None:
    """Why the report does not judge every request, or None."""
    found = re.search(r'<script type="application/json" id="confaudit-findings">(.*?)</script>', out.read_text(), re.S)
    if found is None:
        return "no findings in the report"
    run = json.loads(found.group(1))
    transport = next((f for f in run["findings"] if f["check"] == "transport_encryption"), None)
    judged = re.search(r"All (\d+) observed", transport["explanation"]) if transport else None
    if not run["evidence_complete"] or judged is None or int(judged.group(1)) < ENTRIES:
        return f"transport finding: {transport['explanation'][:120] if transport else None}"
    return None


def _rows(name: str, measured: Measured, problem: str | None, peer: Measured) -> list[dict]:
    failed = problem or (f"exit {measured.returncode}: {measured.stderr}" if measured.returncode else None)
    note = (f" ({ENTRIES:,} entries; CPU {measured.cpu_s:.1f} s, peer {peer.cpu_s:.1f} s)"
            + (f"; {failed}" if failed else ""))
    return [
        {"name": f"har_{name}_seconds", "value": round(measured.wall_s, 2), "unit": "s", "peer": "json.load of the HAR",
         "peer_value": round(peer.wall_s, 2), "ratio": round(measured.wall_s / peer.wall_s, 1),
         "target": f"< {TARGET_S:.0f} s" + note, "ok": failed is None and measured.wall_s < TARGET_S},
        {"name": f"har_{name}_peak_rss", "value": round(measured.peak_rss_mb), "unit": "MB", "peer": "json.load of the HAR",
         "peer_value": round(peer.peak_rss_mb), "ratio": round(measured.peak_rss_mb / peer.peak_rss_mb, 2),
         "target": f"< {TARGET_MB:.0f} MB" + note, "ok": failed is None and measured.peak_rss_mb < TARGET_MB},
    ]


def main() -> list[dict]:
    har = cached_har(ENTRIES)
    _warm(har)
    peer = run_measured([sys.executable, "-c", JSON_LOAD, str(har)])
    rows = [{"name": "har_json_load_seconds", "value": round(peer.wall_s, 2), "unit": "s", "peer": None,
             "peer_value": None, "ratio": None, "target": f"peer ({har.stat().st_size / 1e6:.0f} MB, "
             f"peak RSS {peer.peak_rss_mb:.0f} MB)", "ok": peer.returncode == 0}]
    jq = shutil.which("jq")
    if jq is not None:
        m = run_measured([jq, "empty", str(har)])
        rows.append({"name": "har_jq_empty_seconds", "value": round(m.wall_s, 2), "unit": "s", "peer": None,
                     "peer_value": None, "ratio": None, "target": f"peer (peak RSS {m.peak_rss_mb:.0f} MB)",
                     "ok": m.returncode == 0})
    with tempfile.TemporaryDirectory(prefix="bench-har-") as tmp:
        evidence, report = Path(tmp) / "evidence.json", Path(tmp) / "report.html"
        claims = REPO / "samples" / "claims" / "example-rooms.yaml"
        analyze = run_measured([_confaudit(), "analyze", str(har), "--json", str(evidence), "-q"])
        rendered = run_measured([_confaudit(), "report", str(har), "--claims", str(claims), "--out", str(report)])
        # Outputs are checked after both runs: a child forked while this process holds a parsed bundle
        # would be charged its pages.
        rows += _rows("analyze", analyze, _bundle_problem(evidence) if analyze.returncode == 0 else None, peer)
        rows += _rows("report", rendered, _report_problem(report) if rendered.returncode == 0 else None, peer)
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
