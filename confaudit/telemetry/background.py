"""Traffic a device sends on its own: OS and browser services (``data/background.json``) and local-network addresses.

Each service names the documentation of its endpoints. Host names match as suffixes (the longest
entry wins); ports identify only flows that carry no name at all (DHCP, NTP, mDNS ...).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from confaudit.telemetry.entities import normalise_host


@dataclass(frozen=True)
class BackgroundService:
    """One OS, browser or local-network service and where its endpoints are documented."""

    id: str
    """Stable identifier (``apple-push``), cited in attribution reasons."""
    operator: str
    """Who runs it (Apple, Microsoft, Google, Mozilla, local network ...)."""
    service: str
    """What it does, in a few words."""
    domains: tuple[str, ...]
    """Host-name suffixes of its endpoints."""
    ports: tuple[tuple[str, int], ...]
    """(transport, port) pairs that identify it on flows without a name."""
    source: str
    """URL of the documentation naming the endpoints."""
    note: str
    """What was measured rather than documented (may be empty)."""

    def cite(self) -> str:
        return f"background.json: {self.id}, source {self.source}"


@dataclass(frozen=True)
class HostMatch:
    """A host name found on the background list."""

    service: BackgroundService
    """The matching service."""
    suffix: str
    """The list entry that matched (its label count is how specific the match is)."""

    @property
    def labels(self) -> int:
        return self.suffix.count(".") + 1


class BackgroundList:
    """Suffix and port index over the background services."""

    def __init__(self, services: list[BackgroundService]) -> None:
        self.services = services
        self._by_suffix = {d: s for s in services for d in s.domains}
        self._by_port = {p: s for s in services for p in s.ports}

    def match_host(self, host: str) -> HostMatch | None:
        labels = normalise_host(host).split(".")
        for i in range(len(labels) - 1):
            suffix = ".".join(labels[i:])
            if suffix in self._by_suffix:
                return HostMatch(self._by_suffix[suffix], suffix)
        return None

    def match_port(self, transport: Any, port: Any) -> BackgroundService | None:
        if not isinstance(port, int) or isinstance(port, bool) or not isinstance(transport, str):
            return None
        return self._by_port.get((transport.lower(), port))


def _service(item: dict[str, Any]) -> BackgroundService:
    ports = tuple((str(p["transport"]).lower(), int(p["port"])) for p in item.get("ports", ()))
    return BackgroundService(str(item["id"]), str(item["operator"]), str(item["service"]),
                             tuple(normalise_host(d) for d in item.get("domains", ())), ports,
                             str(item["source"]), str(item.get("note") or ""))


@lru_cache(maxsize=1)
def background_list() -> BackgroundList:
    """The built-in list (shipped with the package; a malformed file is a packaging bug and raises)."""
    from confaudit.jsonio import loads_strict

    raw = resources.files("confaudit.telemetry").joinpath("data", "background.json").read_text(encoding="utf-8")
    return BackgroundList([_service(item) for item in loads_strict(raw, "background.json")["services"]])


def local_address(address: Any) -> str | None:
    """Why traffic to ``address`` never leaves this machine or its link (multicast, broadcast ...), or None."""
    if not isinstance(address, str) or not address:
        return None
    try:
        ip = ipaddress.ip_address(normalise_host(address).split("%")[0])
    except ValueError:
        return None
    if ip.is_loopback:
        return f"{ip} is a loopback address: the traffic never left the machine"
    if ip.is_multicast:
        return f"{ip} is a multicast address: local-network discovery, not a party"
    if ip.is_link_local:
        return f"{ip} is a link-local address: it never leaves the local link"
    if ip.is_unspecified or (ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255")):
        return f"{ip} is a broadcast address: local-network discovery, not a party"
    return None
