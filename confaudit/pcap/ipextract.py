"""IPv4/IPv6 and TCP/UDP headers, column-wise, into the :class:`PacketChunk` columns.

Payload length comes from the IP length (so Ethernet padding is never payload), clipped to the
captured bytes. IPv6 extension headers (hop-by-hop, routing, fragment, destination options, AH)
are skipped, at most :data:`MAX_EXTENSION_HEADERS` of them. GTP-U (UDP 2152, mobile networks'
user-plane tunnel) is unwrapped: a row stands for the user's own packet inside the tunnel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.pcap.gather import be16, equals_any, field, take_rows, windows

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


def extract_ip(arr: Any, l3: Any, family: Any, cap_end: Any, unwrap_tunnels: bool = True) -> IpColumns:
    """Decode the IP and transport headers at ``l3`` (absolute offsets; ``cap_end`` bounds each frame)."""
    import numpy as np

    claims_ip = np.flatnonzero(family != 0)
    fam, end = family, cap_end
    if len(claims_ip) < len(family):
        l3, fam, end = l3[claims_ip], family[claims_ip], cap_end[claims_ip]
    win = windows(arr, l3, 40)
    ihl = (win[:, 0] & 0x0F) * 4
    version = win[:, 0] >> 4
    v4 = (fam == 4) & (version == 4) & (ihl >= 20) & (l3 + ihl <= end)
    v6 = (fam == 6) & (version == 6) & (l3 + 40 <= end)
    ok = v4 | v6
    truncated = claims_ip[~ok]
    rows = claims_ip
    if len(truncated):
        l3, end, win, ihl, v4, rows = l3[ok], end[ok], take_rows(win, ok), ihl[ok], v4[ok], claims_ip[ok]

    length = np.where(v4, field(win, 2, ">u2"), field(win, 4, ">u2")).astype(np.int64)
    ip_end = np.minimum(l3 + np.where(v4, np.maximum(length, ihl), length + 40), end)
    ip_end = np.where(length == 0, end, ip_end)  # 0: TSO capture (IPv4), jumbogram (IPv6)
    proto = np.where(v4, win[:, 9], win[:, 6]).astype(np.int64)
    l4 = np.where(v4, l3 + ihl, l3 + 40)
    frag_word = np.where(v4, field(win, 6, ">u2"), 0)
    fragment = (frag_word & 0x3FFF) != 0
    later_fragment = (frag_word & 0x1FFF) != 0
    if not v4.all():
        proto, l4, fragment, later_fragment = _skip_ipv6_extensions(arr, ~v4, proto, l4, ip_end, fragment, later_fragment)
    cols = _transport(arr, proto, l4, ip_end, later_fragment)
    cols.update(_addresses(win, v4), ip_version=np.where(v4, 4, 6).astype(np.uint8), proto=proto.astype(np.uint8),
                fragment=fragment)
    if unwrap_tunnels:
        _unwrap_gtpu(arr, cols)
    return IpColumns(rows=rows, truncated=truncated, columns=cols)


GTPU_PORT = 2152
MAX_GTP_EXTENSIONS = 4


def _gtpu_inner_offset(arr: Any, off: int, length: int) -> int | None:
    """Offset of the packet inside a GTP-U T-PDU (3GPP TS 29.281 §5), or None when the header does not walk."""
    flags = int(arr[off])
    size = 8
    if flags & 0x07:  # sequence number, N-PDU number or an extension header present
        size = 12
        next_type = int(arr[off + 11]) if length >= 12 else 0
        for _ in range(MAX_GTP_EXTENSIONS):
            if not (flags & 0x04) or next_type == 0:
                break
            if size + 1 > length:
                return None
            ext_len = int(arr[off + size]) * 4
            if ext_len == 0 or size + ext_len > length:
                return None
            next_type = int(arr[off + size + ext_len - 1])
            size += ext_len
        else:
            if flags & 0x04 and next_type:
                return None
    if size + 20 > length or int(arr[off + size]) >> 4 not in (4, 6):
        return None
    return off + size


def _unwrap_gtpu(arr: Any, cols: dict[str, Any]) -> None:
    """Replace GTP-U T-PDU rows (version 1, message type 0xFF) by the IP packet they tunnel, in place."""
    import numpy as np

    head = cols["head"]
    gtp = np.flatnonzero(((cols["sport"] == GTPU_PORT) | (cols["dport"] == GTPU_PORT)) & (cols["proto"] == UDP)
                         & ((head[:, 0] & 0xF0) == 0x30) & (head[:, 1] == 0xFF) & (cols["payload_len"] >= 28))
    if len(gtp) == 0:
        return
    rows, inner = [], []
    for row, off, length in zip(gtp.tolist(), cols["payload_off"][gtp].tolist(), cols["payload_len"][gtp].tolist()):
        start = _gtpu_inner_offset(arr, off, length)
        if start is not None:
            rows.append(row)
            inner.append((start, off + length))
    if not rows:
        return
    l3 = np.array([i[0] for i in inner], dtype=np.int64)
    end = np.array([i[1] for i in inner], dtype=np.int64)
    family = (arr[l3] >> 4).astype(np.uint8)
    unwrapped = extract_ip(arr, l3, family, end, unwrap_tunnels=False)
    if len(unwrapped.rows) == 0:
        return
    targets = np.asarray(rows, dtype=np.int64)[unwrapped.rows]
    for name, values in unwrapped.columns.items():
        cols[name][targets] = values


def _addresses(win: Any, v4: Any) -> dict[str, Any]:
    """Source and destination as uint64 halves; IPv4 in the IPv4-mapped form."""
    import numpy as np

    mapped = np.uint64(IPV4_MAPPED)
    return {
        "src_hi": np.where(v4, np.uint64(0), field(win, 8, ">u8")),
        "src_lo": np.where(v4, field(win, 12, ">u4") | mapped, field(win, 16, ">u8")),
        "dst_hi": np.where(v4, np.uint64(0), field(win, 24, ">u8")),
        "dst_lo": np.where(v4, field(win, 16, ">u4") | mapped, field(win, 32, ">u8")),
    }


def _skip_ipv6_extensions(arr: Any, is_v6: Any, proto: Any, l4: Any, ip_end: Any, fragment: Any, later: Any):
    import numpy as np

    proto, l4, fragment, later = proto.copy(), l4.copy(), fragment.copy(), later.copy()
    # a row that stops (not an extension header, or cut short) never resumes: each round only
    # narrows the rows still walking
    active = np.flatnonzero(is_v6)
    for _ in range(MAX_EXTENSION_HEADERS):
        active = active[equals_any(proto[active], IPV6_SKIPPABLE) & (l4[active] + 8 <= ip_end[active])]
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
    is_udp = first & (proto == UDP)
    is_tcp = first & (proto == TCP)
    udp = is_udp & (l4 + 8 <= ip_end)
    tcp = is_tcp & (l4 + 20 <= ip_end)
    ports = udp | tcp
    doff = np.maximum((win[:, 12] >> 4) * 4, 20)
    payload_off = np.where(udp, l4 + 8, np.where(tcp, l4 + doff, l4))
    # a transport header cut short by the snap length leaves no payload at all
    short_header = (is_udp | is_tcp) & ~ports
    payload_off = np.minimum(np.where(short_header, ip_end, payload_off), ip_end)
    payload_len = np.maximum(ip_end - payload_off, 0)
    return {
        "sport": np.where(ports, field(win, 0, ">u2"), 0).astype(np.uint16),
        "dport": np.where(ports, field(win, 2, ">u2"), 0).astype(np.uint16),
        "tcp_flags": np.where(tcp, win[:, 13], 0).astype(np.uint8),
        "tcp_seq": np.where(tcp, field(win, 4, ">u4"), 0).astype(np.uint32),
        "payload_off": payload_off, "payload_len": payload_len,
        "head": _payload_head(arr, payload_off, payload_len),
    }


def _payload_head(arr: Any, payload_off: Any, payload_len: Any) -> Any:
    """uint8[n, HEAD_BYTES]: the first payload bytes of each row, zero past the payload."""
    import numpy as np

    head = windows(arr, payload_off, HEAD_BYTES)
    short = np.flatnonzero(payload_len < HEAD_BYTES)
    if len(short):
        head[short] = np.where(np.arange(HEAD_BYTES)[None, :] < payload_len[short, None], head[short], 0)
    return head
