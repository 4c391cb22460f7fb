"""Analysis speed and memory on a 1M-packet synthetic call, against tshark on the same file.

Measured in one run, warm page cache, each tool in its own process:
- ``confaudit analyze FILE --json OUT -q`` end to end (packets/s, peak RSS);
- ``tshark -n -T fields`` with time, addresses, ports and length, to /dev/null (packets/s);
- the capture reader alone (packets/s, peak RSS);
- ``confaudit --help`` wall time (median of 5).
CONFAUDIT_BENCH_PACKETS changes the capture size (default 1,000,000).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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


def main() -> list[dict]:
    path = _capture()
    _warm(path)
    rows: list[dict] = []
    tshark = _tshark(path)
    t_pps = PACKETS / tshark[0] if tshark else None

    reader = run_measured([sys.executable, "-c", READER_ONLY, str(path), str(PACKETS)])
    r_pps = PACKETS / reader.wall_s
    rows.append({"name": "reader_packets_per_second", "value": round(r_pps), "unit": "packets/s",
                 "peer": "tshark -T fields", "peer_value": round(t_pps) if t_pps else None,
                 "ratio": round(r_pps / t_pps, 1) if t_pps else None,
                 "target": f">= 10x tshark ({PACKETS:,} packets, {path.stat().st_size / 1e6:.0f} MB, {reader.wall_s:.2f} s)",
                 "ok": reader.returncode == 0 and bool(t_pps) and r_pps >= 10 * t_pps})
    rows.append({"name": "reader_peak_rss", "value": round(reader.peak_rss_mb), "unit": "MB", "peer": None,
                 "peer_value": None, "ratio": None, "target": "< 300 MB",
                 "ok": reader.returncode == 0 and reader.peak_rss_mb < 300})

    pcapng = _pcapng_copy(path)
    if pcapng is not None:
        _warm(pcapng)
        ng = run_measured([sys.executable, "-c", READER_ONLY, str(pcapng), str(PACKETS)])
        ng_pps = PACKETS / ng.wall_s
        rows.append({"name": "reader_pcapng_packets_per_second", "value": round(ng_pps), "unit": "packets/s",
                     "peer": "tshark -T fields (pcap)", "peer_value": round(t_pps) if t_pps else None,
                     "ratio": round(ng_pps / t_pps, 1) if t_pps else None,
                     "target": f">= 10x tshark (same packets as pcapng via editcap, {ng.wall_s:.2f} s, "
                               f"peak RSS {ng.peak_rss_mb:.0f} MB)",
                     "ok": ng.returncode == 0 and bool(t_pps) and ng_pps >= 10 * t_pps})

    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        out = Path(tmp) / "evidence.json"
        analyze = run_measured([_confaudit(), "analyze", str(path), "--json", str(out), "-q"])
        problem = None
        if analyze.returncode != 0:
            problem = f"analyze exit {analyze.returncode}: {analyze.stderr}"
        else:
            bundle = json.loads(out.read_text())
            read = sum(int(i.get("records_read", 0)) for i in bundle.get("inputs", []))
            if read != PACKETS:
                problem = f"analyze read {read} of {PACKETS} records"
    a_pps = PACKETS / analyze.wall_s
    rows.append({"name": "analyze_packets_per_second", "value": round(a_pps), "unit": "packets/s",
                 "peer": "tshark -T fields", "peer_value": round(t_pps) if t_pps else None,
                 "ratio": round(a_pps / t_pps, 1) if t_pps else None,
                 "target": f">= 10x tshark (end to end, {analyze.wall_s:.1f} s vs "
                           f"{tshark[0] if tshark else float('nan'):.1f} s)" + (f"; {problem}" if problem else ""),
                 "ok": problem is None and bool(t_pps) and a_pps >= 10 * t_pps})
    rows.append({"name": "analyze_peak_rss", "value": round(analyze.peak_rss_mb), "unit": "MB",
                 "peer": "tshark -T fields", "peer_value": round(tshark[1]) if tshark else None,
                 "ratio": round(analyze.peak_rss_mb / tshark[1], 2) if tshark else None,
                 "target": "< 300 MB", "ok": problem is None and analyze.peak_rss_mb < 300})

    helps = [run_measured([_confaudit(), "--help"]).wall_s for _ in range(5)]
    median = statistics.median(helps)
    rows.append({"name": "cli_help_seconds", "value": round(median, 3), "unit": "s", "peer": None,
                 "peer_value": None, "ratio": None, "target": "< 0.3 s (median of 5)", "ok": median < 0.3})
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
