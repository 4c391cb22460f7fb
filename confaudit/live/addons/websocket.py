"""WebSocket messages -> ``websocket`` records (redacted), the whole flow to flows.mitm when it ends."""

from __future__ import annotations

from typing import Any

from confaudit.session import records as convert
from confaudit.live.addons.containment import Recorder, contained

MAX_WS_MESSAGES_KEPT = 1000
"""WebSocket messages kept on a live flow (older ones are already recorded)."""


class WebSocketRecorder:
    """The ``websocket_message`` and ``websocket_end`` hooks."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @contained
    def websocket_message(self, flow: Any) -> None:
        rec = self.recorder
        messages = flow.websocket.messages
        rec.defer("websocket_message",
                  lambda f, m: rec.write(convert.websocket_record(f, m, rec.redactor, rec.source)), flow, messages[-1])
        if len(messages) > MAX_WS_MESSAGES_KEPT:
            del messages[: len(messages) - MAX_WS_MESSAGES_KEPT]

    @contained
    def websocket_end(self, flow: Any) -> None:
        self.recorder.defer("websocket_end", self.recorder.save_flow, flow)
