"""Media streams counted per phase window (``phase_counts``), checked packet by packet against scapy on a real
call capture, and the muted-phase audio rate taken from those counts instead of spread from a stream's totals."""

from __future__ import annotations

from confaudit.redact import Redactor
import struct
from pathlib import Path

from confaudit.analysis.packet_side import analyze_captures
from confaudit.telemetry.phases import audio_rates, phase_windows


def _scapy_counts(capture: Path, stream: dict, cut: float) -> tuple[int, int]:
    """(packets, bytes) of the stream's SSRC and payload type on its 5-tuple before ``cut``, read by scapy."""
    from scapy.all import UDP, rdpcap

    src, sport = stream["sender"].rsplit(":", 1)
    dst, dport = stream["receiver"].rsplit(":", 1)
    ends = {(src, int(sport)), (dst, int(dport))}
    ssrc = int(stream["ssrc"], 16)
    packets = size = 0
    for pkt in rdpcap(str(capture)):
        if UDP not in pkt or float(pkt.time) >= cut:
            continue
        payload = bytes(pkt[UDP].payload)
        ip = pkt[UDP].underlayer
        if {(ip.src, pkt[UDP].sport), (ip.dst, pkt[UDP].dport)} != ends or len(payload) < 12:
            continue
        if struct.unpack(">I", payload[8:12])[0] == ssrc and payload[1] & 0x7F == stream["payload_type"]:
            packets, size = packets + 1, size + len(payload)
    return packets, size


def test_phase_counts_split_each_stream_at_the_markers(shared_captures: Path) -> None:
    capture = shared_captures / "whatsapp_login_call.pcap"
    plain = analyze_captures([capture], redactor=Redactor.default())
    assert all("phase_counts" not in m for m in plain["media_streams"])  # no phases given: no counts claimed
    stream = max(plain["media_streams"], key=lambda m: m["packets"])
    middle = (stream["first_seen"] + stream["last_seen"]) / 2
    start = min(m["first_seen"] for m in plain["media_streams"]) - 1
    after = max(m["last_seen"] for m in plain["media_streams"]) + 10
    counted = analyze_captures([capture], phase_starts=[after, start, middle], redactor=Redactor.default())  # any order: sorted by time
    by_id = {m["id"]: m for m in counted["media_streams"]}
    for entry in counted["media_streams"]:
        windows = {c["phase_index"]: (c["packets"], c["bytes"]) for c in entry["phase_counts"]}
        assert 2 not in windows  # nothing after the stream ended: the window is left out (zero)
        assert sum(p for p, _ in windows.values()) == entry["packets"]
        assert sum(b for _, b in windows.values()) == entry["bytes"]
    before = _scapy_counts(capture, stream, middle)
    assert 0 < before[0] < stream["packets"]
    assert {c["phase_index"]: (c["packets"], c["bytes"]) for c in by_id[stream["id"]]["phase_counts"]}[0] == before


def test_muted_audio_rate_comes_from_the_counts_not_the_stream_totals() -> None:
    phases = [{"phase": "joined", "ts": 100.0}, {"phase": "muted", "ts": 110.0}, {"phase": "unmuted", "ts": 120.0}]
    stream = {"id": "m1", "kind": "audio", "packets": 1000, "bytes": 100_000, "first_seen": 100.0, "last_seen": 130.0}
    muted = phase_windows(phases)[1]
    estimated = audio_rates(muted, [stream], 130.0)[0]
    assert estimated["estimated"] and estimated["packets_per_s"] > 30  # spread evenly: the pause is invisible
    counted = dict(stream, phase_counts=[{"phase_index": 0, "packets": 500, "bytes": 50_000},
                                         {"phase_index": 2, "packets": 500, "bytes": 50_000}])
    exact = audio_rates(muted, [counted], 130.0)[0]
    assert not exact["estimated"] and (exact["packets"], exact["bytes_per_s"]) == (0.0, 0.0)
    assert audio_rates(phase_windows(phases)[2], [counted], 130.0)[0]["bytes_per_s"] == 5000.0
