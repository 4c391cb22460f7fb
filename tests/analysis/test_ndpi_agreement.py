"""scripts/ndpi_agreement.py: nDPI .out parsing, flow matching, equivalences, and the measure on real captures."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from support.environment import REPO

REFERENCES = REPO / "tests" / "data" / "ndpi-results"


def _load_script():
    spec = importlib.util.spec_from_file_location("ndpi_agreement", REPO / "scripts" / "ndpi_agreement.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ndpi_agreement"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


N = _load_script()

WA_CALL = ("\t1\tUDP 192.168.2.4:51518 <-> 91.253.176.65:9344 [proto: 338.45/SRTP.WhatsAppCall][IP: 0/Unknown]"
           "[Encrypted][Confidence: DPI][FPC: 78.45/STUN.WhatsAppCall, Confidence: DPI][DPI packets: 7][cat: VoIP/10]"
           "[186 pkts/27025 bytes <-> 278 pkts/25895 bytes][Goodput ratio: 71/55][9.73 sec]")
SAMPLE = "\n".join([
    "Guessed flow protos:\t1",
    "Confidence DPI              : 4 (flows)",
    "WhatsAppCall\t803\t102942\t20",
    "JA3 Host Stats: ",
    "\t\t IP Address                  \t # JA3C     ",
    "\t1\t 192.168.2.4              \t 1      ",
    "",
    WA_CALL,
    "\t2\tTCP 192.168.2.100:49026 -> 179.60.195.33:5222 [proto: 142/WhatsApp][IP: 119/Facebook][Encrypted]"
    "[Confidence: DPI][DPI packets: 4][cat: Chat/9][8 pkts/3049 bytes -> 0 pkts/0 bytes][Goodput ratio: 82/0]",
    "\t3\tUDP [2001:0db8:0:0::0001]:45572 <-> [2001:4860:4864:6::81]:19305 [proto: 30.404/DTLS.GoogleCall]"
    "[Stack: STUN.DTLS.GoogleCall][IP: 126/Google][Encrypted][Confidence: DPI (partial cache)][DPI packets: 17]"
    "[30 pkts/4693 bytes <-> 118 pkts/36197 bytes]",
    "\t4\tTCP 10.77.110.51:41588 <-> 10.206.50.239:42000 [VLAN: 1611][proto: 78.38/STUN.Skype_TeamsCall][IP: 0/Unknown]"
    "[ClearText][Confidence: DPI][DPI packets: 3][cat: VoIP/10][7 pkts/1006 bytes <-> 8 pkts/1118 bytes]",
    "\t5\tICMP 192.168.12.169:0 -> 74.125.247.128:0 [proto: 81/ICMP][IP: 126/Google][ClearText][Confidence: DPI]"
    "[DPI packets: 1][cat: Network/14][1 pkts/122 bytes -> 0 pkts/0 bytes]",
    "",
    "",
    "Undetected flows:",
    "\t1\tTCP 151.11.50.139:2222 <-> 192.168.1.6:54750 [proto: 0/Unknown][IP: 0/Unknown][ClearText]"
    "[Confidence: Unknown][DPI packets: 4][2 pkts/252 bytes <-> 2 pkts/204 bytes][Goodput ratio: 47/35]",
])


def test_parser_reads_every_flow_and_skips_statistics_lines() -> None:
    flows = N.parse_ndpi_out(SAMPLE, "sample.out")
    assert [(f.index, f.transport, f.confidence) for f in flows] == [
        (1, "UDP", "DPI"), (2, "TCP", "DPI"), (3, "UDP", "DPI (partial cache)"), (4, "TCP", "DPI"), (5, "ICMP", "DPI"),
        (1, "TCP", "Unknown")]
    call = flows[0]
    assert (call.protocol, call.master, call.app) == ("SRTP.WhatsAppCall", "SRTP", "WhatsAppCall")
    assert (call.client, call.server) == (N.Endpoint("192.168.2.4", 51518), N.Endpoint("91.253.176.65", 9344))
    assert (call.bidirectional, call.packets_client, call.packets_server, call.packets) == (True, 186, 278, 464)


def test_parser_single_name_unidirectional_ipv6_vlan_and_portless_lines() -> None:
    chat, dtls, vlan, icmp, unknown = N.parse_ndpi_out(SAMPLE)[1:]
    assert (chat.master, chat.app, chat.bidirectional, chat.packets) == ("WhatsApp", None, False, 8)
    assert dtls.client == N.Endpoint("2001:db8::1", 45572)  # canonical form, whatever nDPI printed
    assert dtls.tuple_text() == "UDP [2001:db8::1]:45572 <-> [2001:4860:4864:6::81]:19305"
    assert (vlan.master, vlan.app, vlan.ip_protocol) == ("STUN", "Skype_TeamsCall", 6)
    assert (icmp.ip_protocol, icmp.client.port, icmp.server.port) == (1, 0, 0)
    assert (unknown.master, unknown.app) == ("Unknown", None)
    # The ids, not the dots, tell a master.app pair from one protocol whose name has a dot
    dotted = N.parse_ndpi_line("\t1\tUDP 10.0.0.1:1 <-> 10.0.0.2:2 [proto: 7/Dotted.Name][Confidence: DPI]"
                               "[1 pkts/60 bytes <-> 1 pkts/90 bytes]")
    assert (dotted.master, dotted.app) == ("Dotted.Name", None)


@pytest.mark.parametrize("line, problem", [
    ("\t7\tUDP 10.0.0.1:1 <-> 10.0.0.2:2 [proto: 5/DNS][1 pkts/60 bytes <-> 1 pkts/90 bytes]", "confidence"),
    ("\t7\tUDP 10.0.0.1:1 <-> 10.0.0.2:2 [Confidence: DPI][1 pkts/60 bytes <-> 1 pkts/90 bytes]", "proto"),
    ("\t7\tUDP 10.0.0.1 <-> 10.0.0.2:2 [proto: 5/DNS][Confidence: DPI][1 pkts/60 bytes <-> 1 pkts/90 bytes]", "5-tuple"),
    ("\t7\tUDP 10.0.0.1:1 <-> 10.0.0.2:2 [proto: 5/DNS][Confidence: DPI]", "packets"),
    ("\t7\tUDP 10.0.0.999:1 <-> 10.0.0.2:2 [proto: 5/DNS][Confidence: DPI][1 pkts/60 bytes <-> 1 pkts/90 bytes]",
     "bad address"),
])
def test_malformed_flow_line_names_file_line_and_problem(line: str, problem: str) -> None:
    with pytest.raises(N.ReferenceInputError, match=rf"^ref\.out:3: .*{problem}"):
        N.parse_ndpi_out(f"header\n{WA_CALL}\n{line}\n", "ref.out")


def test_a_file_without_flows_is_refused() -> None:
    with pytest.raises(N.ReferenceInputError, match=r"^x\.out: no flow lines"):
        N.parse_ndpi_out("DNS\t8\t1126\t4\n\t1\t 192.168.2.4 \t 1\n", "x.out")


def _flow(fid: str, transport: str, src: str, sport: int, dst: str, dport: int, protocol: str,
          labels: dict[str, int], packets: int, ip_protocol: int | None = None) -> dict:
    flow = {"id": fid, "transport": transport, "src": src, "sport": sport, "dst": dst, "dport": dport,
            "protocol": protocol, "labels": labels, "packets": packets}
    if ip_protocol is not None:
        flow["ip_protocol"] = ip_protocol
    return flow


def test_matcher_pairs_flows_by_protocol_and_unordered_endpoints() -> None:
    reference = N.parse_ndpi_out(SAMPLE)
    bundle = {"flows": [
        # same endpoints as the WhatsApp chat flow but UDP: must not be taken for it
        _flow("f1", "udp", "192.168.2.100", 49026, "179.60.195.33", 5222, "stun", {"stun": 8}, 8),
        _flow("f2", "udp", "91.253.176.65", 9344, "192.168.2.4", 51518, "srtp", {"srtp": 400, "stun": 64}, 464),
        _flow("f3", "udp", "2001:db8:0::1", 45572, "2001:4860:4864:6:0:0:0:81", 19305, "srtp",
              {"srtp": 100, "dtls": 30, "stun": 18}, 148),
        _flow("f4", "tcp", "10.206.50.239", 42000, "10.77.110.51", 41588, "stun", {"stun": 9, "tcp": 6}, 15),
        _flow("f5", "other", "192.168.12.169", 0, "74.125.247.128", 0, "other", {"other": 1}, 1, ip_protocol=1),
        _flow("f6", "tcp", "151.11.50.139", 2222, "192.168.1.6", 54750, "other", {"other": 2, "tcp": 3}, 5),
    ]}
    got = {c.ndpi.tuple_text(): (c.status, c.confaudit_flow, c.packets_match) for c in N.compare("x", reference, bundle)}
    assert got == {
        "UDP 192.168.2.4:51518 <-> 91.253.176.65:9344": ("agree", "f2", True),
        "TCP 192.168.2.100:49026 -> 179.60.195.33:5222": ("missing", None, False),
        "UDP [2001:db8::1]:45572 <-> [2001:4860:4864:6::81]:19305": ("agree", "f3", True),
        "TCP 10.77.110.51:41588 <-> 10.206.50.239:42000": ("agree", "f4", True),
        "ICMP 192.168.12.169:0 -> 74.125.247.128:0": ("agree", "f5", True),
        "TCP 151.11.50.139:2222 <-> 192.168.1.6:54750": ("agree", "f6", False),
    }
    assert [f["id"] for f in N.unmatched_bundle_flows(reference, bundle)] == ["f1"]
    t = N.tally(N.compare("x", reference, bundle))
    assert (t.flows, t.agree, t.disagree, t.missing, t.packets_differ, t.agreement) == (4, 3, 0, 1, 0, 0.75)


def _ndpi(protocol: str) -> object:
    ids = "1.2" if "." in protocol else "1"
    line = (f"\t1\tUDP 10.0.0.1:1000 <-> 10.0.0.2:2000 [proto: {ids}/{protocol}][Confidence: DPI]"
            "[3 pkts/300 bytes <-> 2 pkts/200 bytes]")
    return N.parse_ndpi_line(line)


@pytest.mark.parametrize("protocol, main, labels, expected", [
    ("STUN.WhatsAppCall", "turn", {"turn": 5}, True),
    ("STUN", "srtp", {"srtp": 40, "stun": 6}, True),            # STUN-then-SRTP flow: nDPI names the first protocol
    ("STUN", "srtp", {"srtp": 40}, False),                      # ... but confaudit must have seen the STUN
    ("STUN", "other", {"other": 1, "stun": 1}, False),
    ("DTLS.GoogleCall", "srtp", {"srtp": 40, "dtls": 9, "stun": 4}, True),
    ("DTLS", "srtp", {"srtp": 40, "stun": 4}, False),
    ("RTP", "srtp", {"srtp": 9}, True),
    ("RTP", "rtcp", {"rtcp": 9}, False),
    ("RTP.Zoom", "zoom", {"zoom": 90}, True),                   # RTP inside Zoom's encapsulation
    ("TLS.Zoom", "zoom", {"zoom": 9}, False),
    ("RTCP", "srtcp", {"srtcp": 3}, True),
    ("MDNS", "dns", {"dns": 3}, True),
    ("LLMNR", "other", {"other": 3}, False),
    ("QUIC.YouTube", "other", {"other": 258}, False),
    ("IMAPS", "tls", {"tls": 8, "tcp": 9}, True),
    ("ApplePush", "other", {"other": 11}, False),
    ("WhatsApp", "stun", {"stun": 5, "tcp": 4}, False),         # out of vocabulary: no modelled protocol claimed
    ("WhatsApp", "tcp", {"tcp": 4}, True),
    ("H323", "other", {"other": 7}, True),
    ("Telegram", "quic", {"quic": 7}, False),
])
def test_equivalences(protocol: str, main: str, labels: dict[str, int], expected: bool) -> None:
    assert N.agrees(_ndpi(protocol), main, labels) is expected


# --- stored references and real captures -------------------------------------------------------------

_SUMMARY = re.compile(r"^([A-Za-z0-9_.\-]+)\t(\d+)\t(\d+)\t(\d+)$")
_CONF_HEADER = re.compile(r"^Confidence (.+?)\s*: (\d+) \(flows\)$")


@pytest.mark.parametrize("out", sorted(REFERENCES.glob("*.out")), ids=lambda p: p.name)
def test_stored_reference_agrees_with_its_own_summary(out: Path) -> None:
    """Transcription check: flow lines add up to nDPI's per-protocol and per-confidence summaries in the same file."""
    text = out.read_text(encoding="utf-8")
    flows = N.parse_ndpi_out(text, out.name)
    summary = [tuple(map(int, m.groups()[1:])) for m in map(_SUMMARY.match, text.splitlines()) if m]
    assert sum(p for p, _, _ in summary) == sum(f.packets for f in flows)
    assert sum(n for _, _, n in summary) == len(flows)
    for line in text.splitlines():
        if m := _CONF_HEADER.match(line):
            assert sum(f.confidence == m.group(1) for f in flows) == int(m.group(2)), line


@pytest.fixture(scope="module")
def real_results(shared_captures: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    """One analysis per capture (12 shared captures with stored references + the 26 of ndpi-devset)."""
    pairs = N.reference_pairs(shared_captures, REFERENCES)
    assert len(pairs) == 38, [c.name for c, _ in pairs]
    workdir = tmp_path_factory.mktemp("bundles")
    return [N.check_capture(capture, reference, workdir) for capture, reference in pairs]


def test_every_ndpi_flow_is_a_confaudit_flow_with_the_same_packet_count(real_results: list) -> None:
    """Flow accounting: 5-tuples and packet counts agree wherever the reference describes the capture on disk."""
    assert [r.name for r in real_results if not r.complete] == []
    wrong = [f"{c.capture} #{c.ndpi.index} {c.ndpi.tuple_text()}: {c.status}, packets {c.ndpi.packets} vs "
             f"{c.confaudit_packets}" for c in N.measured(real_results) if c.status == "missing" or not c.packets_match]
    assert wrong == []


def test_stale_reference_really_is_stale(real_results: list) -> None:
    """An exclusion from the measure must stay justified: the excluded reference does not match its capture."""
    stale = [r for r in real_results if r.stale]
    assert [r.name for r in stale] == list(N.STALE_REFERENCES)
    for result in stale:
        assert any(c.status == "missing" or not c.packets_match for c in result.comparisons), result.name


def test_agreement_with_ndpi_on_dpi_flows_reaches_the_target(real_results: list) -> None:
    """Issue 11 target: >= 98 % of nDPI's Confidence: DPI flows labelled the same way (docs/real-captures.md)."""
    comparisons = N.measured(real_results)
    total = N.tally(comparisons)
    assert total.flows > 450
    not_agreeing = [f"{c.capture} #{c.ndpi.index} {c.ndpi.protocol} -> {c.confaudit_protocol}" for c in comparisons
                    if c.ndpi.confidence == N.TARGET_CONFIDENCE and c.status != "agree"]
    assert total.agreement >= 0.98, f"{total.agree}/{total.flows}: {not_agreeing}"
