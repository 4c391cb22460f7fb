"""observations.jsonl: the addon's append-only record stream (written off the event loop, flushed)."""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Mapping
from pathlib import Path

from confaudit import __version__
from confaudit.session.directory import open_private

FORMAT = "confaudit-observations"
FLUSH_INTERVAL_S = 0.5


def encode_line(record: Mapping[str, object]) -> bytes:
    """One JSONL line; lone surrogates from captured bytes become '?' instead of failing the write."""
    return (json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
            .encode("utf-8", "replace") + b"\n")


class ObservationWriter:
    """Appends records from any thread; a daemon thread writes and flushes them in batches."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = open_private(self.path)
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._queued_lock = threading.Lock()
        self.records_queued = 0
        self.records_written = 0
        self.write_errors = 0
        self._thread = threading.Thread(target=self._drain, name="confaudit-observations", daemon=True)
        self._thread.start()
        if new:
            self.write({"kind": "header", "format": FORMAT, "version": 1, "tool": f"confaudit {__version__}"})

    def write(self, record: Mapping[str, object]) -> None:
        """Queue one record (non-blocking: serialisation only, no I/O)."""
        line = encode_line(record)
        with self._queued_lock:
            self.records_queued += 1
        self._queue.put(line)

    @property
    def records_dropped(self) -> int:
        """Records queued but neither written nor counted as write errors (the writer thread died or
        did not finish within close()'s timeout): lost, final once close() returned."""
        return max(self.records_queued - self.records_written - self.write_errors, 0)

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_INTERVAL_S)
            except queue.Empty:
                continue
            batch = [item]
            while len(batch) < 4096:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            lines = [b for b in batch if b is not None]
            try:
                self._fh.write(b"".join(lines))
                self._fh.flush()
                self.records_written += len(lines)
            except (OSError, ValueError):  # ValueError: the file was closed under us (close() timed out)
                self.write_errors += len(lines)
            if stop:
                return

    def close(self) -> None:
        """Write everything queued, fsync and close."""
        if self._fh.closed:
            return
        self._queue.put(None)
        self._thread.join(timeout=30)
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
