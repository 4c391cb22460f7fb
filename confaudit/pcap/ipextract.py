"""IPv4/IPv6 and TCP/UDP headers, column-wise, into the :class:`PacketChunk` columns.

Payload length comes from the IP length (so Ethernet padding is never payload), clipped to the
captured bytes. IPv6 extension headers are walked by :mod:`confaudit.pcap.ipv6chain`; the rows it
gives up on are counted by reason and dropped. IP fragments are marked, with what their reassembly
needs (:class:`Fragments`). GTP-U (UDP 2152, mobile networks'
user-plane tunnel) is unwrapped: a row stands for the user's own packet inside the tunnel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from confaudit.pcap.gather import be16, field, take_rows, windows
from confaudit.pcap.ipv6chain import IPV6_EXTENSION_PAST_PACKET, IPV6_TOO_MANY_EXTENSIONS, chain_cut, walk_extensions

TCP = 6
UDP = 17
HEAD_BYTES = 16
IPV4_MAPPED = 0xFFFF_0000_0000
TCP_BAD_DATA_OFFSET = "tcp_data_offset_invalid"
TUNNELLED_FRAGMENTS = "tunnelled_fragments"


@dataclass(frozen=True, slots=True)
class Fragments:
    """The IP fragments among the kept rows, with what reassembly needs (parallel arrays of length k)."""

    index: Any
    """int64[k]: positions of the fragment rows in :attr:`IpColumns.rows` (and the columns)."""
    ident: Any
    """int64[k]: IPv4 identification (16 bits) or the IPv6 fragment header's identification (32 bits)."""
    offset: Any
    """int64[k]: byte offset of the fragment's data in the datagram."""
    more: Any
    """bool[k]: the more-fragments flag."""
    data_off: Any
    """int64[k]: absolute offset of the fragment's data in the buffer."""
    data_len: Any
    """int64[k]: length of the fragment's data as its IP header declares it."""
    captured: Any
    """int64[k]: bytes of that data actually captured (less than ``data_len`` when snapped)."""
    proto: Any
    """int64[k]: protocol of the fragmented part (IPv4 protocol; the next header after the IPv6 fragment header)."""
    l3: Any
    """int64[k]: absolute offset of the IP header (its addresses are the datagram's)."""


@dataclass(frozen=True, slots=True)
class IpColumns:
    """Per-row header fields of the frames that carry a complete IP header."""

    rows: Any
    """int64[m]: indices (into the record batch) of the frames kept as packets."""
    truncated: Any
    """int64[k]: indices of frames claiming IP whose IP header is not fully captured or is invalid."""
    columns: dict[str, Any]
    """PacketChunk column name -> numpy array of length m."""
    gave_up: dict[str, int]
    """Reason -> frames the decoder gave up on: not among ``rows`` (for :data:`TCP_BAD_DATA_OFFSET` and
    :data:`TUNNELLED_FRAGMENTS`: kept, but their payload resp. tunnelled packet is not analysed)."""
    fragments: Fragments | None = None
    """The rows that are IP fragments (None when there are none)."""


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
    total = field(win, 2, ">u2")
    # a total length shorter than the header is invalid; 0 is a TSO capture (the captured bytes count)
    v4 = (fam == 4) & (version == 4) & (ihl >= 20) & (l3 + ihl <= end) & ((total == 0) | (total >= ihl))
    v6 = (fam == 6) & (version == 6) & (l3 + 40 <= end)
    ok = v4 | v6
    truncated = claims_ip[~ok]
    rows = claims_ip
    if len(truncated):
        l3, end, win, ihl, v4, rows = l3[ok], end[ok], take_rows(win, ok), ihl[ok], v4[ok], claims_ip[ok]

    length = np.where(v4, field(win, 2, ">u2"), field(win, 4, ">u2")).astype(np.int64)
    # length 0: TSO capture (IPv4), jumbogram (IPv6): the packet ends where the capture does
    declared_end = np.where(length == 0, end, l3 + np.where(v4, np.maximum(length, ihl), length + 40))
    ip_end = np.minimum(declared_end, end)
    proto = np.where(v4, win[:, 9], win[:, 6]).astype(np.int64)
    l4 = np.where(v4, l3 + ihl, l3 + 40)
    frag_word = np.where(v4, field(win, 6, ">u2"), 0)
    fragment = (frag_word & 0x3FFF) != 0
    later_fragment = (frag_word & 0x1FFF) != 0
    chain = None
    if not v4.all():
        chain = walk_extensions(arr, ~v4, proto, l4, ip_end)
        proto, l4 = chain.proto, chain.l4
        fragment, later_fragment = fragment | chain.fragment, later_fragment | chain.later
    cols, bad_offsets = _transport(arr, proto, l4, ip_end, declared_end, fragment, later_fragment)
    cols.update(_addresses(win, v4), ip_version=np.where(v4, 4, 6).astype(np.uint8), proto=proto.astype(np.uint8),
                fragment=fragment)
    gave_up = {TCP_BAD_DATA_OFFSET: bad_offsets} if bad_offsets else {}
    if unwrap_tunnels:
        for reason, count in _unwrap_gtpu(arr, cols).items():
            gave_up[reason] = gave_up.get(reason, 0) + count
    fragments = None
    if fragment.any():
        fragments = _fragments(win, v4, chain, fragment, frag_word, l3, ihl, declared_end, ip_end)
    if chain is not None:
        walked = np.flatnonzero(~v4 & ~fragment)
        past, snapped, too_many = chain_cut(proto[walked], l4[walked], ip_end[walked], declared_end[walked])
        if past.any() or snapped.any() or too_many.any():
            for reason, mask in ((IPV6_EXTENSION_PAST_PACKET, past), (IPV6_TOO_MANY_EXTENSIONS, too_many)):
                if mask.any():
                    gave_up[reason] = gave_up.get(reason, 0) + int(np.count_nonzero(mask))
            truncated = np.sort(np.concatenate((truncated, rows[walked[snapped]])))
            keep = np.ones(len(rows), dtype=bool)
            keep[walked[past | snapped | too_many]] = False
            new_index = np.cumsum(keep) - 1
            rows, cols = rows[keep], {name: values[keep] for name, values in cols.items()}
            if fragments is not None:
                fragments = replace(fragments, index=new_index[fragments.index])
    return IpColumns(rows=rows, truncated=truncated, columns=cols, gave_up=gave_up, fragments=fragments)


def _fragments(win: Any, v4: Any, chain: Any, fragment: Any, frag_word: Any, l3: Any, ihl: Any,
               declared_end: Any, ip_end: Any) -> Fragments:
    import numpy as np

    index = np.flatnonzero(fragment)
    v4f = v4[index]
    if chain is None or chain.frag_data is None:  # IPv4 fragments only
        data_off = (l3 + ihl)[index]
        ident, offset = be16(win[index], 4), (frag_word[index] & 0x1FFF) * 8
        more, proto = (frag_word[index] & 0x2000) != 0, win[index, 9].astype(np.int64)
    else:
        data_off = np.where(v4f, (l3 + ihl)[index], chain.frag_data[index])
        ident = np.where(v4f, be16(win[index], 4), chain.frag_ident[index])
        offset = np.where(v4f, (frag_word[index] & 0x1FFF) * 8, chain.frag_offset[index])
        more = np.where(v4f, (frag_word[index] & 0x2000) != 0, chain.frag_more[index])
        proto = np.where(v4f, win[index, 9], chain.frag_next[index]).astype(np.int64)
    return Fragments(index=index, ident=ident.astype(np.int64), offset=offset.astype(np.int64), more=more,
                     data_off=data_off, data_len=np.maximum(declared_end[index] - data_off, 0),
                     captured=np.maximum(ip_end[index] - data_off, 0), proto=proto, l3=l3[index])


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


def _unwrap_gtpu(arr: Any, cols: dict[str, Any]) -> dict[str, int]:
    """Replace GTP-U T-PDU rows (version 1, message type 0xFF) by the IP packet they tunnel, in place.

    Returns what the decoder gave up on inside the tunnels; a tunnelled IP fragment is not reassembled
    (its row stays the GTP-U packet) and is counted as :data:`TUNNELLED_FRAGMENTS`.
    """
    import numpy as np

    head = cols["head"]
    gtp = np.flatnonzero(((cols["sport"] == GTPU_PORT) | (cols["dport"] == GTPU_PORT)) & (cols["proto"] == UDP)
                         & ((head[:, 0] & 0xF0) == 0x30) & (head[:, 1] == 0xFF) & (cols["payload_len"] >= 28)
                         & ~cols["fragment"])
    if len(gtp) == 0:
        return {}
    rows, inner = [], []
    for row, off, length in zip(gtp.tolist(), cols["payload_off"][gtp].tolist(), cols["payload_len"][gtp].tolist()):
        start = _gtpu_inner_offset(arr, off, length)
        if start is not None:
            rows.append(row)
            inner.append((start, off + length))
    if not rows:
        return {}
    l3 = np.array([i[0] for i in inner], dtype=np.int64)
    end = np.array([i[1] for i in inner], dtype=np.int64)
    family = (arr[l3] >> 4).astype(np.uint8)
    unwrapped = extract_ip(arr, l3, family, end, unwrap_tunnels=False)
    gave_up = dict(unwrapped.gave_up)
    whole = ~unwrapped.columns["fragment"]
    if not whole.all():
        gave_up[TUNNELLED_FRAGMENTS] = int(np.count_nonzero(~whole))
    targets = np.asarray(rows, dtype=np.int64)[unwrapped.rows[whole]]
    for name, values in unwrapped.columns.items():
        cols[name][targets] = values[whole]
    return gave_up


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


def _transport(arr: Any, proto: Any, l4: Any, ip_end: Any, declared_end: Any, fragment: Any,
               later_fragment: Any) -> tuple[dict[str, Any], int]:
    """(transport columns, count of unfragmented TCP segments whose data offset is below 20 or past the segment)."""
    import numpy as np

    win = windows(arr, l4, 20)
    first = ~later_fragment
    is_udp = first & (proto == UDP)
    is_tcp = first & (proto == TCP)
    udp = is_udp & (l4 + 8 <= ip_end)
    tcp = is_tcp & (l4 + 20 <= ip_end)
    ports = udp | tcp
    doff = (win[:, 12] >> 4).astype(np.int64) * 4
    payload_off = np.where(udp, l4 + 8, np.where(tcp, l4 + np.maximum(doff, 20), l4))
    # a transport header cut short by the snap length leaves no payload at all, and so does a data
    # offset outside the segment the IP header declares (where the payload starts is unknown)
    no_payload = (is_udp | is_tcp) & ~ports
    bad_offset = tcp & ((doff < 20) | (l4 + doff > declared_end))
    if bad_offset.any():
        bad_offset &= ~fragment
        no_payload |= bad_offset
    payload_off = np.minimum(np.where(no_payload, ip_end, payload_off), ip_end)
    payload_len = np.maximum(ip_end - payload_off, 0)
    cols = {
        "sport": np.where(ports, field(win, 0, ">u2"), 0).astype(np.uint16),
        "dport": np.where(ports, field(win, 2, ">u2"), 0).astype(np.uint16),
        "tcp_flags": np.where(tcp, win[:, 13], 0).astype(np.uint8),
        "tcp_seq": np.where(tcp, field(win, 4, ">u4"), 0).astype(np.uint32),
        "payload_off": payload_off, "payload_len": payload_len,
        "head": _payload_head(arr, payload_off, payload_len),
    }
    return cols, int(np.count_nonzero(bad_offset))


def _payload_head(arr: Any, payload_off: Any, payload_len: Any) -> Any:
    """uint8[n, HEAD_BYTES]: the first payload bytes of each row, zero past the payload."""
    import numpy as np

    head = windows(arr, payload_off, HEAD_BYTES)
    short = np.flatnonzero(payload_len < HEAD_BYTES)
    if len(short):
        head[short] = np.where(np.arange(HEAD_BYTES)[None, :] < payload_len[short, None], head[short], 0)
    return head
