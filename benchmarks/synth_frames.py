"""Write the synthetic call's packets as classic pcap bytes, headers column-wise with numpy."""

from __future__ import annotations

import ipaddress

import numpy as np

from benchmarks.synth_model import PREFIX_BYTES, Builder, Packets


def _addr_bytes(addr: str) -> list[int]:
    """IPv4 in the first 4 of 16 bytes, IPv6 in all 16."""
    return list(ipaddress.ip_address(addr).packed.ljust(16, b"\0"))


def header_rows(b: Builder, pk: Packets, rows: np.ndarray, cport_override: np.ndarray, fam: int, proto: int) -> np.ndarray:
    """Ethernet + IP + transport headers for rows sharing (family, proto), as uint8[m, width]."""
    m = len(rows)
    flows = b.flows
    fidx = pk.flow[rows]
    up = pk.to_server[rows]
    table = np.array([[_addr_bytes(f.client), _addr_bytes(f.server)] for f in flows], dtype=np.uint8)
    cip, sip = table[fidx, 0], table[fidx, 1]
    cport = np.array([f.cport for f in flows], dtype=np.int64)[fidx]
    cport = np.where(cport_override[rows] >= 0, cport_override[rows], cport)
    sport = np.array([f.sport for f in flows], dtype=np.int64)[fidx]
    l4len = {17: 8, 6: 20, 1: 0}[proto]
    iplen = 20 if fam == 4 else 40
    width = 14 + iplen + l4len
    h = np.zeros((m, width), dtype=np.uint8)
    h[:, 0:6] = np.where(up[:, None], [0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E], [0x02, 0x42, 0xAC, 0x11, 0x00, 0x02])
    h[:, 6:12] = np.where(up[:, None], [0x02, 0x42, 0xAC, 0x11, 0x00, 0x02], [0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E])
    plen = pk.payload_len[rows]
    src = np.where(up[:, None], cip, sip)
    dst = np.where(up[:, None], sip, cip)
    if fam == 4:
        h[:, 12], h[:, 13] = 0x08, 0x00
        total = iplen + l4len + plen
        ip = h[:, 14:34]
        ip[:, 0] = 0x45
        ip[:, 2], ip[:, 3] = total >> 8, total & 0xFF
        ident = np.arange(m) & 0xFFFF
        ip[:, 4], ip[:, 5] = ident >> 8, ident & 0xFF
        ip[:, 6] = 0x40
        ip[:, 8], ip[:, 9] = 64, proto
        ip[:, 12:16], ip[:, 16:20] = src[:, :4], dst[:, :4]
        words = ip.astype(np.uint32).reshape(m, 10, 2)
        s = (words[:, :, 0] << 8 | words[:, :, 1]).sum(axis=1)
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        csum = ~s & 0xFFFF
        ip[:, 10], ip[:, 11] = csum >> 8, csum & 0xFF
    else:
        h[:, 12], h[:, 13] = 0x86, 0xDD
        ip = h[:, 14:54]
        ip[:, 0] = 0x60
        pl = l4len + plen
        ip[:, 4], ip[:, 5] = pl >> 8, pl & 0xFF
        ip[:, 6], ip[:, 7] = proto, 64
        ip[:, 8:24], ip[:, 24:40] = src, dst
    t = h[:, 14 + iplen:]
    if proto in (6, 17):
        a, z = np.where(up, cport, sport), np.where(up, sport, cport)
        t[:, 0], t[:, 1], t[:, 2], t[:, 3] = a >> 8, a & 0xFF, z >> 8, z & 0xFF
    if proto == 17:
        ulen = 8 + plen
        t[:, 4], t[:, 5] = ulen >> 8, ulen & 0xFF
    elif proto == 6:
        seq, ack = pk.tcp_seq[rows], pk.tcp_ack[rows]
        for i in range(4):
            t[:, 4 + i] = (seq >> (24 - 8 * i)) & 0xFF
            t[:, 8 + i] = (ack >> (24 - 8 * i)) & 0xFF
        t[:, 12], t[:, 13] = 0x50, pk.tcp_flags[rows]
        t[:, 14], t[:, 15] = 0xFF, 0xFF
    return h


def slice_bytes(b: Builder, pk: Packets, cport: np.ndarray, fam: np.ndarray, proto: np.ndarray,
                hdr_len: np.ndarray, frame_len: np.ndarray, lo: int, hi: int) -> bytes:
    """pcap records (header + frame) of packets ``lo`` to ``hi``."""
    idx = np.arange(lo, hi)
    rec = 16 + frame_len[lo:hi]
    start = np.concatenate(([0], np.cumsum(rec)[:-1]))
    size = int(rec.sum())
    buf = np.frombuffer(bytearray(b.rng.bytes(size)), dtype=np.uint8)
    ts = pk.ts[lo:hi]
    sec = ts.astype(np.int64)
    usec = np.round((ts - sec) * 1e6).astype(np.int64).clip(0, 999_999)
    head = np.stack([sec, usec, frame_len[lo:hi], frame_len[lo:hi]], axis=1).astype("<u4").view(np.uint8)
    buf[start[:, None] + np.arange(16)] = head.reshape(-1, 16)
    for f_, p_ in {(int(a), int(c)) for a, c in zip(fam[lo:hi], proto[lo:hi]) if a}:
        sel = np.flatnonzero((fam[lo:hi] == f_) & (proto[lo:hi] == p_))
        rows = idx[sel]
        h = header_rows(b, pk, rows, cport, f_, p_)
        buf[(start[sel] + 16)[:, None] + np.arange(h.shape[1])] = h
        pos = start[sel] + 16 + h.shape[1]
        kinds = pk.kind[rows]
        for kind, width in PREFIX_BYTES.items():
            k = np.flatnonzero(kinds == kind)
            if k.size:
                buf[pos[k][:, None] + np.arange(width)] = pk.prefix[rows[k], :width]
        end = start[sel] + 16 + hdr_len[rows] + pk.payload_len[rows]
        pad = np.flatnonzero(end < start[sel] + 16 + frame_len[rows])
        for j in pad:  # zero Ethernet padding, like a NIC would
            buf[end[j]: start[sel][j] + 16 + frame_len[rows[j]]] = 0
    raw = buf.tobytes()
    out = bytearray(raw)
    for j in np.flatnonzero(pk.special[lo:hi] >= 0):
        i = lo + j
        data = b.payloads[pk.special[i]]
        o = int(start[j]) + 16 + (14 if fam[i] == 0 else int(hdr_len[i]))
        out[o: o + len(data)] = data
        if fam[i] == 0:
            out[int(start[j]) + 16 + 12: int(start[j]) + 16 + 14] = b"\x08\x06"
            out[int(start[j]) + 16: int(start[j]) + 28] = b"\xff" * 6 + b"\x00\x1a\x2b\x3c\x4d\x5e"
    return bytes(out)
