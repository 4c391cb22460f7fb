"""Agreement of ``confaudit analyze`` with nDPI's own per-flow labels on real captures.

nDPI's regression suite ships, for every capture, the expected ``ndpiReader`` output
(``<capture>.out``: one line per flow with 5-tuple, detected protocol, confidence and packet
counts). This script parses those files, runs ``confaudit analyze CAPTURE --json OUT``, matches
flows by IP protocol and unordered endpoint pair, and reports per capture how many of nDPI's
``Confidence: DPI`` flows confaudit labels the same way (equivalences: ``EQUIVALENCES`` below and
docs/real-captures.md). ``python scripts/ndpi_agreement.py [--json OUT]``; exit 0 with a table,
1 when ``--min-agreement`` is not met, 3 on an unreadable capture or reference.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CAPTURES = Path(os.environ.get("CONFAUDIT_SHARED", REPO.parent / "shared")) / "captures"
DEFAULT_REFERENCES = REPO / "tests" / "data" / "ndpi-results"
TARGET_CONFIDENCE = "DPI"

# Reference files that do not describe the capture now on disk: measured for information only.
STALE_REFERENCES = {
    "zoom2.pcap": "the only stored zoom2.pcap.out predates nDPI commit 8321b7953, which trimmed the capture "
                  "(2514 packets in the reference, 342 in the file)",
}

IP_PROTOCOLS = {"TCP": 6, "UDP": 17, "ICMP": 1, "IGMP": 2, "ICMPV6": 58}
MEDIA = frozenset({"dtls", "rtp", "srtp", "rtcp", "srtcp"})
NOT_MODELLED = frozenset({"other", "tcp"})


class ReferenceInputError(ValueError):
    """A reference file or bundle cannot be read as such; str() names the file and the line."""


@dataclass(frozen=True)
class Endpoint:
    """One side of a flow."""

    address: str
    """IP address in canonical text form (IPv6 compressed, no brackets)."""
    port: int
    """Transport port; 0 for protocols without ports (ICMP, IGMP)."""


@dataclass(frozen=True)
class NdpiFlow:
    """One flow line of an ndpiReader ``.out`` file."""

    index: int
    """nDPI's flow number (restarts at 1 in the "Undetected flows" section)."""
    ip_protocol: int | None
    """IP protocol number from the transport column; None for a name not in IP_PROTOCOLS."""
    transport: str
    """The transport column as printed (TCP, UDP, ICMP, ICMPV6, IGMP)."""
    client: Endpoint
    """Left side as printed (the side nDPI saw first)."""
    server: Endpoint
    """Right side as printed."""
    bidirectional: bool
    """True for ``<->`` (packets both ways), False for ``->``."""
    protocol: str
    """Protocol name as printed, e.g. ``STUN.WhatsAppCall``."""
    master: str
    """Transport-level protocol (``STUN``), or the only name when nDPI gives one (``WhatsApp``)."""
    app: str | None
    """Application after the dot (``WhatsAppCall``), None when nDPI gives one name."""
    confidence: str
    """How nDPI decided: ``DPI``, ``DPI (cache)``, ``DPI (partial)``, ``Match by port``, ``Unknown`` ..."""
    packets_client: int
    """Packets client -> server."""
    packets_server: int
    """Packets server -> client."""

    @property
    def packets(self) -> int:
        return self.packets_client + self.packets_server

    def tuple_text(self) -> str:
        arrow = "<->" if self.bidirectional else "->"
        return f"{self.transport} {_hostport(self.client)} {arrow} {_hostport(self.server)}"


@dataclass(frozen=True)
class Comparison:
    """nDPI's label of one flow next to confaudit's."""

    capture: str
    """Capture file name."""
    ndpi: NdpiFlow
    """The reference flow."""
    status: str
    """``agree``, ``disagree``, or ``missing`` (no confaudit flow with this 5-tuple)."""
    expected: str
    """What confaudit must say for agreement, in words."""
    confaudit_flow: str | None
    """confaudit's flow id (``f<N>``)."""
    confaudit_protocol: str | None
    """confaudit's main label."""
    confaudit_labels: dict[str, int] | None
    """confaudit's packets per label."""
    confaudit_packets: int | None
    """confaudit's packet count for the flow."""

    @property
    def packets_match(self) -> bool:
        return self.confaudit_packets == self.ndpi.packets


@dataclass(frozen=True)
class Rule:
    """What confaudit must say for a flow nDPI labels with a master protocol."""

    main: frozenset[str]
    """Accepted main labels (``protocol``)."""
    via_labels: frozenset[str] = frozenset()
    """Also accepted: the flow's ``labels`` contain one of these ..."""
    via_main: frozenset[str] = frozenset()
    """... while its main label is one of these (a bundle whose main label is a later phase)."""
    why: str = ""
    """Reason for the equivalence, shown in docs/real-captures.md."""


_STUN_LIKE = frozenset({"stun", "turn"})
_RTP_LIKE = frozenset({"rtp", "srtp"})
_RTCP_LIKE = frozenset({"rtcp", "srtcp"})
EQUIVALENCES: dict[str, Rule] = {
    "STUN": Rule(_STUN_LIKE, _STUN_LIKE, MEDIA,
                 "nDPI names a flow by the first protocol it recognises; a STUN-then-DTLS/SRTP flow is STUN there"),
    "DTLS": Rule(frozenset({"dtls"}), frozenset({"dtls"}), MEDIA | _STUN_LIKE,
                 "a WebRTC 5-tuple carries STUN, DTLS and SRTP; confaudit's main label is the most frequent one"),
    "RTP": Rule(_RTP_LIKE, _RTP_LIKE, _RTCP_LIKE | _STUN_LIKE,
                "nDPI cannot tell SRTP from RTP by bytes either; rtcp-mux flows mix RTP and RTCP"),
    "SRTP": Rule(_RTP_LIKE, _RTP_LIKE, _RTCP_LIKE | _STUN_LIKE,
                 "nDPI says SRTP for RTP seen after STUN on the flow, which confaudit labels per packet"),
    "RTCP": Rule(_RTCP_LIKE, _RTCP_LIKE, _RTP_LIKE | _STUN_LIKE, "rtcp-mux flows mix RTP and RTCP"),
    "TLS": Rule(frozenset({"tls"})),
    "QUIC": Rule(frozenset({"quic"})),
    "DNS": Rule(frozenset({"dns"})),
    "MDNS": Rule(frozenset({"dns"}), why="mDNS uses the DNS message format (RFC 6762)"),
    "LLMNR": Rule(frozenset({"dns"}), why="LLMNR uses the DNS message format (RFC 4795)"),
    "HTTP": Rule(frozenset({"http"})),
    "SIP": Rule(frozenset({"sip"})),
    "Zoom": Rule(frozenset({"zoom"})),
}
# Application protocols that are TLS on the wire by definition (RFC 8314; APNs is TLS on 5223):
# nDPI names the application, confaudit the TLS records it parses.
TLS_WRAPPED = Rule(frozenset({"tls"}), why="IMAP/POP/SMTP over implicit TLS and Apple Push are TLS records on the wire")
for _name in ("IMAPS", "POPS", "SMTPS", "ApplePush"):
    EQUIVALENCES[_name] = TLS_WRAPPED
# RTP.Zoom: nDPI reads the RTP inside Zoom's own media encapsulation, confaudit labels the encapsulation.
ZOOM_MEDIA_MASTERS = frozenset({"RTP", "SRTP", "RTCP"})
OUT_OF_VOCABULARY = Rule(NOT_MODELLED, why="a protocol confaudit does not model: it must not claim one it does")

_FLOW_LINE = re.compile(r"^\t(\d+)\t([A-Z][A-Z0-9]*) (.*)$")
_TUPLE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+) (<->|->) (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+) ")
_PROTO = re.compile(r"\[proto: ([0-9.]+)/([^\]]+)\]")
_CONFIDENCE = re.compile(r"\[Confidence: ([^\]]+)\]")
_PACKETS = re.compile(r"\[(\d+) pkts/\d+ bytes (?:<->|->) (\d+) pkts/\d+ bytes\]")


def _hostport(ep: Endpoint) -> str:
    return f"[{ep.address}]:{ep.port}" if ":" in ep.address else f"{ep.address}:{ep.port}"


def _address(text: str) -> str:
    return ipaddress.ip_address(text.strip("[]")).compressed


def parse_ndpi_line(line: str, source: str = "<out>", lineno: int = 0) -> NdpiFlow | None:
    """The flow on one ``.out`` line, or None when the line is not a flow line; ReferenceInputError if malformed."""
    head = _FLOW_LINE.match(line.rstrip("\n"))
    if head is None:
        return None
    index, transport, rest = int(head.group(1)), head.group(2), head.group(3)
    where = f"{source}:{lineno}"
    tup, proto, conf, pk = _TUPLE.match(rest), _PROTO.search(rest), _CONFIDENCE.search(rest), _PACKETS.search(rest)
    if tup is None or proto is None or conf is None or pk is None:
        missing = [n for n, m in (("5-tuple", tup), ("proto", proto), ("confidence", conf), ("packets", pk)) if m is None]
        raise ReferenceInputError(f"{where}: flow line without {', '.join(missing)}")
    try:
        client = Endpoint(_address(tup.group(1)), int(tup.group(2)))
        server = Endpoint(_address(tup.group(4)), int(tup.group(5)))
    except ValueError as err:
        raise ReferenceInputError(f"{where}: bad address: {err}") from None
    ids, name = proto.group(1).split("."), proto.group(2)
    master, _, app = name.partition(".") if len(ids) > 1 else (name, "", "")
    return NdpiFlow(index=index, ip_protocol=IP_PROTOCOLS.get(transport), transport=transport, client=client,
                    server=server, bidirectional=tup.group(3) == "<->", protocol=name, master=master,
                    app=app or None, confidence=conf.group(1), packets_client=int(pk.group(1)),
                    packets_server=int(pk.group(2)))


def parse_ndpi_out(text: str, source: str = "<out>") -> list[NdpiFlow]:
    """Every flow of an ndpiReader ``.out`` file (detected and undetected sections), in file order."""
    flows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        flow = parse_ndpi_line(line, source, lineno)
        if flow is not None:
            flows.append(flow)
    if not flows:
        raise ReferenceInputError(f"{source}: no flow lines (not an ndpiReader .out file?)")
    return flows


FlowKey = tuple[int | None, frozenset[tuple[str, int]]]


def ndpi_key(flow: NdpiFlow) -> FlowKey:
    return flow.ip_protocol, frozenset({(flow.client.address, flow.client.port), (flow.server.address, flow.server.port)})


def bundle_key(flow: dict[str, Any]) -> FlowKey:
    """The same key for a bundle flow; ``ip_protocol`` when the bundle has it, else from ``transport``."""
    proto = flow.get("ip_protocol")
    if proto is None:
        proto = {"tcp": 6, "udp": 17}.get(flow["transport"])
    ends = {(_address(flow["src"]), int(flow["sport"])), (_address(flow["dst"]), int(flow["dport"]))}
    return proto, frozenset(ends)


def rule_for(flow: NdpiFlow) -> Rule:
    return EQUIVALENCES.get(flow.master, OUT_OF_VOCABULARY)


def _zoom_media(ndpi: NdpiFlow) -> bool:
    return ndpi.app == "Zoom" and ndpi.master in ZOOM_MEDIA_MASTERS


def agrees(ndpi: NdpiFlow, protocol: str, labels: dict[str, int]) -> bool:
    """Does confaudit's (main label, labels) say what nDPI says, under EQUIVALENCES?"""
    rule = rule_for(ndpi)
    if protocol in rule.main or (_zoom_media(ndpi) and protocol == "zoom"):
        return True
    return protocol in rule.via_main and any(labels.get(label) for label in rule.via_labels)


def expected_text(ndpi: NdpiFlow) -> str:
    rule = rule_for(ndpi)
    text = "|".join(sorted(rule.main | ({"zoom"} if _zoom_media(ndpi) else set())))
    if rule.via_labels:
        text += f" (or {'/'.join(sorted(rule.via_main))} with {'/'.join(sorted(rule.via_labels))} in labels)"
    return text


def compare(capture: str, reference: Sequence[NdpiFlow], bundle: dict[str, Any]) -> list[Comparison]:
    """One Comparison per reference flow, in reference order."""
    index = {bundle_key(f): f for f in bundle["flows"]}
    out = []
    for ndpi in reference:
        flow = index.get(ndpi_key(ndpi))
        if flow is None:
            out.append(Comparison(capture, ndpi, "missing", expected_text(ndpi), None, None, None, None))
            continue
        labels = {str(k): int(v) for k, v in flow.get("labels", {}).items()}
        status = "agree" if agrees(ndpi, flow["protocol"], labels) else "disagree"
        out.append(Comparison(capture, ndpi, status, expected_text(ndpi), flow["id"], flow["protocol"], labels,
                              int(flow["packets"])))
    return out


def unmatched_bundle_flows(reference: Sequence[NdpiFlow], bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """confaudit flows with no nDPI line."""
    keys = {ndpi_key(f) for f in reference}
    return [f for f in bundle["flows"] if bundle_key(f) not in keys]


@dataclass(frozen=True)
class Tally:
    """Counts over the target population (nDPI ``Confidence: DPI`` flows) of one capture or all."""

    flows: int
    """Target flows."""
    agree: int
    """... that confaudit labels the same way."""
    disagree: int
    """... that confaudit labels differently."""
    missing: int
    """... that confaudit has no flow for."""
    packets_differ: int
    """... matched, but with another packet count than nDPI's."""

    @property
    def agreement(self) -> float | None:
        return self.agree / self.flows if self.flows else None


def tally(comparisons: Iterable[Comparison], confidence: str = TARGET_CONFIDENCE) -> Tally:
    target = [c for c in comparisons if c.ndpi.confidence == confidence]
    return Tally(flows=len(target), agree=sum(c.status == "agree" for c in target),
                 disagree=sum(c.status == "disagree" for c in target),
                 missing=sum(c.status == "missing" for c in target),
                 packets_differ=sum(c.status != "missing" and not c.packets_match for c in target))


def reference_pairs(captures: Path, references: Path) -> list[tuple[Path, Path]]:
    """(capture, .out) pairs: the 12 main captures with references in ``references``, then ndpi-devset/."""
    pairs = []
    for out in sorted(references.glob("*.out")):
        pairs.append((captures / out.name[: -len(".out")], out))
    devset = captures / "ndpi-devset"
    for out in sorted(devset.glob("*.out")):
        pairs.append((devset / out.name[: -len(".out")], out))
    return pairs


def load_reference(path: Path) -> list[NdpiFlow]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ReferenceInputError(f"{path}: cannot read: {err}") from None
    return parse_ndpi_out(text, str(path))


def analyze(capture: Path, workdir: Path) -> dict[str, Any]:
    """The bundle ``confaudit analyze CAPTURE --json OUT`` writes (the command's body, run in this process)."""
    from confaudit.commands.analyze import run
    from confaudit.errors import ConfauditError

    out = workdir / f"{capture.name}.json"
    try:
        run([capture], json_out=out, quiet=True)
    except ConfauditError as err:
        raise ReferenceInputError(f"confaudit analyze failed: {err}") from None
    return json.loads(out.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class CaptureResult:
    """The comparison of one capture."""

    name: str
    """Capture file name."""
    comparisons: tuple[Comparison, ...]
    """One per nDPI flow, in the reference's order."""
    extra: tuple[str, ...]
    """confaudit flows that nDPI does not list ("f<N> transport src:port dst:port protocol")."""
    stale: str | None
    """Why the reference does not describe this capture (then it is left out of the total), else None."""
    complete: bool
    """The bundle's ``complete``: False when confaudit could not read the whole capture."""


def check_capture(capture: Path, reference: Path, workdir: Path) -> CaptureResult:
    flows = load_reference(reference)
    bundle = analyze(capture, workdir)
    extra = tuple(f"{f['id']} {f['transport']} {f['src']}:{f['sport']} {f['dst']}:{f['dport']} {f['protocol']}"
                  for f in unmatched_bundle_flows(flows, bundle))
    return CaptureResult(capture.name, tuple(compare(capture.name, flows, bundle)), extra,
                         STALE_REFERENCES.get(capture.name), bundle.get("complete") is True)


def run_all(pairs: Sequence[tuple[Path, Path]]) -> list[CaptureResult]:
    with tempfile.TemporaryDirectory(prefix="ndpi-agreement-") as tmp:
        return [check_capture(capture, reference, Path(tmp)) for capture, reference in pairs]


def measured(results: Iterable[CaptureResult]) -> list[Comparison]:
    """Comparisons of every capture whose reference is current."""
    return [c for r in results if r.stale is None for c in r.comparisons]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _row(name: str, t: Tally, note: str = "") -> str:
    return (f"{name:42} {t.flows:>9} {t.agree:>6} {t.disagree:>6} {t.missing:>7} {t.packets_differ:>6} "
            f"{_percent(t.agreement):>9}{note}")


def report_lines(results: Sequence[CaptureResult]) -> list[str]:
    head = f"{'capture':42} {'DPI flows':>9} {'agree':>6} {'differ':>6} {'missing':>7} {'pkts!=':>6} {'agreement':>9}"
    lines = [head, "-" * len(head)]
    for r in results:
        note = ("  (stale reference: not in the total)" if r.stale else "") + ("" if r.complete else "  INCOMPLETE")
        lines.append(_row(r.name, tally(r.comparisons), note))
    comps = measured(results)
    lines += ["-" * len(head), _row("overall", tally(comps)), "", "Not agreeing (Confidence: DPI):"]
    for c in comps:
        if c.ndpi.confidence == TARGET_CONFIDENCE and c.status != "agree":
            said = f"{c.confaudit_protocol} {c.confaudit_labels}" if c.status == "disagree" else "no such flow"
            lines.append(f"  {c.capture}  #{c.ndpi.index} {c.ndpi.tuple_text()}  nDPI {c.ndpi.protocol}  "
                         f"confaudit {said}  packets nDPI {c.ndpi.packets} / confaudit {c.confaudit_packets}")
    lines += ["", "Other confidences (not in the measure): agree/flows"]
    by_conf = Counter((c.ndpi.confidence, c.status == "agree") for c in comps)
    for conf in sorted({k for k, _ in by_conf} - {TARGET_CONFIDENCE}):
        lines.append(f"  {conf}: {by_conf[(conf, True)]}/{by_conf[(conf, True)] + by_conf[(conf, False)]}")
    lines += ["", "confaudit flows that nDPI does not list:"]
    lines += [f"  {r.name}  {e}" for r in results for e in r.extra] or ["  none"]
    return lines


def results_json(results: Sequence[CaptureResult]) -> dict[str, Any]:
    def with_rate(t: Tally) -> dict[str, Any]:
        return asdict(t) | {"agreement": t.agreement}

    return {"target_confidence": TARGET_CONFIDENCE, "overall": with_rate(tally(measured(results))),
            "captures": {r.name: {"tally": with_rate(tally(r.comparisons)), "stale_reference": r.stale,
                                  "complete": r.complete,
                                  "extra_confaudit_flows": list(r.extra),
                                  "flows": [asdict(c) | {"tuple": c.ndpi.tuple_text()} for c in r.comparisons]}
                         for r in results}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES, help="the shared captures folder")
    parser.add_argument("--references", type=Path, default=DEFAULT_REFERENCES, help="nDPI .out files of the 12 captures")
    parser.add_argument("--json", type=Path, help="also write every comparison here")
    parser.add_argument("--min-agreement", type=float, help="exit 1 when the overall agreement is lower (0..1)")
    args = parser.parse_args(argv)
    try:
        pairs = reference_pairs(args.captures, args.references)
        if not pairs:
            raise ReferenceInputError(f"{args.captures}: no nDPI reference files found")
        for capture, _ in pairs:
            if not capture.is_file():
                raise ReferenceInputError(f"{capture}: capture named by a reference file is missing")
        results = run_all(pairs)
    except ReferenceInputError as err:
        sys.stderr.write(f"ndpi_agreement: error: {err}\n")
        return 3
    sys.stdout.write("\n".join(report_lines(results)) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(results_json(results), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    overall = tally(measured(results)).agreement
    return 1 if args.min_agreement is not None and (overall or 0.0) < args.min_agreement else 0


if __name__ == "__main__":
    raise SystemExit(main())
