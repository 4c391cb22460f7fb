"""STUN/TURN parser: crafted messages, real captures, and a no-exception property test."""

from __future__ import annotations

import ipaddress
import struct
import zlib
from collections import Counter

import pytest

from confaudit.wire.stun import MAGIC_COOKIE, frame_stun_tcp, parse_channel_data, parse_stun
from support.wire_pcap_util import mutations, udp

TID = bytes(range(1, 13))


def attr(atype: int, value: bytes) -> bytes:
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)


def message(msg_type: int, attrs: bytes, tid: bytes = TID, fingerprint: bool = False) -> bytes:
    body = attrs
    if fingerprint:
        head = struct.pack("!HHI12s", msg_type, len(body) + 8, MAGIC_COOKIE, tid) + body
        crc = (zlib.crc32(head) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(0x8028, crc.to_bytes(4, "big"))
    return struct.pack("!HHI12s", msg_type, len(body), MAGIC_COOKIE, tid) + body


def xor_v4(ip: str, port: int) -> bytes:
    raw = int(ipaddress.IPv4Address(ip)) ^ MAGIC_COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC_COOKIE >> 16), raw)


def xor_v6(ip: str, port: int, tid: bytes = TID) -> bytes:
    key = int.from_bytes(MAGIC_COOKIE.to_bytes(4, "big") + tid, "big")
    raw = (int(ipaddress.IPv6Address(ip)) ^ key).to_bytes(16, "big")
    return struct.pack("!BBH", 0, 2, port ^ (MAGIC_COOKIE >> 16)) + raw


def test_binding_success_with_xor_addresses_and_fingerprint() -> None:
    data = message(
        0x0101,
        attr(0x0020, xor_v4("203.0.113.7", 40003)) + attr(0x8022, b"test-server 1.0"),
        fingerprint=True,
    )
    msg = parse_stun(data)
    assert msg is not None
    assert (msg.method, msg.method_name, msg.msg_class) == (1, "Binding", "success")
    assert msg.xor_mapped_address == ("203.0.113.7", 40003)
    assert msg.software == "test-server 1.0"
    assert msg.transaction_id == TID.hex()
    assert msg.fingerprint_valid is True
    assert [a[1] for a in msg.attributes] == ["XOR-MAPPED-ADDRESS", "SOFTWARE", "FINGERPRINT"]
    corrupted = data[:-1] + bytes([data[-1] ^ 1])
    assert parse_stun(corrupted).fingerprint_valid is False
    assert msg.to_dict()["xor_mapped_address"] == {"ip": "203.0.113.7", "port": 40003}


def test_turn_allocate_fields_ipv6_and_ice_attributes() -> None:
    allocate_ok = message(
        0x0103,
        attr(0x0016, xor_v6("2001:db8::42", 50000)) + attr(0x000D, (600).to_bytes(4, "big"))
        + attr(0x0014, b"turn.example") + attr(0x0015, b"nonce"),
    )
    msg = parse_stun(allocate_ok)
    assert msg.method_name == "Allocate" and msg.msg_class == "success"
    assert msg.xor_relayed_address == ("2001:db8::42", 50000)
    assert msg.lifetime == 600 and msg.realm == "turn.example" and msg.nonce_present
    req = message(
        0x0001,
        attr(0x0006, b"abcd:efgh") + attr(0x0024, (0x6E7F00FF).to_bytes(4, "big")) + attr(0x0025, b"")
        + attr(0x802A, b"\0" * 8) + attr(0x0008, b"\0" * 20) + attr(0xC057, b"\x00\x01\x00\x0a"),
    )
    msg = parse_stun(req)
    assert msg.username == "abcd:efgh" and msg.priority == 0x6E7F00FF
    assert msg.use_candidate and msg.ice_controlling and not msg.ice_controlled
    assert msg.message_integrity_present
    assert msg.vendor_attributes == ((0xC057, "GOOG-NETWORK-INFO", "0001000a"),)
    err = message(0x0113, attr(0x0009, b"\0\0\x04\x01Unauthorized"))
    msg = parse_stun(err)
    assert msg.msg_class == "error" and msg.error_code == 401 and msg.error_reason == "Unauthorized"
    bind = message(0x0009, attr(0x000C, b"\x40\x03\0\0") + attr(0x0019, b"\x11\0\0\0"))
    msg = parse_stun(bind)
    assert msg.method_name == "ChannelBind" and msg.channel_number == 0x4003
    assert msg.requested_transport == 17


def test_header_rules_and_classic_only_when_asked() -> None:
    good = message(0x0001, b"")
    assert parse_stun(good) is not None
    assert parse_stun(good + b"\0\0\0\0") is None  # length field must match
    assert parse_stun(bytes([good[0] | 0x80]) + good[1:]) is None  # top bits must be 00
    classic = struct.pack("!HH16s", 0x0001, 0, b"\x11" * 16)
    assert parse_stun(classic) is None
    msg = parse_stun(classic, allow_classic=True)
    assert msg is not None and msg.classic and msg.transaction_id == "11" * 16
    damaged = struct.pack("!HHI12s", 0x0001, 4, MAGIC_COOKIE, TID) + b"\0\x06\x00\x40"
    msg = parse_stun(damaged)
    assert msg is not None and msg.problems


def test_channel_data_and_tcp_framing() -> None:
    cd = parse_channel_data(b"\x40\x01\x00\x03abc")
    assert cd is not None and cd.channel_number == 0x4001 and cd.length == 3 and cd.padding == 0
    assert parse_channel_data(b"\x40\x01\x00\x09abc") is None
    assert parse_channel_data(b"\x80\x01\x00\x00") is None
    stun = message(0x0001, attr(0x0006, b"u:v"))
    stream = stun + b"\x40\x01\x00\x03abc\0" + stun
    frames = frame_stun_tcp(stream)
    assert frames.complete and frames.frames == (stun, b"\x40\x01\x00\x03abc", stun)
    partial = frame_stun_tcp(stream[:-3])
    assert not partial.complete and len(partial.frames) == 2 and "truncated" in partial.problem
    framed = frame_stun_tcp(len(stun).to_bytes(2, "big") + stun, rfc4571=True)
    assert framed.complete and framed.frames == (stun,)
    assert not frame_stun_tcp(b"\x90garbage").complete


def test_real_google_meet_and_turn_captures(shared_captures) -> None:
    meet = [m for s in udp(shared_captures / "stun_google_meet.pcapng") if (m := parse_stun(s.payload))]
    assert Counter(m.msg_class for m in meet) == {"request": 44, "success": 43}
    assert any(v[1] == "GOOG-NETWORK-INFO" for m in meet for v in m.vendor_attributes)
    assert all(m.fingerprint_valid is not False for m in meet)
    # ICE checks carry USERNAME; the 12 plain Binding requests to the STUN server (19302) do not.
    assert sum(1 for m in meet if m.username) == 32
    turn = [(s, m) for s in udp(shared_captures / "stun.pcap") if (m := parse_stun(s.payload))]
    assert len(turn) == 121
    assert Counter(m.realm for _, m in turn if m.realm) == {"turner.facebook": 12, "turn.l.google.com": 3}
    relays = {m.xor_relayed_address for _, m in turn if m.xor_relayed_address}
    assert ("31.13.86.54", 53789) in relays
    assert {m.method_name for _, m in turn} >= {"Send", "Data", "CreatePermission", "ChannelBind", "Allocate"}
    # Frame 195 carries a FINGERPRINT that tshark also reports as bad (should be 0x7481f118).
    bad = [s.frame for s, m in turn if m.fingerprint_valid is False]
    assert bad == [195]
    channel = [s for s in udp(shared_captures / "stun.pcap") if parse_channel_data(s.payload)]
    assert len(channel) == 19


def test_real_microsoft_and_whatsapp_variants(shared_captures) -> None:
    teams = [m for s in udp(shared_captures / "teams.pcap") if (m := parse_stun(s.payload))]
    assert len(teams) == 55
    assert {m.software for m in teams if m.software} == {"2.0.1.211"}
    vendor = {v[0] for m in teams for v in m.vendor_attributes}
    assert {0x8008, 0x8036, 0x8037, 0x8050, 0x8070} <= vendor
    assert sum(1 for m in teams if m.problems) == 18  # unpadded MS-TURN messages still decoded
    wa = [m for s in udp(shared_captures / "whatsapp_login_call.pcap") if (m := parse_stun(s.payload))]
    standard = [m for m in wa if m.msg_type in (0x0001, 0x0101, 0x0003, 0x0103)]
    assert len(standard) == 100
    assert {v[1] for m in wa for v in m.vendor_attributes} == {"WHATSAPP-4000", "WHATSAPP-4001", "WHATSAPP-4002"}
    skype = [m for s in udp(shared_captures / "skype-conference-call.pcap") if (m := parse_stun(s.payload))]
    assert len(skype) == 14 and all(m.fingerprint_valid for m in skype)
    zoom_p2p = udp(shared_captures / "zoom_p2p.pcapng")
    classic = [m for s in zoom_p2p if (m := parse_stun(s.payload, allow_classic=True)) and m.classic]
    assert len(classic) == 80 and not any(parse_stun(s.payload) for s in zoom_p2p)


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    seeds = [
        message(0x0101, attr(0x0020, xor_v4("1.2.3.4", 5)) + attr(0x0016, xor_v6("::1", 9)), fingerprint=True),
        message(0x0113, attr(0x0009, b"\0\0\x04\x01x") + attr(0x0014, b"r")),
        b"\x40\x01\x00\x03abc\0",
    ]
    for data in mutations(seeds, 5000):
        msg = parse_stun(data, allow_classic=True)
        if msg is not None:
            msg.to_dict()
        parse_channel_data(data)
        frame_stun_tcp(data)
        frame_stun_tcp(data, rfc4571=True)


RFC5769_REQUEST = (
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff"
    "80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249"
    "c1b571a280280004e57a3bcf"
)
RFC5769_RESPONSE_V4 = (
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96"
)
RFC5769_RESPONSE_V6 = (
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002a1470113a9fa"
    "a5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c"
)


def test_rfc5769_test_vectors() -> None:
    req = parse_stun(bytes.fromhex(RFC5769_REQUEST))
    assert req.fingerprint_valid and req.username == "evtj:h6vY" and req.software == "STUN test client"
    assert req.priority == 0x6E0001FF and req.ice_controlled and req.message_integrity_present
    v4 = parse_stun(bytes.fromhex(RFC5769_RESPONSE_V4))
    assert v4.fingerprint_valid and v4.xor_mapped_address == ("192.0.2.1", 32853)
    v6 = parse_stun(bytes.fromhex(RFC5769_RESPONSE_V6))
    assert v6.fingerprint_valid and v6.xor_mapped_address == ("2001:db8:1234:5678:11:2233:4455:6677", 32853)
