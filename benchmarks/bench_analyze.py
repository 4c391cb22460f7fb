"""Analysis speed and memory on a 1M-packet synthetic call, against peers doing the same job on the same file.

Measured in one run, warm page cache, each tool in its own process:
- ``confaudit analyze FILE --json OUT -q`` end to end (packets/s, peak RSS), paired with each peer in
  alternating runs (confaudit, peer, confaudit, peer, ...; :data:`ROUNDS` pairs, medians): nDPI's
  ``ndpiReader``, ``tshark -z conv,udp -z conv,tcp`` and NFStream (benchmarks/peers.py says what each
  does). The output of every timed run is checked: the peer's flows must be confaudit's flows with the
  same packet counts, and nDPI's labels must agree with confaudit's protocols;
- the capture reader alone (header extraction into columns, no dissection) against
  ``tshark -T fields``, which dissects every packet fully and prints ten fields of each;
- ``confaudit --help`` wall time (median of 5).
CONFAUDIT_BENCH_PACKETS changes the capture size (default 1,000,000).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.measure import run_measured
from benchmarks.synth_call import cached_path

PACKETS = int(os.environ.get("CONFAUDIT_BENCH_PACKETS", "1000000"))
TSHARK_FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
                 "tcp.srcport", "tcp.dstport", "frame.len"]
READER_ONLY = ("import sys\nfrom confaudit.pcap.reader import CaptureReader\n"
               "r = CaptureReader(sys.argv[1])\nn = sum(len(c) for c in r.chunks())\n"
               "assert r.report.complete and r.report.records_read == int(sys.argv[2]), r.report\n")


def _confaudit() -> str:
    exe = Path(sys.executable).with_name("confaudit")
    return str(exe) if exe.exists() else shutil.which("confaudit") or "confaudit"


def _capture() -> Path:
    """The cached synthetic call, generated in a child process when missing.

    Generating it here would grow this process by about 0.5 GB, and every measured child forked
    from it would be charged those pages in its peak RSS.
    """
    path = cached_path(PACKETS)
    if not path.exists():
        subprocess.run([sys.executable, "-m", "benchmarks.synth_call", "--packets", str(PACKETS)],
                       check=True, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
    return path


def _warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as fh:
        while fh.read(16 << 20):
            pass


def _pcapng_copy(path: Path) -> Path | None:
    """The same capture as pcapng (editcap, cached next to it); None without editcap."""
    target = path.with_suffix(".pcapng")
    exe = shutil.which("editcap")
    if target.exists():
        return target
    if exe is None:
        return None
    tmp = target.with_name(target.name + ".tmp")
    if run_measured([exe, "-F", "pcapng", str(path), str(tmp)]).returncode != 0:
        return None
    os.replace(tmp, target)
    return target


def _tshark(path: Path) -> tuple[float, float] | None:
    exe = shutil.which("tshark")
    if exe is None:
        return None
    cmd = [exe, "-n", "-r", str(path), "-T", "fields"]
    for field in TSHARK_FIELDS:
        cmd += ["-e", field]
    m = run_measured(cmd)
    return (m.wall_s, m.peak_rss_mb) if m.returncode == 0 else None


ROUNDS = 3


def _peers(path: Path, tmp: Path) -> list[tuple[str, list[str], Path, Any]]:
    """(label, command, output file, check) of each peer installed here; a missing one is a row saying why."""
    from benchmarks import peers

    found = []
    ndpi = shutil.which("ndpiReader")
    if ndpi:
        found.append(("ndpiReader", [ndpi, "-i", str(path), "-q", "-v", "2"], tmp / "ndpi.txt", peers.ndpi_check))
    tshark = shutil.which("tshark")
    if tshark:
        found.append(("tshark conv", [tshark, "-n", "-q", "-r", str(path), "-z", "conv,udp", "-z", "conv,tcp"],
                      tmp / "conv.txt", peers.conv_check))
    if importlib.util.find_spec("nfstream") is not None:
        out = tmp / "nfstream.jsonl"
        found.append(("NFStream", [sys.executable, "-c", peers.NFSTREAM_SCRIPT, str(path), str(out)], out,
                      peers.nfstream_check))
    return found


def _missing_peers(names: set[str]) -> list[dict]:
    why = {"ndpiReader": "ndpiReader not installed (Debian libndpi-bin; make sysdeps)",
           "tshark conv": "tshark not installed (make sysdeps)",
           "NFStream": "nfstream not installed (pip install -e '.[bench]'; make bench does)"}
    return [{"name": f"analyze_vs_{name.split()[0].lower()}", "value": None, "unit": None, "peer": name,
             "peer_value": None, "ratio": None, "target": f"skipped: {reason}", "ok": False}
            for name, reason in why.items() if name not in names]


def _analyze_problem(measured: Any, out: Path) -> tuple[str | None, dict | None]:
    if measured.returncode != 0:
        return f"analyze exit {measured.returncode}: {measured.stderr}", None
    bundle = json.loads(out.read_text())
    read = sum(int(i.get("records_read", 0)) for i in bundle.get("inputs", []))
    return (None if read == PACKETS else f"analyze read {read} of {PACKETS} records"), bundle


def _paired(path: Path, tmp: Path) -> tuple[list[dict], list[float], float]:
    """Rows of analyze against each peer (alternating runs), analyze's wall times, and its peak RSS."""
    peers = _peers(path, tmp)
    evidence = tmp / "evidence.json"
    ours: dict[str, list[Any]] = {name: [] for name, *_ in peers}
    theirs: dict[str, list[Any]] = {name: [] for name, *_ in peers}
    problems: dict[str, str] = {}
    for _ in range(ROUNDS):
        for name, cmd, out, check in peers:
            mine = run_measured([_confaudit(), "analyze", str(path), "--json", str(evidence), "-q"])
            problem, bundle = _analyze_problem(mine, evidence)
            peer = run_measured(cmd, stdout=out if out.suffix == ".txt" else None)
            if problem is None and peer.returncode != 0:
                problem = f"{name} exit {peer.returncode}: {peer.stderr}"
            if problem is None:
                result = check(out.read_text(encoding="utf-8", errors="replace"), bundle)
                problem = result.problem
                problems.setdefault(name + " checked", result.summary())
            if problem is not None:
                problems.setdefault(name, problem)
            ours[name].append(mine)
            theirs[name].append(peer)
    rows, walls, peak = [], [], 0.0
    for name, *_ in peers:
        mine = statistics.median(m.wall_s for m in ours[name])
        peer = statistics.median(m.wall_s for m in theirs[name])
        ratios = [p.wall_s / m.wall_s for m, p in zip(ours[name], theirs[name])]
        walls += [m.wall_s for m in ours[name]]
        peak = max([peak] + [m.peak_rss_mb for m in ours[name]])
        failed = problems.get(name)
        rows.append({"name": f"analyze_vs_{name.split()[0].lower()}", "value": round(PACKETS / mine), "unit": "packets/s",
                     "peer": name, "peer_value": round(PACKETS / peer), "ratio": round(statistics.median(ratios), 2),
                     "target": f"same run, {ROUNDS} alternating pairs: confaudit {mine:.2f} s, {name} {peer:.2f} s "
                               f"(median; CPU {statistics.median(m.cpu_s for m in ours[name]):.2f} s vs "
                               f"{statistics.median(m.cpu_s for m in theirs[name]):.2f} s, peer peak "
                               f"{max(m.peak_rss_mb for m in theirs[name]):.0f} MB); output checked: "
                               + (failed or problems.get(name + " checked", "")),
                     "ok": failed is None})
    return rows + _missing_peers({name for name, *_ in peers}), walls, peak


def main() -> list[dict]:
    path = _capture()
    _warm(path)
    rows: list[dict] = []
    tshark = _tshark(path)
    t_pps = PACKETS / tshark[0] if tshark else None
    peer = "tshark -T fields (full dissection, 10 fields printed per packet)"

    reader = run_measured([sys.executable, "-c", READER_ONLY, str(path), str(PACKETS)])
    r_pps = PACKETS / reader.wall_s
    rows.append({"name": "reader_packets_per_second", "value": round(r_pps), "unit": "packets/s",
                 "peer": peer, "peer_value": round(t_pps) if t_pps else None,
                 "ratio": round(r_pps / t_pps, 1) if t_pps else None,
                 "target": f"header extraction only, not the same job as the peer's ({PACKETS:,} packets, "
                           f"{path.stat().st_size / 1e6:.0f} MB, {reader.wall_s:.2f} s)",
                 "ok": reader.returncode == 0})
    rows.append({"name": "reader_peak_rss", "value": round(reader.peak_rss_mb), "unit": "MB", "peer": None,
                 "peer_value": None, "ratio": None, "target": "< 300 MB",
                 "ok": reader.returncode == 0 and reader.peak_rss_mb < 300})

    pcapng = _pcapng_copy(path)
    if pcapng is not None:
        _warm(pcapng)
        ng = run_measured([sys.executable, "-c", READER_ONLY, str(pcapng), str(PACKETS)])
        ng_pps = PACKETS / ng.wall_s
        rows.append({"name": "reader_pcapng_packets_per_second", "value": round(ng_pps), "unit": "packets/s",
                     "peer": peer + ", pcap", "peer_value": round(t_pps) if t_pps else None,
                     "ratio": round(ng_pps / t_pps, 1) if t_pps else None,
                     "target": f"header extraction only (same packets as pcapng via editcap, {ng.wall_s:.2f} s, "
                               f"peak RSS {ng.peak_rss_mb:.0f} MB)",
                     "ok": ng.returncode == 0})

    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        paired, walls, peak = _paired(path, Path(tmp))
    rows += paired
    rows.append({"name": "analyze_peak_rss", "value": round(peak), "unit": "MB", "peer": None, "peer_value": None,
                 "ratio": None, "target": f"< 300 MB (largest of {len(walls)} runs)",
                 "ok": bool(walls) and peak < 300})

    helps = [run_measured([_confaudit(), "--help"]).wall_s for _ in range(5)]
    median = statistics.median(helps)
    rows.append({"name": "cli_help_seconds", "value": round(median, 3), "unit": "s", "peer": None,
                 "peer_value": None, "ratio": None, "target": "< 0.3 s (median of 5)", "ok": median < 0.3})
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
