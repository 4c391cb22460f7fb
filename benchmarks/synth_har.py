"""Generate a large, realistic DevTools-style HAR (Chrome's export shape) quickly and cache it.

Per entry, as a video-conference web client produces them: GET page and API requests with query
strings, JSON telemetry beacons and form posts with device/locale/room fields, cookies and an API
token (the same per host until the session rotates them), JSON and base64 response bodies, Chrome's
``_initiator`` on third-party requests, every 50th a WebSocket with signalling messages; HAR 1.2's
optional fields are left out. About 770 bytes per entry: 100,000 entries make 77 MB. Written entry
by entry, so the generator never holds the document. Deterministic for a given size.
Usage: ``python -m benchmarks.synth_har --entries 100000 [--out FILE]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / ".data"
GENERATOR_VERSION = 2
SESSION_REQUESTS = 500
"""Requests between two rotations of the session cookie and API token."""
START = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)
VENDOR = ["rooms.example-rooms.test", "api.example-rooms.test", "edge-chat.example-rooms.test"]
THIRD = ["www.google-analytics.com", "api.segment.io", "o1.ingest.sentry.io", "events.launchdarkly.com",
         "cdn.jsdelivr.net", "stats.g.doubleclick.net"]
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
SCREENS = ["1920x1080", "2560x1440", "1366x768"]
LOCALES = ["en-US", "de-DE", "fr-FR"]


def hash_of(*parts: object) -> int:
    """A stable 48-bit value for ``parts`` (Python's hash() of str changes per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:6], "big")


def cached_path(entries: int) -> Path:
    return DATA_DIR / f"har-{entries}-v{GENERATOR_VERSION}.har"


def _h(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def _entry(i: int, rng: random.Random) -> dict:
    kind = i % 5
    host = VENDOR[i % 3] if kind in (0, 1, 3) else THIRD[i % len(THIRD)]
    when = (START + timedelta(milliseconds=37 * i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # A browser sends a host the same cookies until the session rotates them, and reuses its API token.
    session = f"{hash_of(host, i // SESSION_REQUESTS):x}"
    headers = [_h("user-agent", UA), _h("accept-language", LOCALES[i % 3]), _h("cookie", f"sid=s{session}; theme=dark")]
    request: dict = {"method": "GET", "httpVersion": "h2", "headers": headers}
    content: dict = {"size": 0, "mimeType": "text/plain"}
    if kind == 0:
        request["url"] = (f"https://{host}/api/rooms/{i % 97}/state?participant={i % 13}&seq={i}"
                          f"&access_token=t{hash_of('token', i // SESSION_REQUESTS):x}")
        content = {"size": 60, "mimeType": "application/json",
                   "text": json.dumps({"room": f"Room {i % 97}", "participants": i % 13, "ok": True}, separators=(",", ":"))}
    elif kind == 1:
        request.update(method="POST", url=f"https://{host}/api/telemetry")
        body = json.dumps({"event": "call_quality", "ts": 1795597200 + i, "device": {"screen": SCREENS[i % 3],
                           "os": "Linux", "cores": 8}, "audio": {"jitter": i % 40, "loss": (i % 7) / 100}}, separators=(",", ":"))
        headers.append(_h("content-type", "application/json"))
        request["postData"] = {"mimeType": "application/json", "text": body}
    elif kind == 2:
        request.update(method="POST", url=f"https://{host}/collect")
        headers.append(_h("content-type", "application/x-www-form-urlencoded"))
        request["postData"] = {"mimeType": "application/x-www-form-urlencoded",
                               "text": f"v=1&tid=UA-{i % 9}&cid={rng.getrandbits(32)}&ul={LOCALES[i % 3]}&sr={SCREENS[i % 3]}"}
    elif kind == 3:
        request["url"] = f"https://{host}/static/app.{i % 50}.js"
        content = {"size": 48, "mimeType": "application/octet-stream", "encoding": "base64",
                   "text": base64.b64encode(rng.randbytes(36)).decode()}
    else:
        request["url"] = f"https://{host}/p?e=pageview&dl=https%3A%2F%2Frooms.example-rooms.test%2Fr%2F{i % 97}"
    entry = {"startedDateTime": when, "time": round(5 + (i % 90) / 3, 3), "request": request,
             "response": {"status": 200, "httpVersion": "h2", "content": content,
                          "headers": [_h("content-type", content["mimeType"])]},
             "serverIPAddress": f"203.0.113.{i % 200 + 1}"}
    if host in THIRD:
        entry["_initiator"] = {"type": "script", "url": f"https://{VENDOR[0]}/static/app.js"}
    if i % 50 == 49:
        request["url"] = f"wss://{VENDOR[2]}/chat?region=eu"
        entry["response"]["status"] = 101
        entry["_webSocketMessages"] = [
            {"type": "send", "time": 1795597200.0 + i / 27, "opcode": 1,
             "data": json.dumps({"type": "presence", "room": f"Room {i % 97}", "muted": i % 2 == 0})},
            {"type": "receive", "time": 1795597200.1 + i / 27, "opcode": 1, "data": "{\"ack\":true}"}]
    return entry


def write_har(path: Path, entries: int) -> None:
    """Write the HAR to ``path`` (via a temporary sibling), entry by entry."""
    rng = random.Random(entries)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write('{"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, '
                 '"pages": [], "entries": [')
        for i in range(entries):
            fh.write(("," if i else "") + "\n" + json.dumps(_entry(i, rng), separators=(",", ":")))
        fh.write("\n]}}\n")
    os.replace(tmp, path)


def cached_har(entries: int) -> Path:
    path = cached_path(entries)
    if not path.exists():
        write_har(path, entries)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or cached_path(args.entries)
    write_har(out, args.entries)
    print(out)


if __name__ == "__main__":
    main()
