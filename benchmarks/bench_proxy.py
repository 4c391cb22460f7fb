"""Added latency per proxied request: mitmdump + confaudit addon vs mitmdump alone (same run, loopback).

Two mitmdump processes front one real upstream HTTP server; requests alternate between them and
a direct connection, so load on the shared machine hits all three alike. Added latency =
proxied minus direct (median of per-round differences). Target: ratio with/without addon <= 1.2.
"""

from __future__ import annotations

import http.client
import http.server
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 300
TARGET_RATIO = 1.2
REQUEST_BODY = json.dumps({"event": "beacon", "ua": "Mozilla/5.0", "screen": "1920x1080", "pad": "x" * 900,
                           "access_token": "bench-secret"}).encode()
RESPONSE_BODY = json.dumps({"ok": True, "items": list(range(300))}).encode()


class _Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one send per response: no Nagle/delayed-ACK 40 ms stalls

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(RESPONSE_BODY)))
        self.end_headers()
        self.wfile.write(RESPONSE_BODY)

    def log_message(self, *args: object) -> None:
        return


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mitmdump() -> str:
    exe = Path(sys.executable).with_name("mitmdump")
    return str(exe) if exe.exists() else (shutil.which("mitmdump") or "mitmdump")


def _start_proxy(port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([_mitmdump(), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mitmdump exited: {proc.stderr.read().decode()[:300] if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mitmdump did not start")


def _timed_post(conn: http.client.HTTPConnection, url: str) -> float:
    start = time.perf_counter()
    conn.request("POST", url, body=REQUEST_BODY, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}")
    return (time.perf_counter() - start) * 1000.0


def measure(rounds: int = ROUNDS) -> dict[str, float]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{server.server_address[1]}/collect"
    tmp = tempfile.TemporaryDirectory(prefix="confaudit-bench-")
    plain_port, addon_port = _free_port(), _free_port()
    procs = [_start_proxy(plain_port, []),
             _start_proxy(addon_port, ["-s", str(REPO / "addons" / "confaudit.py"),
                                       "--set", f"confaudit_session={tmp.name}/session"])]
    try:
        direct = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
        plain = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=30)
        addon = http.client.HTTPConnection("127.0.0.1", addon_port, timeout=30)
        for conn in (direct, plain, addon):  # warm-up: connections, TLS-free upstream, first-request costs
            for _ in range(20):
                _timed_post(conn, "/collect" if conn is direct else upstream)
        plain_added, addon_added = [], []
        for i in range(rounds):
            order = [plain, addon] if i % 2 == 0 else [addon, plain]
            base = _timed_post(direct, "/collect")
            results = {id(c): _timed_post(c, upstream) for c in order}
            plain_added.append(results[id(plain)] - base)
            addon_added.append(results[id(addon)] - base)
        return {"plain_ms": statistics.median(plain_added), "addon_ms": statistics.median(addon_added), "rounds": rounds}
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.shutdown()
        tmp.cleanup()


def main() -> list[dict]:
    m = measure()
    ratio = m["addon_ms"] / m["plain_ms"] if m["plain_ms"] > 0 else float("inf")
    return [{"name": "proxy added latency per request (mitmdump + confaudit addon)", "value": round(m["addon_ms"], 3),
             "unit": "ms", "peer": "mitmdump alone", "peer_value": round(m["plain_ms"], 3), "ratio": round(ratio, 3),
             "target": TARGET_RATIO, "ok": ratio <= TARGET_RATIO}]


if __name__ == "__main__":
    for row in main():
        print(json.dumps(row))
