"""Damaged gzip captures: every packet decoded before the damage is analysed, the input is marked incomplete.

The files are real gzip output (the gzip tool, Python's GzipFile) of real captures, damaged by hand: one
flipped bit in the CRC-32 or the length trailer, a corrupt deflate block late in the stream, a cut, and
the same in multi-member files (``gzip -c a >> f``).
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from support.environment import require_binary
from confaudit.errors import InputError
from confaudit.pcap.reader import CaptureReader

CAPTURE = "teams.pcap"


def read(path: Path):
    reader = CaptureReader(path)
    packets = list(reader.packets())
    return packets, reader.report


def gzip_tool(data: bytes) -> bytes:
    return subprocess.run([require_binary("gzip"), "-c", "-n"], input=data, capture_output=True, check=True).stdout


def flipped(data: bytes, offset: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out)


def record_ends(capture: bytes) -> list[int]:
    """Byte offsets just after each record of a little-endian microsecond pcap."""
    ends, pos = [], 24
    while pos + 16 <= len(capture):
        pos += 16 + struct.unpack_from("<I", capture, pos + 8)[0]
        ends.append(pos)
    return ends


def corrupt_block_after(capture: bytes, cut: int) -> bytes:
    """GzipFile output of ``capture`` whose deflate block starting right after byte ``cut`` has the reserved
    block type 3 (zlib: "invalid block type"); a full flush puts that block on a byte boundary."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(capture[:cut])
        gz.flush(zlib.Z_FULL_FLUSH)
        boundary = out.tell()
        gz.write(capture[cut:])
    data = bytearray(out.getvalue())
    data[boundary] |= 0x06  # BTYPE, bits 1-2 of the block's first byte
    return bytes(data)


@pytest.fixture(scope="module")
def plain(shared_captures) -> tuple[bytes, list]:
    data = (shared_captures / CAPTURE).read_bytes()
    return data, list(CaptureReader(shared_captures / CAPTURE).packets())


@pytest.mark.parametrize("where,check", [(-8, "CRC-32"), (-5, "CRC-32"), (-4, "length"), (-1, "length")])
def test_one_flipped_bit_in_the_trailer_keeps_every_packet(tmp_path, plain, where, check):
    data, expected = plain
    path = tmp_path / "c.pcap.gz"
    path.write_bytes(flipped(gzip_tool(data), len(gzip_tool(data)) + where, bit=3))
    packets, rep = read(path)
    assert packets == expected and rep.records_read == len(record_ends(data))
    assert not rep.complete and rep.bytes_consumed == len(data)
    assert any(f"gzip member 1 fails its {check} check" in w for w in rep.warnings), rep.warnings


def test_corrupt_deflate_block_late_in_the_stream_keeps_what_came_before(tmp_path, plain):
    data, expected = plain
    ends = record_ends(data)
    kept = len(ends) * 4 // 5
    path = tmp_path / "late.pcap.gz"
    path.write_bytes(corrupt_block_after(data, ends[kept - 1]))
    packets, rep = read(path)
    assert packets == [p for p in expected if p.frame <= kept] and rep.records_read == kept
    assert not rep.complete
    assert any("corrupt gzip data in member 1 after" in w and "invalid block type" in w for w in rep.warnings)


@pytest.mark.parametrize("at,bit", [(0.6, 0), (0.75, 3), (0.9, 5), (0.97, 7)])
def test_one_flipped_bit_late_in_the_deflate_data_keeps_every_packet_before_it(tmp_path, plain, at, bit):
    data, expected = plain
    comp = gzip_tool(data)
    where = int(len(comp) * at)
    # what the undamaged bytes before the flip decode to cannot depend on the flip
    before = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(comp[:where])
    intact = sum(1 for end in record_ends(data) if end <= len(before))
    path = tmp_path / "flip.pcap.gz"
    path.write_bytes(flipped(comp, where, bit))
    packets, rep = read(path)
    assert intact > len(record_ends(data)) // 3
    assert [p for p in packets if p.frame <= intact] == [p for p in expected if p.frame <= intact]
    assert not rep.complete and any("gzip" in w for w in rep.warnings), rep.warnings


def test_cut_inside_the_trailer_keeps_every_packet(tmp_path, plain):
    data, expected = plain
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(gzip_tool(data)[:-3])
    packets, rep = read(path)
    assert packets == expected and not rep.complete
    assert any("gzip data is truncated" in w for w in rep.warnings)


def test_multi_member_crc_error_in_the_first_member_reads_the_second(tmp_path, plain):
    data, expected = plain
    ends = record_ends(data)
    cut = ends[len(ends) // 2]
    first = gzip_tool(data[:cut])
    path = tmp_path / "two.pcap.gz"
    path.write_bytes(flipped(first, len(first) - 6) + gzip_tool(data[cut:]))
    packets, rep = read(path)
    assert packets == expected and not rep.complete
    assert [w for w in rep.warnings if "gzip" in w] == [
        f"gzip member 1 fails its CRC-32 check (after {cut} decompressed bytes): its data may be damaged"]


def test_multi_member_corrupt_second_member_keeps_the_first(tmp_path, plain):
    data, expected = plain
    ends = record_ends(data)
    a, b = ends[len(ends) // 3], ends[2 * len(ends) // 3]
    damaged = corrupt_block_after(data[a:b], ends[len(ends) // 2] - a)
    path = tmp_path / "three.pcap.gz"
    path.write_bytes(gzip_tool(data[:a]) + damaged + gzip_tool(data[b:]))
    packets, rep = read(path)
    kept = ends.index(ends[len(ends) // 2]) + 1
    assert packets == [p for p in expected if p.frame <= kept] and not rep.complete
    assert any("corrupt gzip data in member 2" in w for w in rep.warnings)


def test_damage_before_any_capture_byte_is_still_an_input_error(tmp_path, plain):
    data, _ = plain
    path = tmp_path / "first.pcap.gz"
    path.write_bytes(corrupt_block_after(data, 0))
    with pytest.raises(InputError) as err:
        read(path)
    assert "corrupt gzip data" in str(err.value) and str(path) in str(err.value)


def test_cli_analyze_of_a_crc_damaged_capture_is_incomplete_not_refused(tmp_path, plain):
    data, expected = plain
    comp = gzip_tool(data)
    path = tmp_path / "crc.pcap.gz"
    path.write_bytes(flipped(comp, len(comp) - 7))
    out = tmp_path / "e.json"
    proc = subprocess.run([str(Path(sys.executable).with_name("confaudit")), "analyze", str(path), "--json", str(out),
                           "-q"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    bundle = json.loads(out.read_text())
    (entry,) = bundle["inputs"]
    assert bundle["complete"] is False and entry["complete"] is False
    assert entry["records_read"] == len(record_ends(data)) and entry["format"] == "pcap.gz"
    assert any("CRC-32" in w for w in entry["warnings"])
