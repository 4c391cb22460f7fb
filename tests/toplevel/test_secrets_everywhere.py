"""Planted secrets never reach any output.

1. Live: a dozen secrets through the real proxy, TLS upstream and client, plus a HAR with WebSocket SDP,
   checked in the evidence JSON, Parquet, observations and terminal summary.
2. Offline: distinct secrets in every input type (tests/support/planted_secrets.py) through every command that
   writes output, checked in every file and terminal output, raw, URL-encoded and base64 at any alignment.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from confaudit.lab.loopback import LabResolver, TlsUpstream
from confaudit.live.run import CaptureConfig, run_capture
from confaudit.redact import Redactor

from support.environment import REPO

HOST = "rooms.example-rooms.test"
SECRETS = {
    "cookie": "CK-7f3a9b2c1d",
    "set_cookie": "SC-88aa77bb66",
    "bearer": "opaque-bearer-0a1b2c3d4e5f",
    "api_key_header": "0123456789abcdef0123456789abcdef01234567",
    "query_token": "QT-4242424242",
    "form_password": "hunter2-form-pw",
    "json_client_secret": "CS-json-secret-99",
    "jwt_in_innocent_field": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdWRpdG9yLTEifQ.8Ck2iLm0pQr7sT1uVw3xYz5AbCdEfGhIjKlMnOpQrSt",
    "turn_credential": "turn-cred-5566778899",
    "turn_username": "1790000000:auditor-turn-user",
    "aws_key_in_response": "AKIAZZZZYYYYXXXXWWWW",
    "github_token_odd_header": "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "referer_userinfo_pw": "refpw-31337",
    "ice_pwd": "asd88fgpdd777uzjYhagZgQQ",
    "srtp_master_key": "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
}


def _upstream_handler(method: str, path: str, headers: dict, body: bytes) -> tuple[int, str, bytes]:
    answer = {"ok": True, "iceServers": [{"urls": ["turn:relay.example-rooms.test:443"],
                                          "username": SECRETS["turn_username"], "credential": SECRETS["turn_credential"]}],
              "debug": f"key={SECRETS['aws_key_in_response']}"}
    return 200, "application/json", json.dumps(answer).encode()


def _client(port: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{port}"}),
                                         urllib.request.HTTPSHandler(context=context))
    common = {"Cookie": f"session_pref=dark; sid={SECRETS['cookie']}",
              "Authorization": f"Bearer {SECRETS['bearer']}", "X-Api-Key": SECRETS["api_key_header"],
              "X-Debug": SECRETS["github_token_odd_header"],
              "Referer": f"https://auditor:{SECRETS['referer_userinfo_pw']}@{HOST}/lobby"}
    requests = [
        urllib.request.Request(f"https://{HOST}/api/join?room=blue&access_token={SECRETS['query_token']}", headers=common),
        urllib.request.Request(f"https://{HOST}/login", method="POST", headers={**common, "content-type": "application/x-www-form-urlencoded"},
                               data=f"user=auditor&password={SECRETS['form_password']}".encode()),
        urllib.request.Request(f"https://{HOST}/api/telemetry", method="POST", headers={**common, "content-type": "application/json"},
                               data=json.dumps({"client_secret": SECRETS["json_client_secret"], "note": SECRETS["jwt_in_innocent_field"],
                                                "screen": "1920x1080"}).encode()),
    ]
    for req in requests:
        with opener.open(req, timeout=20) as resp:
            resp.read()


def _har(path: Path) -> None:
    sdp = (f"v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:{SECRETS['ice_pwd']}\r\n"
           f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{SECRETS['srtp_master_key']}|2^20|1:32\r\n")
    entry = {"startedDateTime": "2026-11-25T09:00:00.000Z", "time": 3.0,
             "request": {"method": "GET", "url": f"wss://{HOST}/signal", "headers": [{"name": "Set-Cookie", "value": f"x={SECRETS['set_cookie']}; Path=/"}]},
             "response": {"status": 101, "headers": [{"name": "Set-Cookie", "value": f"sid={SECRETS['set_cookie']}; HttpOnly"}], "content": {}},
             "_webSocketMessages": [{"type": "send", "time": 1795597200.1, "opcode": 1, "data": json.dumps({"type": "offer", "sdp": sdp})}]}
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry]}}))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_no_planted_secret_reaches_any_output(tmp_path: Path) -> None:
    upstream = TlsUpstream([HOST], handler=_upstream_handler).start()
    session_dir = tmp_path / "session"

    async def scenario() -> None:
        def ready(state) -> None:
            async def drive() -> None:
                await asyncio.to_thread(_client, state.listen[0][1])
                state.stop.set()
            asyncio.get_running_loop().create_task(drive())
        await run_capture(CaptureConfig(out=session_dir, vendor="example-rooms", listen_port=0, iface="lo", duration=60,
                                        ssl_insecure=True, simulated=True,
                                        extra_addons=(LabResolver({HOST: upstream.port}),)), on_ready=ready, redactor=Redactor.default())

    try:
        asyncio.run(scenario())
    finally:
        upstream.stop()
    assert len(upstream.requests) == 3
    # The raw, sensitive files do hold them (proof the secrets were really on the wire) ...
    assert SECRETS["cookie"].encode() in (session_dir / "flows.mitm").read_bytes()
    har = tmp_path / "devtools.har"
    _har(har)
    out_json, parquet_dir = tmp_path / "evidence.json", tmp_path / "parquet"
    done = subprocess.run([sys.executable, "-m", "confaudit", "analyze", str(session_dir), str(har),
                           "--json", str(out_json), "--parquet", str(parquet_dir)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out_json.read_text())
    assert len(bundle["http"]) == 4 and len(bundle["websocket"]) == 1
    assert any("[REDACTED" in h["url"] for h in bundle["http"])
    outputs = {"evidence.json": out_json.read_text(), "terminal": done.stdout + done.stderr,
               "observations.jsonl": (session_dir / "observations.jsonl").read_text(),
               "manifest.json": (session_dir / "manifest.json").read_text()}
    import pyarrow.parquet as pq

    tables = sorted(parquet_dir.rglob("*.parquet"))
    assert tables, "analyze --parquet wrote no tables"
    for table in tables:
        outputs[table.name] = json.dumps(pq.read_table(table).to_pylist(), default=str)
    # ... and no output does.
    leaks = [(name, where) for name, secret in SECRETS.items() for where, text in outputs.items() if secret in text]
    assert leaks == []


# ---- every input type, every command, every output ------------------------------------------------
CLAIMS = REPO / "samples" / "claims"


def _confaudit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confaudit", *args], capture_output=True, text=True, timeout=300)


def _output_texts(out: Path, terminal: dict[str, str]) -> dict[str, str]:
    """Every written file (Parquet both as raw bytes and decoded) plus each command's terminal output."""
    import pyarrow.parquet as pq

    texts = dict(terminal)
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = str(path.relative_to(out))
        texts[name] = path.read_bytes().decode("latin-1")
        if path.suffix == ".parquet":
            texts[name + " (decoded)"] = json.dumps(pq.read_table(path).to_pylist(), default=str)
    return texts


@pytest.mark.timeout(600)
def test_distinct_secrets_in_every_input_type_reach_no_output(tmp_path: Path) -> None:
    """Inputs: a pcap (plaintext HTTP heads, SIP INVITE/REGISTER with SDP, STUN and TURN), a HAR (query,
    userinfo, Host, Cookie, Bearer, JSON/form/multipart/NDJSON/base64 bodies, Set-Cookie, WebSocket text and
    binary), a .mitm from mitmproxy's writer (query, headers, nested credentials, error, WebSocket), an
    unredacted observations.jsonl (URL, path, Basic auth, form, multipart, binary body and messages, error)
    and a key log. Outputs: analyze --json/--parquet, check --json/--sarif/--junit/--markdown, report,
    compare --out/--markdown/--json (with the per-vendor reports), score, diff --json, every terminal."""
    from support.planted_secrets import LINKED, SECRETS, secret_forms, write_har, write_session

    inputs, out = tmp_path / "in", tmp_path / "out"
    out.mkdir()
    rooms = write_session(inputs / "rooms", "Example Rooms", capture=True, observations=True)
    jitsi = write_session(inputs / "jitsi", "Jitsi Meet", flows=True)
    har = inputs / "devtools.har"
    write_har(har)
    raw_inputs = b"".join(p.read_bytes() for p in inputs.rglob("*") if p.is_file()).decode("latin-1")
    missing = [name for name, secret in SECRETS.items() if not any(f in raw_inputs for f in secret_forms(secret))]
    assert missing == [], "planted secrets absent from the inputs"
    all_inputs = [str(rooms), str(jitsi), str(har)]
    claims = str(CLAIMS / "example-rooms.yaml")
    evidence = out / "evidence.json"
    runs = {
        "analyze": _confaudit("analyze", *all_inputs, "--json", str(evidence), "--parquet", str(out / "parquet")),
        "check": _confaudit("check", *all_inputs, "--claims", claims, "--json", str(out / "findings.json"),
                            "--sarif", str(out / "results.sarif"), "--junit", str(out / "junit.xml"),
                            "--markdown", str(out / "summary.md")),
        "report": _confaudit("report", *all_inputs, "--claims", claims, "--out", str(out / "audit.html")),
        "compare": _confaudit("compare", str(rooms), str(jitsi), "--claims-dir", str(CLAIMS),
                              "--out", str(out / "compare" / "comparison.html"), "--markdown", str(out / "comparison.md"),
                              "--json", str(out / "comparison.json")),
        "score": _confaudit("score", *all_inputs, "--claims", claims),
        "diff": _confaudit("diff", str(evidence), str(jitsi), "--claims", claims, "--json", str(out / "diff.json")),
    }
    for name, done in runs.items():
        assert done.returncode in ((0, 1) if name == "check" else (0,)), f"{name}: {done.stderr}"

    texts = _output_texts(out, {f"{name} (terminal)": d.stdout + d.stderr for name, d in runs.items()})
    assert len(texts) >= 20, sorted(texts)
    leaks: dict[str, set[str]] = {}
    for name, secret in {**SECRETS, "linked": LINKED}.items():
        for form in secret_forms(secret):
            leaks.setdefault(name, set()).update(where + ("" if form == secret else " (encoded)")
                                                 for where, text in texts.items() if form in text)
    leaked = {name: sorted(where) for name, where in sorted(leaks.items()) if where}
    assert not leaked, "secret -> outputs holding it:\n" + "\n".join(f"  {n}: {', '.join(w)}" for n, w in leaked.items())

    # The inputs were really read: every section the secrets sit in is present in the bundle.
    bundle = json.loads(evidence.read_text())
    assert {h["source"] for h in bundle["http"]} == {"har", "mitm", "live"}
    assert {w["source"] for w in bundle["websocket"]} == {"har", "mitm", "live"}
    assert len(bundle["http_plain"]) == 3 and len(bundle["sip"]) == 3 and bundle["sdp"][0]["crypto_present"]
    assert sorted(len(s["usernames"]) for s in bundle["stun"]) == [2]
    # Linkable: the same secret in a packet and in a HAR query gets the same token.
    token = Redactor.default().token("x", LINKED).split("#")[1]
    assert token in bundle["http_plain"][0]["target"] and any(token in h["url"] for h in bundle["http"])
    sdes = bundle["sdp"][0]["media"][0]["crypto"][0]["key"]
    assert sdes.startswith("[REDACTED srtp-key #")
    assert any(sdes in w["content"] for w in bundle["websocket"] if w["source"] == "har")
    # Useful: non-secrets stay readable.
    assert bundle["http_plain"][0]["target"].startswith("/x?access_token=") and "room=blue" in bundle["http_plain"][0]["target"]
    assert bundle["http_plain"][1]["host"].endswith("@plain.example-rooms.test")
    assert bundle["sip"][0]["first_line"].startswith("INVITE sip:alice:") and "@sip.example-rooms.test" in bundle["sip"][0]["first_line"]
