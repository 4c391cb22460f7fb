"""Address classes and the vendors' published media networks (pure lookups, no I/O beyond the data file).

Each special-use class is its own label, so a report never calls a documentation or carrier-grade
NAT address "private": loopback, private (RFC 1918, RFC 4193), cgnat (RFC 6598), link-local,
documentation (RFC 5737 TEST-NET-1/2/3, RFC 3849 2001:db8::/32), multicast, unspecified, reserved,
and public for everything else.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in
                       ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"))
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
PARTICIPANT_CLASSES = frozenset({"loopback", "private", "cgnat", "link-local"})
"""Classes of a participant's own network: media between two of these never left the premises or the carrier NAT."""


def _ip(address: str) -> Any:
    ip = ipaddress.ip_address(address.strip("[]"))
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


AddressClass = Literal["loopback", "private", "cgnat", "link-local", "documentation", "multicast", "unspecified", "reserved",
                       "public", "invalid"]
"""Special-use class of an address (never folded into 'private')."""


@lru_cache(maxsize=4096)
def address_class(address: str) -> AddressClass:
    """loopback | private | cgnat | link-local | documentation | multicast | unspecified | reserved | public | invalid."""
    try:
        ip = _ip(address)
    except ValueError:
        return "invalid"
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if any(ip in net for net in _DOCUMENTATION if net.version == ip.version):
        return "documentation"
    if ip.version == 4 and ip in _CGNAT:
        return "cgnat"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return "public"


@lru_cache(maxsize=1)
def _networks() -> tuple[tuple[Any, str, str, str], ...]:
    text = resources.files("confaudit.analysis").joinpath("data", "media_networks.json").read_text(encoding="utf-8")
    entries = json.loads(text)["networks"]
    return tuple((ipaddress.ip_network(e["network"]), e["vendor"], e["source"], e["operator"]) for e in entries)


@lru_cache(maxsize=4096)
def media_network(address: str) -> tuple[str, str, str, str] | None:
    """(service, network, source, operating company) when ``address`` is in a vendor's published media network."""
    try:
        ip = _ip(address)
    except ValueError:
        return None
    for net, vendor, source, operator in _networks():
        if net.version == ip.version and ip in net:
            return vendor, str(net), source, operator
    return None
