"""Cross-check against an independent dissector: tshark's view of the same frames of the real captures."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest
from confaudit.wire.dns import parse_dns
from confaudit.wire.stun import parse_stun
from confaudit.wire.tls import parse_tls_client_hello
from support.environment import require_binary
from support.wire_pcap_util import tcp, udp


def tshark_fields(path, display_filter: str, *fields: str) -> dict[int, list[str]]:
    exe = require_binary("tshark")
    cmd = [exe, "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e", "frame.number"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = {}
    for line in out.splitlines():
        frame, *values = line.split("\t")
        rows[int(frame)] = values
    return rows


@pytest.mark.timeout(120)
def test_tls_sni_matches_tshark(shared_captures) -> None:
    path = shared_captures / "teams.pcap"
    theirs = {f: v[0] for f, v in tshark_fields(path, "tls.handshake.type==1", "tls.handshake.extensions_server_name").items()}
    segments = {s.frame: s.payload for s in tcp(path)}
    ours = {f: ch.sni for f, p in segments.items() if p[:1] == b"\x16" and (ch := parse_tls_client_hello(p))}
    assert len(ours) == 39 and {f: ours[f] for f in theirs} == {f: v or None for f, v in theirs.items()}
    # tshark does not dissect TCP retransmissions again; the extra ones are byte-identical copies.
    extra = set(ours) - set(theirs)
    assert extra == {1018} and all(any(segments[f] == segments[g] for g in theirs) for f in extra)


@pytest.mark.timeout(120)
def test_stun_xor_addresses_match_tshark(shared_captures) -> None:
    path = shared_captures / "stun.pcap"
    rows = tshark_fields(path, "stun.att.ipv4-xord", "stun.att.ipv4-xord", "stun.att.port-xord")
    checked = 0
    for s in udp(path):
        if s.frame not in rows:
            continue
        msg = parse_stun(s.payload)
        assert msg is not None, s.frame
        ips, ports = rows[s.frame][0].split(","), rows[s.frame][1].split(",")
        theirs = {(str(ipaddress.IPv4Address(int(i, 16) ^ 0x2112A442)), int(p, 16) ^ 0x2112) for i, p in zip(ips, ports)}
        ours = {a for a in (msg.xor_mapped_address, msg.xor_relayed_address, msg.xor_peer_address) if a}
        assert ours <= theirs and ours, s.frame
        checked += 1
    assert checked >= 20


@pytest.mark.timeout(120)
def test_dns_a_records_match_tshark(shared_captures) -> None:
    path = shared_captures / "teams.pcap"
    rows = tshark_fields(path, "dns.flags.response==1", "dns.a")
    ours = {}
    for s in udp(path):
        if s.sport == 53 and (msg := parse_dns(s.payload)) is not None:
            ours[s.frame] = sorted(a.value for a in msg.answers if a.type_name == "A")
    assert ours.keys() == rows.keys()
    for frame, values in rows.items():
        assert ours[frame] == sorted(v for v in values[0].split(",") if v), frame


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["stun_google_meet.pcapng", "stun_zoom.pcapng", "stun.pcap"])
def test_dtls_hellos_match_tshark(shared_captures, name) -> None:
    from collections import defaultdict

    from confaudit.wire.dtls import dtls_handshake_info, parse_dtls_records

    path = shared_captures / name
    rows = tshark_fields(path, "dtls.handshake.type==1 or dtls.handshake.type==2", "dtls.handshake.type",
                         "dtls.handshake.ciphersuite", "dtls.use_srtp.protection_profile", "dtls.handshake.random")
    client_theirs = {(v[3], v[2]) for v in rows.values() if v[0].split(",")[0] == "1" and v[3]}
    server_theirs = {(v[3], v[1], v[2]) for v in rows.values() if v[0].split(",")[0] == "2"}
    flows = defaultdict(list)
    for s in udp(path):
        if parse_dtls_records(s.payload):
            flows[frozenset([(s.src, s.sport), (s.dst, s.dport)])].append(s.payload)
    infos = [dtls_handshake_info(d) for d in flows.values()]
    fmt = lambda values: ",".join(f"0x{v:04x}" for v in values)  # noqa: E731
    client_ours = {(i.client_hello.random, fmt(i.client_hello.use_srtp_profiles)) for i in infos if i.client_hello}
    server_ours = {(i.server_hello.random, f"0x{i.server_hello.cipher_suite:04x}",
                    fmt((i.srtp_profile,)) if i.srtp_profile is not None else "") for i in infos if i.server_hello}
    assert client_ours and client_ours <= client_theirs
    assert server_ours == server_theirs
