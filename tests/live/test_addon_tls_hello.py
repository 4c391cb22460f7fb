"""The ClientHello addon: intercepted and passed-through TLS/QUIC ClientHellos become tls_clienthello records."""

from __future__ import annotations

from pathlib import Path

from mitmproxy.test import taddons, tflow

from confaudit.redact import Redactor
from confaudit.live.addons import SessionRecorder
from confaudit.importers.http_sources import load_http_sources


async def test_tls_clienthello_metadata(tmp_path: Path) -> None:
    from mitmproxy.proxy.layers.tls import parse_client_hello
    from mitmproxy.tls import ClientHelloData
    from mitmproxy.proxy.context import Context
    from mitmproxy import options

    hello_bytes = bytes.fromhex(_CLIENT_HELLO_HEX)
    hello = parse_client_hello(hello_bytes)
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        context = Context(tflow.tclient_conn(), options.Options())
        context.server = tflow.tserver_conn()
        addon.tls.tls_clienthello(ClientHelloData(context, hello))
        addon.done()
    rec = load_http_sources([tmp_path / "observations.jsonl"], redactor=Redactor.default())["tls_clienthello"][0]
    assert rec["sni"] == hello.sni and rec["passthrough"] is False and rec["id"] == "t1"


# A TLS 1.2 ClientHello for "example.com" with ALPN h2/http/1.1 (record layer included).
_CLIENT_HELLO_HEX = (
    "16030100c4010000c00303"
    + "00" * 32
    + "00" + "0020" + "c02bc02fc02cc030cca9cca8c013c014009c009d002f0035c012000a1301130213031304"[:64]
    + "0100"
    + "0075"
    + "0000" + "0010" + "000e00000b6578616d706c652e636f6d"
    + "0010" + "000e" + "000c02683208687474702f312e31"
    + "000a" + "0004" + "0002001d"
    + "000d" + "0004" + "00020403"
    + "002b" + "0003" + "020303"
    + "0015" + "0036" + "00" * 54
)


def test_first_bytes_of_a_passed_through_connection() -> None:
    from confaudit.live.addons.tls_hello import parse_first_hello

    hello = parse_first_hello(bytes.fromhex(_CLIENT_HELLO_HEX), "tcp")
    assert hello is not None and hello.sni == "example.com" and hello.alpn_protocols == [b"h2", b"http/1.1"]
    assert parse_first_hello(b"GET / HTTP/1.1\r\n\r\n", "tcp") is None
    assert parse_first_hello(bytes.fromhex(_CLIENT_HELLO_HEX)[:40], "tcp") is None  # cut short
    assert parse_first_hello(b"\xc3" + b"\x00" * 60, "udp") is None  # a long header that is no QUIC Initial
    assert parse_first_hello(b"\x80\x00", "udp") is None
