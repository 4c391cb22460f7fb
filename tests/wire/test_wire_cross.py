"""Every wire parser over every real payload of every shared capture: no exception, JSON-ready output."""

from __future__ import annotations

import json

import pytest

from confaudit.wire.codecs import h264_payload, opus_toc, red_unwrap, vp8_descriptor, vp9_descriptor
from confaudit.wire.dns import parse_dns
from confaudit.wire.dtls import dtls_handshake_info, parse_dtls_records
from confaudit.wire.http import parse_http_request_head, parse_http_response_head
from confaudit.wire.quic import parse_quic_long_header
from confaudit.wire.rtp import parse_rtcp, parse_rtp, srtcp_trailer
from confaudit.wire.sdp import parse_sdp
from confaudit.wire.sip import parse_sip
from confaudit.wire.stun import frame_stun_tcp, parse_channel_data, parse_stun
from confaudit.wire.tls import parse_tls_client_hello, parse_tls_server_hello
from confaudit.wire.zoom import parse_zoom_media
from support.wire_pcap_util import transport_payloads

PARSERS = [
    lambda d: parse_stun(d, allow_classic=True), parse_channel_data, frame_stun_tcp, parse_rtp, parse_rtcp,
    parse_dns, lambda d: parse_dns(d, tcp=True), parse_quic_long_header, parse_sip, parse_sdp,
    parse_http_request_head, parse_http_response_head, parse_tls_client_hello, parse_tls_server_hello,
    parse_zoom_media, vp8_descriptor, vp9_descriptor, h264_payload,
]


@pytest.mark.timeout(120)
def test_all_parsers_on_all_real_payloads(shared_captures) -> None:
    files = sorted(p for p in shared_captures.iterdir() if p.suffix in (".pcap", ".pcapng"))
    assert len(files) == 12
    seen = 0
    for path in files:
        payloads = [s.payload for s in transport_payloads(path)]
        for data in payloads:
            seen += 1
            for parse in PARSERS:
                result = parse(data)
                if result is not None and hasattr(result, "to_dict"):
                    json.dumps(result.to_dict())
            for rec in parse_dtls_records(data):
                json.dumps(rec.to_dict())
            srtcp_trailer(data), opus_toc(data), red_unwrap(data)
        json.dumps(dtls_handshake_info(payloads[:200]).to_dict())
    assert seen > 4000
