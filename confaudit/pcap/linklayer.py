"""Link layers, column-wise: where each frame's IP header starts and which IP version it claims.

Supported: Ethernet (1) with up to three 802.1Q/802.1ad tags, PPPoE sessions and MPLS stacks of up to four
labels (deeper stacks are reported, not read), raw IP (101, 12, 14, 228, 229),
Linux cooked SLL (113) and SLL2 (276), BSD null/loopback (0, 108) in either byte order.
"""

from __future__ import annotations

from typing import Any

from confaudit.pcap.gather import be16, equals_any, windows

ETHERNET = 1
RAW_IP = (101, 12, 14)
RAW_IPV4 = 228
RAW_IPV6 = 229
LINUX_SLL = 113
LINUX_SLL2 = 276
BSD_NULL = 0
BSD_LOOP = 108
SUPPORTED = frozenset((ETHERNET, *RAW_IP, RAW_IPV4, RAW_IPV6, LINUX_SLL, LINUX_SLL2, BSD_NULL, BSD_LOOP))

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
MAX_VLAN_TAGS = 3
ETHERTYPE_PPPOE_SESSION = 0x8864
ETHERTYPES_MPLS = (0x8847, 0x8848)
MAX_MPLS_LABELS = 4
BSD_AF_INET = 2
BSD_AF_INET6 = (24, 28, 30)
VLAN_TOO_DEEP = "vlan_stack_too_deep"
MPLS_TOO_DEEP = "mpls_stack_too_deep"


def locate_l3(arr: Any, data_off: Any, caplen: Any, linktype: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Return (absolute offset of the IP header, claimed IP version 4/6 or 0 for non-IP, frames given up on).

    The last maps a reason (:data:`VLAN_TOO_DEEP`, :data:`MPLS_TOO_DEEP`) to the indices of the frames whose
    link layer nests deeper than the walker follows: their family is 0, but they are not known to be non-IP.
    """
    import numpy as np

    if len(data_off) and (linktype == linktype[0]).all():  # the usual case: no per-linktype row subsets
        shift, fam, deep = _one_linktype(int(linktype[0]), arr, data_off, caplen)
        return data_off + shift, np.where(caplen > shift, fam, 0).astype(np.uint8), deep
    l3 = data_off.copy()
    family = np.zeros(len(data_off), dtype=np.uint8)
    gave_up: dict[str, list[Any]] = {}
    for lt in np.unique(linktype):
        rows = np.flatnonzero(linktype == lt)
        shift, fam, deep = _one_linktype(int(lt), arr, data_off[rows], caplen[rows])
        fam = np.where(caplen[rows] > shift, fam, 0)
        l3[rows] = data_off[rows] + shift
        family[rows] = fam
        for reason, where in deep.items():
            gave_up.setdefault(reason, []).append(rows[where])
    return l3, family, {reason: np.sort(np.concatenate(parts)) for reason, parts in gave_up.items()}


def _one_linktype(lt: int, arr: Any, off: Any, caplen: Any) -> tuple[Any, Any, dict[str, Any]]:
    import numpy as np

    n = len(off)
    if lt == ETHERNET:
        win = windows(arr, off, 14 + 4 * MAX_VLAN_TAGS)
        etype = be16(win, 12)
        shift = np.full(n, 14, dtype=np.int64)
        deep = {}
        for tag in range(MAX_VLAN_TAGS):
            tagged = equals_any(etype, VLAN_TPIDS)
            if not tagged.any():
                break
            etype = np.where(tagged, be16(win, 16 + 4 * tag), etype)
            shift += 4 * tagged
        else:  # every tag the walker follows was taken: is there one more?
            deep[VLAN_TOO_DEEP] = np.flatnonzero(equals_any(etype, VLAN_TPIDS) & (caplen >= shift))
        fam = _from_ethertype(etype)
        _pppoe(arr, off, etype, shift, fam)
        deep[MPLS_TOO_DEEP] = _mpls(arr, off, etype, shift, fam, caplen)
        return shift, fam, {reason: rows for reason, rows in deep.items() if len(rows)}
    if lt in RAW_IP or lt in (RAW_IPV4, RAW_IPV6):
        # every frame on a raw-IP link claims to be IP: a wrong version nibble is an invalid IP
        # header (counted and warned), never a silently skipped "non-IP" frame
        nibble = windows(arr, off, 1)[:, 0] >> 4
        claimed = {RAW_IPV4: 4, RAW_IPV6: 6}.get(lt)
        fam = np.full(n, claimed, dtype=np.uint8) if claimed else np.where(nibble == 6, 6, 4).astype(np.uint8)
        return np.zeros(n, dtype=np.int64), fam, {}
    if lt == LINUX_SLL:
        return np.full(n, 16, dtype=np.int64), _from_ethertype(be16(windows(arr, off, 16), 14)), {}
    if lt == LINUX_SLL2:
        return np.full(n, 20, dtype=np.int64), _from_ethertype(be16(windows(arr, off, 2), 0)), {}
    if lt in (BSD_NULL, BSD_LOOP):
        win = windows(arr, off, 4).astype(np.int64)
        little = win[:, 0] | (win[:, 1] << 8) | (win[:, 2] << 16) | (win[:, 3] << 24)
        big = win[:, 3] | (win[:, 2] << 8) | (win[:, 1] << 16) | (win[:, 0] << 24)
        af = np.where(little & 0xFFFF0000, big, little)  # the family is small in the right order
        fam = np.where(af == BSD_AF_INET, 4, np.where(equals_any(af, BSD_AF_INET6), 6, 0)).astype(np.uint8)
        return np.full(n, 4, dtype=np.int64), fam, {}
    return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.uint8), {}


def _pppoe(arr: Any, off: Any, etype: Any, shift: Any, fam: Any) -> None:
    """PPPoE session frames: 6-byte PPPoE header, then the PPP protocol (0x0021 IPv4, 0x0057 IPv6)."""
    import numpy as np

    rows = np.flatnonzero(etype == ETHERTYPE_PPPOE_SESSION)
    if rows.size:
        ppp = be16(windows(arr, off[rows] + shift[rows] + 6, 2), 0)
        fam[rows] = np.where(ppp == 0x0021, 4, np.where(ppp == 0x0057, 6, 0))
        shift[rows] += 8


def _mpls(arr: Any, off: Any, etype: Any, shift: Any, fam: Any, caplen: Any) -> Any:
    """MPLS label stacks (up to :data:`MAX_MPLS_LABELS`); the payload's IP version is its first nibble.

    Returns the indices of the frames whose captured stack has no bottom-of-stack label within the limit.
    """
    import numpy as np

    rows = np.flatnonzero(equals_any(etype, ETHERTYPES_MPLS))
    if not rows.size:
        return rows
    labels = windows(arr, off[rows] + shift[rows], 4 * MAX_MPLS_LABELS + 1)
    bottom = (labels[:, 2: 4 * MAX_MPLS_LABELS: 4] & 1).astype(bool)
    found = bottom.any(axis=1)
    depth = np.argmax(bottom, axis=1) + 1
    nibble = labels[np.arange(len(rows)), np.minimum(4 * depth, 4 * MAX_MPLS_LABELS)] >> 4
    fam[rows] = np.where(found & (nibble == 4), 4, np.where(found & (nibble == 6), 6, 0))
    # a stack cut short by the snap length is not "too deep": only whole labels without a bottom count
    too_deep = ~found & (caplen[rows] >= shift[rows] + 4 * MAX_MPLS_LABELS)
    shift[rows] += 4 * depth
    return rows[too_deep]


def _from_ethertype(etype: Any) -> Any:
    import numpy as np

    return np.where(etype == ETHERTYPE_IPV4, 4, np.where(etype == ETHERTYPE_IPV6, 6, 0)).astype(np.uint8)
