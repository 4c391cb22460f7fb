"""Test helper: every input type confaudit reads, each carrying its own distinct planted secrets.

Real encodings throughout: packets written as a pcap (TCP plaintext HTTP, SIP/SDP over UDP, STUN and
TURN messages built by aioice), a DevTools-style HAR, a .mitm file written by mitmproxy's own
FlowWriter, an observations.jsonl as an older or foreign addon would write it (unredacted), and a
key log. ``SECRETS`` maps a name (input type and position) to the secret; ``secret_forms`` gives the
spellings an output could carry it in (raw, URL-encoded, base64 at any byte alignment).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

from support.analysis_pcapkit import tcp_frame, udp_frame, write_pcap

HOST = "rooms.example-rooms.test"
SECRETS = {
    # packet capture: plaintext HTTP heads
    "pcap_http_query_token": "PcapQueryTok3n7a1",
    "pcap_http_bearer": "PcapBearerZ9q2w8e",
    "pcap_http_cookie": "PcapCookieSid4r5t6",
    "pcap_http_absolute_userinfo": "PcapProxyPw0k9j8",
    "pcap_http_host_userinfo": "PcapHostPw2m3n4b",
    "pcap_http_path_jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwY2FwLXBhdGgifQ.PcapPathJwtSig8x7c6v5b",
    # packet capture: SIP, SDP, STUN/TURN
    "sip_uri_password": "SipUriPassw0rdQ1",
    "sip_second_uri_password": "SipRegPassw0rdW2",
    "sdp_crypto_inline_key": "U2RwQ3J5cHRvS2V5SW5saW5lMDEyMzQ1Njc4OWFi",
    "sdp_ice_pwd": "SdpIcePwdE3r4t5y6u7i8o9",
    "stun_username": "StunUserR5t6y7:peerfrag",
    "turn_username": "1790000000:TurnUserT6y7u8",
    # HAR
    "har_query_token": "HarQueryTokA1s2d3",
    "har_url_userinfo": "HarUserinfoPwF4g5",
    "har_cookie": "HarCookieH6j7k8l9",
    "har_host_userinfo": "HarHostPwQ2w3e4",
    "har_bearer": "HarBearerZ1x2c3v4",
    "har_json_password": "HarJsonPwB5n6m7q8",
    "har_form_client_secret": "HarFormSecretW9e8r7",
    "har_multipart_token": "HarMultipartTokT6y5u4",
    "har_ndjson_sid": "HarNdjsonSidI3o2p1",
    "har_base64_body_refresh": "HarB64RefreshA9s8d7",
    "har_base64_value_api_key": "HarB64ValueKeyF6g5h4",
    "har_set_cookie": "HarSetCookieJ3k2l1",
    "har_ws_ice_pwd": "HarWsIcePwdZ0x9c8v7b6n5",
    "har_ws_binary_password": "HarWsBinPwM4q3w2",
    "har_encoded_query_token": "HarEncodedQryE1r2t3",
    # .mitm (mitmproxy's own writer)
    "mitm_query_api_key": "MitmQueryKeyY4u5i6",
    "mitm_session_header": "MitmSessHdrO7p8a9",
    "mitm_cookie": "MitmCookieS1d2f3",
    "mitm_nested_credential": "MitmNestedCredG4h5j6",
    "mitm_set_cookie": "MitmSetCookieK7l8z9",
    "mitm_ws_text_token": "MitmWsTokenX1c2v3",
    "mitm_ws_binary_password": "MitmWsBinPwB4n5m6",
    "mitm_ws_url_token": "MitmWsUrlTokQ7w8e9",
    "mitm_error_password": "MitmErrPwR1t2y3",
    # observations.jsonl (unredacted, as a foreign or older addon writes it)
    "obs_url_password": "ObsUrlPwU4i5o6",
    "obs_basic_password": "ObsBasicPwP7a8s9",
    "obs_cookie": "ObsCookieD1f2g3",
    "obs_form_pin": "ObsFormPinH4j5k6",
    "obs_multipart_password": "ObsMultipartPwL7z8x9",
    "obs_ws_turn_credential": "ObsWsTurnCredC1v2b3",
    "obs_ws_binary_token": "ObsWsBinTokN4m5q6",
    "obs_ws_binary_url_token": "ObsWsBinUrlW7e8r9",
    "obs_binary_body_token": "ObsBinBodyTokT1y2u3",
    "obs_error_password": "ObsErrPwI4o5p6",
    "obs_path_code": "ObsPathCodeA7s8d9",
    # the session's TLS key log
    "keylog_master_secret": "4b65796c6f674d6173746572536563726574" + "00" * 30,
}
LINKED = "LinkedAcrossInputsZ8x7"
"""One secret planted in the pcap's query and in the HAR's query: both must show the same token."""


def secret_forms(secret: str) -> set[str]:
    """The secret, URL-encoded, and its base64 spellings at every byte alignment (standard and URL-safe)."""
    forms = {secret, quote(secret, safe=""), quote(secret)}
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode().rstrip("=")
        start = -(-shift * 8 // 6)  # first character holding only the secret's bits
        end = (shift + len(raw)) * 8 // 6
        core = encoded[start:end]
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    return {f for f in forms if len(f) >= 8}


# ---- packet capture ------------------------------------------------------------------------------
def _sdp(crypto_key: str, ice_pwd: str) -> str:
    return ("v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.2\r\ns=call\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
            "m=audio 49170 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{crypto_key}|2^20|1:32\r\n"
            f"a=ice-ufrag:Ufr4\r\na=ice-pwd:{ice_pwd}\r\n")


def _sip_invite() -> bytes:
    body = _sdp(SECRETS["sdp_crypto_inline_key"], SECRETS["sdp_ice_pwd"])
    head = (f"INVITE sip:alice:{SECRETS['sip_uri_password']}@sip.example-rooms.test SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776asdhds\r\n"
            f"From: <sip:alice:{SECRETS['sip_uri_password']}@sip.example-rooms.test>;tag=1928301774\r\n"
            "To: <sip:bob@sip.example-rooms.test>\r\nCall-ID: a84b4c76e66710@10.0.0.2\r\nCSeq: 314159 INVITE\r\n"
            "Contact: <sip:alice@10.0.0.2>\r\nUser-Agent: planted-softphone/1.0\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n")
    return (head + body).encode()


def _sip_register() -> bytes:
    return (f"REGISTER sips:bob:{SECRETS['sip_second_uri_password']}@sip.example-rooms.test;transport=udp SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKnashds7\r\nFrom: <sip:bob@sip.example-rooms.test>;tag=456248\r\n"
            "To: <sip:bob@sip.example-rooms.test>\r\nCall-ID: 843817637684230@10.0.0.2\r\nCSeq: 1826 REGISTER\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _stun_messages() -> list[bytes]:
    from aioice import stun

    binding = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    binding.attributes["USERNAME"] = SECRETS["stun_username"]
    binding.attributes["PRIORITY"] = 1853824767
    binding.add_message_integrity(SECRETS["sdp_ice_pwd"].encode())
    binding.add_fingerprint()
    allocate = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
    allocate.attributes["USERNAME"] = SECRETS["turn_username"]
    allocate.attributes["REALM"] = "example-rooms.test"
    allocate.attributes["NONCE"] = b"3a9f2c81d0e4b7a6"
    allocate.attributes["REQUESTED-TRANSPORT"] = 0x11000000
    allocate.add_message_integrity(b"turn-long-term-key")
    return [bytes(binding), bytes(allocate)]


def _http_heads() -> bytes:
    return (f"GET /x?access_token={SECRETS['pcap_http_query_token']}&room=blue&session_token={LINKED} HTTP/1.1\r\n"
            "Host: plain.example-rooms.test\r\n"
            f"Authorization: Bearer {SECRETS['pcap_http_bearer']}\r\nCookie: theme=dark; sid={SECRETS['pcap_http_cookie']}\r\n\r\n"
            f"GET http://proxyuser:{SECRETS['pcap_http_absolute_userinfo']}@plain.example-rooms.test/y HTTP/1.1\r\n"
            f"Host: hostuser:{SECRETS['pcap_http_host_userinfo']}@plain.example-rooms.test\r\n\r\n"
            f"GET /r/{SECRETS['pcap_http_path_jwt']}/join HTTP/1.1\r\nHost: plain.example-rooms.test\r\n\r\n").encode()


def write_capture(path: Path) -> None:
    """A classic pcap: plaintext HTTP over TCP, SIP INVITE/REGISTER with SDP over UDP, STUN and TURN."""
    client, server = "10.0.0.2", "10.0.0.9"
    frames = [tcp_frame(client, 40000, server, 80, b"", 999, flags=0x02),
              tcp_frame(server, 80, client, 40000, b"", 4999, flags=0x12)]
    seq = 1000
    for chunk in (_http_heads(),):
        frames.append(tcp_frame(client, 40000, server, 80, chunk, seq))
        seq += len(chunk)
    frames.append(tcp_frame(server, 80, client, 40000, b"HTTP/1.1 204 No Content\r\n\r\n", 5000))
    frames.append(udp_frame(client, 5060, server, 5060, _sip_invite()))
    frames.append(udp_frame(server, 5060, client, 5060, b"SIP/2.0 100 Trying\r\nCall-ID: a84b4c76e66710@10.0.0.2\r\n"
                                                          b"CSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n"))
    frames.append(udp_frame(client, 5060, server, 5060, _sip_register()))
    for message in _stun_messages():
        frames.append(udp_frame(client, 50000, server, 3478, message))
    write_pcap(path, frames)


# ---- HAR ------------------------------------------------------------------------------------------
def _multipart(boundary: str, fields: list[tuple[str, str]]) -> str:
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n" for name, value in fields]
    return "".join(parts) + f"--{boundary}--\r\n"


def write_har(path: Path) -> None:
    s = SECRETS
    sdp = _sdp(s["sdp_crypto_inline_key"], s["har_ws_ice_pwd"])  # the SIP call's key again: tokens must link
    nested = base64.b64encode(json.dumps({"api_key": s["har_base64_value_api_key"], "screen": "1920x1080"}).encode()).decode()
    redirect = quote(f"https://{HOST}/done?token={s['har_encoded_query_token']}", safe="")
    common = [{"name": "Cookie", "value": f"theme=dark; sid={s['har_cookie']}"},
              {"name": "Authorization", "value": f"Bearer {s['har_bearer']}"},
              {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"},
              {"name": "Host", "value": f"auditor:{s['har_host_userinfo']}@{HOST}"}]

    def entry(method: str, url: str, when: str, post: dict | None = None, content: dict | None = None,
              resp_headers: list | None = None, **extra) -> dict:
        request = {"method": method, "url": url, "httpVersion": "HTTP/1.1", "headers": common}
        if post is not None:
            request["postData"] = post
        return {"startedDateTime": when, "time": 5.0, "request": request,
                "response": {"status": 200, "headers": resp_headers or [], "content": content or {"size": 0}}, **extra}

    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    ndjson = json.dumps({"event": "join", "room": "blue"}) + "\n" + json.dumps({"event": "ping", "sid": s["har_ndjson_sid"]}) + "\n"
    entries = [
        entry("GET", f"https://auditor:{s['har_url_userinfo']}@{HOST}/api/join?room=blue&access_token={s['har_query_token']}"
                     f"&session_token={LINKED}&next={redirect}", "2026-11-25T09:00:00.000Z",
              resp_headers=[{"name": "Set-Cookie", "value": f"sid={s['har_set_cookie']}; Path=/; HttpOnly"}],
              content={"mimeType": "application/json", "encoding": "base64",
                       "text": base64.b64encode(json.dumps({"refresh_token": s["har_base64_body_refresh"]}).encode()).decode()}),
        entry("POST", f"https://{HOST}/api/login", "2026-11-25T09:00:01.000Z",
              post={"mimeType": "application/json", "text": json.dumps({"user": "auditor", "password": s["har_json_password"]})}),
        entry("POST", f"https://{HOST}/oauth/token", "2026-11-25T09:00:02.000Z",
              post={"mimeType": "application/x-www-form-urlencoded",
                    "text": f"grant_type=client_credentials&client_secret={s['har_form_client_secret']}"}),
        entry("POST", f"https://{HOST}/upload", "2026-11-25T09:00:03.000Z",
              post={"mimeType": f"multipart/form-data; boundary={boundary}",
                    "text": _multipart(boundary, [("room", "blue"), ("access_token", s["har_multipart_token"])])}),
        entry("POST", f"https://telemetry.example-rooms.test/batch", "2026-11-25T09:00:04.000Z",
              post={"mimeType": "application/x-ndjson", "text": ndjson}),
        entry("POST", f"https://telemetry.example-rooms.test/b64", "2026-11-25T09:00:05.000Z",
              post={"mimeType": "application/json", "text": json.dumps({"payload": nested, "v": 2})}),
        entry("GET", f"wss://{HOST}/signal", "2026-11-25T09:00:06.000Z",
              _webSocketMessages=[
                  {"type": "send", "time": 1795597206.1, "opcode": 1, "data": json.dumps({"type": "offer", "sdp": sdp})},
                  {"type": "send", "time": 1795597206.2, "opcode": 2,
                   "data": base64.b64encode(b"\x08\x01\x12\x20password=" + s["har_ws_binary_password"].encode() + b"\x1a\x00").decode()},
              ]),
    ]
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                                        "entries": entries}}))


# ---- .mitm ---------------------------------------------------------------------------------------
def write_flow_file(path: Path) -> None:
    """HTTP and WebSocket flows serialised by mitmproxy's own FlowWriter."""
    from mitmproxy import flow as mflow
    from mitmproxy import http, io
    from mitmproxy.test import tflow
    from wsproto.frame_protocol import Opcode
    from mitmproxy.websocket import WebSocketMessage

    s = SECRETS
    body = json.dumps({"user": "auditor", "credentials": [{"type": "password", "value": s["mitm_nested_credential"]}],
                       "screen": "1920x1080"}).encode()
    req = http.Request.make("POST", f"https://api.jit.si/v1/login?room=blue&api_key={s['mitm_query_api_key']}", body,
                            {"content-type": "application/json", "x-vendor-session": s["mitm_session_header"],
                             "cookie": f"sid={s['mitm_cookie']}"})
    resp = http.Response.make(200, b'{"ok":true}', {"content-type": "application/json",
                                                    "set-cookie": f"sid={s['mitm_set_cookie']}; Path=/; Secure"})
    login = tflow.tflow(req=req, resp=resp)
    login.request.timestamp_start = 1795597210.0
    failed = tflow.tflow(req=http.Request.make("GET", "https://api.jit.si/v1/profile"), err=True)
    failed.error = mflow.Error(f"upstream closed: password={s['mitm_error_password']} rejected")
    failed.request.timestamp_start = 1795597211.0
    socket = tflow.twebsocketflow(messages=False)
    socket.request.url = f"wss://api.jit.si/xmpp-websocket?room=blue&token={s['mitm_ws_url_token']}"
    socket.request.timestamp_start = 1795597212.0
    socket.websocket.messages = [
        WebSocketMessage(Opcode.TEXT, True, json.dumps({"type": "auth", "token": s["mitm_ws_text_token"]}).encode(), 1795597212.5),
        WebSocketMessage(Opcode.BINARY, True, b"\x0a\x05hello\x12\x10password=" + s["mitm_ws_binary_password"].encode(), 1795597212.6),
    ]
    with path.open("wb") as fh:
        writer = io.FlowWriter(fh)
        for item in (login, failed, socket):
            writer.add(item)


# ---- observations.jsonl ---------------------------------------------------------------------------
def write_observations(path: Path) -> None:
    """Records with the addon's shape but nothing redacted (an older or foreign writer)."""
    s = SECRETS
    boundary = "xYzZY"
    records = [
        {"kind": "header", "format": "confaudit-observations", "version": 1, "tool": "foreign 0.0"},
        {"kind": "http", "flow_uuid": "obs-1", "ts": 1795597220.0, "method": "POST",
         "url": f"https://{HOST}/api/settings?password={s['obs_url_password']}&lang=en",
         "scheme": "https", "host": HOST, "port": 443, "path": f"/api/settings?code={s['obs_path_code']}",
         "query": [["password", s["obs_url_password"]], ["lang", "en"]], "http_version": "HTTP/1.1", "status": 200,
         "request_headers": [["authorization", "Basic " + base64.b64encode(f"auditor:{s['obs_basic_password']}".encode()).decode()],
                             ["cookie", f"sid={s['obs_cookie']}"], ["content-type", "application/x-www-form-urlencoded"]],
         "response_headers": [],
         "request_body": {"content_type": "application/x-www-form-urlencoded", "encoding": "identity", "size": 30,
                          "wire_size": 30, "truncated": False, "cap": 262144, "text": f"name=Ada&pin={s['obs_form_pin']}"},
         "response_body": None, "client": {"ip": "127.0.0.1", "port": 50000}, "server": {"ip": "127.0.0.1", "port": 443},
         "source": "live", "flow": None, "duration_ms": 3.0, "error": f"client reset; secret={s['obs_error_password']}"},
        {"kind": "http", "flow_uuid": "obs-2", "ts": 1795597221.0, "method": "POST", "url": f"https://{HOST}/upload",
         "scheme": "https", "host": HOST, "port": 443, "path": "/upload", "query": [], "http_version": "HTTP/1.1",
         "status": 200, "request_headers": [["content-type", f"multipart/form-data; boundary={boundary}"]],
         "response_headers": [],
         "request_body": {"content_type": f"multipart/form-data; boundary={boundary}", "encoding": "identity",
                          "size": 120, "wire_size": 120, "truncated": False, "cap": 262144,
                          "text": _multipart(boundary, [("note", "hi"), ("password", s["obs_multipart_password"])])},
         "response_body": {"content_type": "application/octet-stream", "encoding": "identity", "size": 40, "wire_size": 40,
                           "truncated": False, "cap": 65536,
                           "base64": base64.b64encode(b"\x00\x01\x02access_token=" + s["obs_binary_body_token"].encode()).decode()},
         "client": None, "server": None, "source": "live", "flow": None, "duration_ms": None, "error": None},
        {"kind": "websocket", "http_uuid": "obs-2", "ts": 1795597222.0, "from_client": True, "type": "text", "size": 100,
         "content": json.dumps({"iceServers": [{"urls": ["turn:turn.example-rooms.test:443"], "username": "1790000000:obs",
                                                "credential": s["obs_ws_turn_credential"]}]}),
         "truncated": False, "host": HOST, "url": f"wss://{HOST}/signal", "source": "live"},
        {"kind": "websocket", "http_uuid": "obs-2", "ts": 1795597222.5, "from_client": True, "type": "binary", "size": 40,
         "content": base64.b64encode(b'\x00\x01{"access_token":"' + s["obs_ws_binary_token"].encode() + b'"}').decode(),
         "truncated": False, "host": HOST, "url": f"wss://{HOST}/signal?token={s['obs_ws_binary_url_token']}", "source": "live"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


# ---- sessions -------------------------------------------------------------------------------------
def write_session(directory: Path, vendor: str, *, capture: bool = False, observations: bool = False,
                  flows: bool = False) -> Path:
    """A session directory as ``confaudit capture`` leaves it (manifest hashed last)."""
    from confaudit.session.directory import finish_manifest, new_manifest

    directory.mkdir(parents=True)
    if capture:
        write_capture(directory / "capture.pcapng")
        client_random = "a1" * 32
        (directory / "sslkeys.log").write_text(f"CLIENT_RANDOM {client_random} {SECRETS['keylog_master_secret']}\n")
    if observations:
        write_observations(directory / "observations.jsonl")
    if flows:
        write_flow_file(directory / "flows.mitm")
    manifest = new_manifest(vendor, scenario="planted secrets", simulated=True)
    manifest["started"] = 1795597200.0
    finish_manifest(directory, manifest, stopped=1795597300.0)
    return directory
