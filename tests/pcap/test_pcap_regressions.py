"""The named hostile-capture cases of research note 05 §2 (scapy's failures), each with its expected outcome.

Outcomes: "error" = one-line InputError; "partial" = read as far as possible, complete false;
"complete" = all 6 packets, complete true. Every case must finish fast with bounded memory.
"""

from __future__ import annotations

import gzip
import struct
import time
import zlib

import pytest

from support import pcap_testbuild as b
from confaudit.errors import InputError
from confaudit.pcap.reader import CaptureReader

FRAMES = [
    b.ether(b.ipv4("192.168.1.5", "192.168.1.1", 17, b.udp(40000, 53, b"\x12\x34\x01\x00\x00\x01" + bytes(6) + b"\x04zoom\x02us\x00\x00\x01\x00\x01"))),
    b.ether(b.ipv4("192.168.1.5", "170.114.52.2", 6, b.tcp(51000, 443, b"", flags=0x02))),
    b.ether(b.ipv4("192.168.1.5", "170.114.52.2", 6, b.tcp(51000, 443, b"\x16\x03\x01\x00\x30\x01" + bytes(47)))),
    b.ether(b.ipv4("192.168.1.5", "10.9.9.9", 6, b.tcp(51001, 80, b"GET /?token=CANARY HTTP/1.1\r\nCookie: s=CANARY\r\n\r\n"))),
    b.ether(b.ipv6("2001:db8::5", "2001:db8::9", 17, b.udp(50000, 3478, b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12))), 0x86DD),
    b.ether(b.ipv4("192.168.1.5", "170.114.52.2", 17, b.udp(50002, 8801, b"\x80\x6f\x00\x01" + bytes(160)))),
]
PCAP = b.pcap(FRAMES)
REC1 = 24  # first record header
REC2 = 24 + 16 + len(FRAMES[0])
SHB_IDB = b.shb() + b.idb(1)
EPBS = [b.epb(0, 10**6 * i, f) for i, f in enumerate(FRAMES)]
PCAPNG = SHB_IDB + b"".join(EPBS)
EPB2 = len(SHB_IDB) + len(EPBS[0])


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def zero_records_bomb() -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [comp.compress(PCAP)] + [comp.compress(bytes(1 << 20)) for _ in range(256)]
    return b"".join(parts + [comp.flush()])


def big_zero_epb_gzip() -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    size = 256 << 20
    head = SHB_IDB + EPBS[0] + struct.pack("<IIIIIII", 6, 32 + size, 0, 0, 0, size, size)
    parts = [comp.compress(head)] + [comp.compress(bytes(1 << 20)) for _ in range(size >> 20)]
    parts.append(comp.compress(struct.pack("<I", 32 + size)))
    return b"".join(parts + [comp.flush()])


def many_options_epb() -> bytes:
    opts = b"".join(struct.pack("<HH", 1, 4) + b"abcd" for _ in range(200_000)) + b"\0\0\0\0"
    frame = FRAMES[0] + b"\0" * (-len(FRAMES[0]) % 4)
    body = struct.pack("<IIIII", 0, 0, 0, len(FRAMES[0]), len(FRAMES[0])) + frame + opts
    return SHB_IDB + struct.pack("<II", 6, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)) + b"".join(EPBS[1:])


def corrupt_middle(comp: bytes) -> bytes:
    out = bytearray(comp)
    for i in range(len(out) // 2, len(out) // 2 + 8):
        out[i] ^= 0x5A
    return bytes(out)


CASES = {  # name -> (builder of the file's bytes, expected outcome); built lazily, some are large
    # classic pcap
    "empty": (lambda: b"", "error"),
    "magic only": (lambda: PCAP[:4], "error"),
    "12-byte header": (lambda: PCAP[:12], "error"),
    "random 24-byte header": (lambda: bytes(range(100, 124)) + PCAP[24:], "error"),
    "unknown pcap version": (lambda: patched(PCAP, 4, "<H", 7), "error"),
    "snaplen 0": (lambda: patched(PCAP, 16, "<I", 0), "complete"),
    "unknown linktype 0xFFFF": (lambda: patched(PCAP, 20, "<I", 0xFFFF), "partial"),
    "raw-IP linktype on Ethernet data": (lambda: patched(PCAP, 20, "<I", 101), "partial"),
    "truncated inside a record header": (lambda: PCAP[: REC2 + 7], "partial"),
    "truncated inside record data": (lambda: PCAP[: REC2 + 16 + 20], "partial"),
    "caplen 0xFFFFFFFF in record 1": (lambda: patched(PCAP, REC1 + 8, "<I", 0xFFFFFFFF), "error"),
    "caplen 0x7FFFFFFF in record 2": (lambda: patched(PCAP, REC2 + 8, "<I", 0x7FFFFFFF), "partial"),
    "caplen 0 in record 1": (lambda: patched(PCAP, REC1 + 8, "<I", 0), "error-or-partial"),
    "byte-swapped magic": (lambda: b"\xa1\xb2\xc3\xd4" + PCAP[4:], "error-or-partial"),
    "nanosecond magic, fraction 0xFFFFFFFF": (lambda: patched(b"\x4d\x3c\xb2\xa1" + PCAP[4:], REC1 + 4, "<I", 0xFFFFFFFF), "complete"),
    "gzip pcap": (lambda: gzip.compress(PCAP), "complete"),
    "gzip pcap truncated": (lambda: gzip.compress(PCAP)[:-40], "error-or-partial"),
    "gzip pcap corrupted": (lambda: corrupt_middle(gzip.compress(PCAP)), "error-or-partial"),
    "gzip of 256 MiB of empty records": (lambda: zero_records_bomb(), "error"),
    "2 M empty records after the packets": (lambda: PCAP + bytes(16 * 2_000_000), "partial"),
    # pcapng
    "SHB length 8": (lambda: patched(PCAPNG, 4, "<I", 8), "error"),
    "bad byte-order magic": (lambda: patched(PCAPNG, 8, "<I", 0x11223344), "error"),
    "SHB major version 2": (lambda: patched(PCAPNG, 12, "<H", 2), "error"),
    "IDB linktype 0xFFFF": (lambda: patched(PCAPNG, 28 + 8, "<H", 0xFFFF), "partial"),
    "SHB length 0xFFFFFFF0": (lambda: patched(PCAPNG, 4, "<I", 0xFFFFFFF0), "error"),
    "IDB length 0xFFFFFFF0": (lambda: patched(PCAPNG, 28 + 4, "<I", 0xFFFFFFF0), "error"),
    "EPB length 0xFFFFFFF0": (lambda: patched(PCAPNG, EPB2 + 4, "<I", 0xFFFFFFF0), "partial"),
    "EPB length 0x7FFFFFF0": (lambda: patched(PCAPNG, EPB2 + 4, "<I", 0x7FFFFFF0), "partial"),
    "EPB length 4": (lambda: patched(PCAPNG, EPB2 + 4, "<I", 4), "partial"),
    "EPB length not a multiple of 4": (lambda: patched(PCAPNG, EPB2 + 4, "<I", len(EPBS[1]) + 1), "partial"),
    "EPB trailer mismatch": (lambda: patched(PCAPNG, EPB2 + len(EPBS[1]) - 4, "<I", 64), "partial"),
    "no IDB": (lambda: b.shb() + b"".join(EPBS), "partial"),
    "EPB caplen 0xFFFFFFFF inside a normal block": (lambda: patched(PCAPNG, EPB2 + 20, "<I", 0xFFFFFFFF), "partial"),
    "EPB interface id 99": (lambda: patched(PCAPNG, EPB2 + 8, "<I", 99), "partial"),
    "truncated inside a block": (lambda: PCAPNG[: EPB2 + 30], "partial"),
    "SHB with 64 MiB of options": (lambda: struct.pack("<II", 0x0A0D0D0A, 28 + (64 << 20)) + PCAPNG[8:24] + bytes(64 << 20)
                                   + struct.pack("<I", 28 + (64 << 20)) + PCAPNG[28:], "error"),
    "EPB with 200,000 options": (lambda: many_options_epb(), "complete"),
    "gzip pcapng with a 256 MiB zero EPB": (lambda: big_zero_epb_gzip(), "error-or-partial"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_targeted_hostile_case(tmp_path, name):
    make, expected = CASES[name]
    data = make()
    path = tmp_path / "case.bin"
    path.write_bytes(data)
    start = time.monotonic()
    try:
        reader = CaptureReader(path)
        rows = sum(len(c) for c in reader.chunks())
        rep = reader.report
        outcome = "complete" if rep.complete else "partial"
    except InputError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        outcome, rows, rep = "error", 0, None
    assert time.monotonic() - start < 5, "took too long"
    assert outcome in expected.split("-or-"), (name, outcome, rep)
    if outcome == "complete":
        assert rows == 6 and rep.records_read == 6
    if outcome == "partial":
        assert rep.warnings and rows <= 6
