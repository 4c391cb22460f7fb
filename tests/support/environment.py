"""What the tests run against: the repository, the real public captures, system binaries, a loopback HTTP server."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
"""The tests folder: test files live in one subfolder per confaudit package; data beside them (golden/, data/, rules/)."""
SHARED_CAPTURES = Path(os.environ.get("CONFAUDIT_SHARED", REPO.parent / "shared")) / "captures"
"""The real public captures (../shared/captures; CI always has them)."""
SAMPLE_SESSION = REPO / "samples" / "sessions" / "example-rooms"


def require_binary(name: str) -> str:
    """Path of a system binary the Makefile installs; skip with a reason if absent."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (make test installs it from Debian's packages)")
    return path


@contextlib.contextmanager
def loopback_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) for the block; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
