"""What a capture reader saw: the honest account of one input file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confaudit.pcap.ipextract import TCP_BAD_DATA_OFFSET, TUNNELLED_FRAGMENTS
from confaudit.pcap.ipv6chain import IPV6_EXTENSION_PAST_PACKET, IPV6_TOO_MANY_EXTENSIONS, MAX_EXTENSION_HEADERS
from confaudit.pcap.linklayer import MAX_MPLS_LABELS, MAX_VLAN_TAGS, MPLS_TOO_DEEP, VLAN_TOO_DEEP
from confaudit.pcap.reassembly import (INCOMPLETE, INVALID, MAX_DATAGRAM_BYTES, MAX_FRAGMENTS, MAX_IN_FLIGHT,
                                       OVER_LIMITS)

if TYPE_CHECKING:
    from confaudit.evidence_model import InputSummary

NOT_ANALYSED = {
    VLAN_TOO_DEEP: f"frames have more than {MAX_VLAN_TAGS} VLAN tags: not analysed",
    MPLS_TOO_DEEP: f"frames have no bottom of the MPLS label stack within {MAX_MPLS_LABELS} labels: not analysed",
    IPV6_TOO_MANY_EXTENSIONS: f"IPv6 packets have more than {MAX_EXTENSION_HEADERS} extension headers: not analysed",
    IPV6_EXTENSION_PAST_PACKET: "IPv6 packets have an extension header running past the packet: not analysed",
    TCP_BAD_DATA_OFFSET: "TCP segments have a data offset below 20 bytes or past the segment: payload not analysed",
    TUNNELLED_FRAGMENTS: "packets inside GTP-U tunnels are IP fragments (not reassembled): not analysed",
    INCOMPLETE: "IP fragments belong to datagrams that never completed (fragments missing or cut by the snap "
                "length, reassembly timed out, or the capture ended): not analysed",
    OVER_LIMITS: f"IP fragments were given up at the reassembly limits (more than {MAX_FRAGMENTS} fragments in a "
                 f"datagram, or more than {MAX_IN_FLIGHT} datagrams or 16 MiB in flight): not analysed",
    INVALID: f"IP fragments are invalid (a datagram longer than {MAX_DATAGRAM_BYTES[6]:,} bytes, or fragmented "
             "twice): not analysed",
}
"""Reason -> the rest of the warning line after the count, for each kind of packet the decoder gives up on."""


def not_analysed_warnings(counts: dict[str, int]) -> list[str]:
    """One warning line per reason, in the order of :data:`NOT_ANALYSED`."""
    return [f"{counts[reason]} {text}" for reason, text in NOT_ANALYSED.items() if counts.get(reason)]


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
    not_analysed: tuple[tuple[str, int], ...] = ()
    """(reason, count) for the packets the decoder gave up on (keys of :data:`NOT_ANALYSED`; IP fragments counted
    one by one); any makes the read incomplete."""
    datagrams_reassembled: int = 0
    """IP datagrams rebuilt from their fragments (each analysed as one packet, in the frame of its last fragment)."""
    fragments_conflicting: int = 0
    """IP fragments that overlapped bytes received earlier with other content (the earlier bytes were kept)."""

    def as_input_dict(self) -> InputSummary:
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
            "packets_not_analysed": dict(self.not_analysed),
            "ip_datagrams_reassembled": self.datagrams_reassembled,
        }
