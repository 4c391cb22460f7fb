"""Cyclic garbage collection kept off the evidence records.

Records are trees (no reference cycles): the full collections Python starts as 100,000 of them
accumulate (18 while one 100,000-entry HAR is imported and analysed) traverse them all and find
nothing, a sixth of the run. Reference counting frees everything as usual meanwhile.

While they are built, collection is paused (:func:`gc_paused`). Once built they live until the bundle
is written, and every later full collection would traverse them again (0.5 s for that HAR): a reader
asked to keep them (``keep=True``, inside :func:`records_held`) freezes them (:func:`gc.freeze`), and
they are collectable again when the outermost :func:`records_held` ends, so a long-lived process (the
tests) never keeps garbage frozen (the interpreter's own few hundred start-up objects are thawed with them).
A process that ends as soon as its command is done (:func:`keep_frozen`, the console entry point through
confaudit.quick_exit) keeps them frozen to the end: a check and a report that follow would otherwise pay
for full collections that traverse them all again.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")
_holding = 0
_thaw = True


def keep_frozen() -> None:
    """From now on :func:`records_held` leaves what its readers froze frozen (for a process about to end)."""
    global _thaw
    _thaw = False


@contextmanager
def gc_paused(keep: bool = False) -> Iterator[None]:
    """No cyclic collection inside; the previous state is restored after. ``keep``: what exists at the end
    is frozen when a :func:`records_held` is active (a call outside one freezes nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep and _holding:
            gc.freeze()
        if enabled:
            gc.enable()


def records_held(build: Callable[_P, _R]) -> Callable[_P, _R]:
    """``build`` with the records its readers keep frozen while it runs, and collectable again after."""
    @wraps(build)
    def holding(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        global _holding
        _holding += 1
        try:
            return build(*args, **kwargs)
        finally:
            _holding -= 1
            if not _holding and _thaw:
                gc.unfreeze()

    return holding
