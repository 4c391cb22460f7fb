"""E2EE verification speed: decrypt and classify a 10-minute two-party call, against the call's own duration.

The call is synthesised (real OpenSSL DTLS 1.2 handshake, real Opus/VP8 frames, real SRTP from
pylibsrtp): both participants send audio (50 packets/s) and VP8 video (30 frames/s),
plus SRTCP; video is 320x240 VP8 at ~400 kbit/s. Every datagram is captured twice, as on loopback/span ports, so duplicate handling is
on the measured path. Run: ``.venv/bin/python benchmarks/bench_e2ee.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

CALL_SECONDS = 600.0
TARGET_RATIO = 0.1  # "less time than the call lasted by a wide margin": at most a tenth


def _synthesise(directory: Path) -> tuple[Path, Path, int]:
    from benchmarks.synth_e2ee import SynthStream, dtls_handshake, write_call

    handshake = dtls_handshake()
    streams = [SynthStream("client", "opus", 0x1001, 111), SynthStream("client", "vp8", 0x1002, 96),
               SynthStream("server", "opus", 0x2001, 111), SynthStream("server", "vp8", 0x2002, 96)]
    capture = directory / "call-10min.pcap"
    datagrams = write_call(capture, handshake, streams, seconds=CALL_SECONDS, duplicate=True)
    keylog = directory / "keys.log"
    keylog.write_text("\n".join(handshake.keylog_lines) + "\n")
    return capture, keylog, datagrams


def main() -> list[dict]:
    from confaudit.e2ee import enrich

    with tempfile.TemporaryDirectory(prefix="bench-e2ee-") as tmp:
        capture, keylog, datagrams = _synthesise(Path(tmp))
        size_mb = capture.stat().st_size / 1e6
        bundle: dict = {"warnings": [], "complete": True}
        start = time.perf_counter()
        enrich(bundle, captures=[capture], keylogs=[], explicit_keylog=keylog)
        elapsed = time.perf_counter() - start
    streams = bundle["e2ee"]["streams"]
    verdicts_ok = len(streams) == 4 and all(s["inner"] == "codec" and s["auth_failed"] == 0 for s in streams)
    decrypted = sum(s["decrypted"] for s in streams)
    ratio = elapsed / CALL_SECONDS
    return [
        {"name": "e2ee_decrypt_classify_10min_call", "value": round(elapsed, 3), "unit": "s",
         "peer": "call duration", "peer_value": CALL_SECONDS, "ratio": round(ratio, 4),
         "target": f"<= {TARGET_RATIO} x call duration, all 4 streams decrypted and readable",
         "ok": ratio <= TARGET_RATIO and verdicts_ok},
        {"name": "e2ee_srtp_packets_per_second", "value": round(datagrams / elapsed), "unit": "datagrams/s",
         "peer": "datagrams in capture", "peer_value": datagrams, "ratio": round(decrypted / max(1, datagrams), 4),
         "target": f"capture {size_mb:.0f} MB; half the datagrams are duplicates, the rest decrypt",
         "ok": verdicts_ok and decrypted * 2 >= datagrams * 0.95},
    ]


if __name__ == "__main__":
    rows = main()
    json.dump(rows, sys.stdout, indent=1)
    print()
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
