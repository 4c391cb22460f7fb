"""The WebSocket addon: every message in both directions, tied to its upgrade request."""

from __future__ import annotations

from pathlib import Path

from mitmproxy.test import taddons, tflow

from confaudit.redact import Redactor
from confaudit.live.addons import SessionRecorder
from confaudit.importers.http_sources import load_http_sources


async def test_websocket_messages_both_directions(tmp_path: Path) -> None:
    addon = SessionRecorder(redactor=Redactor.default())
    with taddons.context(addon) as tctx:
        tctx.configure(addon, confaudit_session=str(tmp_path))
        flow = tflow.twebsocketflow()
        addon.http.response(flow)
        recorded = list(flow.websocket.messages) * 2
        flow.websocket.messages.clear()
        for message in recorded:
            flow.websocket.messages.append(message)
            addon.websocket.websocket_message(flow)
        addon.done()
    bundle = load_http_sources([tmp_path / "observations.jsonl"], redactor=Redactor.default())
    ws = bundle["websocket"]
    assert len(ws) == 3 * 2 and {w["from_client"] for w in ws} == {True, False}
    assert {w["type"] for w in ws} == {"text", "binary"}
    assert all(w["http_id"] == "h1" for w in ws) and [w["id"] for w in ws] == [f"w{i}" for i in range(1, 7)]
