"""Packet captures -> the packet side of the evidence bundle.

One pass over every input: vectorised flow accounting, RTP grouping and bounded evidence
sampling per chunk; datagrams carried inside TCP framing and TURN indications go through the
same steps as their carrier flow's own (``carried``). Then the wire parsers run on the samples
only, labels are decided per flow, media streams get an encryption verdict and the media path a
topology. Deterministic output.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from confaudit.redact import Redactor

if TYPE_CHECKING:
    from confaudit.analysis.sections import PacketSections
    from confaudit.evidence_model import InputSummary

Progress = Callable[[str, int, int], None]


class _Observer:
    """Feeds one chunk (or carried chunk) into the flow, sample and RTP-stream accumulators."""

    def __init__(self, phase_starts: Sequence[float] | None = None) -> None:
        from confaudit.analysis.carried import TcpFramer
        from confaudit.analysis.flows import FlowTable
        from confaudit.analysis.rtpstreams import StreamTable
        from confaudit.analysis.sampling import SampleStore
        from confaudit.wire.errors import ParserBugs

        self.table = FlowTable()
        self.streams = StreamTable(phase_starts)
        self.store = SampleStore()
        self.framer = TcpFramer()
        self.bugs = ParserBugs()

    def packets(self, chunk: Any) -> None:
        """A chunk read from a capture file."""
        from confaudit.analysis import classify

        classes = classify.classify(chunk.head, chunk.payload_len, chunk.proto)
        gidx, forward = self.table.add_chunk(chunk, classes)
        self._datagrams(chunk, classes, gidx, forward)
        framed = self.framer.feed(chunk, gidx, forward, self.bugs)
        if framed is not None:
            fclasses = classify.classify(framed.chunk.head, framed.chunk.payload_len, framed.chunk.proto)
            self.table.add_framed(framed.gidx, fclasses)
            self._datagrams(framed.chunk, fclasses, framed.gidx, framed.forward)

    def _datagrams(self, chunk: Any, classes: Any, gidx: Any, forward: Any) -> None:
        import numpy as np

        from confaudit.analysis import classify
        from confaudit.analysis.carried import relayed_by_indications

        inner = classify.channel_inner(chunk.head, chunk.payload_len, chunk.proto, classes)
        self.store.add_chunk(chunk, classes, gidx, forward, len(self.table), inner)
        take = self.store.take_bytes
        self.streams.add_rows(chunk, np.flatnonzero(classes == classify.RTP), gidx, forward, take)
        self.streams.add_rows(chunk, np.flatnonzero(inner == classify.RTP), gidx, forward, take,
                              inner_offset=classify.CHANNEL_HEADER, relay="channel_data")
        relayed = relayed_by_indications(chunk, classes, gidx, forward, self.bugs)
        if relayed is not None:
            rclasses = classify.classify(relayed.chunk.head, relayed.chunk.payload_len, relayed.chunk.proto)
            self.store.add_relayed(relayed, rclasses, len(self.table))
            self.streams.add_rows(relayed.chunk, np.flatnonzero(rclasses == classify.RTP), relayed.gidx,
                                  relayed.forward, take, relay="indication")


def analyze_captures(paths: Sequence[str | Path], progress: Progress | None = None,
                     phase_starts: Sequence[float] | None = None, *, redactor: Redactor) -> PacketSections:
    """Analyse the captures (in order; flows merge by 5-tuple across files) into a partial bundle.

    ``redactor`` tokenises the secrets the dissectors meet (SDP keys, ICE passwords, SIP credentials).

    ``phase_starts``: the session's phase marker times; each media stream then counts its packets and bytes per
    phase window (``phase_counts``), so a muted phase's audio rate is measured, not spread from the stream's totals.
    """
    from confaudit.pcap.reader import CaptureReader

    seen = _Observer(phase_starts)
    inputs: list[InputSummary] = []
    sizes = [_size(p) for p in paths]
    total = sum(sizes)
    done_before = 0
    for index, path in enumerate(paths):
        reader = CaptureReader(Path(path), input_index=index)
        label = Path(path).name
        for chunk in reader.chunks():
            seen.packets(chunk)
            if progress is not None:
                consumed = min(sizes[index], reader.bytes_consumed)
                progress(label, done_before + consumed, total)
        inputs.append(reader.report.as_input_dict())
        done_before += sizes[index]
        if progress is not None:
            progress(label, done_before, total)
    from confaudit.analysis.sections import packet_sections

    part = packet_sections(seen.table, seen.streams, seen.store, seen.bugs, seen.framer, redactor)
    part["inputs"] = inputs
    # Evidence that was counted but not dissected, or that a parser bug lost, could hide a finding: fail closed.
    part["complete"] = (all(bool(i.get("complete", False)) for i in inputs) and not seen.store.budget_exhausted
                        and not seen.bugs.any_bugs)
    return part


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
