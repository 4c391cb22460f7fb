"""QUIC headers and Initial SNI: real aioquic clients (v1 and v2), real captures, fuzz."""

from __future__ import annotations

import pytest

from confaudit.wire.gquic import parse_gquic_message, parse_gquic_public_header
from confaudit.wire.quic import (
    gquic_client_hello, is_quic_short_header, parse_quic_long_header, quic_client_hello, quic_version_name,
)
from support.quic_initials import aioquic_initials
from support.wire_pcap_util import mutations, udp


@pytest.mark.parametrize(("version", "name"), [(0x00000001, "QUIC v1"), (0x6B3343CF, "QUIC v2")])
def test_real_client_initial_header_and_sni(version: int, name: str) -> None:
    datagrams = aioquic_initials(version)
    head = parse_quic_long_header(datagrams[0])
    assert head.version == version and head.version_name == name and head.packet_type == "initial"
    assert len(head.dcid) == 16 and head.token_len == 0 and head.fixed_bit
    hello = quic_client_hello(datagrams)
    assert hello == ("media.vendor.example", ("h3", "webrtc"), version, None)


def test_client_hello_spanning_several_initial_datagrams() -> None:
    alpn = [f"proto-{i:03d}-" + "x" * 20 for i in range(80)]  # > 2 KiB ClientHello, like a PQ key share
    datagrams = aioquic_initials(1, "big.example", alpn)
    assert len(datagrams) >= 2
    assert quic_client_hello(datagrams[:1]) is None  # cannot decide from the first datagram alone
    hello = quic_client_hello([b"\x00noise"] + datagrams)
    assert hello.sni == "big.example" and hello.alpn == tuple(alpn)


def test_version_specific_types_names_and_negotiation() -> None:
    # Same type bits 0b01: 0-RTT in v1, Initial in v2 (RFC 9369 §3.2).
    v1 = bytes([0xD0]) + (1).to_bytes(4, "big") + b"\x01\xaa\x00" + b"\x40\x10"
    v2 = bytes([0xD0]) + (0x6B3343CF).to_bytes(4, "big") + b"\x01\xaa\x00" + b"\x00" + b"\x40\x10"
    assert parse_quic_long_header(v1).packet_type == "0rtt"
    assert parse_quic_long_header(v2).packet_type == "initial"
    vn = parse_quic_long_header(b"\x80\x00\x00\x00\x00\x01\xaa\x01\xbb" + (1).to_bytes(4, "big") + (0x6B3343CF).to_bytes(4, "big"))
    assert vn.packet_type == "version_negotiation" and vn.supported_versions == (1, 0x6B3343CF)
    assert quic_version_name(0xFF00001D) == "draft-29" and quic_version_name(0x51303530) == "Google Q050"
    assert quic_version_name(0xFACEB002).startswith("mvfst") and quic_version_name(0x1A2A3A4A) == "reserved (grease)"
    assert parse_quic_long_header(bytes([0xC0]) + (1).to_bytes(4, "big") + b"\x15" + b"x" * 30) is None  # DCID > 20
    assert parse_quic_long_header(b"\x40" * 30) is None
    assert quic_client_hello([b"\x00" * 50]) is None and quic_client_hello([]) is None
    broken = aioquic_initials(1)[0][:300]
    assert quic_client_hello([broken]) is None


def test_real_captures(shared_captures) -> None:
    meet = udp(shared_captures / "google_meet.pcapng")
    heads = [parse_quic_long_header(s.payload) for s in meet]
    assert all(h and h.version == 1 for h in heads) and len(heads) == 6
    assert quic_client_hello([s.payload for s in meet if s.dport == 443]) == ("meet.google.com", ("h3",), 1, None)
    v2 = udp(shared_captures / "quic-v2.pcapng")
    longs = [h for s in v2 if (h := parse_quic_long_header(s.payload))]
    assert [h.packet_type for h in longs] == ["initial", "initial", "handshake"]
    hello = quic_client_hello([s.payload for s in v2 if s.dport == 4443])
    assert hello is not None and hello.version == 0x6B3343CF and hello.sni == "test" and hello.alpn == ("h3",)
    cids = {bytes.fromhex(longs[0].scid), bytes.fromhex(longs[1].scid)}
    shorts = [s for s in v2 if not s.payload[0] & 0x80]
    assert len(shorts) == 16
    assert all(any(is_quic_short_header(s.payload, c) for c in cids) for s in shorts)
    greased = [s for s in shorts if not s.payload[0] & 0x40]
    assert greased and not any(is_quic_short_header(s.payload) for s in greased)  # fixed bit cleared


@pytest.mark.timeout(60)
def test_never_raises_on_random_and_mutated_bytes() -> None:
    seeds = aioquic_initials(1)[:1] + aioquic_initials(0x6B3343CF)[:1]
    cases = mutations([s[:200] for s in seeds] + seeds, 2000)
    for data in cases:
        head = parse_quic_long_header(data)
        if head:
            head.to_dict()
        is_quic_short_header(data), is_quic_short_header(data, b"\x01\x02")
    for data in mutations(seeds, 60, seed=3):
        quic_client_hello([data])


def client_initial_keys(version: int, dcid: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(key, iv, hp) protecting the client's Initials, from the secret of the context quic_initial sets up."""
    from aioquic.quic.crypto import derive_key_iv_hp

    from confaudit.wire.quic_initial import client_initial_context

    context = client_initial_context(version, dcid)
    if context is None:
        return None
    return derive_key_iv_hp(cipher_suite=context.cipher_suite, secret=context.secret, version=version)


def test_initial_key_derivation_matches_rfc_vectors() -> None:
    dcid = bytes.fromhex("8394c8f03e515708")  # RFC 9001 A.1 / RFC 9369 A.1 / draft-29 A.1
    assert client_initial_keys(1, dcid) == (bytes.fromhex("1f369613dd76d5467730efcbe3b1a22d"),
                                            bytes.fromhex("fa044b2f42a3fd3b46fb255c"),
                                            bytes.fromhex("9f50449e04a0e810283a1e9933adedd2"))
    assert client_initial_keys(0x6B3343CF, dcid) == (bytes.fromhex("8b1a0bc121284290a29e0971b5cd045d"),
                                                     bytes.fromhex("91f73e2351d8fa91660e909f"),
                                                     bytes.fromhex("45b95e15235d6f45a6b19cbcb0294ba9"))
    key, iv, _hp = client_initial_keys(0xFF00001D, dcid)  # a draft: our salt, aioquic's derivation
    assert key.hex() == "175257a31eb09dea9366d8bb79ad80ba" and iv.hex() == "6b26114b9cba2b63a9e8dd4f"
    assert client_initial_keys(0x51303436, dcid) is None  # Q046 is null-encrypted, not Initial-protected


def _reprotect(datagram: bytes, new_version: int) -> bytes:
    """Re-encrypt a v1 client Initial under another version's Initial keys (test-side protection code)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    head = parse_quic_long_header(datagram)
    dcid = bytes.fromhex(head.dcid)
    pn_offset = 1 + 4 + 1 + len(dcid) + 1 + len(bytes.fromhex(head.scid)) + 1 + 2  # token len 0, 2-byte length
    (old_key, old_iv, old_hp), (new_key, new_iv, new_hp) = client_initial_keys(1, dcid), client_initial_keys(new_version, dcid)
    mask = Cipher(algorithms.AES(old_hp), modes.ECB()).encryptor().update(datagram[pn_offset + 4 : pn_offset + 20])
    first = datagram[0] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    pn = bytes(b ^ m for b, m in zip(datagram[pn_offset : pn_offset + pn_len], mask[1:]))
    end = pn_offset + head.payload_len
    header = bytes([first]) + datagram[1:pn_offset] + pn
    nonce = lambda iv: bytes(a ^ b for a, b in zip(iv, int.from_bytes(pn, "big").to_bytes(12, "big")))  # noqa: E731
    plain = AESGCM(old_key).decrypt(nonce(old_iv), datagram[pn_offset + pn_len : end], header)
    header = header[:1] + new_version.to_bytes(4, "big") + header[5:]
    body = AESGCM(new_key).encrypt(nonce(new_iv), plain, header)
    packet = bytearray(header + body)
    mask = Cipher(algorithms.AES(new_hp), modes.ECB()).encryptor().update(bytes(packet[pn_offset + 4 : pn_offset + 20]))
    packet[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        packet[pn_offset + i] ^= mask[1 + i]
    return bytes(packet) + datagram[end:]


def test_own_initial_decryption(shared_captures) -> None:
    from confaudit.wire.quic_initial import decrypt_client_hello

    meet = [s.payload for s in udp(shared_captures / "google_meet.pcapng") if s.dport == 443]
    version, hello = decrypt_client_hello(meet)
    assert version == 1 and hello.sni == "meet.google.com" and hello.alpn == ("h3",) and hello.complete
    v2 = [s.payload for s in udp(shared_captures / "quic-v2.pcapng") if s.dport == 4443]
    assert decrypt_client_hello(v2)[1].sni == "test"
    alpn = [f"proto-{i:03d}-" + "x" * 20 for i in range(80)]
    big = aioquic_initials(1, "big.example", alpn)
    assert decrypt_client_hello(big)[1].alpn == tuple(alpn) and decrypt_client_hello(big[:1]) is None
    draft29 = [_reprotect(d, 0xFF00001D) for d in aioquic_initials(1)]
    assert parse_quic_long_header(draft29[0]).version_name == "draft-29"
    assert quic_client_hello(draft29) == ("media.vendor.example", ("h3", "webrtc"), 0xFF00001D, None)
    assert quic_client_hello(meet) == ("meet.google.com", ("h3",), 1, None)
    assert quic_client_hello(aioquic_initials(0x6B3343CF)) == ("media.vendor.example", ("h3", "webrtc"), 0x6B3343CF, None)
    assert decrypt_client_hello([d[:-1] + bytes([d[-1] ^ 1]) for d in meet[:1]]) is None  # tag check fails


def test_own_decryption_agrees_with_mitmproxys_parser(shared_captures) -> None:
    """An independent implementation (mitmproxy's, over aioquic) reads the same SNI and ALPN."""
    from mitmproxy.proxy.layers.quic._client_hello_parser import quic_parse_client_hello_from_datagrams

    cases = [[s.payload for s in udp(shared_captures / "google_meet.pcapng") if s.dport == 443][:1],
             [s.payload for s in udp(shared_captures / "quic-v2.pcapng") if s.dport == 4443][:1],
             aioquic_initials(1), aioquic_initials(0x6B3343CF)]
    for datagrams in cases:
        ours = quic_client_hello(datagrams)
        theirs = quic_parse_client_hello_from_datagrams(datagrams)
        assert ours is not None and theirs is not None
        assert ours.sni == theirs.sni
        assert ours.alpn == tuple(p.decode() for p in theirs.alpn_protocols)


GQUIC_CAPTURES = ("quic046.pcap", "quic_q50.pcap", "youtube_quic.pcap", "telegram.pcap", "wechat.pcap")


def _client_flows(path) -> dict[int, list[bytes]]:
    """Client→server datagrams to UDP 443, per client port, in capture order."""
    flows: dict[int, list[bytes]] = {}
    for s in udp(path):
        if s.dport == 443:
            flows.setdefault(s.sport, []).append(s.payload)
    return flows


def _tshark_chlos(path) -> dict[int, tuple[str, str]]:
    """client port -> (SNI, UAID) of the CHLOs Wireshark's gQUIC dissector reads."""
    import subprocess

    from support.environment import require_binary

    out = subprocess.run([require_binary("tshark"), "-r", str(path), "-Y", "gquic.tag.sni", "-T", "fields",
                          "-e", "udp.srcport", "-e", "gquic.tag.sni", "-e", "gquic.tag.uaid"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return {int(port): (sni, ua) for port, sni, ua in (line.split("\t") for line in out.splitlines())}


@pytest.mark.parametrize("name", GQUIC_CAPTURES)
def test_gquic_client_hello_matches_tshark_and_ndpi(shared_captures, name: str) -> None:
    """Q035 (public header), Q046 (long header, null-encrypted) and Q050 (Initial decrypted with its salt)."""
    path = shared_captures / "ndpi-devset" / name
    expected = _tshark_chlos(path)
    assert expected
    ndpi = (shared_captures / "ndpi-devset" / f"{name}.out").read_text()
    for port, (sni, ua) in expected.items():
        datagrams = _client_flows(path)[port]
        hello = quic_client_hello(datagrams)
        assert hello == gquic_client_hello(datagrams)
        assert (hello.sni, hello.user_agent, hello.alpn) == (sni, ua, ())
        assert quic_version_name(hello.version) == "Google " + hello.version.to_bytes(4, "big").decode()
        assert f":{port} <-> " in ndpi and f"[Hostname/SNI: {sni}]" in ndpi and f"[User-Agent: {ua}]" in ndpi
        assert f"[QUIC ver: {hello.version.to_bytes(4, 'big').decode()}]" in ndpi
    flows = _client_flows(path)
    assert all(gquic_client_hello(flows[p]) is None for p in flows if p not in expected)  # no CHLO, no claim


def test_gquic_headers_and_fail_closed(shared_captures) -> None:
    ndpi = shared_captures / "ndpi-devset"
    q046 = _client_flows(ndpi / "quic046.pcap")[50587]
    head = parse_quic_long_header(q046[0])
    assert (head.version_name, head.packet_type, head.dcid, head.scid) == ("Google Q046", "initial", "b4a4f9f5f42edd39", "")
    assert head.token_len is None and head.payload_len is None  # Q046 has neither field
    q050 = parse_quic_long_header(_client_flows(ndpi / "quic_q50.pcap")[39203][0])
    assert (q050.version_name, q050.packet_type, q050.dcid, q050.token_len, q050.payload_len) == (
        "Google Q050", "initial", "df4a089e4eff5e7a", 0, 1332)  # tshark: quic.dcid, quic.length
    youtube = _client_flows(ndpi / "youtube_quic.pcap")[54997]
    public = parse_gquic_public_header(youtube[0])
    # tshark: gquic.cid 607216825723351187 (the same 8 bytes read little-endian, as before Q039), packet number 1
    assert (public.version_name, public.connection_id, public.packet_number) == ("Google Q035", "9370e15e7c446d08", 1)
    # One flipped byte inside the CHLO breaks the null-encryption hash: nothing is read, nothing claimed.
    for packets in (q046, youtube):
        damaged = bytearray(packets[0])
        damaged[200] ^= 0x01
        assert gquic_client_hello([bytes(damaged)]) is None
    q050_damaged = bytearray(_client_flows(ndpi / "quic_q50.pcap")[39203][0])
    q050_damaged[-1] ^= 0x01  # AEAD tag
    assert gquic_client_hello([bytes(q050_damaged)]) is None
    # Only the server's side of a Q0xx connection: its REJ is readable, but no client hello is claimed.
    server = [s.payload for s in udp(ndpi / "gquic_only_from_server.pcap")]
    assert quic_client_hello(server) is None and gquic_client_hello(server) is None
    assert not any(parse_gquic_public_header(p) for p in server)  # servers send no version field
    rej = parse_gquic_message(server[0][server[0].index(b"REJ\x00") :])
    assert rej.tag == "REJ" and [t for t, _ in rej.entries][:3] == ["STK", "SNO", "PROF"]
    config = parse_gquic_message(rej.value("SCFG"))
    assert config.tag == "SCFG" and config.value("AEAD") == b"AESGCC20"  # nDPI's "PLAIN TEXT (AESGCC20)"


def _fnv1a_128(data: bytes) -> int:
    h = 0x6C62272E07BB014262B821756295C58D
    for byte in data:
        h = ((h ^ byte) * 0x0000000001000000000000000000013B) % (1 << 128)
    return h


def q043_packet(stream: bytes, packet_number: int = 7) -> bytes:
    """A null-encrypted Q043 client packet carrying ``stream`` at offset 0 of stream 1, built by the spec."""
    header = b"\x19" + bytes(range(1, 9)) + b"Q043" + packet_number.to_bytes(2, "big")  # version flag, CID, 2-byte PN
    frames = b"\xa4\x01" + b"\x00\x00" + len(stream).to_bytes(2, "big") + stream  # STREAM id 1, 2-byte offset, length
    frames += b"\x00" * 40  # PADDING to the end
    digest = _fnv1a_128(header + frames + b"Client")
    return header + (digest % (1 << 64)).to_bytes(8, "little") + ((digest >> 64) % (1 << 32)).to_bytes(4, "little") + frames


def test_q043_public_header_big_endian_and_names() -> None:
    """Q039-Q043 keep Q035's layout with big-endian fields: a Q043 client packet built by the spec."""
    chlo = (b"CHLO" + (2).to_bytes(2, "little") + b"\0\0" + b"SNI\0" + (11).to_bytes(4, "little")
            + b"UAID" + (18).to_bytes(4, "little") + b"q43.example" + b"agent/1")
    packet = q043_packet(chlo)
    assert parse_gquic_public_header(packet).packet_number == 7
    assert quic_client_hello([packet]) == ("q43.example", (), 0x51303433, "agent/1")
    assert quic_version_name(0x54303531) == "Google T051" and quic_version_name(0x51303400 | 0xB1).startswith("unknown")
    # A client opens its crypto stream with the CHLO: one behind 20 other messages is not looked for.
    assert quic_client_hello([q043_packet(b"SCUP\0\0\0\0" * 3 + chlo)]).sni == "q43.example"
    assert quic_client_hello([q043_packet(b"SCUP\0\0\0\0" * 20 + chlo)]) is None
