"""pcapng Interface Statistics Blocks: the packet counters a capturing tool recorded, drops above all.

A capture whose interface or operating system dropped packets is missing them, whatever else the
file looks like: the reader turns a non-zero isb_ifdrop or isb_osdrop into a warning, and the
input is then incomplete.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

ISB_COUNTERS = {4: "isb_ifrecv", 5: "isb_ifdrop", 6: "isb_filteraccept", 7: "isb_osdrop", 8: "isb_usrdeliv"}
"""Options holding 64-bit packet counters (pcapng specification, Interface Statistics Block)."""
DROP_COUNTERS = ("isb_ifdrop", "isb_osdrop")


@dataclass(frozen=True, slots=True)
class InterfaceStatistics:
    """The latest Interface Statistics Block of one interface (counters run from the start of the capture)."""

    section: int
    """Section number, from 1."""
    interface: int
    """Interface id within the section."""
    counters: dict[str, int]
    """Counters present in the block, by option name (isb_ifrecv, isb_ifdrop, isb_filteraccept,
    isb_osdrop, isb_usrdeliv)."""

    @property
    def dropped(self) -> int:
        """Packets the interface or the operating system dropped (isb_ifdrop + isb_osdrop)."""
        return sum(self.counters.get(name, 0) for name in DROP_COUNTERS)

    def warning(self, sections: int) -> str | None:
        """One line naming the drops, or None when there were none."""
        if not self.dropped:
            return None
        where = f"section {self.section} interface {self.interface}" if sections > 1 else f"interface {self.interface}"
        parts = ", ".join(f"{name} {self.counters[name]}" for name in DROP_COUNTERS if self.counters.get(name))
        received = f" of {self.counters['isb_ifrecv']} received" if "isb_ifrecv" in self.counters else ""
        return (f"{where} dropped {self.dropped}{received} packets while capturing ({parts}, per its Interface "
                "Statistics Block): the capture is missing them")


def statistics_from_options(section: int, interface: int, options: Iterable[tuple[int, bytes]],
                            endian: str) -> InterfaceStatistics | str:
    """The block's counters from its (code, value) options, or a one-line problem when one is malformed."""
    counters: dict[str, int] = {}
    for code, value in options:
        name = ISB_COUNTERS.get(code)
        if name is None:
            continue
        if len(value) != 8:
            return f"{name} has {len(value)} bytes, not 8: its drop counters are unknown"
        counters[name] = struct.unpack(endian + "Q", value)[0]
    return InterfaceStatistics(section, interface, counters)


def packets_dropped(statistics: Iterable[InterfaceStatistics]) -> int | None:
    """Total drops over the interfaces; None when no block carries a drop counter at all."""
    counted = [s for s in statistics if any(name in s.counters for name in DROP_COUNTERS)]
    return sum(s.dropped for s in counted) if counted else None
