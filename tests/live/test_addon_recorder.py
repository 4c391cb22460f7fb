"""The session recorder addon: one mitmproxy addon per kind of traffic under it, its options, the manifest it
finishes, and hook errors contained, counted and redacted."""

from __future__ import annotations

from confaudit.redact import Redactor
import json
from pathlib import Path

from mitmproxy import hooks
from mitmproxy.addonmanager import traverse
from mitmproxy.test import taddons, tflow

from confaudit.live.addons import SessionRecorder
from confaudit.live.addons.recorder import MAX_ERROR_SAMPLES


def test_each_hook_goes_to_the_addon_of_its_traffic() -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    owners: dict[str, list[str]] = {}
    for a in traverse([addon]):
        for name in ("response", "error", "http_connect_error", "websocket_message", "websocket_end",
                     "tls_clienthello", "next_layer", "dns_response", "dns_error", "udp_message", "udp_end",
                     "udp_error", "load", "configure", "done"):
            if callable(getattr(a, name, None)):
                owners.setdefault(name, []).append(type(a).__name__)
    assert owners == {
        "response": ["HttpRecorder"], "error": ["HttpRecorder"], "http_connect_error": ["HttpRecorder"],
        "websocket_message": ["WebSocketRecorder"], "websocket_end": ["WebSocketRecorder"],
        "tls_clienthello": ["ClientHelloRecorder"], "next_layer": ["ClientHelloRecorder"],
        "dns_response": ["UdpDnsRecorder"], "dns_error": ["UdpDnsRecorder"], "udp_message": ["UdpDnsRecorder"],
        "udp_end": ["UdpDnsRecorder"], "udp_error": ["UdpDnsRecorder"],
        "load": ["SessionRecorder"], "configure": ["SessionRecorder"], "done": ["SessionRecorder"],
    }


async def test_options_open_the_session_and_done_finishes_its_manifest(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path / "s"), confaudit_vendor="Example Rooms",
                       confaudit_scenario="join and leave", confaudit_operator="tester", confaudit_simulated=True)
        started = json.loads((tmp_path / "s" / "manifest.json").read_text())
        assert started["stopped"] is None and started["vendor"] == "Example Rooms"
        tctx.master.addons.invoke_addon_sync(addon, hooks.DoneHook())
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["stopped"] is not None and manifest["simulated"] is True
    assert manifest["scenario"] == "join and leave" and manifest["operator"] == "tester"
    assert set(manifest["files"]) >= {"observations.jsonl", "flows.mitm"}
    assert (tmp_path / "s").stat().st_mode & 0o077 == 0


async def test_hook_errors_of_every_child_are_counted_capped_and_redacted(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        for _ in range(MAX_ERROR_SAMPLES + 5):
            flow = tflow.tflow(resp=True)
            flow.request = None  # type: ignore[assignment]
            addon.http.response(flow)
        broken_udp = tflow.tudpflow(messages=[])  # no message: the hook fails on messages[-1]
        addon.udp_dns.udp_message(broken_udp)
        addon.done()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["hook_errors"] == {"response": MAX_ERROR_SAMPLES + 5, "udp_message": 1}
    assert len(manifest["hook_error_samples"]) == MAX_ERROR_SAMPLES
    assert all(s.startswith("response: AttributeError") for s in manifest["hook_error_samples"])


def test_an_error_sample_quoting_captured_secrets_is_redacted() -> None:
    from confaudit.redact import Redactor

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    recorder = SessionRecorder(Redactor(b"test-key"))
    recorder.note_error("tls_clienthello", ValueError(f"bad hello Authorization: Bearer {jwt}"))
    assert recorder.hook_errors == {"tls_clienthello": 1}
    assert recorder.error_samples[0].startswith("tls_clienthello: ValueError: bad hello")
    assert jwt not in recorder.error_samples[0]
