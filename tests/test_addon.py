"""The mitmproxy addon with mitmproxy's own test helpers: records, redacts, contains errors, bounds memory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from mitmproxy import http
from mitmproxy.test import taddons, tflow

from confaudit.capture.importers import load_http_sources
from confaudit.capture.mitm_addon import ConfauditAddon
from confaudit.capture.session import read_session

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _secret_flow() -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.url = "https://api.rooms.test/v1/join?access_token=AT-123&room=blue"
    flow.request.headers["Cookie"] = "sid=COOKIE-SECRET"
    flow.request.headers["Authorization"] = f"Bearer {JWT}"
    flow.request.headers["content-type"] = "application/json"
    flow.request.content = json.dumps({"password": "PW-456", "displayName": "Alice", "tz": "Europe/Berlin"}).encode()
    flow.response.headers["Set-Cookie"] = "sid=COOKIE-SECRET; Path=/"
    flow.response.headers["content-type"] = "application/json"
    flow.response.headers["content-encoding"] = "gzip"
    flow.response.raw_content = gzip.compress(b'{"ok": true, "iceServers": [{"urls": "turn:t.test", "username": "u", "credential": "TURN-PW"}]}')
    return flow


async def test_http_flow_is_recorded_decoded_and_redacted(tmp_path: Path) -> None:
    addon = ConfauditAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path), confaudit_vendor="rooms")
        flow = _secret_flow()
        await tctx.cycle(addon, flow)
        assert flow.request.headers["Cookie"] == "sid=COOKIE-SECRET"  # live traffic untouched
        addon.done()
    raw = (tmp_path / "observations.jsonl").read_text()
    for secret in ("AT-123", "COOKIE-SECRET", JWT, "PW-456", "TURN-PW"):
        assert secret not in raw
    http_rec = [r for r in _lines(tmp_path / "observations.jsonl") if r["kind"] == "http"][0]
    assert http_rec["host"] == "api.rooms.test" and http_rec["method"] == "GET" and http_rec["status"] == 200
    assert json.loads(http_rec["request_body"]["text"])["displayName"] == "Alice"
    assert json.loads(http_rec["response_body"]["text"])["ok"] is True
    assert http_rec["response_body"]["encoding"] == "gzip"
    assert ["room", "blue"] in http_rec["query"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["vendor"] == "rooms" and manifest["stopped"] is not None
    assert manifest["files"]["observations.jsonl"]["sensitive"] is False
    bundle = load_http_sources(read_session(tmp_path).http_sources)
    assert [h["id"] for h in bundle["http"]] == ["h1"] and bundle["inputs"][0]["format"] == "observations"


async def test_websocket_messages_both_directions(tmp_path: Path) -> None:
    addon = ConfauditAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flow = tflow.twebsocketflow()
        addon.response(flow)
        recorded = list(flow.websocket.messages) * 2
        flow.websocket.messages.clear()
        for message in recorded:
            flow.websocket.messages.append(message)
            addon.websocket_message(flow)
        addon.done()
    bundle = load_http_sources([tmp_path / "observations.jsonl"])
    ws = bundle["websocket"]
    assert len(ws) == 3 * 2 and {w["from_client"] for w in ws} == {True, False}
    assert {w["type"] for w in ws} == {"text", "binary"}
    assert all(w["http_id"] == "h1" for w in ws) and [w["id"] for w in ws] == [f"w{i}" for i in range(1, 7)]


async def test_udp_is_aggregated_and_payloads_dropped(tmp_path: Path) -> None:
    addon = ConfauditAddon()
    stun = bytes.fromhex("0001000c2112a442") + b"T" * 12 + bytes.fromhex("00060008") + b"user:abc"
    rtp = bytes([0x80, 111]) + b"\x00" * 40
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flow = tflow.tudpflow(messages=[])
        from mitmproxy import udp

        for i in range(500):
            flow.messages.append(udp.UDPMessage(i % 2 == 0, stun if i == 0 else rtp, 1000.0 + i / 50))
            addon.udp_message(flow)
            assert len(flow.messages) == 1
        addon.udp_end(flow)
        addon.done()
    rec = load_http_sources([tmp_path / "observations.jsonl"])["udp_flows"][0]
    assert rec["packets"] == {"from_client": 250, "to_client": 250}
    assert rec["first_byte_classes"] == {"rtp-rtcp": 499, "stun": 1}
    assert rec["stun_attribute_types"] == [6]
    assert "user:abc" not in (tmp_path / "observations.jsonl").read_text()


async def test_hook_exception_is_contained_counted_and_in_manifest(tmp_path: Path) -> None:
    addon = ConfauditAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        broken = tflow.tflow(resp=True)
        broken.request = None  # type: ignore[assignment]
        addon.response(broken)
        addon.response(_secret_flow())
        addon.done()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["hook_errors"] == {"response": 1}
    assert "AttributeError" in manifest["hook_error_samples"][0]
    assert manifest["stats"]["records"]["http"] == 1


async def test_tls_clienthello_metadata(tmp_path: Path) -> None:
    from mitmproxy.proxy.layers.tls import parse_client_hello
    from mitmproxy.tls import ClientHelloData
    from mitmproxy.proxy.context import Context
    from mitmproxy import options

    hello_bytes = bytes.fromhex(_CLIENT_HELLO_HEX)
    hello = parse_client_hello(hello_bytes)
    addon = ConfauditAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        context = Context(tflow.tclient_conn(), options.Options())
        context.server = tflow.tserver_conn()
        addon.tls_clienthello(ClientHelloData(context, hello))
        addon.done()
    rec = load_http_sources([tmp_path / "observations.jsonl"])["tls_clienthello"][0]
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


async def test_memory_stays_bounded_over_many_media_packets(tmp_path: Path) -> None:
    import tracemalloc

    from mitmproxy import udp

    addon = ConfauditAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flows = [tflow.tudpflow(messages=[]) for _ in range(20)]
        payload = bytes([0x80, 96]) + b"\x00" * 1100
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        for i in range(40_000):  # ~44 MB of RTP through the hook
            flow = flows[i % 20]
            flow.messages.append(udp.UDPMessage(True, bytes(payload), 1000.0 + i / 1000))
            addon.udp_message(flow)
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        addon.done()
    assert grown < 2_000_000, grown
    recs = load_http_sources([tmp_path / "observations.jsonl"])["udp_flows"]
    assert sum(r["packets"]["from_client"] for r in recs) == 40_000


def test_hostile_host_header_cannot_hide_a_request_or_leak_its_token() -> None:
    from confaudit.capture.convert import http_record
    from confaudit.redact import Redactor

    flow = tflow.tflow(resp=True)
    flow.request.host = "evil.[/b]"
    flow.request.path = "/collect?access_token=s3cr3t-t0ken-value&event=join"
    record = http_record(flow, Redactor(b"test-key"), "live")
    assert record["host"] == "evil.[/b]" and record["path"] == "/collect"
    assert "s3cr3t-t0ken-value" not in json.dumps(record)
    assert ["event", "join"] in [list(p) for p in record["query"]]
