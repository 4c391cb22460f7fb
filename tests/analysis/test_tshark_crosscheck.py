"""Per-protocol packet counts: confaudit vs tshark (RTP/RTCP heuristics on) on every shared capture.

Where the two disagree the difference is pinned in KNOWN with who is right and why, so a change on
either side fails this test instead of silently shifting the numbers.
"""

from __future__ import annotations

from confaudit.redact import Redactor
import subprocess
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from support.environment import require_binary

from confaudit.analysis.packet_side import analyze_captures

FILES = ["google_meet.pcapng", "quic-v2.pcapng", "sip.pcap", "skype-conference-call.pcap", "stun.pcap",
         "stun_google_meet.pcapng", "stun_zoom.pcapng", "teams.pcap", "webex.pcap", "whatsapp_login_call.pcap",
         "zoom2.pcap", "zoom_p2p.pcapng"]
PROTOCOLS = ("stun", "dtls", "rtp", "rtcp", "quic", "dns", "sip")
_TSHARK_ORDER = ("stun", "dtls", "srtcp", "rtcp", "srtp", "rtp", "quic", "dns", "mdns", "sip")
_TSHARK_FOLD = {"srtcp": "rtcp", "srtp": "rtp", "mdns": "dns"}

# (file, protocol): (confaudit, tshark, who is right and why)
KNOWN = {
    ("skype-conference-call.pcap", "rtcp"): (155, 0, "confaudit: the compounds walk exactly (PT 206/201/200) plus an "
                                             "SRTCP trailer with a 1-byte MKI; tshark's RTCP heuristic rejects the trailer and shows 'data'"),
    ("stun.pcap", "stun"): (171, 172, "both: tshark also counts frame 24, an ICMP error quoting a STUN Allocate; "
                            "confaudit counts that frame as ICMP ('other')"),
    ("stun.pcap", "dtls"): (16, 15, "confaudit: frame 196 is a valid DTLS 1.0 record header (type 22, 0xfeff, length fits) "
                            "from Zoom's WebRTC client whose handshake type tshark does not know, so tshark shows 'data'"),
    ("stun_google_meet.pcapng", "rtp"): (191, 174, "confaudit: SOURCES.md counts 191 SRTP; tshark's heuristic drops "
                                         "17 (SSRC-0 probe/early packets before it has seen the stream)"),
    ("stun_google_meet.pcapng", "rtcp"): (29, 25, "confaudit: SOURCES.md counts 29 RTCP; tshark leaves 4 SRTCP compounds undissected"),
    ("teams.pcap", "stun"): (61, 57, "confaudit: 55 with the magic cookie + 6 cookie-less MS-TURN messages on 3478/3479 "
                             "(SOURCES.md); tshark labels only part of the cookie-less ones"),
    ("teams.pcap", "rtcp"): (12, 1, "confaudit: SOURCES.md counts 12 RTCP (PT 201/206/200) on the RTP flow; tshark's "
                             "heuristic decodes 11 of them as 'data'"),
    ("whatsapp_login_call.pcap", "rtcp"): (58, 37, "confaudit: SOURCES.md counts 58 (PT 208/200/201/209); tshark does "
                                           "not know PT 208/209 and leaves 21 undissected"),
    ("zoom_p2p.pcapng", "stun"): (80, 0, "confaudit: 80 RFC 3489-style (no magic cookie) Binding requests on UDP 3478 "
                                  "(SOURCES.md); tshark requires the RFC 5389 cookie"),
}


@lru_cache(maxsize=None)
def _tshark_counts(tshark: str, path: str) -> Counter:
    out = subprocess.run([tshark, "-n", "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-o", "rtcp.heuristic_rtcp:TRUE",
                          "-T", "fields", "-e", "frame.protocols"], capture_output=True, text=True, timeout=120).stdout
    counts: Counter = Counter()
    for line in out.splitlines():
        layers = line.split(":")
        label = next((p for p in _TSHARK_ORDER if p in layers), None)
        if label is not None:
            counts[_TSHARK_FOLD.get(label, label)] += 1
    return counts


@lru_cache(maxsize=None)
def _our_counts(path: str) -> dict[str, int]:
    pc = analyze_captures([Path(path)], redactor=Redactor.default())["protocol_counts"]
    return {"stun": pc["stun"] + pc["turn"], "dtls": pc["dtls"], "rtp": pc["rtp"] + pc["srtp"],
            "rtcp": pc["rtcp"] + pc["srtcp"], "quic": pc["quic"], "dns": pc["dns"], "sip": pc["sip"]}


@pytest.mark.parametrize("name", FILES)
def test_counts_match_tshark_or_the_difference_is_explained(shared_captures: Path, name: str) -> None:
    tshark = require_binary("tshark")
    theirs = _tshark_counts(tshark, str(shared_captures / name))
    ours = _our_counts(str(shared_captures / name))
    for proto in PROTOCOLS:
        known = KNOWN.get((name, proto))
        if known is None:
            assert ours[proto] == theirs.get(proto, 0), f"{name} {proto}: confaudit {ours[proto]} vs tshark {theirs.get(proto, 0)}"
        else:
            assert (ours[proto], theirs.get(proto, 0)) == known[:2], f"{name} {proto}: {known[2]}"


def test_tls_handshakes_match_tshark(shared_captures: Path) -> None:
    tshark = require_binary("tshark")
    for name in ("teams.pcap", "webex.pcap", "google_meet.pcapng", "zoom2.pcap", "whatsapp_login_call.pcap"):
        path = shared_captures / name
        res = subprocess.run([tshark, "-n", "-r", str(path), "-Y", "tcp && tls.handshake.type == 1 && !tcp.analysis.retransmission",
                              "-T", "fields", "-e", "tls.handshake.extensions_server_name"],
                             capture_output=True, text=True, timeout=120)
        theirs = Counter(s or None for s in res.stdout.splitlines())
        ours = Counter(t["sni"] for t in analyze_captures([path], redactor=Redactor.default())["tls"])
        assert ours == theirs, name


def test_zoom_has_no_tshark_dissector(shared_captures: Path) -> None:
    """tshark shows Zoom's media as 'data'; confaudit labels it zoom (both files are all-UDP on known flows)."""
    tshark = require_binary("tshark")
    theirs = _tshark_counts(tshark, str(shared_captures / "zoom2.pcap"))
    assert theirs.get("rtp", 0) == 0 and theirs.get("stun", 0) == 0
