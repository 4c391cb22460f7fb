"""pcapng Interface Statistics Blocks: drops a capture recorded make the input incomplete.

Hand-built blocks follow the pcapng specification byte for byte and are cross-checked with tshark's
own pcapng file dissector; real ISBs come from the shared captures and from the sniffer itself,
with drops the kernel really made.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
from pathlib import Path

import pytest

from support import pcap_testbuild as b
from support.environment import require_binary
from confaudit.pcap.reader import CaptureReader

FRAME = b.ether(b.ipv4("192.0.2.1", "198.51.100.7", 17, b.udp(40000, 3478, b"\x00\x01" + bytes(30))))
TSHARK_NAMES = {"received": "isb_ifrecv", "dropped": "isb_ifdrop", "accepted_by_filter": "isb_filteraccept",
                "dropped_by_os": "isb_osdrop", "delivered_to_user": "isb_usrdeliv"}
CODES = {"isb_ifrecv": 4, "isb_ifdrop": 5, "isb_filteraccept": 6, "isb_osdrop": 7, "isb_usrdeliv": 8}


def isb(ifid: int, endian: str = "<", comment: bytes = b"", **counters: int) -> bytes:
    """An Interface Statistics Block: interface id, timestamp, then 64-bit counter options."""
    options = struct.pack(endian + "HH", 1, len(comment)) + comment + b"\0" * (-len(comment) % 4) if comment else b""
    for name, value in counters.items():
        options += struct.pack(endian + "HHQ", CODES[name], 8, value)
    options += struct.pack(endian + "HH", 0, 0)
    return b._block(endian, 5, struct.pack(endian + "III", ifid, 0, 5_000_000) + options)


def read(path: Path):
    reader = CaptureReader(path)
    packets = list(reader.packets())
    return packets, reader.report, reader


def tshark_last_statistics(path: Path) -> dict[int, dict[str, int]]:
    """Counters of the last ISB per interface, as Wireshark's pcapng file dissector reads them."""
    done = subprocess.run([require_binary("tshark"), "-r", str(path), "-X", "read_format:MIME Files Format", "-T", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found: dict[int, dict[str, int]] = {}

    def walk(node) -> None:  # JSON objects arrive as lists of (key, value) tuples: tshark repeats keys
        for item in node if isinstance(node, list) else ():
            if not isinstance(item, tuple):
                walk(item)
                continue
            key, value = item
            if key == "pcapng.block" and dict(value).get("pcapng.block.type") == "0x00000005":
                data = dict(dict(value)["pcapng.block.data"])
                counters = {}
                for option_key, option in data.get("pcapng.options", []):
                    for field, text in option if option_key == "pcapng.options.option" else ():
                        name = TSHARK_NAMES.get(field.rsplit(".", 1)[-1]) if ".data.interface." in field else None
                        if name:
                            counters[name] = int(text)
                found[int(data["pcapng.interface_id"])] = counters
            elif isinstance(value, list):
                walk(value)

    walk(json.loads(done.stdout, object_pairs_hook=list))
    return found


def test_drops_in_the_last_block_per_interface_make_the_input_incomplete(tmp_path: Path) -> None:
    data = (b.shb() + b.idb(1) + b.idb(1) + b.epb(0, 1_000_000, FRAME) + b.epb(1, 2_000_000, FRAME)
            + isb(0, isb_ifrecv=50, isb_ifdrop=0, isb_osdrop=0)  # counters run from the start: the last block wins
            + b.epb(0, 3_000_000, FRAME)
            + isb(0, comment=b"Counters provided by dumpcap", isb_ifrecv=200, isb_ifdrop=7, isb_filteraccept=190,
                  isb_osdrop=3, isb_usrdeliv=180)
            + isb(1, isb_ifrecv=9, isb_ifdrop=0))
    path = tmp_path / "drops.pcapng"
    path.write_bytes(data)
    packets, report, reader = read(path)
    assert len(packets) == 3 and report.records_read == 3  # every packet the file holds is still analysed
    assert report.complete is False and report.packets_dropped == 10
    assert report.warnings == ("interface 0 dropped 10 of 200 received packets while capturing (isb_ifdrop 7, "
                               "isb_osdrop 3, per its Interface Statistics Block): the capture is missing them",)
    assert report.as_input_dict()["packets_dropped"] == 10
    ours = {ifid: s.counters for (_section, ifid), s in reader._walker.statistics.items()}
    assert ours == tshark_last_statistics(path) == {
        0: {"isb_ifrecv": 200, "isb_ifdrop": 7, "isb_filteraccept": 190, "isb_osdrop": 3, "isb_usrdeliv": 180},
        1: {"isb_ifrecv": 9, "isb_ifdrop": 0}}
    capinfos = subprocess.run([require_binary("capinfos"), "-I", str(path)], capture_output=True, text=True, timeout=60)
    assert capinfos.stdout.count("Number of stat entries = ") == 2, capinfos.stdout


def test_zero_drops_and_no_drop_counter(tmp_path: Path) -> None:
    clean = tmp_path / "clean.pcapng"
    clean.write_bytes(b.shb() + b.idb(1) + b.epb(0, 1, FRAME) + isb(0, isb_ifrecv=1, isb_ifdrop=0, isb_osdrop=0))
    _, report, _ = read(clean)
    assert report.complete and report.packets_dropped == 0 and report.warnings == ()
    received_only = tmp_path / "received-only.pcapng"
    received_only.write_bytes(b.shb() + b.idb(1) + b.epb(0, 1, FRAME) + isb(0, isb_ifrecv=1))
    _, report, _ = read(received_only)
    assert report.complete and report.packets_dropped is None


def test_big_endian_second_section_names_its_interface(tmp_path: Path) -> None:
    path = tmp_path / "two-sections.pcapng"
    path.write_bytes(b.shb() + b.idb(1) + b.epb(0, 1, FRAME) + isb(0, isb_ifdrop=0)
                     + b.shb(">") + b.idb(1, ">") + b.epb(0, 2, FRAME, ">") + isb(0, ">", isb_ifrecv=5, isb_osdrop=2))
    packets, report, _ = read(path)
    assert len(packets) == 2 and not report.complete and report.packets_dropped == 2
    assert report.warnings == ("section 2 interface 0 dropped 2 of 5 received packets while capturing (isb_osdrop 2, "
                               "per its Interface Statistics Block): the capture is missing them",)


def test_malformed_statistics_blocks_are_warned(tmp_path: Path) -> None:
    short_counter = b._block("<", 5, struct.pack("<III", 0, 0, 0) + struct.pack("<HHI", 5, 4, 9) + struct.pack("<HH", 0, 0))
    path = tmp_path / "bad.pcapng"
    path.write_bytes(b.shb() + b.idb(1) + b.epb(0, 1, FRAME) + short_counter + isb(3, isb_ifdrop=1))
    packets, report, _ = read(path)
    assert len(packets) == 1 and not report.complete and report.packets_dropped is None
    assert any("isb_ifdrop has 4 bytes, not 8: its drop counters are unknown" in w for w in report.warnings)
    assert any("names interface 3, which the section does not describe" in w for w in report.warnings)


@pytest.mark.parametrize("name", ["zoom_p2p.pcapng", "ndpi-devset/snapchat_call_v1.pcapng",
                                  "ndpi-devset/quic_frags_ch_in_multiple_packets.pcapng"])
def test_real_statistics_blocks_agree_with_tshark(shared_captures: Path, name: str) -> None:
    path = shared_captures / name
    _, report, reader = read(path)
    ours = {ifid: s.counters for (_section, ifid), s in reader._walker.statistics.items()}
    assert ours and ours == tshark_last_statistics(path)
    assert report.packets_dropped == sum(c.get("isb_ifdrop", 0) + c.get("isb_osdrop", 0) for c in ours.values())
    assert report.complete is (report.packets_dropped == 0)


@pytest.mark.slow
def test_sniffer_records_real_kernel_drops_in_its_statistics_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from confaudit.live import sniffer as sniffer_module

    # A tiny socket buffer and a receive loop held back while 300 datagrams arrive: the kernel must drop.
    monkeypatch.setattr(sniffer_module, "_grow_receive_buffer",
                        lambda raw: raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096))
    held = threading.Event()
    accept = sniffer_module.PacketSniffer._accept

    def held_back(self, frame, ts, pending):
        held.wait(10)
        accept(self, frame, ts, pending)

    monkeypatch.setattr(sniffer_module.PacketSniffer, "_accept", held_back)
    out = tmp_path / "drops.pcapng"
    sniffer = sniffer_module.PacketSniffer("lo", out)
    sniffer.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        for _ in range(300):
            sender.sendto(b"x" * 1000, receiver.getsockname())
        held.set()
        stats = sniffer.stop()
    assert stats.kernel_drops and stats.kernel_drops > 0 and stats.kernel_packets >= 300
    assert stats.packets + stats.kernel_drops <= stats.kernel_packets
    packets, report, _ = read(out)
    assert len(packets) == stats.packets and report.packets_dropped == stats.kernel_drops and not report.complete
    assert tshark_last_statistics(out) == {0: {"isb_ifrecv": stats.kernel_packets, "isb_osdrop": stats.kernel_drops,
                                               "isb_usrdeliv": stats.packets + stats.dropped_by_filter}}
