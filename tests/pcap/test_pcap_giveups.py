"""Packets the decoder gives up on are counted, named in a warning and make the read incomplete.

Each case sits next to its control at the limit, which must stay complete: deeper link-layer stacks
than the walker follows, IPv6 extension chains too long or running past the packet, TCP data offsets
outside the segment, invalid IPv4 lengths, fragments inside GTP-U tunnels.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from support import pcap_testbuild as b
from confaudit.pcap.reader import CaptureReader

PAYLOAD = b"\x80\x6f" + bytes(range(30))
V4_UDP = b.ipv4("192.0.2.1", "198.51.100.7", 17, b.udp(40000, 3478, PAYLOAD))
V6_UDP_L4 = b.udp(40001, 19305, PAYLOAD)


def read(tmp_path: Path, frames: list[bytes], linktype: int = 1):
    path = tmp_path / "c.pcap"
    path.write_bytes(b.pcap(frames, linktype=linktype))
    reader = CaptureReader(path)
    packets = list(reader.packets())
    return packets, reader.report


def mpls(labels: int, bottom: bool) -> bytes:
    """A label stack of ``labels`` entries; the last has the bottom-of-stack bit when ``bottom``."""
    entries = [struct.pack("!I", (16 + i) << 12 | 64) for i in range(labels)]
    if bottom:
        entries[-1] = struct.pack("!I", (16 + labels - 1) << 12 | 1 << 8 | 64)
    return b"".join(entries)


def dest_options(count: int) -> list[tuple[int, bytes]]:
    return [(60, bytes(6))] * count


def assert_gave_up(rep, reason: str, count: int, words: str) -> None:
    assert dict(rep.not_analysed) == {reason: count}, rep.not_analysed
    assert not rep.complete
    lines = [w for w in rep.warnings if w.startswith(f"{count} ") and words in w]
    assert len(lines) == 1 and "not analysed" in lines[0], rep.warnings
    assert rep.as_input_dict()["packets_not_analysed"] == {reason: count}


def test_vlan_stack_deeper_than_the_walker_is_reported_not_taken_for_non_ip(tmp_path):
    three = [(0x88A8, 1), (0x8100, 2), (0x8100, 3)]
    packets, rep = read(tmp_path, [b.ether(V4_UDP, vlans=three), b.ether(V4_UDP, vlans=[*three, (0x8100, 4)]),
                                   b.ether(V4_UDP, vlans=[*three, (0x8100, 4), (0x8100, 5)])])
    assert [p.frame for p in packets] == [1] and rep.non_ip_records == 0 and rep.records_read == 3
    assert_gave_up(rep, "vlan_stack_too_deep", 2, "more than 3 VLAN tags")


def test_mpls_stack_deeper_than_the_walker_is_reported(tmp_path):
    packets, rep = read(tmp_path, [b.ether(mpls(4, True) + V4_UDP, 0x8847), b.ether(mpls(5, True) + V4_UDP, 0x8847),
                                   b.ether(mpls(6, False) + V4_UDP, 0x8847)])
    assert [p.frame for p in packets] == [1] and packets[0].payload == PAYLOAD and rep.non_ip_records == 0
    assert_gave_up(rep, "mpls_stack_too_deep", 2, "MPLS label stack")


def test_link_layers_within_the_limits_stay_complete(tmp_path):
    packets, rep = read(tmp_path, [b.ether(mpls(4, True) + V4_UDP, 0x8847),
                                   b.ether(V4_UDP, vlans=[(0x8100, 1), (0x8100, 2), (0x8100, 3)]),
                                   b.ether(bytes(28), 0x0806)])
    assert len(packets) == 2 and rep.complete and rep.non_ip_records == 1 and rep.not_analysed == ()


def test_ipv6_chain_longer_than_the_walker_is_reported(tmp_path):
    eight = b.ipv6("2001:db8::1", "2001:db8::2", 17, V6_UDP_L4, ext=dest_options(8))
    nine = b.ipv6("2001:db8::1", "2001:db8::2", 17, V6_UDP_L4, ext=dest_options(9))
    packets, rep = read(tmp_path, [b.ether(eight, 0x86DD), b.ether(nine, 0x86DD)])
    assert [(p.frame, p.sport, p.payload) for p in packets] == [(1, 40001, PAYLOAD)]
    assert_gave_up(rep, "ipv6_extension_chain_too_long", 1, "more than 8 extension headers")


def test_ipv6_extension_header_past_the_packet_is_reported(tmp_path):
    fits = b.ipv6("2001:db8::1", "2001:db8::2", 17, V6_UDP_L4, ext=dest_options(1))
    too_long = bytearray(fits)
    too_long[41] = 10  # header extension length: 88 bytes, the packet holds 48 after the fixed header
    starved = bytearray(b.ipv6("2001:db8::1", "2001:db8::2", 60, b"\x11\x00\x00\x00"))  # 4 bytes, a header needs 8
    packets, rep = read(tmp_path, [b.ether(fits, 0x86DD), b.ether(bytes(too_long), 0x86DD),
                                   b.ether(bytes(starved), 0x86DD)])
    assert [p.frame for p in packets] == [1] and rep.truncated_ip_records == 0
    assert_gave_up(rep, "ipv6_extension_past_packet", 2, "extension header running past the packet")


def test_ipv6_chain_cut_by_the_snap_length_counts_as_a_cut_ip_header(tmp_path):
    frame = b.ether(b.ipv6("2001:db8::1", "2001:db8::2", 17, V6_UDP_L4, ext=dest_options(3)), 0x86DD)
    packets, rep = read(tmp_path, [frame[: 14 + 40 + 12]])
    assert packets == [] and rep.truncated_ip_records == 1 and rep.not_analysed == () and not rep.complete


@pytest.mark.parametrize("doff", [0, 4, 16, 60])
def test_tcp_data_offset_outside_the_segment_keeps_the_packet_without_payload(tmp_path, doff):
    good = b.tcp(443, 51000, b"\x16\x03\x01hello", seq=7)
    bad = bytearray(b.tcp(443, 51000, b"\x16\x03\x01hello" + bytes(16), seq=9))
    bad[12] = (doff // 4) << 4
    frames = [b.ether(b.ipv4("10.0.0.9", "10.0.0.8", 6, seg)) for seg in (good, bytes(bad))]
    packets, rep = read(tmp_path, frames)
    assert [(p.frame, p.sport, p.tcp_seq, p.payload) for p in packets] == [(1, 443, 7, b"\x16\x03\x01hello"),
                                                                         (2, 443, 9, b"")]
    assert_gave_up(rep, "tcp_data_offset_invalid", 1, "data offset below 20 bytes or past the segment")


def test_tcp_options_cut_by_the_snap_length_are_not_a_bad_data_offset(tmp_path):
    seg = b.tcp(443, 51000, b"data", options=b"\x01\x01\x08\x0a" + bytes(8))
    frame = b.ether(b.ipv4("10.0.0.9", "10.0.0.8", 6, seg))
    packets, rep = read(tmp_path, [frame[: 14 + 20 + 24]])
    assert len(packets) == 1 and packets[0].payload == b"" and rep.complete


def test_ipv4_total_length_shorter_than_its_header_is_an_invalid_ip_header(tmp_path):
    bad = b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(1, 2, b"abc"), total_len=12)
    tso = b.ipv4("10.0.0.1", "10.0.0.2", 17, b.udp(1, 2, b"abc"), total_len=0)
    packets, rep = read(tmp_path, [b.ether(bad), b.ether(tso)])
    assert [(p.frame, p.payload) for p in packets] == [(2, b"abc")]
    assert rep.truncated_ip_records == 1 and not rep.complete


def test_ip_fragment_inside_a_gtpu_tunnel_is_reported(tmp_path):
    inner_whole = b.ipv4("10.45.0.2", "8.8.8.8", 17, b.udp(5353, 53, b"query"))
    inner_frag = b.ipv4("10.45.0.2", "8.8.8.8", 17, b.udp(5353, 53, b"query"), flags_frag=0x2000)

    def gtpu(inner: bytes) -> bytes:
        tunnel = struct.pack("!BBHI", 0x30, 0xFF, len(inner), 1) + inner
        return b.ether(b.ipv4("192.168.50.1", "192.168.50.2", 17, b.udp(2152, 2152, tunnel)))

    packets, rep = read(tmp_path, [gtpu(inner_whole), gtpu(inner_frag)])
    assert [(p.src, p.dport) for p in packets] == [("10.45.0.2", 53), ("192.168.50.1", 2152)]
    assert_gave_up(rep, "tunnelled_fragments", 1, "GTP-U tunnels")
