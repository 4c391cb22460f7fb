"""Generate a realistic synthetic video-call capture (classic pcap, Ethernet) quickly and cache it.

Traffic mix per 1M packets (modelled on research note 03 §3): RTP/SRTP media on Zoom-style 8801
flows, a WebRTC bundle, a P2P flow and a TURN/relay flow (~87%), RTCP/SRTCP multiplexed on them
(5%), STUN binding requests/responses with ICE attributes (1.2%), two DTLS 1.2 handshakes with
use_srtp, 13 HTTPS connections (SYN/SYN-ACK/ACK, ClientHello with SNI, server flight, application
data and bare ACKs; 5%), three QUIC flows (Initial/Handshake then short headers; 1.5%), DNS
queries and answers for ~55 names (0.4%), and ARP/ICMP echo (0.08%).

Headers are written column-wise with numpy; only the ~2% structured packets are built in Python.
Usage: ``python -m benchmarks.synth_call --packets 1000000 [--out FILE]``.
"""

from __future__ import annotations

import argparse
import os
import struct
import time
from pathlib import Path

import numpy as np

from benchmarks import synth_packets as sp
from benchmarks.synth_frames import slice_bytes
from benchmarks.synth_model import EPOCH, ICMP_ECHO, QUIC_SHORT, RAW, RTCP, RTP, TLS_APP, Builder, Packets

DATA_DIR = Path(__file__).resolve().parent / ".data"
GENERATOR_VERSION = 3
SLICE = 100_000
NAMES = ([f"zoom{i:02d}.zoom.us" for i in range(1, 21)] + [f"rtp{i}.meet.google.com" for i in range(1, 11)]
         + ["www.googleapis.com", "clients4.google.com", "us04web.zoom.us", "log.zoom.us", "zoom.us",
            "teams.microsoft.com", "api.flightproxy.teams.microsoft.com", "graph.microsoft.com",
            "stun.l.google.com", "turn.example-relay.net", "cdn.jsdelivr.net", "fonts.gstatic.com",
            "analytics.example-tracker.com", "sentry.io", "o1.ingest.sentry.io", "events.launchdarkly.com",
            "api.segment.io", "www.google-analytics.com", "stats.g.doubleclick.net", "signaling.example-sfu.io",
            "webex.com", "cisco.webex.com", "binaries.webex.com", "web.whatsapp.com", "mmg.whatsapp.net"])


def _rtp_prefix(n_up: int, n_down: int, pts: tuple[int, ...], clock_step: int, rng: np.random.Generator,
                to_server: np.ndarray) -> np.ndarray:
    prefix = np.zeros((len(to_server), 16), dtype=np.uint8)
    for direction in (True, False):
        rows = np.flatnonzero(to_server == direction)
        k = len(rows)
        seq = (int(rng.integers(0, 65536)) + np.arange(k)) & 0xFFFF
        stamp = (int(rng.integers(0, 2**32)) + np.arange(k, dtype=np.int64) * clock_step) & 0xFFFFFFFF
        ssrc = int(rng.integers(1, 2**32))
        pt = np.asarray(pts)[rng.integers(0, len(pts), k)]
        marker = (rng.random(k) < 0.03).astype(np.uint8) << 7
        prefix[rows, 0] = 0x80
        prefix[rows, 1] = pt | marker
        prefix[rows, 2], prefix[rows, 3] = seq >> 8, seq & 0xFF
        for i in range(4):
            prefix[rows, 4 + i] = (stamp >> (24 - 8 * i)) & 0xFF
            prefix[rows, 8 + i] = (ssrc >> (24 - 8 * i)) & 0xFF
    return prefix


def add_media(b: Builder, n_rtp: int, n_rtcp: int) -> list[int]:
    media = [  # (family, server, server port, client port, PTs, clock step, payload range, weight)
        (4, "170.114.52.10", 8801, 50001, (111,), 960, (100, 250), 1.0),
        (4, "170.114.52.10", 8801, 50002, (96, 98), 3000, (600, 1200), 3.0),
        (4, "170.114.52.11", 8801, 50003, (99,), 3000, (800, 1200), 1.5),
        (4, "170.114.52.12", 8801, 50004, (111,), 960, (100, 250), 0.6),
        (4, "170.114.52.12", 8801, 50005, (96,), 3000, (600, 1200), 1.2),
        (4, "170.114.52.13", 8801, 50006, (96, 111), 3000, (300, 1100), 0.7),
        (4, "142.250.82.99", 3478, 51000, (111, 96, 97), 3000, (150, 1150), 2.0),
        (6, "2001:db8:ff::1:5", 49152, 51001, (96, 111), 3000, (150, 1150), 0.6),
        (4, "74.125.250.129", 19305, 51002, (111, 100), 3000, (150, 1100), 0.8),
    ]
    weights = np.array([m[-1] for m in media])
    counts = np.floor(weights / weights.sum() * n_rtp).astype(np.int64)
    counts[1] += n_rtp - counts.sum()
    rtcp_counts = np.floor(weights / weights.sum() * n_rtcp).astype(np.int64)
    rtcp_counts[0] += n_rtcp - rtcp_counts.sum()
    flows = []
    for (family, server, sport, cport, pts, step, (lo, hi), _), n, nr in zip(media, counts, rtcp_counts):
        f = b.flow(family, 17, server, sport, cport)
        flows.append(f)
        up = b.rng.random(n) < 0.45
        b.add(f, b.times(n, 1.0), up, RTP, b.rng.integers(lo, hi + 1, n) + 12,
              prefix=_rtp_prefix(int(up.sum()), int((~up).sum()), pts, step, b.rng, up))
        up = b.rng.random(nr) < 0.5
        prefix = np.zeros((nr, 16), dtype=np.uint8)
        prefix[:, 0], prefix[:, 1], prefix[:, 3] = 0x80, 200, 6
        prefix[:, 4:8] = b.rng.integers(0, 256, (nr, 4))
        b.add(f, b.times(nr, 1.0), up, RTCP, b.rng.integers(40, 120, nr), prefix=prefix)
    return flows


def add_stun(b: Builder, n: int, media_flows: list[int]) -> None:
    candidate_flows = [b.flow(4, 17, f"203.0.113.{10 + i}", 3478 + (i % 3), 52000 + i) for i in range(25)]
    targets = media_flows + candidate_flows
    per = max(n // len(targets), 2) & ~1
    left = n
    for i, f in enumerate(targets):
        k = per if i < len(targets) - 1 else max(left, 0) & ~1
        left -= k
        if k <= 0:
            continue
        short = f in candidate_flows
        ts = b.times(k // 2, 0.2, 3.0 if short else None)
        ts = np.sort(np.concatenate([ts, ts + 0.03]))
        payloads = []
        for j in range(k // 2):
            req = sp.stun_request(b.prng, b"abcd:efgh", controlling=True)
            payloads += [req, sp.stun_response(b.prng, req[8:20], bytes([198, 51, 100, 7]), 50001 + j % 7)]
        up = np.tile([True, False], k // 2)
        b.add(f, ts, up, RAW, np.zeros(k), special=payloads)


def add_dtls(b: Builder, media_flows: list[int]) -> None:
    for f in media_flows[6:8]:
        flights = sp.dtls_flights(b.prng)
        ts = EPOCH + 0.5 + np.arange(len(flights)) * 0.04
        b.add(f, ts, np.array([c for c, _ in flights]), RAW, np.zeros(len(flights)),
              special=[d for _, d in flights])


def add_https(b: Builder, n: int) -> None:
    hosts = NAMES[30:43]
    per = n // len(hosts)
    for i, host in enumerate(hosts):
        family = 6 if i == len(hosts) - 1 else 4
        server = "2001:db8:443::10" if family == 6 else f"104.18.{i}.{20 + i}"
        f = b.flow(family, 6, server, 443, 53000 + i)
        k = per if i < len(hosts) - 1 else n - per * (len(hosts) - 1)
        start = b.prng.uniform(0.0, b.duration * 0.5)
        ts = b.times(k, start)
        ch, srv = sp.tls_client_hello(b.prng, host), sp.tls_server_flight(b.prng)
        up = b.rng.random(k) < 0.4
        up[:5] = [True, False, True, True, False]
        kinds_len = np.where(b.rng.random(k) < 0.3, 0, b.rng.integers(60, 1400, k))
        kinds_len[:5] = [0, 0, 0, len(ch), len(srv)]
        flags = np.where(kinds_len > 0, 0x18, 0x10)
        flags[:3] = [0x02, 0x12, 0x10]
        isn_c, isn_s = int(b.rng.integers(0, 2**31)), int(b.rng.integers(0, 2**31))
        sent_c = np.cumsum(np.where(up, kinds_len, 0)) - np.where(up, kinds_len, 0)
        sent_s = np.cumsum(np.where(~up, kinds_len, 0)) - np.where(~up, kinds_len, 0)
        seq = np.where(up, isn_c + 1 + sent_c, isn_s + 1 + sent_s) & 0xFFFFFFFF
        ack = np.where(up, isn_s + 1 + sent_s, isn_c + 1 + sent_c) & 0xFFFFFFFF
        seq[0], seq[1] = isn_c, isn_s
        prefix = np.zeros((k, 16), dtype=np.uint8)
        rec_len = np.maximum(kinds_len - 5, 0)
        prefix[:, 0], prefix[:, 1], prefix[:, 2] = 23, 3, 3
        prefix[:, 3], prefix[:, 4] = rec_len >> 8, rec_len & 0xFF
        b.add(f, ts[5:], up[5:], TLS_APP, kinds_len[5:], prefix=prefix[5:],
              tcp=(seq[5:], ack[5:], flags[5:]))
        b.add(f, ts[:3], up[:3], RAW, np.zeros(3), tcp=(seq[:3], ack[:3], flags[:3]))
        b.add(f, ts[3:5], up[3:5], RAW, np.zeros(2), special=[ch, srv], tcp=(seq[3:5], ack[3:5], flags[3:5]))


def add_quic(b: Builder, n: int) -> None:
    per = n // 3
    for i in range(3):
        f = b.flow(4, 17, f"142.250.{180 + i}.14", 443, 54000 + i)
        k = per if i < 2 else n - 2 * per
        dcid, scid = b.prng.randbytes(8), b.prng.randbytes(8)
        ts = b.times(k, b.prng.uniform(0, b.duration * 0.3))
        heads = [sp.quic_long(b.prng, 0, dcid, scid, 1250), sp.quic_long(b.prng, 0, scid, dcid, 1200),
                 sp.quic_long(b.prng, 2, dcid, scid, 90)]
        b.add(f, ts[:3], np.array([True, False, True]), RAW, np.zeros(3), special=heads)
        up = b.rng.random(k - 3) < 0.3
        prefix = np.zeros((k - 3, 16), dtype=np.uint8)
        prefix[:, 0] = 0x40 | b.rng.integers(0, 64, k - 3)
        prefix[:, 1:9] = np.frombuffer(dcid, dtype=np.uint8)
        b.add(f, ts[3:], up, QUIC_SHORT, b.rng.integers(30, 1250, k - 3), prefix=prefix)


def add_dns(b: Builder, n: int) -> None:
    pairs = n // 2
    v4 = b.flow(4, 17, "192.168.1.1", 53, 0)
    v6 = b.flow(6, 17, "2001:db8:1::1", 53, 0)
    for j in range(pairs):
        name = NAMES[j % len(NAMES)]
        qtype = 28 if j % 4 == 3 else 1
        f = v6 if j % 4 == 3 else v4
        txid = b.prng.randrange(65536)
        t = EPOCH + b.prng.uniform(0, b.duration)
        b.add(f, np.array([t, t + 0.012]), np.array([True, False]), RAW, np.zeros(2),
              special=[sp.dns_query(txid, name, qtype), sp.dns_answer(b.prng, txid, name, qtype)])
        b.parts[-1]["cport"] = np.full(2, 30000 + b.prng.randrange(30000))


def add_misc(b: Builder, n: int) -> None:
    f = b.flow(4, 1, "192.168.1.1", 0, 0)
    k = n // 2
    prefix = np.zeros((k, 16), dtype=np.uint8)
    up = np.tile([True, False], k // 2 + 1)[:k]
    prefix[:, 0] = np.where(up, 8, 0)
    prefix[:, 5] = np.arange(k) // 2 & 0xFF
    b.add(f, b.times(k), up, ICMP_ECHO, np.full(k, 64))
    b.parts[-1]["prefix"] = prefix
    arp = b.flow(0, 0, "0.0.0.0", 0, 0)
    m = n - k
    b.add(arp, b.times(m), np.ones(m, dtype=bool), RAW, np.zeros(m), special=[sp.arp_request(b.prng) for _ in range(m)])


def build(total: int, seed: int = 7) -> tuple[Builder, Packets, np.ndarray]:
    b = Builder(total, seed)
    n_rtcp, n_stun = int(total * 0.05), int(total * 0.012) & ~1
    n_tcp, n_quic, n_dns, n_misc = int(total * 0.05), int(total * 0.015), int(total * 0.004) & ~1, max(int(total * 0.0008), 2)
    n_rtp = total - n_rtcp - n_stun - 8 - n_tcp - n_quic - n_dns - n_misc
    media = add_media(b, n_rtp, n_rtcp)
    add_stun(b, n_stun, media)
    add_dtls(b, media)
    add_https(b, n_tcp)
    add_quic(b, n_quic)
    add_dns(b, n_dns)
    add_misc(b, n_misc)
    for part in b.parts:  # DNS uses a fresh client port per query; everyone else the flow's
        part.setdefault("cport", np.full(len(part["ts"]), -1))
    cport = np.concatenate([p.pop("cport") for p in b.parts])
    pk = b.packets()
    order = np.argsort(np.concatenate([p["ts"] for p in b.parts]), kind="stable")
    return b, pk, cport[order]


def write_pcap(path: Path, total: int, seed: int = 7) -> None:
    b, pk, cport = build(total, seed)
    fam = np.array([f.family for f in b.flows])[pk.flow]
    proto = np.array([f.proto for f in b.flows])[pk.flow]
    hdr_len = np.select([fam == 0, (fam == 4) & (proto == 17), (fam == 4) & (proto == 6), fam == 4,
                         (fam == 6) & (proto == 17), (fam == 6) & (proto == 6)], [14, 42, 54, 34, 62, 74], 54)
    frame_len = hdr_len + pk.payload_len
    frame_len = np.where(fam == 0, 14 + 28, frame_len)
    frame_len = np.maximum(frame_len, 60)  # Ethernet minimum: padding after short packets
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for lo in range(0, total, SLICE):
            hi = min(lo + SLICE, total)
            out.write(slice_bytes(b, pk, cport, fam, proto, hdr_len, frame_len, lo, hi))
    os.replace(tmp, path)


def cached_path(packets: int = 1_000_000, seed: int = 7) -> Path:
    """Where the cached capture with ``packets`` packets lives (it may not exist yet)."""
    return DATA_DIR / f"synth-call-{packets}-s{seed}-v{GENERATOR_VERSION}.pcap"


def ensure(packets: int = 1_000_000, seed: int = 7) -> Path:
    """Path of the cached capture with ``packets`` packets, generating it if needed."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = cached_path(packets, seed)
    if not path.exists():
        write_pcap(path, packets, seed)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    start = time.monotonic()
    if args.out:
        write_pcap(args.out, args.packets, args.seed)
        path = args.out
    else:
        path = ensure(args.packets, args.seed)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, {args.packets} packets) in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
