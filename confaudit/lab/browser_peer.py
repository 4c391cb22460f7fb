"""An aiortc peer that answers a browser's WebRTC offer on loopback and logs its DTLS secrets.

A browser that does not write its own DTLS key log (Chromium) can still be audited: the DTLS-SRTP
keys are shared by both ends of a session, so the key log of the aiortc end decrypts what the
browser sends. The peer runs its own event loop in a thread, so a plain HTTP handler can hand it
offers; it only receives (its answer is recvonly) and gathers 127.0.0.1 as its only candidate.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

ANSWER_TIMEOUT = 20.0


class BrowserAnswerer:
    """Answers offers (one RTCPeerConnection each) until closed; usable as a context manager."""

    def __init__(self, keylog_path: Path) -> None:
        self.keylog_path = Path(keylog_path)
        self.peers: list[Any] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="browser-answerer", daemon=True)
        self._hooks = contextlib.ExitStack()

    def __enter__(self) -> BrowserAnswerer:
        from confaudit.lab.call import _KeyLog, _keylog_hook, _loopback_only

        self._hooks.enter_context(_loopback_only())
        self._hooks.enter_context(_keylog_hook(_KeyLog(self.keylog_path)))
        self._thread.start()
        return self

    def answer(self, offer_sdp: str) -> str:
        """The answer SDP (with its ICE candidates) to a browser's complete offer."""
        return asyncio.run_coroutine_threadsafe(self._answer(offer_sdp), self._loop).result(ANSWER_TIMEOUT)

    async def _answer(self, offer_sdp: str) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peers.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    def connected(self) -> bool:
        """Every peer's DTLS and ICE are up."""
        return bool(self.peers) and all(pc.connectionState == "connected" for pc in self.peers)

    def __exit__(self, *exc: object) -> None:
        async def close_all() -> None:
            for pc in self.peers:
                await pc.close()

        try:
            if self._thread.is_alive():
                asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(ANSWER_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(ANSWER_TIMEOUT)
            self._loop.close()
            self._hooks.close()
