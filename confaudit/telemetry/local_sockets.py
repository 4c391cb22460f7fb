"""Call flows of other programs on the recording machine, from the UDP socket owners a scenario run recorded
(``scenario_events[]`` of kind ``udp_socket``: ``owner`` run/other, ``address``, ``port``, ``process``).

A UDP flow is another program's call when none of its ends is a socket of the run (its browsers, its lab)
and one of them is a socket another program owned. A flow with no recorded owner on either end stays the
vendor's (fail closed): only positive evidence sets traffic aside.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from confaudit.telemetry.entities import normalise_host

WILDCARD = frozenset({"0.0.0.0", "::"})


def _dicts(bundle: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = bundle.get(key)
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class SocketOwners:
    """The recorded UDP sockets: which (address, port) were the run's and which another program's."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.run: set[tuple[str, int]] = set()
        self.other: dict[tuple[str, int], str] = {}
        for event in _dicts(bundle, "scenario_events"):
            port, address = event.get("port"), event.get("address")
            if event.get("kind") != "udp_socket" or not isinstance(port, int) or not isinstance(address, str):
                continue
            key = (normalise_host(address), port)
            if event.get("owner") == "run":
                self.run.add(key)
            elif event.get("owner") == "other":
                self.other.setdefault(key, str(event.get("process") or "unknown process")[:100])

    def __bool__(self) -> bool:
        return bool(self.run)

    @staticmethod
    def _keys(address: str, port: Any) -> list[tuple[str, int]]:
        """The socket keys a flow end may have been: its own address, or a wildcard bind when it is loopback."""
        if not isinstance(port, int) or isinstance(port, bool):
            return []
        host = normalise_host(address)
        return [(host, port)] + ([(w, port) for w in sorted(WILDCARD)] if _loopback(host) else [])

    def other_program(self, flow: Mapping[str, Any]) -> str | None:
        """Why ``flow`` is another program's traffic, or None (the run's, or not known)."""
        if not self or str(flow.get("transport") or "").lower() != "udp":
            return None
        ends = [(str(flow.get("src") or ""), flow.get("sport")), (str(flow.get("dst") or ""), flow.get("dport"))]
        keys = [k for address, port in ends for k in self._keys(address, port)]
        if any(k in self.run for k in keys):
            return None
        for key in keys:
            if key in self.other:
                return (f"flow {flow.get('id')} carries another program's call: UDP {key[0]}:{key[1]} was a socket "
                        f"of {self.other[key]}, and neither end a socket of this scenario run's browsers or lab")
        return None
