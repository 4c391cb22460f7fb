"""Error containment for the traffic addons: a hook that raises never breaks the audited call.

The traffic addons reach their session only through ``Recorder`` (the part of ``SessionRecorder`` they use), so
they do not import the recorder module that creates them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from confaudit.session.records import HttpSource, Observation


class Recorder(Protocol):
    """What a traffic addon uses of its session recorder."""

    redactor: Any
    source: HttpSource
    counts: dict[str, int]
    hosts: dict[str, int]
    upstream: Any

    def write(self, record: Observation) -> None: ...

    def save_flow(self, flow: Any) -> None: ...

    def defer(self, hook: str, work: Callable[..., None], *args: Any) -> None: ...

    def note_error(self, hook: str, exc: BaseException) -> None: ...


class _HasRecorder(Protocol):
    recorder: Recorder


def contained(hook: Callable[..., None]) -> Callable[..., None]:
    """Wrap a hook of an addon that has a ``recorder``: an exception is noted there, never raised into mitmproxy."""
    @functools.wraps(hook)
    def wrapper(self: _HasRecorder, *args: Any) -> None:
        try:
            hook(self, *args)
        except Exception as exc:  # a broken hook must never break the audited call
            self.recorder.note_error(hook.__name__, exc)
    return wrapper
