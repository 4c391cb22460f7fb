"""`confaudit analyze` end to end through the real CLI: JSON, Parquet, determinism, hostile input."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

from support.environment import REPO

CLI = [sys.executable, "-m", "confaudit"]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _client_hello(sni: bytes) -> bytes:
    server_name = struct.pack("!BH", 0, len(sni)) + sni
    sni_ext = struct.pack("!HH", 0, len(server_name) + 2) + struct.pack("!H", len(server_name)) + server_name
    body = b"\x03\x03" + bytes(32) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(sni_ext)) + sni_ext
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def _pcap(path: Path, packets: list[bytes]) -> None:
    from scapy.all import Ether, IP, TCP, wrpcap  # test-side crafting only

    frames = [Ether() / IP(src="10.0.0.2", dst="93.184.216.34") / TCP(sport=50000, dport=443, flags="PA", seq=1000 + 100 * i) / p
              for i, p in enumerate(packets)]
    wrpcap(str(path), frames)


def test_analyze_writes_deterministic_json_and_parquet(shared_captures: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    capture = shared_captures / "stun_google_meet.pcapng"
    first = _cli("analyze", capture, "--json", tmp_path / "a.json", "--parquet", tmp_path / "pq", "-q")
    second = _cli("analyze", capture, "--json", tmp_path / "b.json", "-q")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    a = (tmp_path / "a.json").read_bytes()
    assert a == (tmp_path / "b.json").read_bytes()
    bundle = json.loads(a)
    assert bundle["complete"] is True and bundle["flows"]
    for key in ("flows", "media_streams", "stun", "dtls"):
        table = pq.read_table(tmp_path / "pq" / f"{key}.parquet")
        assert table.num_rows == len(bundle[key]), key
    endpoints = pq.read_table(tmp_path / "pq" / "media_path_endpoints.parquet").to_pylist()
    assert [e["address"] for e in endpoints] == [e["address"] for e in bundle["media_path"]["endpoints"]]
    flows = pq.read_table(tmp_path / "pq" / "flows.parquet").to_pylist()
    assert [f["id"] for f in flows] == [f["id"] for f in bundle["flows"]]
    assert json.loads(flows[0]["labels"]) == bundle["flows"][0]["labels"]
    assert not list((tmp_path / "pq").glob("*.tmp"))


def test_analyze_summary_lists_streams_and_path(shared_captures: Path) -> None:
    res = _cli("analyze", shared_captures / "stun_google_meet.pcapng")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for needle in ("Packets per protocol", "Media streams", "DTLS", "Media path"):
        assert needle in out, needle


def test_analyze_rejects_a_non_capture_with_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_bytes(b"\x00\x01 this is not a capture at all" * 10)
    res = _cli("analyze", bogus, "--json", tmp_path / "out.json")
    assert res.returncode == 3
    assert res.stderr.count("\n") == 1 and "notes.pcap" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out.json").exists()


def test_truncated_capture_is_analysed_and_flagged_incomplete(shared_captures: Path, tmp_path: Path) -> None:
    data = (shared_captures / "sip.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3 + 5])
    res = _cli("analyze", cut, "--json", tmp_path / "cut.json", "-q")
    assert res.returncode == 0, res.stderr
    assert "INCOMPLETE" in res.stderr
    bundle = json.loads((tmp_path / "cut.json").read_text())
    assert bundle["complete"] is False and bundle["inputs"][0]["complete"] is False
    assert 0 < sum(f["packets"] for f in bundle["flows"]) < 112


def test_captured_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    evil = b"evil\x1b[2J\x1b]0;pwned\x07.example\r\x08com"
    capture = tmp_path / "evil.pcap"
    _pcap(capture, [_client_hello(evil)])
    res = _cli("analyze", capture, "--json", tmp_path / "evil.json")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "\x1b[2J" not in out and "\x1b]0" not in out and "\x07" not in out and "\x08" not in out
    bundle = json.loads((tmp_path / "evil.json").read_text())
    assert bundle["tls"] and bundle["tls"][0]["sni"] is not None


def test_parquet_path_that_is_a_file_fails_before_writing_anything(shared_captures: Path, tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("x")
    res = _cli("analyze", shared_captures / "sip.pcap", "--json", tmp_path / "out.json", "--parquet", occupied, "-q")
    assert res.returncode == 3 and "occupied" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out.json").exists()
