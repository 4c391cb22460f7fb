"""The UDP/DNS addon: UDP flows aggregated with payloads dropped, bounded memory, DNS answers recorded."""

from __future__ import annotations

from pathlib import Path

from mitmproxy.test import taddons, tflow

from confaudit.redact import Redactor
from confaudit.live.addons import SessionRecorder
from confaudit.importers.http_sources import load_http_sources


async def test_udp_is_aggregated_and_payloads_dropped(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    stun = bytes.fromhex("0001000c2112a442") + b"T" * 12 + bytes.fromhex("00060008") + b"user:abc"
    rtp = bytes([0x80, 111]) + b"\x00" * 40
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flow = tflow.tudpflow(messages=[])
        from mitmproxy import udp

        for i in range(500):
            flow.messages.append(udp.UDPMessage(i % 2 == 0, stun if i == 0 else rtp, 1000.0 + i / 50))
            addon.udp_dns.udp_message(flow)
            assert len(flow.messages) == 1
        addon.udp_dns.udp_end(flow)
        addon.done()
    rec = load_http_sources([tmp_path / "observations.jsonl"], redactor=Redactor.default())["udp_flows"][0]
    assert rec["packets"] == {"from_client": 250, "to_client": 250}
    assert rec["first_byte_classes"] == {"rtp-rtcp": 499, "stun": 1}
    assert rec["stun_attribute_types"] == [6]
    assert "user:abc" not in (tmp_path / "observations.jsonl").read_text()


async def test_memory_stays_bounded_over_many_media_packets(tmp_path: Path) -> None:
    import tracemalloc

    from mitmproxy import udp

    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flows = [tflow.tudpflow(messages=[]) for _ in range(20)]
        payload = bytes([0x80, 96]) + b"\x00" * 1100
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        for i in range(40_000):  # ~44 MB of RTP through the hook
            flow = flows[i % 20]
            flow.messages.append(udp.UDPMessage(True, bytes(payload), 1000.0 + i / 1000))
            addon.udp_dns.udp_message(flow)
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        addon.done()
    assert grown < 2_000_000, grown
    recs = load_http_sources([tmp_path / "observations.jsonl"], redactor=Redactor.default())["udp_flows"]
    assert sum(r["packets"]["from_client"] for r in recs) == 40_000


async def test_dns_answers_are_recorded_with_questions_and_code(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flow = tflow.tdnsflow(resp=True)
        await tctx.cycle(addon, flow)  # mitmproxy dispatches dns_request/dns_response to the child addon
        failed = tflow.tdnsflow(err=True)
        addon.udp_dns.dns_error(failed)
        addon.done()
    import json

    records = [json.loads(line) for line in (tmp_path / "observations.jsonl").read_text().splitlines()]
    dns = [r for r in records if r["kind"] == "dns"]
    assert len(dns) == 2
    assert dns[0]["questions"] == [{"name": "dns.google", "type": 1}]
    assert [a["data"] for a in dns[0]["answers"]] == ["8.8.8.8", "8.8.4.4"] and dns[0]["response_code"] == 0
    assert dns[1]["answers"] == [] and dns[1]["response_code"] is None
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["stats"]["records"]["dns"] == 2 and manifest["hook_errors"] == {}
