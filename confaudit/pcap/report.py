"""What a capture reader saw: the honest account of one input file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ReadReport:
    """Counts and integrity of one capture file read (final once the reader is exhausted)."""

    path: str
    """The file as given."""
    format: str
    """"pcap" or "pcapng", with a ".gz" suffix when gzip-compressed."""
    size: int
    """Size of the file as stored, in bytes."""
    sha256: str
    """SHA-256 of the file as stored (hex); empty until the file has been read to its end."""
    records_read: int
    """Packet records read (IP and non-IP)."""
    records_skipped: int
    """Packet records found but unusable (bad interface, impossible lengths, degenerate runs)."""
    non_ip_records: int
    """Records read whose frame carries neither IPv4 nor IPv6 (ARP, LLDP, unsupported link types)."""
    bytes_consumed: int
    """Bytes of the capture stream (decompressed for gzip) walked by the record parser."""
    complete: bool
    """True only when every byte of the file was read as well-formed records."""
    warnings: tuple[str, ...]
    """One-line descriptions of everything that made the read partial or doubtful."""
    linktypes: tuple[int, ...]
    """Link-layer types of the file's interfaces, in order of first appearance."""
    truncated_ip_records: int = 0
    """IP frames whose IP header was cut short by the capture's snap length (not analysable)."""
    dsb_keylogs: tuple[str, ...] = ()
    """TLS key-log texts found in pcapng Decryption Secrets Blocks, in file order."""
    packets_dropped: int | None = None
    """Packets the capturing interface or OS dropped (pcapng Interface Statistics isb_ifdrop + isb_osdrop, last
    block per interface); None when the file records no drop counter (pcap never does). Above 0, the read is
    incomplete."""

    def as_input_dict(self) -> dict[str, Any]:
        """The evidence bundle's ``inputs[]`` entry for this file."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "format": self.format,
            "size": self.size,
            "records_read": self.records_read,
            "records_skipped": self.records_skipped,
            "non_ip_records": self.non_ip_records,
            "complete": self.complete,
            "warnings": list(self.warnings),
            "linktypes": list(self.linktypes),
            "decryption_secrets_blocks": len(self.dsb_keylogs),
            "packets_dropped": self.packets_dropped,
        }
