"""Peers that do ``confaudit analyze``'s job on the same capture, and checks of the output each one wrote.

- nDPI's ``ndpiReader -i FILE -q -v 2``: a flow table with nDPI's protocol label per flow (C; it stops
  dissecting a flow after its first packets, then only counts);
- ``tshark -n -q -z conv,udp -z conv,tcp``: Wireshark dissects every packet, then prints its UDP and TCP
  conversation tables (no per-packet printing);
- NFStream (Python over nDPI, its own C metering processes): flows with nDPI labels, listed as JSON lines
  by :data:`NFSTREAM_SCRIPT`.

A check matches the peer's flows with the bundle's by transport and unordered endpoints (nDPI's matcher,
scripts/ndpi_agreement.py), requires the same packet count on matched flows, and for nDPI's labels
confaudit's protocol under that script's equivalences. ``problem`` is None when the output agrees.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MATCH_TARGET = 0.98
"""Share of the peer's flows that must be confaudit flows with the same packet count."""
LABEL_TARGET = 0.98
"""Share of the flows nDPI labels by DPI whose confaudit protocol must agree (the issue-11 target)."""
NDPI_CONFIDENCE = {6: "DPI"}
"""nDPI's ``ndpi_confidence_t`` values NFStream reports, as ndpiReader prints them (only DPI is compared)."""
NFSTREAM_SCRIPT = """import json, sys
from nfstream import NFStreamer
# Timeouts beyond the capture: one flow per 5-tuple, as confaudit and ndpiReader count them.
streamer = NFStreamer(source=sys.argv[1], statistical_analysis=False, idle_timeout=10**9, active_timeout=10**9)
with open(sys.argv[2], "w") as out:
    for f in streamer:
        out.write(json.dumps([f.protocol, f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.src2dst_packets,
                              f.dst2src_packets, f.application_name, f.application_confidence]) + "\\n")
"""


def _ndpi_agreement() -> Any:
    name = "ndpi_agreement"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "ndpi_agreement.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module  # its dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


@dataclass(frozen=True)
class FlowCheck:
    """How a peer's flow table compares with the bundle's."""

    peer_flows: int
    """Flows the peer listed."""
    matched: int
    """Of those, flows the bundle holds (same transport and endpoints) with the same packet count."""
    ours: int
    """The bundle's flows of the transports the peer lists."""
    labelled: int = 0
    """Flows both sides label (nDPI's DPI-confidence labels on matched flows); 0 for a peer without labels."""
    labels_agree: int = 0
    """Of ``labelled``, those where confaudit's protocol says what nDPI says."""
    unreadable: int = 0
    """Peer lines that could not be read (ndpiReader 4.2 prints some IPv6 addresses with two ``::``)."""

    @property
    def problem(self) -> str | None:
        if not self.peer_flows:
            return "the peer listed no flows"
        if self.matched < MATCH_TARGET * self.peer_flows or self.matched < MATCH_TARGET * self.ours:
            return f"only {self.matched} of the peer's {self.peer_flows} flows match confaudit's {self.ours}"
        if self.labelled and self.labels_agree < LABEL_TARGET * self.labelled:
            return f"labels agree on {self.labels_agree} of {self.labelled} flows"
        return None

    def summary(self) -> str:
        text = f"{self.matched}/{self.peer_flows} flows match (confaudit {self.ours})"
        if self.labelled:
            text += f", labels agree {self.labels_agree}/{self.labelled}"
        return text + (f", {self.unreadable} unreadable lines" if self.unreadable else "")


def _labelled(comparisons: list[Any]) -> tuple[int, int, int]:
    """(matched with equal packets, DPI-labelled, agreeing) of ndpi_agreement comparisons."""
    n = _ndpi_agreement()
    matched = sum(c.status != "missing" and c.packets_match for c in comparisons)
    tally = n.tally(comparisons)
    return matched, tally.flows - tally.missing, tally.agree


def ndpi_check(text: str, bundle: dict[str, Any]) -> FlowCheck:
    """ndpiReader ``-v 2`` output against the bundle: flows, packets and labels."""
    n = _ndpi_agreement()
    flows, unreadable = [], 0
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            flow = n.parse_ndpi_line(line, "ndpiReader", lineno)
        except n.ReferenceInputError:
            unreadable += 1
            continue
        if flow is not None:
            flows.append(flow)
    matched, labelled, agree = _labelled(n.compare("bench", flows, bundle))
    return FlowCheck(len(flows), matched, len(bundle.get("flows", [])), labelled, agree, unreadable)


def _endpoint(text: str) -> tuple[str, int]:
    address, _, port = text.rpartition(":")
    return str(ipaddress.ip_address(address.strip("[]"))), int(port)


def conv_check(text: str, bundle: dict[str, Any]) -> FlowCheck:
    """``tshark -z conv,udp -z conv,tcp`` tables against the bundle's UDP and TCP flows (5-tuples, frames)."""
    n = _ndpi_agreement()
    ours = {n.bundle_key(f): int(f["packets"]) for f in bundle.get("flows", []) if f.get("transport") in ("tcp", "udp")}
    proto, listed, matched = None, 0, 0
    for line in text.splitlines():
        if line.endswith(" Conversations"):
            proto = {"TCP": 6, "UDP": 17}.get(line.split()[0])
        fields = line.split()
        if proto is None or len(fields) < 12 or fields[1] != "<->":
            continue
        listed += 1
        key = (proto, frozenset({_endpoint(fields[0]), _endpoint(fields[2])}))
        frames = int(fields[9].replace(",", ""))  # a <-> b, then frames and bytes (number, unit) leftwards, rightwards, in total
        matched += ours.get(key) == frames
    return FlowCheck(listed, matched, len(ours))


def nfstream_check(lines: str, bundle: dict[str, Any]) -> FlowCheck:
    """NFStream's flows (:data:`NFSTREAM_SCRIPT`) against the bundle: flows, packets and nDPI labels."""
    n = _ndpi_agreement()
    flows = []
    for index, line in enumerate(lines.splitlines(), 1):
        proto, src, sport, dst, dport, up, down, name, confidence = json.loads(line)
        master, _, app = name.partition(".")
        flows.append(n.NdpiFlow(index=index, ip_protocol=proto, transport={6: "TCP", 17: "UDP"}.get(proto, str(proto)),
                                client=n.Endpoint(str(ipaddress.ip_address(src)), sport),
                                server=n.Endpoint(str(ipaddress.ip_address(dst)), dport), bidirectional=down > 0,
                                protocol=name, master=master, app=app or None,
                                confidence=NDPI_CONFIDENCE.get(confidence, str(confidence)),
                                packets_client=up, packets_server=down))
    matched, labelled, agree = _labelled(n.compare("bench", flows, bundle))
    return FlowCheck(len(flows), matched, len(bundle.get("flows", [])), labelled, agree)
