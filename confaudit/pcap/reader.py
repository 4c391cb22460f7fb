"""CaptureReader: stream a pcap/pcapng (optionally gzip) file as numpy packet chunks, fail-closed.

Reading is chunked into one buffer per chunk; a Python loop walks only the record framing, then
every header field is extracted column-wise; only IP fragments go through Python, to be
reassembled (:mod:`confaudit.pcap.fragments`). Anything that stops the walk early, records that
cannot be used, packets the decoder gives up on (counted per reason) and bytes left unread make
the read ``complete = False`` with a one-line warning. A file from which nothing at all can be read
raises :class:`InputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from confaudit.errors import InputError
from confaudit.pcap.chunk import Packet, PacketChunk
from confaudit.pcap.isb import packets_dropped
from confaudit.pcap.pcapfile import FILE_HEADER_BYTES, PcapWalker, is_pcap_magic
from confaudit.pcap.pcapng import TLS_KEY_LOG, PcapngWalker, is_pcapng_magic
from confaudit.pcap.reassembly import Reassembler
from confaudit.pcap.records import RecordBatch
from confaudit.pcap.read_report import ReadReport, not_analysed_warnings
from confaudit.pcap.stream import open_capture_stream

MAX_WARNINGS = 50
PAD_BYTES = 256
"""Zero bytes after the data in every buffer, so fixed-size header windows never leave it."""
MIN_CHUNK_BYTES = 4096


class CaptureReader:
    """One capture file, read once, front to back."""

    def __init__(self, path: str | Path, input_index: int = 0, chunk_bytes: int = 8 << 20) -> None:
        self.path = Path(path)
        self.input_index = input_index
        self.chunk_bytes = max(int(chunk_bytes), MIN_CHUNK_BYTES)
        if self.path.is_dir():
            raise InputError(self.path, "is a directory, not a capture file")
        if not self.path.exists():
            raise InputError(self.path, "no such file")
        if not self.path.is_file():  # a FIFO would block open(), a device never ends
            raise InputError(self.path, "not a regular file (pipes and devices are not read)")
        self._raw, self._stream = open_capture_stream(self.path)
        try:
            self._start()
        except BaseException:
            self._raw.close()
            raise

    def _start(self) -> None:
        self.size = self.path.stat().st_size
        if self.size == 0:
            raise InputError(self.path, "file is empty")
        head = bytearray(FILE_HEADER_BYTES)
        got = self._stream.readinto(memoryview(head))
        self._head = head[:got]
        if got == 0:
            problem = self._stream.warnings[0] if self._stream.warnings else "decompresses to nothing"
            raise InputError(self.path, f"gzip data holds no capture ({problem})")
        suffix = ".gz" if self._stream.compressed else ""
        if is_pcap_magic(self._head):
            self.format = "pcap" + suffix
            self._walker: PcapWalker | PcapngWalker = PcapWalker(self.path, bytes(self._head))
            self._first_offset = FILE_HEADER_BYTES
        elif is_pcapng_magic(self._head):
            self.format = "pcapng" + suffix
            self._walker = PcapngWalker(self.path)
            self._first_offset = 0
            if got < 12:
                raise InputError(self.path, f"truncated pcapng section header ({got} bytes)")
        else:
            what = "gzip data that is not" if suffix else "not"
            raise InputError(self.path, f"{what} a pcap or pcapng capture (unknown magic {bytes(self._head[:4]).hex()})")
        self._records_read = 0
        self._records_skipped = 0
        self._non_ip = 0
        self._truncated_ip = 0
        self._bytes_consumed = 0
        self._warnings: list[str] = []
        self._damaged = False
        self._unsupported: dict[int, int] = {}
        self._not_analysed: dict[str, int] = {}
        self._reassembler = Reassembler()
        self._sha256 = ""
        self._finished = False
        self._started = False

    # -- public ------------------------------------------------------------------------------
    @property
    def bytes_consumed(self) -> int:
        """Capture bytes framed so far (for progress)."""
        return self._bytes_consumed

    @property
    def report(self) -> ReadReport:
        """What has been read so far (final once :meth:`chunks` is exhausted)."""
        warnings = list(self._warnings)
        for lt, count in sorted(self._unsupported.items()):
            warnings.append(f"link type {lt} is not supported: {count} records not analysed")
        unknown = getattr(self._walker, "unknown_blocks", 0)
        if unknown:
            warnings.append(f"{unknown} pcapng blocks of unknown type skipped (corrupt, or a newer pcapng)")
        if self._truncated_ip:
            warnings.append(f"{self._truncated_ip} IP packets have an IP header cut short or invalid: not analysed")
        not_analysed = dict(self._not_analysed)
        for reason, count in self._reassembler.given_up.items():
            not_analysed[reason] = not_analysed.get(reason, 0) + count
        warnings.extend(not_analysed_warnings(not_analysed))
        if self._reassembler.conflicting:
            warnings.append(f"{self._reassembler.conflicting} IP fragments overlap bytes received earlier with other "
                            "content: the earlier bytes were analysed (a receiver may have kept the others)")
        walker = self._walker
        if isinstance(walker, PcapngWalker):  # classic pcap has no statistics blocks
            statistics = walker.statistics
            warnings.extend(walker.drop_warnings() if statistics else ())
        else:
            statistics = {}
        # complete means nothing at all was doubtful: every warning, whatever its kind, revokes it
        complete = self._finished and not (warnings or self._damaged or self._records_skipped)
        warnings = _distinct(warnings)
        return ReadReport(
            path=str(self.path), format=self.format, size=self.size, sha256=self._sha256,
            records_read=self._records_read, records_skipped=self._records_skipped,
            non_ip_records=self._non_ip, bytes_consumed=self._bytes_consumed, complete=complete,
            warnings=tuple(warnings), linktypes=tuple(self._walker.linktypes),
            truncated_ip_records=self._truncated_ip, dsb_keylogs=self._keylogs(),
            packets_dropped=packets_dropped(statistics.values()), not_analysed=tuple(sorted(not_analysed.items())),
            datagrams_reassembled=self._reassembler.reassembled, fragments_conflicting=self._reassembler.conflicting)

    def decryption_secrets(self) -> list[tuple[int, bytes]]:
        """(secrets type, data) of every pcapng Decryption Secrets Block read so far."""
        return list(getattr(self._walker, "secrets", []))

    def packets(self, select: Callable[[PacketChunk], Any] | None = None) -> Iterator[Packet]:
        """IP packets as :class:`Packet` (slow path; equal to ``chunk.packet(i)`` for each row).

        ``select(chunk)`` may return a boolean mask or row indices (e.g. ``lambda c: c.proto == 17``)
        so that only those rows are turned into objects. Columns are converted once per chunk and
        each distinct address is rendered once.
        """
        import numpy as np

        for chunk in self.chunks():
            rows = np.arange(len(chunk)) if select is None else np.asarray(select(chunk))
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
            if not len(rows):
                continue
            src = _addresses(chunk.src_hi[rows], chunk.src_lo[rows])
            dst = _addresses(chunk.dst_hi[rows], chunk.dst_lo[rows])
            cols = [c[rows].tolist() for c in (chunk.frame, chunk.ts, chunk.ip_version, chunk.proto, chunk.sport,
                                               chunk.dport, chunk.tcp_flags, chunk.tcp_seq, chunk.payload_off,
                                               chunk.payload_len, chunk.wire_len)]
            buf = memoryview(chunk.buf)  # one copy per payload instead of two
            index = chunk.input_index
            for i, (frame, ts, ver, proto, sport, dport, flags, seq, off, length, wire) in enumerate(zip(*cols)):
                # positional (field order of Packet) is twice as fast as keywords; a test pins the order
                yield Packet(index, frame, ts, ver, proto, src[i], sport, dst[i], dport, flags, seq,
                             bytes(buf[off: off + length]), wire)

    def chunks(self) -> Iterator[PacketChunk]:
        """Packet chunks in file order; raises InputError when nothing could be read at all."""
        if self._started:
            raise RuntimeError("a CaptureReader can be iterated only once")
        self._started = True
        try:
            yield from self._read_all()
            self._reassembler.finish()
            self._stream.drain()
            self._warnings.extend(self._stream.warnings)
            if self._stream.warnings:
                self._damaged = True
            self._sha256 = self._raw.finish_hash()
            self._finished = True
        finally:
            self._raw.close()
        if self._damaged and self._records_read == 0 and self._records_skipped == 0:
            raise InputError(self.path, f"no packet could be read: {self._warnings[0]}")

    # -- the read loop -----------------------------------------------------------------------
    def _read_all(self) -> Iterator[PacketChunk]:
        import numpy as np

        pending = bytes(self._head)
        start = self._first_offset
        self._bytes_consumed = start
        need = 0
        while True:
            size = max(self.chunk_bytes, need)
            left = self._stream.remaining_hint()
            if left:  # never allocate more than the rest of a plain file (+1 to see its end)
                size = max(min(size, len(pending) + left + 1), need)
            buf = bytearray(size + PAD_BYTES)
            buf[: len(pending)] = pending
            got = self._stream.readinto(memoryview(buf)[len(pending): size])
            end = len(pending) + got
            at_eof = end < size
            result = self._walker.walk(buf, start, end)
            self._warnings.extend(result.warnings)
            batch = result.batch
            if batch is not None and len(batch.data_off):
                chunk = self._to_chunk(np.frombuffer(buf, dtype=np.uint8), buf, batch)
                if len(chunk):
                    yield chunk
            self._bytes_consumed += result.consumed - start
            if result.stop:
                self._stop(result.stop)
                return
            pending = bytes(buf[result.consumed: end])
            need = result.need
            start = 0
            if at_eof:
                if pending:
                    self._stop(f"file ends inside a record: {len(pending)} trailing bytes unread")
                return
            if result.consumed == 0 and need <= len(pending):
                self._stop("record framing made no progress")
                return

    def _stop(self, reason: str) -> None:
        self._damaged = True
        self._warnings.append(f"{reason} (read stopped after {self._bytes_consumed} bytes of capture data)")

    def _to_chunk(self, arr: Any, buf: bytearray, batch: RecordBatch) -> PacketChunk:
        import numpy as np

        from confaudit.pcap.ipextract import extract_ip
        from confaudit.pcap.linklayer import SUPPORTED, locate_l3

        n = len(batch.data_off)
        frames = np.arange(self._records_read + self._records_skipped + 1,
                           self._records_read + self._records_skipped + 1 + n, dtype=np.int64)
        usable = batch.usable
        self._records_skipped += int(n - np.count_nonzero(usable))
        self._records_read += int(np.count_nonzero(usable))
        for lt in np.unique(batch.linktype[usable]):
            if int(lt) not in SUPPORTED:
                self._unsupported[int(lt)] = self._unsupported.get(int(lt), 0) + int(
                    np.count_nonzero(usable & (batch.linktype == lt)))
        l3, family, deep = locate_l3(arr, batch.data_off, batch.caplen, batch.linktype)
        family = np.where(usable, family, 0).astype(np.uint8)
        given_up = 0
        for reason, where in deep.items():
            count = int(np.count_nonzero(usable[where]))
            given_up += count
            self._gave_up(reason, count)
        self._non_ip += int(np.count_nonzero(usable & (family == 0))) - given_up
        ip = extract_ip(arr, l3, family, batch.data_off + batch.caplen)
        self._truncated_ip += len(ip.truncated)
        for reason, count in ip.gave_up.items():
            self._gave_up(reason, count)
        rows = ip.rows
        frame, ts, wire_len = frames[rows], batch.ts[rows], batch.wire_len[rows]
        frags = ip.fragments
        if frags is None:
            return PacketChunk(input_index=self.input_index, frame=frame, ts=ts, wire_len=wire_len, buf=buf,
                               **ip.columns)
        from confaudit.pcap.fragments import reassemble

        whole = reassemble(self._reassembler, buf, ip, frags, frame, ts, wire_len)
        for reason, count in whole.gave_up.items():
            self._gave_up(reason, count)
        return PacketChunk(input_index=self.input_index, buf=whole.buf, **whole.columns)

    def _gave_up(self, reason: str, count: int) -> None:
        if count:
            self._not_analysed[reason] = self._not_analysed.get(reason, 0) + count

    def _keylogs(self) -> tuple[str, ...]:
        return tuple(data.decode("utf-8", errors="replace")
                     for kind, data in getattr(self._walker, "secrets", []) if kind == TLS_KEY_LOG)


def _addresses(hi: Any, lo: Any) -> list[str]:
    """Text form of every row's address, rendering each distinct address once."""
    import numpy as np

    from confaudit.pcap.chunk import addr_to_str

    pairs, inverse = np.unique(np.stack((hi, lo), axis=1), axis=0, return_inverse=True)
    texts = [addr_to_str(h, l) for h, l in pairs.tolist()]
    return [texts[j] for j in inverse.reshape(-1).tolist()]


def _distinct(warnings: list[str]) -> list[str]:
    """Each warning once, in order; at most :data:`MAX_WARNINGS` (a hostile file can repeat one a lot)."""
    unique = list(dict.fromkeys(warnings))
    if len(unique) <= MAX_WARNINGS:
        return unique
    return unique[:MAX_WARNINGS] + [f"... and {len(unique) - MAX_WARNINGS} more distinct warnings"]
