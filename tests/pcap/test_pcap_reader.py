"""CaptureReader on hand-built captures (every link type and container variant) and the real ones."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from support import pcap_testbuild as b
from support.environment import require_binary
from confaudit.errors import InputError
from confaudit.pcap.reader import CaptureReader

UDP_PAYLOAD = b"\x80\x6f" + bytes(range(30))
V4_UDP = b.ipv4("192.0.2.1", "198.51.100.7", 17, b.udp(40000, 3478, UDP_PAYLOAD))
V6_UDP = b.ipv6("2001:db8::1", "2001:db8::2", 17, b.udp(40001, 19305, UDP_PAYLOAD))


def read(path: Path, **kw):
    reader = CaptureReader(path, **kw)
    packets = list(reader.packets())
    return packets, reader.report


def fragments(path: Path) -> list[bool]:
    return [bool(f) for chunk in CaptureReader(path).chunks() for f in chunk.fragment]


def write(tmp_path: Path, data: bytes, name: str = "c.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_udp(p, src, dst, sport, dport, payload=UDP_PAYLOAD):
    assert (p.src, p.dst, p.sport, p.dport, p.proto) == (src, dst, sport, dport, 17)
    assert p.payload == payload


# -- link types ------------------------------------------------------------------------------
@pytest.mark.parametrize("linktype,frame4,frame6", [
    (1, b.ether(V4_UDP), b.ether(V6_UDP, 0x86DD)),
    (1, b.ether(V4_UDP, vlans=[(0x8100, 7)]), b.ether(V6_UDP, 0x86DD, vlans=[(0x8100, 7)])),
    (1, b.ether(V4_UDP, vlans=[(0x88A8, 1), (0x8100, 2)]), b.ether(V6_UDP, 0x86DD, vlans=[(0x88A8, 1), (0x8100, 2)])),
    (1, b.ether(b"\x11\x00\x00\x07\x00\x00\x00\x21" + V4_UDP, 0x8864),
     b.ether(b"\x11\x00\x00\x07\x00\x00\x00\x57" + V6_UDP, 0x8864, vlans=[(0x8100, 9)])),
    (1, b.ether(b"\x00\x01\x01\x40" + V4_UDP, 0x8847), b.ether(b"\x00\x01\x00\x40\x00\x02\x01\x40" + V6_UDP, 0x8847)),
    (101, V4_UDP, V6_UDP), (12, V4_UDP, V6_UDP), (14, V4_UDP, V6_UDP),
    (113, b.sll(V4_UDP), b.sll(V6_UDP, 0x86DD)),
    (276, b.sll2(V4_UDP), b.sll2(V6_UDP, 0x86DD)),
    (0, b.bsd_null(V4_UDP, 2), b.bsd_null(V6_UDP, 30)),
    (0, b.bsd_null(V4_UDP, 2, ">"), b.bsd_null(V6_UDP, 24, ">")),
    (108, b.bsd_null(V4_UDP, 2, ">"), b.bsd_null(V6_UDP, 28, ">")),
    (108, b.bsd_null(V4_UDP, 2, "<"), b.bsd_null(V6_UDP, 28, "<")),
], ids=["eth", "vlan", "qinq", "pppoe", "mpls", "raw101", "raw12", "raw14", "sll", "sll2", "null-le", "null-be", "loop-be", "loop-le"])
def test_every_link_type_gives_ipv4_and_ipv6(tmp_path, linktype, frame4, frame6):
    packets, rep = read(write(tmp_path, b.pcap([frame4, frame6], linktype=linktype)))
    assert len(packets) == 2 and rep.complete and rep.linktypes == (linktype,)
    assert_udp(packets[0], "192.0.2.1", "198.51.100.7", 40000, 3478)
    assert_udp(packets[1], "2001:db8::1", "2001:db8::2", 40001, 19305)
    assert [p.frame for p in packets] == [1, 2] and [p.ip_version for p in packets] == [4, 6]


def test_raw_ip_link_types_check_the_version(tmp_path):
    for linktype, kept in ((228, 4), (229, 6), (101, 4)):
        frames = [V4_UDP, V6_UDP] if linktype != 101 else [V4_UDP, b.ether(V4_UDP)]
        packets, rep = read(write(tmp_path, b.pcap(frames, linktype=linktype)))
        assert [p.ip_version for p in packets] == [kept]
        assert rep.truncated_ip_records == 1 and rep.non_ip_records == 0 and not rep.complete


def test_non_ip_frames_are_counted_not_returned(tmp_path):
    arp = b.ether(bytes(28), 0x0806)
    packets, rep = read(write(tmp_path, b.pcap([arp, b.ether(V4_UDP), arp])))
    assert [p.frame for p in packets] == [2]
    assert (rep.records_read, rep.non_ip_records, rep.complete) == (3, 2, True)


def test_unsupported_link_type_is_not_complete(tmp_path):
    packets, rep = read(write(tmp_path, b.pcap([V4_UDP], linktype=127)))
    assert packets == [] and rep.non_ip_records == 1 and not rep.complete
    assert any("link type 127" in w for w in rep.warnings)


# -- IP layer ------------------------------------------------------------------------------
def test_ethernet_padding_is_not_payload_and_ipv4_options_are_skipped(tmp_path):
    small = b.ipv4("10.1.1.1", "10.1.1.2", 17, b.udp(53, 5353, b"hi"), options=b"\x01\x01\x01\x00")
    packets, _ = read(write(tmp_path, b.pcap([b.ether(small, pad_to=60)])))
    assert packets[0].payload == b"hi" and packets[0].wire_len == 60


def test_tcp_fields_and_options(tmp_path):
    seg = b.tcp(443, 51000, b"\x16\x03\x01hello", seq=0xDEADBEEF, flags=0x18, options=b"\x01\x01\x08\x0a" + bytes(8))
    packets, _ = read(write(tmp_path, b.pcap([b.ether(b.ipv4("10.0.0.9", "10.0.0.8", 6, seg))])))
    p = packets[0]
    assert (p.proto, p.sport, p.dport, p.tcp_seq, p.tcp_flags, p.payload) == (6, 443, 51000, 0xDEADBEEF, 0x18, b"\x16\x03\x01hello")


def test_ipv4_fragments_are_reassembled_in_the_frame_of_the_last(tmp_path):
    first = b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(1000, 2000, bytes(40)), flags_frag=0x2000)
    later = b.ipv4("10.0.0.1", "10.0.0.2", 17, b"\xaa" * 24, flags_frag=6)
    whole = b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(1000, 2000, b"x"), flags_frag=0x4000)  # DF only
    frames = [b.ether(first), b.ether(later), b.ether(whole)]
    path = write(tmp_path, b.pcap(frames))
    packets, rep = read(path)
    assert fragments(path) == [False, False]
    assert [(p.frame, p.sport, p.dport, p.proto) for p in packets] == [(2, 1000, 2000, 17), (3, 1000, 2000, 17)]
    assert packets[0].payload == bytes(40) + b"\xaa" * 24 and packets[0].wire_len == len(frames[0]) + len(frames[1])
    assert rep.complete and rep.datagrams_reassembled == 1 and rep.records_read == 3


def test_tso_zero_total_length_uses_captured_bytes(tmp_path):
    pkt = b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(1, 2, b"abcdef"), total_len=0)
    packets, _ = read(write(tmp_path, b.pcap([b.ether(pkt)])))
    assert packets[0].payload == b"abcdef"


def test_ipv6_extension_headers_are_skipped(tmp_path):
    l4 = b.udp(7000, 8000, b"media")
    chain = b.ipv6("fe80::1", "ff02::fb", 17, l4, ext=[(0, b"\x01\x00" * 2), (43, bytes(6)), (60, bytes(14))])
    frag = b.ipv6("2001:db8::5", "2001:db8::6", 17, l4[:8], ext=[(44, b"\x00\x01\x00\x00\x00\x07")])  # M flag set
    later = b.ipv6("2001:db8::5", "2001:db8::6", 17, l4[8:], ext=[(60, bytes(6)), (44, b"\x00\x08\x00\x00\x00\x07")])
    atomic = b.ipv6("2001:db8::5", "2001:db8::6", 17, l4, ext=[(44, b"\x00\x00\x00\x00\x00\x09")])  # RFC 6946
    path = write(tmp_path, b.pcap([b.ether(x, 0x86DD) for x in (chain, frag, later, atomic)]))
    packets, rep = read(path)
    assert [(p.frame, p.proto, p.sport, p.dport) for p in packets] == [(1, 17, 7000, 8000), (3, 17, 7000, 8000),
                                                                       (4, 17, 7000, 8000)]
    assert fragments(path) == [False, False, False]
    assert [p.payload for p in packets] == [b"media"] * 3 and rep.complete and rep.datagrams_reassembled == 1


def test_snapped_packets_clip_payload_and_short_ip_headers_are_reported(tmp_path):
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(1, 2, bytes(100))))
    data = b.pcap([frame[:50], frame[:20]])
    packets, rep = read(write(tmp_path, data))
    assert len(packets) == 1 and packets[0].payload == bytes(50 - 42) and packets[0].wire_len == 50
    assert rep.truncated_ip_records == 1 and not rep.complete


# -- containers ------------------------------------------------------------------------------
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("ns", [False, True])
def test_pcap_byte_orders_and_nanoseconds(tmp_path, endian, ns):
    frames = [(1_700_000_000.123456, b.ether(V4_UDP)), (1_700_000_001.5, b.ether(V6_UDP, 0x86DD))]
    packets, rep = read(write(tmp_path, b.pcap(frames, endian=endian, nanoseconds=ns)))
    assert [round(p.ts, 6) for p in packets] == [1_700_000_000.123456, 1_700_000_001.5]
    assert rep.format == "pcap" and rep.complete


def test_pcapng_sections_interfaces_resolutions_and_block_kinds(tmp_path):
    data = (
        b.shb("<") + b.idb(1, "<") + b.idb(101, "<", tsresol=9)
        + b.epb(0, 1_700_000_000_250_000, b.ether(V4_UDP)) + b.custom_block()
        + b.epb(1, 1_700_000_000_500_000_000, V6_UDP)
        + b.spb(b.ether(V4_UDP)) + b.dsb(b"CLIENT_RANDOM aa bb\n")
        + b.shb(">") + b.idb(276, ">", tsresol=0x80 | 10, tsoffset=100) + b.idb(113, ">")
        + b.obsolete_pb(1, 1_700_000_002_000_000, b.sll(V4_UDP), ">")
        + b.epb(0, 1_000 << 10, b.sll2(V6_UDP, 0x86DD), ">")
    )
    reader = CaptureReader(write(tmp_path, data, "c.pcapng"))
    packets = list(reader.packets())
    rep = reader.report
    assert rep.complete and rep.format == "pcapng" and rep.records_read == 5
    assert rep.linktypes == (1, 101, 276, 113)
    assert [p.frame for p in packets] == [1, 2, 3, 4, 5]
    assert [p.ip_version for p in packets] == [4, 6, 4, 4, 6]
    assert [round(p.ts, 6) for p in packets] == [1_700_000_000.25, 1_700_000_000.5, 1_700_000_000.5,
                                                1_700_000_002.0, 1100.0]
    assert all(p.payload == UDP_PAYLOAD for p in packets)
    assert rep.dsb_keylogs == ("CLIENT_RANDOM aa bb\n",)
    assert reader.decryption_secrets() == [(0x544C534B, b"CLIENT_RANDOM aa bb\n")]


def test_pcapng_unknown_interface_and_oversized_caplen_are_skipped(tmp_path):
    data = (b.shb() + b.idb(1) + b.epb(5, 0, b.ether(V4_UDP)) + b.epb(0, 0, b.ether(V4_UDP), caplen=5000)
            + b.epb(0, 0, b.ether(V4_UDP)))
    packets, rep = read(write(tmp_path, data, "c.pcapng"))
    assert [p.frame for p in packets] == [3]
    assert (rep.records_read, rep.records_skipped, rep.complete) == (1, 2, False)
    assert len(rep.warnings) == 2


@pytest.mark.parametrize("container", ["pcap", "pcapng"])
def test_gzip_and_multi_member_gzip(tmp_path, container):
    frames = b.sample_udp_frames(50)
    raw = b.pcap(frames) if container == "pcap" else b.shb() + b.idb(1) + b"".join(b.epb(0, i, f) for i, f in enumerate(frames))
    half = len(raw) // 2
    path = write(tmp_path, gzip.compress(raw[:half]) + gzip.compress(raw[half:]), "c.gz")
    packets, rep = read(path)
    assert len(packets) == 50 and rep.complete and rep.format == f"{container}.gz"
    assert rep.bytes_consumed == len(raw) and rep.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_small_chunks_give_the_same_packets_as_one_chunk(tmp_path):
    frames = b.sample_udp_frames(300, payload_size=333) + [b.ether(V6_UDP, 0x86DD)] * 5
    for data in (b.pcap(frames), b.shb() + b.idb(1) + b"".join(b.epb(0, i, f) for i, f in enumerate(frames))):
        path = write(tmp_path, data)
        big, rep_big = read(path)
        small, rep_small = read(path, chunk_bytes=1)  # clamped to the minimum, forces many refills
        assert big == small and len(big) == 305 and rep_small.complete and rep_big == rep_small


def test_report_and_input_dict(tmp_path):
    path = write(tmp_path, b.pcap([b.ether(V4_UDP)]))
    reader = CaptureReader(path, input_index=3)
    assert reader.report.complete is False  # nothing read yet: never claims completeness early
    chunk = next(iter(reader.chunks()), None)
    assert chunk is not None and chunk.input_index == 3
    d = reader.report.as_input_dict()
    assert set(d) >= {"path", "sha256", "format", "records_read", "records_skipped", "complete", "warnings",
                      "size", "non_ip_records", "linktypes"}


def test_header_only_capture_is_complete_and_empty(tmp_path):
    for data, name in ((b.pcap([]), "h.pcap"), (b.shb() + b.idb(1), "h.pcapng")):
        packets, rep = read(write(tmp_path, data, name))
        assert packets == [] and rep.complete and rep.records_read == 0


# -- fail closed -----------------------------------------------------------------------------
@pytest.mark.parametrize("data,problem", [
    (b"", "file is empty"),
    (b"hello world, not a capture at all", "not a pcap or pcapng"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "truncated pcap file header"),
    (gzip.compress(b"just text inside gzip"), "gzip data that is not"),
    (b"\x1f\x8b\x08\x00garbage-garbage", "corrupt gzip"),
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\xff\xff\xff\xff" + bytes(16), "no packet could be read"),
])
def test_unreadable_files_raise_one_line_input_errors(tmp_path, data, problem):
    path = write(tmp_path, data, "bad.bin")
    with pytest.raises(InputError) as err:
        reader = CaptureReader(path)
        list(reader.chunks())
    assert problem in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_file_directory_fifo_and_device(tmp_path):
    import os

    fifo = tmp_path / "fifo.pcap"
    os.mkfifo(fifo)  # open() on it would block forever without a writer
    for path in (tmp_path / "nope.pcap", tmp_path, fifo, Path("/dev/zero")):
        with pytest.raises(InputError):
            CaptureReader(path)


def test_truncated_last_record_is_partial_not_an_error(tmp_path):
    data = b.pcap(b.sample_udp_frames(10))
    packets, rep = read(write(tmp_path, data[:-7]))
    assert len(packets) == 9 and not rep.complete and "trailing bytes unread" in rep.warnings[0]
    assert rep.bytes_consumed < len(data) - 7


def test_huge_caplen_stops_with_a_warning(tmp_path):
    data = bytearray(b.pcap(b.sample_udp_frames(5)))
    second = 24 + 16 + len(b.sample_udp_frames(1)[0])
    data[second + 8: second + 12] = b"\xff\xff\xff\xff"
    packets, rep = read(write(tmp_path, bytes(data)))
    assert len(packets) == 1 and not rep.complete and "limit" in rep.warnings[0]


def test_pcapng_four_gib_block_length_is_bounded(tmp_path):
    data = bytearray(b.shb() + b.idb(1) + b.epb(0, 0, b.ether(V4_UDP)) + b.epb(0, 0, b.ether(V4_UDP)))
    data[-len(b.epb(0, 0, b.ether(V4_UDP))) + 4:][:4] = b"\xf0\xff\xff\xff"
    second = len(data) - len(b.epb(0, 0, b.ether(V4_UDP)))
    data[second + 4: second + 8] = b"\xf0\xff\xff\xff"
    packets, rep = read(write(tmp_path, bytes(data), "c.pcapng"))
    assert len(packets) == 1 and not rep.complete and "impossible length" in rep.warnings[0]


def test_gzip_bomb_is_an_error_quickly(tmp_path):
    header = b.pcap([])
    comp = gzip.compress(header + bytes(200 << 20), compresslevel=9)  # ~200 KB -> 200 MiB of zeros
    path = write(tmp_path, comp, "bomb.pcap.gz")
    start = time.monotonic()
    with pytest.raises(InputError, match="decompression bomb"):
        list(CaptureReader(path).chunks())
    assert time.monotonic() - start < 5


def test_truncated_gzip_is_partial(tmp_path):
    comp = gzip.compress(b.pcap(b.sample_udp_frames(2000)))
    packets, rep = read(write(tmp_path, comp[: len(comp) * 2 // 3], "t.pcap.gz"))
    assert 0 < len(packets) < 2000 and not rep.complete
    assert any("gzip data is truncated" in w for w in rep.warnings)


def test_flood_of_empty_records_stops_fast(tmp_path):
    data = b.pcap([b.ether(V4_UDP)]) + b"\0" * (16 * 3_000_000)  # 3 M zero-length records
    start = time.monotonic()
    packets, rep = read(write(tmp_path, data))
    assert time.monotonic() - start < 10
    assert len(packets) == 1 and not rep.complete and "consecutive empty records" in rep.warnings[0]


def test_trailing_garbage_after_gzip_is_reported(tmp_path):
    comp = gzip.compress(b.pcap(b.sample_udp_frames(3))) + b"TRAILING"
    packets, rep = read(write(tmp_path, comp, "g.pcap.gz"))
    assert len(packets) == 3 and not rep.complete


# -- the real captures -------------------------------------------------------------------------
def _tshark_frames(path: Path) -> int:
    out = subprocess.run([require_binary("tshark"), "-n", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return len(out.split())


def _tshark_outer_udp_tcp(path: Path) -> dict[int, tuple[str, str, int, int]]:
    """frame -> (src, dst, sport, dport) for plain UDP/TCP frames (no tunnels or ICMP errors)."""
    fields = ["frame.number", "frame.protocols", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
              "udp.srcport", "tcp.srcport", "udp.dstport", "tcp.dstport"]
    cmd = [require_binary("tshark"), "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {}
    for line in out.splitlines():
        num, protos, s4, s6, d4, d6, us, ts, ud, td = line.split("|")
        if "icmp" in protos or "," in s4 + s6 + us + ts or not (us or ts):
            continue
        rows[int(num)] = ((s4 or s6), (d4 or d6), int(us or ts), int(ud or td))
    return rows


def test_every_shared_capture_reads_completely_and_matches_tshark(shared_captures):
    files = sorted(p for p in shared_captures.iterdir() if p.suffix in (".pcap", ".pcapng"))
    assert len(files) >= 12
    for path in files:
        reader = CaptureReader(path)
        packets = {p.frame: p for p in reader.packets()}
        rep = reader.report
        assert rep.complete, (path.name, rep.warnings)
        assert rep.records_read == _tshark_frames(path), path.name
        assert rep.bytes_consumed == rep.size and rep.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        expected = _tshark_outer_udp_tcp(path)
        assert expected, path.name
        got = {n: (packets[n].src, packets[n].dst, packets[n].sport, packets[n].dport) for n in expected if n in packets}
        assert got == expected, path.name


def test_dsb_key_log_from_quic_v2(shared_captures):
    reader = CaptureReader(shared_captures / "quic-v2.pcapng")
    list(reader.chunks())
    keylogs = reader.report.dsb_keylogs
    assert len(keylogs) == 1
    lines = [line.split() for line in keylogs[0].splitlines() if line.strip()]
    assert lines and all(len(parts) == 3 and len(parts[1]) == 64 for parts in lines)
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"} <= {parts[0] for parts in lines}


def test_synthetic_call_matches_tshark_packet_by_packet(tmp_path):
    """The benchmark's generator and the reader agree with tshark on 5-tuples and payload lengths."""
    from benchmarks.synth_call import write_pcap

    path = tmp_path / "call.pcap"
    write_pcap(path, 20_000, seed=3)
    reader = CaptureReader(path)
    packets = {p.frame: p for p in reader.packets()}
    rep = reader.report
    assert rep.complete and rep.records_read == 20_000 and rep.non_ip_records == len([1 for n in range(1, 20_001) if n not in packets])
    fields = ["frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "tcp.srcport",
              "udp.dstport", "tcp.dstport", "udp.length", "tcp.len", "tcp.seq_raw", "frame.time_epoch"]
    cmd = [require_binary("tshark"), "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    lines = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout.splitlines()
    assert len(lines) == 20_000
    ip_frames = 0
    for line in lines:
        num, s4, s6, d4, d6, us, ts, ud, td, ulen, tlen, seq, when = line.split("|")
        if not (s4 or s6):
            assert int(num) not in packets
            continue
        ip_frames += 1
        p = packets[int(num)]
        assert (p.src, p.dst) == ((s4 or s6), (d4 or d6))
        assert (p.sport, p.dport) == (int(us or ts or 0), int(ud or td or 0))
        if tlen:
            assert len(p.payload) == int(tlen) and p.tcp_seq == int(seq)
        elif ulen:
            assert len(p.payload) == int(ulen) - 8
        assert abs(p.ts - float(when)) < 2e-6
    assert ip_frames == len(packets) > 19_900


def test_unknown_pcapng_block_types_and_bad_tsresol_revoke_completeness(tmp_path):
    frame = b.ether(V4_UDP)
    unknown = bytearray(b.custom_block())
    unknown[0:4] = (0x77).to_bytes(4, "little")  # e.g. a packet block whose type byte was damaged
    packets, rep = read(write(tmp_path, b.shb() + b.idb(1) + bytes(unknown) + b.epb(0, 0, frame), "u.pcapng"))
    assert len(packets) == 1 and not rep.complete and "unknown type" in rep.warnings[0]
    packets, rep = read(write(tmp_path, b.shb() + b.idb(1, tsresol=99) + b.epb(0, 5, frame), "r.pcapng"))
    assert len(packets) == 1 and not rep.complete and "timestamp resolution" in rep.warnings[0]


def test_packets_equal_the_chunk_slow_path(shared_captures):
    for name in ("teams.pcap", "zoom_p2p.pcapng", "quic-v2.pcapng"):
        fast = list(CaptureReader(shared_captures / name).packets())
        slow = [c.packet(i) for c in CaptureReader(shared_captures / name).chunks() for i in range(len(c))]
        assert fast == slow and fast


def test_cli_analyze_fails_closed_on_damaged_captures(tmp_path):
    """End to end: unreadable -> exit 3 with one line naming the file; truncated -> complete false."""
    import json
    import sys

    cli = [sys.executable, "-m", "confaudit"]
    bad = write(tmp_path, b"\x0a\x0d\x0d\x0a\xff\xff\xff\x7f" + bytes(40), "bad.pcapng")
    proc = subprocess.run([*cli, "analyze", str(bad), "--json", str(tmp_path / "o.json"), "-q"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.json").exists()
    cut = write(tmp_path, b.pcap(b.sample_udp_frames(20))[:-9], "cut.pcap")
    out = tmp_path / "cut.json"
    proc = subprocess.run([*cli, "analyze", str(cut), "--json", str(out), "-q"], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    bundle = json.loads(out.read_text())
    assert bundle["complete"] is False and bundle["inputs"][0]["complete"] is False
    assert bundle["inputs"][0]["records_read"] == 19


def test_packets_can_be_selected_per_chunk(tmp_path):
    tcp = b.ether(b.ipv4("10.0.0.9", "10.0.0.8", 6, b.tcp(443, 51000, b"x")))
    path = write(tmp_path, b.pcap([b.ether(V4_UDP), tcp, b.ether(V6_UDP, 0x86DD), tcp]))
    udp = list(CaptureReader(path).packets(lambda c: c.proto == 17))
    assert [p.frame for p in udp] == [1, 3] and all(p.proto == 17 for p in udp)
    assert [p.frame for p in CaptureReader(path).packets(lambda c: [1, 3])] == [2, 4]


@pytest.mark.parametrize("flood", ["sections", "interfaces", "custom"])
def test_floods_of_non_packet_blocks_stop_fast(tmp_path, flood):
    unit = {"sections": b.shb(), "interfaces": b.idb(1), "custom": b.custom_block(size=0)}[flood]
    data = b.shb() + b.idb(1) + b.epb(0, 0, b.ether(V4_UDP)) + unit * 400_000 + b.epb(0, 0, b.ether(V4_UDP))
    start = time.monotonic()
    packets, rep = read(write(tmp_path, data, "flood.pcapng"))
    assert time.monotonic() - start < 10
    assert len(packets) == 1 and not rep.complete and len(rep.warnings) <= 51
