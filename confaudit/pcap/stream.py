"""Bounded byte streams over a capture file: plain or gzip, hashing the stored bytes as they pass.

gzip is decompressed incrementally with a cap on the expansion ratio, so a decompression bomb
ends with an error instead of exhausting memory or time.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from io import FileIO
from pathlib import Path
from typing import Any

from confaudit.errors import InputError

RAW_READ_BYTES = 1 << 20
THREAD_HASH_BYTES = 1 << 20
GZIP_MAX_RATIO = 100
GZIP_RATIO_FLOOR_BYTES = 16 << 20
"""Below this many decompressed bytes the ratio is not checked (small, highly compressible files)."""


class HashingFile:
    """An unbuffered file whose every byte read feeds a SHA-256 of the file as stored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fh: FileIO = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise InputError(path, exc.strerror or "cannot open file") from None
        self._hash = hashlib.sha256()
        self.raw_bytes_read = 0
        self._pool: ThreadPoolExecutor | None = None
        self._hashing: Future[None] | None = None

    def _update(self, data: bytes | memoryview) -> None:
        """Hash large reads on a helper thread (hashlib drops the GIL), at most one in flight."""
        self.settle()
        if len(data) < THREAD_HASH_BYTES:
            self._hash.update(data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="confaudit-sha256")
        self._hashing = self._pool.submit(self._hash.update, data)

    def read(self, n: int) -> bytes:
        try:
            data = self._fh.read(n)
        except OSError as exc:
            raise InputError(self.path, f"read error: {exc.strerror or exc}") from None
        self._update(data)
        self.raw_bytes_read += len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        try:
            n = self._fh.readinto(view)
        except OSError as exc:
            raise InputError(self.path, f"read error: {exc.strerror or exc}") from None
        self._update(view[:n])  # the reader never writes into a buffer region once it was read
        self.raw_bytes_read += n
        return n

    def settle(self) -> None:
        """Wait until no hash is in flight, so every buffer read so far may be written again."""
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    def finish_hash(self) -> str:
        """Hash whatever was not read, so the digest always covers the whole stored file."""
        while self.read(RAW_READ_BYTES):
            pass
        self.settle()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._hashing is not None:
            self._hashing.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._fh.close()


class PlainStream:
    """The capture bytes are the file bytes."""

    compressed = False

    def __init__(self, raw: HashingFile, prefix: bytes, size: int) -> None:
        self.raw = raw
        self.size = size
        self.warnings: list[str] = []
        self._prefix = prefix

    def remaining_hint(self) -> int | None:
        """Bytes left in the file (it may change under us; only used to size buffers)."""
        return max(self.size - self.raw.raw_bytes_read, 0) + len(self._prefix)

    def drain(self) -> int:
        return 0

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the file allows; returns the count (0 at end of file)."""
        total = min(len(self._prefix), len(view))
        view[:total] = self._prefix[:total]
        self._prefix = self._prefix[total:]
        while total < len(view):
            n = self.raw.readinto(view[total:])
            if n == 0:
                break
            total += n
        return total


class GzipStream:
    """Decompresses gzip members one after another, bounded by an expansion-ratio cap.

    Damage never costs what was decoded before it: a member whose CRC-32 or length trailer
    disagrees keeps its data (with a warning) and reading goes on with the next member; corrupt
    deflate data ends the stream after the last byte zlib could decode.
    """

    compressed = True

    def __init__(self, raw: HashingFile, stored_size: int, prefix: bytes) -> None:
        self.raw = raw
        self.stored_size = max(stored_size, 1)
        self.out_bytes = 0
        self.warnings: list[str] = []
        self._dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = prefix
        self._carry = b""
        self._member = 1
        self._done = False

    def remaining_hint(self) -> int | None:
        return None

    def drain(self) -> int:
        """Decompress and discard the rest (still under the ratio cap, so a bomb is always named)."""
        scratch = memoryview(bytearray(RAW_READ_BYTES))
        total = 0
        while n := self.readinto(scratch):
            total += n
        return total

    def _check_ratio(self) -> None:
        if self.out_bytes > GZIP_RATIO_FLOOR_BYTES and self.out_bytes > GZIP_MAX_RATIO * self.stored_size:
            raise InputError(self.raw.path, f"gzip expands more than {GZIP_MAX_RATIO}x "
                                            f"({self.stored_size} stored bytes gave over {self.out_bytes}) "
                                            "(decompression bomb?)")

    def _next_input(self) -> bytes:
        if self._dec.unconsumed_tail:
            return self._dec.unconsumed_tail
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self.raw.read(RAW_READ_BYTES)

    def _start_next_member(self, rest: bytes) -> bool:
        """After a member ends: continue with the next one, or stop (noting trailing garbage)."""
        if not rest:
            rest = self.raw.read(RAW_READ_BYTES)
        if not rest:
            return False
        if rest[:2] == b"\x1f\x8b":
            self._dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._pending = rest
            self._member += 1
            return True
        if rest.strip(b"\x00"):
            self.warnings.append("bytes after the end of the gzip data were ignored")
        elif self.raw.read(RAW_READ_BYTES).strip(b"\x00"):
            self.warnings.append("bytes after the end of the gzip data were ignored")
        return False

    def readinto(self, view: memoryview) -> int:
        total = min(len(self._carry), len(view))
        view[:total] = self._carry[:total]
        self._carry = self._carry[total:]
        while total < len(view) and not self._done:
            if self._dec.eof:
                if not self._start_next_member(self._dec.unused_data):
                    self._done = True
                    break
            data = self._next_input()
            if not data:
                self.warnings.append(f"gzip data is truncated (after {self.out_bytes} decompressed bytes)")
                self._done = True
                break
            before = self._dec.copy()  # zlib drops a call's whole output when it raises: keep the state to redo it
            try:
                out = self._dec.decompress(data, len(view) - total)
            except zlib.error as exc:
                out = self._after_error(before, data, exc)
            used = min(len(out), len(view) - total)
            view[total: total + used] = out[:used]
            self._carry = out[used:]
            total += used
            self.out_bytes += len(out)
            self._check_ratio()
        return total

    def _after_error(self, before: Any, data: bytes, exc: zlib.error) -> bytes:
        """What ``data`` decodes to up to the damage; note the damage, then resume or end the stream."""
        out, used = decoded_before_error(before, data)
        reason = str(exc).rsplit(": ", 1)[-1]
        where = f"after {self.out_bytes + len(out)} decompressed bytes"
        trailer_left = TRAILER_ERRORS.get(reason)
        if trailer_left is None or used is None:
            if self.out_bytes + len(out) == 0:
                raise InputError(self.raw.path, f"corrupt gzip data ({exc})") from None
            self.warnings.append(f"corrupt gzip data in member {self._member} {where} ({reason}): the rest of the "
                                 "file is not read")
            self._done = True
            return out
        check = "CRC-32" if trailer_left else "length"
        self.warnings.append(f"gzip member {self._member} fails its {check} check ({where}): its data may be damaged")
        rest = data[used:]
        while len(rest) < trailer_left and (more := self.raw.read(RAW_READ_BYTES)):
            rest += more
        if not self._start_next_member(rest[trailer_left:]):
            self._done = True
        return out


SALVAGE_STEPS = (4096, 64, 1)
"""Input bytes fed per call when decoding again up to a zlib error: coarse first, byte by byte at the end."""
TRAILER_ERRORS = {"incorrect data check": 4, "incorrect length check": 0}
"""zlib's messages for a gzip member whose deflate data ended well but whose trailer disagrees (CRC-32, then
ISIZE), with the trailer bytes that follow the one zlib failed on."""


def decoded_before_error(state: Any, data: bytes) -> tuple[bytes, int | None]:
    """(output of ``data`` from decompressor ``state`` up to the byte zlib fails on, bytes of ``data`` used
    including that byte); None for the second when no byte fails (zlib is deterministic: not expected).

    ``state`` is a copy taken before the failing call; it is consumed.
    """
    parts: list[bytes] = []
    pos = 0
    for step in SALVAGE_STEPS:
        while pos < len(data):
            trial = state.copy()
            try:
                parts.append(trial.decompress(data[pos: pos + step]))
            except zlib.error:
                if step == 1:
                    return b"".join(parts), pos + 1
                break  # retry this piece in smaller steps
            state = trial
            pos += step
    return b"".join(parts), None


def open_capture_stream(path: Path) -> tuple[HashingFile, PlainStream | GzipStream]:
    """Open ``path``; gzip is recognised by its magic bytes, never by the file name."""
    raw = HashingFile(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raw.close()
        raise InputError(path, exc.strerror or "cannot stat file") from None
    head = raw.read(2)
    if head == b"\x1f\x8b":
        return raw, GzipStream(raw, size, head)
    return raw, PlainStream(raw, head, size)
