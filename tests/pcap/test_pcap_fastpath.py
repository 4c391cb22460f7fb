"""The fast paths of the record walk and the column gathers agree with their plain versions.

Native-order files are framed through uint32 views (``pcap.framing``), the other byte order through
``struct``: the same records written in both orders must give the same walk, damage included.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from confaudit.pcap import framing
from confaudit.pcap.gather import be16, equals_any, field, take_rows, windows
from confaudit.pcap.pcapfile import PcapWalker
from confaudit.pcap.pcapng import PcapngWalker

PAD = 256


def test_windows_match_index_matrix_and_clip():
    arr = np.arange(200, dtype=np.uint8)
    offs = np.array([0, 5, 190, -3, 500, 7], dtype=np.int64)
    for width in (1, 4, 16, 40):
        safe = np.clip(offs, 0, len(arr) - width)
        expected = arr[safe[:, None] + np.arange(width)[None, :]]
        got = windows(arr, offs, width)
        assert got.dtype == np.uint8 and got.shape == expected.shape and np.array_equal(got, expected)
    assert windows(arr, np.zeros(0, dtype=np.int64), 8).shape == (0, 8)
    assert np.array_equal(windows(arr[::2], np.array([1]), 3), [[2, 4, 6]])  # non-contiguous input


def test_take_rows_field_and_equals_any():
    rng = np.random.default_rng(7)
    mat = rng.integers(0, 256, (50, 16)).astype(np.uint8)
    for rows in (np.array([3, 1, 3, 49]), mat[:, 0] > 100, np.zeros(0, dtype=np.int64)):
        assert np.array_equal(take_rows(mat, rows), mat[rows])
    assert np.array_equal(field(mat, 1, ">u4"), [int.from_bytes(r[1:5].tobytes(), "big") for r in mat])
    assert np.array_equal(be16(mat, 14), [int.from_bytes(r[14:16].tobytes(), "big") for r in mat])
    assert np.array_equal(equals_any(mat[:, 0], (0, 7, 255)), np.isin(mat[:, 0], (0, 7, 255)))


def _pcap(endian: str, caplens: list[int], tail: bytes = b"") -> tuple[bytes, bytes]:
    header = struct.pack(endian + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    body = b"".join(struct.pack(endian + "IIII", i, 7 * i, c, c + 1) + bytes([i % 251]) * min(c, 300)
                    for i, c in enumerate(caplens))
    return header, body + tail


def _walk_pcap(endian: str, caplens: list[int], tail: bytes = b"", end_cut: int = 0):
    header, body = _pcap(endian, caplens, tail)
    buf = bytearray(body) + bytearray(PAD)
    return PcapWalker(Path("x.pcap"), header).walk(buf, 0, len(body) - end_cut)


def _same(a, b) -> None:
    assert (a.consumed, a.need, a.stop, a.warnings) == (b.consumed, b.need, b.stop, b.warnings)
    assert (a.batch is None) == (b.batch is None)
    if a.batch is not None:
        for name in ("data_off", "caplen", "wire_len", "ts", "linktype", "usable"):
            x, y = getattr(a.batch, name), getattr(b.batch, name)
            assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("caplens, end_cut", [
    ([60, 0, 90, 1], 0),
    ([60, 90, 300000, 60, 60], 0),        # over the limit mid-buffer: framing stops there
    ([60, 90, 70], 30),                    # the last record does not fit: need
    ([60, 90, 70], 75),                    # not even its header fits
    ([], 0),
])
def test_pcap_walk_is_the_same_in_both_byte_orders(caplens, end_cut):
    native = framing.NATIVE
    other = ">" if native == "<" else "<"
    a = _walk_pcap(native, caplens, end_cut=end_cut)
    b = _walk_pcap(other, caplens, end_cut=end_cut)
    _same(a, b)
    if 300000 in caplens:
        assert a.stop and "claims 300000 captured bytes" in a.stop and len(a.batch.caplen) == 2


def _block(endian: str, btype: int, body: bytes, *, trailer_delta: int = 0, blen: int | None = None) -> bytes:
    length = 12 + len(body) if blen is None else blen
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", 12 + len(body) + trailer_delta)


def _pcapng(endian: str, n_packets: int, damage: dict[int, str]) -> bytes:
    out = _block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += _block(endian, 1, struct.pack(endian + "HHI", 1, 0, 0))
    for i in range(n_packets):
        data = bytes([i % 256]) * 40
        body = struct.pack(endian + "IIIII", 0, 0, 1000 * i, 40, 40) + data
        kind = damage.get(i)
        if kind == "stats":
            out += _block(endian, 5, bytes(8))
        out += _block(endian, 6, body, trailer_delta=4 if kind == "trailer" else 0,
                      blen=13 + len(body) if kind == "odd" else None)
    return out


@pytest.mark.parametrize("n_packets, damage", [
    (5, {}),
    (framing.SHORT_RUN * 3, {}),
    (framing.SHORT_RUN * 3, {20: "stats", 21: "stats", 40: "stats"}),
    (framing.SHORT_RUN * 3, {framing.SHORT_RUN + 5: "trailer"}),
    (framing.SHORT_RUN * 3, {3: "trailer"}),
    (framing.SHORT_RUN * 3, {30: "odd"}),
])
@pytest.mark.parametrize("cut", [0, 10])
def test_pcapng_walk_is_the_same_in_both_byte_orders(n_packets, damage, cut):
    native = framing.NATIVE
    other = ">" if native == "<" else "<"
    results = []
    for endian in (native, other):
        data = _pcapng(endian, n_packets, damage)
        buf = bytearray(data) + bytearray(PAD)
        results.append(PcapngWalker(Path("x.pcapng")).walk(buf, 0, len(data) - cut))
    _same(*results)
    assert results[0].batch is not None and len(results[0].batch.data_off) > 0
