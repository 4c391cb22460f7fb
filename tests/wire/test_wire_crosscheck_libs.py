"""Our damage-tolerant parsers against maintained libraries on the same real bytes.

STUN against aioice, SDP against aiortc, TLS ClientHello against mitmproxy, DNS (our section walk over
dnspython's name and rdata decoding) against dnspython's whole-message reader. Where a library
refuses input ours reads, the refusal is counted and named; on everything the library reads, ours
reads it too and agrees field by field. Minimum counts keep the comparisons from passing empty.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from confaudit.wire.dns import parse_dns
from confaudit.wire.hello import ClientHello
from confaudit.wire.sdp import parse_sdp
from confaudit.wire.sip import parse_sip
from confaudit.wire.stun import MAGIC_COOKIE, parse_stun
from confaudit.wire.tls import parse_tls_client_hello
from support.environment import REPO
from support.wire_pcap_util import tcp, transport_payloads, udp

ROOT = REPO


def _captures(shared_captures: Path) -> list[Path]:
    files = [*shared_captures.iterdir(), *(shared_captures / "ndpi-devset").iterdir()]
    return sorted(p for p in files if p.suffix in (".pcap", ".pcapng"))


def _stun_fields(ours, theirs) -> dict[str, tuple]:
    """(ours, aioice's) per attribute that aioice decoded, in comparable form."""
    attrs = theirs.attributes
    pairs: dict[str, tuple] = {}
    for name, field in (("MAPPED-ADDRESS", "mapped_address"), ("XOR-MAPPED-ADDRESS", "xor_mapped_address"),
                        ("XOR-RELAYED-ADDRESS", "xor_relayed_address"), ("XOR-PEER-ADDRESS", "xor_peer_address")):
        if name in attrs:
            address = getattr(ours, field)
            pairs[name] = (address and (address.ip, address.port), tuple(attrs[name]))
    for name, field in (("USERNAME", "username"), ("REALM", "realm"), ("SOFTWARE", "software"),
                        ("PRIORITY", "priority"), ("LIFETIME", "lifetime"), ("CHANNEL-NUMBER", "channel_number")):
        if name in attrs:
            pairs[name] = (getattr(ours, field), attrs[name])
    if "ERROR-CODE" in attrs:
        pairs["ERROR-CODE"] = ((ours.error_code, ours.error_reason), tuple(attrs["ERROR-CODE"]))
    if "REQUESTED-TRANSPORT" in attrs:
        pairs["REQUESTED-TRANSPORT"] = (ours.requested_transport, attrs["REQUESTED-TRANSPORT"] >> 24)
    for name, field in (("ICE-CONTROLLING", "ice_controlling"), ("ICE-CONTROLLED", "ice_controlled"),
                        ("USE-CANDIDATE", "use_candidate"), ("MESSAGE-INTEGRITY", "message_integrity_present")):
        if name in attrs:
            pairs[name] = (getattr(ours, field), True)
    if "FINGERPRINT" in attrs:  # aioice raises on a wrong CRC, so a decoded one is a valid one
        pairs["FINGERPRINT"] = (ours.fingerprint_valid, True)
    return pairs


@pytest.mark.timeout(300)
def test_stun_agrees_with_aioice(shared_captures) -> None:
    from aioice.stun import ATTRIBUTES_BY_TYPE, parse_message

    compared, refused, fields = 0, Counter(), Counter()
    for path in _captures(shared_captures):
        for seg in udp(path):
            data = seg.payload
            if len(data) < 20 or int.from_bytes(data[4:8], "big") != MAGIC_COOKIE:
                continue
            ours = parse_stun(data)
            try:
                theirs = parse_message(data)
            except ValueError as exc:  # UnicodeDecodeError is one too
                if ours is not None:
                    refused[_aioice_refusal(exc, ours)] += 1
                continue
            assert ours is not None, f"{path.name} frame {seg.frame}: aioice reads a STUN message ours refuses"
            where = f"{path.name} frame {seg.frame}"
            assert ours.msg_type == int(theirs.message_method) | int(theirs.message_class), where
            assert ours.transaction_id == theirs.transaction_id.hex(), where
            # aioice ignores attributes after MESSAGE-INTEGRITY (but FINGERPRINT) and unknown types.
            known = {ATTRIBUTES_BY_TYPE[t][1] for t, _name, _len in ours.attributes if t in ATTRIBUTES_BY_TYPE}
            assert set(theirs.attributes) <= known, where
            for name, (mine, library) in _stun_fields(ours, theirs).items():
                assert mine == library, f"{where} {name}: ours {mine!r}, aioice {library!r}"
                fields[name] += 1
            compared += 1
    assert compared >= 380, compared
    assert fields["XOR-MAPPED-ADDRESS"] >= 100 and fields["USERNAME"] >= 80 and fields["FINGERPRINT"] >= 100, fields
    # What only ours reads: WhatsApp's vendor method 0x800, MS-TURN's (Teams) binary text attributes, and one
    # message whose FINGERPRINT is wrong (ours reads it and says so: fingerprint_valid False).
    assert set(refused) == {"unknown method", "text attribute not UTF-8", "fingerprint mismatch"}, refused


def _aioice_refusal(exc: ValueError, ours) -> str:
    """Why aioice refused a message ours read, in a few known words (anything else fails the test)."""
    if isinstance(exc, UnicodeDecodeError):
        return "text attribute not UTF-8"
    if "is not a valid Method" in str(exc):
        assert ours.method_name is None, ours.method
        return "unknown method"
    if "fingerprint does not match" in str(exc):
        assert ours.fingerprint_valid is False
        return "fingerprint mismatch"
    raise AssertionError(f"aioice refused a message ours reads: {exc}")


def _sdp_texts(shared_captures: Path) -> list[tuple[str, str]]:
    """(where, SDP text): SIP bodies of the shared captures and the SDP offers/answers in the sample session."""
    texts = []
    for path in _captures(shared_captures):
        for seg in transport_payloads(path):
            msg = parse_sip(seg.payload)
            if msg is not None and (msg.content_type or "").lower() == "application/sdp" and msg.body:
                texts.append((f"{path.name} frame {seg.frame}", msg.body))

    def walk(value, where: str) -> None:
        if isinstance(value, str):
            if value.startswith("v=0"):
                texts.append((where, value))
            elif value.startswith(("{", "[")):
                try:
                    walk(json.loads(value), where)
                except ValueError:
                    pass
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, where)
        elif isinstance(value, list):
            for item in value:
                walk(item, where)

    session = ROOT / "samples" / "sessions" / "example-rooms" / "observations.jsonl"
    for number, line in enumerate(session.read_text().splitlines(), start=1):
        walk(json.loads(line), f"{session.name}:{number}")
    return texts


@pytest.mark.timeout(300)
def test_sdp_agrees_with_aiortc(shared_captures) -> None:
    from aiortc.sdp import SessionDescription

    compared = refused = codecs = 0
    for where, text in _sdp_texts(shared_captures):
        ours = parse_sdp(text)
        try:
            theirs = SessionDescription.parse(text)
        except (AssertionError, ValueError, KeyError, IndexError):  # aiortc asserts on what it does not expect
            refused += 1
            assert ours.media, f"{where}: aiortc refuses an SDP ours reads nothing from"
            continue
        assert [m.kind for m in ours.media] == [m.kind for m in theirs.media], where
        for mine, library in zip(ours.media, theirs.media):
            assert (mine.port, mine.proto) == (library.port, library.profile), where
            assert [str(f) for f in library.fmt] == list(mine.formats), where
            by_pt = {p.pt: p for p in mine.payload_types}
            for codec in library.rtp.codecs:  # aiortc lists the rtpmap'ed payload types only
                pt = by_pt[codec.payloadType]
                assert f"{library.kind}/{pt.codec}" == codec.mimeType and pt.clock == codec.clockRate, where
                if library.kind == "audio":  # aiortc defaults an audio codec without a channel count to 1
                    assert (pt.channels or 1) == codec.channels, where
                codecs += 1
            if mine.fingerprint is not None:
                theirs_fp = {(f.algorithm.lower(), f.value) for f in library.dtls.fingerprints}
                assert mine.fingerprint in theirs_fp, where
            else:
                assert library.dtls is None or not library.dtls.fingerprints, where
            assert mine.ice_ufrag == library.ice.usernameFragment, where
            assert len(mine.candidates) == len(library.ice_candidates), where
            for cand, lib_cand in zip(mine.candidates, library.ice_candidates):
                assert (cand.address, cand.port, cand.typ) == (lib_cand.ip, lib_cand.port, lib_cand.type), where
        compared += 1
    assert compared >= 15 and codecs >= 100, (compared, codecs)  # 10 SIP bodies + 5 session SDPs: 129 rtpmap codecs


def _client_hello_streams(path: Path) -> list[tuple[str, bytes]]:
    """(where, client stream start) of every TCP direction whose first payload starts a TLS handshake record."""
    streams: dict[tuple, list] = {}
    for seg in tcp(path):
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        if key not in streams:
            if seg.payload[:2] != b"\x16\x03" or seg.payload[5:6] != b"\x01":  # handshake record, ClientHello
                continue
            streams[key] = [seg.frame, []]
        parts = streams[key][1]
        if seg.payload not in parts and sum(map(len, parts)) < 1 << 16:  # retransmissions are byte-identical
            parts.append(seg.payload)
    return [(f"{path.name} frame {frame}", b"".join(parts)) for frame, parts in streams.values()]


@pytest.mark.timeout(300)
def test_tls_client_hello_agrees_with_mitmproxy(shared_captures) -> None:
    from mitmproxy.proxy.layers.tls import parse_client_hello

    compared = refused = 0
    for path in _captures(shared_captures):
        for where, stream in _client_hello_streams(path):
            ours = parse_tls_client_hello(stream)
            try:
                theirs = parse_client_hello(stream)
            except ValueError:  # mitmproxy's Kaitai parser refuses a body cut short or malformed
                refused += 1
                assert isinstance(ours, ClientHello) and not ours.complete, f"{where}: ours reads it as complete"
                continue
            if theirs is None:
                continue
            assert isinstance(ours, ClientHello), f"{where}: mitmproxy reads a ClientHello ours does not"
            assert ours.sni == theirs.sni, where
            assert ours.alpn == tuple(p.decode("utf-8", "replace") for p in theirs.alpn_protocols), where
            assert ours.cipher_suites == tuple(theirs.cipher_suites), where
            assert ours.extensions == tuple(t for t, _ in theirs.extensions), where
            compared += 1
    assert compared >= 130, (compared, refused)  # ClientHellos across the shared captures and the nDPI set


@pytest.mark.timeout(300)
def test_dns_section_walk_agrees_with_dnspythons_message_reader(shared_captures) -> None:
    import dns.exception
    import dns.message
    import dns.name
    import dns.rdatatype

    compared = refused = 0
    for path in _captures(shared_captures):
        for seg in udp(path):
            if not {53, 5353, 5355} & {seg.sport, seg.dport}:
                continue
            ours = parse_dns(seg.payload)
            try:
                theirs = dns.message.from_wire(seg.payload, ignore_trailing=True)
            except dns.name.DecompressionForbidden:
                # mDNS responders compress NSEC's next name (RFC 6762 §18.14), which RFC 3597 §4 forbids and
                # dnspython's reader refuses; our walk leaves NSEC rdata undecoded and reads the rest.
                assert ours is not None and ours.complete and 47 in {a.type for a in ours.answers}
                refused += 1
                continue
            except dns.exception.DNSException:
                assert ours is None or not ours.complete, f"{path.name} frame {seg.frame}"
                refused += 1
                continue
            where = f"{path.name} frame {seg.frame}"
            assert ours is not None and ours.complete, where
            assert ours.id == theirs.id and ours.rcode == theirs.rcode() & 0x0F, where
            assert [(q.name, q.type) for q in ours.questions] == [
                (q.name.to_text(omit_final_dot=True).lower(), q.rdtype) for q in theirs.question], where
            library = [(section, rrset.rdtype, rd) for section, rrsets in
                       (("answer", theirs.answer), ("authority", theirs.authority), ("additional", theirs.additional))
                       for rrset in rrsets if rrset.rdtype != dns.rdatatype.OPT for rd in rrset]
            # dnspython merges records into RRsets (duplicates collapse), so sets are compared.
            assert {(a.section, a.type) for a in ours.answers} == {(s, int(t)) for s, t, _ in library}, where
            addresses = {rd.address for _s, t, rd in library if t in (1, 28) and hasattr(rd, "address")}  # mDNS class bit: generic
            assert addresses <= {a.value for a in ours.answers if a.type in (1, 28)}, where
            compared += 1
    assert compared >= 450 and refused >= 1, (compared, refused)
