"""The analysis on crafted captures: hostile payloads, many flows, RTP sequence sanity, multi-file merge."""

from __future__ import annotations

from confaudit.redact import Redactor
import random
import struct
import time
from pathlib import Path

from support.analysis_pcapkit import tcp_frame, udp_frame, write_pcap

from confaudit.analysis.packet_side import analyze_captures
from confaudit.jsonio import dumps_canonical

COOKIE = b"\x21\x12\xa4\x42"


def _hostile_frames(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    prefixes = [
        lambda: b"\x00\x01" + struct.pack("!H", rng.choice([0, 4, 8, 400])) + COOKIE + rng.randbytes(rng.randrange(0, 80)),
        lambda: b"\x00\x03\x00\x08" + COOKIE + rng.randbytes(12) + b"\x00\x14\xff\xff" + rng.randbytes(4),
        lambda: b"\x16\xfe\xfd" + rng.randbytes(rng.randrange(0, 300)),
        lambda: b"\x17\xfe\xff" + b"\x00" * 8 + b"\xff\xff" + rng.randbytes(20),
        lambda: b"\x40\x00" + struct.pack("!H", rng.randrange(0, 70000) & 0xFFFF) + rng.randbytes(rng.randrange(0, 64)),
        lambda: bytes([0x80, rng.randrange(0, 256)]) + rng.randbytes(rng.randrange(10, 200)),
        lambda: bytes([0xC3]) + rng.choice([b"\x00\x00\x00\x01", b"\x6b\x33\x43\xcf", rng.randbytes(4)]) + rng.randbytes(rng.randrange(0, 1300)),
        lambda: b"INVITE sip:\x1b[31mx@y SIP/2.0\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 0 RTP/AVP 0\r\n" + rng.randbytes(30),
        lambda: rng.randbytes(rng.randrange(0, 40)),
        lambda: b"",
    ]
    frames = []
    for i in range(count):
        payload = rng.choice(prefixes)()
        flow = rng.randrange(0, 40)
        if flow % 5 == 0:
            frames.append(tcp_frame("10.0.0.1", 40000 + flow, "192.0.2.9", 443, b"\x16\x03\x01" + payload, seq=rng.randrange(0, 1 << 32)))
        elif flow % 7 == 0:
            frames.append(udp_frame("10.0.0.1", 40000 + flow, "192.0.2.53", 53, payload))
        else:
            frames.append(udp_frame("10.0.0.1", 40000 + flow, "198.51.100.7", 3478 if flow % 2 else 8801, payload))
    return frames


def test_hostile_payloads_never_break_the_analysis(tmp_path: Path) -> None:
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    for seed in range(3):
        capture = tmp_path / f"hostile{seed}.pcap"
        frames = _hostile_frames(seed, 1500)
        write_pcap(capture, frames)
        bundle = build_evidence([capture], redactor=Redactor.default())
        assert validate_bundle(bundle) == []
        assert sum(bundle["protocol_counts"].values()) == len(frames)
        assert sum(f["packets"] for f in bundle["flows"]) == len(frames)
        assert dumps_canonical(bundle) == dumps_canonical(build_evidence([capture], redactor=Redactor.default()))
        text = dumps_canonical(bundle)
        assert bundle["sip"]  # the crafted INVITEs are parsed...
        assert "\x1b" not in text  # ...and their escape bytes only ever appear JSON-escaped (\u001b)
        text.encode("utf-8")  # no lone surrogates


def test_many_flows_are_counted_in_bounded_time(tmp_path: Path) -> None:
    capture = tmp_path / "scan.pcap"
    n = 40_000
    write_pcap(capture, (udp_frame("10.1.0.1", 1024 + (i % 60000), f"203.0.{(i // 250) % 256}.{i % 250 + 1}", 9000, b"\x80\x60" + struct.pack("!HII", i & 0xFFFF, i, i) + b"x" * 20)
                         for i in range(n)))
    started = time.monotonic()
    bundle = analyze_captures([capture], redactor=Redactor.default())
    elapsed = time.monotonic() - started
    assert len(bundle["flows"]) == n
    assert bundle["flows"][0]["id"] == "f1" and bundle["flows"][-1]["id"] == f"f{n}"
    assert bundle["media_streams"] == []  # one packet per "stream" is not a stream
    assert elapsed < 60, elapsed


def _rtp(seq: int, ts: int, ssrc: int, payload: bytes, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def test_rtp_loss_reorder_and_merge_across_files(tmp_path: Path) -> None:
    ssrc = 0x1234ABCD
    seqs = [s for s in range(65500, 65636) if s not in (65510, 65511, 65600)]  # wraps past 65535, 3 lost
    seqs[20], seqs[21] = seqs[21], seqs[20]  # one swap
    ulaw = bytes([0xFF, 0x7F, 0xFE, 0x7E] * 40)
    frames = [udp_frame("10.0.0.5", 5004, "10.0.0.6", 5006, _rtp(s, s * 160, ssrc, ulaw)) for s in seqs]
    half = len(frames) // 2
    write_pcap(tmp_path / "a.pcap", frames[:half])
    write_pcap(tmp_path / "b.pcap", frames[half:], start=1_700_000_100.0)
    bundle = analyze_captures([tmp_path / "a.pcap", tmp_path / "b.pcap"], redactor=Redactor.default())
    assert len(bundle["inputs"]) == 2 and bundle["complete"] is True
    assert len(bundle["flows"]) == 1 and bundle["flows"][0]["packets"] == len(frames)
    (stream,) = bundle["media_streams"]
    assert stream["ssrc"] == "0x1234abcd" and stream["packets"] == len(frames)
    assert stream["codec"] == "PCMU" and stream["kind"] == "audio"
    assert stream["sequence"]["lost"] == 3  # RFC 3550 A.3: a swap is not a loss
    assert stream["sequence"]["gaps"] == 4  # 2 holes + the swap skipping forward twice
    assert stream["sequence"]["reordered"] == 1
    assert stream["first_packet"] == {"kind": "packet", "id": "0:1"}
    assert bundle["flows"][0]["last_seen"] >= 1_700_000_100.0


def test_progress_reports_bytes_per_chunk_up_to_the_total(shared_captures: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    files = [shared_captures / "teams.pcap", shared_captures / "sip.pcap"]
    analyze_captures(files, progress=lambda label, done, total: calls.append((label, done, total)), redactor=Redactor.default())
    total = sum(f.stat().st_size for f in files)
    assert calls and all(t == total for _l, _d, t in calls)
    done = [d for _l, d, _t in calls]
    assert done == sorted(done) and done[-1] == total
    assert {label for label, _d, _t in calls} == {"teams.pcap", "sip.pcap"}


def test_exhausted_sample_budget_fails_closed(shared_captures: Path, monkeypatch) -> None:
    import confaudit.analysis.sampling as samples

    monkeypatch.setattr(samples, "GLOBAL_BYTE_BUDGET", 2000)
    bundle = analyze_captures([shared_captures / "teams.pcap"], redactor=Redactor.default())
    assert bundle["complete"] is False
    assert any("sampling budget" in w for w in bundle["warnings"])
    assert all(i["complete"] for i in bundle["inputs"])  # the file itself was read to the end
    assert sum(bundle["protocol_counts"].values()) == 1498  # every packet still counted


def test_header_only_capture_is_complete_and_empty(tmp_path: Path) -> None:
    from confaudit.evidence.build import build_evidence
    from confaudit.evidence.schema import validate_bundle

    capture = tmp_path / "empty.pcap"
    write_pcap(capture, [])
    bundle = build_evidence([capture], redactor=Redactor.default())
    assert validate_bundle(bundle) == []
    assert bundle["complete"] is True and bundle["flows"] == [] and bundle["media_streams"] == []
    assert set(bundle["protocol_counts"].values()) == {0}
    assert bundle["media_path"]["topology"] == "unknown"


def _invite(sdp: bytes, tcp: bool = False) -> bytes:
    head = (b"INVITE sip:bob@example.org SIP/2.0\r\nCall-ID: 77@host\r\nCSeq: 1 INVITE\r\n"
            b"Content-Type: application/sdp\r\nContent-Length: " + str(len(sdp)).encode() + b"\r\n\r\n")
    return head + sdp


def test_sdes_crypto_in_clear_sip_marks_srtp_and_never_leaks_the_key(tmp_path: Path) -> None:
    key = b"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAo"
    sdp = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"
           b"a=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key + b"\r\n")
    rng = random.Random(5)
    frames = [udp_frame("10.0.0.9", 5060, "10.0.0.10", 5060, _invite(sdp))]
    frames += [tcp_frame("10.0.0.9", 5070, "10.0.0.10", 5060, _invite(sdp), seq=1)]
    frames += [udp_frame("10.0.0.10", 6000, "10.0.0.9", 4000, _rtp(i, i * 160, 0xABCDEF01, rng.randbytes(170))) for i in range(30)]
    capture = tmp_path / "sdes.pcap"
    write_pcap(capture, frames)
    bundle = analyze_captures([capture], redactor=Redactor.default())
    text = dumps_canonical(bundle)
    assert key.decode() not in text and key[:16].decode() not in text
    assert bundle["protocol_counts"]["sip"] == 2 and len(bundle["sdp"]) == 2
    assert all(s["crypto_present"] and s["media"][0]["crypto"][0]["key"].startswith("[REDACTED") for s in bundle["sdp"])
    (stream,) = bundle["media_streams"]
    assert stream["encryption"] == "srtp" and stream["codec"] == "PCMU"
    assert any("a=crypto" in r for r in stream["reasons"])
