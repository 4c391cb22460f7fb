"""`confaudit analyze CAPTURE --keylog FILE` end to end: bundle references, schema, exit codes, DSB key logs."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.synth_e2ee import SynthStream, dtls_handshake, write_call

from support.environment import REPO

STREAMS = [SynthStream("client", "opus", 0x0A0A, 111), SynthStream("server", "vp8", 0x0B0B, 96)]


def _confaudit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "confaudit", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


@pytest.fixture(scope="module")
def call(tmp_path_factory) -> tuple[Path, Path, object]:
    d = tmp_path_factory.mktemp("call")
    hs = dtls_handshake()
    write_call(d / "call.pcap", hs, STREAMS, seconds=2)
    (d / "keys.log").write_text("\n".join(hs.keylog_lines) + "\n")
    return d / "call.pcap", d / "keys.log", hs


def test_analyze_with_keylog_links_streams_and_validates(call, tmp_path: Path) -> None:
    from confaudit.evidence.schema import validate_bundle

    capture, keylog, _ = call
    out = tmp_path / "bundle.json"
    result = _confaudit("analyze", str(capture), "--keylog", str(keylog), "--json", str(out))
    assert result.returncode == 0, result.stderr
    bundle = json.loads(out.read_text())
    assert validate_bundle(bundle) == []
    streams = {s["ssrc"]: s for s in bundle["e2ee"]["streams"]}
    media = {int(m["ssrc"], 16) if isinstance(m["ssrc"], str) else m["ssrc"]: m for m in bundle["media_streams"]}
    for ssrc in (0x0A0A, 0x0B0B):
        assert streams[ssrc]["inner"] == "codec" and streams[ssrc]["decrypted"] > 0
        assert streams[ssrc]["auth_failed"] == 0
        assert streams[ssrc]["media_stream"] == media[ssrc]["id"] and streams[ssrc]["flow"] == media[ssrc]["flow"]
        assert streams[ssrc]["path"] == bundle["media_path"]["topology"]
    assert bundle["e2ee"]["keylogs"][0]["path"] == str(keylog)


def test_corrupted_keylog_exits_3_with_one_line(call, tmp_path: Path) -> None:
    capture, _, _ = call
    bad = tmp_path / "bad.log"
    bad.write_text("CLIENT_RANDOM not-hex at all\n")
    out = tmp_path / "bundle.json"
    result = _confaudit("analyze", str(capture), "--keylog", str(bad), "--json", str(out))
    assert result.returncode == 3
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "key log line 1" in lines[0]
    assert "Traceback" not in result.stderr and not out.exists()


def _pcap_to_pcapng_with_dsb(pcap: Path, out: Path, keylog_text: str) -> None:
    """Re-wrap a classic pcap as pcapng with a Decryption Secrets Block (TLS key log) before the packets."""
    def block(block_type: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)

    data = pcap.read_bytes()
    parts = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
             block(0x00000001, struct.pack("<HHI", 1, 0, 65535))]
    secrets = keylog_text.encode()
    parts.append(block(0x0000000A, struct.pack("<II", 0x544C534B, len(secrets)) + secrets))
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + incl]
        ts = sec * 1_000_000 + usec
        parts.append(block(0x00000006, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig) + frame))
        pos += 16 + incl
    out.write_bytes(b"".join(parts))


def test_keys_embedded_in_pcapng_dsb_are_used(call, tmp_path: Path) -> None:
    from confaudit.e2ee import enrich

    capture, keylog, _ = call
    embedded = tmp_path / "with-dsb.pcapng"
    _pcap_to_pcapng_with_dsb(capture, embedded, keylog.read_text())
    bundle = {"warnings": [], "complete": True}
    enrich(bundle, captures=[embedded], keylogs=[], explicit_keylog=None)
    assert {s["inner"] for s in bundle["e2ee"]["streams"]} == {"codec"}
    assert bundle["e2ee"]["keylogs"][0]["path"].endswith("#dsb0")
    assert bundle["e2ee"]["keylogs"][0]["dtls_sessions_matched"] == 1
