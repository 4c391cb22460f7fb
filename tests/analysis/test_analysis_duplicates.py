"""Loopback and span-port captures hold every datagram twice: the media must still be found."""

from __future__ import annotations

from pathlib import Path

from confaudit.redact import Redactor
from confaudit.analysis.packet_side import analyze_captures
from benchmarks.synth_e2ee import SynthStream, dtls_handshake, write_call

AV = [SynthStream("client", "opus", 0x1111, 111), SynthStream("server", "vp8", 0x2222, 96)]


def test_doubled_datagrams_keep_streams_and_count_duplicates(tmp_path: Path) -> None:
    handshake = dtls_handshake()
    single, doubled = tmp_path / "single.pcap", tmp_path / "doubled.pcap"
    write_call(single, handshake, AV, seconds=2, duplicate=False)
    write_call(doubled, handshake, AV, seconds=2, duplicate=True)
    once = {m["ssrc"]: m for m in analyze_captures([single], redactor=Redactor.default())["media_streams"]}
    twice = {m["ssrc"]: m for m in analyze_captures([doubled], redactor=Redactor.default())["media_streams"]}
    assert set(once) == set(twice) == {"0x00001111", "0x00002222"}
    for ssrc, stream in twice.items():
        assert stream["encryption"] == "srtp"
        assert stream["packets"] == 2 * once[ssrc]["packets"]
        assert stream["sequence"]["duplicates"] == once[ssrc]["packets"]
        assert stream["sequence"]["lost"] == 0
