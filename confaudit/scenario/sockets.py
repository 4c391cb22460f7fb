"""Which program owned each UDP socket while a scenario ran: ``udp_socket`` scenario events.

A sniffer records every program's traffic on its interface: on ``lo`` that includes other programs' calls
(another lab run on the same machine), on a real interface another app's call. While the run goes, the
UDP sockets of this process (the proxy, the lab's SFU) and of its descendants (the browsers) are this run's;
every other UDP socket on the machine belongs to another program. Attribution reads these events to set
aside media flows between other programs' sockets (``telemetry.local_sockets``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from confaudit.scenario.events import append_event

SAMPLE_EVERY_S = 0.25
"""Media sockets live for the whole call; a quarter second sees each of them many times."""
MAX_SOCKETS = 5000
"""Distinct (owner, address, port) recorded per run; beyond it the watch stops recording new ones."""
STEP = "udp socket watch"


class SocketWatch:
    """Samples the machine's UDP sockets until closed; one ``udp_socket`` event per socket first seen."""

    def __init__(self, session: Path) -> None:
        self.session = Path(session)
        self.seen: set[tuple[str, str, int]] = set()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SocketWatch:
        await asyncio.to_thread(self.sample)  # the sockets already open before the browsers start
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await asyncio.to_thread(self.sample)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY_S)
            await asyncio.to_thread(self.sample)

    def sample(self) -> None:
        """Record the UDP sockets open now that were not seen before."""
        import psutil

        me = psutil.Process(os.getpid())
        ours = {me.pid}
        try:
            ours.update(p.pid for p in me.children(recursive=True))
        except psutil.NoSuchProcess:  # a child ended while the tree was walked: the next sample sees the rest
            pass
        try:
            sockets = [(c.pid, c.laddr) for c in psutil.net_connections(kind="udp")]
        except psutil.AccessDenied:  # a platform that shows no other program's sockets: record only ours
            sockets = [(pid, laddr) for pid in ours for laddr in _process_sockets(pid)]
        for pid, laddr in sockets:
            if not laddr or len(self.seen) >= MAX_SOCKETS:
                continue
            owner = "run" if pid in ours else "other"
            key = (owner, str(laddr.ip), int(laddr.port))
            if key in self.seen:
                continue
            self.seen.add(key)
            append_event(self.session, "udp_socket", STEP, 0, owner=owner, address=key[1], port=key[2],
                         process=_name(pid))


def _process_sockets(pid: int) -> list[Any]:
    import psutil

    try:
        return [c.laddr for c in psutil.Process(pid).net_connections(kind="udp")]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _name(pid: int | None) -> str:
    import psutil

    if pid is None:
        return "unknown process"
    try:
        return psutil.Process(pid).name()[:100]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "unknown process"
