"""Observation records from an older or foreign addon are redacted again on import, field by field.

The session's ``observations.jsonl`` is written as such a writer might: nothing redacted, headers as a
dict or as HAR's ``{name, value}`` objects, a body whose ``text`` is an object, a HAR-style base64 body,
a gzip-compressed binary body, an error object, a query object, a URL and a Host that are not strings,
extra keys (named like credentials, nested, lists, a secret as a key name), binary WebSocket messages and
their URLs, TLS, UDP and DNS records with extras, DNS answer data. The real ``confaudit`` is run on it
(analyze --json --parquet, check --json --sarif --junit --markdown, report) and no output may hold any
planted secret, raw, URL-encoded or base64 at any alignment.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

from support.environment import REPO
from support.planted_secrets import secret_forms

HOST = "rooms.example-rooms.test"
CLAIMS = REPO / "samples" / "claims" / "example-rooms.yaml"
JWT_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXktbmFtZSJ9.ReimpKeyNameSig27x"
SECRETS = {
    "url_query": "ReimpUrlTok3n01",
    "path_query": "ReimpPathTok3n02",
    "host_userinfo": "ReimpHostPw03xx",
    "query_pair": "ReimpQueryTok04x",
    "header_dict_cookie": "ReimpHdrCookie05",
    "header_dict_session": "ReimpHdrSession06",
    "header_har_set_cookie": "ReimpSetCookie07",
    "body_text_object": "ReimpBodyObj08xx",
    "body_gzip_base64": "ReimpGzipBody09x",
    "error_object": "ReimpErrorObj10x",
    "extra_cookies": "ReimpExtraCk11xx",
    "extra_nested": "ReimpExtraNest12",
    "extra_list": "ReimpExtraList13",
    "body_har_base64": "ReimpHarB64Body15",
    "query_object": "ReimpQueryObj16x",
    "header_bearer": "ReimpBearer17xxx",
    "ws_text": "ReimpWsText18xxx",
    "ws_binary": "ReimpWsBinary19x",
    "ws_binary_url": "ReimpWsBinUrl20x",
    "ws_url_list": "ReimpWsUrlList21",
    "ws_host_object": "ReimpWsHostObj22",
    "ws_extra_headers": "ReimpWsExtraHd23",
    "tls_extra_ticket": "ReimpTlsTicket24",
    "udp_extra_credential": "ReimpUdpCred25xx",
    "dns_answer_data": "ReimpDnsTxt26xxx",
    "key_name_jwt": JWT_KEY,
    "body_extra_key": "ReimpBodyExtra28",
}


def _records() -> list[dict]:
    s = SECRETS
    gz = gzip.compress(b"\x00\x01\x02access_token=" + s["body_gzip_base64"].encode() + b"\x00")
    return [
        {"kind": "header", "format": "confaudit-observations", "version": 0, "tool": "older-addon 0.0.1"},
        {"kind": "http", "flow_uuid": "f1", "ts": 1795597230.0, "method": "GET",
         "url": f"https://{HOST}/api/join?access_token={s['url_query']}&room=blue",
         "scheme": "https", "host": f"auditor:{s['host_userinfo']}@{HOST}", "port": 443,
         "path": f"/api/join?access_token={s['path_query']}&room=blue",
         "query": [["access_token", s["query_pair"]], ["room", "blue"]],
         "request_headers": {"Cookie": f"theme=dark; sid={s['header_dict_cookie']}",
                             "X-Vendor-Session": s["header_dict_session"], "User-Agent": "Mozilla/5.0 (X11; Linux)"},
         "response_headers": [{"name": "Set-Cookie", "value": f"sid={s['header_har_set_cookie']}; Path=/"}],
         "request_body": {"content_type": "application/json", "text": {"user": "ada", "password": s["body_text_object"]},
                          "note": f"password={s['body_extra_key']}"},
         "response_body": {"content_type": "application/octet-stream", "encoding": "gzip",
                           "base64": base64.b64encode(gz).decode()},
         "status": 200, "error": {"message": f"upstream said password={s['error_object']}", "code": 7},
         "source": "live", "flow": None, "client": None, "server": None,
         "cookies": f"theme=dark; sid={s['extra_cookies']}",
         "auth": {"user": "ada", "pass": s["extra_nested"]},
         "notes": [f"Authorization: Bearer {s['extra_list']}", "room=blue"],
         JWT_KEY: 1},
        {"kind": "http", "flow_uuid": "f2", "ts": 1795597231.0, "method": "POST", "url": f"https://{HOST}/upload?room=blue",
         "query": {"token": s["query_object"], "room": "blue"},
         "request_headers": [["authorization", f"Bearer {s['header_bearer']}"], ["cookie", 5], ["accept", "*/*"]],
         "request_body": {"content_type": "application/octet-stream", "encoding": "base64",
                          "text": base64.b64encode(b"\x00\x02password=" + s["body_har_base64"].encode() + b"\x00").decode()},
         "source": "live"},
        {"kind": "websocket", "http_uuid": "f1", "ts": 1795597232.0, "from_client": True, "type": "text",
         "content": json.dumps({"type": "auth", "credential": s["ws_text"], "room": "blue"}),
         "host": HOST, "url": f"wss://{HOST}/signal", "source": "live",
         "headers": {"Sec-WebSocket-Protocol": "v1", "Authorization": f"Bearer {s['ws_extra_headers']}"}},
        {"kind": "websocket", "http_uuid": "f1", "ts": 1795597232.5, "from_client": True, "type": "binary",
         "content": base64.b64encode(b'\x00\x01{"access_token":"' + s["ws_binary"].encode() + b'"}').decode(),
         "host": HOST, "url": f"wss://{HOST}/signal?token={s['ws_binary_url']}", "source": "live"},
        {"kind": "websocket", "http_uuid": "f1", "ts": 1795597233.0, "from_client": True, "type": "text",
         "content": "ping", "host": {"name": f"auditor:{s['ws_host_object']}@{HOST}"},
         "url": [f"wss://{HOST}/signal?token={s['ws_url_list']}"], "source": "live"},
        {"kind": "tls_clienthello", "ts": 1795597234.0, "sni": HOST, "alpn": ["h2"], "session_ticket": s["tls_extra_ticket"]},
        {"kind": "udp_flow", "ts": 1795597235.0, "client": {"ip": "10.0.0.2", "port": 50000},
         "server": {"ip": "203.0.113.9", "port": 3478}, "relay_credential": s["udp_extra_credential"]},
        {"kind": "dns", "ts": 1795597236.0, "questions": [{"name": HOST, "type": 16}],
         "answers": [{"name": HOST, "type": 16, "data": f'"v=vendor1; token={s["dns_answer_data"]}"'}]},
    ]


def _session(directory: Path) -> Path:
    from confaudit.session.directory import finish_manifest, new_manifest

    directory.mkdir(parents=True)
    (directory / "observations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _records()))
    manifest = new_manifest("Example Rooms", scenario="older addon", simulated=True)
    manifest["started"] = 1795597200.0
    manifest["stats"] = {"write_errors": 0, "dropped_records": 0}
    finish_manifest(directory, manifest, stopped=1795597300.0)
    return directory


def _confaudit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", *args], capture_output=True, text=True, timeout=300)


def test_foreign_observation_records_are_redacted_field_by_field_in_every_output(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    session, out = _session(tmp_path / "session"), tmp_path / "out"
    raw = (session / "observations.jsonl").read_text()
    compressed = base64.b64decode(json.loads(raw.splitlines()[1])["response_body"]["base64"])
    assert SECRETS["body_gzip_base64"].encode() in gzip.decompress(compressed)  # planted: the input holds each one
    assert [name for name, secret in SECRETS.items() if not any(f in raw for f in secret_forms(secret))] == ["body_gzip_base64"]
    evidence = out / "evidence.json"
    runs = [_confaudit("analyze", str(session), "--json", str(evidence), "--parquet", str(out / "parquet")),
            _confaudit("check", str(session), "--claims", str(CLAIMS), "--json", str(out / "findings.json"),
                       "--sarif", str(out / "results.sarif"), "--junit", str(out / "junit.xml"),
                       "--markdown", str(out / "summary.md")),
            _confaudit("report", str(session), "--claims", str(CLAIMS), "--out", str(out / "audit.html"))]
    # The older addon's records lack fields the schema requires: kept and redacted, but not judged, so the
    # evidence is incomplete and the check inconclusive (exit 3), never a pass.
    assert [r.returncode for r in runs] == [0, 3, 0], [r.stderr for r in runs]
    assert "2 http records lacked required fields" in (out / "findings.json").read_text()
    texts = {f"terminal {n}": r.stdout + r.stderr for n, r in enumerate(runs)}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        texts[str(path.relative_to(out))] = path.read_bytes().decode("latin-1")
        if path.suffix == ".parquet":
            texts[f"{path.name} (decoded)"] = json.dumps(pq.read_table(path).to_pylist(), default=str)
    assert {"evidence.json", "audit.html", "results.sarif", "junit.xml", "summary.md", "findings.json"} <= set(texts)
    leaked = {name: sorted(where for where, text in texts.items() if any(form in text for form in secret_forms(secret)))
              for name, secret in SECRETS.items()}
    assert {name: where for name, where in leaked.items() if where} == {}

    bundle = json.loads(evidence.read_text())
    assert bundle["complete"] is False and "2 http records lack required fields (client, duration_ms" in bundle["warnings"][0]
    bodies = [base64.b64decode(b["base64"] if "base64" in b else b["text"]) for h in bundle["http"]
              for b in (h.get("request_body"), h.get("response_body")) if isinstance(b, dict)
              and ("base64" in b or b.get("encoding") == "base64")]
    opened = b"".join(gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b for b in bodies)  # nothing left compressed
    assert len(bodies) == 2 and not [n for n, secret in SECRETS.items() if secret.encode() in opened]
    # Every record was read, and what is no secret stays readable.
    assert [len(bundle[k]) for k in ("http", "websocket", "tls_clienthello", "udp_flows", "dns_queries")] == [2, 3, 1, 1, 1]
    first, second = bundle["http"]
    assert "room=blue" in first["url"] and ["room", "blue"] in first["query"] and first["host"].endswith(f"@{HOST}")
    assert ["User-Agent", "Mozilla/5.0 (X11; Linux)"] in first["request_headers"]
    assert ["accept", "*/*"] in second["request_headers"] and ["room", "blue"] in second["query"]
    assert json.loads(bundle["websocket"][0]["content"])["room"] == "blue"
    assert bundle["tls_clienthello"][0]["sni"] == HOST and bundle["dns_queries"][0]["answers"][0]["data"].startswith('"v=vendor1;')
