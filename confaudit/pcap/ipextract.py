"""IPv4/IPv6 and TCP/UDP headers, column-wise, into the :class:`PacketChunk` columns.

Payload length comes from the IP length (so Ethernet padding is never payload), clipped to the
captured bytes. IPv6 extension headers (hop-by-hop, routing, fragment, destination options, AH)
are skipped, at most :data:`MAX_EXTENSION_HEADERS` of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.pcap.gather import be16, be32, be64, windows

TCP = 6
UDP = 17
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_SKIPPABLE = (0, 43, 44, 51, 60)
MAX_EXTENSION_HEADERS = 8
HEAD_BYTES = 16
IPV4_MAPPED = 0xFFFF_0000_0000


@dataclass(frozen=True, slots=True)
class IpColumns:
    """Per-row header fields of the frames that carry a complete IP header."""

    rows: Any
    """int64[m]: indices (into the record batch) of the frames kept as packets."""
    truncated: Any
    """int64[k]: indices of frames claiming IP whose IP header is not fully captured or is invalid."""
    columns: dict[str, Any]
    """PacketChunk column name -> numpy array of length m."""


def extract_ip(arr: Any, l3: Any, family: Any, cap_end: Any) -> IpColumns:
    """Decode the IP and transport headers at ``l3`` (absolute offsets; ``cap_end`` bounds each frame)."""
    import numpy as np

    claims_ip = np.flatnonzero(family != 0)
    l3 = l3[claims_ip]
    fam = family[claims_ip]
    end = cap_end[claims_ip]
    win = windows(arr, l3, 40)
    version = win[:, 0] >> 4
    ihl = (win[:, 0] & 0x0F).astype(np.int64) * 4
    v4 = (fam == 4) & (version == 4) & (ihl >= 20) & (l3 + ihl <= end)
    v6 = (fam == 6) & (version == 6) & (l3 + 40 <= end)
    ok = v4 | v6
    truncated = claims_ip[~ok]
    l3, fam, end, win, ihl, v4 = l3[ok], fam[ok], end[ok], win[ok], ihl[ok], v4[ok]
    rows = claims_ip[ok]

    total = be16(win, 2)
    v4_end = np.where(total == 0, end, np.minimum(l3 + np.maximum(total, ihl), end))  # 0: TSO capture
    plen6 = be16(win, 4)
    v6_end = np.where(plen6 == 0, end, np.minimum(l3 + 40 + plen6, end))  # 0: jumbogram
    ip_end = np.where(v4, v4_end, v6_end)
    proto = np.where(v4, win[:, 9], win[:, 6]).astype(np.int64)
    l4 = np.where(v4, l3 + ihl, l3 + 40)
    frag_word = be16(win, 6)
    fragment = v4 & ((frag_word & 0x3FFF) != 0)
    later_fragment = v4 & ((frag_word & 0x1FFF) != 0)

    src_hi = np.where(v4, np.uint64(0), be64(win, 8))
    src_lo = np.where(v4, np.uint64(IPV4_MAPPED) | be32(win, 12).astype(np.uint64), be64(win, 16))
    dst_hi = np.where(v4, np.uint64(0), be64(win, 24))
    dst_lo = np.where(v4, np.uint64(IPV4_MAPPED) | be32(win, 16).astype(np.uint64), be64(win, 32))

    proto, l4, fragment, later_fragment = _skip_ipv6_extensions(arr, ~v4, proto, l4, ip_end, fragment, later_fragment)
    cols = _transport(arr, proto, l4, ip_end, later_fragment)
    cols.update(
        ip_version=np.where(v4, 4, 6).astype(np.uint8), proto=proto.astype(np.uint8),
        src_hi=src_hi.astype(np.uint64), src_lo=src_lo.astype(np.uint64),
        dst_hi=dst_hi.astype(np.uint64), dst_lo=dst_lo.astype(np.uint64), fragment=fragment.astype(bool),
    )
    return IpColumns(rows=rows, truncated=truncated, columns=cols)


def _skip_ipv6_extensions(arr: Any, is_v6: Any, proto: Any, l4: Any, ip_end: Any, fragment: Any, later: Any):
    import numpy as np

    proto, l4, fragment, later = proto.copy(), l4.copy(), fragment.copy(), later.copy()
    for _ in range(MAX_EXTENSION_HEADERS):
        active = np.flatnonzero(is_v6 & np.isin(proto, IPV6_SKIPPABLE) & (l4 + 8 <= ip_end))
        if active.size == 0:
            break
        ext = windows(arr, l4[active], 8)
        kind = proto[active]
        length = np.where(kind == IPV6_FRAGMENT, 8,
                          np.where(kind == IPV6_AH, (ext[:, 1].astype(np.int64) + 2) * 4,
                                   (ext[:, 1].astype(np.int64) + 1) * 8))
        is_frag = kind == IPV6_FRAGMENT
        frag_word = be16(ext, 2)
        fragment[active] |= is_frag & ((frag_word & 0xFFF9) != 0)  # offset or M flag set
        later[active] |= is_frag & ((frag_word >> 3) != 0)
        proto[active] = ext[:, 0]
        l4[active] += length
    return proto, l4, fragment, later


def _transport(arr: Any, proto: Any, l4: Any, ip_end: Any, later_fragment: Any) -> dict[str, Any]:
    import numpy as np


    win = windows(arr, l4, 20)
    first = ~later_fragment
    udp = first & (proto == UDP) & (l4 + 8 <= ip_end)
    tcp = first & (proto == TCP) & (l4 + 20 <= ip_end)
    ports = udp | tcp
    sport = np.where(ports, be16(win, 0), 0)
    dport = np.where(ports, be16(win, 2), 0)
    doff = np.maximum((win[:, 12] >> 4).astype(np.int64) * 4, 20)
    payload_off = np.where(udp, l4 + 8, np.where(tcp, l4 + doff, l4))
    # a transport header cut short by the snap length leaves no payload at all
    short_header = first & np.isin(proto, (TCP, UDP)) & ~ports
    payload_off = np.minimum(np.where(short_header, ip_end, payload_off), ip_end)
    payload_len = np.maximum(ip_end - payload_off, 0)
    head = windows(arr, payload_off, HEAD_BYTES)
    head = np.where(np.arange(HEAD_BYTES)[None, :] < payload_len[:, None], head, 0).astype(np.uint8)
    return {
        "sport": sport.astype(np.uint16), "dport": dport.astype(np.uint16),
        "tcp_flags": np.where(tcp, win[:, 13], 0).astype(np.uint8),
        "tcp_seq": np.where(tcp, be32(win, 4), 0).astype(np.uint32),
        "payload_off": payload_off.astype(np.int64), "payload_len": payload_len.astype(np.int64),
        "head": head,
    }
