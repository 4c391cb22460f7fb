"""Key logs, DTLS-SRTP exporters and key splitting, checked against real OpenSSL handshakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from confaudit.e2ee.exporter import PROFILES, export_dtls12, export_tls13, split_keying_material
from confaudit.e2ee.handshake import FlowHandshakes
from confaudit.e2ee.keylog import parse_keylog_text, read_keylog
from benchmarks.synth_e2ee import CLIENT, SERVER, dtls_handshake
from confaudit.errors import InputError


def _session(hs):
    flow = FlowHandshakes()
    for who, data in hs.datagrams:
        flow.feed(CLIENT if who == "client" else SERVER, data)
    assert len(flow.sessions) == 1
    return flow.sessions[0]


@pytest.mark.parametrize("ciphers", [None, "ECDHE-ECDSA-AES128-GCM-SHA256"])
@pytest.mark.parametrize("profiles", ["SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_256_GCM",
                                      "SRTP_AES128_CM_SHA1_32"])
def test_dtls12_exporter_matches_openssl(profiles: str, ciphers: str | None) -> None:
    hs = dtls_handshake(profiles, cipher_list=ciphers)
    session = _session(hs)
    log = parse_keylog_text("\n".join(hs.keylog_lines), "mem", b"", strict=True)
    profile = PROFILES[hs.profile]
    assert session.profile == hs.profile and session.version == "DTLS 1.2"
    assert session.profiles_offered == [hs.profile]
    material = export_dtls12(log.lookup(session.client_random)["CLIENT_RANDOM"], session.client_random,
                             session.server_random, 2 * (profile.key_length + profile.salt_length),
                             cipher_suite=session.cipher_suite)
    assert split_keying_material(profile, material) == (hs.client_key, hs.server_key)


def test_tls13_exporter_matches_openssl() -> None:
    """The RFC 8446 exporter construction, with TLS 1.3's own label prefix, equals OpenSSL's output."""
    from OpenSSL import SSL

    from benchmarks.synth_e2ee import _certificate

    cert, key = _certificate()
    lines: list[bytes] = []

    def ctx() -> SSL.Context:
        from OpenSSL import crypto

        c = SSL.Context(SSL.TLS_METHOD)
        c.set_min_proto_version(SSL.TLS1_3_VERSION)
        c.use_certificate(crypto.X509.from_cryptography(cert))
        c.use_privatekey(crypto.PKey.from_cryptography_key(key))
        c.set_keylog_callback(lambda _c, line: lines.append(line))
        return c

    client, server = SSL.Connection(ctx()), SSL.Connection(ctx())
    client.set_connect_state()
    server.set_accept_state()
    for _ in range(10):
        for a, b in ((client, server), (server, client)):
            try:
                a.do_handshake()
            except SSL.WantReadError:
                pass
            try:
                b.bio_write(a.bio_read(65536))
            except SSL.WantReadError:
                pass
    secret = next(bytes.fromhex(l.split()[2].decode()) for l in lines if l.startswith(b"EXPORTER_SECRET"))
    expected = client.export_keying_material(b"EXTRACTOR-dtls_srtp", 56)
    assert export_tls13(secret, 56, cipher_suite=0x1302 if "384" in client.get_cipher_name() else 0x1301,
                        prefix=b"tls13 ") == expected
    assert export_tls13(secret, 56, prefix=b"dtls13") != expected


def test_split_matches_aiortc() -> None:
    from aiortc.rtcdtlstransport import SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_SHA1_80

    material = bytes(range(60))
    for ours, theirs in ((PROFILES[0x0001], SRTP_AES128_CM_SHA1_80), (PROFILES[0x0007], SRTP_AEAD_AES_128_GCM)):
        view = material[:2 * (ours.key_length + ours.salt_length)]
        assert split_keying_material(ours, view) == (theirs.get_key_and_salt(view, 0), theirs.get_key_and_salt(view, 1))


def test_fragmented_client_hello_random_from_offset_zero() -> None:
    hs = dtls_handshake()
    who, hello = hs.datagrams[0]
    body = hello[13 + 12:]
    total = len(body)
    cut = 40

    def record(offset: int, fragment: bytes) -> bytes:
        msg = bytes([1]) + total.to_bytes(3, "big") + (0).to_bytes(2, "big") + offset.to_bytes(3, "big") \
            + len(fragment).to_bytes(3, "big") + fragment
        return bytes([22, 0xFE, 0xFD]) + b"\x00\x00" + b"\x00" * 6 + len(msg).to_bytes(2, "big") + msg

    flow = FlowHandshakes()
    flow.feed(CLIENT, record(cut, body[cut:]))  # later fragment first, in its own datagram
    flow.feed(CLIENT, record(0, body[:cut]))
    assert [s.client_random for s in flow.sessions] == [body[2:34]]
    assert flow.sessions[0].profiles_offered == [0x0007, 0x0001]


def test_keylog_lenient_and_strict(tmp_path: Path) -> None:
    good = "CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48
    text = f"# comment\n{good}\nEXPORTER_SECRET {'11' * 32} {'22' * 32}\ngarbage line\n"
    log = parse_keylog_text(text, "x", text.encode(), strict=False)
    assert log.lines == 2 and log.skipped == 1
    assert log.kinds == {"CLIENT_RANDOM": 1, "EXPORTER_SECRET": 1}
    with pytest.raises(InputError, match=r"key log line 4 is not"):
        parse_keylog_text(text, "x", text.encode(), strict=True)


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"\x00\x01\x02binary", "binary"),
    ("CLIENT_RANDOM \u00e9\u00e9 aa\n".encode(), "not ASCII"),
    (b"CLIENT_RANDOM " + b"ab" * 8 + b" 1234\n", "not 32 bytes"),
    (b"CLIENT_RANDOM " + b"ab" * 32 + b" abc\n", "odd number"),
    (b"# only comments\n\n", "no secret lines"),
])
def test_corrupted_keylog_is_one_line_input_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "keys.log"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_keylog(path, strict=True)
    assert problem in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)
    assert err.value.exit_code == 3
