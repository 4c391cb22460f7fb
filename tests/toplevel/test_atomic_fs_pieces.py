"""atomic_fs.write_all: pieces (bytes and views) written in order, whatever a short write leaves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from confaudit import atomic_fs


@pytest.mark.parametrize("limit", [1, 3, 7, 1000, 1 << 30])
def test_pieces_arrive_whole_and_in_order_through_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               limit: int) -> None:
    real = os.writev
    calls = []

    def short_writev(fd: int, buffers: list[memoryview]) -> int:  # the kernel may write less than asked
        taken, left = [], limit
        for view in buffers:
            if left <= 0:
                break
            taken.append(view[:left])
            left -= len(view[:left])
        calls.append(len(buffers))
        assert len(calls) < 200_000, "no progress: the same bytes asked for again and again"
        return real(fd, taken)

    monkeypatch.setattr(atomic_fs.os, "writev", short_writev)
    blob = bytes(range(256)) * 50
    pieces = [b"", b"{", memoryview(blob)[5:4000], b"", b"x" * 3, memoryview(blob), bytearray(b"tail")] * 3
    target = tmp_path / "out.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        atomic_fs.write_all(fd, iter(pieces))
    finally:
        os.close(fd)
    assert target.read_bytes() == b"".join(pieces)
    assert calls  # went through writev
