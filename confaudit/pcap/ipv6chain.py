"""IPv6 extension headers, column-wise: the walk to the transport header, and the rows it gives up on.

Hop-by-hop, routing, fragment, destination options and AH headers are skipped, at most
:data:`MAX_EXTENSION_HEADERS` of them; the fragment headers met are recorded for reassembly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confaudit.pcap.gather import be16, equals_any, field, take_rows, windows

IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_SKIPPABLE = (0, 43, 44, 51, 60)
MAX_EXTENSION_HEADERS = 8
IPV6_TOO_MANY_EXTENSIONS = "ipv6_extension_chain_too_long"
IPV6_EXTENSION_PAST_PACKET = "ipv6_extension_past_packet"


@dataclass(slots=True)
class ExtensionWalk:
    """Where the IPv6 extension-header walk ended, per row, and the fragment headers it met."""

    proto: Any
    """int64[n]: the next header where the walk stopped (the transport's protocol when it got through)."""
    l4: Any
    """int64[n]: absolute offset of that header."""
    fragment: Any
    """bool[n]: a fragment header with an offset or the M flag was met (atomic fragments are whole)."""
    later: Any
    """bool[n]: that fragment header has a non-zero offset (no transport header follows)."""
    frag_data: Any = None
    """int64[n]: offset just after the fragment header (None until one is met; then 0 for other rows)."""
    frag_ident: Any = None
    """int64[n]: the fragment header's identification."""
    frag_offset: Any = None
    """int64[n]: the fragment's byte offset in the datagram."""
    frag_more: Any = None
    """bool[n]: the M (more fragments) flag."""
    frag_next: Any = None
    """int64[n]: the fragment header's next header (the fragmented part's first header)."""


def walk_extensions(arr: Any, is_v6: Any, proto: Any, l4: Any, ip_end: Any) -> ExtensionWalk:
    """Walk the extension headers of the ``is_v6`` rows from ``proto``/``l4`` (the fixed header's next header),
    at most :data:`MAX_EXTENSION_HEADERS` deep; a later fragment's walk ends at its fragment header."""
    import numpy as np

    n = len(proto)
    chain = ExtensionWalk(proto.copy(), l4.copy(), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    proto, l4 = chain.proto, chain.l4
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
        proto[active] = ext[:, 0]
        if is_frag.any():
            later = _fragment_header(chain, active[is_frag], take_rows(ext, is_frag))
            l4[active] += length
            stop = np.zeros(len(active), dtype=bool)
            stop[is_frag] = later  # a later fragment's data holds no headers: its walk ends here
            active = active[~stop]
        else:
            l4[active] += length
    return chain


def _fragment_header(chain: ExtensionWalk, at: Any, ext: Any) -> Any:
    """Record the fragment headers ``ext`` of rows ``at``; returns which of them are later fragments."""
    import numpy as np

    if chain.frag_data is None:
        n = len(chain.proto)
        chain.frag_data, chain.frag_ident, chain.frag_offset = (np.zeros(n, dtype=np.int64) for _ in range(3))
        chain.frag_more, chain.frag_next = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
    word = be16(ext, 2)
    chain.frag_data[at] = chain.l4[at] + 8
    chain.frag_ident[at] = field(ext, 4, ">u4")
    chain.frag_offset[at] = word & 0xFFF8
    chain.frag_more[at] = (word & 1) != 0
    chain.frag_next[at] = ext[:, 0]
    chain.fragment[at] |= (word & 0xFFF9) != 0  # offset or M flag set (else an atomic fragment: whole)
    later = (word >> 3) != 0
    chain.later[at] |= later
    return later


def chain_cut(proto: Any, l4: Any, ip_end: Any, declared_end: Any) -> tuple[Any, Any, Any]:
    """Masks over unfragmented IPv6 rows whose extension-header walk gave up: (a header runs past the packet's
    declared end, past the captured bytes only (snap length), more headers than the walk follows)."""
    still = equals_any(proto, IPV6_SKIPPABLE)
    reach = l4 + 8 * still  # a header still to walk needs at least its first 8 bytes
    past = reach > declared_end
    snapped = ~past & (reach > ip_end)
    return past, snapped, still & ~past & ~snapped
